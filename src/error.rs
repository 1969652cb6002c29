//! The facade's one error type: every capability crate's error converts into
//! it, so a program that uses several of them can return
//! `Result<_, indomain::Error>` and use `?` throughout.

use thiserror::Error;

/// Any error of the engine, by the crate it came from. The wrapped error
/// keeps its own message (which names the peer and the protocol phase).
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// Ring, fixed-point or sharing arithmetic (`indomain::core`).
    #[error(transparent)]
    Core(#[from] indomain_core::CoreError),
    /// A channel or its setup (`indomain::net`).
    #[error(transparent)]
    Net(#[from] indomain_net::NetError),
    /// Shared arithmetic (`indomain::mpc`).
    #[error(transparent)]
    Mpc(#[from] indomain_mpc::MpcError),
    /// Private set intersection (`indomain::psi`).
    #[error(transparent)]
    Psi(#[from] indomain_psi::PsiError),
    /// Secure statistics and aggregation (`indomain::aggregate`).
    #[error(transparent)]
    Aggregate(#[from] indomain_aggregate::AggregateError),
    /// Training and scoring (`indomain::learn`).
    #[error(transparent)]
    Learn(#[from] indomain_learn::LearnError),
    /// Private verification (`indomain::verify`, feature `verify`).
    #[cfg(feature = "verify")]
    #[error(transparent)]
    Verify(#[from] indomain_verify::VerifyError),
    /// The party node (`indomain::node`, feature `cli`).
    #[cfg(feature = "cli")]
    #[error(transparent)]
    Node(#[from] indomain_node::NodeError),
    /// An error of the calling program (made from a `String` or `&str`).
    #[error("{0}")]
    Other(String),
    /// A party's thread panicked while [`crate::local::run`] ran it.
    #[error("party {party} panicked")]
    Panicked {
        /// The name of the party.
        party: String,
    },
}

impl From<String> for Error {
    fn from(message: String) -> Self {
        Error::Other(message)
    }
}

impl From<&str> for Error {
    fn from(message: &str) -> Self {
        Error::Other(message.to_string())
    }
}
