//! Growing one tree level by level with the instance space hidden (step 3
//! of `train.rs`), and what both modes share with `leaked.rs`: the job's
//! context ([`Job`]), the leaves waiting for their weights ([`Leaf`],
//! [`Reach`]), a node's histograms ([`Histograms`]) and the numbering of
//! a grown tree ([`finish_tree`]).
//!
//! What each party learns: per level, the winning split of every open
//! node and whether it splits (the tree structure, [`super::split`]);
//! nothing else. Node membership, g, h, the histograms and the leaves' G
//! and H stay secret-shared: the owner's left indicator is shared
//! (`share_input`) and multiplied in by Beaver products, histograms are
//! masked bin sums (`indomain_mpc::bins`), so no party learns which rows
//! reach which node.

use super::forest::{FeatureShape, Node, Tree};
use super::split::{self, Ctx, Decision, NodeInput};
use super::{BinnedFeatures, GbdtParams, Progress};
use crate::LearnError;
use indomain_mpc::{Correlations, FixedBins, Session, Shared};

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
pub(super) type Grown = (Tree, Vec<Leaf>, Vec<(usize, Decision)>);

/// Grows one tree level by level.
pub(super) fn grow<C: Correlations>(
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
            .map(|o| NodeInput::new(total(&o.g.0), total(&o.h.0), &o.hist))
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
