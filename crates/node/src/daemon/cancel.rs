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

use super::error::JobError;
use super::jobs::State;
use super::propose::Hello;
use super::{Node, lock};
use crate::audit::Outcome;
use crate::control::JobSummary;
use crate::state::JobKey;
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

/// The most cancels kept for jobs whose proposal has not arrived.
const MAX_EARLY_CANCELS: usize = 1024;

/// Cancels that arrived before their job's proposal (the proposer's
/// operator cancelled while the proposal was on its way): the proposal,
/// when it comes, is refused. Bounded: the oldest are forgotten first.
#[derive(Default)]
pub(super) struct EarlyCancels(Mutex<std::collections::VecDeque<(JobKey, String)>>);

impl EarlyCancels {
    /// `by` cancelled job `key`, which this node does not know yet.
    fn note(&self, key: &JobKey, by: &str) {
        let mut early = lock(&self.0);
        if early.len() >= MAX_EARLY_CANCELS {
            early.pop_front();
        }
        early.push_back((key.clone(), by.to_string()));
    }

    /// Who of `parties` cancelled job `key` before its proposal came.
    pub(super) fn take(&self, key: &JobKey, parties: &[&str]) -> Option<String> {
        let mut early = lock(&self.0);
        let at = early
            .iter()
            .position(|(k, by)| k == key && parties.contains(&by.as_str()))?;
        early.remove(at).map(|(_, by)| by)
    }
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
    /// Marks the job cancelled by `by` and closes its links; false if it
    /// is already writing its outputs (too late to cancel).
    fn cancel(&self, by: &str) -> bool {
        let mut s = lock(&self.0);
        if s.sealed {
            return false;
        }
        if s.cancelled_by.is_none() {
            s.cancelled_by = Some(by.to_string());
        }
        for link in &s.links {
            link.stop(&reason(by));
        }
        true
    }

    /// Closes every link of the job saying `why` (the node is stopping):
    /// its peers fail the job at once.
    pub fn stop_links(&self, why: &str) {
        for link in &lock(&self.0).links {
            link.stop(why);
        }
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
    fn stop_of(&self, key: &JobKey) -> Option<Arc<JobStop>> {
        lock(&self.jobs).get(key).map(|j| Arc::clone(&j.stop))
    }

    /// Lets a cancel close `ch`, the link of job `key` (at once, if the
    /// job was already cancelled).
    pub(super) fn watch(&self, key: &JobKey, ch: &QuicChannel) {
        let Some(stop) = self.stop_of(key) else {
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
    pub(super) fn check_cancelled(&self, key: &JobKey) -> Result<(), JobError> {
        match self.stop_of(key).and_then(|s| s.cancelled_by()) {
            Some(by) => Err(JobError::Cancelled { by }),
            None => Ok(()),
        }
    }

    /// Called before a job writes its outputs: from now on it cannot be
    /// cancelled; an error if it already was.
    pub(super) fn seal(&self, key: &JobKey) -> Result<(), JobError> {
        let Some(stop) = self.stop_of(key) else {
            return Ok(());
        };
        let mut s = lock(&stop.0);
        match &s.cancelled_by {
            Some(by) => Err(JobError::Cancelled { by: by.clone() }),
            None => {
                s.sealed = true;
                Ok(())
            }
        }
    }

    /// Who cancelled the job, if anyone did (here or at a peer).
    pub(super) fn cancelled_by(&self, key: &JobKey) -> Option<String> {
        self.stop_of(key).and_then(|s| s.cancelled_by())
    }

    /// `job cancel` from this node's operator: stops the job here and
    /// tells every other party.
    pub(super) fn cancel(self: &Arc<Self>, key: &JobKey) -> Result<JobSummary, JobError> {
        let me = self.config.name.clone();
        let others: Vec<String> = {
            let jobs = lock(&self.jobs);
            let Some(job) = jobs.get(key) else {
                drop(jobs);
                // A job of an earlier run has long ended.
                let summary = self.summary(key)?;
                return Err(JobError::Unknown(format!(
                    "job {key} is already {}",
                    summary.state
                )));
            };
            job.spec
                .parties
                .iter()
                .map(|p| p.name.clone())
                .filter(|n| *n != me)
                .collect()
        };
        self.cancel_as(key, &me)?;
        // Every party hears it from here, even those the job's links do
        // not reach; a party that cannot be reached fails the job on its
        // own (its links close, or its start deadline passes).
        let node = Arc::clone(self);
        let job = key.clone();
        std::thread::spawn(move || {
            for peer in others {
                let hello = Hello::Cancel {
                    proposer: job.proposer.clone(),
                    job_id: job.id.clone(),
                };
                if let Err(e) = node.tell(&peer, &hello) {
                    tracing::warn!("job {job}: telling {peer} it was cancelled: {e}");
                }
            }
        });
        // A running job stops at its next message: wait for its record.
        let waited = Instant::now();
        loop {
            let summary = lock(&self.jobs)
                .get(key)
                .map(|j| j.summary())
                .ok_or_else(|| super::no_job(key))?;
            if summary.state != State::Running || waited.elapsed() > CANCEL_WAIT {
                return Ok(summary);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A peer said it cancelled job `key`: only a party of the job may.
    pub(super) fn cancel_from_peer(&self, peer: &str, key: &JobKey) {
        let party = lock(&self.jobs)
            .get(key)
            .is_some_and(|j| j.spec.party(peer).is_some());
        if !party {
            if !lock(&self.jobs).contains_key(key) {
                // The proposal may still be on its way: it will be refused
                // if `peer` is one of its parties.
                tracing::info!(
                    "{peer} cancelled job {} before its proposal arrived",
                    crate::bounds::printable(&key.to_string(), 80)
                );
                self.early_cancels.note(key, peer);
                return;
            }
            tracing::warn!(
                "{peer} cancelled job {}, which it is no party of here",
                crate::bounds::printable(&key.to_string(), 80)
            );
            return;
        }
        if let Err(e) = self.cancel_as(key, peer) {
            tracing::info!("{peer} cancelled job {key}: {e}");
        }
    }

    /// The proposer `peer` withdrew its job `job_id` (another party
    /// refused it): it ends here unless it already ended.
    pub(super) fn withdrawn_by(&self, peer: &str, job_id: &str, reason: &str) {
        let key = JobKey::new(peer, job_id);
        let reason = crate::bounds::printable(reason, crate::bounds::MAX_PEER_REASON);
        let ended = {
            let mut jobs = lock(&self.jobs);
            match jobs.get_mut(&key) {
                Some(job) if job.state() == State::Accepted => {
                    job.transition(State::Withdrawn, format!("withdrawn by {peer}: {reason}"));
                    Some((job.spec.clone(), job.started_ms))
                }
                _ => None,
            }
        };
        let Some((spec, started)) = ended else {
            return;
        };
        let outcome = Outcome::Withdrawn {
            by: peer.to_string(),
            reason,
        };
        if let Err(e) = self.log(self.record(&spec, peer, started, outcome)) {
            tracing::warn!("job {key}: {e}");
        }
    }

    /// Cancels the job on behalf of `by`: a job not yet running ends here
    /// and now; a running one is stopped, and its protocol thread records
    /// the cancellation when it ends.
    fn cancel_as(&self, key: &JobKey, by: &str) -> Result<(), JobError> {
        let (stop, state, spec, started) = {
            let jobs = lock(&self.jobs);
            let job = jobs.get(key).ok_or_else(|| super::no_job(key))?;
            (
                Arc::clone(&job.stop),
                job.state(),
                job.spec.clone(),
                job.started_ms,
            )
        };
        let cancel = || match stop.cancel(by) {
            true => Ok(()),
            false => Err(JobError::Unknown(format!(
                "job {key} cannot be cancelled: it is writing its outputs: too late to cancel"
            ))),
        };
        match state {
            State::Running => cancel(),
            State::Proposed | State::Accepted => {
                cancel()?;
                {
                    // Only one of a cancel and the job's start wins.
                    let mut jobs = lock(&self.jobs);
                    let job = jobs.get_mut(key).ok_or_else(|| super::no_job(key))?;
                    if !matches!(job.state(), State::Proposed | State::Accepted) {
                        return Ok(());
                    }
                    job.transition(State::Cancelled, reason(by));
                }
                let outcome = Outcome::Cancelled { by: by.to_string() };
                self.log(self.record(&spec, &key.proposer, started, outcome))
            }
            other => Err(JobError::Unknown(format!("job {key} is already {other}"))),
        }
    }

    /// Opens a channel to `peer` and sends it `hello`, expecting no answer.
    pub(super) fn tell(&self, peer: &str, hello: &Hello) -> Result<(), JobError> {
        let mut ch = self.dial(peer)?;
        wire::send_msg(&mut ch, hello).map_err(|e| JobError::Peer {
            peer: peer.to_string(),
            reason: e.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cancel_before_its_proposal_is_kept_for_the_proposal_of_its_parties() {
        let early = EarlyCancels::default();
        let key = JobKey::new("bank", "j1");
        early.note(&key, "tax");
        // Another job, or a canceller that is no party of it: not this one.
        assert_eq!(
            early.take(&JobKey::new("bank", "j2"), &["bank", "tax"]),
            None
        );
        assert_eq!(early.take(&key, &["bank", "stats"]), None);
        assert_eq!(early.take(&key, &["bank", "tax"]).as_deref(), Some("tax"));
        // Taken once.
        assert_eq!(early.take(&key, &["bank", "tax"]), None);
        // Bounded: the oldest go first.
        for i in 0..=MAX_EARLY_CANCELS {
            early.note(&JobKey::new("bank", &format!("k{i}")), "tax");
        }
        assert_eq!(early.take(&JobKey::new("bank", "k0"), &["tax"]), None);
        assert!(early.take(&JobKey::new("bank", "k1"), &["tax"]).is_some());
    }
}
