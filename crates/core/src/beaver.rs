//! Element-wise multiplication of shared vectors with Beaver triples
//! (Beaver 1991; as in SecureML and ABY).
//!
//! Each party i holds shares x_i, y_i and a triple share (a_i, b_i, c_i)
//! with Σ c_i = (Σ a_i)·(Σ b_i). The protocol is two local steps around one
//! opening that the caller performs over the network:
//!
//! 1. [`TripleShare::mask`]: d_i = x_i − a_i, e_i = y_i − b_i;
//! 2. the parties open d = Σ d_i and e = Σ e_i;
//! 3. [`TripleShare::finish`]: z_i = c_i + d·b_i + e·a_i, plus d·e at the one
//!    leader; then Σ z_i = x·y.
//!
//! What each party learns: d and e, which are x and y masked by the
//! uniformly random a and b and so say nothing about x or y (provided a
//! triple is used once, and the dealer does not collude). Fixed-point inputs
//! give a product with twice the fractional bits: see [`crate::truncate`].

use crate::CoreError;
use crate::dealer::{DealtShare, expand_at};
use crate::ring::{PAR_THRESHOLD, check_len as check};
use rayon::prelude::*;

/// One party's share of `len` element-wise Beaver triples.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TripleShare {
    /// Share of the first mask a.
    pub a: Vec<u64>,
    /// Share of the second mask b.
    pub b: Vec<u64>,
    /// Share of the product c = a·b.
    pub c: Vec<u64>,
}

/// A party's masked inputs, to be opened: d_i = x_i − a_i, e_i = y_i − b_i.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Masked {
    /// x_i − a_i.
    pub d: Vec<u64>,
    /// y_i − b_i.
    pub e: Vec<u64>,
}

impl Masked {
    /// d and e in one vector (d first), so that one message opens both.
    pub fn concat(&self) -> Vec<u64> {
        let mut out = Vec::with_capacity(self.d.len() + self.e.len());
        out.extend_from_slice(&self.d);
        out.extend_from_slice(&self.e);
        out
    }
}

/// One element's (c_i, a_i, b_i) and opened (d, e), as the zipped
/// iterators yield them.
type FinishInputs<'a> = (((&'a u64, &'a u64), &'a u64), (&'a u64, &'a u64));

impl TripleShare {
    /// The party's triple share from what the dealer sent it, for triples
    /// of length `len`.
    pub fn from_dealt(dealt: &DealtShare, len: usize) -> Result<Self, CoreError> {
        Ok(Self {
            a: expand_at(&dealt.seed, 0, len),
            b: expand_at(&dealt.seed, len, len),
            c: dealt.product_share(2 * len, len)?,
        })
    }

    /// The number of triples.
    pub fn len(&self) -> usize {
        self.c.len()
    }

    /// Whether there are no triples.
    pub fn is_empty(&self) -> bool {
        self.c.is_empty()
    }

    /// Step 1: masks this party's shares of x and y.
    pub fn mask(&self, x: &[u64], y: &[u64]) -> Result<Masked, CoreError> {
        check("beaver mask: x", self.len(), x.len())?;
        check("beaver mask: y", self.len(), y.len())?;
        let sub = |v: &[u64], m: &[u64]| -> Vec<u64> {
            v.iter().zip(m).map(|(v, m)| v.wrapping_sub(*m)).collect()
        };
        Ok(Masked {
            d: sub(x, &self.a),
            e: sub(y, &self.b),
        })
    }

    /// Step 3: this party's share of x·y from the opened d and e. Exactly
    /// one party (the leader) passes `leader = true`.
    pub fn finish(&self, d: &[u64], e: &[u64], leader: bool) -> Result<Vec<u64>, CoreError> {
        check("beaver finish: d", self.len(), d.len())?;
        check("beaver finish: e", self.len(), e.len())?;
        let one = |(((c, a), b), (d, e)): FinishInputs<'_>| {
            let z = c
                .wrapping_add(d.wrapping_mul(*b))
                .wrapping_add(e.wrapping_mul(*a));
            if leader {
                z.wrapping_add(d.wrapping_mul(*e))
            } else {
                z
            }
        };
        if self.len() < PAR_THRESHOLD {
            return Ok(self
                .c
                .iter()
                .zip(&self.a)
                .zip(&self.b)
                .zip(d.iter().zip(e))
                .map(one)
                .collect());
        }
        Ok(self
            .c
            .par_iter()
            .zip(&self.a)
            .zip(&self.b)
            .zip(d.par_iter().zip(e))
            .map(one)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dealer::Dealer;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn wrong_lengths_are_errors() {
        let mut rng = StdRng::seed_from_u64(1);
        let dealt = Dealer::new(2).unwrap().triples(3, &mut rng);
        let t = TripleShare::from_dealt(&dealt[1], 3).unwrap();
        assert!(t.mask(&[1, 2], &[1, 2, 3]).is_err());
        assert!(t.mask(&[1, 2, 3], &[1, 2, 3, 4]).is_err());
        assert!(t.finish(&[0; 3], &[0; 2], true).is_err());
        assert!(TripleShare::from_dealt(&dealt[0], 4).is_err());
    }
}
