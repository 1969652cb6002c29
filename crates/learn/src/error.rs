//! The one error type of indomain-learn.

use thiserror::Error;

/// Why a training or inference job failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum LearnError {
    /// The job's parameters are unusable (named in the message).
    #[error("invalid training parameters: {0}")]
    Params(String),
    /// A network failure, naming the peer.
    #[error(transparent)]
    Net(#[from] indomain_net::NetError),
    /// A failure of the shared arithmetic.
    #[error(transparent)]
    Core(#[from] indomain_core::CoreError),
    /// A cell of an input file is unusable: names the file, the physical
    /// line and the column.
    #[error("{file}, line {line}, column {column}: {reason}")]
    Cell {
        /// The input file.
        file: String,
        /// The physical line (1-based, the header is line 1).
        line: u64,
        /// The column's header name.
        column: String,
        /// What is wrong with the cell.
        reason: String,
    },
    /// An input file or a party's data is unusable as a whole (names the
    /// file or party in the message).
    #[error("{0}")]
    Data(String),
    /// A model file is unusable or belongs to another job (names the file).
    #[error("model file {file}: {reason}")]
    Model {
        /// The model file.
        file: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A secure-aggregation round of horizontal training failed.
    #[error("horizontal round {round}: {source}")]
    Aggregate {
        /// The training round (0-based).
        round: usize,
        /// The aggregation error, naming the peer and phase.
        #[source]
        source: indomain_aggregate::AggregateError,
    },
    /// A peer sent a well-formed message that breaks the protocol.
    #[error("{phase}: party {peer} {reason}")]
    Protocol {
        /// The peer that sent it.
        peer: String,
        /// The protocol phase that was running.
        phase: &'static str,
        /// What was wrong with it.
        reason: String,
    },
    /// A failure of the secret-shared computation (names the peer and
    /// the protocol phase).
    #[error(transparent)]
    Mpc(#[from] indomain_mpc::MpcError),
    /// A party's data for vertical training or scoring is unusable (names
    /// the party or the row).
    #[error("{0}")]
    Input(String),
    /// The parties of a job disagree (rows, parameters): names the peer.
    #[error("peer {peer} disagrees: {what}")]
    Disagreement {
        /// The party whose announcement differs.
        peer: String,
        /// What differs.
        what: String,
    },
}
