//! The demo's check of a secure forest: the harness, which holds every
//! party's rows, replays the boosting in plaintext along the forest the
//! node trained (its structure from both model parts, its leaf weights
//! from the label holder's) and checks every decision the secure training
//! made at every node against the exact (f64) gains on the same bins:
//!
//! - a split must be a best candidate of its node: no candidate's score
//!   (G_L²/(H_L + λ) + G_R²/(H_R + λ)) may exceed the chosen one's by more
//!   than [`GAIN_RESOLUTION`] of the node's best score. Within that margin
//!   two candidates tie as far as the secure comparison can tell (gradients
//!   from a fixed-point sigmoid, 16 fractional bits), and the secure
//!   training may take either; the plaintext reference takes the first.
//!   Such a near-tie is reported, with both gains: from there on the
//!   secure forest and the plaintext reference forest differ, and so may
//!   their held-out AUCs;
//! - a leaf above the last level must be a node that no candidate splits
//!   with a loss reduction over max(γ, 10^-6) beyond the same margin;
//! - every leaf weight must equal −η·G/(H + λ) of its rows within the
//!   caller's tolerance.
//!
//! Each tree's gradients come from the margins of the secure forest's own
//! leaf weights, as in the secure training.

use super::error::DemoError;
use indomain_learn::tree::model::TreeModelFile;
use indomain_learn::tree::{
    BinnedFeatures, GbdtParams, Node, Threshold, Tree, candidates, left_sums,
};

/// Scores within this share of a node's best score tie for the secure
/// comparison (see the module documentation).
pub const GAIN_RESOLUTION: f64 = 1e-3;

/// A split the secure training took where the plaintext reference takes
/// another of (almost) the same score.
pub struct NearTie {
    /// Tree and node.
    pub at: (usize, usize),
    /// The score of the secure forest's split and of the best candidate.
    pub scores: (f64, f64),
}

/// What the replay found.
pub struct Replay {
    /// The secure forest, each split with its owner's threshold.
    pub forest: Vec<Tree>,
    /// Near-ties the secure training decided the other way.
    pub near_ties: Vec<NearTie>,
    /// Decisions no tie explains, in words.
    pub wrong: Vec<String>,
    /// The largest gap between a secure leaf weight and the plaintext one.
    pub leaf_gap: f64,
    /// The largest gap between a gain opened to a split's owner and the
    /// plaintext gain of that split.
    pub gain_gap: f64,
}

/// The score of every candidate of every party at a node holding `rows`
/// (candidates in [`candidates`] order, party by party), `None` where a
/// child would weigh under min_child_weight.
fn scores(
    parts: &[BinnedFeatures],
    rows: &[usize],
    g: &[f64],
    h: &[f64],
    p: &GbdtParams,
) -> Vec<Vec<Option<f64>>> {
    let gs: f64 = rows.iter().map(|&i| g[i]).sum();
    let hs: f64 = rows.iter().map(|&i| h[i]).sum();
    parts
        .iter()
        .map(|bf| {
            let (offsets, total) = bf.bin_offsets();
            let (mut hg, mut hh) = (vec![0.0; total], vec![0.0; total]);
            for &i in rows {
                for (f, &off) in offsets.iter().enumerate() {
                    let b = off + bf.indices[[i, f]] as usize;
                    hg[b] += g[i];
                    hh[b] += h[i];
                }
            }
            let gl = left_sums(&bf.shapes, &hg, 0.0, |a, b| a + b);
            let hl = left_sums(&bf.shapes, &hh, 0.0, |a, b| a + b);
            gl.iter()
                .zip(&hl)
                .map(|(&gl, &hl)| {
                    let (gr, hr) = (gs - gl, hs - hl);
                    (hl >= p.min_child_weight && hr >= p.min_child_weight)
                        .then(|| gl * gl / (hl + p.lambda) + gr * gr / (hr + p.lambda))
                })
                .collect()
        })
        .collect()
}

/// The secure forest with every split's threshold from its owner's part
/// (`parts[r]` is rank r's).
fn merged(parts: &[TreeModelFile]) -> Result<Vec<Tree>, DemoError> {
    let forests = parts
        .iter()
        .enumerate()
        .map(|(r, p)| p.forest(r))
        .collect::<Result<Vec<_>, _>>()?;
    let mut out = forests.first().cloned().unwrap_or_default();
    for (t, tree) in out.iter_mut().enumerate() {
        for (id, node) in tree.nodes.iter_mut().enumerate() {
            if let Node::Split { party, .. } = *node {
                *node = forests
                    .get(party)
                    .and_then(|f| f.get(t))
                    .and_then(|tree| tree.nodes.get(id))
                    .copied()
                    .ok_or(DemoError::Missing(
                        "a split's owner's model part lacks the node",
                    ))?;
            }
        }
    }
    Ok(out)
}

/// Replays the forest of `parts` on the training rows `train` (by rank)
/// with labels `y` (logistic loss, every row in every tree).
pub fn replay(
    parts: &[TreeModelFile],
    train: &[BinnedFeatures],
    y: &[f64],
    p: &GbdtParams,
) -> Result<Replay, DemoError> {
    let forest = merged(parts)?;
    let weights = parts[0].leaf_weights.clone().ok_or(DemoError::Missing(
        "the label holder's part has no leaf weights",
    ))?;
    let base = parts[0].base_margin.ok_or(DemoError::Missing(
        "the label holder's part has no base margin",
    ))?;
    let cands: Vec<Vec<Threshold>> = train.iter().map(|bf| candidates(&bf.shapes)).collect();
    let mut out = Replay {
        forest: Vec::new(),
        near_ties: Vec::new(),
        wrong: Vec::new(),
        leaf_gap: 0.0,
        gain_gap: 0.0,
    };
    let mut f = vec![base; y.len()];
    for (t, (tree, w)) in forest.iter().zip(&weights).enumerate() {
        let prob: Vec<f64> = f.iter().map(|z| 1.0 / (1.0 + (-z).exp())).collect();
        let g: Vec<f64> = prob.iter().zip(y).map(|(p, y)| p - y).collect();
        let h: Vec<f64> = prob.iter().map(|p| p * (1.0 - p)).collect();
        let mut at: Vec<Option<(Vec<usize>, usize)>> = vec![None; tree.nodes.len()];
        at[0] = Some(((0..y.len()).collect(), 0));
        for (id, node) in tree.nodes.iter().enumerate() {
            let (rows, depth) = at[id].take().ok_or(DemoError::Missing(
                "a node of the secure forest is on no path from its root",
            ))?;
            let gs: f64 = rows.iter().map(|&i| g[i]).sum();
            let hs: f64 = rows.iter().map(|&i| h[i]).sum();
            let parent = gs * gs / (hs + p.lambda);
            let all = scores(train, &rows, &g, &h, p);
            let best = all
                .iter()
                .flatten()
                .flatten()
                .copied()
                .fold(f64::MIN, f64::max);
            let margin = GAIN_RESOLUTION * best.abs().max(1.0);
            match *node {
                Node::Split {
                    party,
                    threshold,
                    left,
                    right,
                } => {
                    let chosen = cands[party]
                        .iter()
                        .position(|c| *c == threshold)
                        .and_then(|c| all[party][c]);
                    let Some(chosen) = chosen else {
                        out.wrong
                            .push(format!("tree {t}, node {id}: not a valid candidate"));
                        continue;
                    };
                    if chosen < best - margin || chosen - parent <= p.gamma - margin {
                        out.wrong.push(format!(
                            "tree {t}, node {id}: score {chosen:.4}, best {best:.4}"
                        ));
                    } else {
                        // The reference takes the first best candidate.
                        let first = all.iter().flatten().position(|s| *s == Some(best));
                        let mine = cands[..party].iter().map(Vec::len).sum::<usize>()
                            + cands[party]
                                .iter()
                                .position(|c| *c == threshold)
                                .unwrap_or(0);
                        if first != Some(mine) {
                            out.near_ties.push(NearTie {
                                at: (t, id),
                                scores: (chosen, best),
                            });
                        }
                    }
                    if let Some(opened) = own_gain(&parts[party], t, id) {
                        out.gain_gap = out.gain_gap.max((opened - (chosen - parent)).abs());
                    }
                    let (l, r): (Vec<usize>, Vec<usize>) = rows
                        .iter()
                        .partition(|&&i| train[party].goes_left(i, &threshold));
                    at[left] = Some((l, depth + 1));
                    at[right] = Some((r, depth + 1));
                }
                Node::Leaf { leaf } => {
                    let floor = p.gamma.max(1e-6);
                    if depth < p.max_depth && best - parent > floor + margin {
                        out.wrong.push(format!(
                            "tree {t}, node {id}: a leaf, but plaintext splits it (gain {:.4})",
                            best - parent
                        ));
                    }
                    let secure = *w.get(leaf).ok_or(DemoError::Missing(
                        "the label holder's part has fewer leaf weights than leaves",
                    ))?;
                    let plain = -p.learning_rate * gs / (hs + p.lambda);
                    out.leaf_gap = out.leaf_gap.max((secure - plain).abs());
                    for &i in &rows {
                        f[i] += secure;
                    }
                }
            }
        }
    }
    out.forest = forest;
    Ok(out)
}

/// The gain of split `id` of tree `t` as opened to its owner.
fn own_gain(part: &TreeModelFile, t: usize, id: usize) -> Option<f64> {
    match part.trees.get(t)?.get(id)? {
        indomain_learn::tree::model::NodeRecord::Split(s) => s.own.as_ref()?.gain,
        indomain_learn::tree::model::NodeRecord::Leaf(_) => None,
    }
}

/// Margins of rows `parts` (by rank) under `forest` with the label
/// holder's leaf weights and base margin.
pub fn margins(
    forest: &[Tree],
    label_part: &TreeModelFile,
    parts: &[BinnedFeatures],
) -> Result<Vec<f64>, DemoError> {
    let weights = label_part.leaf_weights.as_ref().ok_or(DemoError::Missing(
        "the label holder's part has no leaf weights",
    ))?;
    let base = label_part.base_margin.unwrap_or_default();
    let n = parts.first().map_or(0, BinnedFeatures::rows);
    Ok((0..n)
        .map(|i| {
            base + forest
                .iter()
                .zip(weights)
                .map(|(tree, w)| w[tree.leaf_of(|party, t| parts[party].goes_left(i, t))])
                .sum::<f64>()
        })
        .collect())
}
