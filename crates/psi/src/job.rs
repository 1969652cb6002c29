//! What a PSI job is (mode, roles, who learns the result, limits) and what
//! a party ends up with. Both parties must be given the same [`Job`]; they
//! check it against each other before any key is sent.

use crate::{Phase, PsiError};
use serde::{Deserialize, Serialize};
use std::fmt;

/// What the protocol computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Mode {
    /// The matching keys.
    Intersection,
    /// Only the number of matching keys: neither party learns which.
    Cardinality,
    /// The sender holds a value per key; the sender learns the number of
    /// matches and the sum of its values over them, the receiver only the
    /// number of matches.
    IntersectionSum,
    /// Both parties learn which of their own rows match, in one order
    /// common to both (for vertical training).
    Join,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Intersection => "intersection",
            Mode::Cardinality => "cardinality",
            Mode::IntersectionSum => "intersection-sum",
            Mode::Join => "join",
        })
    }
}

/// A party's role in the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Role {
    /// Blinds its keys first and computes the matches.
    Receiver,
    /// Blinds the receiver's keys a second time and sends its own keys
    /// blinded; holds the values in intersection-sum mode.
    Sender,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Receiver => "receiver",
            Role::Sender => "sender",
        })
    }
}

/// Who learns the result in the intersection and cardinality modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reveal {
    /// Only the receiver.
    Receiver,
    /// Both parties (the receiver sends the sender the result).
    Both,
}

impl fmt::Display for Reveal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Reveal::Receiver => "receiver",
            Reveal::Both => "both",
        })
    }
}

/// The largest batch a party may announce (keys a frame).
pub const MAX_BATCH: usize = 1 << 16;
/// The largest bound on an intersection sum: the sender recovers the sum by
/// baby-step giant-step in about 2·sqrt(bound) group operations.
pub const MAX_SUM_BOUND: u64 = 1 << 44;

/// The parameters of a PSI job, identical at both parties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// What to compute.
    pub mode: Mode,
    /// Who learns the result ([`Mode::Join`] always reveals to both,
    /// [`Mode::IntersectionSum`] has its own fixed outputs).
    pub reveal: Reveal,
    /// A description of how keys were chosen and normalised (columns, trim,
    /// case folding); the parties refuse to run if theirs differ, since the
    /// intersection would be silently wrong.
    pub key_spec: String,
    /// Keys a batch.
    pub batch: usize,
    /// In intersection-sum mode, the largest total the sender may recover;
    /// the sender checks that the total of all its values is within it.
    pub sum_bound: u64,
    /// The most items this party accepts from the peer (bounds memory).
    pub max_peer_items: usize,
}

impl Job {
    /// A job of `mode`, revealed to both, batches of 4096 keys, sum bound
    /// 2^40 − 1, at most 2^26 items from the peer.
    pub fn new(mode: Mode) -> Self {
        Self {
            mode,
            reveal: Reveal::Both,
            key_spec: String::new(),
            batch: 4096,
            sum_bound: (1 << 40) - 1,
            max_peer_items: 1 << 26,
        }
    }

    /// Whether the sender learns more than the receiver's set size.
    pub(crate) fn sender_learns_result(&self) -> bool {
        match self.mode {
            Mode::Join | Mode::IntersectionSum => true,
            Mode::Intersection | Mode::Cardinality => self.reveal == Reveal::Both,
        }
    }

    /// Whether the double-blinded receiver keys are shuffled before they
    /// return, hiding which of the receiver's keys matched.
    pub(crate) fn hides_receiver_matches(&self) -> bool {
        matches!(self.mode, Mode::Cardinality | Mode::IntersectionSum)
    }

    pub(crate) fn check(&self) -> Result<(), PsiError> {
        if self.batch == 0 || self.batch > MAX_BATCH {
            return Err(PsiError::Job(format!(
                "batch of {} keys, must be 1..={MAX_BATCH}",
                self.batch
            )));
        }
        if self.mode == Mode::IntersectionSum && self.sum_bound > MAX_SUM_BOUND {
            return Err(PsiError::Job(format!(
                "sum bound {} above the maximum {MAX_SUM_BOUND}",
                self.sum_bound
            )));
        }
        Ok(())
    }
}

/// The first message of a run: the job as this party sees it and its set size.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Hello {
    pub version: u32,
    pub mode: Mode,
    pub reveal: Reveal,
    pub role: Role,
    pub key_spec: String,
    pub batch: u32,
    pub sum_bound: u64,
    pub items: u64,
    /// The sender's ElGamal public key in intersection-sum mode.
    pub public_key: Option<[u8; 32]>,
}

pub(crate) const VERSION: u32 = 1;

impl Hello {
    pub fn new(job: &Job, role: Role, items: usize, public_key: Option<[u8; 32]>) -> Self {
        Self {
            version: VERSION,
            mode: job.mode,
            reveal: job.reveal,
            role,
            key_spec: job.key_spec.clone(),
            batch: job.batch as u32,
            sum_bound: job.sum_bound,
            items: items as u64,
            public_key,
        }
    }

    /// Checks the peer's hello against ours; returns the peer's item count.
    pub fn check_peer(&self, theirs: &Hello, peer: &str, limit: usize) -> Result<usize, PsiError> {
        let differ = |field: &'static str, ours: String, theirs: String| {
            if ours == theirs {
                Ok(())
            } else {
                Err(PsiError::JobMismatch {
                    peer: peer.to_string(),
                    phase: Phase::Hello,
                    field,
                    ours,
                    theirs,
                })
            }
        };
        differ(
            "version",
            self.version.to_string(),
            theirs.version.to_string(),
        )?;
        differ("mode", self.mode.to_string(), theirs.mode.to_string())?;
        if self.mode != Mode::Join && self.mode != Mode::IntersectionSum {
            differ("reveal", self.reveal.to_string(), theirs.reveal.to_string())?;
        }
        // One sender and one receiver: report both actual roles ("ours
        // receiver, theirs receiver"), not the role we expected of the peer.
        if self.role == theirs.role {
            return Err(PsiError::JobMismatch {
                peer: peer.to_string(),
                phase: Phase::Hello,
                field: "role (one side must be the sender, the other the receiver)",
                ours: self.role.to_string(),
                theirs: theirs.role.to_string(),
            });
        }
        differ("key spec", self.key_spec.clone(), theirs.key_spec.clone())?;
        differ("batch", self.batch.to_string(), theirs.batch.to_string())?;
        if self.mode == Mode::IntersectionSum {
            differ(
                "sum bound",
                self.sum_bound.to_string(),
                theirs.sum_bound.to_string(),
            )?;
        }
        if theirs.items > limit as u64 {
            return Err(PsiError::TooManyItems {
                peer: peer.to_string(),
                phase: Phase::Hello,
                announced: theirs.items,
                limit,
            });
        }
        Ok(theirs.items as usize)
    }
}

/// What one party learns from a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// This party's role.
    pub role: Role,
    /// The size of this party's set.
    pub items: usize,
    /// The size of the peer's set (every mode reveals it).
    pub peer_items: usize,
    /// |X ∩ Y|, if this party learns it.
    pub intersection_size: Option<usize>,
    /// Indices into this party's items of the matching keys, in the order
    /// common to both parties (sorted by the double-blinded value), if this
    /// party learns them.
    pub matched: Option<Vec<usize>>,
    /// The sum of the sender's values over the intersection (the sender in
    /// intersection-sum mode only).
    pub sum: Option<u64>,
}
