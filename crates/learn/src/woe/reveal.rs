//! The default and owner-transform modes after the kernel: every owner's
//! events and non-events per bin are opened to the label holder, which
//! merges bins lacking events (sending each owner one flag per bin and
//! applying the owner's merge plans), merges monotonically if asked
//! (sending the plans), computes WOE and IV in the clear and sends each
//! owner its features' IVs — and, in the owner-transform mode, its bins'
//! WOE. See [`super::protocol`] for what each party learns.

use super::Mode;
use super::layout::Layout;
use super::math::{merge_lacking, woe_iv};
use super::protocol::{
    Announced, ForeignFeature, OpenedCounts, OwnFeature, Owned, Plan, Settings, merge_values,
    monotone, to_plan, to_ranges,
};
use crate::LearnError;
use crate::binning::{BinKind, Binned};
use indomain_mpc::{Session, Shared};
use indomain_net::wire::{recv_msg, send_msg};
use serde::{Deserialize, Serialize};

/// Opens every owner's events and non-events to the label holder.
pub(super) fn open_counts<C: indomain_mpc::Correlations>(
    s: &mut Session<'_, C>,
    computing: &[usize],
    pos: &[Shared],
    neg: &[Shared],
) -> Result<OpenedCounts, LearnError> {
    let label = computing[0];
    let mut out = Vec::new();
    for k in 1..computing.len() {
        let mut both = pos[k].clone();
        both.0.extend_from_slice(&neg[k].0);
        if let Some(v) = s.open_to(&both, label)? {
            let (e, n) = v.split_at(pos[k].len());
            out.push((e.to_vec(), n.to_vec()));
        }
    }
    Ok((s.parties().me() == label).then_some(out))
}

/// What the label holder sends an owner after it has the counts.
#[derive(Debug, Clone, Serialize, Deserialize)]
enum ToOwner {
    /// Whether each value bin of each feature has enough events.
    Flags(Vec<Vec<bool>>),
    /// Monotone merge plans per feature.
    Monotone(Vec<Plan>),
    /// Each feature's IV, and in the owner-transform mode its bins' WOE.
    Result {
        ivs: Vec<f64>,
        woe: Option<Vec<Vec<f64>>>,
    },
}

/// Default and owner-transform modes at the label holder: for each owner
/// in turn, the minimum of events, monotone merging and WOE/IV, talking to
/// that owner.
pub(super) fn label_view<C: indomain_mpc::Correlations>(
    s: &mut Session<'_, C>,
    computing: &[usize],
    layout: &Layout,
    counts: OpenedCounts,
    announced: &[(String, Announced)],
    settings: &Settings,
) -> Result<Vec<ForeignFeature>, LearnError> {
    let counts = counts.unwrap_or_default();
    let mut out = Vec::new();
    let mut first = 0;
    for (k, (events, non_events)) in counts.into_iter().enumerate() {
        let owner = computing[k + 1];
        let peer = s.parties().name(owner).to_string();
        let sizes = &layout.sizes[k + 1];
        let mine = &announced[first..first + sizes.len()];
        first += sizes.len();
        // The owner's flat counts, per feature.
        let mut features: Vec<(Vec<u64>, Vec<u64>, usize)> = Vec::new();
        let mut at = 0;
        for (f, &bins) in sizes.iter().enumerate() {
            let missing = mine[f].1.missing as usize;
            features.push((
                events[at..at + bins].to_vec(),
                non_events[at..at + bins].to_vec(),
                bins - missing,
            ));
            at += bins;
        }
        if settings.min_events > 0 {
            loop {
                let flags: Vec<Vec<bool>> = features
                    .iter()
                    .map(|(e, n, vb)| {
                        (0..*vb)
                            .map(|b| e[b] >= settings.min_events && n[b] >= settings.min_events)
                            .collect()
                    })
                    .collect();
                let done = flags.iter().all(|f| f.iter().all(|&b| b));
                send_msg(ch_of(s, owner)?, &ToOwner::Flags(flags))?;
                let plans: Vec<Plan> = recv_msg(ch_of(s, owner)?)?;
                let any = apply_plans(&mut features, &plans, &peer)?;
                if done || !any {
                    break;
                }
            }
        }
        if settings.monotone {
            let plans: Vec<Plan> = features
                .iter()
                .zip(mine)
                .map(|((e, n, vb), (_, a))| {
                    if !a.numeric || *vb < 2 {
                        return None;
                    }
                    let (blocks, _) = monotone(&e[..*vb], &n[..*vb]);
                    (blocks.len() < *vb).then(|| to_plan(&blocks))
                })
                .collect();
            send_msg(ch_of(s, owner)?, &ToOwner::Monotone(plans.clone()))?;
            apply_plans(&mut features, &plans, &peer)?;
        }
        let results: Vec<_> = features.iter().map(|(e, n, _)| woe_iv(e, n)).collect();
        let ivs: Vec<f64> = results.iter().map(|r| r.iv).collect();
        let woe = (settings.mode == Mode::OwnerTransform)
            .then(|| results.iter().map(|r| r.woe.clone()).collect());
        send_msg(ch_of(s, owner)?, &ToOwner::Result { ivs, woe })?;
        for (((e, n, _), r), (party, a)) in features.into_iter().zip(results).zip(mine) {
            out.push(ForeignFeature {
                party: party.clone(),
                name: a.name.clone(),
                numeric: a.numeric,
                missing: a.missing,
                bins: e.len(),
                events: Some(e),
                non_events: Some(n),
                woe: Some(r.woe),
                iv: r.iv,
            });
        }
    }
    Ok(out)
}

fn ch_of<'s, C: indomain_mpc::Correlations>(
    s: &'s mut Session<'_, C>,
    peer: usize,
) -> Result<&'s mut (dyn indomain_net::Channel + 'static), LearnError> {
    Ok(s.parties_mut().channel(peer)?)
}

/// Applies an owner's merge plans to the label holder's counts; returns
/// whether any feature merged. A plan that does not cover the bins is an
/// error naming the owner.
fn apply_plans(
    features: &mut [(Vec<u64>, Vec<u64>, usize)],
    plans: &[Plan],
    peer: &str,
) -> Result<bool, LearnError> {
    if plans.len() != features.len() {
        return Err(LearnError::Protocol {
            peer: peer.to_string(),
            phase: "merging bins",
            reason: format!("{} plans for {} features", plans.len(), features.len()),
        });
    }
    let mut any = false;
    for ((e, n, vb), plan) in features.iter_mut().zip(plans) {
        let Some(plan) = plan else { continue };
        let blocks = to_ranges(plan);
        let covers = blocks.first().map(|b| b.start) == Some(0)
            && blocks.last().map(|b| b.end) == Some(*vb)
            && blocks.iter().all(|b| b.start < b.end)
            && blocks.windows(2).all(|w| w[0].end == w[1].start);
        if !covers {
            return Err(LearnError::Protocol {
                peer: peer.to_string(),
                phase: "merging bins",
                reason: "a merge plan that does not cover the bins in order".into(),
            });
        }
        *e = merge_values(e, *vb, &blocks, |a, b| a + b);
        *n = merge_values(n, *vb, &blocks, |a, b| a + b);
        *vb = blocks.len();
        any = true;
    }
    Ok(any)
}

/// Default and owner-transform modes at an owner: answers the label
/// holder's flags with merge plans, applies its monotone plans, and keeps
/// the IVs (and WOE) it is sent.
pub(super) fn owner_view<C: indomain_mpc::Correlations>(
    s: &mut Session<'_, C>,
    computing: &[usize],
    own: &mut Owned,
    settings: &Settings,
) -> Result<Vec<OwnFeature>, LearnError> {
    let label = computing[0];
    let peer = s.parties().name(label).to_string();
    let bad = |reason: String| LearnError::Protocol {
        peer: peer.clone(),
        phase: "binning results",
        reason,
    };
    loop {
        let msg: ToOwner = recv_msg(ch_of(s, label)?)?;
        match msg {
            ToOwner::Flags(flags) => {
                if flags.len() != own.bins.len() {
                    return Err(bad(format!(
                        "{} flag lists for {} features",
                        flags.len(),
                        own.bins.len()
                    )));
                }
                let mut plans: Vec<Plan> = Vec::with_capacity(flags.len());
                for (f, ok) in flags.iter().enumerate() {
                    let vb = own.bins[f].value_bins();
                    if ok.len() != vb {
                        return Err(bad(format!("{} flags for {vb} bins", ok.len())));
                    }
                    let rows = own.rows(f);
                    let plan = merge_lacking(ok, &rows[..vb]);
                    if let Some(blocks) = &plan {
                        own.merge(f, blocks)?;
                    }
                    plans.push(plan.as_deref().map(to_plan));
                }
                send_msg(ch_of(s, label)?, &plans)?;
            }
            ToOwner::Monotone(plans) => {
                if plans.len() != own.bins.len() {
                    return Err(bad(format!(
                        "{} plans for {} features",
                        plans.len(),
                        own.bins.len()
                    )));
                }
                for (f, plan) in plans.iter().enumerate() {
                    if let Some(plan) = plan {
                        if !matches!(own.bins[f].kind, BinKind::Numeric { .. }) {
                            return Err(bad("a monotone plan for a categorical feature".into()));
                        }
                        own.merge(f, &to_ranges(plan))?;
                    }
                }
            }
            ToOwner::Result { ivs, woe } => {
                if ivs.len() != own.bins.len()
                    || woe.as_ref().is_some_and(|w| {
                        w.len() != own.bins.len()
                            || w.iter().zip(&own.bins).any(|(w, b)| w.len() != b.bins())
                    })
                {
                    return Err(bad("results that do not match this party's features".into()));
                }
                if settings.mode != Mode::OwnerTransform && woe.is_some() {
                    return Err(bad(
                        "WOE sent to an owner outside the owner-transform mode".into()
                    ));
                }
                return Ok(own_without_counts(own, &ivs, woe));
            }
        }
    }
}

/// An owner's features with their IVs (and WOE where it may know it).
pub(super) fn own_without_counts(
    own: &Owned,
    ivs: &[f64],
    woe: Option<Vec<Vec<f64>>>,
) -> Vec<OwnFeature> {
    let mut woe = woe.map(|w| w.into_iter());
    (0..own.bins.len())
        .map(|f| OwnFeature {
            binned: Binned {
                bins: own.bins[f].clone(),
                index: own.indices[f].clone(),
            },
            rows: own.rows(f),
            events: None,
            non_events: None,
            woe: woe.as_mut().and_then(Iterator::next),
            iv: ivs.get(f).copied().unwrap_or(f64::NAN),
            direction: None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use indomain_net::wire::decode_msg;
    use proptest::prelude::*;

    fn encode<T: Serialize>(msg: &T) -> Vec<u8> {
        bincode::serde::encode_to_vec(msg, bincode::config::standard()).unwrap()
    }

    #[test]
    fn known_answers_of_the_messages_to_an_owner() {
        // Variant 0, one feature, two flags.
        assert_eq!(
            encode(&ToOwner::Flags(vec![vec![true, false]])),
            [0, 1, 2, 1, 0]
        );
        // Variant 1, two features: no plan, then bins 0..2 and 2..3.
        assert_eq!(
            encode(&ToOwner::Monotone(vec![None, Some(vec![(0, 2), (2, 3)])])),
            [1, 2, 0, 1, 2, 0, 2, 2, 3]
        );
        let r = encode(&ToOwner::Result {
            ivs: vec![0.5],
            woe: None,
        });
        assert_eq!(r, [2, 1, 0, 0, 0, 0, 0, 0, 224, 63, 0]);
        let plans: Vec<Plan> = vec![Some(vec![(0, 1)])];
        assert_eq!(encode(&plans), [1, 1, 1, 0, 1]);
    }

    proptest! {
        /// Random and truncated bytes from a peer are refused, never a panic.
        #[test]
        fn random_frames_are_errors_not_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode_msg::<ToOwner>("peer", &bytes);
            let _ = decode_msg::<Vec<Plan>>("peer", &bytes);
            let full = encode(&ToOwner::Flags(vec![vec![true; 5]; 3]));
            for cut in 0..full.len() {
                prop_assert!(decode_msg::<ToOwner>("peer", &full[..cut]).is_err());
            }
        }
    }
}
