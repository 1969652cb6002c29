//! Exact truncation: ⌊x / 2^s⌋ of a shared x with |x| < 2^62, with no
//! probability of failure and no error in the last place.
//!
//! [`Session::truncate`] is exact up to one unit except with probability
//! |x|/2^63 per element: fine for values of 30-odd bits, not for the
//! 50-bit intermediates of a gain comparison (a split search makes
//! thousands of them per level). Here the carries are computed instead of
//! risked:
//!
//! 1. The shares are moved onto ranks 0 and 1 (every other rank sends its
//!    share to rank 1, which adds it; nothing is learned: rank 0's share
//!    still hides x).
//! 2. Rank 0 holds A = x_0 + 2^62, rank 1 holds B = x_1, both read as
//!    unsigned 64-bit integers, so that x + 2^62 = A + B − 2^64·w with w
//!    the carry out of the 64-bit addition. Then
//!    ⌊(x + 2^62)/2^s⌋ = ⌊A/2^s⌋ + ⌊B/2^s⌋ + c_s − 2^(64−s)·w, where c_s is
//!    the carry into bit s.
//! 3. c_s and w come from a carry-lookahead circuit on packed boolean
//!    shares ([`crate::bits`]): each of ranks 0 and 1 XOR-shares its own
//!    bits (its share is the bit, everyone else's zero); generate
//!    g_j = a_j ∧ b_j (one AND gate a bit), propagate p_j = a_j ⊕ b_j
//!    (local), and (G, P) pairs combine as (G_hi ⊕ P_hi ∧ G_lo,
//!    P_hi ∧ P_lo) — ⊕ serves as ∨ since generate and propagate exclude
//!    each other — in two balanced trees, bits [0, s) and [s, 64), then
//!    w = G_hi ⊕ P_hi ∧ G_lo.
//! 4. Both carries become ring shares with daBits ([`Session::bits_to_ring`]).
//!
//! This is the two-party truncation of SecureML (Mohassel and Zhang, S&P
//! 2017, §4.1) made exact by computing its wrap-around instead of bounding
//! its probability; the carries are a standard parallel-prefix adder
//! (Sklansky) on GMW shares.
//!
//! Cost per element: 64 + (s − 1) + 2·(64 − s) − 1 + 1 ≈ 190 − s AND gates
//! (≈ 24 bytes to each other party), 2 daBits, ⌈log2 max(s, 64 − s)⌉ + 3
//! rounds (one more with three or more computing parties); the dealer sends
//! the leader the gates' and daBits' corrections (≈ 41 bytes).
//!
//! What each party learns: uniformly random openings of the AND gates and
//! daBits; rank 1, with three or more parties, the other ranks' shares
//! (uniform while rank 0's share is unknown to it).

use crate::MpcError;
use crate::bits::SharedBits;
use crate::correlations::Correlations;
use crate::open::{recv_each, send_all};
use crate::session::Session;
use crate::shared::Shared;
use indomain_core::bits::{plane, words};

/// Elements truncated at once: the circuit's shares of a chunk are 64
/// planes of ⌈len/64⌉ words, and its AND triples one dealt item.
pub const CHUNK: usize = 1 << 17;

/// A node of a carry-lookahead tree: packed (generate, propagate) shares.
struct Node {
    g: Vec<u64>,
    p: Vec<u64>,
}

impl<C: Correlations> Session<'_, C> {
    /// ⌊x / 2^`shift`⌋ exactly, for shared x read as signed with
    /// |x| < 2^62, 1 ≤ shift ≤ 62.
    pub fn truncate_exact(&mut self, x: &Shared, shift: u32) -> Result<Shared, MpcError> {
        if !(1..=62).contains(&shift) {
            return Err(MpcError::Usage(format!(
                "an exact truncation by {shift} bits (1 to 62)"
            )));
        }
        let mut out = Vec::with_capacity(x.len());
        for chunk in x.as_slice().chunks(CHUNK) {
            out.extend(self.truncate_exact_chunk(chunk, shift)?.0);
        }
        Ok(Shared(out))
    }

    fn truncate_exact_chunk(&mut self, x: &[u64], shift: u32) -> Result<Shared, MpcError> {
        let len = x.len();
        let rank = self.rank();
        let s = shift as usize;
        let mine = self.onto_two(x)?;
        // A (rank 0) or B (rank 1); zeros elsewhere.
        let value: Vec<u64> = match rank {
            0 => mine.iter().map(|v| v.wrapping_add(1 << 62)).collect(),
            1 => mine,
            _ => vec![0; len],
        };
        let w = words(len);
        let planes: Vec<Vec<u64>> = (0..64).map(|j| plane(&value, j)).collect();
        let zeros = vec![0u64; w];
        let (a, b): (Vec<u64>, Vec<u64>) = {
            let (mut a, mut b) = (Vec::with_capacity(64 * w), Vec::with_capacity(64 * w));
            for p in &planes {
                a.extend_from_slice(if rank == 0 { p } else { &zeros });
                b.extend_from_slice(if rank == 1 { p } else { &zeros });
            }
            (a, b)
        };
        let g = self.and_bits(&a, &b)?;
        let leaves: Vec<Node> = (0..64)
            .map(|j| {
                let at = j * w..(j + 1) * w;
                Node {
                    g: g[at.clone()].to_vec(),
                    p: a[at.clone()]
                        .iter()
                        .zip(&b[at])
                        .map(|(x, y)| x ^ y)
                        .collect(),
                }
            })
            .collect();
        let mut leaves = leaves.into_iter();
        let low: Vec<Node> = leaves.by_ref().take(s).collect();
        let high: Vec<Node> = leaves.collect();
        let mut trees = vec![low, high];
        while trees.iter().any(|t| t.len() > 1) {
            trees = self.combine_carries(trees)?;
        }
        let high = trees.pop().and_then(|mut t| t.pop());
        let low = trees.pop().and_then(|mut t| t.pop());
        let (low, high) = low
            .zip(high)
            .ok_or_else(|| MpcError::Usage("carry tree: empty range".into()))?;
        let through = self.and_bits(&high.p, &low.g)?;
        let wrap: Vec<u64> = high.g.iter().zip(&through).map(|(a, b)| a ^ b).collect();
        // Element e's c_s is bit e, its w bit 64·⌈len/64⌉ + e.
        let mut both = low.g;
        both.extend(wrap);
        let ring = self.bits_to_ring(&SharedBits::new(both, 2 * w * 64)?)?;
        let (carry, wrap) = ring.0.split_at(w * 64);
        let top = 1u64 << (64 - s);
        let base: Vec<u64> = match rank {
            0 => value
                .iter()
                .map(|v| (v >> s).wrapping_sub(1 << (62 - s)))
                .collect(),
            1 => value.iter().map(|v| v >> s).collect(),
            _ => vec![0; len],
        };
        Ok(Shared(
            base.iter()
                .enumerate()
                .map(|(e, b)| {
                    b.wrapping_add(carry[e])
                        .wrapping_sub(top.wrapping_mul(wrap[e]))
                })
                .collect(),
        ))
    }

    /// Moves every rank's share onto ranks 0 and 1: ranks from 2 on send
    /// theirs to rank 1 and keep zero. Returns this party's new share.
    fn onto_two(&mut self, x: &[u64]) -> Result<Vec<u64>, MpcError> {
        let rank = self.rank();
        let computing = self.roster().computing().to_vec();
        if computing.len() == 2 {
            return Ok(x.to_vec());
        }
        let parties = self.parties_mut();
        match rank {
            0 => Ok(x.to_vec()),
            1 => {
                let mut sum = x.to_vec();
                for &peer in &computing[2..] {
                    recv_each(parties.channel(peer)?, sum.len(), |at, got| {
                        for (s, g) in sum[at..].iter_mut().zip(got) {
                            *s = s.wrapping_add(g);
                        }
                    })?;
                }
                Ok(sum)
            }
            _ => {
                send_all(parties.channel(computing[1])?, x)?;
                Ok(vec![0; x.len()])
            }
        }
    }

    /// One level of several carry trees at once (one AND call): nodes 2k
    /// (lower bits) and 2k + 1 (higher) of each tree combine; an odd last
    /// node passes through.
    fn combine_carries(&mut self, trees: Vec<Vec<Node>>) -> Result<Vec<Vec<Node>>, MpcError> {
        let mut left = Vec::new();
        let mut right = Vec::new();
        for t in &trees {
            for k in 0..t.len() / 2 {
                left.extend_from_slice(&t[2 * k + 1].p);
                right.extend_from_slice(&t[2 * k].g);
                left.extend_from_slice(&t[2 * k + 1].p);
                right.extend_from_slice(&t[2 * k].p);
            }
        }
        let prod = self.and_bits(&left, &right)?;
        let mut at = 0;
        let mut out = Vec::with_capacity(trees.len());
        for t in trees {
            let pairs = t.len() / 2;
            let mut next = Vec::with_capacity(pairs + 1);
            let mut nodes = t.into_iter();
            for _ in 0..pairs {
                let (_, hi) = (nodes.next(), nodes.next());
                let hi = hi.ok_or_else(|| MpcError::Usage("carry tree: odd pairing".into()))?;
                let w = hi.g.len();
                let g =
                    hi.g.iter()
                        .zip(&prod[at..at + w])
                        .map(|(a, b)| a ^ b)
                        .collect();
                let p = prod[at + w..at + 2 * w].to_vec();
                at += 2 * w;
                next.push(Node { g, p });
            }
            next.extend(nodes);
            out.push(next);
        }
        Ok(out)
    }
}
