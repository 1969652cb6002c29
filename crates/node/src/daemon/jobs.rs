//! The node's table of jobs: what the control socket lists, and the state
//! each job is in.

use super::cancel::JobStop;
use crate::audit::OutputRecord;
use crate::control::JobSummary;
use crate::jobspec::JobSpec;
use std::path::PathBuf;
use std::sync::Arc;

/// A job this node knows.
pub(super) struct Job {
    pub spec: JobSpec,
    pub spec_hash: String,
    pub proposer: String,
    pub state: State,
    pub detail: String,
    pub started_ms: u64,
    /// The row limit this node's policy granted (none for a job this node
    /// proposed: its operator submitted it).
    pub max_rows: Option<u64>,
    /// The declared outputs, with hashes once released.
    pub outputs: Vec<OutputRecord>,
    /// The files of the outputs this node received.
    pub files: Vec<PathBuf>,
    /// Stops the job when it is cancelled.
    pub stop: Arc<JobStop>,
}

/// Where a job stands on this node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum State {
    Proposed,
    Accepted,
    Running,
    Completed,
    Refused,
    Failed,
    Cancelled,
}

impl State {
    pub fn name(self) -> &'static str {
        match self {
            State::Proposed => "proposed",
            State::Accepted => "accepted",
            State::Running => "running",
            State::Completed => "completed",
            State::Refused => "refused",
            State::Failed => "failed",
            State::Cancelled => "cancelled",
        }
    }

    /// Whether the job can still change state.
    pub fn is_open(self) -> bool {
        matches!(self, State::Proposed | State::Accepted | State::Running)
    }
}

impl Job {
    pub fn summary(&self) -> JobSummary {
        JobSummary {
            job_id: self.spec.id.clone(),
            spec_hash: self.spec_hash.clone(),
            protocol: self.spec.protocol.to_string(),
            proposer: self.proposer.clone(),
            state: self.state.name().to_string(),
            detail: self.detail.clone(),
        }
    }
}
