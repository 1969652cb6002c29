//! The error type of the node's own modules: configuration, datasets, job
//! specs, the audit trail and the control socket. Each variant names the
//! file and line, dataset and row, or audit record it is about.

use std::path::PathBuf;

/// Where in a file an error is: the file and, when known, the 1-based line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file.
    pub file: PathBuf,
    /// The 1-based line, when the error can be placed on one.
    pub line: Option<usize>,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}", self.file.display()),
            None => write!(f, "{}", self.file.display()),
        }
    }
}

impl Location {
    /// The location of byte `offset` of `text`, the contents of `file`.
    pub fn at(file: &std::path::Path, text: &str, offset: Option<usize>) -> Location {
        Location {
            file: file.to_path_buf(),
            line: offset.map(|o| line_of(text, o)),
        }
    }
}

/// The 1-based line that byte `offset` of `text` is on.
pub fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Errors of the node's configuration, datasets, job specs, audit trail and
/// control socket.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NodeError {
    /// The node configuration is malformed or inconsistent.
    #[error("{at}: {reason}")]
    Config {
        /// The file and line.
        at: Location,
        /// What is wrong.
        reason: String,
    },
    /// A job spec is malformed or inconsistent.
    #[error("{at}: {reason}")]
    JobSpec {
        /// The file and line.
        at: Location,
        /// What is wrong.
        reason: String,
    },
    /// A job spec received over the network or the control socket is invalid.
    #[error("job spec: {0}")]
    InvalidJob(String),
    /// A dataset cannot be opened or one of its rows cannot be read.
    #[error("dataset {dataset}{}{}: {reason}",
        row.map(|r| format!(", row {r}")).unwrap_or_default(),
        column.as_ref().map(|c| format!(", column {c:?}")).unwrap_or_default())]
    Dataset {
        /// The dataset's name in the configuration.
        dataset: String,
        /// The 1-based data row (for CSV, the file's line number).
        row: Option<u64>,
        /// The column concerned.
        column: Option<String>,
        /// What is wrong; for a failed query, the database's own message.
        reason: String,
    },
    /// A dataset has more rows than the policy lets a job read.
    #[error("dataset {dataset}: more than {limit} rows; the policy allows at most {limit}")]
    RowLimit {
        /// The dataset's name in the configuration.
        dataset: String,
        /// The policy's `max_rows`.
        limit: u64,
    },
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// An audit log is malformed, broken or forged.
    #[error("audit log {}{}: {reason}", path.display(),
        record.map(|r| format!(", record {r}")).unwrap_or_default())]
    Audit {
        /// The log file.
        path: PathBuf,
        /// The sequence number of the first bad record (its line is seq + 1).
        record: Option<u64>,
        /// What is wrong.
        reason: String,
    },
    /// A signing or verifying key cannot be read or parsed.
    #[error("key: {0}")]
    Key(String),
    /// The local control socket failed or received a malformed request.
    #[error("control socket: {0}")]
    Control(String),
}

/// An I/O error on `path`.
pub(crate) fn io_error(path: &std::path::Path, source: std::io::Error) -> NodeError {
    NodeError::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_counted_from_one() {
        let text = "a = 1\nb = 2\nc = 3\n";
        assert_eq!(line_of(text, 0), 1);
        assert_eq!(line_of(text, 6), 2);
        assert_eq!(line_of(text, 13), 3);
        assert_eq!(line_of(text, 1000), 4);
    }
}
