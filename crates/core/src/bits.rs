//! Packed boolean shares: bits XOR-shared among the parties, 64 to a
//! `u64` word, and the dealer's items for computing on them — AND triples,
//! masks with their bits (edaBits), and bits shared both ways (daBits).
//!
//! A vector of `len` bits is held as ⌈len/64⌉ words; bit e is bit e % 64 of
//! word e / 64, and the bits of the last word past `len` are ignored. A
//! party's share is a word vector; the value is the XOR of every party's
//! share. XOR and AND with a public word are local; AND of two shared
//! words takes one triple (a, b, c = a ∧ b) per word:
//!
//! 1. [`BitTripleShare::mask`]: d_i = x_i ⊕ a_i, e_i = y_i ⊕ b_i;
//! 2. the parties open d and e (XOR of the shares);
//! 3. [`BitTripleShare::finish`]: z_i = c_i ⊕ (d ∧ b_i) ⊕ (e ∧ a_i), and
//!    d ∧ e at the leader; the XOR of the z_i is x ∧ y.
//!
//! One word carries 64 AND gates: a triple costs each party 2 × 8 bytes
//! to every other party for 64 gates, where an arithmetic Beaver triple
//! costs 2 × 8 bytes for one (which is why the comparisons of
//! `indomain_mpc` that run on every row use these).
//!
//! Dealing (seed compression as in [`crate::dealer`]): every party's seed
//! expands to its shares of the masks; the correction party (party 0)
//! receives the explicit share that makes the XOR (or, for the arithmetic
//! half of a daBit, the sum) come out right. Expansion layouts (element
//! offsets into a seed's stream, w = ⌈len/64⌉):
//! - AND triples of `w` words: a = [0, w), b = [w, 2w), c = [2w, 3w);
//! - masked bits (`len` masks, bits low..low + `bits`): r = [0, len)
//!   added in the ring, the plane of bit low + j at [len + j·w, len +
//!   (j+1)·w) XOR-ed;
//! - daBits (`len` bits): boolean shares [0, w) XOR-ed, arithmetic shares
//!   [w, w + len) added.
//!
//! What each party learns: its own shares, uniformly random; the dealer
//! learns the shapes. As for every dealt item, the dealer knows every mask
//! and must not collude with a computing party.

use crate::CoreError;
use crate::dealer::{CORRECTION_PARTY, Dealer, DealtShare, expand_at};
use crate::prg::{self, Seed};
use rand::{CryptoRng, Rng};
use rayon::prelude::*;

/// Words holding `len` packed bits.
pub fn words(len: usize) -> usize {
    len.div_ceil(64)
}

/// Packs the low bit of each of `values` (bit e of the result is
/// `values[e] & 1`).
pub fn pack(values: impl IntoIterator<Item = u64>) -> Vec<u64> {
    let mut out = Vec::new();
    for (e, v) in values.into_iter().enumerate() {
        if e % 64 == 0 {
            out.push(0);
        }
        if let Some(w) = out.last_mut() {
            *w |= (v & 1) << (e % 64);
        }
    }
    out
}

/// Bit e of packed `words` (0 or 1).
pub fn bit(words: &[u64], e: usize) -> u64 {
    (words[e / 64] >> (e % 64)) & 1
}

/// Planes 0..`bits` of `values` in one pass, plane-major: bit j of value
/// e at bit e % 64 of word j·⌈len/64⌉ + e / 64 (64×64 bit-matrix
/// transposes, block by block).
pub fn planes(values: &[u64], bits: u32) -> Vec<u64> {
    let w = words(values.len());
    let bits = bits as usize;
    let blocks: Vec<[u64; 64]> = values
        .par_chunks(64)
        .map(|chunk| {
            let mut m = [0u64; 64];
            m[..chunk.len()].copy_from_slice(chunk);
            transpose64(&mut m);
            m
        })
        .collect();
    let mut out = vec![0u64; w * bits];
    out.par_chunks_mut(w.max(1))
        .enumerate()
        .for_each(|(j, plane)| {
            for (b, word) in plane.iter_mut().enumerate() {
                *word = blocks[b][j];
            }
        });
    out
}

/// Transposes a 64×64 bit matrix in place: afterwards bit e of word j is
/// what bit j of word e was (recursive block swaps).
fn transpose64(m: &mut [u64; 64]) {
    let mut width = 32;
    let mut mask: u64 = 0x0000_0000_FFFF_FFFF;
    while width != 0 {
        let mut k = 0;
        while k < 64 {
            for i in k..k + width {
                let t = ((m[i] >> width) ^ m[i + width]) & mask;
                m[i] ^= t << width;
                m[i + width] ^= t;
            }
            k += 2 * width;
        }
        width >>= 1;
        mask ^= mask << width;
    }
}

/// Plane j of `values`: bit j of every value, packed.
pub fn plane(values: &[u64], j: u32) -> Vec<u64> {
    let mut out = vec![0u64; words(values.len())];
    out.par_iter_mut().enumerate().for_each(|(w, out)| {
        let start = w * 64;
        for (k, v) in values[start..(start + 64).min(values.len())]
            .iter()
            .enumerate()
        {
            *out |= ((v >> j) & 1) << k;
        }
    });
    out
}

/// The correction party gets `value ⊕ XOR_{i≠0} expansion_i[offset..]`,
/// every other party its seed alone.
fn deal_xor(seeds: Vec<Seed>, mut value: Vec<u64>, offset: usize) -> Vec<DealtShare> {
    for (_, seed) in seeds
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != CORRECTION_PARTY)
    {
        prg::xor_expansion_at(&mut value, seed, offset);
    }
    with_correction(seeds, value)
}

fn with_correction(seeds: Vec<Seed>, correction: Vec<u64>) -> Vec<DealtShare> {
    let mut correction = Some(correction);
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

fn xor_expansions(seeds: &[Seed], offset: usize, len: usize) -> Vec<u64> {
    let mut out = vec![0u64; len];
    for seed in seeds {
        prg::xor_expansion_at(&mut out, seed, offset);
    }
    out
}

fn check_bits(low: u32, bits: u32) -> Result<(), CoreError> {
    if bits == 0 || low as u64 + bits as u64 > 64 {
        return Err(CoreError::ShapeMismatch {
            what: "packed masked bits: lowest bit + bits (1 to)",
            expected: 64,
            got: low as usize + bits as usize,
        });
    }
    Ok(())
}

impl Dealer {
    /// AND triples for `words` words (64 gates each), one [`DealtShare`]
    /// per party.
    pub fn bit_triples<R: Rng + CryptoRng + ?Sized>(
        &self,
        words: usize,
        rng: &mut R,
    ) -> Vec<DealtShare> {
        let seeds = self.seeds(rng);
        let a = xor_expansions(&seeds, 0, words);
        let b = xor_expansions(&seeds, words, words);
        let c: Vec<u64> = a.iter().zip(&b).map(|(a, b)| a & b).collect();
        deal_xor(seeds, c, 2 * words)
    }

    /// `len` masks r uniform in Z_2^64 (additive shares) with XOR shares of
    /// their bits low..low + `bits`, packed plane by plane: the edaBit
    /// correlation of a comparison on packed bits. 1 ≤ bits, low + bits ≤
    /// 64.
    pub fn packed_masked_bits<R: Rng + CryptoRng + ?Sized>(
        &self,
        len: usize,
        low: u32,
        bits: u32,
        rng: &mut R,
    ) -> Result<Vec<DealtShare>, CoreError> {
        check_bits(low, bits)?;
        let seeds = self.seeds(rng);
        let r = Self::sum_expansions(&seeds, 0, len);
        let shifted: Vec<u64> = r.par_iter().map(|v| v >> low).collect();
        Ok(deal_xor(seeds, planes(&shifted, bits), len))
    }

    /// `len` random bits shared both as packed XOR shares and as additive
    /// ring shares (0 or 1): what converts a boolean share to an
    /// arithmetic one.
    pub fn dabits<R: Rng + CryptoRng + ?Sized>(&self, len: usize, rng: &mut R) -> Vec<DealtShare> {
        let seeds = self.seeds(rng);
        let w = words(len);
        let bools = xor_expansions(&seeds, 0, w);
        let mut arith: Vec<u64> = (0..len).map(|e| bit(&bools, e)).collect();
        for (_, seed) in seeds
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != CORRECTION_PARTY)
        {
            prg::sub_expansion_at(&mut arith, seed, w);
        }
        with_correction(seeds, arith)
    }
}

/// One party's share of AND triples, packed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BitTripleShare {
    /// Share of the first mask a.
    pub a: Vec<u64>,
    /// Share of the second mask b.
    pub b: Vec<u64>,
    /// Share of a ∧ b.
    pub c: Vec<u64>,
}

impl BitTripleShare {
    /// This party's triples of `words` words from what the dealer sent.
    pub fn from_dealt(dealt: &DealtShare, words: usize) -> Result<Self, CoreError> {
        Ok(Self {
            a: expand_at(&dealt.seed, 0, words),
            b: expand_at(&dealt.seed, words, words),
            c: xor_share(dealt, 2 * words, words)?,
        })
    }

    /// Step 1: d_i ‖ e_i = (x_i ⊕ a_i) ‖ (y_i ⊕ b_i), to be opened.
    pub fn mask(&self, x: &[u64], y: &[u64]) -> Result<Vec<u64>, CoreError> {
        check_words("AND gate: x", self.a.len(), x.len())?;
        check_words("AND gate: y", self.b.len(), y.len())?;
        let mut out: Vec<u64> = x.iter().zip(&self.a).map(|(x, a)| x ^ a).collect();
        out.extend(y.iter().zip(&self.b).map(|(y, b)| y ^ b));
        Ok(out)
    }

    /// Step 3: this party's share of x ∧ y from the opened d ‖ e. Exactly
    /// one party (the leader) passes `leader = true`.
    pub fn finish(&self, opened: &[u64], leader: bool) -> Result<Vec<u64>, CoreError> {
        let w = self.c.len();
        check_words("AND gate: opened", 2 * w, opened.len())?;
        let (d, e) = opened.split_at(w);
        Ok((0..w)
            .map(|i| {
                let z = self.c[i] ^ (d[i] & self.b[i]) ^ (e[i] & self.a[i]);
                if leader { z ^ (d[i] & e[i]) } else { z }
            })
            .collect())
    }
}

/// One party's share of masks with their packed bits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackedMaskedBitsShare {
    /// Additive shares of the masks r.
    pub r: Vec<u64>,
    /// XOR shares of the plane of bit low + j at `[j·w, (j+1)·w)`, w =
    /// ⌈len/64⌉.
    pub planes: Vec<u64>,
}

impl PackedMaskedBitsShare {
    /// This party's item for `len` masks with bits low..low + `bits`.
    pub fn from_dealt(
        dealt: &DealtShare,
        len: usize,
        low: u32,
        bits: u32,
    ) -> Result<Self, CoreError> {
        check_bits(low, bits)?;
        let total = words(len) * bits as usize;
        Ok(Self {
            r: expand_at(&dealt.seed, 0, len),
            planes: xor_share(dealt, len, total)?,
        })
    }

    /// The share of the plane of bit low + `j`.
    pub fn plane(&self, j: usize, len: usize) -> &[u64] {
        let w = words(len);
        &self.planes[j * w..(j + 1) * w]
    }
}

/// One party's share of random bits shared both ways.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaBitShare {
    /// Packed XOR shares.
    pub bools: Vec<u64>,
    /// Additive ring shares of the same bits.
    pub arith: Vec<u64>,
}

impl DaBitShare {
    /// This party's `len` daBits from what the dealer sent.
    pub fn from_dealt(dealt: &DealtShare, len: usize) -> Result<Self, CoreError> {
        let w = words(len);
        Ok(Self {
            bools: expand_at(&dealt.seed, 0, w),
            arith: dealt.product_share(w, len)?,
        })
    }
}

/// The XOR share of `len` words at `offset`: the correction, or the seed's
/// expansion.
fn xor_share(dealt: &DealtShare, offset: usize, len: usize) -> Result<Vec<u64>, CoreError> {
    dealt.product_share(offset, len)
}

fn check_words(what: &'static str, expected: usize, got: usize) -> Result<(), CoreError> {
    if expected != got {
        return Err(CoreError::ShapeMismatch {
            what,
            expected,
            got,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::share::reconstruct;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn xor_all(shares: &[Vec<u64>]) -> Vec<u64> {
        let mut out = vec![0u64; shares[0].len()];
        for s in shares {
            out.iter_mut().zip(s).for_each(|(o, v)| *o ^= v);
        }
        out
    }

    /// Every item through its wire encoding, as a party receives it.
    fn wire(dealt: &[DealtShare]) -> Vec<DealtShare> {
        dealt
            .iter()
            .map(|d| {
                let len = d.correction.as_ref().map(Vec::len);
                DealtShare::from_bytes(&d.to_bytes(), len).unwrap()
            })
            .collect()
    }

    #[test]
    fn and_triples_compute_and_gates() {
        let mut rng = StdRng::seed_from_u64(1);
        for parties in [2, 3] {
            let w = 5;
            let dealt = wire(&Dealer::new(parties).unwrap().bit_triples(w, &mut rng));
            let triples: Vec<BitTripleShare> = dealt
                .iter()
                .map(|d| BitTripleShare::from_dealt(d, w).unwrap())
                .collect();
            let x: Vec<Vec<u64>> = (0..parties)
                .map(|_| prg::expand(&Seed::random(&mut rng), w))
                .collect();
            let y: Vec<Vec<u64>> = (0..parties)
                .map(|_| prg::expand(&Seed::random(&mut rng), w))
                .collect();
            let masked: Vec<Vec<u64>> = triples
                .iter()
                .zip(x.iter().zip(&y))
                .map(|(t, (x, y))| t.mask(x, y).unwrap())
                .collect();
            let opened = xor_all(&masked);
            let z: Vec<Vec<u64>> = triples
                .iter()
                .enumerate()
                .map(|(i, t)| t.finish(&opened, i == 0).unwrap())
                .collect();
            let (x, y, z) = (xor_all(&x), xor_all(&y), xor_all(&z));
            for i in 0..w {
                assert_eq!(z[i], x[i] & y[i]);
            }
            assert!(triples[0].mask(&[0; 4], &[0; 5]).is_err());
            assert!(triples[0].finish(&[0; 9], true).is_err());
        }
    }

    #[test]
    fn masked_bits_are_the_bits_of_the_mask() {
        let mut rng = StdRng::seed_from_u64(2);
        for (low, bits) in [(0, 64), (36, 21)] {
            let len = 130;
            let dealt = wire(
                &Dealer::new(3)
                    .unwrap()
                    .packed_masked_bits(len, low, bits, &mut rng)
                    .unwrap(),
            );
            let shares: Vec<PackedMaskedBitsShare> = dealt
                .iter()
                .map(|d| PackedMaskedBitsShare::from_dealt(d, len, low, bits).unwrap())
                .collect();
            let r =
                reconstruct(&shares.iter().map(|s| s.r.as_slice()).collect::<Vec<_>>()).unwrap();
            for j in 0..bits as usize {
                let p = xor_all(
                    &shares
                        .iter()
                        .map(|s| s.plane(j, len).to_vec())
                        .collect::<Vec<_>>(),
                );
                for (e, v) in r.iter().enumerate() {
                    assert_eq!(bit(&p, e), (v >> (low as usize + j)) & 1);
                }
            }
            let short = DealtShare {
                seed: dealt[0].seed,
                correction: Some(vec![0; 3]),
            };
            assert!(PackedMaskedBitsShare::from_dealt(&short, len, low, bits).is_err());
        }
        let dealer = Dealer::new(2).unwrap();
        assert!(dealer.packed_masked_bits(1, 0, 65, &mut rng).is_err());
        assert!(dealer.packed_masked_bits(1, 0, 0, &mut rng).is_err());
        assert!(dealer.packed_masked_bits(1, 40, 25, &mut rng).is_err());
    }

    #[test]
    fn dabits_agree_in_both_sharings() {
        let mut rng = StdRng::seed_from_u64(3);
        let len = 200;
        let dealt = wire(&Dealer::new(3).unwrap().dabits(len, &mut rng));
        let shares: Vec<DaBitShare> = dealt
            .iter()
            .map(|d| DaBitShare::from_dealt(d, len).unwrap())
            .collect();
        let b = xor_all(&shares.iter().map(|s| s.bools.clone()).collect::<Vec<_>>());
        let a = reconstruct(
            &shares
                .iter()
                .map(|s| s.arith.as_slice())
                .collect::<Vec<_>>(),
        )
        .unwrap();
        let ones = (0..len).filter(|&e| bit(&b, e) == 1).count();
        assert!(ones > 50 && ones < 150, "{ones} ones of {len}");
        for (e, v) in a.iter().enumerate() {
            assert_eq!(*v, bit(&b, e));
        }
    }

    #[test]
    fn packing_round_trips() {
        let values: Vec<u64> = (0..70).map(|i| (i * 7 + 3) % 5).collect();
        let packed = pack(values.iter().copied());
        assert_eq!(packed.len(), words(70));
        for (e, v) in values.iter().enumerate() {
            assert_eq!(bit(&packed, e), v & 1);
        }
        assert_eq!(plane(&values, 0), packed);
        assert_eq!(plane(&values, 1)[0] & 1, (values[0] >> 1) & 1);
        // All planes at once agree with one plane at a time.
        let wide: Vec<u64> = (0..130u64)
            .map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15))
            .collect();
        let all = planes(&wide, 64);
        for j in 0..64 {
            assert_eq!(
                &all[j * 3..(j + 1) * 3],
                &plane(&wide, j as u32)[..],
                "plane {j}"
            );
        }
    }
}
