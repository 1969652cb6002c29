//! Known answers that pin the ECDH-PSI wire format: the hash to the group
//! and the layout of the truncated comparison values.
//!
//! Cross-checked independently of `hash_to_group`: the SHA-512 input framing
//! (u64-LE length of the domain, the domain, u64-LE length of the key, the
//! key) is rebuilt here by hand, its digest for the key `"alice"` is pinned
//! as hex computed with Python's `hashlib.sha512` over the same bytes, and
//! that digest mapped with `RistrettoPoint::from_uniform_bytes` (the
//! ristretto255 hash-to-group of RFC 9496 §4.3.4: two Elligator maps of the
//! two 32-byte halves, added) gives the same point as `hash_to_group`.
//! The compressed points themselves were computed once with the current
//! code; the map from digest to point is curve25519-dalek's, not re-derived.

use curve25519_dalek::ristretto::RistrettoPoint;
use curve25519_dalek::scalar::Scalar;
use indomain_psi::blind::{Blinder, COMPARE_BYTES, POINT_BYTES, hash_to_group};
use sha2::{Digest, Sha512};

const DOMAIN: &[u8] = b"indomain/psi/v1/hash-to-ristretto255";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn framed(key: &[u8]) -> Vec<u8> {
    [
        &(DOMAIN.len() as u64).to_le_bytes()[..],
        DOMAIN,
        &(key.len() as u64).to_le_bytes()[..],
        key,
    ]
    .concat()
}

/// H(key) for three fixed keys, as compressed points.
#[test]
fn hash_to_group_known_answers() {
    let cases: [(&[u8], &str); 3] = [
        (
            b"",
            "2a8d9eb8c3e804dfd0480c55d978d14bfec7671a4d3fa8387cee1b8725e34932",
        ),
        (
            b"alice",
            "5e263063962f7fbbe6768cf4bf1f54dce1fdc6f05d89216c78a796d592cd2e34",
        ),
        (
            &[0, 1, 2, 255],
            "2629bde290b864aa09970d7dafd7a46ab36bd03967b6f953c517266becf90729",
        ),
    ];
    for (key, want) in cases {
        assert_eq!(
            hex(hash_to_group(key).compress().as_bytes()),
            want,
            "key {key:?}"
        );
    }
}

/// The bytes hashed and their SHA-512 (digest from Python's hashlib), and
/// the digest mapped by `from_uniform_bytes` is `hash_to_group`'s point.
#[test]
fn hash_to_group_is_sha512_of_the_framed_key_then_from_uniform_bytes() {
    let input = framed(b"alice");
    assert_eq!(
        hex(&input),
        "2400000000000000696e646f6d61696e2f7073692f76312f686173682d746f2d\
         72697374726574746f3235350500000000000000616c696365"
    );
    let digest: [u8; 64] = Sha512::digest(&input).into();
    assert_eq!(
        hex(&digest),
        "7a8766714ec67b8306f0654bfc2d72fc4afb31bc81c65abc22a4535df65c4f76\
         1631a4e0792bfe8fdb8457dbb86e5957a606f5d12336d9c8f7e70b0af57408c5"
    );
    assert_eq!(
        RistrettoPoint::from_uniform_bytes(&digest),
        hash_to_group(b"alice")
    );
    // A trailing zero byte is a different key (its length is hashed too).
    assert_ne!(hash_to_group(b"a"), hash_to_group(b"a\0"));
}

/// Blinding with k = 1 is plain compression, so the batch layout is the
/// 32-byte compressed points one after the other, in `order`.
#[test]
fn blinded_batch_layout_is_concatenated_compressed_points_in_order() {
    let keys: [&[u8]; 3] = [b"", b"alice", &[0, 1, 2, 255]];
    let one = Blinder::from_scalar(Scalar::ONE);
    let out = one.hash_and_blind(&[2, 0, 1], |i| keys[i]);
    assert_eq!(out.len(), 3 * POINT_BYTES);
    for (chunk, &i) in out.chunks_exact(POINT_BYTES).zip(&[2usize, 0, 1]) {
        assert_eq!(chunk, hash_to_group(keys[i]).compress().as_bytes());
    }
}

/// A comparison value is the first `COMPARE_BYTES` bytes of the compressed
/// double-blinded point, and the lowest bit of its first byte is always 0:
/// a ristretto255 encoding is a non-negative field element (RFC 9496 §4.3.2,
/// "non-negative" = even), so the 16 bytes carry 127 bits, not 128.
#[test]
fn comparison_values_are_16_byte_prefixes_carrying_127_bits() {
    assert_eq!(COMPARE_BYTES, 16);
    let keys: Vec<Vec<u8>> = (0..300u32).map(|i| i.to_le_bytes().to_vec()).collect();
    let order: Vec<u32> = (0..300).collect();
    let a = Blinder::from_scalar(Scalar::from(12345u64));
    let b = Blinder::from_scalar(Scalar::from(67890u64));
    let blinded = a.hash_and_blind(&order, |i| &keys[i]);
    let full = b.reblind(&blinded, POINT_BYTES).unwrap();
    let short = b.reblind(&blinded, COMPARE_BYTES).unwrap();
    assert_eq!(short.len(), 300 * COMPARE_BYTES);
    let mut high_bits = 0u8;
    for (s, f) in short
        .chunks_exact(COMPARE_BYTES)
        .zip(full.chunks_exact(POINT_BYTES))
    {
        assert_eq!(s, &f[..COMPARE_BYTES]);
        assert_eq!(s[0] & 1, 0, "the sign bit of the encoding is always clear");
        high_bits |= s[0];
    }
    // Every other bit of the first byte does vary.
    assert_eq!(high_bits, 0xfe);
    // k = 12345 · 67890 in one step gives the same prefixes (commutation).
    let ab = Blinder::from_scalar(Scalar::from(12345u64 * 67890));
    assert_eq!(
        ab.hash_and_blind(&order, |i| &keys[i])[..POINT_BYTES],
        full[..POINT_BYTES]
    );
}
