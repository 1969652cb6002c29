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
