//! The messages of a verification session, client to operator and back.
//! Control messages are bincode with the size limit of
//! `indomain_net::wire`; blinded and evaluated elements travel as raw
//! 32-byte strings whose count is checked.
//!
//! The link is strictly request/response: one reply to every request.

use crate::commit::SignedCommitment;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Bytes of table sent in one reply (well under the control-message limit).
pub const TABLE_CHUNK: usize = 512 << 10;

/// What a client asks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// The operator's current signed commitment and this client's quota.
    Hello,
    /// The table's bytes from `offset` on (one chunk).
    FetchTable {
        /// Where to start.
        offset: u64,
    },
    /// Bytes from `offset` on of the delta that gives `revision` of the
    /// version served (one chunk).
    FetchDelta {
        /// The revision the delta gives (at least 1).
        revision: u64,
        /// Where to start.
        offset: u64,
    },
    /// BlindEvaluate on concatenated 32-byte blinded elements under the key
    /// of `version`.
    Evaluate {
        /// The version the client holds.
        version: u64,
        /// The blinded elements.
        elements: Vec<u8>,
    },
}

/// What the operator answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reply {
    /// The answer to [`Request::Hello`].
    Welcome {
        /// The current signed commitment.
        commitment: SignedCommitment,
        /// Evaluations this client may still ask for.
        quota_left: u64,
        /// The most elements one request may carry.
        max_batch: u32,
    },
    /// A chunk of the table.
    TableChunk {
        /// Where it starts.
        offset: u64,
        /// The table's total length.
        total: u64,
        /// The bytes.
        bytes: Vec<u8>,
    },
    /// A chunk of a delta, with the signed commitment of the revision it
    /// gives.
    DeltaChunk {
        /// The commitment of the revision the delta gives.
        commitment: SignedCommitment,
        /// Where it starts.
        offset: u64,
        /// The delta's total length.
        total: u64,
        /// The bytes.
        bytes: Vec<u8>,
    },
    /// The evaluated elements, in the order of the request.
    Evaluated {
        /// The version whose key was used.
        version: u64,
        /// The elements.
        elements: Vec<u8>,
    },
    /// The request was refused.
    Refused(Refusal),
}

/// Why the operator refused a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Refusal {
    /// The client's quota of evaluations is used up.
    OverQuota {
        /// Evaluations used so far.
        used: u64,
        /// The quota.
        quota: u64,
        /// Evaluations asked for.
        asked: u64,
    },
    /// Too many evaluations too quickly.
    RateLimited {
        /// When enough budget will have accrued.
        retry_after_ms: u64,
    },
    /// No delta gives that revision here (fetch the whole table).
    NoDelta {
        /// The revision asked for.
        revision: u64,
    },
    /// The client's version is not the one served.
    StaleVersion {
        /// The version served.
        current: u64,
    },
    /// More elements than one request may carry.
    BatchTooLarge {
        /// The most allowed.
        max: u32,
    },
    /// The request could not be decoded or used.
    Malformed {
        /// What was wrong.
        reason: String,
    },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::OverQuota { used, quota, asked } => write!(
                f,
                "over quota: {used} of {quota} evaluations used, {asked} more asked; \
                 ask the operator to raise the quota"
            ),
            Refusal::RateLimited { retry_after_ms } => {
                write!(f, "rate limited: retry in {retry_after_ms} ms")
            }
            Refusal::StaleVersion { current } => {
                write!(
                    f,
                    "stale version: the operator now serves version {current}"
                )
            }
            Refusal::NoDelta { revision } => {
                write!(f, "no delta to revision {revision}; fetch the whole table")
            }
            Refusal::BatchTooLarge { max } => {
                write!(f, "too many entries in one request (at most {max})")
            }
            Refusal::Malformed { reason } => write!(f, "malformed request: {reason}"),
        }
    }
}
