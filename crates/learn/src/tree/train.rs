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

use super::forest::{FeatureShape, Node, Tree};
use super::split::{self, Ctx, Decision, NodeInput};
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

/// Every rank's feature shapes, after checking rows and parameters.
fn agree(
    parties: &mut PartySet,
    group: &[usize],
    own: &BinnedFeatures,
    params: &GbdtParams,
) -> Result<Vec<Vec<FeatureShape>>, LearnError> {
    let mut mine = vec![own.rows() as u64, own.features() as u64];
    mine.extend(params.words());
    let lens = vec![mine.len(); group.len()];
    let all = indomain_mpc::open::exchange(parties, group, mine.clone(), &lens)?;
    let mut counts = Vec::with_capacity(group.len());
    for (theirs, &index) in all.iter().zip(group) {
        let peer = || parties.name(index).to_string();
        if theirs[0] != mine[0] {
            return Err(LearnError::Disagreement {
                peer: peer(),
                what: format!("it has {} rows, this party {}", theirs[0], mine[0]),
            });
        }
        let mode = mine.len() - 1;
        if theirs[mode] != mine[mode] {
            let name = |w: u64| match w {
                0 => "with the instance space hidden",
                _ => "with the instance space leaked (--leak-instance-space)",
            };
            return Err(LearnError::Disagreement {
                peer: peer(),
                what: format!(
                    "it trains {}, this party {}",
                    name(theirs[mode]),
                    name(mine[mode])
                ),
            });
        }
        if theirs[2..] != mine[2..] {
            return Err(LearnError::Disagreement {
                peer: peer(),
                what: "its tree parameters differ".into(),
            });
        }
        if theirs[1] > 1 << 12 {
            return Err(LearnError::Disagreement {
                peer: peer(),
                what: format!("it announces {} features", theirs[1]),
            });
        }
        counts.push(theirs[1] as usize);
    }
    let words: Vec<u64> = own
        .shapes
        .iter()
        .flat_map(|s| [s.bins as u64, s.missing as u64])
        .collect();
    let lens: Vec<usize> = counts.iter().map(|c| 2 * c).collect();
    let all = indomain_mpc::open::exchange(parties, group, words, &lens)?;
    all.iter()
        .zip(group)
        .map(|(w, &index)| {
            w.chunks_exact(2)
                .map(|p| {
                    let shape = FeatureShape {
                        bins: p[0] as u16,
                        missing: p[1] == 1,
                    };
                    if p[0] == 0 || p[0] > 1 << 15 || p[1] > 1 || shape.value_bins() == 0 {
                        return Err(LearnError::Disagreement {
                            peer: parties.name(index).to_string(),
                            what: format!("a feature of {} bins (missing: {})", p[0], p[1]),
                        });
                    }
                    Ok(shape)
                })
                .collect()
        })
        .collect()
}

/// One open node of the level being grown.
struct Open {
    id: usize,
    m: Shared,
    g: Shared,
    h: Shared,
    /// Per rank: G and H histograms.
    hist: Histograms,
}

/// A node's G and H histograms per rank (`None` for a rank without
/// features).
pub(super) type Histograms = Vec<Option<(Shared, Shared)>>;

/// A leaf waiting for its weight: its shared G and H and the rows it
/// holds.
pub(super) struct Leaf {
    pub id: usize,
    pub g: u64,
    pub h: u64,
    pub reach: Reach,
}

/// Which rows a leaf holds.
pub(super) enum Reach {
    /// A shared 0/1 vector over the rows (the instance space hidden).
    Shared(Shared),
    /// The rows, public to the data parties (the instance space leaked).
    Rows(Vec<u32>),
}

/// Σ of a shared vector's elements: a share of the sum.
pub(super) fn total(v: &[u64]) -> u64 {
    v.iter().fold(0u64, |a, x| a.wrapping_add(*x))
}

impl Leaf {
    fn hidden(id: usize, m: Shared, g: &Shared, h: &Shared) -> Self {
        Self {
            id,
            g: total(&g.0),
            h: total(&h.0),
            reach: Reach::Shared(m),
        }
    }
}

pub(super) struct Job<'a> {
    pub params: &'a GbdtParams,
    pub shapes: &'a [Vec<FeatureShape>],
    /// Every rank's bins over all rows, registered (hidden mode only).
    pub fixed: Vec<Option<FixedBins>>,
    pub own: &'a BinnedFeatures,
    pub rows: usize,
    pub gamma: Option<u64>,
    pub max_hessian: f64,
}

impl<'a> Job<'a> {
    /// What the split search needs to know of the job, in either mode.
    pub(super) fn split_ctx(&self) -> Ctx<'a> {
        Ctx {
            shapes: self.shapes,
            lambda: self.params.lambda,
            min_child_weight: self.params.min_child_weight,
            gamma: self.gamma,
            max_hessian: self.max_hessian,
        }
    }
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
    // Registration of every party's bins, in rank order (with the
    // instance space leaked, per node instead: `super::leaked`).
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
    // The public plan: validation rows, training rows.
    let fraction = params.early_stopping.map(|e| e.validation_fraction);
    let (train_rows, val_rows) = validation_split(n, fraction, params.seed);
    let mut in_train = vec![false; n];
    for &r in &train_rows {
        in_train[r] = true;
    }
    // The label holder's scaling (squared loss) and base margin.
    let (scale_log2, base) = match y {
        Some(y) => {
            let ty: Vec<f64> = train_rows.iter().map(|&r| y[r]).collect();
            let base = base_margin(params.loss, &ty);
            let k = match params.loss {
                Loss::Logistic => 0,
                Loss::Squared => {
                    let spread = y.iter().map(|v| (v - base).abs()).fold(0.0, f64::max);
                    spread.log2().ceil().max(0.0) as i32
                }
            };
            (k, base)
        }
        None => (0, 0.0),
    };
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
            InstanceSpace::Hidden => grow(s, &job, g, h, t, progress)?,
            InstanceSpace::Leaked => super::leaked::grow(s, &job, &g, &h, t, progress)?,
        };
        for (id, d) in &decisions {
            splits.push((t, *id, d.party, d.gain_num, d.gain_den));
        }
        let w = leaf_weights(s, &job, &leaves)?;
        // F += Σ_leaf m_leaf·w_leaf: Beaver products with shared
        // membership, local additions with public rows.
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
    let flat: Vec<u64> = all_weights.iter().flat_map(|w| w.0.clone()).collect();
    if let Some(opened) = s.open_to(&Shared(flat), LEADER)? {
        let mut values = fp.decode_slice(&opened).into_iter().map(|v| v * scale);
        out.leaf_weights = Some(
            all_weights
                .iter()
                .map(|w| values.by_ref().take(w.len()).collect())
                .collect(),
        );
        out.base_margin = Some(base);
    }
    // Gains to their owners.
    if !splits.is_empty() {
        // Both parts carry 2f fractional bits: truncate them together.
        let mut both: Vec<u64> = splits.iter().map(|sp| sp.3).collect();
        both.extend(splits.iter().map(|sp| sp.4));
        let both = s.truncate_exact(&Shared(both), params.frac_bits)?;
        let (num, den) = both.0.split_at(splits.len());
        let mut den = Shared(den.to_vec());
        den.add_public(&vec![1; splits.len()], rank)?;
        let q = s.divide(&Shared(num.to_vec()), &den, -(params.frac_bits as i32), 7)?;
        let q = s.mul(&q, &Shared(vec![gain_factor; splits.len()]))?;
        for r in 0..shapes.len() {
            let mine: Vec<usize> = (0..splits.len()).filter(|&i| splits[i].2 == r).collect();
            if mine.is_empty() {
                continue;
            }
            let part = Shared(mine.iter().map(|&i| q.0[i]).collect());
            if let Some(v) = s.open_to(&part, r)? {
                for (&i, g) in mine.iter().zip(fp.decode_slice(&v)) {
                    out.own_gains.push((splits[i].0, splits[i].1, g));
                }
            }
        }
    }
    Ok(out)
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

pub(super) type Grown = (Tree, Vec<Leaf>, Vec<(usize, Decision)>);

/// Grows one tree level by level.
fn grow<C: Correlations>(
    s: &mut Session<'_, C>,
    job: &Job<'_>,
    g: Shared,
    h: Shared,
    tree: usize,
    progress: &mut dyn FnMut(Progress),
) -> Result<Grown, LearnError> {
    let n = job.rows;
    let rank = s.rank();
    let p = job.params;
    let hist = histograms(s, job, &[(&g, &h)])?;
    let mut open = vec![Open {
        id: 0,
        m: Shared::public(&vec![1; n], rank),
        g,
        h,
        hist: hist.into_iter().next().unwrap_or_default(),
    }];
    let mut nodes: Vec<Option<Node>> = vec![None];
    let mut leaves: Vec<Leaf> = Vec::new();
    let mut decisions = Vec::new();
    let ctx = job.split_ctx();
    for depth in 0..p.max_depth {
        if open.is_empty() {
            break;
        }
        let inputs: Vec<NodeInput<'_>> = open
            .iter()
            .map(|o| NodeInput {
                g: total(&o.g.0),
                h: total(&o.h.0),
                hist: o
                    .hist
                    .iter()
                    .map(|x| x.as_ref().map(|(a, b)| (a, b)))
                    .collect(),
            })
            .collect();
        let found = split::search(s, &inputs, &ctx)?;
        drop(inputs);
        // The owners' left indicators, shared, and the left children.
        let mut xs = Vec::new();
        let mut ts = Vec::new();
        let mut parents = Vec::new();
        for (o, d) in open.into_iter().zip(found) {
            let Some(d) = d else {
                leaves.push(Leaf::hidden(o.id, o.m, &o.g, &o.h));
                continue;
            };
            let left_of = (d.party == rank).then(|| {
                (0..n)
                    .map(|i| job.own.goes_left(i, &d.threshold) as u64)
                    .collect::<Vec<u64>>()
            });
            let t = s.share_input(d.party, left_of.as_deref(), n, &mut rand::rng())?;
            for v in [&o.m, &o.g, &o.h] {
                xs.extend_from_slice(v.as_slice());
                ts.extend_from_slice(t.as_slice());
            }
            let (left, right) = (nodes.len(), nodes.len() + 1);
            nodes.extend([None, None]);
            nodes[o.id] = Some(Node::Split {
                party: d.party,
                threshold: d.threshold,
                left,
                right,
            });
            decisions.push((o.id, d));
            parents.push((o, left, right));
        }
        let products = s.mul(&Shared(xs), &Shared(ts))?;
        let mut children: Vec<(usize, usize, Shared, Shared, Shared, Open)> = Vec::new();
        for (i, (o, left, right)) in parents.into_iter().enumerate() {
            let at = 3 * n * i;
            let m = Shared(products.0[at..at + n].to_vec());
            let g = Shared(products.0[at + n..at + 2 * n].to_vec());
            let h = Shared(products.0[at + 2 * n..at + 3 * n].to_vec());
            children.push((left, right, m, g, h, o));
        }
        let last = depth + 1 == p.max_depth;
        let left_hist = if last || children.is_empty() {
            Vec::new()
        } else {
            let pairs: Vec<(&Shared, &Shared)> = children.iter().map(|c| (&c.3, &c.4)).collect();
            histograms(s, job, &pairs)?
        };
        let mut next = Vec::new();
        for (i, (left, right, m, g, h, parent)) in children.into_iter().enumerate() {
            let (rm, rg, rh) = (parent.m.sub(&m)?, parent.g.sub(&g)?, parent.h.sub(&h)?);
            if last {
                leaves.push(Leaf::hidden(left, m, &g, &h));
                leaves.push(Leaf::hidden(right, rm, &rg, &rh));
                continue;
            }
            let lh = left_hist[i].clone();
            let rhist = parent
                .hist
                .iter()
                .zip(&lh)
                .map(|(p, l)| match (p, l) {
                    (Some((pg, ph)), Some((lg, lhh))) => Ok(Some((pg.sub(lg)?, ph.sub(lhh)?))),
                    _ => Ok(None),
                })
                .collect::<Result<Vec<_>, LearnError>>()?;
            next.push(Open {
                id: left,
                m,
                g,
                h,
                hist: lh,
            });
            next.push(Open {
                id: right,
                m: rm,
                g: rg,
                h: rh,
                hist: rhist,
            });
        }
        open = next;
        progress(Progress::Level { tree, depth });
    }
    for o in open {
        leaves.push(Leaf::hidden(o.id, o.m, &o.g, &o.h));
    }
    finish_tree(nodes, leaves, decisions)
}

/// Numbers the leaves in node order and checks every node is one.
pub(super) fn finish_tree(
    mut nodes: Vec<Option<Node>>,
    mut leaves: Vec<Leaf>,
    decisions: Vec<(usize, Decision)>,
) -> Result<Grown, LearnError> {
    leaves.sort_by_key(|l| l.id);
    for (leaf, l) in leaves.iter().enumerate() {
        nodes[l.id] = Some(Node::Leaf { leaf });
    }
    let tree = Tree {
        nodes: nodes
            .into_iter()
            .map(|n| {
                n.ok_or_else(|| LearnError::Params("a node was neither split nor leaf".into()))
            })
            .collect::<Result<_, _>>()?,
    };
    Ok((tree, leaves, decisions))
}

/// Shares of the G and H histograms of each (g, h) pair, per rank (`None`
/// for a rank without features): one batch of bin sums per rank.
fn histograms<C: Correlations>(
    s: &mut Session<'_, C>,
    job: &Job<'_>,
    pairs: &[(&Shared, &Shared)],
) -> Result<Vec<Histograms>, LearnError> {
    let vectors: Vec<Shared> = pairs
        .iter()
        .flat_map(|(g, h)| [(*g).clone(), (*h).clone()])
        .collect();
    let mut out: Vec<Histograms> = vec![Vec::new(); pairs.len()];
    for fb in &job.fixed {
        match fb {
            None => out.iter_mut().for_each(|o| o.push(None)),
            Some(fb) => {
                let sums = s.bin_sums(fb, &vectors)?;
                let mut it = sums.into_iter();
                for o in out.iter_mut() {
                    let g = it.next().unwrap_or_default();
                    let h = it.next().unwrap_or_default();
                    o.push(Some((g, h)));
                }
            }
        }
    }
    Ok(out)
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
