//! Vertical gradient-boosted trees on secret-shared values: the protocol
//! of one party. See [`crate::tree`] for the construction and what each
//! party learns; step by step:
//!
//! 0. **Agreement.** The computing parties (label holder first, then the
//!    feature holders in set order) exchange their row counts, parameters
//!    and feature shapes; every difference is an error naming the peer.
//!    Each party with features registers its bins once
//!    (`Session::fix_bins`). The label holder shares γ (rescaled, see 1).
//! 1. **Scores.** F starts at the label holder's base margin (its share;
//!    the others' are zero). For squared loss the label holder divides its
//!    labels, the base and γ by a power of two 2^k of its own so that
//!    gradients stay within ±2 (what the split search's ranges need), and
//!    multiplies leaf weights and validation scores back at the end.
//! 2. **Per tree**: g, h from F (logistic: p = σ(F) by the Fourier sigmoid
//!    of `indomain_mpc::sigmoid`, g = p − y, h = p − p²; squared: g = F − y,
//!    h = 1), times the tree's public 0/1 row weights (training rows, the
//!    subsample). The root's membership m is all ones.
//! 3. **Per level**: histograms of g and h of every open node over every
//!    party's bins (`bin_sums`; only left children are summed, the right
//!    child is the parent minus the left); the best split of every node
//!    ([`super::split`]); for each split node the owner's private 0/1 left
//!    indicator t is secret-shared and [m, g, h] of the left child are
//!    [m, g, h]∘t (Beaver products), the right child's the parent's minus
//!    them.
//! 4. **Leaves**: G and H of a leaf are sums of its shared g and h; its
//!    weight −η·G/(H + λ) by the secure division of `indomain_mpc::divide`;
//!    F += Σ_leaf m_leaf·w_leaf.
//! 5. **Early stopping**: F on the validation rows is opened to the label
//!    holder, which computes the validation loss and tells every party
//!    whether to stop; the model keeps the trees up to the best one.
//! 6. **End**: the leaf weights are opened to the label holder; each
//!    split's gain, a secure division of its fraction, to its owner.

use super::agree::agree;
use super::forest::{FeatureShape, Tree};
use super::grow::{self, Job, Leaf, Reach};
use super::{
    BinnedFeatures, GbdtParams, InstanceSpace, Loss, base_margin, check_labels, tree_rows,
};
use crate::LearnError;
use crate::align::Roles;
use crate::vertical::validation_split;
use indomain_core::FixedPoint;
use indomain_mpc::dealer::{self, DealerLimits};
use indomain_mpc::prefetch::{Batch, Prefetch};
use indomain_mpc::{BinShape, Correlations, FixedBins, Permutations, Roster, Session, Shared};
use indomain_net::PartySet;
use rand::{CryptoRng, Rng};

/// The label holder's rank (the mpc layer's leader).
const LEADER: usize = 0;

/// What a party ends training with.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TreeOutcome {
    /// The trees kept, as every party knows them.
    pub trees: Vec<Tree>,
    /// Every kept tree's leaf weights (label holder only).
    pub leaf_weights: Option<Vec<Vec<f64>>>,
    /// The base margin (label holder only).
    pub base_margin: Option<f64>,
    /// The gain of every split this party owns: (tree, node, gain).
    pub own_gains: Vec<(usize, usize, f64)>,
    /// The validation loss after each tree (label holder, early stopping).
    pub validation_loss: Vec<f64>,
    /// Trees grown (the kept ones and those after the best, with early
    /// stopping; 0 at the dealer).
    pub trees_grown: usize,
}

/// Progress of a training run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Progress {
    /// Level `depth` of tree `tree` (0-based) was grown.
    Level {
        /// The tree.
        tree: usize,
        /// The level.
        depth: usize,
    },
    /// Tree `tree` was finished, with the validation loss at the label
    /// holder under early stopping.
    Tree {
        /// The tree (0-based).
        tree: usize,
        /// The validation loss, where known.
        validation_loss: Option<f64>,
    },
}

/// The computing parties in rank order: the label holder, then the
/// feature holders in set order.
fn computing(roles: &Roles) -> Vec<usize> {
    let mut out = vec![roles.label];
    let mut f = roles.features.clone();
    f.sort_unstable();
    out.extend(f);
    out
}

/// Trains a forest; every party of `parties` calls it. `own` is this data
/// party's binned features (the rows aligned across parties; `None` at
/// the dealer), `y` the labels at the label holder.
pub fn train<R: Rng + CryptoRng + ?Sized>(
    parties: &mut PartySet,
    roles: &Roles,
    own: Option<&BinnedFeatures>,
    y: Option<&[f64]>,
    params: &GbdtParams,
    progress: &mut dyn FnMut(Progress),
    rng: &mut R,
) -> Result<TreeOutcome, LearnError> {
    params.check()?;
    roles.two_party("gradient-boosted tree training")?;
    let group = computing(roles);
    if roles.dealer == Some(parties.me()) {
        dealer::serve_ordered(parties, &group, DealerLimits::default(), rng)?;
        return Ok(TreeOutcome::default());
    }
    let roster = Roster::ordered(parties, group.clone(), roles.dealer)?;
    let own = own.ok_or_else(|| LearnError::Input("a data party needs its bins".into()))?;
    match (roster.is_leader(), y) {
        (true, None) => return Err(LearnError::Input("the label holder has no labels".into())),
        (false, Some(_)) => {
            return Err(LearnError::Input(
                "only the label holder passes labels".into(),
            ));
        }
        (true, Some(y)) => {
            if y.len() != own.rows() {
                return Err(LearnError::Input(format!(
                    "{} labels for {} rows of bins",
                    y.len(),
                    own.rows()
                )));
            }
            check_labels(params.loss, y)?;
        }
        _ => {}
    }
    let shapes = agree(parties, &group, own, params)?;
    let fp = FixedPoint::new(params.frac_bits)?;
    // Many small sequential steps: batches of items save a round trip to
    // the dealer (or of the two-party agreement) on most of them.
    let source = roles.correlations(&roster, "gradient-boosted tree training")?;
    let client = Prefetch::new(source, Batch::default());
    let mut s = Session::new(parties, roster, fp, client);
    let out = run(&mut s, own, y, params, &shapes, progress, rng)?;
    s.finish()?;
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
fn run<C: Correlations, R: Rng + CryptoRng + ?Sized>(
    s: &mut Session<'_, C>,
    own: &BinnedFeatures,
    y: Option<&[f64]>,
    params: &GbdtParams,
    shapes: &[Vec<FeatureShape>],
    progress: &mut dyn FnMut(Progress),
    rng: &mut R,
) -> Result<TreeOutcome, LearnError> {
    let fp = s.fixed_point();
    let n = own.rows();
    let rank = s.rank();
    let leader = s.is_leader();
    let fixed = register_bins(s, own, params, shapes)?;
    // The public plan: validation rows, training rows.
    let fraction = params.early_stopping.map(|e| e.validation_fraction);
    let (train_rows, val_rows) = validation_split(n, fraction, params.seed);
    let mut in_train = vec![false; n];
    for &r in &train_rows {
        in_train[r] = true;
    }
    let (scale_log2, base) = label_scaling(y, &train_rows, params.loss);
    let scale = 2f64.powi(scale_log2);
    let labels: Option<Vec<u64>> = y
        .map(|y| y.iter().map(|v| fp.encode(v / scale)).collect())
        .transpose()?;
    // γ/4^k and the gains' factor 4^k, shared by the label holder.
    let private = (leader).then(|| {
        vec![
            fp.encode(params.gamma / (scale * scale)).unwrap_or(0),
            (scale * scale) as u64,
        ]
    });
    let shared = s.share_input(LEADER, private.as_deref(), 2, rng)?;
    let gamma = (params.gamma > 0.0).then_some(shared.0[0]);
    let gain_factor = shared.0[1];
    let max_hessian = n as f64
        * match params.loss {
            Loss::Logistic => 0.25,
            Loss::Squared => 1.0,
        };
    let job = Job {
        params,
        shapes,
        fixed,
        own,
        rows: n,
        gamma,
        max_hessian,
    };
    let mut f = Shared::public(&vec![fp.encode(base / scale)?; n], rank);
    let mut out = TreeOutcome::default();
    let mut all_weights: Vec<Shared> = Vec::new();
    let mut splits: Vec<(usize, usize, usize, u64, u64)> = Vec::new();
    let mut best: Option<(f64, usize)> = None;
    for t in 0..params.trees {
        let sampled = tree_rows(n, params.subsample, params.seed, t);
        let weight: Vec<u64> = (0..n).map(|i| (in_train[i] && sampled[i]) as u64).collect();
        let (mut g, mut h) = gradients(s, &f, labels.as_deref(), params.loss)?;
        g.mul_public(&weight)?;
        h.mul_public(&weight)?;
        let (tree, leaves, decisions) = match params.instance_space {
            InstanceSpace::Hidden => grow::grow(s, &job, g, h, t, progress)?,
            InstanceSpace::Leaked => super::leaked::grow(s, &job, &g, &h, t, progress)?,
        };
        for (id, d) in &decisions {
            splits.push((t, *id, d.party, d.gain_num, d.gain_den));
        }
        let w = leaf_weights(s, &job, &leaves)?;
        add_leaves(s, &mut f, &leaves, &w)?;
        out.trees.push(tree);
        all_weights.push(w);
        out.trees_grown = t + 1;
        if let Some(es) = params.early_stopping {
            let z = Shared(val_rows.iter().map(|&r| f.0[r]).collect());
            let opened = s.open_to(&z, LEADER)?;
            let loss = opened.zip(y).map(|(z, y)| {
                let z: Vec<f64> = fp.decode_slice(&z).iter().map(|v| v * scale).collect();
                let yv: Vec<f64> = val_rows.iter().map(|&r| y[r]).collect();
                super::validation_loss(params.loss, &z, &yv)
            });
            if let Some(l) = loss {
                out.validation_loss.push(l);
                if best.is_none_or(|(b, _)| l < b) {
                    best = Some((l, t));
                }
            }
            let stop = best.is_some_and(|(_, bt)| t >= bt + es.patience);
            let best_tree = best.map_or(0, |(_, bt)| bt as u64);
            let flags = Shared::public(&[stop as u64, best_tree], rank);
            let agreed = s.open(&flags)?;
            if agreed[0] > 1 || agreed[1] > t as u64 {
                return Err(LearnError::Disagreement {
                    peer: "label holder".into(),
                    what: format!("early-stopping flags {agreed:?}"),
                });
            }
            best = Some((best.map_or(0.0, |b| b.0), agreed[1] as usize));
            progress(Progress::Tree {
                tree: t,
                validation_loss: loss,
            });
            if agreed[0] == 1 {
                break;
            }
        } else {
            progress(Progress::Tree {
                tree: t,
                validation_loss: None,
            });
        }
    }
    let kept = best.map_or(out.trees.len(), |(_, bt)| bt + 1);
    out.trees.truncate(kept);
    all_weights.truncate(kept);
    splits.retain(|sp| sp.0 < kept);
    // Leaf weights to the label holder.
    if let Some(weights) = open_leaf_weights(s, &all_weights, scale)? {
        out.leaf_weights = Some(weights);
        out.base_margin = Some(base);
    }
    // Gains to their owners.
    out.own_gains = open_gains(s, &splits, gain_factor, params.frac_bits, shapes.len())?;
    Ok(out)
}

/// Registration of every party's bins, in rank order (with the
/// instance space leaked, per node instead: `super::leaked`).
fn register_bins<C: Correlations>(
    s: &mut Session<'_, C>,
    own: &BinnedFeatures,
    params: &GbdtParams,
    shapes: &[Vec<FeatureShape>],
) -> Result<Vec<Option<FixedBins>>, LearnError> {
    let n = own.rows();
    let rank = s.rank();
    let mut fixed = Vec::with_capacity(shapes.len());
    for (r, sh) in shapes.iter().enumerate() {
        if sh.is_empty() || !params.instance_space.is_hidden() {
            fixed.push(None);
            continue;
        }
        let shape = BinShape {
            rows: n,
            bins: sh.iter().map(|f| f.bins).collect(),
            permutations: Permutations::PerFeature,
        };
        let indices = (r == rank).then(|| own.indices.view());
        fixed.push(Some(s.fix_bins(r, &shape, indices)?));
    }
    Ok(fixed)
}

/// The label holder's scaling (squared loss) and base margin: (k, base)
/// with labels divided by 2^k; (0, 0) at the other parties.
fn label_scaling(y: Option<&[f64]>, train_rows: &[usize], loss: Loss) -> (i32, f64) {
    match y {
        Some(y) => {
            let ty: Vec<f64> = train_rows.iter().map(|&r| y[r]).collect();
            let base = base_margin(loss, &ty);
            let k = match loss {
                Loss::Logistic => 0,
                Loss::Squared => {
                    let spread = y.iter().map(|v| (v - base).abs()).fold(0.0, f64::max);
                    spread.log2().ceil().max(0.0) as i32
                }
            };
            (k, base)
        }
        None => (0, 0.0),
    }
}

/// F += Σ_leaf m_leaf·w_leaf: Beaver products with shared membership,
/// local additions with public rows.
fn add_leaves<C: Correlations>(
    s: &mut Session<'_, C>,
    f: &mut Shared,
    leaves: &[Leaf],
    w: &Shared,
) -> Result<(), LearnError> {
    let n = f.len();
    let mut ms = Vec::new();
    let mut ws = Vec::new();
    for (leaf, &wl) in leaves.iter().zip(&w.0) {
        match &leaf.reach {
            Reach::Shared(m) => {
                ms.extend_from_slice(m.as_slice());
                ws.extend(std::iter::repeat_n(wl, n));
            }
            Reach::Rows(rows) => {
                for &r in rows {
                    f.0[r as usize] = f.0[r as usize].wrapping_add(wl);
                }
            }
        }
    }
    if !ms.is_empty() {
        let add = s.mul(&Shared(ms), &Shared(ws))?;
        for chunk in add.0.chunks_exact(n) {
            f.add_assign(&Shared(chunk.to_vec()))?;
        }
    }
    Ok(())
}

/// Every kept tree's leaf weights, opened to the label holder and scaled
/// back by 2^k (`None` at the other parties).
fn open_leaf_weights<C: Correlations>(
    s: &mut Session<'_, C>,
    all_weights: &[Shared],
    scale: f64,
) -> Result<Option<Vec<Vec<f64>>>, LearnError> {
    let fp = s.fixed_point();
    let flat: Vec<u64> = all_weights.iter().flat_map(|w| w.0.clone()).collect();
    let Some(opened) = s.open_to(&Shared(flat), LEADER)? else {
        return Ok(None);
    };
    let mut values = fp.decode_slice(&opened).into_iter().map(|v| v * scale);
    Ok(Some(
        all_weights
            .iter()
            .map(|w| values.by_ref().take(w.len()).collect())
            .collect(),
    ))
}

/// Each split's gain, a secure division of its fraction times 4^k (the
/// label holder's scaling), opened to the split's owner: this party's
/// (tree, node, gain) for the splits it owns. `splits` holds (tree, node,
/// owner, and shares of the gain's numerator and denominator).
fn open_gains<C: Correlations>(
    s: &mut Session<'_, C>,
    splits: &[(usize, usize, usize, u64, u64)],
    gain_factor: u64,
    frac_bits: u32,
    ranks: usize,
) -> Result<Vec<(usize, usize, f64)>, LearnError> {
    let fp = s.fixed_point();
    let rank = s.rank();
    let mut own_gains = Vec::new();
    if !splits.is_empty() {
        // Both parts carry 2f fractional bits: truncate them together.
        let mut both: Vec<u64> = splits.iter().map(|sp| sp.3).collect();
        both.extend(splits.iter().map(|sp| sp.4));
        let both = s.truncate_exact(&Shared(both), frac_bits)?;
        let (num, den) = both.0.split_at(splits.len());
        let mut den = Shared(den.to_vec());
        den.add_public(&vec![1; splits.len()], rank)?;
        let q = s.divide(&Shared(num.to_vec()), &den, -(frac_bits as i32), 7)?;
        let q = s.mul(&q, &Shared(vec![gain_factor; splits.len()]))?;
        for r in 0..ranks {
            let mine: Vec<usize> = (0..splits.len()).filter(|&i| splits[i].2 == r).collect();
            if mine.is_empty() {
                continue;
            }
            let part = Shared(mine.iter().map(|&i| q.0[i]).collect());
            if let Some(v) = s.open_to(&part, r)? {
                for (&i, g) in mine.iter().zip(fp.decode_slice(&v)) {
                    own_gains.push((splits[i].0, splits[i].1, g));
                }
            }
        }
    }
    Ok(own_gains)
}

/// g and h at the current scores.
fn gradients<C: Correlations>(
    s: &mut Session<'_, C>,
    f: &Shared,
    labels: Option<&[u64]>,
    loss: Loss,
) -> Result<(Shared, Shared), LearnError> {
    let fp = s.fixed_point();
    let rank = s.rank();
    let n = f.len();
    let mut g = match loss {
        Loss::Logistic => s.sigmoid_fourier(f, 0)?,
        Loss::Squared => f.clone(),
    };
    let h = match loss {
        Loss::Logistic => {
            let p2 = s.mul_fixed(&g, &g)?;
            g.sub(&p2)?
        }
        Loss::Squared => Shared::public(&vec![fp.encode(1.0)?; n], rank),
    };
    if let Some(y) = labels {
        g.sub_public(y, rank)?;
    }
    Ok((g, h))
}
/// −η·G/(H + λ) for every leaf.
fn leaf_weights<C: Correlations>(
    s: &mut Session<'_, C>,
    job: &Job<'_>,
    leaves: &[Leaf],
) -> Result<Shared, LearnError> {
    let fp = s.fixed_point();
    let rank = s.rank();
    let p = job.params;
    let g = Shared(leaves.iter().map(|l| l.g).collect());
    let mut h = Shared(leaves.iter().map(|l| l.h).collect());
    h.add_public(&vec![fp.encode(p.lambda)?; leaves.len()], rank)?;
    let lo = p.lambda.log2().floor() as i32;
    let hi = ((job.max_hessian + p.lambda).log2().floor() as i32 + 1).max(lo + 1);
    let q = s.divide(&g, &h, lo, hi)?;
    // |G/(H + λ)|·2^(2f) stays near 2^43: the local truncation's failure
    // probability is about 2^-20 per leaf.
    Ok(s.mul_public_real(q, &vec![-p.learning_rate; leaves.len()])?)
}
