//! The ring word of a secure sum: `u64` (Z_2^64, the vector sum) or `u128`
//! (Z_2^128, statistics), with the seed expansion and the wire layout of
//! each. Vectors travel as raw little-endian words, checked against the
//! length the protocol expects before use.

use indomain_core::prg::{self, Seed};
use indomain_core::ring128;
use indomain_net::{Channel, NetError};

/// A ring word: wrapping arithmetic, PRG expansion at an offset, and a
/// little-endian byte layout.
pub trait Word: bytemuck::Pod + Default + Send + Sync + PartialEq + std::fmt::Debug {
    /// Bytes per word on the wire.
    const BYTES: usize;
    /// a + b modulo the ring.
    fn add(self, other: Self) -> Self;
    /// Adds elements `start..` of the expansion of `seed` to `acc`.
    fn add_expansion_at(acc: &mut [Self], seed: &Seed, start: usize);
    /// Subtracts elements `start..` of the expansion of `seed` from `acc`.
    fn sub_expansion_at(acc: &mut [Self], seed: &Seed, start: usize);
    /// The word from its little-endian bytes (`bytes.len() == BYTES`).
    fn from_le_slice(bytes: &[u8]) -> Self;
    /// Appends the word's little-endian bytes.
    fn extend_le(self, out: &mut Vec<u8>);
}

impl Word for u64 {
    const BYTES: usize = 8;
    fn add(self, other: Self) -> Self {
        self.wrapping_add(other)
    }
    fn add_expansion_at(acc: &mut [Self], seed: &Seed, start: usize) {
        prg::add_expansion_at(acc, seed, start);
    }
    fn sub_expansion_at(acc: &mut [Self], seed: &Seed, start: usize) {
        prg::sub_expansion_at(acc, seed, start);
    }
    fn from_le_slice(bytes: &[u8]) -> Self {
        let mut b = [0u8; 8];
        b.copy_from_slice(bytes);
        u64::from_le_bytes(b)
    }
    fn extend_le(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}

impl Word for u128 {
    const BYTES: usize = 16;
    fn add(self, other: Self) -> Self {
        self.wrapping_add(other)
    }
    fn add_expansion_at(acc: &mut [Self], seed: &Seed, start: usize) {
        ring128::add_expansion_at(acc, seed, start);
    }
    fn sub_expansion_at(acc: &mut [Self], seed: &Seed, start: usize) {
        ring128::sub_expansion_at(acc, seed, start);
    }
    fn from_le_slice(bytes: &[u8]) -> Self {
        let mut b = [0u8; 16];
        b.copy_from_slice(bytes);
        u128::from_le_bytes(b)
    }
    fn extend_le(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}

/// Sends a vector of words as one frame of raw little-endian bytes.
pub fn send_words<W: Word>(ch: &mut (impl Channel + ?Sized), values: &[W]) -> Result<(), NetError> {
    if cfg!(target_endian = "little") {
        ch.send(bytemuck::cast_slice(values))
    } else {
        let mut bytes = Vec::with_capacity(values.len() * W::BYTES);
        values.iter().for_each(|v| v.extend_le(&mut bytes));
        ch.send(&bytes)
    }
}

/// Receives a frame of exactly `expected` words.
pub fn recv_words<W: Word>(
    ch: &mut (impl Channel + ?Sized),
    expected: usize,
) -> Result<Vec<W>, NetError> {
    let frame = ch.recv()?;
    decode_words(ch.peer(), &frame, expected)
}

/// Decodes a frame of raw little-endian words, checking the count first.
pub fn decode_words<W: Word>(
    peer: &str,
    frame: &[u8],
    expected: usize,
) -> Result<Vec<W>, NetError> {
    if frame.len() != expected.saturating_mul(W::BYTES) {
        return Err(NetError::UnexpectedLength {
            peer: peer.to_string(),
            expected: expected.saturating_mul(W::BYTES),
            got: frame.len(),
        });
    }
    Ok(frame.chunks_exact(W::BYTES).map(W::from_le_slice).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn wire_layout_is_little_endian_words() {
        let words = [1u128 | 2u128 << 64, u128::MAX];
        let mut bytes = Vec::new();
        words.iter().for_each(|w| w.extend_le(&mut bytes));
        assert_eq!(
            &bytes[..16],
            &[1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(decode_words::<u128>("p", &bytes, 2).unwrap(), words);
        assert!(decode_words::<u128>("p", &bytes[..31], 2).is_err());
        assert!(decode_words::<u64>("p", &bytes, 3).is_err());
    }

    proptest! {
        #[test]
        fn random_frames_decode_or_fail_without_panic(
            bytes in proptest::collection::vec(any::<u8>(), 0..100),
            expected in 0usize..8,
        ) {
            let wide = decode_words::<u128>("p", &bytes, expected);
            prop_assert_eq!(wide.is_ok(), bytes.len() == 16 * expected);
            let narrow = decode_words::<u64>("p", &bytes, usize::MAX);
            prop_assert!(narrow.is_err());
        }
    }
}
