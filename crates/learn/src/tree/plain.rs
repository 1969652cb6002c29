//! The plaintext reference of [`crate::tree::train`]: the same candidates
//! in the same order, the same ties (the first best candidate wins), the
//! same node numbering, subsamples and validation split, with exact
//! arithmetic (f64, the exact sigmoid). The secure training is tested
//! against it; it is also what "plaintext XGBoost `hist` on the same bins"
//! means in this repository (docs/benchmarks.md compares it with XGBoost
//! itself).

use super::candidates::{candidates, left_sums};
use super::forest::{Node, Tree};
use super::{BinnedFeatures, GbdtParams, Loss, base_margin, tree_rows, validation_loss};
use crate::LearnError;
use crate::vertical::validation_split;

/// Splits need a loss reduction above this (XGBoost's `kRtEps`) and
/// above γ.
pub const MIN_SPLIT_GAIN: f64 = 1e-6;

/// A forest trained in the clear.
#[derive(Debug, Clone, PartialEq)]
pub struct PlainForest {
    /// The score every row starts from.
    pub base_margin: f64,
    /// The trees kept.
    pub trees: Vec<Tree>,
    /// Each kept tree's leaf weights (learning rate applied).
    pub leaf_weights: Vec<Vec<f64>>,
    /// Each kept tree's loss reduction per node (`None` at leaves).
    pub gains: Vec<Vec<Option<f64>>>,
    /// The validation loss after each tree grown, with early stopping.
    pub validation_loss: Vec<f64>,
}

struct Open {
    id: usize,
    rows: Vec<usize>,
}

/// Trains on every party's bins (`parts[0]` the label holder's, then the
/// feature holders' in rank order; same rows) and the labels.
pub fn train(
    parts: &[BinnedFeatures],
    y: &[f64],
    params: &GbdtParams,
) -> Result<PlainForest, LearnError> {
    params.check()?;
    super::check_labels(params.loss, y)?;
    let n = y.len();
    if parts.iter().any(|p| p.rows() != n) {
        return Err(LearnError::Input("every party needs the same rows".into()));
    }
    let fraction = params.early_stopping.map(|e| e.validation_fraction);
    let (train_rows, val_rows) = validation_split(n, fraction, params.seed);
    let mut in_train = vec![false; n];
    for &r in &train_rows {
        in_train[r] = true;
    }
    let train_y: Vec<f64> = train_rows.iter().map(|&r| y[r]).collect();
    let base = base_margin(params.loss, &train_y);
    let mut f = vec![base; n];
    let cands: Vec<Vec<_>> = parts.iter().map(|p| candidates(&p.shapes)).collect();
    let mut forest = PlainForest {
        base_margin: base,
        trees: Vec::new(),
        leaf_weights: Vec::new(),
        gains: Vec::new(),
        validation_loss: Vec::new(),
    };
    let mut best: Option<(f64, usize)> = None;
    for t in 0..params.trees {
        let sampled = tree_rows(n, params.subsample, params.seed, t);
        let (g, h): (Vec<f64>, Vec<f64>) = (0..n)
            .map(|i| {
                if !(in_train[i] && sampled[i]) {
                    return (0.0, 0.0);
                }
                match params.loss {
                    Loss::Logistic => {
                        let p = 1.0 / (1.0 + (-f[i]).exp());
                        (p - y[i], p * (1.0 - p))
                    }
                    Loss::Squared => (f[i] - y[i], 1.0),
                }
            })
            .unzip();
        let (tree, weights, gains, leaf_of) = grow(parts, &cands, &g, &h, params, n);
        for i in 0..n {
            f[i] += weights[leaf_of[i]];
        }
        forest.trees.push(tree);
        forest.leaf_weights.push(weights);
        forest.gains.push(gains);
        if let Some(es) = params.early_stopping {
            let z: Vec<f64> = val_rows.iter().map(|&r| f[r]).collect();
            let yv: Vec<f64> = val_rows.iter().map(|&r| y[r]).collect();
            let loss = validation_loss(params.loss, &z, &yv);
            forest.validation_loss.push(loss);
            match best {
                Some((b, _)) if loss >= b => {}
                _ => best = Some((loss, t)),
            }
            if let Some((_, bt)) = best
                && t >= bt + es.patience
            {
                break;
            }
        }
    }
    if let Some((_, bt)) = best {
        forest.trees.truncate(bt + 1);
        forest.leaf_weights.truncate(bt + 1);
        forest.gains.truncate(bt + 1);
    }
    Ok(forest)
}

type Grown = (Tree, Vec<f64>, Vec<Option<f64>>, Vec<usize>);

/// Grows one tree level by level; returns it, its leaf weights, each
/// node's gain and every row's leaf.
fn grow(
    parts: &[BinnedFeatures],
    cands: &[Vec<super::Threshold>],
    g: &[f64],
    h: &[f64],
    p: &GbdtParams,
    n: usize,
) -> Grown {
    let mut nodes: Vec<Option<Node>> = vec![None];
    let mut gains: Vec<Option<f64>> = vec![None];
    let mut leaf_rows: Vec<(usize, Vec<usize>)> = Vec::new();
    let mut open = vec![Open {
        id: 0,
        rows: (0..n).collect(),
    }];
    for depth in 0..p.max_depth {
        let mut next = Vec::new();
        for node in open {
            let gs: f64 = node.rows.iter().map(|&i| g[i]).sum();
            let hs: f64 = node.rows.iter().map(|&i| h[i]).sum();
            let parent = gs * gs / (hs + p.lambda);
            let mut best: Option<(f64, usize, super::Threshold)> = None;
            for (party, bf) in parts.iter().enumerate() {
                let (offsets, total) = bf.bin_offsets();
                let mut hg = vec![0.0; total];
                let mut hh = vec![0.0; total];
                for &i in &node.rows {
                    for (fe, &off) in offsets.iter().enumerate() {
                        let b = off + bf.indices[[i, fe]] as usize;
                        hg[b] += g[i];
                        hh[b] += h[i];
                    }
                }
                let gl = left_sums(&bf.shapes, &hg, 0.0, |a, b| a + b);
                let hl = left_sums(&bf.shapes, &hh, 0.0, |a, b| a + b);
                for (c, cand) in cands[party].iter().enumerate() {
                    let (gr, hr) = (gs - gl[c], hs - hl[c]);
                    if hl[c] < p.min_child_weight || hr < p.min_child_weight {
                        continue;
                    }
                    let score = gl[c] * gl[c] / (hl[c] + p.lambda) + gr * gr / (hr + p.lambda);
                    if best.is_none_or(|(b, _, _)| score > b) {
                        best = Some((score, party, *cand));
                    }
                }
            }
            let split = best.filter(|(score, _, _)| score - parent > p.gamma.max(MIN_SPLIT_GAIN));
            match split {
                Some((score, party, threshold)) => {
                    let (left, right) = (nodes.len(), nodes.len() + 1);
                    nodes.extend([None, None]);
                    gains.extend([None, None]);
                    nodes[node.id] = Some(Node::Split {
                        party,
                        threshold,
                        left,
                        right,
                    });
                    gains[node.id] = Some(score - parent);
                    let (l, r): (Vec<usize>, Vec<usize>) = node
                        .rows
                        .iter()
                        .partition(|&&i| parts[party].goes_left(i, &threshold));
                    for (id, rows) in [(left, l), (right, r)] {
                        if depth + 1 < p.max_depth {
                            next.push(Open { id, rows });
                        } else {
                            leaf_rows.push((id, rows));
                        }
                    }
                }
                None => leaf_rows.push((node.id, node.rows)),
            }
        }
        open = next;
    }
    leaf_rows.sort_by_key(|(id, _)| *id);
    let mut weights = Vec::with_capacity(leaf_rows.len());
    let mut leaf_of = vec![0usize; n];
    for (leaf, (id, rows)) in leaf_rows.into_iter().enumerate() {
        nodes[id] = Some(Node::Leaf { leaf });
        let gs: f64 = rows.iter().map(|&i| g[i]).sum();
        let hs: f64 = rows.iter().map(|&i| h[i]).sum();
        weights.push(-p.learning_rate * gs / (hs + p.lambda));
        for i in rows {
            leaf_of[i] = leaf;
        }
    }
    let tree = Tree {
        nodes: nodes
            .into_iter()
            .map(|n| n.expect("every node is a split or a leaf"))
            .collect(),
    };
    (tree, weights, gains, leaf_of)
}

/// Margins of the rows of `parts` under the forest.
pub fn predict(forest: &PlainForest, parts: &[BinnedFeatures]) -> Vec<f64> {
    let n = parts.first().map_or(0, |p| p.rows());
    (0..n)
        .map(|i| {
            forest
                .trees
                .iter()
                .zip(&forest.leaf_weights)
                .map(|(tree, w)| w[tree.leaf_of(|party, t| parts[party].goes_left(i, t))])
                .sum::<f64>()
                + forest.base_margin
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::FeatureShape;
    use ndarray::Array2;

    #[test]
    fn a_clear_signal_is_split_on_and_predicted() {
        // y = [bin of feature 0 ≥ 2], feature 1 noise.
        let n = 400;
        let idx = Array2::from_shape_fn((n, 2), |(i, f)| ((i * (f + 3) + f) % 4) as u16);
        let y: Vec<f64> = (0..n).map(|i| (idx[[i, 0]] >= 2) as u8 as f64).collect();
        let shapes = vec![
            FeatureShape {
                bins: 4,
                missing: false,
            };
            2
        ];
        let party = BinnedFeatures::new(idx, shapes).unwrap();
        let params = GbdtParams {
            trees: 3,
            max_depth: 2,
            ..Default::default()
        };
        let forest = train(&[BinnedFeatures::empty(n), party.clone()], &y, &params).unwrap();
        let root = forest.trees[0].nodes[0];
        assert!(
            matches!(root, Node::Split { party: 1, threshold, .. } if threshold.feature == 0 && threshold.bin == 1),
            "{root:?}"
        );
        let z = predict(&forest, &[BinnedFeatures::empty(n), party]);
        for (zi, yi) in z.iter().zip(&y) {
            assert_eq!(*zi > 0.0, *yi == 1.0);
        }
    }
}
