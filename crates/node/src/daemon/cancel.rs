//! Cancelling a job (`indomain job cancel`), and telling the other parties.
//!
//! A cancel reaches a job on the node where its operator typed it, and on
//! every other party through [`Hello::Cancel`] (an authenticated channel
//! names who cancelled). A job not yet running is cancelled at once. A
//! running job is stopped through its [`JobStop`]: the links its protocol
//! uses are closed as stopped with the reason `cancelled by <node>`, so its
//! protocol thread fails at its next message and each peer reads who
//! cancelled; the thread also checks the flag before it reads any data and
//! before it writes any output. Once a job has begun writing its outputs it
//! can no longer be cancelled: it completes. A cancelled job releases
//! nothing, and its audit record names who cancelled it.
//!
//! What each side learns: that the job was cancelled, and by whom.

use super::jobs::State;
use super::propose::Hello;
use super::{Node, lock};
use crate::audit::Outcome;
use crate::control::JobSummary;
use indomain_net::quic::{LinkStopper, QuicChannel};
use indomain_net::wire;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long `job cancel` waits for a running job's protocol thread to stop.
const CANCEL_WAIT: Duration = Duration::from_secs(10);

/// The close reason of a link whose job `by` cancelled.
pub(super) fn reason(by: &str) -> String {
    format!("cancelled by {by}")
}

/// Who cancelled, read from a link's close reason.
fn parse_reason(reason: &str) -> Option<&str> {
    reason.strip_prefix("cancelled by ")
}

/// How a running job is stopped from another thread.
#[derive(Default)]
pub(super) struct JobStop(Mutex<StopState>);

#[derive(Default)]
struct StopState {
    /// The node whose operator cancelled the job.
    cancelled_by: Option<String>,
    /// The job is writing its outputs: too late to cancel.
    sealed: bool,
    /// The links its protocol uses.
    links: Vec<LinkStopper>,
}

impl JobStop {
    /// Marks the job cancelled by `by` and closes its links; an error if
    /// it is already writing its outputs.
    fn cancel(&self, by: &str) -> Result<(), String> {
        let mut s = lock(&self.0);
        if s.sealed {
            return Err("it is writing its outputs: too late to cancel".into());
        }
        if s.cancelled_by.is_none() {
            s.cancelled_by = Some(by.to_string());
        }
        for link in &s.links {
            link.stop(&reason(by));
        }
        Ok(())
    }

    /// Who cancelled the job: this node's record, or a peer that closed
    /// one of its links saying so.
    fn cancelled_by(&self) -> Option<String> {
        let s = lock(&self.0);
        s.cancelled_by.clone().or_else(|| {
            s.links.iter().find_map(|l| {
                let why = l.stopped_by_peer()?;
                parse_reason(&why).map(str::to_string)
            })
        })
    }
}

impl Node {
    fn stop_of(&self, job_id: &str) -> Option<Arc<JobStop>> {
        lock(&self.jobs).get(job_id).map(|j| Arc::clone(&j.stop))
    }

    /// Lets a cancel close `ch`, the link of job `job_id` (at once, if the
    /// job was already cancelled).
    pub(super) fn watch(&self, job_id: &str, ch: &QuicChannel) {
        let Some(stop) = self.stop_of(job_id) else {
            return;
        };
        let mut s = lock(&stop.0);
        let link = ch.stopper();
        if let Some(by) = &s.cancelled_by {
            link.stop(&reason(by));
        }
        s.links.push(link);
    }

    /// An error if the job was cancelled: checked between its phases.
    pub(super) fn check_cancelled(&self, job_id: &str) -> Result<(), String> {
        match self.stop_of(job_id).and_then(|s| s.cancelled_by()) {
            Some(by) => Err(reason(&by)),
            None => Ok(()),
        }
    }

    /// Called before a job writes its outputs: from now on it cannot be
    /// cancelled; an error if it already was.
    pub(super) fn seal(&self, job_id: &str) -> Result<(), String> {
        let Some(stop) = self.stop_of(job_id) else {
            return Ok(());
        };
        let mut s = lock(&stop.0);
        match &s.cancelled_by {
            Some(by) => Err(reason(by)),
            None => {
                s.sealed = true;
                Ok(())
            }
        }
    }

    /// Who cancelled the job, if anyone did (here or at a peer).
    pub(super) fn cancelled_by(&self, job_id: &str) -> Option<String> {
        self.stop_of(job_id).and_then(|s| s.cancelled_by())
    }

    /// `job cancel` from this node's operator: stops the job here and
    /// tells every other party.
    pub(super) fn cancel(self: &Arc<Self>, job_id: &str) -> Result<JobSummary, String> {
        let me = self.config.name.clone();
        let others: Vec<String> = {
            let jobs = lock(&self.jobs);
            let job = jobs
                .get(job_id)
                .ok_or_else(|| format!("no job {job_id:?} on this node"))?;
            job.spec
                .parties
                .iter()
                .map(|p| p.name.clone())
                .filter(|n| *n != me)
                .collect()
        };
        self.cancel_as(job_id, &me)?;
        // Every party hears it from here, even those the job's links do
        // not reach; a party that cannot be reached fails the job on its
        // own (its links close, or its start deadline passes).
        let node = Arc::clone(self);
        let id = job_id.to_string();
        std::thread::spawn(move || {
            for peer in others {
                if let Err(e) = node.send_cancel(&peer, &id) {
                    tracing::warn!("job {id}: telling {peer} it was cancelled: {e}");
                }
            }
        });
        // A running job stops at its next message: wait for its record.
        let waited = Instant::now();
        loop {
            let summary = lock(&self.jobs)
                .get(job_id)
                .map(|j| j.summary())
                .ok_or("the job vanished")?;
            if summary.state != "running" || waited.elapsed() > CANCEL_WAIT {
                return Ok(summary);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A peer said it cancelled `job_id`: only a party of the job may.
    pub(super) fn cancel_from_peer(&self, peer: &str, job_id: &str) {
        let party = lock(&self.jobs)
            .get(job_id)
            .is_some_and(|j| j.spec.party(peer).is_some());
        if !party {
            tracing::warn!("{peer} cancelled job {job_id:?}, which it is no party of here");
            return;
        }
        if let Err(e) = self.cancel_as(job_id, peer) {
            tracing::info!("{peer} cancelled job {job_id}: {e}");
        }
    }

    /// Cancels the job on behalf of `by`: a job not yet running ends here
    /// and now; a running one is stopped, and its protocol thread records
    /// the cancellation when it ends.
    fn cancel_as(&self, job_id: &str, by: &str) -> Result<(), String> {
        let (stop, state, spec, proposer, started) = {
            let jobs = lock(&self.jobs);
            let job = jobs
                .get(job_id)
                .ok_or_else(|| format!("no job {job_id:?} on this node"))?;
            (
                Arc::clone(&job.stop),
                job.state,
                job.spec.clone(),
                job.proposer.clone(),
                job.started_ms,
            )
        };
        match state {
            State::Running => stop
                .cancel(by)
                .map_err(|e| format!("job {job_id} cannot be cancelled: {e}")),
            State::Proposed | State::Accepted => {
                stop.cancel(by)?;
                {
                    // Only one of a cancel and the job's start wins.
                    let mut jobs = lock(&self.jobs);
                    let job = jobs.get_mut(job_id).ok_or("the job vanished")?;
                    if !matches!(job.state, State::Proposed | State::Accepted) {
                        return Ok(());
                    }
                    job.state = State::Cancelled;
                    job.detail = reason(by);
                }
                let outcome = Outcome::Cancelled { by: by.to_string() };
                self.log(self.record(&spec, &proposer, started, outcome))
            }
            other => Err(format!("job {job_id} is already {}", other.name())),
        }
    }

    fn send_cancel(&self, peer: &str, job_id: &str) -> Result<(), String> {
        let address = self
            .config
            .peers
            .get(peer)
            .map(|p| p.address)
            .ok_or("not a configured peer")?;
        let mut ch = self
            .endpoint
            .connect(address, peer)
            .map_err(|e| e.to_string())?;
        let hello = Hello::Cancel {
            job_id: job_id.to_string(),
        };
        wire::send_msg(&mut ch, &hello).map_err(|e| e.to_string())
    }
}
