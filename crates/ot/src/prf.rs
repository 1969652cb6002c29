//! Fixed-key and keyed AES-128 on 128-bit blocks (`u128`, little-endian
//! bytes): the PRG of OT extension, the GGM tree's length doubling and the
//! code's public coefficients. Hardware AES through the `aes` crate, which
//! detects AES-NI at run time. (Blocks are reinterpreted as bytes in place,
//! so the byte order is the host's: every supported target is
//! little-endian.)

use aes::Aes128;
use aes::cipher::array::Array;
use aes::cipher::{BlockCipherEncrypt, KeyInit};

/// AES-128 under one key, as a permutation of blocks.
#[derive(Clone)]
pub struct Aes(Aes128);

impl Aes {
    /// The permutation keyed by `key`.
    pub fn new(key: u128) -> Self {
        Self(Aes128::new(&key.to_le_bytes().into()))
    }

    /// Replaces each block x by AES_k(x).
    pub fn encrypt(&self, blocks: &mut [u128]) {
        let bytes: &mut [[u8; 16]] = bytemuck::cast_slice_mut(blocks);
        self.0
            .encrypt_blocks(Array::cast_slice_from_core_mut(bytes));
    }

    /// Replaces each block x by AES_k(x) ⊕ x (Matyas–Meyer–Oseas): a
    /// one-way compression of x, the GGM tree's half of a length doubling.
    pub fn mmo(&self, blocks: &mut [u128]) {
        let mut tmp = blocks.to_vec();
        self.encrypt(&mut tmp);
        for (b, t) in blocks.iter_mut().zip(tmp) {
            *b ^= t;
        }
    }

    /// Replaces each block x_i by π(π(x_i) ⊕ (tweak + i)) ⊕ π(x_i) with π
    /// this permutation: the TMMO construction (Guo, Katz, Wang, Yu, S&P
    /// 2020), a tweakable correlation-robust hash in the ideal-permutation
    /// model. It turns correlated OTs (q, q ⊕ Δ) into random ones with a
    /// fresh tweak per transfer.
    pub fn tmmo(&self, blocks: &mut [u128], tweak: u128) {
        let mut first = blocks.to_vec();
        self.encrypt(&mut first);
        for (i, (b, f)) in blocks.iter_mut().zip(&first).enumerate() {
            *b = f ^ tweak.wrapping_add(i as u128);
        }
        self.encrypt(blocks);
        for (b, f) in blocks.iter_mut().zip(first) {
            *b ^= f;
        }
    }

    /// `out.len()` blocks of counter-mode keystream from block `start` on.
    pub fn keystream(&self, start: u128, out: &mut [u128]) {
        for (i, o) in out.iter_mut().enumerate() {
            *o = start.wrapping_add(i as u128);
        }
        self.encrypt(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fips_197_known_answer() {
        // FIPS-197 appendix C.1: key 000102…0f, plaintext 00112233…ff.
        let key = u128::from_le_bytes(core::array::from_fn(|i| i as u8));
        let pt = u128::from_le_bytes(core::array::from_fn(|i| (i as u8) * 0x11));
        let mut b = [pt];
        Aes::new(key).encrypt(&mut b);
        assert_eq!(
            b[0].to_le_bytes(),
            [
                0x69, 0xc4, 0xe0, 0xd8, 0x6a, 0x7b, 0x04, 0x30, 0xd8, 0xcd, 0xb7, 0x80, 0x70, 0xb4,
                0xc5, 0x5a
            ]
        );
    }
}
