//! The one error type of indomain-mpc. Every variant that concerns a link
//! names the peer, and arithmetic failures name the protocol phase.

use thiserror::Error;

/// Everything that can go wrong in a secret-shared computation.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum MpcError {
    /// A network failure, naming the peer.
    #[error(transparent)]
    Net(#[from] indomain_net::NetError),
    /// The shared arithmetic refused its operands during `phase`.
    #[error("{phase}: {source}")]
    Core {
        /// The protocol step that failed.
        phase: &'static str,
        /// What the arithmetic said.
        source: indomain_core::CoreError,
    },
    /// A peer or the dealer sent something the protocol does not accept.
    #[error("{peer} during {phase}: {reason}")]
    Malformed {
        /// The party that sent it.
        peer: String,
        /// The protocol step.
        phase: &'static str,
        /// What was wrong with it.
        reason: String,
    },
    /// The link to a peer failed while correlations were generated with
    /// it, naming the peer and the step.
    #[error("{peer} during {phase}: {source}")]
    Link {
        /// The peer.
        peer: String,
        /// The protocol step.
        phase: &'static str,
        /// What the link reported.
        source: indomain_net::NetError,
    },
    /// The dealer refused a request (too large, unknown mask, …).
    #[error("dealer refused a request from {peer}: {reason}")]
    Refused {
        /// The party whose request was refused.
        peer: String,
        /// Why.
        reason: String,
    },
    /// The caller used the layer wrongly (shapes, roles, party counts).
    #[error("invalid use of the mpc layer: {0}")]
    Usage(String),
}

/// Attaches a protocol phase to a core error.
pub(crate) fn core(phase: &'static str) -> impl FnOnce(indomain_core::CoreError) -> MpcError {
    move |source| MpcError::Core { phase, source }
}
