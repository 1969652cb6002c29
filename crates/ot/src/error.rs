//! The error type of indomain-ot. Every error names the peer and the step
//! of the OT stack in which it happened.

use indomain_net::NetError;
use std::fmt;
use thiserror::Error;

/// The steps of the OT stack, named in every error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Phase {
    /// The base oblivious transfers.
    BaseOt,
    /// OT extension (the receiver's masked columns).
    OtExtension,
    /// The punctured-PRF trees of silent VOLE.
    Pprf,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::BaseOt => "base OT",
            Phase::OtExtension => "OT extension",
            Phase::Pprf => "punctured PRF",
        })
    }
}

/// Everything that can go wrong in the OT stack.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum OtError {
    /// The channel failed (closed, timed out, oversized frame, …).
    #[error("peer {peer}, phase {phase}: {source}")]
    Net {
        /// The peer of the channel.
        peer: String,
        /// The phase that was running.
        phase: Phase,
        /// What the channel reported.
        source: NetError,
    },
    /// A frame from the peer did not have the length the protocol implies.
    #[error("peer {peer}, phase {phase}: batch of {got} bytes, expected {expected}")]
    BatchLength {
        /// The peer.
        peer: String,
        /// The phase.
        phase: Phase,
        /// The length the protocol implies.
        expected: usize,
        /// The length that arrived.
        got: usize,
    },
    /// The peer sent bytes that are not the canonical encoding of a
    /// ristretto255 point, or the identity.
    #[error(
        "peer {peer}, phase {phase}: item {index} is not a canonical non-identity ristretto255 point"
    )]
    BadPoint {
        /// The peer.
        peer: String,
        /// The phase.
        phase: Phase,
        /// Position of the point in the peer's frame.
        index: usize,
    },
}

impl OtError {
    pub(crate) fn net(peer: &str, phase: Phase) -> impl FnOnce(NetError) -> OtError + '_ {
        move |source| OtError::Net {
            peer: peer.to_string(),
            phase,
            source,
        }
    }

    /// The peer the error concerns.
    pub fn peer(&self) -> &str {
        match self {
            OtError::Net { peer, .. }
            | OtError::BatchLength { peer, .. }
            | OtError::BadPoint { peer, .. } => peer,
        }
    }

    /// The phase in which it happened.
    pub fn phase(&self) -> Phase {
        match self {
            OtError::Net { phase, .. }
            | OtError::BatchLength { phase, .. }
            | OtError::BadPoint { phase, .. } => *phase,
        }
    }
}
