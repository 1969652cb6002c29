//! Single-point VOLE from a punctured PRF: t GGM trees of depth d, one a
//! block of the noise vector (Boyle et al. CCS 2019; Weng et al. S&P 2021).
//!
//! The sender (holding Δ) grows each tree from a random root with the
//! length-doubling G(s) = (AES_0(s) ⊕ s, AES_1(s) ⊕ s) under two fixed keys
//! and sends, for every level, the XOR of its left children and of its
//! right children, each masked by one random OT. The receiver, whose OT
//! choices are the complements of the bits of its point α, learns every
//! leaf but the one at α. With one base VOLE z = y + β·Δ per tree, the
//! sender also sends c = Σ leaves + y; the receiver sets w_α = c + Σ_{i≠α}
//! leaves + z = v_α + β·Δ. So w = v + u·Δ where u is β at α and 0
//! elsewhere: the sender learns nothing of α or β (every message is masked
//! by an OT key it does not know the other half of), the receiver nothing
//! of v_α.

use crate::prf::Aes;
use crate::{OtError, Phase};
use indomain_net::Channel;
use rand::{CryptoRng, RngExt};
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

/// The two fixed keys of the length-doubling PRG (public constants).
static LEFT: LazyLock<Aes> = LazyLock::new(|| Aes::new(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c834));
static RIGHT: LazyLock<Aes> = LazyLock::new(|| Aes::new(0x2545_f491_4f6c_dd1d_bf58_476d_1ce4_e5b9));

/// The shape of the trees: `trees` of `depth` levels, 2^depth leaves each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// Number of trees (the noise weight t).
    pub trees: usize,
    /// Levels below the root.
    pub depth: usize,
}

impl Shape {
    /// Leaves in one tree.
    pub fn leaves(&self) -> usize {
        1 << self.depth
    }

    /// Bytes of the sender's message.
    fn message_bytes(&self) -> usize {
        self.trees * (2 * self.depth + 1) * 16
    }
}

/// The sender's side. `q` holds `depth` COTs a tree (the receiver's choices
/// are the complemented bits of its α, top level first), `y` one base VOLE
/// value a tree. Returns v, tree after tree.
pub fn send<C, R>(
    ch: &mut C,
    shape: Shape,
    delta: u128,
    q: &[u128],
    y: &[u128],
    rng: &mut R,
) -> Result<Vec<u128>, OtError>
where
    C: Channel + ?Sized,
    R: CryptoRng + ?Sized,
{
    let roots: Vec<u128> = (0..shape.trees).map(|_| rng.random()).collect();
    let mut leaves = vec![0u128; shape.trees * shape.leaves()];
    let msg: Vec<u8> = leaves
        .par_chunks_mut(shape.leaves())
        .enumerate()
        .flat_map_iter(|(k, tree)| {
            let sums = grow(tree, roots[k], shape.depth);
            let mut out = Vec::with_capacity((2 * shape.depth + 1) * 16);
            for (l, [left, right]) in sums.iter().enumerate() {
                let j = k * shape.depth + l;
                out.extend_from_slice(&(left ^ ot_hash(j, q[j])).to_le_bytes());
                out.extend_from_slice(&(right ^ ot_hash(j, q[j] ^ delta)).to_le_bytes());
            }
            let total = tree.iter().fold(0, |a, b| a ^ b);
            out.extend_from_slice(&(total ^ y[k]).to_le_bytes());
            out
        })
        .collect();
    ch.send(&msg)
        .map_err(OtError::net(ch.peer(), Phase::Pprf))?;
    Ok(leaves)
}

/// The receiver's side, with its points `alpha` (one a tree, each below
/// 2^depth), the COT values `t` (choices: complemented α bits) and per tree
/// the base VOLE value z = y + β·Δ. Returns w, tree after tree.
pub fn receive<C: Channel + ?Sized>(
    ch: &mut C,
    shape: Shape,
    alpha: &[usize],
    t: &[u128],
    z: &[u128],
) -> Result<Vec<u128>, OtError> {
    let peer = ch.peer().to_string();
    let frame = ch.recv().map_err(OtError::net(&peer, Phase::Pprf))?;
    if frame.len() != shape.message_bytes() {
        return Err(OtError::BatchLength {
            peer,
            phase: Phase::Pprf,
            expected: shape.message_bytes(),
            got: frame.len(),
        });
    }
    let per_tree = (2 * shape.depth + 1) * 16;
    let mut leaves = vec![0u128; shape.trees * shape.leaves()];
    leaves
        .par_chunks_mut(shape.leaves())
        .zip(frame.par_chunks_exact(per_tree))
        .enumerate()
        .for_each(|(k, (tree, msg))| {
            let blocks: Vec<u128> = msg.chunks_exact(16).map(read_block).collect();
            let sums: Vec<u128> = (0..shape.depth)
                .map(|l| {
                    let j = k * shape.depth + l;
                    let side = 1 - bit(alpha[k], l, shape.depth);
                    blocks[2 * l + side] ^ ot_hash(j, t[j])
                })
                .collect();
            regrow(tree, alpha[k], &sums, shape.depth);
            let rest = tree.iter().fold(0, |a, b| a ^ b);
            tree[alpha[k]] = blocks[2 * shape.depth] ^ rest ^ z[k];
        });
    Ok(leaves)
}

/// Grows one tree into `tree` (its 2^`depth` leaves) from `root`; returns
/// for every level the XOR of its left children and of its right children.
/// (Also the GGM tree of the two-party bin-sum masks of `indomain-mpc`.)
pub fn grow(tree: &mut [u128], root: u128, depth: usize) -> Vec<[u128; 2]> {
    let mut sums = Vec::with_capacity(depth);
    tree[0] = root;
    for level in 0..depth {
        let width = 1 << level;
        expand_level(tree, width);
        let mut s = [0u128; 2];
        for (i, v) in tree[..2 * width].iter().enumerate() {
            s[i & 1] ^= v;
        }
        sums.push(s);
    }
    sums
}

/// Replaces the `width` nodes at the front of `tree` by their 2·width
/// children (child 2i left, 2i + 1 right of node i), back to front so that
/// no parent is overwritten before it is read.
fn expand_level(tree: &mut [u128], width: usize) {
    let parents = tree[..width].to_vec();
    let mut left = parents.clone();
    let mut right = parents;
    LEFT.mmo(&mut left);
    RIGHT.mmo(&mut right);
    for i in 0..width {
        tree[2 * i] = left[i];
        tree[2 * i + 1] = right[i];
    }
}

/// The receiver's regrowth: every leaf but the one at α (left 0), from the
/// level sums it learned (the side off the path at every level, the
/// [`bit`] of α complemented).
pub fn regrow(tree: &mut [u128], alpha: usize, sums: &[u128], depth: usize) {
    tree[0] = 0;
    for (level, sum) in sums.iter().enumerate() {
        let width = 1 << level;
        expand_level(tree, width);
        // The path node of the previous level was a placeholder: its
        // children are wrong, the off-path one is fixed from the sum.
        let parent = alpha >> (depth - level);
        let side = 1 - bit(alpha, level, depth);
        let mut known = 0u128;
        for (i, v) in tree[..2 * width].iter().enumerate() {
            if i & 1 == side && i / 2 != parent {
                known ^= v;
            }
        }
        tree[2 * parent + side] = sum ^ known;
        tree[2 * parent + 1 - side] = 0;
    }
}

/// Bit of α that chooses the child at `level` (0 = just below the root).
pub fn bit(alpha: usize, level: usize, depth: usize) -> usize {
    (alpha >> (depth - 1 - level)) & 1
}

/// The random-OT key of COT j from one of its correlated values: SHA-256
/// with the index as tweak (correlation robust, so q and q ⊕ Δ give
/// independent-looking keys).
fn ot_hash(j: usize, value: u128) -> u128 {
    let mut h = Sha256::new();
    h.update(b"indomain/psi/rr22/v1/pprf-ot");
    h.update((j as u64).to_le_bytes());
    h.update(value.to_le_bytes());
    let d = h.finalize();
    read_block(&d[..16])
}

fn read_block(bytes: &[u8]) -> u128 {
    let mut b = [0u8; 16];
    b.copy_from_slice(bytes);
    u128::from_le_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{SeedableRng, rngs::StdRng};

    #[test]
    fn regrowth_recovers_every_leaf_but_alpha() {
        let mut rng = StdRng::seed_from_u64(4);
        for depth in 1..6 {
            let root: u128 = rng.random();
            let mut tree = vec![0u128; 1 << depth];
            let sums = grow(&mut tree, root, depth);
            for alpha in 0..1 << depth {
                let chosen: Vec<u128> = (0..depth)
                    .map(|l| sums[l][1 - bit(alpha, l, depth)])
                    .collect();
                let mut got = vec![0u128; 1 << depth];
                regrow(&mut got, alpha, &chosen, depth);
                for i in 0..1 << depth {
                    if i != alpha {
                        assert_eq!(got[i], tree[i], "depth {depth} alpha {alpha} leaf {i}");
                    }
                }
                assert_ne!(got[alpha], tree[alpha]);
            }
        }
    }
}
