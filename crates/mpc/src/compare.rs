//! Secure comparison of shared ring values with zero or a public constant,
//! and "shared count ≥ k?" revealed to named receivers only.
//!
//! Construction: the masked-opening comparison of Catrina and de Hoogh
//! ("Improved primitives for secure multiparty integer computation", SCN
//! 2010, §3: LTZ through a bitwise less-than on a masked value), with the
//! mask and its bits dealt together as in edaBits (Escudero et al.,
//! CRYPTO 2020) and the bitwise less-than as a log-depth prefix on
//! (greater, equal) pairs. For x with |x| < 2^ℓ (ℓ = `bound`, 1 ≤ ℓ ≤ 63):
//!
//! 1. The dealer deals r uniform in Z_2^64 and shares of its bits r_0..r_ℓ
//!    ([`Correlations::masked_bits`]).
//! 2. The parties open c = x + 2^ℓ + r. Bit ℓ of y = x + 2^ℓ ∈ (0, 2^(ℓ+1))
//!    is [x ≥ 0], and y ≡ c − r mod 2^(ℓ+1), so
//!    [x ≥ 0] = c_ℓ ⊕ r_ℓ ⊕ [c mod 2^ℓ < r mod 2^ℓ].
//! 3. The borrow [c mod 2^ℓ < r mod 2^ℓ] is a comparison of the public bits
//!    of c with the shared bits of r: per bit, g_j = r_j ∧ ¬c_j (r greater)
//!    and p_j = ¬(r_j ⊕ c_j) (equal) are linear in the shares because c is
//!    public; pairs combine as (G, P) = (G_hi + P_hi·G_lo, P_hi·P_lo) in a
//!    balanced tree, ⌈log2 ℓ⌉ rounds of Beaver products.
//! 4. One more Beaver product gives r_ℓ ⊕ borrow, and the result is a
//!    sharing of \[x < 0\] as the ring element 0 or 1 (no bit-to-arithmetic
//!    conversion: every bit lives in Z_2^64 from the start).
//!
//! Departure, and why: the bits are ring elements of Z_2^64 and the AND
//! gates are ordinary Beaver triples, where a boolean circuit with Z_2
//! triples packed 64 to a word sends far fewer bytes but needs boolean
//! triples and a daBit conversion back to the ring; the arithmetic form
//! reuses the layer's triples and gives a ring share directly. The packed
//! form is [`crate::compare_bits`] (what the sigmoid uses on every row).
//!
//! Cost per element, ℓ = 63: 8 rounds per [`CHUNK`] elements (1 opening,
//! 6 tree levels, 1 product); 118 + 1 Beaver products, so each party sends
//! every other party 8 + 119·16 = 1,912 bytes; the dealer sends the leader
//! 8·(119 + 64) = 1,464 bytes of corrections and everyone a seed per
//! request.
//!
//! What each party learns: c = x + 2^ℓ + r, uniformly random because r is
//! uniform on the whole ring (no statistical assumption; the only
//! condition, |x| < 2^ℓ, is for correctness), and the Beaver openings,
//! uniformly random. The result stays shared unless opened.

use crate::MpcError;
use crate::correlations::Correlations;
use crate::roster::LEADER;
use crate::session::Session;
use crate::shared::Shared;

/// The largest bound: every x of the ring, read as signed, qualifies.
pub const FULL_RANGE: u32 = 63;

/// Elements compared at once. The first tree level multiplies up to 62
/// values per element, so 2^15 elements keep a request of triples within
/// the dealer's default item limit (2^23 ring elements) and the tree's
/// shares within 2^15 · 64 · 16 bytes = 32 MiB; a longer vector costs 8
/// rounds per 2^15 elements.
pub const CHUNK: usize = 1 << 15;

/// Per-element shares of a (greater, equal) pair of bit ranges, one vector
/// per node of the prefix tree.
struct Node {
    g: Vec<u64>,
    p: Vec<u64>,
}

/// The share of 1 − v: the leader's 1 − v_i, the others' −v_i.
fn one_minus(v: u64, leader: bool) -> u64 {
    (leader as u64).wrapping_sub(v)
}

impl<C: Correlations> Session<'_, C> {
    /// Shares of \[x < 0\] (the ring element 1 or 0) for shared x read as
    /// signed, given |x| < 2^`bound` (1 ≤ bound ≤ [`FULL_RANGE`]).
    pub fn less_than_zero(&mut self, x: &Shared, bound: u32) -> Result<Shared, MpcError> {
        if !(1..=FULL_RANGE).contains(&bound) {
            return Err(MpcError::Usage(format!(
                "a comparison bound of {bound} bits (1 to {FULL_RANGE})"
            )));
        }
        let mut out = Vec::with_capacity(x.len());
        for chunk in x.as_slice().chunks(CHUNK) {
            out.extend(self.less_than_zero_chunk(chunk, bound)?.0);
        }
        Ok(Shared(out))
    }

    /// [`less_than_zero`](Self::less_than_zero) on at most [`CHUNK`]
    /// elements.
    fn less_than_zero_chunk(&mut self, x: &[u64], bound: u32) -> Result<Shared, MpcError> {
        let len = x.len();
        let rank = self.rank();
        let leader = rank == LEADER;
        let m = bound as usize;
        let mask = {
            let (parties, corr, _) = self.parts();
            corr.masked_bits(parties, len, bound + 1)?
        };
        let mut masked = Shared(mask.r);
        masked.add_assign(&Shared(x.to_vec()))?;
        masked.add_public(&vec![1u64 << bound; len], rank)?;
        let c = self.open(&masked)?;
        let bit = |j: usize| &mask.bits[j * len..(j + 1) * len];
        let mut nodes: Vec<Node> = (0..m)
            .map(|j| {
                let (g, p) = c
                    .iter()
                    .zip(bit(j))
                    .map(|(&c, &r)| {
                        if (c >> j) & 1 == 1 {
                            (0, r)
                        } else {
                            (r, one_minus(r, leader))
                        }
                    })
                    .unzip();
                Node { g, p }
            })
            .collect();
        while nodes.len() > 1 {
            nodes = self.combine(nodes, len)?;
        }
        let borrow = Shared(nodes.pop().map(|n| n.g).unwrap_or_default());
        let top = Shared(bit(m).to_vec());
        let both = self.mul(&top, &borrow)?;
        // t = r_ℓ ⊕ borrow = r_ℓ + borrow − 2·r_ℓ·borrow.
        let mut t = top.add(&borrow)?;
        let mut twice = both;
        twice.scale(2);
        t.sub_assign(&twice)?;
        let out = c
            .iter()
            .zip(t.0)
            .map(|(&c, t)| {
                if (c >> m) & 1 == 1 {
                    t
                } else {
                    one_minus(t, leader)
                }
            })
            .collect();
        Ok(Shared(out))
    }

    /// One level of the prefix tree: node 2k (lower bits) and 2k + 1
    /// (higher bits) combine; an odd last node passes through. The equal
    /// flag of the node holding bit 0 is never used, so it is not computed.
    fn combine(&mut self, nodes: Vec<Node>, len: usize) -> Result<Vec<Node>, MpcError> {
        let pairs = nodes.len() / 2;
        let mut left = Vec::with_capacity((2 * pairs).saturating_sub(1) * len);
        let mut right = Vec::with_capacity(left.capacity());
        for k in 0..pairs {
            left.extend_from_slice(&nodes[2 * k + 1].p);
            right.extend_from_slice(&nodes[2 * k].g);
        }
        for k in 1..pairs {
            left.extend_from_slice(&nodes[2 * k + 1].p);
            right.extend_from_slice(&nodes[2 * k].p);
        }
        let prod = self.mul(&Shared(left), &Shared(right))?.0;
        let mut out = Vec::with_capacity(pairs + 1);
        let mut nodes = nodes.into_iter();
        for k in 0..pairs {
            let (_, hi) = (nodes.next(), nodes.next());
            let hi = hi.ok_or_else(|| MpcError::Usage("prefix tree: odd pairing".into()))?;
            let g =
                hi.g.iter()
                    .zip(&prod[k * len..(k + 1) * len])
                    .map(|(a, b)| a.wrapping_add(*b))
                    .collect();
            let p = if k == 0 {
                Vec::new()
            } else {
                let at = (pairs + k - 1) * len;
                prod[at..at + len].to_vec()
            };
            out.push(Node { g, p });
        }
        out.extend(nodes);
        Ok(out)
    }

    /// Shares of \[x < t\] for a public ring constant t (the same for every
    /// element), given |x − t| < 2^`bound`.
    pub fn less_than_public(&mut self, x: &Shared, t: u64, bound: u32) -> Result<Shared, MpcError> {
        let mut d = x.clone();
        d.sub_public(&vec![t; d.len()], self.rank())?;
        self.less_than_zero(&d, bound)
    }

    /// "count ≥ k?" for shared integer counts, revealed to the computing
    /// parties of set indices `receivers` only: each receiver gets `Some` of one flag per
    /// count, every other party `None`, and nobody learns a count.
    /// Counts and k must satisfy |count − k| < 2^`bound`.
    pub fn at_least_to(
        &mut self,
        counts: &Shared,
        k: u64,
        bound: u32,
        receivers: &[usize],
    ) -> Result<Option<Vec<bool>>, MpcError> {
        let below = self.less_than_public(counts, k, bound)?;
        let mut at_least = Shared::public(&vec![1; below.len()], self.rank());
        at_least.sub_assign(&below)?;
        let mut mine = None;
        for &receiver in receivers {
            if let Some(bits) = self.open_to(&at_least, receiver)? {
                mine = Some(bits);
            }
        }
        mine.map(|bits| {
            bits.into_iter()
                .map(|b| match b {
                    0 => Ok(false),
                    1 => Ok(true),
                    other => Err(MpcError::Malformed {
                        peer: "a computing party".into(),
                        phase: "opening a comparison",
                        reason: format!("the opened flag is {other}, not 0 or 1"),
                    }),
                })
                .collect()
        })
        .transpose()
    }
}
