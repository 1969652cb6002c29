//! Secure comparison with zero on packed boolean shares: the construction
//! of [`crate::compare`] (Catrina and de Hoogh, SCN 2010, §3, with the
//! mask and its bits dealt together as edaBits, Escudero et al., CRYPTO
//! 2020), with the bits of the mask XOR-shared and packed 64 to a word, so
//! that the prefix tree's AND gates cost 2 bits each instead of two ring
//! elements (the departure [`crate::compare`] leaves for later). For x
//! with |x| < 2^ℓ (ℓ = `bound`, 1 ≤ ℓ ≤ 63):
//!
//! 1. The dealer deals r uniform in Z_2^64 (additive shares) and XOR
//!    shares of its bits r_0..r_ℓ, packed ([`Correlations::packed_masked_bits`]).
//! 2. The parties open c = x + 2^ℓ + r; [x ≥ 0] = c_ℓ ⊕ r_ℓ ⊕ borrow with
//!    borrow = [c mod 2^ℓ < r mod 2^ℓ] (see [`crate::compare`]).
//! 3. The borrow: per bit, g_j = r_j ∧ ¬c_j and p_j = ¬(r_j ⊕ c_j) are
//!    local (c is public); pairs combine as (G, P) = (G_hi ⊕ P_hi ∧ G_lo,
//!    P_hi ∧ P_lo) — ⊕ serves as ∨ because "greater" and "equal" exclude
//!    each other — in a balanced tree of ⌈log2 ℓ⌉ levels, each level one
//!    [`Session::and_bits`] for all of its gates.
//! 4. \[x < 0\] = ¬(c_ℓ ⊕ r_ℓ ⊕ borrow) is local: the result is XOR-shared;
//!    [`Session::bits_to_ring`] turns it into ring shares where needed.
//!
//! Cost per element, ℓ = 63: 1 ring element opened (8 bytes to each other
//! party), 118 AND gates (118 × 2 bits ≈ 30 bytes to each other party),
//! ⌈log2 63⌉ + 1 = 7 rounds per call (whatever the length, up to [`CHUNK`]);
//! the dealer sends the leader 64 bits of mask bits and 118 bits of
//! triple corrections (≈ 23 bytes) and a seed to everyone. [`crate::compare`]
//! sends 1,912 bytes an element for the same result.
//!
//! What each party learns: c, uniformly random (r is uniform on the
//! ring), and the AND gates' openings, uniformly random. The result stays
//! shared.

use crate::MpcError;
use crate::bits::SharedBits;
use crate::compare::FULL_RANGE;
use crate::correlations::Correlations;
use crate::session::Session;
use crate::shared::Shared;
use indomain_core::bits::{PackedMaskedBitsShare, planes, words};

/// Elements compared at once: the tree's shares of 2^20 elements are at
/// most 63 × 2^14 words (8 MiB) and the dealer's item 2^20 + 2^20 elements,
/// within its default item limit.
pub const CHUNK: usize = 1 << 20;

/// A comparison between its masking and its opening: the dealt masks.
pub struct PendingComparison {
    mask: PackedMaskedBitsShare,
    len: usize,
    bound: u32,
    blur: u32,
}

/// A node of the prefix tree: packed (greater, equal) shares of a range of
/// bits, for every element.
struct Node {
    g: Vec<u64>,
    p: Vec<u64>,
}

impl<C: Correlations> Session<'_, C> {
    /// XOR shares of \[x < 0\] for shared x read as signed, given |x| <
    /// 2^`bound` (1 ≤ bound ≤ 63).
    pub fn less_than_zero_bits(&mut self, x: &Shared, bound: u32) -> Result<SharedBits, MpcError> {
        if !(1..=FULL_RANGE).contains(&bound) {
            return Err(MpcError::Usage(format!(
                "a comparison bound of {bound} bits (1 to {FULL_RANGE})"
            )));
        }
        let mut out = Vec::with_capacity(words(x.len()));
        for chunk in x.as_slice().chunks(CHUNK) {
            out.extend(self.less_than_zero_bits_chunk(chunk, bound)?);
        }
        SharedBits::new(out, x.len())
    }

    /// XOR shares of \[x < t\] for a public ring constant t, given |x − t| <
    /// 2^`bound`.
    pub fn less_than_public_bits(
        &mut self,
        x: &Shared,
        t: u64,
        bound: u32,
    ) -> Result<SharedBits, MpcError> {
        let mut d = x.clone();
        d.sub_public(&vec![t; d.len()], self.rank())?;
        self.less_than_zero_bits(&d, bound)
    }

    fn less_than_zero_bits_chunk(&mut self, x: &[u64], bound: u32) -> Result<Vec<u64>, MpcError> {
        let (pending, masked) = self.prepare_comparison(x, bound, 0)?;
        let c = self.open(&masked)?;
        self.finish_comparison(pending, &c)
    }

    /// Step 1 of a comparison of at most [`CHUNK`] elements with zero
    /// (|x| < 2^`bound`): fetches the masks and returns this party's
    /// share of c = x + 2^bound + r, to be opened — alone, or with other
    /// values in one round — and passed to
    /// [`finish_comparison`](Self::finish_comparison).
    ///
    /// With `blur` > 0 the prefix tree covers bits blur..bound only, and
    /// the borrow out of the `blur` low bits is not computed: the result is
    /// exact except for x in [−2^blur, 0), which may come out as "not
    /// below" (the borrow it drops is the only difference, and it matters
    /// only when c and r agree on bits blur..bound). A threshold known to
    /// within 2^blur then costs bound − blur bits, without the failure
    /// probability a truncation would add.
    pub fn prepare_comparison(
        &mut self,
        x: &[u64],
        bound: u32,
        blur: u32,
    ) -> Result<(PendingComparison, Shared), MpcError> {
        if !(1..=FULL_RANGE).contains(&bound) || blur >= bound || x.len() > CHUNK {
            return Err(MpcError::Usage(format!(
                "a comparison of {} elements (at most {CHUNK}) with a bound of {bound} bits (1 to {FULL_RANGE}) and {blur} blurred bits",
                x.len()
            )));
        }
        let len = x.len();
        let rank = self.rank();
        let mask = {
            let (parties, corr, _) = self.parts();
            corr.packed_masked_bits(parties, len, blur, bound - blur + 1)?
        };
        let mut masked = Shared(mask.r.clone());
        masked.add_assign(&Shared(x.to_vec()))?;
        masked.add_public(&vec![1u64 << bound; len], rank)?;
        Ok((
            PendingComparison {
                mask,
                len,
                bound,
                blur,
            },
            masked,
        ))
    }

    /// Steps 2–4 of a comparison, given the opened c: XOR shares of
    /// \[x < 0\], packed.
    pub fn finish_comparison(
        &mut self,
        pending: PendingComparison,
        c: &[u64],
    ) -> Result<Vec<u64>, MpcError> {
        let PendingComparison {
            mask,
            len,
            bound,
            blur,
        } = pending;
        if c.len() != len {
            return Err(MpcError::Usage(format!(
                "{} opened values for {len} comparisons",
                c.len()
            )));
        }
        let leader = self.is_leader();
        // Bits blur..bound of c, renumbered from 0; bit m is the top.
        let m = (bound - blur) as usize;
        let shifted: Vec<u64> = c.iter().map(|v| v >> blur).collect();
        let planes = planes(&shifted, bound - blur + 1);
        let w = words(len);
        let mut nodes: Vec<Node> = (0..m)
            .map(|j| {
                let cj = &planes[j * w..(j + 1) * w];
                let rj = mask.plane(j, len);
                let g = rj.iter().zip(cj).map(|(r, c)| r & !c).collect();
                let p = rj
                    .iter()
                    .zip(cj)
                    .map(|(r, c)| if leader { r ^ !c } else { *r })
                    .collect();
                Node { g, p }
            })
            .collect();
        while nodes.len() > 1 {
            nodes = self.combine_bits(nodes)?;
        }
        let borrow = nodes.pop().map(|n| n.g).unwrap_or_default();
        let cm = &planes[m * w..(m + 1) * w];
        Ok(mask
            .plane(m, len)
            .iter()
            .zip(&borrow)
            .zip(cm)
            .map(|((r, g), c)| {
                let t = r ^ g;
                if leader { t ^ !c } else { t }
            })
            .collect())
    }

    /// One level of the prefix tree: node 2k (lower bits) and 2k + 1
    /// (higher bits) combine; an odd last node passes through. The node
    /// holding bit 0 never needs its equal flag.
    fn combine_bits(&mut self, nodes: Vec<Node>) -> Result<Vec<Node>, MpcError> {
        let pairs = nodes.len() / 2;
        let w = nodes[0].g.len();
        let mut left = Vec::with_capacity((2 * pairs).saturating_sub(1) * w);
        let mut right = Vec::with_capacity(left.capacity());
        for k in 0..pairs {
            left.extend_from_slice(&nodes[2 * k + 1].p);
            right.extend_from_slice(&nodes[2 * k].g);
        }
        for k in 1..pairs {
            left.extend_from_slice(&nodes[2 * k + 1].p);
            right.extend_from_slice(&nodes[2 * k].p);
        }
        let prod = self.and_bits(&left, &right)?;
        let mut out = Vec::with_capacity(pairs + 1);
        let mut nodes = nodes.into_iter();
        for k in 0..pairs {
            let (_, hi) = (nodes.next(), nodes.next());
            let hi = hi.ok_or_else(|| MpcError::Usage("prefix tree: odd pairing".into()))?;
            let g =
                hi.g.iter()
                    .zip(&prod[k * w..(k + 1) * w])
                    .map(|(a, b)| a ^ b)
                    .collect();
            let p = if k == 0 {
                Vec::new()
            } else {
                let at = (pairs + k - 1) * w;
                prod[at..at + w].to_vec()
            };
            out.push(Node { g, p });
        }
        out.extend(nodes);
        Ok(out)
    }
}
