//! The trusted dealer of correlated randomness: Beaver triples, matrix
//! triples and truncation pairs, handed out with seed compression.
//!
//! The dealer is a party that holds no data and receives no shares of data
//! (v1 assumes it does not collude with the computing parties). For every
//! item it deals, it draws one fresh 128-bit seed per party. Every party
//! expands its seed into its shares of the random masks (a, b; U, V; r);
//! every party but the **correction party** (party 0) also expands its
//! share of the product (c; W; r >> f). The dealer computes the product from
//! the masks it knows and sends the correction party the one explicit share
//! that makes the shares add up. Dealing an item to n parties therefore
//! costs n seeds plus one vector (or matrix) the size of the product,
//! whatever n is.
//!
//! What each party learns: the dealer learns only the shapes it is asked
//! for. A computing party learns only its own shares. The masks (a, b; U,
//! V; r) are sums of every party's expansion, so the shares of any n − 1
//! parties are uniformly random and reveal nothing of the masks — which is
//! what makes opening d, e, D, E or x − r safe.
//!
//! Expansion layout of one seed (element offsets into its AES-CTR stream):
//! Beaver triple of length ℓ: a = [0, ℓ), b = [ℓ, 2ℓ), c = [2ℓ, 3ℓ);
//! left mask U (m×k): [0, mk); right triple V (k×n), W (m×n): V = [0, kn),
//! W = [kn, kn + mn); truncation pair of length ℓ: r = [0, ℓ), r>>f = [ℓ, 2ℓ).

use crate::CoreError;
use crate::matmul::matmul;
use crate::prg::{self, Seed};
use crate::ring::RingMatrix;
use crate::truncate::check_frac_bits;
use ndarray::{Array2, ArrayView2};
use rand::{CryptoRng, Rng};
use rayon::prelude::*;

/// The party that receives explicit correction shares from the dealer.
pub const CORRECTION_PARTY: usize = 0;

/// What the dealer sends one party for one dealt item: a seed, plus the
/// explicit product share for the correction party.
///
/// [`to_bytes`](Self::to_bytes) is meant to travel as one frame: under the
/// default 64 MiB frame limit a correction holds at most about 8.4 million
/// elements, so a protocol deals larger products as several items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DealtShare {
    /// The party's seed; its expansion gives the party's mask shares (and,
    /// without a correction, its product share too).
    pub seed: Seed,
    /// The correction party's explicit product share; `None` for the others.
    pub correction: Option<Vec<u64>>,
}

impl DealtShare {
    /// The encoded length for a share with or without a correction of
    /// `correction_len` elements.
    pub fn wire_len(correction_len: Option<usize>) -> usize {
        correction_len.map_or(16, |len| len.saturating_mul(8).saturating_add(16))
    }

    /// Encodes as the seed followed by the correction as little-endian u64s.
    pub fn to_bytes(&self) -> Vec<u8> {
        let extra = self.correction.as_ref().map_or(0, Vec::len);
        let mut out = Vec::with_capacity(16 + 8 * extra);
        out.extend_from_slice(&self.seed.0);
        for v in self.correction.iter().flatten() {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out
    }

    /// Decodes what [`to_bytes`](Self::to_bytes) produced. The receiver says
    /// what it expects — a correction of exactly `correction_len` elements,
    /// or none — and any other length is an error.
    pub fn from_bytes(bytes: &[u8], correction_len: Option<usize>) -> Result<Self, CoreError> {
        let expected = Self::wire_len(correction_len);
        if bytes.len() != expected {
            return Err(CoreError::ShapeMismatch {
                what: "dealer message bytes",
                expected,
                got: bytes.len(),
            });
        }
        let (seed, rest) = bytes.split_at(16);
        let mut seed_bytes = [0u8; 16];
        seed_bytes.copy_from_slice(seed);
        let correction = correction_len.map(|_| {
            rest.chunks_exact(8)
                .map(|c| {
                    let mut le = [0u8; 8];
                    le.copy_from_slice(c);
                    u64::from_le_bytes(le)
                })
                .collect()
        });
        Ok(Self {
            seed: Seed(seed_bytes),
            correction,
        })
    }

    /// The party's product share: the correction if it has one (checked to
    /// be `len` long), otherwise its seed's expansion at `offset`.
    pub(crate) fn product_share(&self, offset: usize, len: usize) -> Result<Vec<u64>, CoreError> {
        match &self.correction {
            Some(c) if c.len() == len => Ok(c.clone()),
            Some(c) => Err(CoreError::ShapeMismatch {
                what: "dealer correction share",
                expected: len,
                got: c.len(),
            }),
            None => Ok(expand_at(&self.seed, offset, len)),
        }
    }
}

pub(crate) fn expand_at(seed: &Seed, offset: usize, len: usize) -> Vec<u64> {
    let mut out = vec![0u64; len];
    prg::expand_into_at(seed, offset, &mut out);
    out
}

/// The dealer's own record of a left mask U, kept so that any number of
/// right triples (V_j, U·V_j) — or (V_j, Uᵀ·V_j) — can be dealt against it.
/// This is what lets a protocol open X − U for a fixed matrix X once and
/// reuse it (SecureML §4.2).
pub struct LeftMask {
    u: RingMatrix,
}

impl LeftMask {
    /// The shape of U: (rows, inner).
    pub fn dim(&self) -> (usize, usize) {
        self.u.dim()
    }
}

/// A dealer for a fixed number of parties.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dealer {
    parties: usize,
}

impl Dealer {
    /// A dealer for `parties` computing parties (at least 2).
    pub fn new(parties: usize) -> Result<Self, CoreError> {
        if parties < 2 {
            return Err(CoreError::TooFewParties {
                min: 2,
                got: parties,
            });
        }
        Ok(Self { parties })
    }

    /// The number of computing parties.
    pub fn parties(&self) -> usize {
        self.parties
    }

    pub(crate) fn seeds<R: Rng + CryptoRng + ?Sized>(&self, rng: &mut R) -> Vec<Seed> {
        (0..self.parties).map(|_| Seed::random(rng)).collect()
    }

    /// Σ_i expansion(seed_i)[offset .. offset + len].
    pub(crate) fn sum_expansions(seeds: &[Seed], offset: usize, len: usize) -> Vec<u64> {
        let mut sum = vec![0u64; len];
        for seed in seeds {
            prg::add_expansion_at(&mut sum, seed, offset);
        }
        sum
    }

    /// Turns the product into one seeded item per party: the correction
    /// party gets `product − Σ_{i≠0} expansion(seed_i)[offset..]`.
    pub(crate) fn deal(seeds: Vec<Seed>, mut product: Vec<u64>, offset: usize) -> Vec<DealtShare> {
        for (_, seed) in seeds
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != CORRECTION_PARTY)
        {
            prg::sub_expansion_at(&mut product, seed, offset);
        }
        let mut correction = Some(product);
        seeds
            .into_iter()
            .enumerate()
            .map(|(i, seed)| DealtShare {
                seed,
                correction: if i == CORRECTION_PARTY {
                    correction.take()
                } else {
                    None
                },
            })
            .collect()
    }

    /// `len` element-wise Beaver triples (a, b, c = a·b), one [`DealtShare`]
    /// per party, in party order.
    pub fn triples<R: Rng + CryptoRng + ?Sized>(&self, len: usize, rng: &mut R) -> Vec<DealtShare> {
        let seeds = self.seeds(rng);
        let a = Self::sum_expansions(&seeds, 0, len);
        let b = Self::sum_expansions(&seeds, len, len);
        let c: Vec<u64> = a
            .par_iter()
            .zip(&b)
            .map(|(x, y)| x.wrapping_mul(*y))
            .collect();
        Self::deal(seeds, c, 2 * len)
    }

    /// A fresh left mask U of `rows`×`inner`, and each party's seed for its
    /// share of U (dealt without correction).
    pub fn left_mask<R: Rng + CryptoRng + ?Sized>(
        &self,
        rows: usize,
        inner: usize,
        rng: &mut R,
    ) -> (LeftMask, Vec<DealtShare>) {
        let seeds = self.seeds(rng);
        let u = Self::sum_expansions(&seeds, 0, rows * inner);
        let u = Array2::from_shape_vec((rows, inner), u)
            .expect("a vector of rows·inner elements has shape rows×inner");
        let shares = seeds
            .into_iter()
            .map(|seed| DealtShare {
                seed,
                correction: None,
            })
            .collect();
        (LeftMask { u }, shares)
    }

    /// A left mask whose column block k (`widths[k]` columns, blocks side by
    /// side in party order) is known to party k alone: party k's seed
    /// expands to its `rows`×`widths[k]` block, U is the blocks side by side,
    /// and every other party's share of that block is zero. For a matrix
    /// whose column block k party k holds in the clear (a vertically split
    /// feature matrix), party k opens X_k − U_k once and no other party
    /// holds or sends anything for that block. Right triples against it are
    /// dealt as for [`left_mask`](Self::left_mask). A party's block may be
    /// empty (a party that takes part without columns), the mask may not;
    /// widths or a size that overflow are errors.
    pub fn left_mask_blocks<R: Rng + CryptoRng + ?Sized>(
        &self,
        rows: usize,
        widths: &[usize],
        rng: &mut R,
    ) -> Result<(LeftMask, Vec<DealtShare>), CoreError> {
        if widths.len() != self.parties {
            return Err(CoreError::ShapeMismatch {
                what: "left mask blocks: one width per party",
                expected: self.parties,
                got: widths.len(),
            });
        }
        let inner = block_columns(rows, widths)?;
        let seeds = self.seeds(rng);
        let mut u = Array2::zeros((rows, inner));
        let mut col = 0;
        for (seed, &width) in seeds.iter().zip(widths) {
            let block = expand_at(seed, 0, rows * width);
            let block = ArrayView2::from_shape((rows, width), &block)
                .expect("a vector of rows·width elements has shape rows×width");
            u.slice_mut(ndarray::s![.., col..col + width])
                .assign(&block);
            col += width;
        }
        let shares = seeds
            .into_iter()
            .map(|seed| DealtShare {
                seed,
                correction: None,
            })
            .collect();
        Ok((LeftMask { u }, shares))
    }

    /// A right triple against `left`: V of `inner`×`cols` and W = U·V, one
    /// [`DealtShare`] per party.
    pub fn right_triple<R: Rng + CryptoRng + ?Sized>(
        &self,
        left: &LeftMask,
        cols: usize,
        rng: &mut R,
    ) -> Vec<DealtShare> {
        self.right_triple_for(left.u.view(), cols, rng)
    }

    /// A right triple against the transpose of `left`: V of `rows`×`cols` and
    /// W = Uᵀ·V, for products Xᵀ·Y that reuse the opened mask of X.
    pub fn right_triple_transposed<R: Rng + CryptoRng + ?Sized>(
        &self,
        left: &LeftMask,
        cols: usize,
        rng: &mut R,
    ) -> Vec<DealtShare> {
        self.right_triple_for(left.u.t(), cols, rng)
    }

    /// A one-column right triple against the transpose of `left`, with
    /// shares of ‖V‖² = Σ v_i² appended to the product share (one element
    /// after W in the stream). A protocol that opens E = y − V for Xᵀ·y gets
    /// Σ y_i² = Σ E_i² + 2 Σ E_i·V_i + ‖V‖² from it without another
    /// opening.
    pub fn right_triple_transposed_square<R: Rng + CryptoRng + ?Sized>(
        &self,
        left: &LeftMask,
        rng: &mut R,
    ) -> Vec<DealtShare> {
        self.right_triple_with(left.u.t(), 1, true, rng)
    }

    fn right_triple_for<R: Rng + CryptoRng + ?Sized>(
        &self,
        u: ArrayView2<'_, u64>,
        cols: usize,
        rng: &mut R,
    ) -> Vec<DealtShare> {
        self.right_triple_with(u, cols, false, rng)
    }

    fn right_triple_with<R: Rng + CryptoRng + ?Sized>(
        &self,
        u: ArrayView2<'_, u64>,
        cols: usize,
        square: bool,
        rng: &mut R,
    ) -> Vec<DealtShare> {
        let (rows, inner) = u.dim();
        let seeds = self.seeds(rng);
        let v = Self::sum_expansions(&seeds, 0, inner * cols);
        let square_sum = v
            .iter()
            .fold(0u64, |s, x| s.wrapping_add(x.wrapping_mul(*x)));
        let v = ArrayView2::from_shape((inner, cols), &v)
            .expect("a vector of inner·cols elements has shape inner×cols");
        let w = matmul(u, v).expect("U has `inner` columns and V `inner` rows");
        debug_assert_eq!(w.dim(), (rows, cols));
        let (mut w, _) = w.into_raw_vec_and_offset();
        if square {
            w.push(square_sum);
        }
        Self::deal(seeds, w, inner * cols)
    }

    /// A left mask and one right triple: a plain matrix triple (U, V, U·V)
    /// for a product of `rows`×`inner` by `inner`×`cols`. Returns each
    /// party's left-mask share and right-triple share.
    pub fn matrix_triple<R: Rng + CryptoRng + ?Sized>(
        &self,
        rows: usize,
        inner: usize,
        cols: usize,
        rng: &mut R,
    ) -> (Vec<DealtShare>, Vec<DealtShare>) {
        let (left, left_shares) = self.left_mask(rows, inner, rng);
        let right_shares = self.right_triple(&left, cols, rng);
        (left_shares, right_shares)
    }

    /// `len` truncation pairs (r, r >> `frac_bits`), r uniform in Z_2^64
    /// and the shift arithmetic, one [`DealtShare`] per party.
    pub fn truncation_pairs<R: Rng + CryptoRng + ?Sized>(
        &self,
        len: usize,
        frac_bits: u32,
        rng: &mut R,
    ) -> Result<Vec<DealtShare>, CoreError> {
        check_frac_bits(frac_bits)?;
        let seeds = self.seeds(rng);
        let r = Self::sum_expansions(&seeds, 0, len);
        let shifted: Vec<u64> = r
            .par_iter()
            .map(|&v| ((v as i64) >> frac_bits) as u64)
            .collect();
        Ok(Self::deal(seeds, shifted, len))
    }

    /// `len` masks r uniform in Z_2^64, each with shares of its low `bits`
    /// bits as ring elements 0 or 1 (bit-major: bit j of every mask, then
    /// bit j + 1), one [`DealtShare`] per party: the edaBit-style
    /// correlation of a secure comparison. Every party's share of r is its
    /// seed's expansion; the bits are the corrected product. At most 64
    /// bits.
    pub fn masked_bits<R: Rng + CryptoRng + ?Sized>(
        &self,
        len: usize,
        bits: u32,
        rng: &mut R,
    ) -> Result<Vec<DealtShare>, CoreError> {
        check_mask_bits(bits)?;
        let seeds = self.seeds(rng);
        let r = Self::sum_expansions(&seeds, 0, len);
        let mut decomposed = vec![0u64; len * bits as usize];
        decomposed
            .par_chunks_mut(len.max(1))
            .enumerate()
            .for_each(|(j, out)| {
                for (o, v) in out.iter_mut().zip(&r) {
                    *o = (v >> j) & 1;
                }
            });
        Ok(Self::deal(seeds, decomposed, len))
    }
}

/// The columns of a left mask of `rows` rows in blocks of `widths`: at
/// least one in all (a block of width 0 is a party without columns, as in
/// training's contribution re-runs), and the mask's size within `usize`
/// (checked, so that wrapped widths cannot pass for a small mask).
pub fn block_columns(rows: usize, widths: &[usize]) -> Result<usize, CoreError> {
    let what = "left mask blocks";
    let inner = widths
        .iter()
        .try_fold(0usize, |sum, &w| sum.checked_add(w))
        .ok_or_else(|| CoreError::BadShape {
            what,
            reason: "the widths overflow".into(),
        })?;
    if inner == 0 {
        return Err(CoreError::BadShape {
            what,
            reason: "every block has width 0: the mask has no column".into(),
        });
    }
    rows.checked_mul(inner).ok_or_else(|| CoreError::BadShape {
        what,
        reason: format!("{rows} rows of {inner} columns overflow"),
    })?;
    Ok(inner)
}

fn check_mask_bits(bits: u32) -> Result<(), CoreError> {
    if bits > 64 {
        return Err(CoreError::ShapeMismatch {
            what: "masked bits: bits per mask (at most)",
            expected: 64,
            got: bits as usize,
        });
    }
    Ok(())
}

/// A party's share of `len` masks r and of their low bits (bit-major), from
/// [`Dealer::masked_bits`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaskedBitsShare {
    /// Shares of the masks.
    pub r: Vec<u64>,
    /// Shares of bit j of mask e at `j * len + e`.
    pub bits: Vec<u64>,
}

impl MaskedBitsShare {
    /// Reads this party's item for `len` masks of `bits` bits; a correction
    /// of the wrong length is an error.
    pub fn from_dealt(dealt: &DealtShare, len: usize, bits: u32) -> Result<Self, CoreError> {
        check_mask_bits(bits)?;
        let total = len
            .checked_mul(bits as usize)
            .ok_or(CoreError::ShapeMismatch {
                what: "masked bits: elements",
                expected: usize::MAX,
                got: len,
            })?;
        Ok(Self {
            r: expand_at(&dealt.seed, 0, len),
            bits: dealt.product_share(len, total)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::share::reconstruct;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn masked_bits_reconstruct_to_the_bits_of_the_mask() {
        let mut rng = StdRng::seed_from_u64(3);
        let (len, bits) = (7, 64);
        let dealt = Dealer::new(3)
            .unwrap()
            .masked_bits(len, bits, &mut rng)
            .unwrap();
        let shares: Vec<MaskedBitsShare> = dealt
            .iter()
            .map(|d| {
                let d = DealtShare::from_bytes(&d.to_bytes(), d.correction.as_ref().map(Vec::len))
                    .unwrap();
                MaskedBitsShare::from_dealt(&d, len, bits).unwrap()
            })
            .collect();
        let r = reconstruct(&shares.iter().map(|s| s.r.as_slice()).collect::<Vec<_>>()).unwrap();
        let b = reconstruct(&shares.iter().map(|s| s.bits.as_slice()).collect::<Vec<_>>()).unwrap();
        for (e, v) in r.iter().enumerate() {
            for j in 0..bits as usize {
                assert_eq!(b[j * len + e], (v >> j) & 1);
            }
        }
        assert!(
            Dealer::new(2)
                .unwrap()
                .masked_bits(1, 65, &mut rng)
                .is_err()
        );
        let short = DealtShare {
            seed: dealt[0].seed,
            correction: Some(vec![0; 3]),
        };
        assert!(MaskedBitsShare::from_dealt(&short, len, bits).is_err());
    }

    #[test]
    fn correction_is_explicit_only_for_party_zero_and_round_trips() {
        let mut rng = StdRng::seed_from_u64(1);
        let dealt = Dealer::new(3).unwrap().triples(10, &mut rng);
        assert_eq!(dealt.len(), 3);
        assert!(dealt[0].correction.is_some());
        assert!(dealt[1..].iter().all(|d| d.correction.is_none()));
        for (i, d) in dealt.iter().enumerate() {
            let expected = if i == 0 { Some(10) } else { None };
            let bytes = d.to_bytes();
            assert_eq!(bytes.len(), DealtShare::wire_len(expected));
            assert_eq!(&DealtShare::from_bytes(&bytes, expected).unwrap(), d);
        }
    }

    #[test]
    fn malformed_messages_are_errors() {
        let mut rng = StdRng::seed_from_u64(2);
        let dealt = Dealer::new(2).unwrap().triples(4, &mut rng);
        let bytes = dealt[0].to_bytes();
        for bad in [&bytes[..15], &bytes[..bytes.len() - 1], &[][..]] {
            assert!(DealtShare::from_bytes(bad, Some(4)).is_err());
        }
        assert!(DealtShare::from_bytes(&bytes, None).is_err());
        assert!(DealtShare::from_bytes(&bytes, Some(5)).is_err());
        assert!(DealtShare::from_bytes(&dealt[1].to_bytes(), Some(4)).is_err());
        assert!(dealt[0].product_share(0, 5).is_err());
    }

    #[test]
    fn block_left_masks_are_known_to_their_owner_alone() {
        let mut rng = StdRng::seed_from_u64(4);
        let dealer = Dealer::new(2).unwrap();
        assert!(dealer.left_mask_blocks(3, &[1], &mut rng).is_err());
        let (left, shares) = dealer.left_mask_blocks(5, &[2, 3], &mut rng).unwrap();
        assert_eq!(left.dim(), (5, 5));
        let u0 = expand_at(&shares[0].seed, 0, 10);
        let u1 = expand_at(&shares[1].seed, 0, 15);
        for r in 0..5 {
            assert_eq!(left.u.row(r).to_vec()[..2], u0[2 * r..2 * r + 2]);
            assert_eq!(left.u.row(r).to_vec()[2..], u1[3 * r..3 * r + 3]);
        }
        // A right triple against it adds up to U·V.
        let right = dealer.right_triple(&left, 2, &mut rng);
        let v: Vec<Vec<u64>> = right.iter().map(|d| expand_at(&d.seed, 0, 10)).collect();
        let w: Vec<Vec<u64>> = right
            .iter()
            .map(|d| d.product_share(10, 10).unwrap())
            .collect();
        let v = reconstruct(&[&v[0], &v[1]]).unwrap();
        let w = reconstruct(&[&w[0], &w[1]]).unwrap();
        let v = ArrayView2::from_shape((5, 2), &v).unwrap();
        let expected = matmul(left.u.view(), v).unwrap();
        assert_eq!(expected.as_slice().unwrap(), &w[..]);
    }

    #[test]
    fn block_widths_that_are_all_zero_or_wrap_are_errors() {
        let mut rng = StdRng::seed_from_u64(5);
        let dealer = Dealer::new(2).unwrap();
        // One empty block is a party without columns.
        let (left, _) = dealer.left_mask_blocks(3, &[0, 2], &mut rng).unwrap();
        assert_eq!(left.dim(), (3, 2));
        for (rows, widths) in [
            (3, vec![0, 0]),
            (1, vec![1 << 63, (1 << 63) + 3]),
            (usize::MAX, vec![usize::MAX, 2]),
            (1 << 40, vec![1 << 30, 1 << 30]),
        ] {
            assert!(
                matches!(
                    dealer.left_mask_blocks(rows, &widths, &mut rng),
                    Err(CoreError::BadShape { .. })
                ),
                "{rows} × {widths:?}"
            );
        }
    }

    #[test]
    fn one_party_is_refused() {
        assert!(matches!(
            Dealer::new(1),
            Err(CoreError::TooFewParties { min: 2, got: 1 })
        ));
    }

    #[test]
    fn truncation_pairs_add_up() {
        let mut rng = StdRng::seed_from_u64(3);
        let dealt = Dealer::new(3)
            .unwrap()
            .truncation_pairs(100, 20, &mut rng)
            .unwrap();
        let r_shares: Vec<Vec<u64>> = dealt.iter().map(|d| expand_at(&d.seed, 0, 100)).collect();
        let t_shares: Vec<Vec<u64>> = dealt
            .iter()
            .map(|d| d.product_share(100, 100).unwrap())
            .collect();
        let r = reconstruct(&r_shares.iter().map(Vec::as_slice).collect::<Vec<_>>()).unwrap();
        let t = reconstruct(&t_shares.iter().map(Vec::as_slice).collect::<Vec<_>>()).unwrap();
        for (rv, tv) in r.iter().zip(&t) {
            assert_eq!(*tv as i64, (*rv as i64) >> 20);
        }
        assert!(
            Dealer::new(2)
                .unwrap()
                .truncation_pairs(1, 64, &mut rng)
                .is_err()
        );
    }
}
