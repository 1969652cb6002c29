//! Proposing a job to a peer over QUIC, and answering a peer's proposal.
//!
//! The proposer opens a channel to each other party and sends the spec (as
//! its canonical JSON inside one bincode frame); the peer checks it against
//! its own policy, before reading any data, and answers accept (with the
//! rule and its own spec hash) or refuse (with the rule and the reason),
//! together with its signed receipt of that decision, which the proposer
//! checks against the peer's audit key and keeps in its audit log. Proposals
//! go to every other party at once; when one refuses, the proposer
//! withdraws the job ([`Hello::Withdraw`]) at every party that accepted.
//! What each side learns: the spec, and the other's decision (a party told
//! of a withdrawal learns which party refused, not its rule).

use crate::audit::Receipt;
use indomain_net::{Channel, NetError, wire};
use serde::{Deserialize, Serialize};

/// The first message on a channel a node opens to another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Hello {
    /// Proposes a job: the spec's canonical JSON.
    Propose {
        /// [`crate::jobspec::JobSpec::canonical_bytes`] of the spec.
        spec_json: Vec<u8>,
    },
    /// Opens the protocol channel of a job both sides accepted: the job id
    /// routes the channel to its job, so one endpoint carries many jobs.
    Run {
        /// The job.
        job_id: String,
        /// Its spec hash, which both sides must agree on.
        spec_hash: String,
    },
    /// Opens the link between two parties of a job that neither proposed
    /// (`daemon/mesh.rs`): the party listed first dials the other.
    Link {
        /// The job's proposer (job ids are unique per proposer).
        proposer: String,
        /// The job.
        job_id: String,
        /// Its spec hash, which both sides must agree on.
        spec_hash: String,
    },
    /// The sender's operator cancelled the job (the channel is
    /// authenticated, so it names who cancelled).
    Cancel {
        /// The job's proposer.
        proposer: String,
        /// The job.
        job_id: String,
    },
    /// The proposer withdraws a job it proposed, before it started:
    /// another party refused it.
    Withdraw {
        /// The job.
        job_id: String,
        /// Why (which party refused; never that party's rule or reason).
        reason: String,
    },
}

/// The peer's reply to [`Hello::Run`] or [`Hello::Link`], before the protocol starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RunReply {
    /// The peer runs its side now.
    Ready,
    /// The peer will not run the job.
    Refuse {
        /// Why.
        reason: String,
    },
}

/// A peer's answer to a proposal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Answer {
    /// The peer takes part.
    Accept {
        /// The rule of its policy that accepted the job.
        rule: String,
        /// The spec hash it computed (the proposer checks it agrees).
        spec_hash: String,
        /// Its signed receipt (outcome `accepted`).
        receipt: Receipt,
    },
    /// The peer refuses.
    Refuse {
        /// The rule that refused (or `job` for a malformed proposal).
        rule: String,
        /// Why.
        reason: String,
        /// Its signed receipt (outcome `refused`), when it could parse the spec.
        receipt: Option<Receipt>,
    },
}

/// Sends `spec_json` and waits for the peer's answer.
pub fn propose(ch: &mut impl Channel, spec_json: Vec<u8>) -> Result<Answer, NetError> {
    wire::send_msg(ch, &Hello::Propose { spec_json })?;
    wire::recv_msg(ch)
}
