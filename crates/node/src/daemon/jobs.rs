//! The node's table of live jobs: what the control socket lists, the
//! state each job is in, and what a running job is doing. Jobs of earlier
//! runs of the node are listed from the restart-proof history
//! ([`crate::state`]).

use super::Node;
use super::cancel::JobStop;
use crate::audit::OutputRecord;
use crate::bounds::{MAX_SHOWN, printable};
use crate::control::{JobSummary, PhaseBytes};
use crate::jobspec::JobSpec;
use crate::plan::JobPlan;
use crate::state::{JobHistory, JobKey};
use indomain_net::Counters;
use indomain_net::channel::ByteCounter;
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
    /// change of a job's state follows (`Job::transition`). A job ends
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
/// and read by `job status`; and the bytes its links moved in each phase,
/// read by the console.
#[derive(Debug, Default)]
pub(super) struct Progress {
    now: Mutex<(String, String)>,
    book: Mutex<PhaseBook>,
}

/// When each phase began and what the job's links had moved by then.
#[derive(Debug, Default)]
struct PhaseBook {
    /// The counters of every link of the job (`Node::watch` adds them).
    links: Vec<Arc<ByteCounter>>,
    /// Each phase: its name, start (Unix ms) and the links' total then.
    marks: Vec<(String, u64, Counters)>,
    /// When the job ended, and the links' total then.
    ended: Option<(u64, Counters)>,
}

impl PhaseBook {
    fn total(&self) -> Counters {
        self.links
            .iter()
            .fold(Counters::default(), |sum, c| sum + c.get())
    }
}

impl Progress {
    /// Enters `phase` (and forgets the previous phase's count).
    pub fn phase(&self, phase: &str) {
        *super::lock(&self.now) = (phase.to_string(), String::new());
        let mut book = super::lock(&self.book);
        let total = book.total();
        book.marks
            .push((phase.to_string(), crate::time::now_millis(), total));
    }

    /// `done` of `total` `unit` of the current phase.
    pub fn count(&self, done: u64, total: u64, unit: &str) {
        super::lock(&self.now).1 = format!("{done}/{total} {unit}");
    }

    /// The phase and the count.
    pub fn get(&self) -> (String, String) {
        super::lock(&self.now).clone()
    }

    /// Counts a link of the job from now on: its bytes so far fall in the
    /// current phase (the link was opened in it).
    /// A link counted already (a channel handed from one phase's code to
    /// the next) is not counted twice.
    pub fn link(&self, counter: Arc<ByteCounter>) {
        let mut book = super::lock(&self.book);
        if !book.links.iter().any(|c| Arc::ptr_eq(c, &counter)) {
            book.links.push(counter);
        }
    }

    /// The job ended: the last phase ends now.
    pub fn end(&self) {
        let mut book = super::lock(&self.book);
        if book.ended.is_none() {
            let total = book.total();
            book.ended = Some((crate::time::now_millis(), total));
        }
    }

    /// Each phase so far with its time and the bytes moved in it.
    pub fn phases(&self) -> Vec<PhaseBytes> {
        let book = super::lock(&self.book);
        let now = (crate::time::now_millis(), book.total());
        let end = book.ended.unwrap_or(now);
        book.marks
            .iter()
            .enumerate()
            .map(|(i, (name, start, at))| {
                let (next_ms, next) = book.marks.get(i + 1).map_or(end, |(_, ms, c)| (*ms, *c));
                let last_open = i + 1 == book.marks.len() && book.ended.is_none();
                PhaseBytes {
                    phase: name.clone(),
                    started_ms: *start,
                    ms: (!last_open).then(|| next_ms.saturating_sub(*start)),
                    sent: next.sent.saturating_sub(at.sent),
                    received: next.received.saturating_sub(at.received),
                }
            })
            .collect()
    }
}

impl Node {
    /// The spec of job `key`, if this node holds it (jobs of this run).
    pub fn job_spec(&self, key: &JobKey) -> Option<JobSpec> {
        super::lock(&self.jobs).get(key).map(|j| j.spec.clone())
    }

    /// The phases of job `key` with their time and bytes (jobs of this
    /// run; empty for one that never ran here).
    pub fn job_phases(&self, key: &JobKey) -> Vec<PhaseBytes> {
        let progress = super::lock(&self.jobs)
            .get(key)
            .map(|j| Arc::clone(&j.progress));
        progress.map(|p| p.phases()).unwrap_or_default()
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
            if !to.is_open() {
                // The last phase ends with the job: its bytes are final.
                self.progress.end();
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_phase_gets_the_bytes_moved_in_it_and_a_link_counts_once() {
        let p = Progress::default();
        p.phase("starting");
        let link = ByteCounter::new();
        // Bytes moved before the link was counted fall in the phase that
        // counted it.
        link.add_received(84);
        p.link(Arc::clone(&link));
        p.phase("opening the links");
        p.link(Arc::clone(&link));
        let other = ByteCounter::new();
        p.link(Arc::clone(&other));
        link.add_sent(10);
        p.phase("running the protocol");
        link.add_sent(1000);
        other.add_received(500);
        let running = p.phases();
        assert_eq!(running.len(), 3);
        assert!(running[2].ms.is_none(), "the last phase runs");
        p.end();
        link.add_sent(1);
        let ended = p.phases();
        let got: Vec<_> = ended
            .iter()
            .map(|x| (x.phase.as_str(), x.sent, x.received))
            .collect();
        assert_eq!(
            got,
            [
                ("starting", 0, 84),
                ("opening the links", 10, 0),
                ("running the protocol", 1000, 500)
            ]
        );
        assert!(ended.iter().all(|x| x.ms.is_some()));
    }
}
