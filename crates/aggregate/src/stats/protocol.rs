//! The statistics protocol over a [`PartySet`]:
//!
//! 1. **agreement** — every party sends its job and party list to every
//!    other and stops if any differs;
//! 2. **sharing** — local aggregates are shared with seed compression and
//!    each party adds the shares it holds ([`share_and_combine`]);
//! 3. **counts** — the group counts are opened to the receivers;
//! 4. **decision** — the first receiver decides which groups pass the
//!    minimum size and checks that their totals cannot overflow, then tells
//!    every other party (the other receivers check it against their own);
//! 5. **statistics** — only the passing groups' segments are opened to the
//!    receivers.

use super::job::{LocalData, StatsJob};
use super::tabulate::tabulate;
use super::{StatsResult, decode_result};
use crate::AggregateError;
use crate::sum::{open_to_receivers, share_and_combine};
use indomain_net::PartySet;
use indomain_net::wire::{recv_msg, send_msg};
use rand::{CryptoRng, Rng};
use serde::{Deserialize, Serialize};

/// The phases of a statistics job, as reported to a progress observer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Checking that every party runs the same job.
    Agreement,
    /// Sharing local aggregates and combining shares.
    Sharing,
    /// Opening the group counts to the receivers.
    Counts,
    /// Deciding which groups pass.
    Decision,
    /// Opening the passing groups' statistics.
    Statistics,
}

impl Phase {
    /// The phase's name in messages.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Agreement => "job agreement",
            Phase::Sharing => "sharing",
            Phase::Counts => "opening counts",
            Phase::Decision => "group decision",
            Phase::Statistics => "opening statistics",
        }
    }
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The first receiver's decision after the counts are open.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Decision {
    /// Open the statistics of the groups marked `true`.
    Open(Vec<bool>),
    /// Stop: nothing more is opened.
    Abort(String),
}

/// Runs a statistics job as party `parties.me()`. Returns the result at the
/// receivers and `None` at every other party.
///
/// `progress` is called as each phase starts.
pub fn run_statistics<R: Rng + CryptoRng + ?Sized>(
    parties: &mut PartySet,
    job: &StatsJob,
    data: &LocalData,
    rng: &mut R,
    progress: &mut dyn FnMut(Phase),
) -> Result<Option<StatsResult>, AggregateError> {
    job.validate(parties.len())?;
    let local = tabulate(job, data)?;

    progress(Phase::Agreement);
    agree_on_job(parties, job)?;

    progress(Phase::Sharing);
    let combined = share_and_combine(parties, &local, rng)?;
    let groups = job.groups();
    let (count_share, stat_share) = combined.split_at(groups);

    progress(Phase::Counts);
    let counts = match open_to_receivers(parties, count_share, &job.receivers, Phase::Counts.name())
    {
        Ok(counts) => counts,
        Err(e) => {
            // The others wait for our decision: tell them why there is none.
            if parties.me() == job.receivers[0] {
                broadcast_decision(parties, &Decision::Abort(e.to_string()));
            }
            return Err(e);
        }
    };

    progress(Phase::Decision);
    let pass = decide(parties, job, counts.as_deref())?;

    progress(Phase::Statistics);
    let width = job.group_width();
    let opened_share: Vec<u64> = stat_share
        .chunks_exact(width.max(1))
        .zip(&pass)
        .filter(|(_, p)| **p)
        .flat_map(|(segment, _)| segment.iter().copied())
        .collect();
    let stats = open_to_receivers(
        parties,
        &opened_share,
        &job.receivers,
        Phase::Statistics.name(),
    )?;
    match (counts, stats) {
        (Some(counts), Some(stats)) => decode_result(job, &counts, &pass, &stats).map(Some),
        _ => Ok(None),
    }
}

/// Sends `decision` to every other party that is still reachable.
fn broadcast_decision(parties: &mut PartySet, decision: &Decision) {
    for j in parties.others().collect::<Vec<_>>() {
        if let Ok(ch) = parties.channel(j) {
            // Best effort: a party that is gone needs no reason.
            let _ = send_msg(ch, decision);
        }
    }
}

/// Sends our job and party list to every other party and compares theirs
/// with ours (receivers are party indices: the order must agree too).
fn agree_on_job(parties: &mut PartySet, job: &StatsJob) -> Result<(), AggregateError> {
    let phase = Phase::Agreement.name();
    let others: Vec<usize> = parties.others().collect();
    let ours = (job.clone(), parties.names().to_vec());
    // A peer that already left over a mismatch makes our send fail, but its
    // job is still waiting for us: report the mismatch, not the closed link.
    let mut send_error = None;
    for &j in &others {
        let ch = parties.channel(j).map_err(AggregateError::net(phase))?;
        if let Err(e) = send_msg(ch, &ours) {
            send_error.get_or_insert(e);
        }
    }
    for &j in &others {
        let ch = parties.channel(j).map_err(AggregateError::net(phase))?;
        let theirs: (StatsJob, Vec<String>) = recv_msg(ch).map_err(AggregateError::net(phase))?;
        if theirs != ours {
            return Err(AggregateError::JobMismatch {
                peer: ch.peer().to_string(),
            });
        }
    }
    send_error.map_or(Ok(()), |e| Err(AggregateError::net(phase)(e)))
}

/// The groups that pass: decided by the first receiver, sent to all others.
fn decide(
    parties: &mut PartySet,
    job: &StatsJob,
    counts: Option<&[u64]>,
) -> Result<Vec<bool>, AggregateError> {
    let phase = Phase::Decision.name();
    let decider = job.receivers[0];
    let ours = counts.map(|c| decision_from_counts(job, c, parties.len()));
    if parties.me() == decider {
        let outcome = ours.unwrap_or_else(|| {
            Err(AggregateError::BadParameters(
                "the deciding receiver did not open the counts".into(),
            ))
        });
        let decision = match &outcome {
            Ok(pass) => Decision::Open(pass.clone()),
            Err(e) => Decision::Abort(e.to_string()),
        };
        for j in parties.others().collect::<Vec<_>>() {
            let ch = parties.channel(j).map_err(AggregateError::net(phase))?;
            send_msg(ch, &decision).map_err(AggregateError::net(phase))?;
        }
        return outcome;
    }
    let ch = parties
        .channel(decider)
        .map_err(AggregateError::net(phase))?;
    let decision: Decision = recv_msg(ch).map_err(AggregateError::net(phase))?;
    let peer = ch.peer().to_string();
    match decision {
        Decision::Abort(reason) => Err(AggregateError::Aborted {
            peer,
            phase,
            reason,
        }),
        Decision::Open(pass) => {
            if pass.len() != job.groups() {
                return Err(AggregateError::Protocol {
                    peer,
                    phase,
                    reason: format!(
                        "decided on {} groups, the job has {}",
                        pass.len(),
                        job.groups()
                    ),
                });
            }
            if let Some(Ok(mine)) = &ours
                && mine != &pass
            {
                return Err(AggregateError::Protocol {
                    peer,
                    phase,
                    reason: "decided differently from the counts we opened".into(),
                });
            }
            Ok(pass)
        }
    }
}

/// Which groups pass the minimum size, or the overflow that stops the job.
fn decision_from_counts(
    job: &StatsJob,
    counts: &[u64],
    parties: usize,
) -> Result<Vec<bool>, AggregateError> {
    let scale = 2f64.powi(job.frac_bits as i32);
    // |encoded x| ≤ max_abs·2^f + ½; each party rounds its Σx² once.
    let max_encoded = job.max_abs * scale + 0.5;
    let ring_limit = 2f64.powi(63) * (1.0 - 1e-9);
    let mut pass = Vec::with_capacity(counts.len());
    for (g, &count) in counts.iter().enumerate() {
        let passes = count >= job.min_group_size;
        if passes {
            let n = count as f64;
            let overflow = |what| AggregateError::Overflow {
                group: job.group_name(g).to_string(),
                what,
                count,
                max_abs: job.max_abs,
            };
            let sums = matches!(
                job.statistic,
                super::Statistic::Sum | super::Statistic::Mean | super::Statistic::Variance
            );
            if sums && n * max_encoded >= ring_limit {
                return Err(overflow("sum"));
            }
            if job.statistic == super::Statistic::Variance
                && n * max_encoded * max_encoded / scale + parties as f64 >= ring_limit
            {
                return Err(overflow("sum of squares"));
            }
        }
        pass.push(passes);
    }
    Ok(pass)
}
