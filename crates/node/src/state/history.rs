//! The job history: every job the audit log mentions, folded from its
//! records — spec hash, parties, each party's decision with the rule that
//! made it, the latest outcome, outputs with their commitments, receipts,
//! bytes and timing.

use super::JobKey;
use crate::audit::record::Outcome;
use crate::audit::{Event, JobRecord, OutputHash, OutputRecord, ReceiptOutcome, Record, Touched};
use crate::jobspec::{Param, Protocol};
use std::collections::BTreeMap;

/// One party's decision on a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The deciding party.
    pub party: String,
    /// Whether it accepted.
    pub accepted: bool,
    /// The rule of its policy that decided (as it named it).
    pub rule: String,
    /// Why it refused, when it did and this node knows.
    pub reason: Option<String>,
    /// When this node recorded the decision (Unix milliseconds).
    pub time_ms: u64,
}

/// A peer's receipt of the job, as kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptSeen {
    /// The signer.
    pub signer: String,
    /// The outcome it vouches for.
    pub outcome: ReceiptOutcome,
    /// The outputs it released, with their commitments.
    pub outputs: Vec<OutputHash>,
    /// The head of its audit log it quoted (version-2 receipts).
    pub audit_head: Option<String>,
    /// The record holding it.
    pub seq: u64,
}

/// Everything the log says about one job.
#[derive(Debug, Clone, PartialEq)]
pub struct JobHistory {
    /// Who proposed it, and its id.
    pub key: JobKey,
    /// Hex SHA-256 of its spec.
    pub spec_hash: String,
    /// Its protocol.
    pub protocol: Protocol,
    /// The purpose it gave.
    pub purpose: String,
    /// Every party, in the spec's order.
    pub parties: Vec<String>,
    /// This node's dataset the job reads (empty at a dealer).
    pub dataset: String,
    /// The columns it reads here, with their grades.
    pub columns: Vec<Touched>,
    /// Its parameters.
    pub parameters: BTreeMap<String, Param>,
    /// The decisions this node knows of: its own, and the peers' as their
    /// receipts state them.
    pub decisions: Vec<Decision>,
    /// Where the job stands (the latest job record).
    pub outcome: Outcome,
    /// The declared outputs, with commitments once released.
    pub outputs: Vec<OutputRecord>,
    /// The peers' receipts kept for it.
    pub receipts: Vec<ReceiptSeen>,
    /// When it started here (Unix milliseconds).
    pub started_ms: u64,
    /// When it reached its latest state (Unix milliseconds).
    pub finished_ms: u64,
    /// Bytes this node sent for it.
    pub bytes_sent: u64,
    /// Bytes this node received for it.
    pub bytes_received: u64,
    /// The number of its first record in the log.
    pub first_seq: u64,
    /// The number of its latest record in the log.
    pub last_seq: u64,
}

impl JobHistory {
    /// Whether the job can still change state (proposed or accepted when
    /// the log ends).
    pub fn is_open(&self) -> bool {
        matches!(self.outcome, Outcome::Proposed | Outcome::Accepted { .. })
    }

    /// The outcome's name: `proposed`, `accepted`, `refused`, `completed`,
    /// `failed`, `cancelled` or `withdrawn`.
    pub fn state(&self) -> &'static str {
        outcome_name(&self.outcome)
    }

    /// The job record of this job reaching `outcome` at `now_ms`.
    pub fn record(&self, outcome: Outcome, now_ms: u64) -> JobRecord {
        JobRecord {
            job_id: self.key.id.clone(),
            spec_hash: self.spec_hash.clone(),
            proposer: self.key.proposer.clone(),
            peers: self.parties.clone(),
            protocol: self.protocol,
            purpose: self.purpose.clone(),
            dataset: self.dataset.clone(),
            columns: self.columns.clone(),
            parameters: self.parameters.clone(),
            outputs: self.outputs.clone(),
            bytes_sent: self.bytes_sent,
            bytes_received: self.bytes_received,
            outcome,
            started_ms: self.started_ms,
            finished_ms: now_ms,
        }
    }
}

/// The name of an outcome, as `job list` shows it.
pub fn outcome_name(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Proposed => "proposed",
        Outcome::Accepted { .. } => "accepted",
        Outcome::Refused { .. } => "refused",
        Outcome::Completed => "completed",
        Outcome::Failed { .. } => "failed",
        Outcome::Cancelled { .. } => "cancelled",
        Outcome::Withdrawn { .. } => "withdrawn",
    }
}

/// Every job of the log, by key, in the order each first appeared.
#[derive(Debug, Clone, Default)]
pub struct History {
    jobs: BTreeMap<JobKey, JobHistory>,
    order: Vec<JobKey>,
    /// Job ids by id alone, for receipts (which name a job by id) and for
    /// operators who type only the id.
    by_id: BTreeMap<String, Vec<JobKey>>,
}

impl History {
    /// Folds one record in (records must come in log order).
    pub(super) fn apply(&mut self, me: &str, record: &Record) {
        match &record.event {
            Event::Job(job) => self.job_record(me, record, job),
            Event::Receipt(receipt) => {
                let body = &receipt.body;
                let key = match &body.proposer {
                    Some(p) => Some(JobKey::new(p, &body.job_id)),
                    // Version 1 named the job by id only: the latest job of
                    // that id.
                    None => self.by_id.get(&body.job_id).and_then(|k| k.last().cloned()),
                };
                let Some(job) = key.and_then(|k| self.jobs.get_mut(&k)) else {
                    return;
                };
                if matches!(
                    body.outcome,
                    ReceiptOutcome::Accepted | ReceiptOutcome::Refused
                ) {
                    job.decisions.push(Decision {
                        party: receipt.signer.clone(),
                        accepted: body.outcome == ReceiptOutcome::Accepted,
                        rule: body.rule.clone().unwrap_or_default(),
                        reason: None,
                        time_ms: record.time_ms,
                    });
                }
                job.receipts.push(ReceiptSeen {
                    signer: receipt.signer.clone(),
                    outcome: body.outcome.clone(),
                    outputs: body.outputs.clone(),
                    audit_head: body.audit_head.clone(),
                    seq: record.seq,
                });
                job.last_seq = record.seq;
            }
            _ => {}
        }
    }

    fn job_record(&mut self, me: &str, record: &Record, r: &JobRecord) {
        let key = JobKey::new(&r.proposer, &r.job_id);
        let job = self.jobs.entry(key.clone()).or_insert_with(|| {
            self.order.push(key.clone());
            self.by_id
                .entry(key.id.clone())
                .or_default()
                .push(key.clone());
            JobHistory {
                key: key.clone(),
                spec_hash: r.spec_hash.clone(),
                protocol: r.protocol,
                purpose: r.purpose.clone(),
                parties: r.peers.clone(),
                dataset: r.dataset.clone(),
                columns: r.columns.clone(),
                parameters: r.parameters.clone(),
                decisions: Vec::new(),
                outcome: Outcome::Proposed,
                outputs: r.outputs.clone(),
                receipts: Vec::new(),
                started_ms: r.started_ms,
                finished_ms: r.finished_ms,
                bytes_sent: 0,
                bytes_received: 0,
                first_seq: record.seq,
                last_seq: record.seq,
            }
        });
        // This node's own decision on a peer's proposal.
        if r.proposer != me {
            match &r.outcome {
                Outcome::Accepted { rule } => job.decisions.push(Decision {
                    party: me.to_string(),
                    accepted: true,
                    rule: rule.clone(),
                    reason: None,
                    time_ms: record.time_ms,
                }),
                Outcome::Refused { rule, reason } if job.is_open() => {
                    job.decisions.push(Decision {
                        party: me.to_string(),
                        accepted: false,
                        rule: rule.clone(),
                        reason: Some(reason.clone()),
                        time_ms: record.time_ms,
                    })
                }
                _ => {}
            }
        }
        job.outcome = r.outcome.clone();
        if r.outputs.iter().any(|o| o.hash.is_some()) {
            job.outputs = r.outputs.clone();
        }
        job.finished_ms = r.finished_ms;
        job.bytes_sent = r.bytes_sent;
        job.bytes_received = r.bytes_received;
        job.last_seq = record.seq;
    }

    /// The job of `key`.
    pub fn job(&self, key: &JobKey) -> Option<&JobHistory> {
        self.jobs.get(key)
    }

    /// Every job, in the order each first appeared in the log.
    pub fn jobs(&self) -> impl Iterator<Item = &JobHistory> {
        self.order.iter().filter_map(|k| self.jobs.get(k))
    }

    /// The keys of the jobs with id `id` (one per proposer that used it).
    pub fn with_id(&self, id: &str) -> &[JobKey] {
        self.by_id.get(id).map_or(&[], Vec::as_slice)
    }

    /// Whether the log mentions the job of `key`.
    pub fn contains(&self, key: &JobKey) -> bool {
        self.jobs.contains_key(key)
    }

    /// The number of jobs.
    pub fn len(&self) -> usize {
        self.jobs.len()
    }

    /// Whether the log mentions no job.
    pub fn is_empty(&self) -> bool {
        self.jobs.is_empty()
    }
}
