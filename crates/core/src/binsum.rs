//! Per-bin sums over a party's private bins: the local algebra of the
//! bin-sum kernel (`indomain_mpc::bins`), with no I/O.
//!
//! A party P (the **owner**) holds, for each of its features f, a bin index
//! per row: a one-hot indicator matrix B_f (rows × bins_f) that only P
//! knows. The kernel gives the computing parties shares of B_fᵀ·v for shared
//! vectors v. Online, every other party masks its share with a fresh mask
//! a_j and sends it to P, who sums the masked vector per bin locally (n·F
//! additions); what remains is a **bin-sum mask**: shares of B_fᵀ·a for every
//! feature. This module holds what generating those masks with a dealer
//! needs, without the dealer ever learning a bin:
//!
//! 1. **Slots.** The rows are padded to N (about n/16 more, public) and every
//!    feature's rows are laid out in blocks of a public size s_f: P puts the
//!    rows of bin b into ⌈c_b/s_f⌉ whole blocks of their own, and padding
//!    (value 0) fills every other slot ([`SlotPlan`], [`Layout`]). Which
//!    blocks belong to which bin (the matrix G_f, blocks × bins) is P's
//!    secret; the block sizes are not, and do not depend on the data.
//! 2. **A permutation the dealer and P know** (σ, [`permutation`]): the
//!    dealer deals every other party j a fresh vector b_j in σ-order and P
//!    the correction c = σ(a) − Σ_j b_j ([`correction`]); P reveals to the
//!    others β_f = block ∘ σ⁻¹, which block each σ-position belongs to
//!    ([`Layout::positions`]). β_f is uniformly random among maps with the
//!    public block sizes, because σ is uniform and unknown to them. Every
//!    party sums its σ-ordered vector per block ([`block_sums`]): shares of
//!    the block sums of a.
//! 3. **Blocks to bins** (Gᵀ, a small matrix fixed for the whole job): P
//!    opens D_f = G_f − U_f once under a mask U_f the dealer knows, and the
//!    block sums are mapped to bins with SecureML's mask reuse
//!    ([`dense_t_times`], [`one_hot_t_times`]).
//!
//! This is the permute-and-share correlation of secret-shared shuffles
//! (Mohassel–Rindal–Rosulek, CCS 2020; Chase–Ghosh–Poburinnaya, Asiacrypt
//! 2020) dealt by the dealer, followed by a segmented sum whose segment
//! boundaries are hidden by the fixed-size blocks. docs/protocols.md, "Bin
//! sums", gives the costs and what each party learns.

use crate::CoreError;
use crate::prg::{Prg, Seed};
use rayon::prelude::*;

/// The padding: N = rows + max(⌈rows / PADDING⌉, bins + 1).
pub const PADDING: usize = 16;

/// The most rows a layout takes (slots are `u32`, and a dealt correction
/// of N elements must fit one frame of 2^23 elements).
pub const MAX_ROWS: usize = 7 << 20;

/// The public plan of one feature's slots: `count` blocks of `size`
/// slots, the last one possibly shorter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockPlan {
    /// Bins of the feature.
    pub bins: usize,
    /// Slots per block (s).
    pub size: usize,
    /// Number of blocks (M).
    pub count: usize,
}

/// The public plan of an owner's slots: padded length and each feature's
/// blocks. Every party derives it from the row count and the bins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotPlan {
    /// Rows of the owner's matrix (n).
    pub rows: usize,
    /// Slots of every feature (N ≥ n).
    pub padded: usize,
    /// One plan per feature.
    pub features: Vec<BlockPlan>,
}

impl SlotPlan {
    /// The plan for `rows` rows and features of `bins[f]` bins each (every
    /// feature at least one bin, at most 2^15).
    pub fn new(rows: usize, bins: &[u16]) -> Result<Self, CoreError> {
        if rows == 0 || rows > MAX_ROWS {
            return Err(CoreError::ShapeMismatch {
                what: "bin sums: rows (1 to the maximum)",
                expected: MAX_ROWS,
                got: rows,
            });
        }
        if let Some(&bad) = bins.iter().find(|&&b| b == 0 || b > 1 << 15) {
            return Err(CoreError::ShapeMismatch {
                what: "bin sums: bins of a feature (1 to 32768)",
                expected: 1 << 15,
                got: bad as usize,
            });
        }
        let widest = bins.iter().copied().max().unwrap_or(1) as usize;
        let padded = rows + rows.div_ceil(PADDING).max(widest + 1);
        let features = bins
            .iter()
            .map(|&b| {
                let bins = b as usize;
                let size = ((padded - rows) / (bins + 1)).max(1);
                BlockPlan {
                    bins,
                    size,
                    count: padded.div_ceil(size),
                }
            })
            .collect();
        Ok(Self {
            rows,
            padded,
            features,
        })
    }

    /// Σ blocks over the features.
    pub fn total_blocks(&self) -> usize {
        self.features.iter().map(|f| f.count).sum()
    }

    /// Σ bins over the features.
    pub fn total_bins(&self) -> usize {
        self.features.iter().map(|f| f.bins).sum()
    }
}

/// A uniformly random permutation of `0..len` from `seed`: element i is
/// the position of row i (Fisher–Yates with Lemire's unbiased draws).
pub fn permutation(seed: &Seed, len: usize) -> Vec<u32> {
    let mut prg = Prg::new(seed);
    let mut perm: Vec<u32> = (0..len as u32).collect();
    let mut pool = [0u64; 256];
    let mut used = pool.len();
    let mut draw = |prg: &mut Prg| {
        if used == pool.len() {
            prg.fill(&mut pool);
            used = 0;
        }
        used += 1;
        pool[used - 1]
    };
    for i in (1..len).rev() {
        let range = i as u64 + 1;
        // Lemire: the high word of x·range is uniform on 0..range once the
        // low word's biased zone is rejected.
        let threshold = range.wrapping_neg() % range;
        let j = loop {
            let m = draw(&mut prg) as u128 * range as u128;
            if (m as u64) >= threshold {
                break (m >> 64) as usize;
            }
        };
        perm.swap(i, j);
    }
    perm
}

/// Derives `count` seeds from one: the owner's permutations and masks all
/// come from the one seed the dealer sends it.
pub fn derive_seeds(master: &Seed, count: usize) -> Vec<Seed> {
    let mut words = vec![0u64; 2 * count];
    Prg::new(master).fill(&mut words);
    words
        .chunks_exact(2)
        .map(|w| {
            let mut s = [0u8; 16];
            s[..8].copy_from_slice(&w[0].to_le_bytes());
            s[8..].copy_from_slice(&w[1].to_le_bytes());
            Seed(s)
        })
        .collect()
}

/// One feature's layout at its owner: the block of every padded row
/// (rows first, then padding) and the bin of every block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// Block of padded row i (N entries).
    pub row_block: Vec<u16>,
    /// Bin of block m (M entries); blocks holding only padding say bin 0.
    pub block_bin: Vec<u16>,
}

impl Layout {
    /// Lays out one feature whose row i falls in bin `bin(i)` (every value
    /// below `plan.bins`).
    pub fn new(
        slots: &SlotPlan,
        plan: &BlockPlan,
        bin: impl Fn(usize) -> u16,
    ) -> Result<Self, CoreError> {
        let (rows, padded, s) = (slots.rows, slots.padded, plan.size);
        if plan.count > u16::MAX as usize + 1 {
            return Err(CoreError::ShapeMismatch {
                what: "bin sums: blocks of a feature (at most 65536)",
                expected: u16::MAX as usize + 1,
                got: plan.count,
            });
        }
        let mut counts = vec![0usize; plan.bins];
        for i in 0..rows {
            let b = bin(i) as usize;
            let slot = counts.get_mut(b).ok_or(CoreError::ShapeMismatch {
                what: "bin sums: a bin index (below the feature's bins)",
                expected: plan.bins,
                got: b,
            })?;
            *slot += 1;
        }
        // Bin b takes blocks start[b] .. start[b] + ⌈c_b/s⌉; the plan
        // guarantees they fit in the ⌊N/s⌋ whole blocks.
        let mut start = Vec::with_capacity(plan.bins);
        let mut block_bin = vec![0u16; plan.count];
        let mut next = 0usize;
        for (b, &c) in counts.iter().enumerate() {
            start.push(next);
            let k = c.div_ceil(s);
            block_bin[next..next + k].fill(b as u16);
            next += k;
        }
        if next > padded / s {
            return Err(CoreError::ShapeMismatch {
                what: "bin sums: whole blocks the bins need (at most)",
                expected: padded / s,
                got: next,
            });
        }
        let mut taken = vec![0usize; plan.bins];
        let mut row_block = vec![0u16; padded];
        let mut used = vec![false; padded];
        for (i, rb) in row_block.iter_mut().enumerate().take(rows) {
            let b = bin(i) as usize;
            let slot = start[b] * s + taken[b];
            taken[b] += 1;
            used[slot] = true;
            *rb = (slot / s) as u16;
        }
        let mut free = used
            .iter()
            .enumerate()
            .filter(|(_, u)| !**u)
            .map(|(x, _)| x);
        for rb in row_block.iter_mut().skip(rows) {
            let slot = free
                .next()
                .expect("N slots hold the n rows and the N − n padding");
            *rb = (slot / s) as u16;
        }
        Ok(Self {
            row_block,
            block_bin,
        })
    }

    /// β = block ∘ σ⁻¹: the block of σ-position p, for σ given as the
    /// position of each padded row.
    pub fn positions(&self, perm: &[u32]) -> Vec<u16> {
        let mut beta = vec![0u16; self.row_block.len()];
        for (&p, &block) in perm.iter().zip(&self.row_block) {
            beta[p as usize] = block;
        }
        beta
    }

    /// D = G − U for this feature's mask U (blocks × bins, row-major): what
    /// the owner opens once.
    pub fn masked(&self, u: &[u64], bins: usize) -> Vec<u64> {
        let mut d: Vec<u64> = u.iter().map(|x| x.wrapping_neg()).collect();
        for (m, &b) in self.block_bin.iter().enumerate() {
            d[m * bins + b as usize] = d[m * bins + b as usize].wrapping_add(1);
        }
        d
    }
}

/// Sums `values` (σ-ordered) per block, for a feature whose σ-positions
/// fall in blocks `beta`.
pub fn block_sums(beta: &[u16], values: &[u64], blocks: usize) -> Result<Vec<u64>, CoreError> {
    if beta.len() != values.len() {
        return Err(CoreError::ShapeMismatch {
            what: "bin sums: block positions and values",
            expected: beta.len(),
            got: values.len(),
        });
    }
    let mut sums = vec![0u64; blocks];
    for (&m, &v) in beta.iter().zip(values) {
        let slot = sums.get_mut(m as usize).ok_or(CoreError::ShapeMismatch {
            what: "bin sums: a block id (below the feature's blocks)",
            expected: blocks,
            got: m as usize,
        })?;
        *slot = slot.wrapping_add(v);
    }
    Ok(sums)
}

/// The dealer's correction for the owner: c = σ(a′) − `others`, where a′
/// is `a` (n elements) padded with zeros and `others` (N elements, in
/// σ-order) is Σ_j b_j.
pub fn correction(perm: &[u32], a: &[u64], others: &[u64]) -> Vec<u64> {
    let mut c: Vec<u64> = others.iter().map(|x| x.wrapping_neg()).collect();
    for (&p, &v) in perm.iter().zip(a) {
        c[p as usize] = c[p as usize].wrapping_add(v);
    }
    c
}

/// Mᵀ·s for M of `s.len()` rows × `bins` columns, row-major.
pub fn dense_t_times(m: &[u64], s: &[u64], bins: usize) -> Vec<u64> {
    let mut out = vec![0u64; bins];
    for (row, &sv) in m.chunks_exact(bins).zip(s) {
        for (o, &x) in out.iter_mut().zip(row) {
            *o = o.wrapping_add(x.wrapping_mul(sv));
        }
    }
    out
}

/// Gᵀ·s for the one-hot G whose row m has its one at `block_bin[m]`.
pub fn one_hot_t_times(block_bin: &[u16], s: &[u64], bins: usize) -> Vec<u64> {
    let mut out = vec![0u64; bins];
    for (&b, &v) in block_bin.iter().zip(s) {
        out[b as usize] = out[b as usize].wrapping_add(v);
    }
    out
}

/// Rows per parallel chunk of [`histograms`].
const HIST_CHUNK: usize = 1 << 14;

/// Per-bin sums of every vector in `vectors` (each `rows` long) over the
/// bins of `indices` (rows × features, row-major, feature f's bins starting
/// at `offsets[f]`, `total_bins` in all): one vector of sums per input
/// vector, features side by side. The owner's online step: n·F additions a
/// vector.
pub fn histograms(
    indices: &[u16],
    rows: usize,
    offsets: &[usize],
    total_bins: usize,
    vectors: &[&[u64]],
) -> Vec<Vec<u64>> {
    let features = offsets.len();
    let k = vectors.len();
    if total_bins == 0 || rows == 0 {
        return vec![vec![0; total_bins]; k];
    }
    let partial = |lo: usize, hi: usize| {
        let mut acc = vec![0u64; k * total_bins];
        for i in lo..hi {
            let row = &indices[i * features..(i + 1) * features];
            for (v, out) in vectors.iter().zip(acc.chunks_exact_mut(total_bins)) {
                let x = v[i];
                for (&b, &off) in row.iter().zip(offsets) {
                    let slot = &mut out[off + b as usize];
                    *slot = slot.wrapping_add(x);
                }
            }
        }
        acc
    };
    let sum = (0..rows.div_ceil(HIST_CHUNK))
        .into_par_iter()
        .map(|c| partial(c * HIST_CHUNK, ((c + 1) * HIST_CHUNK).min(rows)))
        .reduce(
            || vec![0u64; k * total_bins],
            |mut a, b| {
                for (x, y) in a.iter_mut().zip(&b) {
                    *x = x.wrapping_add(*y);
                }
                a
            },
        );
    sum.chunks_exact(total_bins).map(<[u64]>::to_vec).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};

    #[test]
    fn permutations_are_permutations_and_depend_on_the_seed() {
        let p = permutation(&Seed([1; 16]), 1000);
        let mut sorted = p.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..1000).collect::<Vec<u32>>());
        assert_ne!(p, permutation(&Seed([2; 16]), 1000));
        assert_eq!(p, permutation(&Seed([1; 16]), 1000));
        assert!(permutation(&Seed([1; 16]), 0).is_empty());
    }

    #[test]
    fn plans_hold_every_bin_profile() {
        for (rows, bins) in [(1usize, 1u16), (20, 8), (1000, 33), (5000, 2), (777, 300)] {
            let plan = SlotPlan::new(rows, &[bins]).unwrap();
            let f = plan.features[0];
            let whole = plan.padded / f.size;
            // The worst profile: every bin just over a multiple of s.
            let worst: usize = (0..bins as usize)
                .map(|b| {
                    let c = rows / bins as usize + usize::from(b < rows % bins as usize);
                    c.div_ceil(f.size)
                })
                .sum();
            assert!(worst <= whole, "rows {rows} bins {bins}");
            assert!(plan.padded > rows + bins as usize);
        }
        assert!(SlotPlan::new(0, &[4]).is_err());
        assert!(SlotPlan::new(10, &[0]).is_err());
    }

    #[test]
    fn the_layout_turns_block_sums_into_bin_sums() {
        let mut rng = StdRng::seed_from_u64(5);
        let rows = 500;
        let bins = [7u16, 1, 40];
        let plan = SlotPlan::new(rows, &bins).unwrap();
        for (f, bp) in plan.features.iter().enumerate() {
            // A skewed feature: most rows in one bin.
            let idx: Vec<u16> = (0..rows)
                .map(|_| {
                    if rng.random_range(0..4) == 0 {
                        rng.random_range(0..bins[f])
                    } else {
                        bins[f] - 1
                    }
                })
                .collect();
            let layout = Layout::new(&plan, bp, |i| idx[i]).unwrap();
            // Every block has exactly its public size.
            let mut sizes = vec![0usize; bp.count];
            for &m in &layout.row_block {
                sizes[m as usize] += 1;
            }
            for (m, &c) in sizes.iter().enumerate() {
                let want = bp.size.min(plan.padded - m * bp.size);
                assert_eq!(c, want, "block {m}");
            }
            let perm = permutation(&Seed([f as u8; 16]), plan.padded);
            let beta = layout.positions(&perm);
            let v: Vec<u64> = (0..rows).map(|_| rng.random()).collect();
            let sigma_v = correction(&perm, &v, &vec![0; plan.padded]);
            let sums = block_sums(&beta, &sigma_v, bp.count).unwrap();
            let got = one_hot_t_times(&layout.block_bin, &sums, bp.bins);
            let mut want = vec![0u64; bp.bins];
            for (i, &b) in idx.iter().enumerate() {
                want[b as usize] = want[b as usize].wrapping_add(v[i]);
            }
            assert_eq!(got, want);
            // G = D + U.
            let u: Vec<u64> = (0..bp.count * bp.bins).map(|_| rng.random()).collect();
            let d = layout.masked(&u, bp.bins);
            let via_d: Vec<u64> = dense_t_times(&d, &sums, bp.bins)
                .iter()
                .zip(dense_t_times(&u, &sums, bp.bins))
                .map(|(a, b)| a.wrapping_add(b))
                .collect();
            assert_eq!(via_d, want);
        }
        let plan = SlotPlan::new(3, &[2]).unwrap();
        assert!(Layout::new(&plan, &plan.features[0], |_| 2).is_err());
        assert!(block_sums(&[0, 5], &[1, 2], 3).is_err());
    }

    #[test]
    fn histograms_match_a_direct_count() {
        let mut rng = StdRng::seed_from_u64(9);
        let (rows, bins) = (40_000, [3u16, 5]);
        let idx: Vec<u16> = (0..rows * 2)
            .map(|k| rng.random_range(0..bins[k % 2]))
            .collect();
        let v1: Vec<u64> = (0..rows).map(|_| rng.random()).collect();
        let v2: Vec<u64> = (0..rows).map(|_| rng.random()).collect();
        let got = histograms(&idx, rows, &[0, 3], 8, &[&v1, &v2]);
        for (v, h) in [&v1, &v2].iter().zip(&got) {
            let mut want = vec![0u64; 8];
            for i in 0..rows {
                for f in 0..2 {
                    let at = [0, 3][f] + idx[i * 2 + f] as usize;
                    want[at] = want[at].wrapping_add(v[i]);
                }
            }
            assert_eq!(h, &want);
        }
    }
}
