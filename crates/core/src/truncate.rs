//! Truncation of shared fixed-point values: dividing by 2^f after a product.
//!
//! A product of two values with f fractional bits has 2f; shares of x must
//! become shares of about x / 2^f. Two methods, with the same guarantee:
//!
//! **Guarantee.** Let x (two's complement) satisfy |x| < 2^l_x. The shares
//! returned reconstruct to ⌊x/2^f⌋ or ⌊x/2^f⌋ + 1 — within one unit in the
//! last place of the exact quotient — unless the shares wrap around the
//! ring, which happens with probability |x|/2^64 < 2^(l_x + 1 − 64), and then
//! the result is off by about ±2^(64−f) (garbage). The probability is over
//! the randomness of the shares (local truncation) or of r (pairs): shares
//! must be uniformly random, as fresh sharings and Beaver outputs are.
//!
//! l_x is set by the protocol: a product of two reals below 2^a encoded with
//! f fractional bits has l_x = 2a + 2f. At f = 20 and reals below 2^4,
//! l_x = 48 and a wrap has probability below 2^-15 per element; below 1,
//! l_x = 40 and 2^-23. A protocol must pick f and its value range so that
//! (elements truncated) × 2^(l_x + 1 − 64) is negligible, and say so.
//!
//! - [`truncate_local`] (SecureML, 2 parties only): no communication. The
//!   first party shifts its share arithmetically, the second computes
//!   −((−x_1) >> f). The wrap event is "x_0 + x_1 overflows as signed
//!   integers".
//! - [`TruncationPairShare`] (any number of parties): the dealer deals
//!   (r, r >> f) for a uniform r; the parties open c = x − r to the leader
//!   only, the leader adds ⌈c/2^f⌉ to its share of r >> f, the others keep
//!   theirs. The wrap event is "c + r overflows as signed integers". One
//!   vector per non-leader party to the leader; the leader learns c, which
//!   is uniformly random whatever x is.

use crate::CoreError;
use crate::dealer::{DealtShare, expand_at};
use crate::ring::PAR_THRESHOLD;
use rayon::prelude::*;

/// Refuses shift amounts outside 0..=62.
pub(crate) fn check_frac_bits(frac_bits: u32) -> Result<(), CoreError> {
    if frac_bits > 62 {
        return Err(CoreError::BadFractionalBits { frac_bits });
    }
    Ok(())
}

/// ⌊v/2^f⌋ for v read as a signed integer.
fn floor_shift(v: u64, f: u32) -> u64 {
    ((v as i64) >> f) as u64
}

/// ⌈v/2^f⌉ for v read as a signed integer: −⌊−v/2^f⌋.
fn ceil_shift(v: u64, f: u32) -> u64 {
    floor_shift(v.wrapping_neg(), f).wrapping_neg()
}

fn map_in_place(values: &mut [u64], op: impl Fn(u64) -> u64 + Sync) {
    if values.len() >= PAR_THRESHOLD {
        values.par_iter_mut().for_each(|v| *v = op(*v));
    } else {
        values.iter_mut().for_each(|v| *v = op(*v));
    }
}

/// Which of the two parties runs [`truncate_local`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TwoPartyRole {
    /// Shifts its share: ⌊x_0/2^f⌋.
    First,
    /// Shifts the negation of its share: ⌈x_1/2^f⌉.
    Second,
}

/// SecureML local truncation of a 2-party sharing, in place. Only sound
/// for exactly two parties; see the module documentation for the bound.
pub fn truncate_local(
    share: &mut [u64],
    frac_bits: u32,
    role: TwoPartyRole,
) -> Result<(), CoreError> {
    check_frac_bits(frac_bits)?;
    match role {
        TwoPartyRole::First => map_in_place(share, |v| floor_shift(v, frac_bits)),
        TwoPartyRole::Second => map_in_place(share, |v| ceil_shift(v, frac_bits)),
    }
    Ok(())
}

/// One party's share of `len` truncation pairs (r, r >> f).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TruncationPairShare {
    /// Share of the uniform mask r.
    pub r: Vec<u64>,
    /// Share of r >> f (arithmetic shift).
    pub shifted: Vec<u64>,
    frac_bits: u32,
}

impl TruncationPairShare {
    /// The share from what the dealer sent, for `len` pairs dealt with
    /// `frac_bits`.
    pub fn from_dealt(dealt: &DealtShare, len: usize, frac_bits: u32) -> Result<Self, CoreError> {
        check_frac_bits(frac_bits)?;
        Ok(Self {
            r: expand_at(&dealt.seed, 0, len),
            shifted: dealt.product_share(len, len)?,
            frac_bits,
        })
    }

    /// A share generated some other way (two parties without a dealer):
    /// shares of r and of r >> `frac_bits`, of the same length.
    pub fn new(r: Vec<u64>, shifted: Vec<u64>, frac_bits: u32) -> Result<Self, CoreError> {
        check_frac_bits(frac_bits)?;
        if r.len() != shifted.len() {
            return Err(CoreError::ShapeMismatch {
                what: "truncation pairs: shifted shares",
                expected: r.len(),
                got: shifted.len(),
            });
        }
        Ok(Self {
            r,
            shifted,
            frac_bits,
        })
    }

    /// The number of pairs.
    pub fn len(&self) -> usize {
        self.r.len()
    }

    /// Whether there are no pairs.
    pub fn is_empty(&self) -> bool {
        self.r.is_empty()
    }

    /// Step 1: x_i − r_i, to be sent to the leader (the leader keeps its own).
    pub fn mask(&self, x: &[u64]) -> Result<Vec<u64>, CoreError> {
        if x.len() != self.len() {
            return Err(CoreError::ShapeMismatch {
                what: "truncation mask: x",
                expected: self.len(),
                got: x.len(),
            });
        }
        Ok(x.iter()
            .zip(&self.r)
            .map(|(x, r)| x.wrapping_sub(*r))
            .collect())
    }

    /// Step 2: this party's share of x >> f. The leader passes the opened
    /// c = Σ (x_i − r_i); every other party passes `None`.
    pub fn finish(self, opened_at_leader: Option<&[u64]>) -> Result<Vec<u64>, CoreError> {
        let mut out = self.shifted;
        if let Some(c) = opened_at_leader {
            if c.len() != out.len() {
                return Err(CoreError::ShapeMismatch {
                    what: "truncation finish: opened c",
                    expected: out.len(),
                    got: c.len(),
                });
            }
            let f = self.frac_bits;
            out.iter_mut()
                .zip(c)
                .for_each(|(t, c)| *t = t.wrapping_add(ceil_shift(*c, f)));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shifts_round_the_right_way() {
        for x in [-5i64, -4, -1, 0, 1, 3, 4, 5, i64::MIN, i64::MAX] {
            let v = x as u64;
            assert_eq!(floor_shift(v, 2) as i64, x.div_euclid(4));
            if x != i64::MIN {
                assert_eq!(ceil_shift(v, 2) as i64, -((-x).div_euclid(4)));
            }
        }
    }

    #[test]
    fn bad_shift_is_refused() {
        let mut v = vec![1u64];
        assert_eq!(
            truncate_local(&mut v, 63, TwoPartyRole::First),
            Err(CoreError::BadFractionalBits { frac_bits: 63 })
        );
        assert_eq!(v, vec![1]);
    }
}
