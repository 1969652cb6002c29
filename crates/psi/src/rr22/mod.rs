//! VOLE/OKVS PSI following Raghuraman–Rindal, "Blazing fast PSI from
//! improved OKVS and subfield VOLE" (CCS 2022), semi-honest; intersection
//! and join modes.
//!
//! The receiver R holds X, the sender S holds Y; x̂ is a 128-bit hash of a
//! key and H(x) a pseudo-random value in GF(2^128) derived from it.
//!
//! 1. Silent VOLE ([`vole`]) of length m = 1.25·|X| + 128: S gets Δ and B,
//!    R gets A and C with C = B + A·Δ.
//! 2. R encodes an OKVS table P ([`okvs`]) with Decode(P, x) = H(x) for
//!    every x ∈ X and sends its seed and A' = P + A.
//! 3. S computes K = B + A'·Δ, so Decode(K, y) + H(y)·Δ = Decode(C, y) +
//!    (Decode(P, y) + H(y))·Δ, which equals Decode(C, y) exactly when y ∈ X
//!    (w.h.p.). S sends {H_out(Decode(K, y) + H(y)·Δ, ŷ)} in a shuffled
//!    order, truncated to ℓ bytes.
//! 4. R compares with H_out(Decode(C, x), x̂) for its own keys; then, as in
//!    ECDH, the session's finishing step tells S the matched positions of
//!    its stream if the job reveals to both (always in join mode) — or,
//!    with fewer matches than the job's minimum, only a below-minimum
//!    notice, and both end with an error.
//!
//! What each party learns: both learn the other's set size; R learns X ∩ Y
//! (S too if revealed). S sees only A', uniform since A is pseudo-random
//! under dual LPN. For y ∉ X, S's output hashes a value that differs from
//! everything R can compute by a non-zero multiple of the secret Δ, so it
//! is pseudo-random to R (H_out a random oracle). Compared values are
//! ℓ = ⌈(40 + log2|X| + log2|Y|)/8⌉ bytes: a false match has probability at
//! most |X|·|Y|·2^(−8ℓ) ≤ 2^−40 over a run.
//!
//! The common order of join mode: both parties know H_out of every matched
//! key (S computed it, R received it), so R sorts the matches by it and S
//! receives its positions in that order. The value is a pseudo-random
//! function of the key that S already sent; ordering by it reveals nothing
//! more.

pub mod okvs;

pub use indomain_ot::{base_ot, code, gf128, iknp, pprf, prf, vole};

use crate::session::{
    Hello, Job, Outcome, Role, checked_len, exchange_hello, recv_positions, refuse_below_minimum,
    send_positions,
};
use crate::{Construction, Items, Phase, Progress, PsiError};
use indomain_net::Channel;
use indomain_net::stream::{Outbound, batch_sizes, recv_batch};
use okvs::Okvs;
use prf::Aes;
use rand::seq::SliceRandom;
use rand::{CryptoRng, RngExt};
use rayon::prelude::*;
use sha2::{Digest, Sha256};

/// Table entries or outputs a frame.
const FRAME: usize = 1 << 16;
/// Seeds tried before encoding is given up (each fails with probability
/// well below 2^-20 at expansion 1.25 and width 128).
const SEED_TRIES: usize = 8;
/// The most bytes of a compared value.
const COMPARE: usize = 16;

/// Runs the receiver's side of `job` on `items` (distinct keys).
pub fn receiver<C, R>(
    ch: &mut C,
    job: &Job,
    items: &Items,
    rng: &mut R,
    progress: &mut dyn FnMut(Progress),
) -> Result<Outcome, PsiError>
where
    C: Channel + ?Sized,
    R: CryptoRng + ?Sized,
{
    check_job(job)?;
    let n = checked_len(items)?;
    let hashes = key_hashes(items)?;
    let peer = ch.peer().to_string();
    let hello = Hello::new(job, Role::Receiver, n, None);
    let peer_n = hello.check_peer(&exchange_hello(ch, &hello)?, &peer, job.max_peer_items)?;
    let total = n + peer_n;
    let m = okvs::size_for(n);

    let (a, c) = vole::receive(ch, m, rng).map_err(PsiError::from)?;
    let values = okvs_values(&hashes);
    let (seed, okvs, table) = (0..SEED_TRIES)
        .find_map(|_| {
            let seed: u128 = rng.random();
            let okvs = Okvs::new(m, seed);
            okvs.encode(&hashes, &values).map(|t| (seed, okvs, t))
        })
        .ok_or_else(|| {
            PsiError::Job(format!(
                "the OKVS could not encode these {n} keys with {SEED_TRIES} seeds"
            ))
        })?;
    let mut masked = table;
    masked.par_iter_mut().zip(&a).for_each(|(p, a)| *p ^= a);
    drop(a);
    let phase = Phase::Okvs;
    let mut out = Outbound::new(ch);
    out.send(&seed.to_le_bytes())
        .map_err(PsiError::stream(&peer, phase))?;
    for chunk in masked.chunks(FRAME) {
        out.send(&to_bytes(chunk))
            .map_err(PsiError::stream(&peer, phase))?;
    }
    out.finish().map_err(PsiError::stream(&peer, phase))?;
    drop(masked);
    progress(Progress { done: n, total });

    let width = compare_bytes(n, peer_n);
    let decoded = okvs.decode(&c, &hashes);
    drop(c);
    let mut set = Matcher::new(outputs(&decoded, &hashes, width))
        .ok_or_else(|| PsiError::Job("two of this party's keys hash to the same output".into()))?;

    let phase = Phase::SenderOutputs;
    let mut matches: Vec<(u128, usize, u32)> = Vec::new();
    let mut offset = 0usize;
    for size in batch_sizes(peer_n, FRAME) {
        let frame = recv_batch(ch, size * width).map_err(PsiError::stream(&peer, phase))?;
        let values: Vec<u128> = frame.chunks_exact(width).map(read_prefix).collect();
        let found: Vec<Option<usize>> = values.par_iter().map(|v| set.find(*v)).collect();
        for (j, slot) in found.into_iter().enumerate() {
            let Some(slot) = slot else { continue };
            let position = set.take(slot).ok_or_else(|| PsiError::DuplicateValue {
                peer: peer.clone(),
                phase,
            })?;
            matches.push((values[j], position, (offset + j) as u32));
        }
        offset += size;
        progress(Progress {
            done: n + offset,
            total,
        });
    }

    refuse_below_minimum(ch, job, matches.len(), Phase::Reveal)?;
    matches.sort_unstable_by_key(|m| m.0);
    if job.sender_learns_result() {
        let positions: Vec<u32> = matches.iter().map(|m| m.2).collect();
        send_positions(ch, job, &positions)?;
    }
    Ok(Outcome {
        role: Role::Receiver,
        items: n,
        peer_items: peer_n,
        intersection_size: Some(matches.len()),
        matched: Some(matches.iter().map(|m| m.1).collect()),
        sum: None,
    })
}

/// Runs the sender's side of `job` on `items` (distinct keys).
pub fn sender<C, R>(
    ch: &mut C,
    job: &Job,
    items: &Items,
    rng: &mut R,
    progress: &mut dyn FnMut(Progress),
) -> Result<Outcome, PsiError>
where
    C: Channel + ?Sized,
    R: CryptoRng + ?Sized,
{
    check_job(job)?;
    let n = checked_len(items)?;
    let hashes = key_hashes(items)?;
    let peer = ch.peer().to_string();
    let hello = Hello::new(job, Role::Sender, n, None);
    let peer_n = hello.check_peer(&exchange_hello(ch, &hello)?, &peer, job.max_peer_items)?;
    let total = n + peer_n;
    let m = okvs::size_for(peer_n);

    let (delta, b) = vole::send(ch, m, rng).map_err(PsiError::from)?;
    let phase = Phase::Okvs;
    let seed = recv_batch(ch, 16).map_err(PsiError::stream(&peer, phase))?;
    let seed = read_block(&seed);
    let mut table = b;
    let mut done = 0;
    for size in batch_sizes(m, FRAME) {
        let frame = recv_batch(ch, size * 16).map_err(PsiError::stream(&peer, phase))?;
        table[done..done + size]
            .par_iter_mut()
            .zip(frame.par_chunks_exact(16))
            .for_each(|(k, a)| *k ^= gf128::mul(read_block(a), delta));
        done += size;
    }
    progress(Progress {
        done: peer_n,
        total,
    });

    let values = okvs_values(&hashes);
    let mut decoded = Okvs::new(m, seed).decode(&table, &hashes);
    drop(table);
    decoded
        .par_iter_mut()
        .zip(&values)
        .for_each(|(d, h)| *d ^= gf128::mul(*h, delta));
    let width = compare_bytes(peer_n, n);
    let all = outputs(&decoded, &hashes, width);
    let mut order: Vec<u32> = (0..n as u32).collect();
    order.shuffle(rng);

    let phase = Phase::SenderOutputs;
    let mut out = Outbound::new(ch);
    let mut sent = 0;
    for chunk in order.chunks(FRAME) {
        let mut frame = Vec::with_capacity(chunk.len() * width);
        for &i in chunk {
            frame.extend_from_slice(&all[i as usize].to_le_bytes()[..width]);
        }
        out.send(&frame).map_err(PsiError::stream(&peer, phase))?;
        sent += chunk.len();
        progress(Progress {
            done: peer_n + sent,
            total,
        });
    }
    out.finish().map_err(PsiError::stream(&peer, phase))?;

    let mut outcome = Outcome {
        role: Role::Sender,
        items: n,
        peer_items: peer_n,
        intersection_size: None,
        matched: None,
        sum: None,
    };
    if job.sender_learns_result() {
        let matched = recv_positions(ch, job, &order, n.min(peer_n))?;
        outcome.intersection_size = Some(matched.len());
        outcome.matched = Some(matched);
    }
    Ok(outcome)
}

fn check_job(job: &Job) -> Result<(), PsiError> {
    job.check()?;
    if job.construction != Construction::Rr22 {
        return Err(PsiError::Job(format!(
            "a {} job given to the RR22 construction",
            job.construction
        )));
    }
    Ok(())
}

/// Bytes of a compared value: λ = 40 statistical bits plus log2 of the
/// number of pairs, at most 16.
fn compare_bytes(receiver_items: usize, sender_items: usize) -> usize {
    let bits = |n: usize| n.max(1).next_power_of_two().ilog2() as usize;
    (40 + bits(receiver_items) + bits(sender_items))
        .div_ceil(8)
        .min(COMPARE)
}

/// x̂ = SHA-256(domain, length, key) cut to 128 bits, for every key; the
/// keys must be distinct, which is checked on the hashes (equal hashes of
/// distinct keys have probability below n²·2^-129) and, if two are equal,
/// on the keys themselves to name the repeat.
fn key_hashes(items: &Items) -> Result<Vec<u128>, PsiError> {
    let hashes: Vec<u128> = (0..items.len())
        .into_par_iter()
        .map(|i| {
            let key = items.key(i);
            let mut h = Sha256::new();
            h.update(b"indomain/psi/rr22/v1/key");
            h.update((key.len() as u64).to_le_bytes());
            h.update(key);
            read_block(&h.finalize()[..16])
        })
        .collect();
    let mut sorted = hashes.clone();
    sorted.par_sort_unstable();
    if sorted.windows(2).any(|w| w[0] == w[1]) {
        items.check_distinct()?;
    }
    Ok(hashes)
}

/// H(x), the value the OKVS maps x to: AES under a fixed public key of x̂
/// (a pseudo-random permutation of a collision-free hash).
fn okvs_values(hashes: &[u128]) -> Vec<u128> {
    let aes = Aes::new(0x6a09_e667_f3bc_c908_bb67_ae85_84ca_a73b);
    let mut v = hashes.to_vec();
    v.par_chunks_mut(1 << 12).for_each(|c| aes.encrypt(c));
    v
}

/// H_out(v, x̂) = SHA-256(domain, v, x̂) cut to `width` bytes, read as a
/// little-endian integer.
fn outputs(decoded: &[u128], hashes: &[u128], width: usize) -> Vec<u128> {
    decoded
        .par_iter()
        .zip(hashes)
        .map(|(v, x)| {
            let mut h = Sha256::new();
            h.update(b"indomain/psi/rr22/v1/out");
            h.update(v.to_le_bytes());
            h.update(x.to_le_bytes());
            read_prefix(&h.finalize()[..width])
        })
        .collect()
}

/// Up to 16 bytes as a little-endian integer.
fn read_prefix(bytes: &[u8]) -> u128 {
    let mut b = [0u8; 16];
    b[..bytes.len()].copy_from_slice(bytes);
    u128::from_le_bytes(b)
}

/// The receiver's own outputs in an open-addressing hash table (the values
/// are pseudo-random, so their low bits index it directly), each matching
/// once.
struct Matcher {
    slots: Vec<(u128, u32)>,
    mask: usize,
    matched: Vec<bool>,
}

/// Marks an empty slot (positions are below 2^32 − 1).
const EMPTY: u32 = u32::MAX;

impl Matcher {
    /// `None` if two outputs are equal.
    fn new(values: Vec<u128>) -> Option<Self> {
        let size = (2 * values.len()).next_power_of_two().max(2);
        let mut slots = vec![(0u128, EMPTY); size];
        let mask = size - 1;
        for (position, v) in values.into_iter().enumerate() {
            let mut i = v as usize & mask;
            while slots[i].1 != EMPTY {
                if slots[i].0 == v {
                    return None;
                }
                i = (i + 1) & mask;
            }
            slots[i] = (v, position as u32);
        }
        let matched = vec![false; size];
        Some(Self {
            slots,
            mask,
            matched,
        })
    }

    fn find(&self, value: u128) -> Option<usize> {
        let mut i = value as usize & self.mask;
        loop {
            let (v, p) = self.slots[i];
            if p == EMPTY {
                return None;
            }
            if v == value {
                return Some(i);
            }
            i = (i + 1) & self.mask;
        }
    }

    /// The position of the entry at `slot`, unless it has matched before.
    fn take(&mut self, slot: usize) -> Option<usize> {
        let m = self.matched.get_mut(slot)?;
        if *m {
            return None;
        }
        *m = true;
        Some(self.slots[slot].1 as usize)
    }
}

fn to_bytes(blocks: &[u128]) -> Vec<u8> {
    blocks.iter().flat_map(|b| b.to_le_bytes()).collect()
}

fn read_block(bytes: &[u8]) -> u128 {
    let mut b = [0u8; 16];
    b.copy_from_slice(bytes);
    u128::from_le_bytes(b)
}
