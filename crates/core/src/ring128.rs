//! The ring Z_2^128 for statistics whose sums of squares outgrow Z_2^64:
//! seed expansion into 128-bit words and wrapping vector arithmetic.
//!
//! The stream is the AES-128-CTR keystream of [`crate::prg`] (same key,
//! zero IV, little-endian counter) read as little-endian `u128`s: element i
//! is keystream bytes 16·i..16·i + 16, i.e. elements 2i (low half) and
//! 2i + 1 (high half) of the 64-bit stream of the same seed. Expansions are
//! split across rayon threads by seeking, and the result does not depend on
//! the split.

use crate::prg::Seed;
use aes::Aes128;
use ctr::cipher::{KeyIvInit, StreamCipher, StreamCipherSeek};
use rayon::prelude::*;

type Aes128Ctr = ctr::Ctr128LE<Aes128>;

/// Elements per parallel chunk: big enough to amortise the key schedule.
const CHUNK: usize = 1 << 13;

/// Keystream elements generated per step when combining: 4 KiB on the stack.
const PAD: usize = 256;

/// An AES-128-CTR keystream read as little-endian `u128`s.
pub struct Prg128 {
    cipher: Aes128Ctr,
}

impl Prg128 {
    /// A PRG keyed by `seed`, positioned at element `index`.
    pub fn at(seed: &Seed, index: usize) -> Self {
        let mut cipher = Aes128Ctr::new(&seed.0.into(), &[0u8; 16].into());
        cipher.seek((index as u128) * 16);
        Self { cipher }
    }

    /// Overwrites `out` with the next `out.len()` keystream elements.
    pub fn fill(&mut self, out: &mut [u128]) {
        self.cipher
            .write_keystream(bytemuck::cast_slice_mut::<u128, u8>(out));
        for v in out.iter_mut() {
            *v = u128::from_le(*v);
        }
    }
}

/// Elements `start..start + len` of the expansion of `seed`.
pub fn expand_at(seed: &Seed, start: usize, len: usize) -> Vec<u128> {
    let mut out = vec![0u128; len];
    out.par_chunks_mut(CHUNK)
        .enumerate()
        .for_each(|(i, chunk)| Prg128::at(seed, start + i * CHUNK).fill(chunk));
    out
}

/// Adds elements `start..start + acc.len()` of the expansion of `seed` to `acc`.
pub fn add_expansion_at(acc: &mut [u128], seed: &Seed, start: usize) {
    combine_expansion(acc, seed, start, u128::wrapping_add);
}

/// Subtracts elements `start..start + acc.len()` of the expansion of `seed`
/// from `acc`.
pub fn sub_expansion_at(acc: &mut [u128], seed: &Seed, start: usize) {
    combine_expansion(acc, seed, start, u128::wrapping_sub);
}

fn combine_expansion<F: Fn(u128, u128) -> u128 + Sync>(
    acc: &mut [u128],
    seed: &Seed,
    start: usize,
    op: F,
) {
    acc.par_chunks_mut(CHUNK)
        .enumerate()
        .for_each(|(i, chunk)| {
            let mut prg = Prg128::at(seed, start + i * CHUNK);
            let mut pad = [0u128; PAD];
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
    use crate::prg;

    #[test]
    fn known_answer_first_words() {
        // AES-128 under the zero key of counter blocks 0 and 1 (little-endian
        // counter), computed independently with Python's `cryptography`.
        let words = expand_at(&Seed([0u8; 16]), 0, 2);
        assert_eq!(
            words[0],
            u128::from_le_bytes(hex("66e94bd4ef8a2c3b884cfa59ca342b2e"))
        );
        assert_eq!(
            words[1],
            u128::from_le_bytes(hex("47711816e91d6ff059bbbf2bf58e0fd3"))
        );
    }

    fn hex(s: &str) -> [u8; 16] {
        let mut out = [0u8; 16];
        for (i, o) in out.iter_mut().enumerate() {
            *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
        }
        out
    }

    #[test]
    fn words_are_pairs_of_the_64_bit_stream() {
        let seed = Seed([0x5a; 16]);
        let narrow = prg::expand(&seed, 2 * CHUNK + 10);
        let wide = expand_at(&seed, 0, CHUNK + 5);
        for (i, w) in wide.iter().enumerate() {
            let expected = narrow[2 * i] as u128 | (narrow[2 * i + 1] as u128) << 64;
            assert_eq!(*w, expected, "element {i}");
        }
        assert_eq!(expand_at(&seed, CHUNK - 2, 4), wide[CHUNK - 2..CHUNK + 2]);
    }

    #[test]
    fn add_then_sub_is_identity_at_any_offset() {
        let seed = Seed([3; 16]);
        let orig: Vec<u128> = (0..3 * CHUNK as u128 + 1).map(|i| i << 70 | i).collect();
        let mut v = orig.clone();
        add_expansion_at(&mut v, &seed, 11);
        let window = expand_at(&seed, 11, orig.len());
        assert_eq!(
            v[CHUNK + 1],
            orig[CHUNK + 1].wrapping_add(window[CHUNK + 1])
        );
        sub_expansion_at(&mut v, &seed, 11);
        assert_eq!(v, orig);
    }
}
