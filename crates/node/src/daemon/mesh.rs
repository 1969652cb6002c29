//! The channels of a job run over a party set (aggregate, train, predict):
//! one link between every two parties of the job, all on the nodes' one
//! QUIC endpoint, routed to the job by its id.
//!
//! The proposer opens a link to every other party with [`Hello::Run`]
//! (which also starts the job there). Between two other parties, the one
//! listed first in the spec dials the other with [`Hello::Link`]; the
//! accept loop of the dialled node checks the link (a job it accepted,
//! with the same spec hash, from a party of the job that should dial it)
//! and leaves it in [`Links`] until the job there takes it. Dialling
//! retries while the peer does not answer, and waiting for a link gives up
//! after [`MESH_TIMEOUT`] naming the party that never came. The result is
//! a [`PartySet`] in the spec's party order, on which the protocol crates'
//! functions run unchanged.
//!
//! What each side learns: which parties of the job connected.

use super::error::JobError;
use super::jobs::State;
use super::propose::{Hello, RunReply};
use super::{Node, lock};
use crate::jobspec::JobSpec;
use crate::state::JobKey;
use indomain_net::quic::{LinkStopper, QuicChannel};
use indomain_net::{Channel, PartySet, wire};
use std::collections::HashMap;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// How long a party waits for another party's link to its job.
const MESH_TIMEOUT: Duration = Duration::from_secs(30);

/// Links that arrived for jobs of this node, until each job takes them.
#[derive(Default)]
pub(super) struct Links {
    waiting: Mutex<HashMap<JobKey, Vec<QuicChannel>>>,
    arrived: Condvar,
}

impl Links {
    fn deposit(&self, key: &JobKey, channel: QuicChannel) -> Result<(), JobError> {
        let mut waiting = lock(&self.waiting);
        let slot = waiting.entry(key.clone()).or_default();
        if slot.iter().any(|c| c.peer() == channel.peer()) {
            return Err(JobError::Peer {
                peer: channel.peer().to_string(),
                reason: format!("it linked to job {key} twice"),
            });
        }
        slot.push(channel);
        drop(waiting);
        self.arrived.notify_all();
        Ok(())
    }

    /// The link `peer` opened to job `key`, waiting until `deadline`.
    fn take(&self, key: &JobKey, peer: &str, deadline: Instant) -> Option<QuicChannel> {
        let mut waiting = lock(&self.waiting);
        loop {
            if let Some(slot) = waiting.get_mut(key)
                && let Some(i) = slot.iter().position(|c| c.peer() == peer)
            {
                return Some(slot.swap_remove(i));
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            waiting = self
                .arrived
                .wait_timeout(waiting, left)
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
        }
    }

    /// Drops whatever is left for a job that ended.
    pub(super) fn forget(&self, key: &JobKey) {
        lock(&self.waiting).remove(key);
    }
}

/// A job's party set, with a handle on each link to stop it.
pub(super) struct Mesh {
    /// The parties in the spec's order.
    pub parties: PartySet,
    /// Each other party's name and its link's stopper.
    stoppers: Vec<(String, LinkStopper)>,
}

impl Mesh {
    /// Closes every link saying why, so every other party fails at once
    /// with this node's reason instead of waiting for a timeout.
    pub fn stop(&self, reason: &str) {
        for (_, s) in &self.stoppers {
            s.stop(reason);
        }
    }

    /// The parties whose links closed before this node stopped any (a
    /// party that vanished, or stopped the job itself).
    pub fn lost(&self) -> Vec<&str> {
        self.stoppers
            .iter()
            .filter(|(_, s)| s.is_closed())
            .map(|(name, _)| name.as_str())
            .collect()
    }
}

impl Node {
    /// A [`Hello::Link`] from `ch.peer()` for job `key`: kept for the job
    /// if this node accepted it with that spec hash and the peer is a party
    /// of it listed before this node (and not the proposer, which links
    /// with [`Hello::Run`]).
    pub(super) fn link_arrived(&self, mut ch: QuicChannel, key: JobKey, spec_hash: String) {
        let peer = ch.peer().to_string();
        let me = self.config.name.as_str();
        let shown = crate::bounds::printable(&key.to_string(), 80);
        let checked = {
            let jobs = lock(&self.jobs);
            let link = |reason: String| JobError::Peer {
                peer: peer.clone(),
                reason,
            };
            match jobs.get(&key) {
                Some(job)
                    if job.spec_hash == spec_hash
                        && matches!(job.state(), State::Accepted | State::Running)
                        && key.proposer != peer
                        && dials(&job.spec, &key.proposer, &peer, me) =>
                {
                    Ok(())
                }
                Some(job) if job.spec_hash != spec_hash => Err(link(format!(
                    "job {shown} was not accepted with spec hash {}",
                    crate::bounds::printable(&spec_hash, 80)
                ))),
                Some(job) if !matches!(job.state(), State::Accepted | State::Running) => {
                    Err(link(format!("job {shown} is {}", job.state())))
                }
                Some(_) => Err(link(format!(
                    "it does not open a link of job {shown} to {me}"
                ))),
                None => Err(link(format!("no job {shown} on {me}"))),
            }
        };
        let kept = checked.and_then(|()| {
            wire::send_msg(&mut ch, &RunReply::Ready).map_err(|e| JobError::Peer {
                peer: peer.clone(),
                reason: e.to_string(),
            })?;
            self.links.deposit(&key, ch)
        });
        if let Err(reason) = kept {
            tracing::warn!("link from {peer}: {reason}");
        }
    }

    /// Opens this node's links of job `key`. At the proposer
    /// `from_proposer` is `None` and it dials every other party; elsewhere
    /// it is the link the proposer opened, and this node dials the parties
    /// listed after it and waits for those listed before it.
    pub(super) fn open_mesh(
        &self,
        key: &JobKey,
        spec: &JobSpec,
        from_proposer: Option<QuicChannel>,
    ) -> Result<Mesh, JobError> {
        let me = self.config.name.as_str();
        let names: Vec<String> = spec.parties.iter().map(|p| p.name.clone()).collect();
        let mine = names
            .iter()
            .position(|n| n == me)
            .ok_or_else(|| JobError::Job(format!("{me} is not a party of job {key}")))?;
        let mut links: Vec<Option<QuicChannel>> = names.iter().map(|_| None).collect();
        let opened = self.open_links(key, spec, from_proposer, &names, mine, &mut links);
        if let Err(reason) = &opened {
            // The parties already linked learn at once that the job stops
            // (which party did not link is no secret of this node).
            for link in links.iter().flatten() {
                link.stopper()
                    .stop(&format!("job {} failed at {me}: {reason}", key.id));
            }
        }
        opened?;
        for link in links.iter().flatten() {
            self.watch(key, link);
        }
        let stoppers = links
            .iter()
            .zip(&names)
            .filter_map(|(l, name)| Some((name.clone(), l.as_ref()?.stopper())))
            .collect();
        let links = links
            .into_iter()
            .map(|l| l.map(|c| Box::new(c) as Box<dyn Channel>))
            .collect();
        Ok(Mesh {
            parties: PartySet::new(mine, names, links),
            stoppers,
        })
    }

    /// Fills `links`: the proposer's, then those this node dials, then
    /// those it waits for.
    fn open_links(
        &self,
        key: &JobKey,
        spec: &JobSpec,
        from_proposer: Option<QuicChannel>,
        names: &[String],
        mine: usize,
        links: &mut [Option<QuicChannel>],
    ) -> Result<(), JobError> {
        let me = self.config.name.as_str();
        let proposer = key.proposer.as_str();
        let hash = spec.hash().to_string();
        if let Some(ch) = from_proposer {
            let at = names.iter().position(|n| n == proposer).ok_or_else(|| {
                JobError::Job(format!("the proposer {proposer} is not a party of the job"))
            })?;
            links[at] = Some(ch);
        }
        for (i, name) in names.iter().enumerate() {
            if i == mine || links[i].is_some() {
                continue;
            }
            if me == proposer {
                let hello = Hello::Run {
                    job_id: spec.id.clone(),
                    spec_hash: hash.clone(),
                };
                links[i] = Some(self.start_link(name, &hello)?);
            } else if dials(spec, proposer, me, name) {
                let hello = Hello::Link {
                    proposer: proposer.to_string(),
                    job_id: spec.id.clone(),
                    spec_hash: hash.clone(),
                };
                links[i] = Some(self.start_link(name, &hello)?);
            }
        }
        let deadline = Instant::now() + MESH_TIMEOUT;
        for (i, name) in names.iter().enumerate() {
            if i != mine && links[i].is_none() {
                let ch = self
                    .links
                    .take(key, name, deadline)
                    .ok_or_else(|| JobError::Peer {
                        peer: name.clone(),
                        reason: format!(
                            "it did not open its link of job {} within {} s",
                            key.id,
                            MESH_TIMEOUT.as_secs()
                        ),
                    })?;
                links[i] = Some(ch);
            }
        }
        Ok(())
    }
}

/// Whether `from` dials `to` with [`Hello::Link`]: neither is the proposer
/// and `from` is listed first.
fn dials(spec: &JobSpec, proposer: &str, from: &str, to: &str) -> bool {
    let at = |name: &str| spec.parties.iter().position(|p| p.name == name);
    from != proposer && to != proposer && matches!((at(from), at(to)), (Some(a), Some(b)) if a < b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobspec::{Party, Protocol};

    #[test]
    fn every_two_parties_have_exactly_one_link() {
        let names = ["a", "b", "c", "d"];
        let spec = JobSpec {
            id: "j".into(),
            protocol: Protocol::Aggregate,
            purpose: String::new(),
            parties: names
                .iter()
                .map(|n| Party {
                    name: n.to_string(),
                    dataset: "d".into(),
                    columns: vec!["x".into()],
                })
                .collect(),
            parameters: Default::default(),
            outputs: Vec::new(),
        };
        for proposer in names {
            for (i, x) in names.iter().enumerate() {
                for y in &names[i + 1..] {
                    // The proposer opens its links with `Hello::Run`; of
                    // two other parties exactly one dials the other.
                    let links = [dials(&spec, proposer, x, y), dials(&spec, proposer, y, x)];
                    let expected = usize::from(*x != proposer && *y != proposer);
                    assert_eq!(
                        links.iter().filter(|d| **d).count(),
                        expected,
                        "{proposer}: {x}-{y}"
                    );
                }
            }
        }
        assert!(dials(&spec, "a", "b", "c") && !dials(&spec, "a", "c", "b"));
        assert!(!dials(&spec, "a", "b", "nobody"));
    }
}
