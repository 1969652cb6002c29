//! GGM trees (Goldreich–Goldwasser–Micali) grown many at once, level by
//! level, over a domain of any size n: the punctured PRF of single-point
//! VOLE ([`crate::pprf`]) as the two-party bin-sum masks of
//! `indomain-mpc` use it, one tree per row and feature.
//!
//! A tree has d = ⌈log2 n⌉ levels below its root; level l keeps only the
//! w_l = ⌈n / 2^(d−l)⌉ nodes whose subtrees hold a leaf below n (the tree
//! pruned to the domain, so n = 33 costs 2·(1+2+3+5+9+17) = 74 AES blocks
//! rather than the full tree's 126). Node i's children are 2i (left,
//! G_0) and 2i + 1 (right, G_1) with G_b(s) = AES_b(s) ⊕ s under two
//! fixed keys, the length doubler of [`crate::pprf`]: a power-of-two
//! domain grows exactly the leaves of [`crate::pprf::grow`].
//!
//! Every level of every tree in a call is one fixed-key AES pass over all
//! trees' nodes (so AES-NI pipelines whole levels, and nothing is
//! allocated per tree); trees are stored one after another, w_l nodes
//! each.
//!
//! What each side learns is as in [`crate::pprf`]: the sender's level sums
//! (the XOR of the kept left children and of the kept right children) are
//! sent masked by random OTs; the receiver learns, per level, the sum of
//! the side off its point's path, from which it regrows every kept node
//! but the path's. Pruning changes nothing the receiver can learn: a sum
//! over kept nodes only omits nodes that exist in neither party's tree,
//! and when the path's sibling is pruned the sum it learns is one it
//! could compute itself.

use crate::prf::Aes;
use std::sync::LazyLock;

/// The two fixed keys of the length doubler: the same as
/// [`crate::pprf`]'s, so both grow the same trees.
static LEFT: LazyLock<Aes> = LazyLock::new(|| Aes::new(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c834));
static RIGHT: LazyLock<Aes> = LazyLock::new(|| Aes::new(0x2545_f491_4f6c_dd1d_bf58_476d_1ce4_e5b9));

/// The shape of every tree of a forest: a domain of `leaves` points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Domain {
    leaves: usize,
    depth: usize,
}

/// Buffers reused from call to call (one per thread).
#[derive(Debug, Default)]
pub struct Scratch {
    left: Vec<u128>,
    right: Vec<u128>,
    next: Vec<u128>,
}

impl Domain {
    /// A domain of `leaves` points (at least one).
    pub fn new(leaves: usize) -> Self {
        let leaves = leaves.max(1);
        Self {
            leaves,
            depth: leaves.next_power_of_two().trailing_zeros() as usize,
        }
    }

    /// Levels below the root: ⌈log2 n⌉.
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// Points of the domain (leaves of a tree).
    pub fn leaves(&self) -> usize {
        self.leaves
    }

    /// Nodes kept at `level` (0 = the root).
    pub fn width(&self, level: usize) -> usize {
        self.leaves.div_ceil(1 << (self.depth - level))
    }

    /// AES blocks to grow one tree: two per kept node above the leaves.
    pub fn blocks_per_tree(&self) -> usize {
        2 * (0..self.depth).map(|l| self.width(l)).sum::<usize>()
    }

    /// Grows one tree per root. `nodes` ends with the leaves, tree after
    /// tree (n each); `sums` with, per tree and level (tree-major), the
    /// XOR of the kept left children and of the kept right children.
    pub fn grow(
        &self,
        roots: &[u128],
        nodes: &mut Vec<u128>,
        sums: &mut Vec<[u128; 2]>,
        scratch: &mut Scratch,
    ) {
        let trees = roots.len();
        nodes.clear();
        nodes.extend_from_slice(roots);
        sums.clear();
        sums.resize(trees * self.depth, [0; 2]);
        for level in 0..self.depth {
            let (w, next) = (self.width(level), self.width(level + 1));
            self.expand(nodes, trees, level, scratch);
            for t in 0..trees {
                let left = xor_all(&scratch.left[t * w..(t + 1) * w]);
                let right = xor_all(&scratch.right[t * w..t * w + next - w]);
                sums[t * self.depth + level] = [left, right];
            }
        }
    }

    /// The receiver's regrowth, one tree per point: from `chosen` (per tree
    /// and level, tree-major, the sum of the side off the point's path,
    /// i.e. that of 1 − [`crate::pprf::bit`]), every leaf but the point's,
    /// which is left 0. `nodes` ends as in [`Domain::grow`].
    pub fn regrow(
        &self,
        points: &[usize],
        chosen: &[u128],
        nodes: &mut Vec<u128>,
        scratch: &mut Scratch,
    ) {
        let trees = points.len();
        nodes.clear();
        nodes.resize(trees, 0);
        for level in 0..self.depth {
            let (w, next) = (self.width(level), self.width(level + 1));
            self.expand(nodes, trees, level, scratch);
            for (t, &point) in points.iter().enumerate() {
                // The path's node at this level was a placeholder: its
                // children are wrong; the off-path one comes from the sum.
                let parent = point >> (self.depth - level);
                let child = point >> (self.depth - level - 1);
                let side = 1 - (child & 1);
                let sibling = 2 * parent + side;
                let row = &mut nodes[t * next..(t + 1) * next];
                if sibling < next {
                    let known = if side == 0 {
                        xor_except(&scratch.left[t * w..(t + 1) * w], parent)
                    } else {
                        xor_except(&scratch.right[t * w..t * w + next - w], parent)
                    };
                    row[sibling] = chosen[t * self.depth + level] ^ known;
                }
                row[child] = 0;
            }
        }
    }

    /// Replaces the trees' nodes at `level` (w each) by their kept
    /// children; leaves the children's halves in `scratch.left` and
    /// `scratch.right` (w each per tree; the right one of the last node
    /// may be dropped).
    fn expand(&self, nodes: &mut Vec<u128>, trees: usize, level: usize, scratch: &mut Scratch) {
        let (w, next) = (self.width(level), self.width(level + 1));
        mmo_into(&LEFT, nodes, &mut scratch.left);
        mmo_into(&RIGHT, nodes, &mut scratch.right);
        scratch.next.clear();
        scratch.next.resize(trees * next, 0);
        let parents = scratch
            .left
            .chunks_exact(w)
            .zip(scratch.right.chunks_exact(w));
        for (children, (left, right)) in scratch.next.chunks_exact_mut(next).zip(parents) {
            for (i, child) in children.iter_mut().enumerate() {
                *child = if i % 2 == 0 {
                    left[i / 2]
                } else {
                    right[i / 2]
                };
            }
        }
        std::mem::swap(nodes, &mut scratch.next);
    }
}

/// out = AES_k(x) ⊕ x for every block x of `input` (MMO).
fn mmo_into(key: &Aes, input: &[u128], out: &mut Vec<u128>) {
    out.clear();
    out.extend_from_slice(input);
    key.encrypt(out);
    for (o, x) in out.iter_mut().zip(input) {
        *o ^= x;
    }
}

fn xor_all(blocks: &[u128]) -> u128 {
    blocks.iter().fold(0, |a, b| a ^ b)
}

fn xor_except(blocks: &[u128], skip: usize) -> u128 {
    blocks
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != skip)
        .fold(0, |a, (_, b)| a ^ b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pprf;
    use rand::{RngExt, SeedableRng, rngs::StdRng};

    #[test]
    fn widths_keep_exactly_the_domain() {
        for n in 1..70 {
            let d = Domain::new(n);
            assert_eq!(d.width(0), 1);
            assert_eq!(d.width(d.depth()), n);
            assert!(1 << d.depth() >= n && (d.depth() == 0 || 1 << (d.depth() - 1) < n));
        }
        assert_eq!(Domain::new(33).blocks_per_tree(), 74);
    }

    #[test]
    fn power_of_two_domains_grow_the_pprf_trees() {
        let mut rng = StdRng::seed_from_u64(1);
        for depth in 0..6 {
            let domain = Domain::new(1 << depth);
            let roots: Vec<u128> = (0..5).map(|_| rng.random()).collect();
            let (mut nodes, mut sums) = (Vec::new(), Vec::new());
            domain.grow(&roots, &mut nodes, &mut sums, &mut Scratch::default());
            for (t, root) in roots.iter().enumerate() {
                let mut tree = vec![0u128; 1 << depth];
                let want = pprf::grow(&mut tree, *root, depth);
                assert_eq!(&nodes[t << depth..(t + 1) << depth], &tree[..]);
                assert_eq!(&sums[t * depth..(t + 1) * depth], &want[..]);
            }
        }
    }

    #[test]
    fn regrowth_recovers_every_leaf_but_the_point() {
        let mut rng = StdRng::seed_from_u64(2);
        let mut scratch = Scratch::default();
        for n in 1..40 {
            let domain = Domain::new(n);
            let depth = domain.depth();
            // One tree per point, every point of the domain.
            let roots: Vec<u128> = (0..n).map(|_| rng.random()).collect();
            let points: Vec<usize> = (0..n).collect();
            let (mut nodes, mut sums) = (Vec::new(), Vec::new());
            domain.grow(&roots, &mut nodes, &mut sums, &mut scratch);
            let chosen: Vec<u128> = points
                .iter()
                .enumerate()
                .flat_map(|(t, &p)| {
                    let sums = &sums;
                    (0..depth).map(move |l| sums[t * depth + l][1 - pprf::bit(p, l, depth)])
                })
                .collect();
            let mut got = Vec::new();
            domain.regrow(&points, &chosen, &mut got, &mut scratch);
            assert_eq!(got.len(), n * n);
            for (t, &p) in points.iter().enumerate() {
                for i in 0..n {
                    if i == p {
                        assert_eq!(got[t * n + i], 0, "n {n} point {p}");
                        if n > 1 {
                            assert_ne!(nodes[t * n + i], 0);
                        }
                    } else {
                        assert_eq!(got[t * n + i], nodes[t * n + i], "n {n} point {p} leaf {i}");
                    }
                }
            }
        }
    }
}
