//! The statistics protocol over a [`PartySet`], in the ring Z_2^128:
//!
//! 1. **agreement** — every data party sends its job, party list and
//!    [`CountDecision`] to every other and stops if any differs (a dealer
//!    takes no part: it never sees the job);
//! 2. **sharing** — local aggregates are shared among the data parties
//!    with seed compression and each adds the shares it holds
//!    ([`crate::sum::share_and_combine`]);
//! 3. **decision**, compared ([`CountDecision::Compared`],
//!    [`super::compare`]): the shared counts of groups and histogram cells
//!    are compared with the minimum, once per receiver without that
//!    receiver's rows, and only the conjunction is opened, to every data
//!    party; no count is opened;
//! 4. **counts and decision**, opened ([`CountDecision::OpenedToDecider`],
//!    or [`CountDecision::NoisyCounts`] with differential privacy):
//!    instead of 3, the group counts are opened to the first receiver (the
//!    decider) only;
//!    it marks the groups in which the other parties' rows reach the
//!    minimum and whose totals cannot overflow, and tells every party; with
//!    several receivers, the candidates' counts are opened to the other
//!    receivers, each tells the decider which pass for it, and the decider
//!    sends the conjunction. An abort carries no figure and no group name;
//! 5. **statistics** — only the passing groups' counts (compared) and
//!    segments are opened to the receivers.
//!
//! With differential privacy ([`super::noisy`]) each party clips its values
//! before step 2 and adds its noise share to its combined share right after
//! it, so that every count and statistic opened or compared from then on is
//! noisy; a group (or cell) then passes when its noisy total reaches the
//! minimum — no receiver's own rows are subtracted, since the receivers'
//! exact counts would otherwise steer the decision everyone learns.

use super::compare;
use super::job::{LocalData, StatsJob};
use super::noise::{NoiseScale, NoiseShare};
use super::tabulate::tabulate_clipped;
use super::{StatsResult, decode_result};
use crate::AggregateError;
use crate::dp::DpSpec;
use crate::sum::{open_among, open_to_receivers, share_and_combine_among};
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

/// The deciding receiver's messages after it has the counts. They carry
/// no count and no group name: a party that may not learn a figure does
/// not get it through an abort either.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Decision {
    /// The groups marked `true` may be released (candidates, before the
    /// other receivers' checks; final, after them).
    Open(Vec<bool>),
    /// Stop: nothing more is opened. The reason stays at the decider.
    Abort,
}

/// How a statistics job decides which groups (and histogram cells) are
/// suppressed. Every data party must pass the same value (it is part of
/// the job agreement).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CountDecision {
    /// By a secure comparison of each shared count with the minimum
    /// ([`super::compare`]): no party learns a suppressed group's or cell's
    /// count. `dealer` is the set index of a party that holds no data and
    /// deals correlated randomness ([`super::compare::serve_dealer`]); every
    /// other party of the set holds data.
    Compared {
        /// The dealer's index in the party set.
        dealer: usize,
    },
    /// By the same secure comparison between exactly two data parties and
    /// no dealer: they generate the comparison's correlated randomness
    /// themselves (`indomain_mpc::TwoParty`, correlated OT), so no third
    /// organisation is trusted. No party learns a suppressed count.
    ComparedTwoParty,
    /// By opening every group's count to the first receiver, which then
    /// learns the counts of suppressed groups too, and every receiver
    /// learns the count of every histogram cell of a released group
    /// (cells below the minimum are only left out of the result). Use it
    /// only where the first receiver may see those counts.
    OpenedToDecider,
    /// With differential privacy only ([`super::run_statistics_dp`]): the
    /// noisy counts are opened to the first receiver, which releases the
    /// groups whose noisy count reaches the minimum, as
    /// [`CountDecision::OpenedToDecider`] does with exact counts. The
    /// counts it sees and the decision everyone learns are covered by the
    /// release's DP guarantee; no dealer is needed.
    NoisyCounts,
}

impl CountDecision {
    /// The parties of a set of `n` that hold data (all but a dealer).
    pub fn data_parties(self, n: usize) -> usize {
        match self {
            CountDecision::Compared { .. } => n.saturating_sub(1),
            _ => n,
        }
    }
}

/// Runs a statistics job as party `parties.me()` with
/// [`CountDecision::OpenedToDecider`]: **the first receiver learns every
/// group's count, suppressed groups included**. This is the entry point
/// from before the compared decision, kept with its behaviour; use
/// [`run_statistics_with`] and a dealer so that no party learns a
/// suppressed count.
///
/// Returns the result at the receivers and `None` at every other party;
/// `progress` is called as each phase starts.
pub fn run_statistics<R: Rng + CryptoRng + ?Sized>(
    parties: &mut PartySet,
    job: &StatsJob,
    data: &LocalData,
    rng: &mut R,
    progress: &mut dyn FnMut(Phase),
) -> Result<Option<StatsResult>, AggregateError> {
    run_statistics_with(
        parties,
        job,
        data,
        CountDecision::OpenedToDecider,
        rng,
        progress,
    )
}

/// Runs a statistics job as data party `parties.me()`, deciding
/// suppression as `decision` says. With [`CountDecision::Compared`] the
/// dealer runs [`super::compare::serve_dealer`] meanwhile, and each party
/// must hold fewer than [`super::compare::MAX_ROWS_PER_PARTY`] rows.
///
/// Returns the result at the receivers and `None` at every other party;
/// `progress` is called as each phase starts.
pub fn run_statistics_with<R: Rng + CryptoRng + ?Sized>(
    parties: &mut PartySet,
    job: &StatsJob,
    data: &LocalData,
    decision: CountDecision,
    rng: &mut R,
    progress: &mut dyn FnMut(Phase),
) -> Result<Option<StatsResult>, AggregateError> {
    run_job(parties, job, data, decision, None, rng, progress)
}

/// The protocol, with this party's noise share when the job has DP.
pub(super) fn run_job<R: Rng + CryptoRng + ?Sized>(
    parties: &mut PartySet,
    job: &StatsJob,
    data: &LocalData,
    decision: CountDecision,
    noise: Option<&NoiseShare>,
    rng: &mut R,
    progress: &mut dyn FnMut(Phase),
) -> Result<Option<StatsResult>, AggregateError> {
    job.validate(parties.len())?;
    let among = data_parties(parties, job, decision, data)?;
    super::noisy::check_noise(decision, noise, among.len())?;
    let spec = noise.map(|n| *n.calibration().spec());
    let local = tabulate_clipped(job, data, spec.and_then(|s| s.clip))?;

    progress(Phase::Agreement);
    agree_on_job(parties, &among, job, decision, spec)?;

    progress(Phase::Sharing);
    let mut combined = share_and_combine_among(parties, &among, &local, rng)?;
    if let Some(noise) = noise {
        noise.add_to(&mut combined)?;
    }
    let groups = job.groups();
    let (count_share, stat_share) = combined.split_at(groups);
    let scale = noise.map(|n| n.calibration().noise_scale(&job.statistic));
    // With DP the decision looks at the noisy totals alone: no receiver's
    // own rows are subtracted (see the module documentation).
    let none_own = vec![0u128; if noise.is_some() { local.len() } else { 0 }];
    let own: &[u128] = if noise.is_some() { &none_own } else { &local };

    if let Some(dealer) = decision.compared() {
        progress(Phase::Decision);
        let verdicts = match noise {
            // One comparison per unit suffices: it is the same for every
            // receiver.
            Some(_) => {
                let once = StatsJob {
                    receivers: job.receivers[..1].to_vec(),
                    ..job.clone()
                };
                compare::decide(parties, &once, dealer, own, &combined)?
            }
            None => compare::decide(parties, job, dealer, own, &combined)?,
        };
        progress(Phase::Statistics);
        return open_released(
            parties,
            &among,
            job,
            &verdicts,
            (count_share, stat_share),
            scale,
        );
    }

    progress(Phase::Counts);
    let decider = job.receivers[0];
    let counts = match open_to_receivers(parties, count_share, &[decider], Phase::Counts.name()) {
        // A noisy count below zero is an empty group to the decision.
        Ok(counts) if noise.is_some() => counts.map(|c| {
            c.into_iter()
                .map(|v| if (v as i128) < 0 { 0 } else { v })
                .collect::<Vec<_>>()
        }),
        Ok(counts) => counts,
        Err(e) => {
            // The others wait for our decision: tell them there is none.
            if parties.me() == decider {
                broadcast(parties, &Decision::Abort);
            }
            return Err(e);
        }
    };

    progress(Phase::Decision);
    let (pass, counts) = decide(parties, job, counts.as_deref(), &own[..groups], count_share)?;

    progress(Phase::Statistics);
    let width = job.group_width();
    let opened_share: Vec<u128> = stat_share
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
        (Some(counts), Some(stats)) => {
            decode_result(job, &counts, &pass, &stats, None, scale).map(Some)
        }
        _ => Ok(None),
    }
}

/// The data parties of the set (everyone but a dealer), after checking
/// what `decision` needs.
fn data_parties(
    parties: &PartySet,
    job: &StatsJob,
    decision: CountDecision,
    data: &LocalData,
) -> Result<Vec<usize>, AggregateError> {
    let n = parties.len();
    let bad = |m: String| Err(AggregateError::BadParameters(m));
    let dealer = match decision {
        CountDecision::OpenedToDecider | CountDecision::NoisyCounts => return Ok((0..n).collect()),
        CountDecision::ComparedTwoParty => {
            if n != 2 {
                return bad(format!(
                    "a job compared without a dealer takes exactly two data parties, not {n}"
                ));
            }
            return compare::check_sizes(job, data).map(|()| vec![0, 1]);
        }
        CountDecision::Compared { dealer } => dealer,
    };
    if dealer >= n {
        return bad(format!("the dealer {dealer} is not one of the {n} parties"));
    }
    if dealer == parties.me() {
        return bad("the dealer holds no data: it runs serve_dealer".into());
    }
    if job.receivers.contains(&dealer) {
        return bad("the dealer holds no data and cannot receive the result".into());
    }
    if n < 3 {
        return bad("a job decided by comparison needs two data parties and a dealer".into());
    }
    compare::check_sizes(job, data)?;
    Ok((0..n).filter(|&i| i != dealer).collect())
}

/// Opens the released groups' counts and statistics (suppressed cells
/// zeroed by every party, so they open to 0) to the receivers, and decodes
/// them there.
fn open_released(
    parties: &mut PartySet,
    among: &[usize],
    job: &StatsJob,
    verdicts: &compare::Verdicts,
    (count_share, stat_share): (&[u128], &[u128]),
    scale: Option<NoiseScale>,
) -> Result<Option<StatsResult>, AggregateError> {
    let width = job.group_width();
    let pass = &verdicts.pass;
    let mut opened_share = select(count_share, pass);
    for (g, segment) in stat_share.chunks_exact(width.max(1)).enumerate() {
        if !pass[g] {
            continue;
        }
        let cells = verdicts.cells.get(g * width..(g + 1) * width);
        opened_share.extend(segment.iter().enumerate().map(|(i, &v)| {
            match cells.and_then(|c| c.get(i)) {
                Some(false) => 0,
                _ => v,
            }
        }));
    }
    let phase = Phase::Statistics.name();
    let Some(opened) = open_among(parties, among, &opened_share, &job.receivers, phase)? else {
        return Ok(None);
    };
    let released = pass.iter().filter(|p| **p).count();
    let (opened_counts, stats) = opened.split_at(released);
    let mut counts = vec![0u64; job.groups()];
    let chosen = (0..job.groups()).filter(|&g| pass[g]);
    for (g, &count) in chosen.zip(opened_counts) {
        counts[g] = u64::try_from(count)
            .map_err(|_| AggregateError::BadInput("an opened count does not fit 64 bits".into()))?;
    }
    let cells = (!verdicts.cells.is_empty()).then_some(verdicts.cells.as_slice());
    decode_result(job, &counts, pass, stats, cells, scale).map(Some)
}

/// Sends `decision` to every other party that is still reachable.
fn broadcast(parties: &mut PartySet, decision: &Decision) {
    for j in parties.others().collect::<Vec<_>>() {
        if let Ok(ch) = parties.channel(j) {
            // Best effort: a party that is gone needs no reason.
            let _ = send_msg(ch, decision);
        }
    }
}

/// Sends our job, party list, decision and DP spec to every other party
/// and compares theirs with ours (receivers are party indices: the order
/// must agree too).
fn agree_on_job(
    parties: &mut PartySet,
    among: &[usize],
    job: &StatsJob,
    decision: CountDecision,
    dp: Option<DpSpec>,
) -> Result<(), AggregateError> {
    let phase = Phase::Agreement.name();
    let me = parties.me();
    let others: Vec<usize> = among.iter().copied().filter(|&j| j != me).collect();
    let ours = (job.clone(), parties.names().to_vec(), decision, dp);
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
        let theirs: (StatsJob, Vec<String>, CountDecision, Option<DpSpec>) =
            recv_msg(ch).map_err(AggregateError::net(phase))?;
        if theirs != ours {
            return Err(AggregateError::JobMismatch {
                peer: ch.peer().to_string(),
            });
        }
    }
    send_error.map_or(Ok(()), |e| Err(AggregateError::net(phase)(e)))
}

/// Which groups pass, and the counts this party may know (every group's
/// at the decider, the candidates' at the other receivers, `None` at
/// non-receivers).
type Outcome = (Vec<bool>, Option<Vec<u64>>);

/// The groups that pass. A group passes if, for every receiver, the rows
/// of the other parties number at least the minimum group size, so that no
/// receiver can single out another party's rows by supplying rows of its
/// own:
///
/// 1. the decider (first receiver) marks the candidates — groups that pass
///    for it and cannot overflow — and tells everyone (or aborts, telling
///    the others nothing but that it did);
/// 2. with several receivers, the candidates' counts are opened to the
///    other receivers, and each sends the decider which candidates pass for
///    it; the decider sends everyone the conjunction.
fn decide(
    parties: &mut PartySet,
    job: &StatsJob,
    counts: Option<&[u128]>,
    own_counts: &[u128],
    count_share: &[u128],
) -> Result<Outcome, AggregateError> {
    let phase = Phase::Decision.name();
    let decider = job.receivers[0];
    let me = parties.me();
    if me == decider {
        let outcome = match counts {
            Some(c) => decision_from_counts(job, c, own_counts, parties.len()),
            None => Err(AggregateError::BadParameters(
                "the deciding receiver did not open the counts".into(),
            )),
        };
        let (mut pass, counts) = match outcome {
            Ok(decided) => decided,
            Err(e) => {
                broadcast(parties, &Decision::Abort);
                return Err(e);
            }
        };
        broadcast_strict(parties, &Decision::Open(pass.clone()), phase)?;
        if job.receivers.len() > 1 {
            let candidates = select(count_share, &pass);
            open_to_receivers(parties, &candidates, &job.receivers[1..], phase)?;
            for &r in &job.receivers[1..] {
                let ch = parties.channel(r).map_err(AggregateError::net(phase))?;
                let theirs: Vec<bool> = recv_msg(ch).map_err(AggregateError::net(phase))?;
                if theirs.len() != candidates.len() {
                    return Err(protocol(
                        ch.peer(),
                        phase,
                        "checked a different number of groups",
                    ));
                }
                let mut verdicts = theirs.into_iter();
                for p in pass.iter_mut().filter(|p| **p) {
                    *p &= verdicts.next().unwrap_or(false);
                }
            }
            broadcast_strict(parties, &Decision::Open(pass.clone()), phase)?;
        }
        return Ok((pass, Some(counts)));
    }
    let candidates = receive_decision(parties, job, decider)?;
    if job.receivers.len() == 1 {
        return Ok((candidates, None));
    }
    let shares = select(count_share, &candidates);
    let opened = open_to_receivers(parties, &shares, &job.receivers[1..], phase)?;
    let mut known = None;
    if let Some(opened) = opened {
        let mut counts = vec![0u64; job.groups()];
        let mut verdicts = Vec::with_capacity(opened.len());
        let chosen = (0..job.groups()).filter(|&g| candidates[g]);
        for (g, total) in chosen.zip(opened) {
            let total = u64::try_from(total).unwrap_or(u64::MAX);
            let own = u64::try_from(own_counts[g]).unwrap_or(u64::MAX);
            counts[g] = total;
            verdicts.push(total.saturating_sub(own) >= job.min_group_size);
        }
        let ch = parties
            .channel(decider)
            .map_err(AggregateError::net(phase))?;
        send_msg(ch, &verdicts).map_err(AggregateError::net(phase))?;
        known = Some(counts);
    }
    let pass = receive_decision(parties, job, decider)?;
    if pass.iter().zip(&candidates).any(|(p, c)| *p && !c) {
        let peer = parties
            .channel(decider)
            .map_err(AggregateError::net(phase))?
            .peer()
            .to_string();
        return Err(protocol(
            &peer,
            phase,
            "released a group that was not a candidate",
        ));
    }
    Ok((pass, known))
}

/// The elements of `share` whose group is marked.
fn select(share: &[u128], marked: &[bool]) -> Vec<u128> {
    share
        .iter()
        .zip(marked)
        .filter(|(_, m)| **m)
        .map(|(v, _)| *v)
        .collect()
}

fn protocol(peer: &str, phase: &'static str, reason: &str) -> AggregateError {
    AggregateError::Protocol {
        peer: peer.to_string(),
        phase,
        reason: reason.to_string(),
    }
}

/// Sends `decision` to every other party, failing on a broken link.
fn broadcast_strict(
    parties: &mut PartySet,
    decision: &Decision,
    phase: &'static str,
) -> Result<(), AggregateError> {
    for j in parties.others().collect::<Vec<_>>() {
        let ch = parties.channel(j).map_err(AggregateError::net(phase))?;
        send_msg(ch, decision).map_err(AggregateError::net(phase))?;
    }
    Ok(())
}

/// Receives the decider's next decision.
fn receive_decision(
    parties: &mut PartySet,
    job: &StatsJob,
    decider: usize,
) -> Result<Vec<bool>, AggregateError> {
    let phase = Phase::Decision.name();
    let ch = parties
        .channel(decider)
        .map_err(AggregateError::net(phase))?;
    let decision: Decision = recv_msg(ch).map_err(AggregateError::net(phase))?;
    let peer = ch.peer().to_string();
    match decision {
        Decision::Abort => Err(AggregateError::Aborted { peer, phase }),
        Decision::Open(pass) if pass.len() != job.groups() => Err(AggregateError::Protocol {
            peer,
            phase,
            reason: format!(
                "decided on {} groups, the job has {}",
                pass.len(),
                job.groups()
            ),
        }),
        Decision::Open(pass) => Ok(pass),
    }
}

/// The decider's candidates (groups where the other parties' rows reach
/// the minimum and whose totals cannot overflow), with every group's count;
/// or the overflow that stops the job.
fn decision_from_counts(
    job: &StatsJob,
    counts: &[u128],
    own_counts: &[u128],
    parties: usize,
) -> Result<(Vec<bool>, Vec<u64>), AggregateError> {
    let scale = 2f64.powi(job.frac_bits as i32);
    // |encoded x| ≤ max_abs·2^f + ½; each party rounds its Σx² once.
    let max_encoded = job.max_abs * scale + 0.5;
    let ring_limit = 2f64.powi(127) * (1.0 - 1e-9);
    let mut pass = Vec::with_capacity(counts.len());
    let mut totals = Vec::with_capacity(counts.len());
    for (g, (&count, &own)) in counts.iter().zip(own_counts).enumerate() {
        // Counts are sums of row counts: a total beyond u64 is a broken peer.
        let count = u64::try_from(count).map_err(|_| {
            AggregateError::BadInput(format!("group {g}: the opened count does not fit 64 bits"))
        })?;
        let own = u64::try_from(own).unwrap_or(u64::MAX);
        let passes = count.saturating_sub(own) >= job.min_group_size;
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
        totals.push(count);
    }
    Ok((pass, totals))
}

#[cfg(test)]
mod tests {
    use super::*;
    use indomain_net::Channel;
    use indomain_net::memory::pair;
    use indomain_net::wire::decode_msg;
    use proptest::prelude::*;

    fn frame(decision: &Decision) -> Vec<u8> {
        let (mut a, mut b) = pair("a", "b");
        send_msg(&mut a, decision).unwrap();
        b.recv().unwrap()
    }

    #[test]
    fn decisions_carry_no_figure_and_truncations_are_errors() {
        // An abort is one byte whatever happened: no count, no group name.
        assert_eq!(frame(&Decision::Abort), vec![1]);
        let open = frame(&Decision::Open(vec![true, false]));
        assert_eq!(open, vec![0, 2, 1, 0]);
        for cut in 0..open.len() {
            assert!(decode_msg::<Decision>("p", &open[..cut]).is_err());
        }
    }

    proptest! {
        #[test]
        fn random_decisions_decode_or_fail_without_panic(
            bytes in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            if let Ok(Decision::Open(pass)) = decode_msg::<Decision>("p", &bytes) {
                prop_assert!(pass.len() < bytes.len());
            }
        }
    }
}
