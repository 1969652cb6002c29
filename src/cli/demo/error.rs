//! Why a step of the demo failed ([`DemoError`]): the one error type of
//! `indomain demo`, naming the file, node or process concerned.

use std::path::PathBuf;

/// Why a step of the demo could not run (a secure result that differs from
/// the plaintext one is not an error: the report says MISMATCH).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DemoError {
    /// A file or directory of the demo could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A loopback address could not be found for a party.
    #[error("no free loopback port: {0}")]
    Port(std::io::Error),
    /// A CSV file (an input the demo wrote, or a result) could not be read.
    #[error("{}: {source}", path.display())]
    Csv {
        /// The file.
        path: PathBuf,
        /// The CSV reader's error.
        source: csv::Error,
    },
    /// A CSV file lacks a column the demo reads.
    #[error("{}: no column {column}", path.display())]
    NoColumn {
        /// The file.
        path: PathBuf,
        /// The column.
        column: String,
    },
    /// A cell of a CSV file the demo copies into SQLite is not a number.
    #[error("{}: {value:?}: {reason}", path.display())]
    Cell {
        /// The file.
        path: PathBuf,
        /// The cell's text.
        value: String,
        /// Why it does not parse.
        reason: String,
    },
    /// A result file holds no row.
    #[error("{}: no result row", path.display())]
    NoResultRow {
        /// The file.
        path: PathBuf,
    },
    /// An SQLite database of the demo could not be written.
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// An SQLite database file of the demo could not be written.
    #[error("{}: {source}", path.display())]
    SqliteFile {
        /// The database file.
        path: PathBuf,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// A process could not be started or waited for.
    #[error("cannot start {program}: {source}")]
    Start {
        /// The program or the party it runs for.
        program: String,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// An `indomain` command exited with an error.
    #[error("`indomain {command}` failed: {stderr}")]
    Command {
        /// The command's arguments.
        command: String,
        /// What it printed on stderr.
        stderr: String,
    },
    /// Party processes of a job exited with an error.
    #[error("{}", failed.iter().map(|(p, e)| format!("{p}: {e}")).collect::<Vec<_>>().join("\n"))]
    Parties {
        /// Each failed party and what it printed on stderr.
        failed: Vec<(String, String)>,
    },
    /// A command printed something other than the demo expects.
    #[error("{command} printed no {what}:\n{output}")]
    Printed {
        /// The command (`keygen for bank`).
        command: String,
        /// What was missing from its output.
        what: &'static str,
        /// What it printed.
        output: String,
    },
    /// A node did not print its ready line.
    #[error("the {node} node did not start:\n{log}")]
    NodeStart {
        /// The node.
        node: String,
        /// Its log, indented.
        log: String,
    },
    /// A node answered its control socket with an error.
    #[error("{node}: {message}")]
    Refused {
        /// The node.
        node: String,
        /// Its answer.
        message: String,
    },
    /// A node's control socket could not be reached.
    #[error("{node}: {source}")]
    Control {
        /// The node.
        node: String,
        /// The control client's error.
        source: indomain_node::NodeError,
    },
    /// A node answered a control request with an answer of another kind.
    #[error("{node}: unexpected answer {answer}")]
    Answer {
        /// The node.
        node: String,
        /// Its answer, as debug text.
        answer: String,
    },
    /// A node's configuration or a job spec does not load.
    #[error(transparent)]
    Node(#[from] indomain_node::NodeError),
    /// A job did not settle in time.
    #[error("job {job} still {state} on {node} after {secs} s")]
    Unsettled {
        /// The job.
        job: String,
        /// Its state.
        state: String,
        /// The node.
        node: String,
        /// The deadline in seconds.
        secs: u64,
    },
    /// A job ended in another state than completed on a node.
    #[error("job {job} is {state} on a node: {detail}")]
    JobFailed {
        /// The job.
        job: String,
        /// Its state.
        state: String,
        /// The node's detail.
        detail: String,
    },
    /// A node holds another number of output files for a job than the demo
    /// expects.
    #[error("{node} holds {count} output files for {job}")]
    Outputs {
        /// The node.
        node: String,
        /// The job.
        job: String,
        /// How many it holds.
        count: usize,
    },
    /// Training, scoring or a model file failed.
    #[error(transparent)]
    Learn(#[from] indomain_learn::LearnError),
    /// Secure statistics or aggregation failed.
    #[error(transparent)]
    Aggregate(#[from] indomain_aggregate::AggregateError),
    /// A file the demo reads lacks what its report needs.
    #[error("{}: {problem}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What it lacks.
        problem: &'static str,
    },
    /// A run or file lacks what the demo's report reads from it.
    #[error("{0}")]
    Missing(&'static str),
}

impl DemoError {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> DemoError {
        let path = path.into();
        move |source| DemoError::Io { path, source }
    }

    /// A CSV error on `path`.
    pub fn csv(path: &std::path::Path) -> impl FnOnce(csv::Error) -> DemoError + '_ {
        move |source| DemoError::Csv {
            path: path.to_path_buf(),
            source,
        }
    }
}
