//! Bin-sum masks from the dealer: the dealer's and the computing parties'
//! sides of [`Correlations::bin_indicators`](crate::Correlations::bin_indicators)
//! and [`Correlations::bin_sum_masks`](crate::Correlations::bin_sum_masks),
//! on the algebra of `indomain_core::binsum`.
//!
//! **Registration** (once per owner). The leader asks for
//! [`Request::BinIndicators`](crate::dealer::Request) (a shape: rows, bins
//! per feature, whether the features share a permutation). The dealer
//! sends the owner one 16-byte seed, from which the owner and the dealer
//! derive a random permutation σ_g of the N padded rows per group of
//! features and a random mask U_f (blocks × bins) per feature. The owner
//! lays out each feature in blocks, and sends every other computing party,
//! per feature, β_f (the block of each σ-position, 2 bytes each) and
//! D_f = G_f − U_f (8 bytes per block and bin).
//!
//! **Masks** ([`Request::BinSumMasks`](crate::dealer::Request)). Per mask the
//! dealer sends every other party j a 16-byte seed, which expands to its
//! part a_j of the mask (n elements), a vector b_j,g per group (N each, in
//! σ_g-order), V_j (Σ blocks) and W_j (Σ bins); it sends the owner, per
//! group, c_g = σ_g(a) − Σ_j b_j,g (N elements), and
//! U_fᵀ·Σ_j V_j,f − Σ_j W_j,f (Σ bins). Every party sums its σ-ordered
//! vector per block with β_f; party j sends the owner its block sums minus
//! V_j (one frame for the batch); the owner maps its block sums to bins
//! with G_f and adds U_fᵀ·Σ_j (S_j − V_j). The shares add up to B_fᵀ·a.
//!
//! What each party learns: the dealer, the shape; the owner, uniformly
//! random vectors (c_g is masked by the b_j, the block sums by the V_j);
//! every other party, β_f and D_f, uniformly random given the public block
//! sizes — except with [`Permutations::Shared`], where β_f of all features
//! index the same σ, so the co-occurrence of the owner's blocks across its
//! features shows (rows and bin labels stay hidden).

use crate::correlations::{BinShape, BinSumMasks, Permutations};
use crate::dealer::DealerLimits;
use crate::open::{recv_each, send_all};
use crate::{MpcError, Roster};
use indomain_core::binsum::{
    Layout, SlotPlan, block_sums, correction, dense_t_times, derive_seeds, one_hot_t_times,
    permutation,
};
use indomain_core::prg::{self, Seed};
use indomain_net::PartySet;
use ndarray::ArrayView2;
use rand::{CryptoRng, Rng};
use rayon::prelude::*;
use std::borrow::Cow;

/// Which group (permutation) each feature uses, and how many groups.
fn groups_of(features: usize, permutations: Permutations) -> (Vec<usize>, usize) {
    match permutations {
        Permutations::PerFeature => ((0..features).collect(), features),
        Permutations::Shared => (vec![0; features], features.min(1)),
    }
}

/// Where a non-owner's per-mask seed expands each part.
struct Offsets {
    /// Start of b_g for group g: `b + g·N`.
    b: usize,
    /// Start of V (Σ blocks).
    v: usize,
    /// Start of W (Σ bins).
    w: usize,
}

fn offsets(plan: &SlotPlan, groups: usize) -> Offsets {
    let b = plan.rows;
    let v = b + groups * plan.padded;
    Offsets {
        b,
        v,
        w: v + plan.total_blocks(),
    }
}

/// Start of each feature's part in a vector of Σ `sizes`.
fn starts(sizes: impl Iterator<Item = usize>) -> Vec<usize> {
    sizes
        .scan(0, |at, s| {
            let start = *at;
            *at += s;
            Some(start)
        })
        .collect()
}

fn refused(peer: &str, reason: impl Into<String>) -> MpcError {
    MpcError::Refused {
        peer: peer.to_string(),
        reason: reason.into(),
    }
}

/// The dealer's record of one registered indicator matrix.
pub(crate) struct ServerIndicator {
    owner: usize,
    others: Vec<usize>,
    plan: SlotPlan,
    perms: Vec<Vec<u32>>,
    masks: Vec<Vec<u64>>,
}

impl ServerIndicator {
    /// Elements the dealer keeps for it (permutations count as elements).
    pub(crate) fn kept(&self) -> u128 {
        self.perms.len() as u128 * self.plan.padded as u128
            + self.masks.iter().map(|m| m.len() as u128).sum::<u128>()
    }
}

/// Registers an owner's indicators at the dealer: checks the shape, draws
/// the owner's seed and sends it. `computing` are the computing parties'
/// set indices in rank order; `leader` names the requester for errors.
#[allow(clippy::too_many_arguments)]
pub(crate) fn register<R: Rng + CryptoRng + ?Sized>(
    parties: &mut PartySet,
    computing: &[usize],
    leader: &str,
    owner: u32,
    rows: u64,
    bins: &[u16],
    shared: bool,
    room: u128,
    rng: &mut R,
) -> Result<ServerIndicator, MpcError> {
    let owner_index = *computing
        .get(owner as usize)
        .ok_or_else(|| refused(leader, format!("no computing party has rank {owner}")))?;
    let plan = SlotPlan::new(rows.try_into().unwrap_or(usize::MAX), bins)
        .map_err(|e| refused(leader, e.to_string()))?;
    let permutations = if shared {
        Permutations::Shared
    } else {
        Permutations::PerFeature
    };
    let (_, groups) = groups_of(bins.len(), permutations);
    let kept = groups as u128 * plan.padded as u128
        + plan
            .features
            .iter()
            .map(|f| (f.count * f.bins) as u128)
            .sum::<u128>();
    if kept > room {
        return Err(refused(
            leader,
            format!("bin indicators of {kept} elements exceed the dealer's room of {room}"),
        ));
    }
    let master = Seed::random(rng);
    let seeds = derive_seeds(&master, groups + bins.len());
    let perms = seeds[..groups]
        .par_iter()
        .map(|s| permutation(s, plan.padded))
        .collect();
    let masks = plan
        .features
        .iter()
        .zip(&seeds[groups..])
        .map(|(f, s)| prg::expand(s, f.count * f.bins))
        .collect();
    parties.channel(owner_index)?.send(&master.0)?;
    Ok(ServerIndicator {
        owner: owner_index,
        others: computing
            .iter()
            .copied()
            .filter(|&i| i != owner_index)
            .collect(),
        plan,
        perms,
        masks,
    })
}

/// Deals `count` bin-sum masks for `ind`, one mask at a time.
pub(crate) fn deal_masks<R: Rng + CryptoRng + ?Sized>(
    parties: &mut PartySet,
    ind: &ServerIndicator,
    count: u64,
    limits: DealerLimits,
    leader: &str,
    rng: &mut R,
) -> Result<(), MpcError> {
    let plan = &ind.plan;
    let (n, padded) = (plan.rows, plan.padded);
    let per_mask = (n + plan.total_bins()) as u128;
    if count as u128 * per_mask > limits.max_mask_elements as u128
        || plan.total_bins() > limits.max_item_elements
    {
        return Err(refused(
            leader,
            format!("{count} bin-sum masks of {per_mask} elements exceed the dealer's limits"),
        ));
    }
    let groups = ind.perms.len();
    let off = offsets(plan, groups);
    let block_starts = starts(plan.features.iter().map(|f| f.count));
    let bin_starts = starts(plan.features.iter().map(|f| f.bins));
    for _ in 0..count {
        let seeds: Vec<Seed> = ind.others.iter().map(|_| Seed::random(rng)).collect();
        for (&j, seed) in ind.others.iter().zip(&seeds) {
            parties.channel(j)?.send(&seed.0)?;
        }
        // The first expansion is written, not added to zeros: adding reads
        // freshly allocated pages first, and each later write then copies
        // a page and flushes the other threads' TLBs (a fifth of the
        // dealer's time at 285k rows).
        let sum_at = |start: usize, len: usize| {
            let mut acc = vec![0u64; len];
            for (i, s) in seeds.iter().enumerate() {
                if i == 0 {
                    prg::expand_into_at(s, start, &mut acc);
                } else {
                    prg::add_expansion_at(&mut acc, s, start);
                }
            }
            acc
        };
        let a = sum_at(0, n);
        for (g, perm) in ind.perms.iter().enumerate() {
            let b = sum_at(off.b + g * padded, padded);
            let c = correction(perm, &a, &b);
            send_all(parties.channel(ind.owner)?, &c)?;
        }
        let v = sum_at(off.v, plan.total_blocks());
        let w = sum_at(off.w, plan.total_bins());
        let mut owner_w = Vec::with_capacity(plan.total_bins());
        for (f, fp) in plan.features.iter().enumerate() {
            let vf = &v[block_starts[f]..block_starts[f] + fp.count];
            let uv = dense_t_times(&ind.masks[f], vf, fp.bins);
            let wf = &w[bin_starts[f]..bin_starts[f] + fp.bins];
            owner_w.extend(uv.iter().zip(wf).map(|(x, y)| x.wrapping_sub(*y)));
        }
        parties.channel(ind.owner)?.send(&u64_bytes(&owner_w))?;
    }
    Ok(())
}

fn expand_at(seed: &Seed, start: usize, len: usize) -> Vec<u64> {
    let mut out = vec![0u64; len];
    prg::expand_into_at(seed, start, &mut out);
    out
}

fn u64_bytes(values: &[u64]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// A computing party's record of a registered indicator matrix.
#[derive(Debug, Clone)]
pub(crate) struct ClientIndicator {
    owner: usize,
    plan: SlotPlan,
    group_of: Vec<usize>,
    groups: usize,
    /// β_f: the block of each σ-position, per feature.
    beta: Vec<Vec<u16>>,
    role: Role,
}

#[derive(Debug, Clone)]
enum Role {
    /// The owner: G_f as the bin of each block, and U_f.
    Owner {
        block_bin: Vec<Vec<u16>>,
        masks: Vec<Vec<u64>>,
    },
    /// Another computing party: D_f = G_f − U_f.
    Other { opened: Vec<Vec<u64>> },
}

/// Bytes per σ-position in a layout frame: 1 for at most 256 blocks, else 2.
fn position_width(blocks: usize) -> usize {
    if blocks <= 256 { 1 } else { 2 }
}

fn encode_positions(beta: &[u16], blocks: usize) -> Vec<u8> {
    if position_width(blocks) == 1 {
        beta.iter().map(|&m| m as u8).collect()
    } else {
        beta.iter().flat_map(|m| m.to_le_bytes()).collect()
    }
}

/// One feature laid out at its owner.
struct Laid {
    beta: Vec<u16>,
    block_bin: Vec<u16>,
    mask: Vec<u64>,
    opened: Vec<u64>,
}

fn malformed(peer: &str, phase: &'static str, reason: impl Into<String>) -> MpcError {
    MpcError::Malformed {
        peer: peer.to_string(),
        phase,
        reason: reason.into(),
    }
}

/// The computing parties' side of registration (after the leader's
/// request): the owner lays out its features and sends β_f and D_f; the
/// others check and keep them.
pub(crate) fn client_register(
    parties: &mut PartySet,
    roster: &Roster,
    dealer: usize,
    owner: usize,
    shape: &BinShape,
    indices: Option<ArrayView2<'_, u16>>,
) -> Result<ClientIndicator, MpcError> {
    let phase = "bin indicators";
    let plan = SlotPlan::new(shape.rows, &shape.bins)
        .map_err(|e| MpcError::Usage(format!("bin indicators: {e}")))?;
    let (group_of, groups) = groups_of(shape.bins.len(), shape.permutations);
    let owner_index = roster.index(owner)?;
    let others: Vec<usize> = roster
        .computing()
        .iter()
        .copied()
        .filter(|&i| i != owner_index)
        .collect();
    if roster.rank() == owner {
        let indices = indices
            .ok_or_else(|| MpcError::Usage("the owner of bin indicators passes them".into()))?;
        if indices.dim() != (shape.rows, shape.bins.len()) {
            return Err(MpcError::Usage(format!(
                "bin indices of shape {:?} for a shape of {} rows × {} features",
                indices.dim(),
                shape.rows,
                shape.bins.len()
            )));
        }
        let ch = parties.channel(dealer)?;
        let frame = ch.recv()?;
        let master: [u8; 16] = frame.as_slice().try_into().map_err(|_| {
            malformed(
                ch.peer(),
                phase,
                format!("a seed is 16 bytes, got {}", frame.len()),
            )
        })?;
        let seeds = derive_seeds(&Seed(master), groups + shape.bins.len());
        let perms: Vec<Vec<u32>> = seeds[..groups]
            .par_iter()
            .map(|s| permutation(s, plan.padded))
            .collect();
        let laid: Vec<Laid> = plan
            .features
            .par_iter()
            .enumerate()
            .map(|(f, fp)| {
                let layout = Layout::new(&plan, fp, |i| indices[[i, f]])
                    .map_err(|e| MpcError::Usage(format!("bin indices, feature {f}: {e}")))?;
                let u = prg::expand(&seeds[groups + f], fp.count * fp.bins);
                let d = layout.masked(&u, fp.bins);
                Ok(Laid {
                    beta: layout.positions(&perms[group_of[f]]),
                    block_bin: layout.block_bin,
                    mask: u,
                    opened: d,
                })
            })
            .collect::<Result<_, MpcError>>()?;
        for &j in &others {
            let ch = parties.channel(j)?;
            for (l, fp) in laid.iter().zip(&plan.features) {
                let mut frame = encode_positions(&l.beta, fp.count);
                frame.extend(u64_bytes(&l.opened));
                ch.send(&frame)?;
            }
        }
        let mut beta = Vec::with_capacity(laid.len());
        let (mut block_bin, mut masks) = (Vec::new(), Vec::new());
        for l in laid {
            beta.push(l.beta);
            block_bin.push(l.block_bin);
            masks.push(l.mask);
        }
        return Ok(ClientIndicator {
            owner,
            plan,
            group_of,
            groups,
            beta,
            role: Role::Owner { block_bin, masks },
        });
    }
    let ch = parties.channel(owner_index)?;
    let mut beta = Vec::with_capacity(plan.features.len());
    let mut opened = Vec::with_capacity(plan.features.len());
    for fp in &plan.features {
        let frame = ch.recv()?;
        let width = position_width(fp.count);
        let expected = width * plan.padded + 8 * fp.count * fp.bins;
        if frame.len() != expected {
            return Err(malformed(
                ch.peer(),
                phase,
                format!(
                    "a feature's layout is {expected} bytes, got {}",
                    frame.len()
                ),
            ));
        }
        let (b, d) = frame.split_at(width * plan.padded);
        let b: Vec<u16> = if width == 1 {
            b.iter().map(|&m| m as u16).collect()
        } else {
            b.chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .collect()
        };
        if let Some(bad) = b.iter().find(|&&m| m as usize >= fp.count) {
            return Err(malformed(
                ch.peer(),
                phase,
                format!("block {bad} of a feature with {} blocks", fp.count),
            ));
        }
        beta.push(b);
        opened.push(
            d.chunks_exact(8)
                .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
                .collect(),
        );
    }
    Ok(ClientIndicator {
        owner,
        plan,
        group_of,
        groups,
        beta,
        role: Role::Other { opened },
    })
}

/// The computing parties' side of `count` masks (after the leader's
/// request).
pub(crate) fn client_masks(
    parties: &mut PartySet,
    roster: &Roster,
    dealer: usize,
    ind: &ClientIndicator,
    count: usize,
) -> Result<BinSumMasks, MpcError> {
    let phase = "bin-sum masks";
    let plan = &ind.plan;
    let (n, padded) = (plan.rows, plan.padded);
    let (total_blocks, total_bins) = (plan.total_blocks(), plan.total_bins());
    let block_starts = starts(plan.features.iter().map(|f| f.count));
    let bin_starts = starts(plan.features.iter().map(|f| f.bins));
    let mut sums = vec![0u64; count * total_bins];
    match &ind.role {
        Role::Other { opened } => {
            let off = offsets(plan, ind.groups);
            let mut mask = vec![0u64; count * n];
            let mut masked_blocks = vec![0u64; count * total_blocks];
            for k in 0..count {
                let ch = parties.channel(dealer)?;
                let frame = ch.recv()?;
                let seed = Seed(frame.as_slice().try_into().map_err(|_| {
                    malformed(
                        ch.peer(),
                        phase,
                        format!("a seed is 16 bytes, got {}", frame.len()),
                    )
                })?);
                prg::expand_into_at(&seed, 0, &mut mask[k * n..(k + 1) * n]);
                let blocks = own_block_sums(ind, |g| {
                    Cow::Owned(expand_at(&seed, off.b + g * padded, padded))
                })?;
                let v = expand_at(&seed, off.v, total_blocks);
                let w = expand_at(&seed, off.w, total_bins);
                let out = &mut sums[k * total_bins..(k + 1) * total_bins];
                let e = &mut masked_blocks[k * total_blocks..(k + 1) * total_blocks];
                for (f, fp) in plan.features.iter().enumerate() {
                    let (bs, ws) = (block_starts[f], bin_starts[f]);
                    for (i, s) in blocks[f].iter().enumerate() {
                        e[bs + i] = s.wrapping_sub(v[bs + i]);
                    }
                    let z = dense_t_times(&opened[f], &blocks[f], fp.bins);
                    for (i, z) in z.iter().enumerate() {
                        out[ws + i] = z.wrapping_add(w[ws + i]);
                    }
                }
            }
            send_all(parties.channel(roster.index(ind.owner)?)?, &masked_blocks)?;
            Ok(BinSumMasks { mask, sums })
        }
        Role::Owner { block_bin, masks } => {
            for k in 0..count {
                let mut corrections = Vec::with_capacity(ind.groups);
                for _ in 0..ind.groups {
                    let mut c = vec![0u64; padded];
                    recv_each(parties.channel(dealer)?, padded, |at, got| {
                        c[at..at + got.len()].copy_from_slice(&got)
                    })?;
                    corrections.push(c);
                }
                let blocks = own_block_sums(ind, |g| Cow::Borrowed(&corrections[g]))?;
                let ch = parties.channel(dealer)?;
                let w = indomain_net::wire::recv_u64s(ch, total_bins)?;
                let out = &mut sums[k * total_bins..(k + 1) * total_bins];
                for (f, fp) in plan.features.iter().enumerate() {
                    let z = one_hot_t_times(&block_bin[f], &blocks[f], fp.bins);
                    let ws = bin_starts[f];
                    for (i, z) in z.iter().enumerate() {
                        out[ws + i] = z.wrapping_add(w[ws + i]);
                    }
                }
            }
            // U_fᵀ·Σ_j (S_j − V_j), every other party's batch in rank order.
            let mut masked = vec![0u64; count * total_blocks];
            for &j in roster.computing() {
                if j == roster.index(ind.owner)? {
                    continue;
                }
                recv_each(parties.channel(j)?, masked.len(), |at, got| {
                    for (m, g) in masked[at..].iter_mut().zip(got) {
                        *m = m.wrapping_add(g);
                    }
                })?;
            }
            for k in 0..count {
                let e = &masked[k * total_blocks..(k + 1) * total_blocks];
                let out = &mut sums[k * total_bins..(k + 1) * total_bins];
                for (f, fp) in plan.features.iter().enumerate() {
                    let ef = &e[block_starts[f]..block_starts[f] + fp.count];
                    let z = dense_t_times(&masks[f], ef, fp.bins);
                    for (o, z) in out[bin_starts[f]..].iter_mut().zip(z) {
                        *o = o.wrapping_add(z);
                    }
                }
            }
            Ok(BinSumMasks {
                mask: Vec::new(),
                sums,
            })
        }
    }
}

/// Every feature's block sums of this party's σ-ordered vector of its
/// group (`vector(g)`), groups in parallel.
fn own_block_sums<'a>(
    ind: &ClientIndicator,
    vector: impl Fn(usize) -> Cow<'a, [u64]> + Sync,
) -> Result<Vec<Vec<u64>>, MpcError> {
    let per_group: Vec<Vec<(usize, Vec<u64>)>> = (0..ind.groups)
        .into_par_iter()
        .map(|g| {
            let values = vector(g);
            ind.group_of
                .iter()
                .enumerate()
                .filter(|(_, gf)| **gf == g)
                .map(|(f, _)| {
                    block_sums(&ind.beta[f], &values, ind.plan.features[f].count).map(|s| (f, s))
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .collect::<Result<_, _>>()
        .map_err(|e| MpcError::Core {
            phase: "bin-sum masks",
            source: e,
        })?;
    let mut out = vec![Vec::new(); ind.plan.features.len()];
    for (f, s) in per_group.into_iter().flatten() {
        out[f] = s;
    }
    Ok(out)
}

/// Checks a request of `count` masks against the registered matrix.
pub(crate) fn check_count(ind: &ClientIndicator, count: usize) -> Result<(), MpcError> {
    let elements = count as u128 * (ind.plan.rows + ind.plan.total_bins()) as u128;
    if elements > DealerLimits::default().max_mask_elements as u128 {
        return Err(MpcError::Usage(format!(
            "{count} bin-sum masks of {} rows: ask for fewer at a time",
            ind.plan.rows
        )));
    }
    Ok(())
}
