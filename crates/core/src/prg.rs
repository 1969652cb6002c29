//! Pseudo-random expansion of 128-bit seeds with AES-128 in counter mode.
//!
//! Seed compression rests on this: a party that receives a 16-byte seed
//! expands it to the same ring vector as the party that drew it. The stream
//! for element i starts at byte 8·i, so large expansions are split across
//! rayon threads by seeking, and the result does not depend on the split.

use aes::Aes128;
use ctr::cipher::{KeyIvInit, StreamCipher, StreamCipherSeek};
use rand::{CryptoRng, Rng};
use rayon::prelude::*;

type Aes128Ctr = ctr::Ctr128LE<Aes128>;

/// Elements per parallel chunk: big enough to amortise the key schedule.
const CHUNK: usize = 1 << 14;

/// A 128-bit PRG seed. Always a full 128-bit secret: never fold it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Seed(pub [u8; 16]);

impl std::fmt::Debug for Seed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A seed is a secret: never print it.
        f.write_str("Seed(..)")
    }
}

impl Seed {
    /// Draws a fresh seed from a cryptographic RNG.
    pub fn random<R: Rng + CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut s = [0u8; 16];
        rng.fill_bytes(&mut s);
        Seed(s)
    }
}

/// An AES-128-CTR keystream read as little-endian `u64`s.
pub struct Prg {
    cipher: Aes128Ctr,
}

impl Prg {
    /// A PRG keyed by `seed`, starting at element 0.
    pub fn new(seed: &Seed) -> Self {
        Self::at(seed, 0)
    }

    /// A PRG keyed by `seed`, positioned at element `index`.
    fn at(seed: &Seed, index: usize) -> Self {
        let mut cipher = Aes128Ctr::new(&seed.0.into(), &[0u8; 16].into());
        cipher.seek((index as u64) * 8);
        Self { cipher }
    }

    /// Overwrites `out` with the next `out.len()` keystream elements.
    pub fn fill(&mut self, out: &mut [u64]) {
        out.fill(0);
        self.cipher
            .apply_keystream(bytemuck::cast_slice_mut::<u64, u8>(out));
        for v in out.iter_mut() {
            *v = u64::from_le(*v);
        }
    }
}

/// Expands `seed` into `len` ring elements, in parallel for long outputs.
pub fn expand(seed: &Seed, len: usize) -> Vec<u64> {
    let mut out = vec![0u64; len];
    expand_into(seed, &mut out);
    out
}

/// Overwrites `out` with the expansion of `seed`, in parallel for long outputs.
pub fn expand_into(seed: &Seed, out: &mut [u64]) {
    out.par_chunks_mut(CHUNK)
        .enumerate()
        .for_each(|(i, chunk)| Prg::at(seed, i * CHUNK).fill(chunk));
}

/// Subtracts the expansion of `seed` from `acc`, element-wise, in parallel.
pub fn sub_expansion(acc: &mut [u64], seed: &Seed) {
    combine_expansion(acc, seed, u64::wrapping_sub);
}

/// Adds the expansion of `seed` to `acc`, element-wise, in parallel.
pub fn add_expansion(acc: &mut [u64], seed: &Seed) {
    combine_expansion(acc, seed, u64::wrapping_add);
}

fn combine_expansion(acc: &mut [u64], seed: &Seed, op: fn(u64, u64) -> u64) {
    acc.par_chunks_mut(CHUNK).enumerate().for_each(|(i, chunk)| {
        let mut pad = vec![0u64; chunk.len()];
        Prg::at(seed, i * CHUNK).fill(&mut pad);
        for (a, p) in chunk.iter_mut().zip(&pad) {
            *a = op(*a, *p);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expansion_is_deterministic_and_split_independent() {
        let seed = Seed([7u8; 16]);
        let whole = expand(&seed, 3 * CHUNK + 5);
        let mut seq = vec![0u64; 3 * CHUNK + 5];
        Prg::new(&seed).fill(&mut seq);
        assert_eq!(whole, seq);
        let mut tail = vec![0u64; 5];
        Prg::at(&seed, 3 * CHUNK).fill(&mut tail);
        assert_eq!(&whole[3 * CHUNK..], &tail[..]);
    }

    #[test]
    fn different_seeds_differ() {
        let a = expand(&Seed([1u8; 16]), 64);
        let b = expand(&Seed([2u8; 16]), 64);
        assert_ne!(a, b);
        assert!(a.iter().any(|&v| v != 0));
    }

    #[test]
    fn add_then_sub_is_identity() {
        let seed = Seed([9u8; 16]);
        let orig: Vec<u64> = (0..40_000u64).collect();
        let mut v = orig.clone();
        add_expansion(&mut v, &seed);
        assert_ne!(v, orig);
        sub_expansion(&mut v, &seed);
        assert_eq!(v, orig);
    }
}
