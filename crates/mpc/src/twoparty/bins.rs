//! Bin-sum masks between the two computing parties, with no dealer: the
//! two-party side of [`Correlations::bin_indicators`] and
//! [`Correlations::bin_sum_masks`](crate::Correlations::bin_sum_masks).
//!
//! The owner O holds, per row i and feature f, a bin c = c_{i,f} below
//! B = bins_f; the other party E must end with fresh random vectors a_k
//! (k = 1..K, one per mask) and both with shares of Σ_i a_{i,k}·e_{c_{i,f}}
//! (the per-bin sums, [`crate::bins`]). Per row and feature this is a
//! single-point vector OLE, built as in silent VOLE (Boyle et al. CCS
//! 2019) from a GGM punctured PRF ([`indomain_ot::pprf`]):
//!
//! 1. E grows a GGM tree of ⌈log2 B⌉ levels from a fresh root, pruned to
//!    the B leaves ([`indomain_ot::ggm`]), and sends, per level, the XOR
//!    of its left and of its right children, each masked by one random OT
//!    (IKNP, [`super::ole`]) on which O's choice is the complement of c's
//!    bit there. O regrows every leaf but the one at c: a (B−1)-out-of-B
//!    random OT of the leaves s_0..s_{B−1}. The trees of one feature over
//!    a run of rows grow together, level by level.
//! 2. Each leaf gives K values t_{b,k}: the halves of s_b, then of MMO
//!    under a fixed key on s_b ⊕ j (j ≥ 1), two values a block.
//! 3. E's share of bin b is Σ_i t_{i,b,k}; O's is −t_{i,b,k} for b ≠ c
//!    and, at c, Σ_{b≠c} t_{i,b,k} + g_{i,k}. The two add up to
//!    (Σ_b t_{i,b,k} + g_{i,k})·e_c: for feature 0 the mask is defined as
//!    a_{i,k} = Σ_b t_{i,b,k} (g = 0), for every other feature E sends
//!    the correction g_{i,f,k} = a_{i,k} − Σ_b t_{i,f,b,k}.
//!
//! What each party learns: E, IKNP's masked columns (pseudo-random
//! whatever O's choices): nothing of the bins; O, every leaf but s_c and
//! the corrections, each masked by t_{c,k} (pseudo-random to O): a_k stays
//! uniformly random to it, as the dealer's does. Only the shape (rows,
//! bins per feature) is public. Semi-honest, under the correlation
//! robustness of TMMO and the pseudo-randomness of fixed-key AES as the
//! GGM length doubler (ideal permutation), as IKNP and silent VOLE are.
//!
//! Cost a batch of K masks, per row and feature of B bins (d = ⌈log2 B⌉):
//! d random OTs (16 bytes each from O), 32·d bytes of level sums and
//! 8·K bytes of correction from E (none for feature 0); at each party
//! 2·Σ_{l<d} ⌈B/2^(d−l)⌉ AES blocks for the tree (74 at B = 33) and
//! B·(⌈K/2⌉ − 1) for the leaf values. Rows go in blocks of at most
//! [`BLOCK_OTS`] OTs and [`BLOCK_BYTES`] bytes: nothing is rows × bins in
//! memory.

use super::{TwoParty, link};
use crate::MpcError;
use crate::correlations::{BinShape, BinSumMasks, IndicatorId};
use crate::dealer::{DealerLimits, Request};
use indomain_net::PartySet;
use indomain_ot::ggm::{Domain, Scratch};
use indomain_ot::pprf;
use indomain_ot::prf::Aes;
use ndarray::ArrayView2;
use rand::RngExt;
use rayon::prelude::*;
use std::sync::LazyLock;

const PHASE_MASKS: &str = "two-party bin-sum masks";

/// The most random OTs of one block of rows.
const BLOCK_OTS: usize = 1 << 18;
/// The most bytes of E's frame for one block of rows.
const BLOCK_BYTES: usize = 16 << 20;
/// The most rows of one run of trees grown together.
const MAX_RUN: usize = 2048;
/// The most leaf values (u64) expanded at once.
const LEAF_VALUES: usize = 1 << 16;

/// The fixed key of the leaf expansion (a public constant).
static LEAF: LazyLock<Aes> = LazyLock::new(|| Aes::new(0x6a09_e667_f3bc_c908_b2fb_1366_ea95_7d5b));

/// An owner's bins as the two-party generator keeps them.
pub(super) struct Registered {
    owner: usize,
    rows: usize,
    bins: Vec<usize>,
    depths: Vec<usize>,
    /// First sum of each feature within a mask's sums.
    offsets: Vec<usize>,
    /// First random OT of each feature within a row's.
    ot_offsets: Vec<usize>,

    total_bins: usize,
    /// The owner's indices, rows × features row-major (empty at E).
    indices: Vec<u16>,
}

impl Registered {
    /// Random OTs of one row (Σ depths).
    fn ots_per_row(&self) -> usize {
        self.depths.iter().sum()
    }

    /// Bytes of E's frame per row for `count` masks.
    fn bytes_per_row(&self, count: usize) -> usize {
        32 * self.ots_per_row() + 8 * count * (self.bins.len() - 1)
    }

    /// First byte of each feature within a row of E's frame for `count`
    /// masks: its level sums, then (but for feature 0) its corrections.
    fn row_offsets(&self, count: usize) -> Vec<usize> {
        let mut at = 0;
        self.depths
            .iter()
            .enumerate()
            .map(|(f, d)| {
                let first = at;
                at += 32 * d + if f == 0 { 0 } else { 8 * count };
                first
            })
            .collect()
    }

    /// Rows of one block.
    fn block_rows(&self, count: usize) -> usize {
        let by_ots = BLOCK_OTS / self.ots_per_row().max(1);
        let by_bytes = BLOCK_BYTES / self.bytes_per_row(count).max(1);
        by_ots.min(by_bytes).clamp(1, self.rows)
    }
}

/// Rows of one run of trees grown together (one thread's share).
fn run_rows(rows: usize) -> usize {
    rows.div_ceil(rayon::current_num_threads().max(1) * 2)
        .clamp(1, MAX_RUN)
}

/// Buffers of one run, reused feature after feature.
#[derive(Default)]
struct Work {
    nodes: Vec<u128>,
    sums: Vec<[u128; 2]>,
    scratch: Scratch,
    extra: Vec<u128>,
    values: Vec<u64>,
}

impl Work {
    /// The leaf values of the `n` trees of `bins` leaves each in `nodes`,
    /// a group of trees at a time (at most `LEAF_VALUES` values, so that
    /// they stay in cache): `each(first tree of the group, its trees'
    /// values, bins × count words a tree)`.
    #[inline]
    fn leaf_value_groups(
        &mut self,
        n: usize,
        bins: usize,
        count: usize,
        mut each: impl FnMut(usize, &[u64]),
    ) {
        let group = (LEAF_VALUES / (bins * count)).max(1);
        for g0 in (0..n).step_by(group) {
            let g = group.min(n - g0);
            let leaves = &self.nodes[g0 * bins..(g0 + g) * bins];
            leaf_values(leaves, count, &mut self.extra, &mut self.values);
            each(g0, &self.values);
        }
    }
}

/// The `count` values t_{b,k} of each leaf s_b, leaf after leaf, into
/// `out`: the two halves of s_b itself, then of MMO under the fixed key of
/// s_b ⊕ j for j = 1..⌈count/2⌉ (so one or two masks cost no AES beyond
/// the tree).
fn leaf_values(leaves: &[u128], count: usize, extra: &mut Vec<u128>, out: &mut Vec<u64>) {
    let more = count.div_ceil(2) - 1;
    extra.clear();
    for s in leaves {
        extra.extend((1..=more as u128).map(|j| s ^ j));
    }
    LEAF.mmo(extra);
    out.clear();
    out.resize(leaves.len() * count, 0);
    for (leaf, (s, out)) in leaves.iter().zip(out.chunks_exact_mut(count)).enumerate() {
        let extra = &extra[leaf * more..(leaf + 1) * more];
        for (k, out) in out.iter_mut().enumerate() {
            let block = if k < 2 { *s } else { extra[k / 2 - 1] };
            *out = (block >> (64 * (k % 2))) as u64;
        }
    }
}

fn read_block(bytes: &[u8]) -> u128 {
    u128::from_le_bytes(bytes.try_into().expect("16 bytes"))
}

fn add_into(acc: &mut [u64], other: &[u64]) {
    acc.iter_mut()
        .zip(other)
        .for_each(|(a, b)| *a = a.wrapping_add(*b));
}

fn sub_into(acc: &mut [u64], other: &[u64]) {
    acc.iter_mut()
        .zip(other)
        .for_each(|(a, b)| *a = a.wrapping_sub(*b));
}

/// sums (count × total) += acc (total × count).
fn add_transposed(sums: &mut [u64], acc: &[u64], count: usize, total: usize) {
    for (slot, v) in acc.chunks_exact(count).enumerate() {
        for (k, v) in v.iter().enumerate() {
            let s = &mut sums[k * total + slot];
            *s = s.wrapping_add(*v);
        }
    }
}

impl TwoParty {
    /// Registers the owner's bins: agreement on the shape; the owner keeps
    /// its indices. No other message.
    pub(super) fn register_bins(
        &mut self,
        parties: &mut PartySet,
        owner: usize,
        shape: &BinShape,
        indices: Option<ArrayView2<'_, u16>>,
    ) -> Result<IndicatorId, MpcError> {
        if owner > 1 {
            return Err(MpcError::Usage(format!(
                "bin indicators of rank {owner} among 2 computing parties"
            )));
        }
        if shape.rows == 0 || shape.bins.is_empty() || shape.bins.contains(&0) {
            return Err(MpcError::Usage(
                "bin indicators need rows, features and at least one bin a feature".into(),
            ));
        }
        self.agree(
            parties,
            &Request::BinIndicators {
                owner: owner as u32,
                rows: shape.rows as u64,
                bins: shape.bins.clone(),
                shared_permutation: matches!(
                    shape.permutations,
                    crate::correlations::Permutations::Shared
                ),
            },
        )?;
        let indices = match (owner == self.rank, indices) {
            (true, Some(ix)) => {
                if ix.dim() != (shape.rows, shape.bins.len()) {
                    return Err(MpcError::Usage(format!(
                        "bin indices of shape {:?} for {} rows × {} features",
                        ix.dim(),
                        shape.rows,
                        shape.bins.len()
                    )));
                }
                if let Some(((i, f), b)) =
                    ix.indexed_iter().find(|((_, f), b)| **b >= shape.bins[*f])
                {
                    return Err(MpcError::Usage(format!(
                        "row {i}, feature {f}: bin {b} of a feature with {} bins",
                        shape.bins[f]
                    )));
                }
                ix.as_standard_layout().iter().copied().collect()
            }
            (true, None) => {
                return Err(MpcError::Usage(
                    "the owner of bin indicators passes them".into(),
                ));
            }
            (false, Some(_)) => {
                return Err(MpcError::Usage("only the owner passes bin indices".into()));
            }
            (false, None) => Vec::new(),
        };
        let bins: Vec<usize> = shape.bins.iter().map(|&b| b as usize).collect();
        let mut offsets = Vec::with_capacity(bins.len());
        let mut total_bins = 0;
        for &b in &bins {
            offsets.push(total_bins);
            total_bins += b;
        }
        let depths: Vec<usize> = bins.iter().map(|&b| Domain::new(b).depth()).collect();
        let ot_offsets = depths
            .iter()
            .scan(0, |at, d| {
                let first = *at;
                *at += d;
                Some(first)
            })
            .collect();
        self.indicators.push(Registered {
            owner,
            rows: shape.rows,
            depths,
            ot_offsets,
            bins,
            offsets,
            total_bins,
            indices,
        });
        Ok(IndicatorId(self.indicators.len() as u32 - 1))
    }

    /// Forgets the bins registered as `id` (the owner drops its indices;
    /// no message: both parties release at the same point of their
    /// protocol). Later masks for `id` are refused.
    pub(super) fn release_bins(&mut self, id: IndicatorId) -> Result<(), MpcError> {
        let reg = self
            .indicators
            .get_mut(id.0 as usize)
            .ok_or_else(|| MpcError::Usage(format!("no bin indicators {}", id.0)))?;
        reg.rows = 0;
        reg.indices = Vec::new();
        Ok(())
    }

    /// `count` bin-sum masks for the bins registered as `id`.
    pub(super) fn draw_bin_sum_masks(
        &mut self,
        parties: &mut PartySet,
        id: IndicatorId,
        count: usize,
    ) -> Result<BinSumMasks, MpcError> {
        let reg = self
            .indicators
            .get(id.0 as usize)
            .filter(|r| r.rows > 0)
            .ok_or_else(|| MpcError::Usage(format!("no bin indicators {}", id.0)))?;
        let elements = count as u128 * (reg.rows + reg.total_bins) as u128;
        if elements > DealerLimits::default().max_mask_elements as u128 {
            return Err(MpcError::Usage(format!(
                "{count} bin-sum masks of {} rows: ask for fewer at a time",
                reg.rows
            )));
        }
        self.agree(
            parties,
            &Request::BinSumMasks {
                indicator: id.0,
                count: count as u64,
            },
        )?;
        if count == 0 {
            return Ok(BinSumMasks::default());
        }
        let reg = &self.indicators[id.0 as usize];
        let (block, n) = (reg.block_rows(count), reg.rows);
        let owner = reg.owner == self.rank;
        let mut sums = vec![0u64; count * reg.total_bins];
        let mut mask = if owner {
            Vec::new()
        } else {
            vec![0u64; count * n]
        };
        for first in (0..n).step_by(block) {
            let rows = block.min(n - first);
            let part = if owner {
                self.owner_block(parties, id, first, rows, count)?
            } else {
                let (part, a) = self.other_block(parties, id, rows, count)?;
                for (k, a) in a.chunks_exact(rows).enumerate() {
                    mask[k * n + first..k * n + first + rows].copy_from_slice(a);
                }
                part
            };
            add_into(&mut sums, &part);
        }
        Ok(BinSumMasks { mask, sums })
    }

    /// E's side of one block of `rows` rows: sends the level sums and
    /// corrections; returns its share of the sums (count × Σ bins) and the
    /// block's masks (count × rows).
    fn other_block(
        &mut self,
        parties: &mut PartySet,
        id: IndicatorId,
        rows: usize,
        count: usize,
    ) -> Result<(Vec<u64>, Vec<u64>), MpcError> {
        let per_row = self.indicators[id.0 as usize].ots_per_row();
        let ch = parties.channel(self.peer)?;
        let peer = ch.peer().to_string();
        let ole = self
            .ole
            .as_mut()
            .ok_or_else(|| MpcError::Usage("bin-sum masks before agreement".into()))?;
        let (k0, k1) = if per_row > 0 {
            ole.random_send(ch, rows * per_row, PHASE_MASKS)?
        } else {
            (Vec::new(), Vec::new())
        };
        let seed: u128 = self.rng.random();
        let reg = &self.indicators[id.0 as usize];
        let features = reg.bins.len();
        // Feature-major, so that a feature's roots of a run of rows are
        // one slice.
        let mut roots = vec![0u128; features * rows];
        Aes::new(seed).keystream(0, &mut roots);
        let row_bytes = reg.bytes_per_row(count);
        let row_offsets = reg.row_offsets(count);
        let total = reg.total_bins;
        let run = run_rows(rows);
        let starts: Vec<usize> = (0..rows).step_by(run).collect();
        let parts: Vec<(Vec<u8>, Vec<u64>, Vec<u64>)> = starts
            .into_par_iter()
            .map(|r0| {
                let n = run.min(rows - r0);
                let mut frame = vec![0u8; n * row_bytes];
                let mut acc = vec![0u64; total * count];
                let (mut a, mut t) = (vec![0u64; n * count], vec![0u64; n * count]);
                let mut work = Work::default();
                for (f, &row_at) in row_offsets.iter().enumerate() {
                    let domain = Domain::new(reg.bins[f]);
                    let (bins, depth) = (domain.leaves(), domain.depth());
                    let roots = &roots[f * rows + r0..f * rows + r0 + n];
                    domain.grow(roots, &mut work.nodes, &mut work.sums, &mut work.scratch);
                    for i in 0..n {
                        let ot = (r0 + i) * per_row + reg.ot_offsets[f];
                        let at = i * row_bytes + row_at;
                        let out = &mut frame[at..at + 32 * depth];
                        let sums = &work.sums[i * depth..(i + 1) * depth];
                        for (l, (out, [left, right])) in
                            out.chunks_exact_mut(32).zip(sums).enumerate()
                        {
                            out[..16].copy_from_slice(&(left ^ k0[ot + l]).to_le_bytes());
                            out[16..].copy_from_slice(&(right ^ k1[ot + l]).to_le_bytes());
                        }
                    }
                    t.fill(0);
                    let feature = &mut acc[reg.offsets[f] * count..][..bins * count];
                    work.leaf_value_groups(n, bins, count, |g0, values| {
                        let t = t[g0 * count..].chunks_exact_mut(count);
                        for (tree, t) in values.chunks_exact(bins * count).zip(t) {
                            add_into(feature, tree);
                            for v in tree.chunks_exact(count) {
                                add_into(t, v);
                            }
                        }
                    });
                    if f == 0 {
                        a.copy_from_slice(&t);
                        continue;
                    }
                    for i in 0..n {
                        let at = i * row_bytes + row_at + 32 * depth;
                        let out = &mut frame[at..at + 8 * count];
                        let (a, t) = (&a[i * count..(i + 1) * count], &t[i * count..]);
                        for ((out, a), t) in out.chunks_exact_mut(8).zip(a).zip(t) {
                            out.copy_from_slice(&a.wrapping_sub(*t).to_le_bytes());
                        }
                    }
                }
                (frame, acc, a)
            })
            .collect();
        let mut frame = Vec::with_capacity(rows * row_bytes);
        let mut sums = vec![0u64; count * total];
        let mut masks = vec![0u64; count * rows];
        let mut r = 0;
        for (bytes, acc, a_rows) in parts {
            frame.extend_from_slice(&bytes);
            add_transposed(&mut sums, &acc, count, total);
            for a in a_rows.chunks_exact(count) {
                for (k, v) in a.iter().enumerate() {
                    masks[k * rows + r] = *v;
                }
                r += 1;
            }
        }
        let ch = parties.channel(self.peer)?;
        ch.send(&frame).map_err(link(&peer, PHASE_MASKS))?;
        Ok((sums, masks))
    }

    /// O's side of the block of `rows` rows from `first`: returns its share
    /// of the sums (count × Σ bins).
    fn owner_block(
        &mut self,
        parties: &mut PartySet,
        id: IndicatorId,
        first: usize,
        rows: usize,
        count: usize,
    ) -> Result<Vec<u64>, MpcError> {
        let reg = &self.indicators[id.0 as usize];
        let features = reg.bins.len();
        let per_row = reg.ots_per_row();
        let bin = |r: usize, f: usize| reg.indices[(first + r) * features + f] as usize;
        let mut choices = Vec::with_capacity(rows * per_row);
        for r in 0..rows {
            for f in 0..features {
                let depth = reg.depths[f];
                choices.extend((0..depth).map(|l| pprf::bit(bin(r, f), l, depth) == 0));
            }
        }
        let ch = parties.channel(self.peer)?;
        let peer = ch.peer().to_string();
        let ole = self
            .ole
            .as_mut()
            .ok_or_else(|| MpcError::Usage("bin-sum masks before agreement".into()))?;
        let keys = if per_row > 0 {
            ole.random_receive(ch, &choices, PHASE_MASKS)?
        } else {
            Vec::new()
        };
        let frame = ch.recv().map_err(link(&peer, PHASE_MASKS))?;
        let reg = &self.indicators[id.0 as usize];
        let row_bytes = reg.bytes_per_row(count);
        if frame.len() != rows * row_bytes {
            return Err(MpcError::Malformed {
                peer,
                phase: PHASE_MASKS,
                reason: format!(
                    "a block of bin-sum masks of {} bytes, expected {}",
                    frame.len(),
                    rows * row_bytes
                ),
            });
        }
        let total = reg.total_bins;
        let row_offsets = reg.row_offsets(count);
        let bin = |r: usize, f: usize| reg.indices[(first + r) * features + f] as usize;
        let run = run_rows(rows);
        let starts: Vec<usize> = (0..rows).step_by(run).collect();
        let parts: Vec<Vec<u64>> = starts
            .into_par_iter()
            .map(|r0| {
                let n = run.min(rows - r0);
                let mut acc = vec![0u64; total * count];
                let mut known = vec![0u64; n * count];
                let (mut points, mut chosen) = (Vec::with_capacity(n), Vec::new());
                let mut work = Work::default();
                for (f, &row_at) in row_offsets.iter().enumerate() {
                    let domain = Domain::new(reg.bins[f]);
                    let (bins, depth) = (domain.leaves(), domain.depth());
                    points.clear();
                    chosen.clear();
                    for i in 0..n {
                        let c = bin(r0 + i, f);
                        points.push(c);
                        let ot = (r0 + i) * per_row + reg.ot_offsets[f];
                        let at = (r0 + i) * row_bytes + row_at;
                        for l in 0..depth {
                            let side = 1 - pprf::bit(c, l, depth);
                            let got = read_block(&frame[at + 32 * l + 16 * side..][..16]);
                            chosen.push(got ^ keys[ot + l]);
                        }
                    }
                    domain.regrow(&points, &chosen, &mut work.nodes, &mut work.scratch);
                    known.fill(0);
                    let feature = &mut acc[reg.offsets[f] * count..][..bins * count];
                    work.leaf_value_groups(n, bins, count, |g0, values| {
                        let known = known[g0 * count..].chunks_exact_mut(count);
                        let trees = values.chunks_exact(bins * count).zip(known);
                        for ((tree, known), &c) in trees.zip(&points[g0..]) {
                            // The point's leaf is a placeholder: taken out
                            // of both sums after they are formed.
                            sub_into(feature, tree);
                            for v in tree.chunks_exact(count) {
                                add_into(known, v);
                            }
                            add_into(
                                &mut feature[c * count..(c + 1) * count],
                                &tree[c * count..][..count],
                            );
                            sub_into(known, &tree[c * count..][..count]);
                        }
                    });
                    for (i, &c) in points.iter().enumerate() {
                        let known = &mut known[i * count..(i + 1) * count];
                        if f > 0 {
                            let at = (r0 + i) * row_bytes + row_at + 32 * depth;
                            for (k, g) in frame[at..at + 8 * count].chunks_exact(8).enumerate() {
                                let g = u64::from_le_bytes(g.try_into().expect("8 bytes"));
                                known[k] = known[k].wrapping_add(g);
                            }
                        }
                        let slot = reg.offsets[f] + c;
                        add_into(&mut acc[slot * count..(slot + 1) * count], known);
                    }
                }
                acc
            })
            .collect();
        let mut sums = vec![0u64; count * total];
        for acc in parts {
            add_transposed(&mut sums, &acc, count, total);
        }
        Ok(sums)
    }
}
