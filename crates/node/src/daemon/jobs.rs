//! The node's table of jobs: what the control socket lists, and the state
//! each job is in.

use crate::control::JobSummary;
use crate::jobspec::JobSpec;

/// A job this node knows.
pub(super) struct Job {
    pub spec: JobSpec,
    pub spec_hash: String,
    pub proposer: String,
    pub state: State,
    pub detail: String,
    pub started_ms: u64,
}

/// Where a job stands on this node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum State {
    Proposed,
    Accepted,
    Refused,
    Failed,
    Cancelled,
}

impl State {
    fn name(self) -> &'static str {
        match self {
            State::Proposed => "proposed",
            State::Accepted => "accepted",
            State::Refused => "refused",
            State::Failed => "failed",
            State::Cancelled => "cancelled",
        }
    }

    /// Whether the job can still change state.
    pub fn is_open(self) -> bool {
        matches!(self, State::Proposed | State::Accepted)
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
