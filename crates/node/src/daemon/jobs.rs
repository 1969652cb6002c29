//! The node's table of live jobs: what the control socket lists, the
//! state each job is in, and what a running job is doing. Jobs of earlier
//! runs of the node are listed from the restart-proof history
//! ([`crate::state`]).

use super::cancel::JobStop;
use crate::audit::OutputRecord;
use crate::bounds::{MAX_SHOWN, printable};
use crate::control::JobSummary;
use crate::jobspec::JobSpec;
use crate::plan::JobPlan;
use crate::state::{JobHistory, JobKey};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// A job this node knows.
pub(super) struct Job {
    pub key: JobKey,
    pub spec: JobSpec,
    /// Its plan, built when the spec was checked: what it runs with.
    pub plan: JobPlan,
    pub spec_hash: String,
    /// Where it stands; changed only by [`Job::transition`].
    state: State,
    pub detail: String,
    pub started_ms: u64,
    /// The row limit this node's policy granted (none for a job this node
    /// proposed: its operator submitted it).
    pub max_rows: Option<u64>,
    /// The declared outputs, with commitments once released.
    pub outputs: Vec<OutputRecord>,
    /// The files of the outputs this node received, and their salt files.
    pub files: Vec<PathBuf>,
    pub salts: Vec<PathBuf>,
    /// Stops the job when it is cancelled.
    pub stop: Arc<JobStop>,
    /// What it is doing now.
    pub progress: Arc<Progress>,
    /// Whether its protocol began opening values to a receiver (a DP
    /// budget is then spent whatever happens, `daemon/budget.rs`).
    pub opened: bool,
}

pub(super) use crate::control::JobState as State;

impl State {
    /// Whether a job in this state may move to `to`: the one rule every
    /// change of a job's state follows ([`Job::transition`]). A job ends
    /// once (completed, refused, failed, cancelled, withdrawn); a cancel
    /// wins over anything that comes after it.
    pub fn may_become(self, to: State) -> bool {
        use State::*;
        matches!(
            (self, to),
            (Proposed, Running | Refused | Failed | Cancelled)
                | (Accepted, Running | Failed | Cancelled | Withdrawn)
                | (Running, Completed | Failed | Cancelled)
        )
    }
}

/// A running job's phase and progress, updated by its protocol thread
/// and read by `job status`.
#[derive(Debug, Default)]
pub(super) struct Progress(Mutex<(String, String)>);

impl Progress {
    /// Enters `phase` (and forgets the previous phase's count).
    pub fn phase(&self, phase: &str) {
        *super::lock(&self.0) = (phase.to_string(), String::new());
    }

    /// `done` of `total` `unit` of the current phase.
    pub fn count(&self, done: u64, total: u64, unit: &str) {
        super::lock(&self.0).1 = format!("{done}/{total} {unit}");
    }

    /// The phase and the count.
    pub fn get(&self) -> (String, String) {
        super::lock(&self.0).clone()
    }
}

impl Job {
    /// A job newly known here, in `state` (proposed, accepted or refused).
    pub fn new(
        key: JobKey,
        (spec, plan): (JobSpec, JobPlan),
        (state, detail): (State, String),
        started_ms: u64,
    ) -> Job {
        Job {
            key,
            spec_hash: spec.hash().to_string(),
            outputs: spec
                .outputs
                .iter()
                .map(|o| OutputRecord {
                    name: o.name.clone(),
                    receiver: o.receiver.clone(),
                    hash: None,
                })
                .collect(),
            spec,
            plan,
            state,
            detail,
            started_ms,
            max_rows: None,
            files: Vec::new(),
            salts: Vec::new(),
            stop: Default::default(),
            progress: Default::default(),
            opened: false,
        }
    }

    /// Where the job stands.
    pub fn state(&self) -> State {
        self.state
    }

    /// Moves the job to `to`, saying `detail`, if [`State::may_become`]
    /// allows it; whether it did.
    pub fn transition(&mut self, to: State, detail: String) -> bool {
        let allowed = self.state.may_become(to);
        if allowed {
            self.state = to;
            self.detail = detail;
        }
        allowed
    }

    pub fn summary(&self) -> JobSummary {
        let (phase, progress) = if self.state.is_open() {
            self.progress.get()
        } else {
            Default::default()
        };
        JobSummary {
            job_id: self.spec.id.clone(),
            spec_hash: self.spec_hash.clone(),
            protocol: self.spec.protocol.to_string(),
            proposer: self.key.proposer.clone(),
            state: self.state,
            detail: printable(&self.detail, 4 * MAX_SHOWN),
            phase,
            progress,
        }
    }
}

/// The summary of a job known only from the log (an earlier run of the
/// node).
pub(super) fn summary_of(job: &JobHistory) -> JobSummary {
    use crate::audit::record::Outcome;
    let detail = match &job.outcome {
        Outcome::Accepted { rule } => rule.clone(),
        Outcome::Refused { rule, reason } => format!("{rule}: {reason}"),
        Outcome::Failed { reason } => reason.clone(),
        Outcome::Cancelled { by } => format!("cancelled by {by}; nothing released"),
        Outcome::Withdrawn { by, reason } => format!("withdrawn by {by}: {reason}"),
        Outcome::Proposed | Outcome::Completed => String::new(),
    };
    JobSummary {
        job_id: job.key.id.clone(),
        spec_hash: job.spec_hash.clone(),
        protocol: job.protocol.to_string(),
        proposer: job.key.proposer.clone(),
        state: State::of(&job.outcome),
        detail: printable(&detail, 4 * MAX_SHOWN),
        phase: String::new(),
        progress: String::new(),
    }
}
