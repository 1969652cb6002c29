//! The strict mode's arithmetic on shares: merging bins that lack events
//! by secure comparison, and WOE and IV from shared counts with the
//! secure logarithm; only each feature's IV is opened.
//!
//! For an owner bin with shared events e and non-events n (integers) and
//! the label holder's totals E and N over the K bins of its feature:
//!
//! - ln(e + 1/2) = ln(2e + 1) − ln 2 (`indomain_mpc::log` on the odd
//!   integer 2e + 1), the same for n; the ln 2 cancels in the WOE;
//! - WOE = ln(2e + 1) − ln(2n + 1) + ln((N + K/2) / (E + K/2)), the last
//!   term added by the label holder alone (it knows E and N);
//! - p = (e + 1/2)/(E + K/2) as (2e + 1) · A ≫ S with the label holder's
//!   private integer A = round(2^(f+S) / (2E + K)) (S the bit length of
//!   2·rows + 1, public), shared by it; q from n and N alike; one Beaver
//!   product each, exact, then one truncation by S;
//! - IV = Σ (p − q) · WOE per feature: one Beaver product a bin, the
//!   feature's sum truncated, then opened to the label holder and the
//!   feature's owner.
//!
//! Error: the logarithm's (≤ 2 units of 2^−f measured, 12 at most: see
//! `indomain_mpc::log`) twice in a WOE, plus a unit for the label holder's
//! constant; A's rounding is a relative 2^−f; the IV adds a unit per
//! truncation. The tests bound WOE and IV within 10^−3 at f = 16.

use super::layout::Layout;
use super::math::merge_lacking;
use super::protocol::{Owned, Plan, merge_values};
use crate::LearnError;
use indomain_mpc::{Correlations, Session, Shared};
use indomain_net::wire::{recv_msg, send_msg};
use std::ops::Range;

/// Bits S with 2·rows + 1 < 2^S.
pub(super) fn count_bits(rows: usize) -> u32 {
    64 - (2 * rows as u64 + 1).leading_zeros()
}

/// Merges bins with fewer than `min` events or non-events: the flags
/// [e ≥ min ∧ n ≥ min] are computed on shares and each owner learns its
/// own bins' flags only; it merges the first lacking bin of each feature
/// with a neighbour and tells every computing party which bins merged,
/// and the shares are summed alike. Repeats until no owner merges.
pub(super) fn merge_lacking_events<C: Correlations>(
    s: &mut Session<'_, C>,
    computing: &[usize],
    layout: &mut Layout,
    pos: &mut [Shared],
    own: &mut Owned,
    min: u64,
    rows: usize,
) -> Result<(), LearnError> {
    let rank = s.rank();
    let bound = count_bits(rows) + 1;
    loop {
        let neg = super::protocol::non_events(pos, own, rank, layout);
        let mut all = Vec::new();
        for p in pos.iter().skip(1) {
            all.extend_from_slice(&p.0);
        }
        let total = all.len();
        for n in neg.iter().skip(1) {
            all.extend_from_slice(&n.0);
        }
        let below = s.less_than_public(&Shared(all), min, bound)?;
        let mut enough_e = Shared(below.0[..total].to_vec());
        let mut enough_n = Shared(below.0[total..].to_vec());
        // 1 − [x < min], as shares.
        for v in [&mut enough_e, &mut enough_n] {
            v.0.iter_mut().for_each(|x| *x = x.wrapping_neg());
            v.add_public(&vec![1; total], rank)?;
        }
        let ok = s.mul(&enough_e, &enough_n)?;
        let mut at = 0;
        let mut flags = None;
        for (k, &owner) in computing.iter().enumerate().skip(1) {
            let len = layout.rank_bins(k);
            if let Some(v) = s.open_to(&Shared(ok.0[at..at + len].to_vec()), owner)? {
                flags = Some(v);
            }
            at += len;
        }
        // Each owner plans its merges and tells every computing party.
        let mut plans: Vec<Vec<Plan>> = vec![Vec::new(); computing.len()];
        if let Some(flags) = flags {
            let mut mine = Vec::with_capacity(own.bins.len());
            let mut at = 0;
            for f in 0..own.bins.len() {
                let bins = own.bins[f].bins();
                let vb = own.bins[f].value_bins();
                let ok: Vec<bool> = flags[at..at + vb].iter().map(|&b| b == 1).collect();
                let rows = own.rows(f);
                let plan = merge_lacking(&ok, &rows[..vb]);
                if let Some(blocks) = &plan {
                    own.merge(f, blocks)?;
                }
                mine.push(plan.map(|b| b.iter().map(|r| (r.start as u32, r.end as u32)).collect()));
                at += bins;
            }
            let me = s.parties().me();
            for &peer in computing.iter().filter(|&&p| p != me) {
                send_msg(s.parties_mut().channel(peer)?, &mine)?;
            }
            plans[rank] = mine;
        }
        for (k, &owner) in computing.iter().enumerate().skip(1) {
            if k != rank {
                plans[k] = recv_msg(s.parties_mut().channel(owner)?)?;
            }
        }
        let mut merged = false;
        for k in 1..computing.len() {
            let peer = s.parties().name(computing[k]).to_string();
            let missing = own_missing(k, rank, own, layout);
            merged |= apply(&mut pos[k], &mut layout.sizes[k], &plans[k], missing, &peer)?;
        }
        if !merged {
            return Ok(());
        }
    }
}

/// Whether each feature of rank k has a missing-value bin: known to its
/// owner; the others read it from the plan's coverage (a plan covers the
/// value bins, and a feature has at most one bin after them).
fn own_missing(k: usize, rank: usize, own: &Owned, layout: &Layout) -> Vec<Option<bool>> {
    if k == rank {
        own.bins.iter().map(|b| Some(b.missing)).collect()
    } else {
        vec![None; layout.sizes[k].len()]
    }
}

/// Applies one owner's plans to its shares and sizes.
fn apply(
    shares: &mut Shared,
    sizes: &mut [usize],
    plans: &[Plan],
    missing: Vec<Option<bool>>,
    peer: &str,
) -> Result<bool, LearnError> {
    let bad = |reason: String| LearnError::Protocol {
        peer: peer.to_string(),
        phase: "merging bins lacking events",
        reason,
    };
    if plans.len() != sizes.len() {
        return Err(bad(format!(
            "{} plans for {} features",
            plans.len(),
            sizes.len()
        )));
    }
    let mut out = Vec::with_capacity(shares.len());
    let mut at = 0;
    let mut merged = false;
    for ((size, plan), missing) in sizes.iter_mut().zip(plans).zip(missing) {
        let values = &shares.0[at..at + *size];
        at += *size;
        let Some(plan) = plan else {
            out.extend_from_slice(values);
            continue;
        };
        let blocks: Vec<Range<usize>> = plan.iter().map(|&(a, b)| a as usize..b as usize).collect();
        let vb = blocks.last().map_or(0, |b| b.end);
        let ok = blocks.first().map(|b| b.start) == Some(0)
            && blocks.iter().all(|b| b.start < b.end)
            && blocks.windows(2).all(|w| w[0].end == w[1].start)
            && (vb == *size || vb + 1 == *size)
            && missing.is_none_or(|m| vb + m as usize == *size);
        if !ok {
            return Err(bad(
                "a merge plan that does not cover the bins in order".into()
            ));
        }
        let merged_values = merge_values(values, vb, &blocks, u64::wrapping_add);
        *size = merged_values.len();
        out.extend(merged_values);
        merged = true;
    }
    *shares = Shared(out);
    Ok(merged)
}

/// IVs opened: at the label holder every owner feature's, at an owner its
/// own features'.
#[derive(Debug, Default)]
pub(super) struct Ivs {
    pub(super) all: Option<Vec<f64>>,
    pub(super) own: Option<Vec<f64>>,
}

/// Shares of every owner bin's WOE and the opened IVs (see the module
/// documentation). `totals` is the label holder's (events, non-events).
pub(super) fn woe_iv<C: Correlations>(
    s: &mut Session<'_, C>,
    computing: &[usize],
    layout: &Layout,
    pos: &[Shared],
    neg: &[Shared],
    totals: Option<(u64, u64)>,
    rows: usize,
) -> Result<(Shared, Ivs), LearnError> {
    let fp = s.fixed_point();
    let f = fp.frac_bits();
    let rank = s.rank();
    let label = computing[0];
    let bits = count_bits(rows);
    // Owner bins only: ranks 1.. in order.
    let sizes: Vec<usize> = layout.sizes[1..].iter().flatten().copied().collect();
    let feature_of_bin: Vec<usize> = sizes
        .iter()
        .enumerate()
        .flat_map(|(j, &k)| std::iter::repeat_n(j, k))
        .collect();
    let bins = feature_of_bin.len();
    let odd = |v: &[Shared]| -> Result<Shared, LearnError> {
        let mut z = Shared(v[1..].iter().flat_map(|s| s.0.iter().copied()).collect());
        z.scale(2);
        z.add_public(&vec![super::protocol::DOUBLED_SMOOTHING; z.len()], rank)?;
        Ok(z)
    };
    let (z_pos, z_neg) = (odd(pos)?, odd(neg)?);
    let mut both = z_pos.clone();
    both.0.extend_from_slice(&z_neg.0);
    let logs = s.ln_int(&both, bits)?;
    let mut woe = Shared(logs.0[..bins].to_vec());
    woe.sub_assign(&Shared(logs.0[bins..].to_vec()))?;
    // The label holder's private constants, per bin.
    let private = totals.map(|(e, n)| {
        let per_bin = |g: &dyn Fn(usize) -> f64| -> Vec<f64> {
            feature_of_bin.iter().map(|&j| g(sizes[j])).collect()
        };
        let c = per_bin(&|k| ((n as f64 + k as f64 * 0.5) / (e as f64 + k as f64 * 0.5)).ln());
        let scale = (1u64 << (f + bits)) as f64;
        let a = per_bin(&|k| (scale / (2 * e + k as u64) as f64).round());
        let b = per_bin(&|k| (scale / (2 * n + k as u64) as f64).round());
        (c, a, b)
    });
    if let Some((c, _, _)) = &private {
        // Only the label holder adds: its share plus the constant.
        let c = fp.encode_slice(c)?;
        for (w, c) in woe.0.iter_mut().zip(c) {
            *w = w.wrapping_add(c);
        }
    }
    let ints = private
        .as_ref()
        .map(|(_, a, b)| a.iter().chain(b).map(|&v| v as u64).collect::<Vec<u64>>());
    let ab = s.share_input(label, ints.as_deref(), 2 * bins, &mut rand::rng())?;
    let ratios = s.mul(&both, &ab)?;
    let ratios = s.truncate(ratios, bits)?;
    let mut diff = Shared(ratios.0[..bins].to_vec());
    diff.sub_assign(&Shared(ratios.0[bins..].to_vec()))?;
    let terms = s.mul(&diff, &woe)?;
    let mut iv = vec![0u64; sizes.len()];
    for (&j, &t) in feature_of_bin.iter().zip(&terms.0) {
        iv[j] = iv[j].wrapping_add(t);
    }
    let iv = s.truncate(Shared(iv), f)?;
    let mut out = Ivs::default();
    let mut at = 0;
    for (k, &owner) in computing.iter().enumerate().skip(1) {
        let len = layout.sizes[k].len();
        let part = Shared(iv.0[at..at + len].to_vec());
        at += len;
        if let Some(v) = s.open_to(&part, owner)? {
            out.own = Some(fp.decode_slice(&v));
        }
    }
    if let Some(v) = s.open_to(&iv, label)? {
        out.all = Some(fp.decode_slice(&v));
    }
    Ok((woe, out))
}
