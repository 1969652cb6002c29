//! Known answers that pin the wire format of seed compression: the
//! AES-128-CTR PRG stream layout and the bytes of a dealt share.
//!
//! Cross-checked independently: the PRG words below were computed with
//! Python's `cryptography` package as AES-128-ECB under the seed of the
//! 16-byte blocks LE128(0), LE128(1), … (a 128-bit little-endian counter
//! from an all-zero IV, what `ctr::Ctr128LE` produces), read as
//! little-endian u64s; the same Python AES gave FIPS-197's C.1 answer for
//! that key.

use indomain_core::Seed;
use indomain_core::dealer::DealtShare;
use indomain_core::prg::{Prg, expand, expand_into_at};
use proptest::prelude::*;

/// The FIPS-197 C.1 key 00 01 … 0f.
const SEED: Seed = Seed([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);

/// AES-128(SEED, LE128(i)) for i = 0..4, as little-endian u64s.
const STREAM: [u64; 8] = [
    0x825b8f87373ba1c6,
    0x79d8c8a162814f6f,
    0xa0877cdd63d37ce3,
    0x829ce0603e0eff9a,
    0xad9cdba51be38afb,
    0x2673d422874d3697,
    0xffa81f8f1499b88c,
    0xf236a915ebd03291,
];

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn prg_stream_known_answer() {
    assert_eq!(expand(&SEED, 8), STREAM);
    let mut words = [0u64; 8];
    Prg::new(&SEED).fill(&mut words);
    assert_eq!(words, STREAM);
    // A different seed gives a different stream.
    assert_ne!(expand(&Seed([0; 16]), 8), STREAM);
}

#[test]
fn expand_at_is_the_slice_of_the_full_stream() {
    // Long enough to cross the parallel chunk boundary (2^14 elements).
    let full = expand(&SEED, 40_000);
    assert_eq!(full[..8], STREAM);
    for (start, len) in [
        (0, 8),
        (3, 5),
        (1, 1),
        (16_380, 20_000),
        (16_384, 3),
        (39_999, 1),
    ] {
        let mut part = vec![0u64; len];
        expand_into_at(&SEED, start, &mut part);
        assert_eq!(part, full[start..start + len], "start {start} len {len}");
    }
    // Filling in pieces continues the stream.
    let mut prg = Prg::new(&SEED);
    let (mut a, mut b) = ([0u64; 3], [0u64; 5]);
    prg.fill(&mut a);
    prg.fill(&mut b);
    assert_eq!([&a[..], &b[..]].concat(), STREAM);
}

#[test]
fn dealt_share_bytes_known_answer() {
    let plain = DealtShare {
        seed: SEED,
        correction: None,
    };
    assert_eq!(hex(&plain.to_bytes()), "000102030405060708090a0b0c0d0e0f");
    let corrected = DealtShare {
        seed: SEED,
        correction: Some(vec![1, u64::MAX, 0x0102_0304_0506_0708]),
    };
    let bytes = corrected.to_bytes();
    assert_eq!(
        hex(&bytes),
        "000102030405060708090a0b0c0d0e0f\
         0100000000000000\
         ffffffffffffffff\
         0807060504030201"
    );
    assert_eq!(DealtShare::wire_len(Some(3)), bytes.len());
    assert_eq!(DealtShare::from_bytes(&bytes, Some(3)).unwrap(), corrected);
    assert_eq!(
        DealtShare::from_bytes(&plain.to_bytes(), None).unwrap(),
        plain
    );
    // The same bytes read with another expectation are refused.
    assert!(DealtShare::from_bytes(&bytes, None).is_err());
    assert!(DealtShare::from_bytes(&bytes, Some(2)).is_err());
    assert!(DealtShare::from_bytes(&bytes, Some(usize::MAX)).is_err());
}

proptest! {
    /// Random bytes under any expectation: an error unless the length is
    /// exactly the expected one, and then a share that encodes back to the
    /// same bytes. Never a panic, never an allocation from the claimed size.
    #[test]
    fn dealt_share_from_random_bytes(
        bytes in proptest::collection::vec(any::<u8>(), 0..200),
        expect in proptest::option::of(prop_oneof![0usize..24, Just(usize::MAX), Just(usize::MAX / 8)]),
    ) {
        match DealtShare::from_bytes(&bytes, expect) {
            Ok(share) => {
                prop_assert_eq!(bytes.len(), DealtShare::wire_len(expect));
                prop_assert_eq!(share.to_bytes(), bytes);
            }
            Err(_) => prop_assert_ne!(bytes.len(), DealtShare::wire_len(expect)),
        }
    }

    /// Every strict prefix of a valid encoding is an error.
    #[test]
    fn dealt_share_truncated_is_an_error(
        seed in any::<[u8; 16]>(),
        correction in proptest::option::of(proptest::collection::vec(any::<u64>(), 0..12)),
    ) {
        let len = correction.as_ref().map(Vec::len);
        let bytes = DealtShare { seed: Seed(seed), correction }.to_bytes();
        for cut in 0..bytes.len() {
            prop_assert!(DealtShare::from_bytes(&bytes[..cut], len).is_err(), "prefix {}", cut);
        }
        prop_assert!(DealtShare::from_bytes(&bytes, len).is_ok());
    }
}
