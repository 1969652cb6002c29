//! The group arithmetic of ECDH-PSI on ristretto255: hashing keys to the
//! group and raising points to a party's secret exponent, in parallel
//! batches.
//!
//! Every output is compressed with `double_and_compress_batch` applied to
//! points multiplied by k/2 instead of k: doubling them gives back the
//! points multiplied by k, and one field inversion is shared by the whole
//! chunk instead of one a point. Values that are only ever compared
//! (double-blinded keys) are truncated to [`COMPARE_BYTES`] and never
//! decompressed.

use curve25519_dalek::ristretto::{CompressedRistretto, RistrettoPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::IsIdentity;
use rand::CryptoRng;
use rayon::prelude::*;
use sha2::{Digest, Sha512};

/// Bytes of a compressed point.
pub const POINT_BYTES: usize = 32;
/// Bytes of a double-blinded value kept for comparison. They carry 127
/// bits: the lowest bit of a ristretto255 encoding is always 0. A false
/// match needs two such prefixes of distinct pseudo-random points to agree:
/// about 2^-127 · |X| · |Y| over a run.
pub const COMPARE_BYTES: usize = 16;

/// Points compressed together (one shared inversion a chunk); also the unit
/// of parallel work.
const CHUNK: usize = 256;

/// Domain separation of the hash to the group (versioned with the protocol).
const HASH_DOMAIN: &[u8] = b"indomain/psi/v1/hash-to-ristretto255";

/// H(key): SHA-512 of the domain and the length-prefixed key, mapped to the
/// group with the Elligator-based `from_hash` (uniform over the group).
pub fn hash_to_group(key: &[u8]) -> RistrettoPoint {
    let mut h = Sha512::new();
    h.update((HASH_DOMAIN.len() as u64).to_le_bytes());
    h.update(HASH_DOMAIN);
    h.update((key.len() as u64).to_le_bytes());
    h.update(key);
    RistrettoPoint::from_hash(h)
}

/// A party's secret exponent k, kept with k/2 for batch compression.
pub struct Blinder {
    half: Scalar,
}

impl Blinder {
    /// A fresh uniformly random non-zero exponent.
    pub fn random<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        loop {
            let k = Scalar::random(rng);
            if k != Scalar::ZERO {
                return Self::from_scalar(k);
            }
        }
    }

    /// The blinder with exponent `k` (tests and benches; runs use [`Blinder::random`]).
    pub fn from_scalar(k: Scalar) -> Self {
        Self {
            half: k * Scalar::from(2u8).invert(),
        }
    }

    /// H(key)^k, compressed, for `keys[i]` for each i in `order`, written
    /// as 32-byte points one after the other.
    pub fn hash_and_blind<'a, F>(&self, order: &[u32], key: F) -> Vec<u8>
    where
        F: Fn(usize) -> &'a [u8] + Sync,
    {
        let mut out = vec![0u8; order.len() * POINT_BYTES];
        out.par_chunks_mut(CHUNK * POINT_BYTES)
            .zip(order.par_chunks(CHUNK))
            .for_each(|(out, idx)| {
                let halves: Vec<RistrettoPoint> = idx
                    .iter()
                    .map(|&i| hash_to_group(key(i as usize)) * self.half)
                    .collect();
                write_doubled(&halves, out, POINT_BYTES);
            });
        out
    }

    /// P^k for each 32-byte point P of `points` (the peer's blinded keys),
    /// each result truncated to `width` bytes. On a non-canonical or
    /// identity point, the error is its index in `points`.
    pub fn reblind(&self, points: &[u8], width: usize) -> Result<Vec<u8>, usize> {
        let n = points.len() / POINT_BYTES;
        let mut out = vec![0u8; n * width];
        out.par_chunks_mut(CHUNK * width)
            .zip(points.par_chunks(CHUNK * POINT_BYTES))
            .enumerate()
            .try_for_each(|(c, (out, pts))| {
                let halves = pts
                    .chunks_exact(POINT_BYTES)
                    .enumerate()
                    .map(|(j, p)| decode_point(p).map(|p| p * self.half).ok_or(c * CHUNK + j))
                    .collect::<Result<Vec<_>, _>>()?;
                write_doubled(&halves, out, width);
                Ok::<(), usize>(())
            })?;
        Ok(out)
    }
}

/// Decodes a canonical, non-identity compressed point.
pub fn decode_point(bytes: &[u8]) -> Option<RistrettoPoint> {
    let p = CompressedRistretto::from_slice(bytes).ok()?.decompress()?;
    (!p.is_identity()).then_some(p)
}

/// Writes the compressions of 2·P for each P of `halves`, each truncated to
/// `width` bytes, one after the other into `out`.
pub fn write_doubled(halves: &[RistrettoPoint], out: &mut [u8], width: usize) {
    let compressed = RistrettoPoint::double_and_compress_batch(halves);
    for (dst, c) in out.chunks_exact_mut(width).zip(&compressed) {
        dst.copy_from_slice(&c.as_bytes()[..width]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn blinding_commutes_and_matches_plain_compression() {
        let mut rng = StdRng::seed_from_u64(7);
        let (a, b) = (Scalar::random(&mut rng), Scalar::random(&mut rng));
        let keys: Vec<Vec<u8>> = (0..600u32).map(|i| i.to_le_bytes().to_vec()).collect();
        let order: Vec<u32> = (0..600).rev().collect();
        let ka = Blinder::from_scalar(a).hash_and_blind(&order, |i| &keys[i]);
        for (j, &i) in order.iter().enumerate() {
            let want = (hash_to_group(&keys[i as usize]) * a).compress();
            assert_eq!(&ka[j * 32..j * 32 + 32], want.as_bytes());
        }
        let kb = Blinder::from_scalar(b).hash_and_blind(&order, |i| &keys[i]);
        let kab = Blinder::from_scalar(b).reblind(&ka, 16).unwrap();
        let kba = Blinder::from_scalar(a).reblind(&kb, 16).unwrap();
        assert_eq!(kab, kba);
        assert_eq!(kab.len(), 600 * 16);
    }

    #[test]
    fn non_canonical_and_identity_points_are_refused_with_their_index() {
        let blinder = Blinder::from_scalar(Scalar::from(5u8));
        let mut pts = blinder.hash_and_blind(&[0, 1, 2, 3], |_| b"k");
        assert!(blinder.reblind(&pts, 32).is_ok());
        pts[2 * 32..3 * 32].copy_from_slice(&[0xff; 32]);
        assert_eq!(blinder.reblind(&pts, 32), Err(2));
        pts[2 * 32..3 * 32].copy_from_slice(&[0; 32]);
        assert_eq!(blinder.reblind(&pts, 32), Err(2));
    }
}
