//! The node's state that survives restarts, rebuilt from its audit log by
//! this one component: the job history, the rate-limit counters, and the
//! job ids in use. The log is the only store — nothing here is written
//! anywhere else — so whatever the log proves, the state agrees with, and
//! a node restarted on its log refuses what it refused before (a reused
//! job id, a peer over its hourly or per-minute limit).
//!
//! The daemon feeds every record it appends to [`NodeState::apply`] (the
//! audit log's observer), and at start folds the verified log into a fresh
//! state in the same pass that verifies it. Other components (the DP
//! budget ledger, the operator's console) read it through this API:
//!
//! - [`JobKey`] — a job's identity: `(proposer, id)`; ids are unique per
//!   proposer, so one peer's refused proposal never reserves an id another
//!   needs. Shown and typed as `proposer/id`.
//! - [`NodeState::new`]`(me)`, [`NodeState::apply`]`(&Record)` (records in
//!   log order), [`NodeState::rebuild`]`(me, records)`.
//! - [`NodeState::history`] → [`History`]: [`History::job`]`(&key)`,
//!   [`History::jobs`]`()` (first-seen order), [`History::with_id`]`(id)`,
//!   [`History::contains`]`(&key)`; each [`JobHistory`] has the spec hash,
//!   protocol, purpose, parties, dataset and graded columns, parameters,
//!   per-party [`Decision`]s with rule names, the latest outcome (its
//!   phase), outputs with commitments, the peers' receipts
//!   ([`ReceiptSeen`], with the audit head each quoted), bytes and times.
//! - [`NodeState::admitted_last_hour`]`(peer, rule, now)` and
//!   [`NodeState::refused_last_minute`]`(peer, now)`: the counters behind
//!   `max_jobs_per_hour` and `max_refused_per_minute`.
//! - [`NodeState::id_in_use`]`(&key)`, [`NodeState::open_jobs`]`()` (jobs
//!   the log leaves proposed or accepted: a restart ends them),
//!   [`NodeState::records`]`()` and [`NodeState::head`]`()`.
//!
//! - [`NodeState::ledger`] → the DP budget [`Ledger`], rebuilt from the
//!   log's [`Event::Budget`] records (issue #22); [`NodeState::spends`] →
//!   the same records job by job ([`Spends`]), for the console.
//!
//! What it reveals: nothing beyond the log it is built from.

pub mod counters;
pub mod history;
pub mod spends;

pub use counters::Window;
pub use history::{Decision, History, JobHistory, ReceiptSeen, outcome_name};
pub use spends::{Spend, SpendState, Spends};

use crate::audit::record::{GENESIS, Outcome};
use crate::audit::{Event, Record};
use crate::dp_ledger::Ledger;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A job's identity at a node: its proposer and the id the proposer gave.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct JobKey {
    /// The proposing node.
    pub proposer: String,
    /// The job id, unique among that proposer's jobs.
    pub id: String,
}

impl JobKey {
    /// The key of `proposer`'s job `id`.
    pub fn new(proposer: &str, id: &str) -> JobKey {
        JobKey {
            proposer: proposer.to_string(),
            id: id.to_string(),
        }
    }

    /// Parses `proposer/id`.
    pub fn parse(text: &str) -> Option<JobKey> {
        let (proposer, id) = text.split_once('/')?;
        (!proposer.is_empty() && !id.is_empty()).then(|| JobKey::new(proposer, id))
    }
}

impl fmt::Display for JobKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.proposer, self.id)
    }
}

/// The seconds `max_jobs_per_hour` counts over.
const HOUR: u64 = 3600;
/// The seconds `max_refused_per_minute` counts over.
const MINUTE: u64 = 60;

/// The state rebuilt from the log.
#[derive(Debug, Clone)]
pub struct NodeState {
    me: String,
    history: History,
    admitted: Window<(String, usize)>,
    refused: Window<String>,
    ledger: Ledger,
    spends: Spends,
    records: u64,
    head: String,
}

impl NodeState {
    /// The state of node `me` with an empty log.
    pub fn new(me: &str) -> NodeState {
        NodeState {
            me: me.to_string(),
            history: History::default(),
            admitted: Window::new(HOUR),
            refused: Window::new(MINUTE),
            ledger: Ledger::new(),
            spends: Spends::default(),
            records: 0,
            head: GENESIS.to_string(),
        }
    }

    /// The state of node `me` after `records` (in log order).
    pub fn rebuild<'a>(me: &str, records: impl IntoIterator<Item = &'a Record>) -> NodeState {
        let mut state = NodeState::new(me);
        for r in records {
            state.apply(r);
        }
        state
    }

    /// Folds in the next record of the log.
    pub fn apply(&mut self, record: &Record) {
        self.history.apply(&self.me, record);
        if let Event::Job(job) = &record.event
            && job.proposer != self.me
        {
            let at = record.time_ms / 1000;
            match &job.outcome {
                Outcome::Accepted { rule } => {
                    if let Some(i) = rule_index(rule, &job.proposer) {
                        self.admitted.note(&(job.proposer.clone(), i), at);
                    }
                }
                Outcome::Refused { .. } => self.refused.note(&job.proposer, at),
                _ => {}
            }
        }
        if let Event::Budget { change } = &record.event {
            if let Err(e) = self.ledger.apply(change) {
                // The log is verified: a change that does not fit is a bug
                // of the node that wrote it, not a reason to stop this one.
                tracing::warn!("audit record #{}: {e}", record.seq);
            }
            self.spends.apply(change, record.time_ms);
        }
        self.records = record.seq + 1;
        self.head = record.hash.clone();
    }

    /// The job history.
    pub fn history(&self) -> &History {
        &self.history
    }

    /// Whether the log already holds a job of `key` (a new one may not
    /// take its id).
    pub fn id_in_use(&self, key: &JobKey) -> bool {
        self.history.contains(key)
    }

    /// Jobs of `peer` admitted under its rule `rule` in the hour before
    /// `now` (Unix seconds).
    pub fn admitted_last_hour(&self, peer: &str, rule: usize, now: u64) -> usize {
        self.admitted.count(&(peer.to_string(), rule), now)
    }

    /// Proposals of `peer` this node refused in the minute before `now`.
    pub fn refused_last_minute(&self, peer: &str, now: u64) -> usize {
        self.refused.count(&peer.to_string(), now)
    }

    /// The DP budget ledger: ρ charged per (dataset, receiver) and month.
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// Every DP budget charge, job by job.
    pub fn spends(&self) -> &Spends {
        &self.spends
    }

    /// Jobs the log leaves open (proposed or accepted, never finished).
    pub fn open_jobs(&self) -> Vec<&JobHistory> {
        self.history.jobs().filter(|j| j.is_open()).collect()
    }

    /// The number of records folded in.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// The hash of the last record folded in.
    pub fn head(&self) -> &str {
        &self.head
    }
}

/// `i` of `policy.peers.<peer>.allow[i]`.
fn rule_index(rule: &str, peer: &str) -> Option<usize> {
    rule.strip_prefix("policy.peers.")?
        .strip_prefix(peer)?
        .strip_prefix(".allow[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests;
