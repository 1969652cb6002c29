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
        self.cipher
            .write_keystream(bytemuck::cast_slice_mut::<u64, u8>(out));
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
    expand_into_at(seed, 0, out);
}

/// Overwrites `out` with elements `start..start + out.len()` of the
/// expansion of `seed`: one seed can thus carry several consecutive shares
/// (a triple's a, b and c) without ever reusing keystream.
pub fn expand_into_at(seed: &Seed, start: usize, out: &mut [u64]) {
    out.par_chunks_mut(CHUNK)
        .enumerate()
        .for_each(|(i, chunk)| Prg::at(seed, start + i * CHUNK).fill(chunk));
}

/// Subtracts the expansion of `seed` from `acc`, element-wise, in parallel.
pub fn sub_expansion(acc: &mut [u64], seed: &Seed) {
    combine_expansion(acc, seed, 0, u64::wrapping_sub);
}

/// Adds the expansion of `seed` to `acc`, element-wise, in parallel.
pub fn add_expansion(acc: &mut [u64], seed: &Seed) {
    combine_expansion(acc, seed, 0, u64::wrapping_add);
}

/// Subtracts elements `start..start + acc.len()` of the expansion of `seed`
/// from `acc`.
pub fn sub_expansion_at(acc: &mut [u64], seed: &Seed, start: usize) {
    combine_expansion(acc, seed, start, u64::wrapping_sub);
}

/// Adds elements `start..start + acc.len()` of the expansion of `seed` to
/// `acc`.
pub fn add_expansion_at(acc: &mut [u64], seed: &Seed, start: usize) {
    combine_expansion(acc, seed, start, u64::wrapping_add);
}

/// XORs elements `start..start + acc.len()` of the expansion of `seed`
/// into `acc`: the expansion read as packed bits, for XOR sharing.
pub fn xor_expansion_at(acc: &mut [u64], seed: &Seed, start: usize) {
    combine_expansion(acc, seed, start, |a, p| a ^ p);
}

/// Keystream elements generated per step when combining: a 4 KiB pad on the
/// stack stays in L1 and costs no allocation.
const PAD: usize = 512;

/// Generic over the operation so that the inner loop is compiled for it
/// rather than calling through a pointer.
fn combine_expansion<F: Fn(u64, u64) -> u64 + Sync>(
    acc: &mut [u64],
    seed: &Seed,
    start: usize,
    op: F,
) {
    acc.par_chunks_mut(CHUNK)
        .enumerate()
        .for_each(|(i, chunk)| {
            let mut prg = Prg::at(seed, start + i * CHUNK);
            let mut pad = [0u64; PAD];
            for part in chunk.chunks_mut(PAD) {
                let pad = &mut pad[..part.len()];
                prg.fill(pad);
                for (a, p) in part.iter_mut().zip(pad.iter()) {
                    *a = op(*a, *p);
                }
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
    fn offset_expansion_is_a_window_of_the_stream() {
        let seed = Seed([5u8; 16]);
        let whole = expand(&seed, 2 * CHUNK + 100);
        let mut window = vec![0u64; CHUNK + 7];
        expand_into_at(&seed, CHUNK - 3, &mut window);
        assert_eq!(&whole[CHUNK - 3..2 * CHUNK + 4], &window[..]);
        let mut acc = vec![1u64; 50];
        add_expansion_at(&mut acc, &seed, 17);
        let expected: Vec<u64> = whole[17..67].iter().map(|v| v.wrapping_add(1)).collect();
        assert_eq!(acc, expected);
        sub_expansion_at(&mut acc, &seed, 17);
        assert_eq!(acc, vec![1u64; 50]);
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
