//! What an audit record holds: its version, a sequence number, the time,
//! the previous record's hash, an event, the record's own hash and the
//! node's signature over that hash. The hash covers everything but itself
//! and the signature, as compact JSON in declaration order (every map in
//! an event is sorted). A verifier recomputes it from the parsed record
//! and also requires the stored line to be exactly that record's JSON
//! (`audit/verify.rs`), so a field added, dropped or reordered in the file
//! is caught even where parsing would ignore it.
//!
//! Versions: 1 (no `version` field) quoted outputs by the plain SHA-256 of
//! their bytes; 2 ([`RECORD_VERSION`]) by their salted commitment
//! ([`super::commitment`]) and hashes under its own domain tag. Both
//! verify.

use super::receipt::Receipt;
use crate::dp_ledger::LedgerEvent;
use crate::grade::Grade;
use crate::jobspec::{Param, Protocol};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

const RECORD_DOMAIN_V1: &[u8] = b"indomain/audit-record/v1\n";
const RECORD_DOMAIN_V2: &[u8] = b"indomain/audit-record/v2\n";

/// The record version this node writes.
pub const RECORD_VERSION: u32 = 2;

/// A column a job touched, with its grade.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Touched {
    /// The column.
    pub column: String,
    /// Its grade.
    pub grade: Grade,
}

/// An output of a job: what it is, who receives it, and (once released)
/// the commitment to its bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputRecord {
    /// The output's name.
    pub name: String,
    /// Its receiver.
    pub receiver: String,
    /// Once released: the hex salted commitment of its bytes (record
    /// version 2; the plain SHA-256 in version 1). `None` until released.
    pub hash: Option<String>,
}

/// Where a job stands at the time of the record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Outcome {
    /// Submitted here and proposed to the peers.
    Proposed,
    /// Accepted under policy.
    Accepted {
        /// The rule that accepted it.
        rule: String,
    },
    /// Refused under policy (or by a peer); nothing was read.
    Refused {
        /// The refusing rule.
        rule: String,
        /// Why.
        reason: String,
    },
    /// Ran to the end; its outputs were released.
    Completed,
    /// Stopped by an error; no partial output was released.
    Failed {
        /// The error.
        reason: String,
    },
    /// Cancelled by the operator of a party's node; nothing was released.
    Cancelled {
        /// The node whose operator cancelled it.
        #[serde(default)]
        by: String,
    },
    /// Withdrawn by its proposer before it started (another party refused
    /// it); nothing was read.
    Withdrawn {
        /// The proposer.
        by: String,
        /// Why, as the proposer put it.
        reason: String,
    },
}

/// A job's state change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRecord {
    /// The job id.
    pub job_id: String,
    /// Hex SHA-256 of the job spec.
    pub spec_hash: String,
    /// The peer that proposed it (this node's name when submitted here).
    pub proposer: String,
    /// All parties.
    pub peers: Vec<String>,
    /// The protocol.
    pub protocol: Protocol,
    /// The purpose given.
    pub purpose: String,
    /// This node's dataset the job reads.
    pub dataset: String,
    /// The columns of it the job reads, with their grades.
    pub columns: Vec<Touched>,
    /// The job's parameters.
    pub parameters: BTreeMap<String, Param>,
    /// Every declared output.
    pub outputs: Vec<OutputRecord>,
    /// Bytes this node sent for the job.
    pub bytes_sent: u64,
    /// Bytes this node received for the job.
    pub bytes_received: u64,
    /// Where the job stands.
    pub outcome: Outcome,
    /// When the job started here (Unix milliseconds).
    pub started_ms: u64,
    /// When it reached this state (Unix milliseconds).
    pub finished_ms: u64,
}

/// What a record is about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// The node started with this configuration.
    NodeStarted {
        /// The node's name.
        node: String,
        /// Hex SHA-256 of the configuration file's bytes.
        config_hash: String,
    },
    /// A job changed state.
    Job(JobRecord),
    /// The egress guard released an output to its declared receiver.
    Released {
        /// The job.
        job_id: String,
        /// The output.
        output: String,
        /// Its receiver.
        receiver: String,
        /// The hex salted commitment of the bytes (the plain SHA-256 in
        /// record version 1).
        hash: String,
    },
    /// The egress guard refused a release.
    EgressRefused {
        /// The job.
        job_id: String,
        /// The output that was to be released.
        output: String,
        /// The undeclared receiver.
        receiver: String,
        /// Why.
        reason: String,
    },
    /// A peer's signed receipt of a job's outcome.
    Receipt(Receipt),
    /// A change to the differential-privacy budget ledger
    /// ([`crate::dp_ledger`]): a job reserved, released or was refunded
    /// its ρ. The node rebuilds its ledger from these at start.
    Budget {
        /// The change.
        change: LedgerEvent,
    },
}

fn is_v1(v: &u32) -> bool {
    *v == 1
}

fn v1() -> u32 {
    1
}

/// The hashed part of a record.
#[derive(Serialize)]
struct Body<'a> {
    #[serde(skip_serializing_if = "is_v1")]
    version: u32,
    seq: u64,
    time_ms: u64,
    prev: &'a str,
    event: &'a Event,
}

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    /// The record's version: 1 (absent in old logs) or [`RECORD_VERSION`].
    #[serde(default = "v1", skip_serializing_if = "is_v1")]
    pub version: u32,
    /// Its position in the log, from 0.
    pub seq: u64,
    /// When it was written (Unix milliseconds).
    pub time_ms: u64,
    /// Hex hash of the previous record (64 zeros for the first).
    pub prev: String,
    /// What happened.
    pub event: Event,
    /// Hex SHA-256 of the fields above.
    pub hash: String,
    /// Hex ed25519 signature of the node over the hash's bytes.
    pub sig: String,
}

/// The `prev` of the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

impl Record {
    /// The hash the record's fields give.
    pub fn compute_hash(&self) -> [u8; 32] {
        body_hash(
            self.version,
            self.seq,
            self.time_ms,
            &self.prev,
            &self.event,
        )
    }
}

/// SHA-256 over the version's domain tag and the body's canonical JSON.
pub(crate) fn body_hash(
    version: u32,
    seq: u64,
    time_ms: u64,
    prev: &str,
    event: &Event,
) -> [u8; 32] {
    let body = Body {
        version,
        seq,
        time_ms,
        prev,
        event,
    };
    let mut h = Sha256::new();
    h.update(if version == 1 {
        RECORD_DOMAIN_V1
    } else {
        RECORD_DOMAIN_V2
    });
    // Plain structs, strings and sorted maps always serialise.
    h.update(serde_json::to_vec(&body).unwrap_or_default());
    h.finalize().into()
}
