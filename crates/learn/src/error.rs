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
}
