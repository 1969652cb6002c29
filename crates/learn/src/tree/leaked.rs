//! Growing one tree with the instance space leaked (SecureBoost's leakage,
//! Cheng et al. 2019), chosen per job ([`super::InstanceSpace::Leaked`],
//! `--leak-instance-space`).
//!
//! What changes against the hidden mode (`train.rs`, step 3; `grow.rs`):
//!
//! - **Membership is public to the data parties.** At every split the
//!   owner evaluates its threshold on the node's rows in the clear and
//!   sends every other data party one bit per row of the node (1: left),
//!   in the node's row order (ascending row numbers), packed eight to a
//!   byte, least significant bit first, the last byte padded with zeros:
//!   [`encode_partition`]. Every data party then knows the rows of every
//!   node. The dealer receives no partition; it learns the size of every
//!   node whose histograms it deals masks for (the root and the smaller
//!   child of each split), as the shape of a bin registration.
//! - **Histograms cost a node's own rows.** The histograms of a node are
//!   the same bin sums (`indomain_mpc::bins`) over the owner's bins of the
//!   node's rows only, registered for that node and released after its
//!   sums: per split the smaller child's (ties: the left), the larger is
//!   the parent's minus it, on shares. A level costs at most n/2 rows of
//!   bin sums per owner below the root instead of n per node.
//! - **No membership products.** g, h of a node are its rows' shares (a
//!   local selection), G and H their sums, and a leaf's weight is added
//!   to its rows' scores locally.
//!
//! Gradients, hessians, histograms, gains and leaf weights stay shared as
//! in the hidden mode; the split search (`split.rs`) is the same, so the
//! same bins give the same forest in both modes.

use super::forest::Node;
use super::grow::{Grown, Histograms, Job, Leaf, Reach, finish_tree, total};
use super::split::{self, NodeInput};
use super::{Progress, split::Decision};
use crate::LearnError;
use indomain_mpc::{BinShape, Correlations, Permutations, Session, Shared};
use ndarray::Axis;

/// One open node of the level being grown: its rows and histograms.
struct Open {
    id: usize,
    rows: Vec<u32>,
    hist: Histograms,
}

/// A split node waiting for its children's histograms.
struct Pending {
    hist: Histograms,
    left: (usize, Vec<u32>),
    right: (usize, Vec<u32>),
}

/// The partition message: one bit per row of the node (1: the row goes
/// left), least significant bit first, zero-padded to whole bytes.
pub fn encode_partition(left: &[bool]) -> Vec<u8> {
    let mut out = vec![0u8; left.len().div_ceil(8)];
    for (i, &l) in left.iter().enumerate() {
        out[i / 8] |= (l as u8) << (i % 8);
    }
    out
}

/// Reads a partition of `rows` rows; `None` for a frame of another length
/// or with a padding bit set.
pub fn decode_partition(frame: &[u8], rows: usize) -> Option<Vec<bool>> {
    if frame.len() != rows.div_ceil(8) {
        return None;
    }
    if !rows.is_multiple_of(8) && frame[rows / 8] >> (rows % 8) != 0 {
        return None;
    }
    Some(
        (0..rows)
            .map(|i| frame[i / 8] >> (i % 8) & 1 == 1)
            .collect(),
    )
}

/// Grows one tree with public node membership; see the module
/// documentation.
pub(super) fn grow<C: Correlations>(
    s: &mut Session<'_, C>,
    job: &Job<'_>,
    g: &Shared,
    h: &Shared,
    tree: usize,
    progress: &mut dyn FnMut(Progress),
) -> Result<Grown, LearnError> {
    let p = job.params;
    let root: Vec<u32> = (0..job.rows as u32).collect();
    let hist = histograms(s, job, &root, g, h)?;
    let mut open = vec![Open {
        id: 0,
        rows: root,
        hist,
    }];
    let mut nodes: Vec<Option<Node>> = vec![None];
    let mut leaves: Vec<Leaf> = Vec::new();
    let mut decisions = Vec::new();
    let ctx = job.split_ctx();
    let leaf = |id: usize, rows: Vec<u32>| Leaf {
        id,
        g: sum_over(g, &rows),
        h: sum_over(h, &rows),
        reach: Reach::Rows(rows),
    };
    for depth in 0..p.max_depth {
        if open.is_empty() {
            break;
        }
        let inputs: Vec<NodeInput<'_>> = open
            .iter()
            .map(|o| NodeInput::new(sum_over(g, &o.rows), sum_over(h, &o.rows), &o.hist))
            .collect();
        let found = split::search(s, &inputs, &ctx)?;
        drop(inputs);
        let splits: Vec<(&Open, &Decision)> = open
            .iter()
            .zip(&found)
            .filter_map(|(o, d)| d.as_ref().map(|d| (o, d)))
            .collect();
        let mut partitions = partitions(s, job, &splits)?.into_iter();
        let last = depth + 1 == p.max_depth;
        let mut pending = Vec::new();
        for (o, d) in open.into_iter().zip(found) {
            let Some(d) = d else {
                leaves.push(leaf(o.id, o.rows));
                continue;
            };
            let goes_left = partitions.next().unwrap_or_default();
            let (mut lrows, mut rrows) = (Vec::new(), Vec::new());
            for (&r, &l) in o.rows.iter().zip(&goes_left) {
                let side = if l { &mut lrows } else { &mut rrows };
                side.push(r);
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
            if last {
                leaves.push(leaf(left, lrows));
                leaves.push(leaf(right, rrows));
            } else {
                pending.push(Pending {
                    hist: o.hist,
                    left: (left, lrows),
                    right: (right, rrows),
                });
            }
        }
        let mut next = Vec::with_capacity(2 * pending.len());
        for pd in pending {
            let left_smaller = pd.left.1.len() <= pd.right.1.len();
            let small = if left_smaller {
                &pd.left.1
            } else {
                &pd.right.1
            };
            let small_hist = histograms(s, job, small, g, h)?;
            let large_hist = subtract(&pd.hist, &small_hist)?;
            let (lh, rh) = if left_smaller {
                (small_hist, large_hist)
            } else {
                (large_hist, small_hist)
            };
            next.push(Open {
                id: pd.left.0,
                rows: pd.left.1,
                hist: lh,
            });
            next.push(Open {
                id: pd.right.0,
                rows: pd.right.1,
                hist: rh,
            });
        }
        open = next;
        progress(Progress::Level { tree, depth });
    }
    for o in open {
        leaves.push(leaf(o.id, o.rows));
    }
    finish_tree(nodes, leaves, decisions)
}

/// A share of Σ v over `rows`.
fn sum_over(v: &Shared, rows: &[u32]) -> u64 {
    total(&rows.iter().map(|&r| v.0[r as usize]).collect::<Vec<_>>())
}

/// Every split's partition of its node's rows (true: left): each owner
/// sends its splits' partitions to every other computing party, then every
/// party reads the others' (one round for the level).
fn partitions<C: Correlations>(
    s: &mut Session<'_, C>,
    job: &Job<'_>,
    splits: &[(&Open, &Decision)],
) -> Result<Vec<Vec<bool>>, LearnError> {
    let rank = s.rank();
    let computing = s.roster().computing().to_vec();
    let mut out: Vec<Option<Vec<bool>>> = vec![None; splits.len()];
    for (k, (o, d)) in splits.iter().enumerate() {
        if d.party != rank {
            continue;
        }
        let left: Vec<bool> = o
            .rows
            .iter()
            .map(|&r| job.own.goes_left(r as usize, &d.threshold))
            .collect();
        let frame = encode_partition(&left);
        for (r, &index) in computing.iter().enumerate() {
            if r != rank {
                s.parties_mut().channel(index)?.send(&frame)?;
            }
        }
        out[k] = Some(left);
    }
    for (k, (o, d)) in splits.iter().enumerate() {
        if d.party == rank {
            continue;
        }
        let ch = s.parties_mut().channel(computing[d.party])?;
        let frame = ch.recv()?;
        let left = decode_partition(&frame, o.rows.len()).ok_or_else(|| LearnError::Protocol {
            peer: ch.peer().to_string(),
            phase: "tree node partition",
            reason: format!(
                "a partition of {} bytes for a node of {} rows (or a padding bit set)",
                frame.len(),
                o.rows.len()
            ),
        })?;
        out[k] = Some(left);
    }
    Ok(out.into_iter().map(Option::unwrap_or_default).collect())
}

/// Shares of the G and H histograms of the node holding `rows`, per rank:
/// each owner's bins of these rows registered, summed and released.
fn histograms<C: Correlations>(
    s: &mut Session<'_, C>,
    job: &Job<'_>,
    rows: &[u32],
    g: &Shared,
    h: &Shared,
) -> Result<Histograms, LearnError> {
    let pick = |v: &Shared| Shared(rows.iter().map(|&r| v.0[r as usize]).collect());
    let vectors = [pick(g), pick(h)];
    let at: Vec<usize> = rows.iter().map(|&r| r as usize).collect();
    let rank = s.rank();
    let mut out = Vec::with_capacity(job.shapes.len());
    for (r, shapes) in job.shapes.iter().enumerate() {
        if shapes.is_empty() {
            out.push(None);
            continue;
        }
        if rows.is_empty() {
            // An empty child: its histograms are zero (shares of zero).
            let bins: usize = shapes.iter().map(|f| f.bins as usize).sum();
            out.push(Some((Shared(vec![0; bins]), Shared(vec![0; bins]))));
            continue;
        }
        let shape = BinShape {
            rows: rows.len(),
            bins: shapes.iter().map(|f| f.bins).collect(),
            permutations: Permutations::PerFeature,
        };
        let own = (r == rank).then(|| job.own.indices.select(Axis(0), &at));
        let fixed = s.fix_bins(r, &shape, own.as_ref().map(|a| a.view()))?;
        let sums = s.bin_sums(&fixed, &vectors)?;
        s.release_bins(fixed)?;
        let mut it = sums.into_iter();
        let gs = it.next().unwrap_or_default();
        let hs = it.next().unwrap_or_default();
        out.push(Some((gs, hs)));
    }
    Ok(out)
}

/// The parent's histograms minus a child's: the sibling's.
fn subtract(parent: &Histograms, child: &Histograms) -> Result<Histograms, LearnError> {
    parent
        .iter()
        .zip(child)
        .map(|(p, c)| match (p, c) {
            (Some((pg, ph)), Some((cg, ch))) => Ok(Some((pg.sub(cg)?, ph.sub(ch)?))),
            _ => Ok(None),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_round_trip_and_bad_frames_are_refused() {
        for rows in [0usize, 1, 7, 8, 9, 64, 100] {
            let left: Vec<bool> = (0..rows).map(|i| (i * 7 + 3) % 5 < 2).collect();
            let frame = encode_partition(&left);
            assert_eq!(frame.len(), rows.div_ceil(8));
            assert_eq!(decode_partition(&frame, rows), Some(left));
        }
        // Known answer: rows 0, 2 and 9 of 10 go left.
        let mut left = vec![false; 10];
        for i in [0, 2, 9] {
            left[i] = true;
        }
        assert_eq!(encode_partition(&left), vec![0b0000_0101, 0b0000_0010]);
        // A short frame, a long frame, a padding bit.
        assert_eq!(decode_partition(&[0], 10), None);
        assert_eq!(decode_partition(&[0, 0, 0], 10), None);
        assert_eq!(decode_partition(&[0, 0b100], 10), None);
    }
}
