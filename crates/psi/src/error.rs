//! The error type of indomain-psi. Every error that concerns the peer names
//! it and the protocol phase in which it happened.

use indomain_net::NetError;
use std::fmt;
use thiserror::Error;

/// The steps of a PSI run, named in every error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Both parties announce the job parameters and their set sizes.
    Hello,
    /// The receiver streams its keys blinded once, H(x)^a.
    ReceiverBlinded,
    /// The sender returns the receiver's keys blinded twice, H(x)^ab.
    DoubleBlinded,
    /// The sender streams its keys blinded once, H(y)^b (with encrypted
    /// values in intersection-sum mode).
    SenderBlinded,
    /// The receiver tells the sender the result (positions or count).
    Reveal,
    /// The receiver returns the encrypted sum and the sender decrypts it.
    Sum,
    /// RR22: the base oblivious transfers.
    BaseOt,
    /// RR22: OT extension (the receiver's masked columns).
    OtExtension,
    /// RR22: the punctured-PRF trees of silent VOLE.
    Pprf,
    /// RR22: the receiver's OKVS table masked by its VOLE share.
    Okvs,
    /// RR22: the sender's hashed outputs.
    SenderOutputs,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::Hello => "hello",
            Phase::ReceiverBlinded => "receiver-blinded keys",
            Phase::DoubleBlinded => "double-blinded keys",
            Phase::SenderBlinded => "sender-blinded keys",
            Phase::Reveal => "result reveal",
            Phase::Sum => "intersection sum",
            Phase::BaseOt => "base OT",
            Phase::OtExtension => "OT extension",
            Phase::Pprf => "punctured PRF",
            Phase::Okvs => "OKVS table",
            Phase::SenderOutputs => "sender outputs",
        })
    }
}

/// Everything that can go wrong in a PSI run.
#[derive(Debug, Error)]
pub enum PsiError {
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
    /// The peer's job parameters differ from ours.
    #[error(
        "peer {peer}, phase {phase}: job parameter {field} differs: ours {ours}, theirs {theirs}"
    )]
    JobMismatch {
        /// The peer.
        peer: String,
        /// Always [`Phase::Hello`].
        phase: Phase,
        /// The parameter that differs.
        field: &'static str,
        /// Our value.
        ours: String,
        /// The peer's value.
        theirs: String,
    },
    /// The peer announced more items than this party accepts.
    #[error(
        "peer {peer}, phase {phase}: announced {announced} items, more than the limit of {limit}"
    )]
    TooManyItems {
        /// The peer.
        peer: String,
        /// Always [`Phase::Hello`].
        phase: Phase,
        /// The count the peer announced.
        announced: u64,
        /// Our limit.
        limit: usize,
    },
    /// A batch from the peer did not have the announced length.
    #[error("peer {peer}, phase {phase}: batch of {got} bytes, expected {expected}")]
    BatchLength {
        /// The peer.
        peer: String,
        /// The phase.
        phase: Phase,
        /// The length the announced sizes imply.
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
        /// Position of the point in the peer's stream.
        index: usize,
    },
    /// The same double-blinded value arrived twice, which an honest peer
    /// never sends for distinct keys.
    #[error("peer {peer}, phase {phase}: duplicate double-blinded value")]
    DuplicateValue {
        /// The peer.
        peer: String,
        /// The phase.
        phase: Phase,
    },
    /// The peer sent something the protocol does not allow at this point
    /// (bad acknowledgement, a position out of range, a count that cannot be).
    #[error("peer {peer}, phase {phase}: {reason}")]
    Protocol {
        /// The peer.
        peer: String,
        /// The phase.
        phase: Phase,
        /// What was wrong.
        reason: String,
    },
    /// Fewer keys matched than the job's minimum intersection (or one
    /// party's set is smaller than it): nothing was revealed to the sender,
    /// and the receiver's result is withheld.
    #[error(
        "peer {peer}, phase {phase}: fewer than the job's minimum of {minimum} keys match; nothing revealed"
    )]
    BelowMinimum {
        /// The peer.
        peer: String,
        /// The phase in which the run stopped.
        phase: Phase,
        /// The job's minimum intersection.
        minimum: usize,
    },
    /// Our own input holds the same key twice; the protocol needs distinct keys.
    #[error(
        "input holds duplicate keys (items {first} and {second}); deduplicate before running PSI"
    )]
    DuplicateInput {
        /// Index of the first occurrence.
        first: usize,
        /// Index of the repeat.
        second: usize,
    },
    /// The job itself is not usable (e.g. values missing in intersection-sum
    /// mode, a batch size out of range, a sum bound too large).
    #[error("bad PSI job: {0}")]
    Job(String),
}

/// The OT stack's errors keep their peer and phase (RR22's base OT, OT
/// extension and punctured PRF).
impl From<indomain_ot::OtError> for PsiError {
    fn from(e: indomain_ot::OtError) -> Self {
        use indomain_ot::OtError as O;
        let phase = |p: indomain_ot::Phase| match p {
            indomain_ot::Phase::BaseOt => Phase::BaseOt,
            indomain_ot::Phase::OtExtension => Phase::OtExtension,
            _ => Phase::Pprf,
        };
        match e {
            O::Net {
                peer,
                phase: p,
                source,
            } => PsiError::Net {
                peer,
                phase: phase(p),
                source,
            },
            O::BatchLength {
                peer,
                phase: p,
                expected,
                got,
            } => PsiError::BatchLength {
                peer,
                phase: phase(p),
                expected,
                got,
            },
            O::BadPoint {
                peer,
                phase: p,
                index,
            } => PsiError::BadPoint {
                peer,
                phase: phase(p),
                index,
            },
            other => PsiError::Protocol {
                peer: other.peer().to_string(),
                phase: phase(other.phase()),
                reason: other.to_string(),
            },
        }
    }
}

impl PsiError {
    pub(crate) fn net(peer: &str, phase: Phase) -> impl FnOnce(NetError) -> PsiError + '_ {
        move |source| PsiError::Net {
            peer: peer.to_string(),
            phase,
            source,
        }
    }

    /// Wraps an error of [`indomain_net::stream`]: a batch of the wrong
    /// length becomes [`PsiError::BatchLength`].
    pub(crate) fn stream(peer: &str, phase: Phase) -> impl FnOnce(NetError) -> PsiError + '_ {
        move |source| match source {
            NetError::UnexpectedLength { expected, got, .. } => PsiError::BatchLength {
                peer: peer.to_string(),
                phase,
                expected,
                got,
            },
            source => PsiError::Net {
                peer: peer.to_string(),
                phase,
                source,
            },
        }
    }

    pub(crate) fn protocol(peer: &str, phase: Phase, reason: impl Into<String>) -> PsiError {
        PsiError::Protocol {
            peer: peer.to_string(),
            phase,
            reason: reason.into(),
        }
    }
}
