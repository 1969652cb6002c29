//! Exponential ElGamal on ristretto255: the additively homomorphic
//! encryption that carries the sender's values in intersection-sum mode
//! (in place of Paillier in Ion et al.; no big-integer code).
//!
//! Enc(v) = (r·G, v·G + r·P) for the sender's public key P = s·G. Adding
//! ciphertexts adds the values; decryption yields S·G, and S is recovered by
//! baby-step giant-step, which needs S to lie within a bound known to both
//! parties. The receiver, who adds the ciphertexts, learns nothing about the
//! values (ElGamal is IND-CPA under DDH) and re-randomises the sum before
//! returning it, so the sender cannot tell which ciphertexts were added.

use crate::blind::{POINT_BYTES, decode_point, write_doubled};
use curve25519_dalek::constants::RISTRETTO_BASEPOINT_TABLE;
use curve25519_dalek::ristretto::{RistrettoBasepointTable, RistrettoPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::Identity;
use rand::CryptoRng;
use rayon::prelude::*;

/// Bytes of one ciphertext (two compressed points).
pub const CIPHERTEXT_BYTES: usize = 2 * POINT_BYTES;
const CHUNK: usize = 256;

fn inv2() -> Scalar {
    Scalar::from(2u8).invert()
}

/// A public key, with its precomputed multiplication table.
pub struct PublicKey {
    point: RistrettoPoint,
    table: RistrettoBasepointTable,
}

impl PublicKey {
    /// The key from its compressed encoding; `None` if it is not a
    /// canonical non-identity point.
    pub fn from_bytes(bytes: &[u8; 32]) -> Option<Self> {
        decode_point(bytes).map(Self::from_point)
    }

    fn from_point(point: RistrettoPoint) -> Self {
        Self {
            table: RistrettoBasepointTable::create(&point),
            point,
        }
    }

    /// The compressed encoding.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.point.compress().to_bytes()
    }

    /// Encrypts `value(i)` for each i in `order`, writing ciphertexts one
    /// after the other (c1 ‖ c2, 64 bytes each).
    pub fn encrypt<R, F>(&self, order: &[u32], value: F, rng: &mut R) -> Vec<u8>
    where
        R: CryptoRng + ?Sized,
        F: Fn(usize) -> u64 + Sync,
    {
        let half = inv2();
        let r_halves: Vec<Scalar> = order.iter().map(|_| Scalar::random(rng) * half).collect();
        let mut out = vec![0u8; order.len() * CIPHERTEXT_BYTES];
        out.par_chunks_mut(CHUNK * CIPHERTEXT_BYTES)
            .zip(order.par_chunks(CHUNK).zip(r_halves.par_chunks(CHUNK)))
            .for_each(|(out, (idx, rs))| {
                let mut halves = Vec::with_capacity(2 * idx.len());
                for (&i, r) in idx.iter().zip(rs) {
                    let v = Scalar::from(value(i as usize)) * half;
                    halves.push(RISTRETTO_BASEPOINT_TABLE * r);
                    halves.push(RISTRETTO_BASEPOINT_TABLE * &v + &self.table * r);
                }
                write_doubled(&halves, out, POINT_BYTES);
            });
        out
    }

    /// Adds an encryption of zero with fresh randomness, so that the
    /// ciphertext no longer reveals how it was formed.
    pub fn rerandomize<R: CryptoRng + ?Sized>(&self, c: Ciphertext, rng: &mut R) -> Ciphertext {
        let r = Scalar::random(rng);
        Ciphertext {
            c1: c.c1 + RISTRETTO_BASEPOINT_TABLE * &r,
            c2: c.c2 + &self.table * &r,
        }
    }
}

/// An exponential-ElGamal ciphertext.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ciphertext {
    c1: RistrettoPoint,
    c2: RistrettoPoint,
}

impl Default for Ciphertext {
    fn default() -> Self {
        Self {
            c1: RistrettoPoint::identity(),
            c2: RistrettoPoint::identity(),
        }
    }
}

impl Ciphertext {
    /// Decodes 64 bytes; `None` unless both halves are canonical points
    /// (the identity is allowed: it is a valid encryption component).
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != CIPHERTEXT_BYTES {
            return None;
        }
        let point = |b: &[u8]| {
            curve25519_dalek::ristretto::CompressedRistretto::from_slice(b)
                .ok()?
                .decompress()
        };
        Some(Self {
            c1: point(&bytes[..POINT_BYTES])?,
            c2: point(&bytes[POINT_BYTES..])?,
        })
    }

    /// The 64-byte encoding.
    pub fn to_bytes(&self) -> [u8; 64] {
        let mut out = [0u8; 64];
        out[..32].copy_from_slice(self.c1.compress().as_bytes());
        out[32..].copy_from_slice(self.c2.compress().as_bytes());
        out
    }

    /// The encryption of the sum of both plaintexts.
    pub fn add(&self, other: &Ciphertext) -> Ciphertext {
        Ciphertext {
            c1: self.c1 + other.c1,
            c2: self.c2 + other.c2,
        }
    }
}

/// A secret key and its public key.
pub struct SecretKey {
    secret: Scalar,
    public: PublicKey,
}

impl SecretKey {
    /// A fresh key pair.
    pub fn random<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let secret = Scalar::random(rng);
        Self {
            public: PublicKey::from_point(RISTRETTO_BASEPOINT_TABLE * &secret),
            secret,
        }
    }

    /// The public key.
    pub fn public(&self) -> &PublicKey {
        &self.public
    }

    /// The plaintext of `c` if it lies in `0..=bound`, found by baby-step
    /// giant-step; `None` otherwise.
    pub fn decrypt_bounded(&self, c: &Ciphertext, bound: u64) -> Option<u64> {
        discrete_log_bounded(c.c2 - c.c1 * self.secret, bound)
    }
}

/// The t in `0..=bound` with t·G = `target`, if there is one.
pub fn discrete_log_bounded(target: RistrettoPoint, bound: u64) -> Option<u64> {
    let m = ((bound as f64 + 1.0).sqrt().ceil() as u64).max(1);
    let half = inv2();
    let half_g = RISTRETTO_BASEPOINT_TABLE * &half;
    let baby_chunk = 4096u64;
    // Baby steps: the first 8 bytes of compress(j·G) for j in 0..m, sorted.
    let mut baby: Vec<(u64, u32)> = (0..m.div_ceil(baby_chunk))
        .into_par_iter()
        .flat_map_iter(|c| {
            let start = c * baby_chunk;
            let end = m.min(start + baby_chunk);
            let mut p = RISTRETTO_BASEPOINT_TABLE * &(Scalar::from(start) * half);
            let mut halves = Vec::with_capacity((end - start) as usize);
            for _ in start..end {
                halves.push(p);
                p += half_g;
            }
            RistrettoPoint::double_and_compress_batch(&halves)
                .into_iter()
                .zip(start..end)
                .map(|(c, j)| (prefix(c.as_bytes()), j as u32))
                .collect::<Vec<_>>()
        })
        .collect();
    baby.par_sort_unstable();
    // Giant steps: target − i·m·G for i in 0..=bound/m, compressed in chunks
    // through the same halving trick.
    let target_compressed = target.compress();
    let target_half = target * half;
    let step_half = RISTRETTO_BASEPOINT_TABLE * &(Scalar::from(m) * half);
    let giants = bound / m + 1;
    let giant_chunk = 1024u64;
    (0..giants.div_ceil(giant_chunk))
        .into_par_iter()
        .find_map_first(|c| {
            let start = c * giant_chunk;
            let end = giants.min(start + giant_chunk);
            let mut p = target_half - step_half * Scalar::from(start);
            let mut halves = Vec::with_capacity((end - start) as usize);
            for _ in start..end {
                halves.push(p);
                p -= step_half;
            }
            let compressed = RistrettoPoint::double_and_compress_batch(&halves);
            compressed.iter().zip(start..end).find_map(|(c, i)| {
                let key = prefix(c.as_bytes());
                let from = baby.partition_point(|&(k, _)| k < key);
                baby[from..]
                    .iter()
                    .take_while(|&&(k, _)| k == key)
                    .map(|&(_, j)| i * m + j as u64)
                    .find(|&t| {
                        t <= bound
                            && (RISTRETTO_BASEPOINT_TABLE * &Scalar::from(t)).compress()
                                == target_compressed
                    })
            })
        })
}

fn prefix(bytes: &[u8; 32]) -> u64 {
    let mut p = [0u8; 8];
    p.copy_from_slice(&bytes[..8]);
    u64::from_le_bytes(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn sums_decrypt_within_the_bound_and_not_beyond() {
        let mut rng = StdRng::seed_from_u64(3);
        let sk = SecretKey::random(&mut rng);
        let values = [5u64, 0, 1_000_000, 77, 123_456_789];
        let order: Vec<u32> = (0..values.len() as u32).collect();
        let cts = sk.public().encrypt(&order, |i| values[i], &mut rng);
        let mut sum = Ciphertext::default();
        for c in cts.chunks_exact(64) {
            let c = Ciphertext::from_bytes(c).unwrap();
            assert_eq!(Ciphertext::from_bytes(&c.to_bytes()), Some(c));
            sum = sum.add(&c);
        }
        let sum = sk.public().rerandomize(sum, &mut rng);
        let total: u64 = values.iter().sum();
        assert_eq!(sk.decrypt_bounded(&sum, total), Some(total));
        assert_eq!(sk.decrypt_bounded(&sum, 1 << 30), Some(total));
        assert_eq!(sk.decrypt_bounded(&sum, total - 1), None);
        assert_eq!(sk.decrypt_bounded(&Ciphertext::default(), 10), Some(0));
    }

    #[test]
    fn discrete_log_finds_every_value_at_the_edges() {
        for (t, bound) in [
            (0u64, 0u64),
            (1, 1),
            (99, 99),
            (100, 1000),
            (4095, 1 << 24),
            (1 << 24, 1 << 24),
        ] {
            let p = RISTRETTO_BASEPOINT_TABLE * &Scalar::from(t);
            assert_eq!(
                discrete_log_bounded(p, bound),
                Some(t),
                "t={t} bound={bound}"
            );
        }
        let p = RISTRETTO_BASEPOINT_TABLE * &Scalar::from(1001u64);
        assert_eq!(discrete_log_bounded(p, 1000), None);
    }
}
