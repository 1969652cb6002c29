//! Key agreement, derived seeds and share encryption of a round.
//!
//! Keys are X25519-style: a secret scalar s (uniform modulo ℓ, so it is one
//! Shamir field element) and the public point s·B on the Montgomery curve.
//! The agreement of u and v is s_u·(s_v·B) = s_v·(s_u·B). It is hashed with
//! SHA-256 under a domain-separation label, the job nonce, the round and
//! both ids into
//! either a full 128-bit AES-CTR mask seed (never folded) or a 128-bit
//! AES-GCM key for the shares u and v exchange.

use super::RoundId;
use aes_gcm::Aes128Gcm;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use curve25519_dalek::Scalar;
use curve25519_dalek::montgomery::MontgomeryPoint;
use indomain_core::prg::Seed;
use rand::CryptoRng;
use sha2::{Digest, Sha256};

const MASK_LABEL: &[u8] = b"indomain/secagg/v2/pairwise-mask";
const SHARE_KEY_LABEL: &[u8] = b"indomain/secagg/v2/share-encryption";

/// Bytes of the plaintext a client seals for a neighbour: its shares of the
/// self-mask seed and of the mask key (one field element each).
pub const SHARE_PLAINTEXT: usize = 64;
/// Bytes of the sealed shares (plaintext plus the 16-byte GCM tag).
pub const SEALED_LEN: usize = SHARE_PLAINTEXT + 16;

/// A key pair for one purpose in one round.
pub struct KeyPair {
    secret: Scalar,
    public: [u8; 32],
}

impl KeyPair {
    /// A fresh key pair.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        Self::from_secret(Scalar::random(rng))
    }

    /// The key pair of a known secret (e.g. one rebuilt from shares).
    pub fn from_secret(secret: Scalar) -> Self {
        let public = MontgomeryPoint::mul_base(&secret).to_bytes();
        Self { secret, public }
    }

    /// The public key.
    pub fn public(&self) -> [u8; 32] {
        self.public
    }

    /// The secret scalar (for Shamir sharing).
    pub fn secret(&self) -> &Scalar {
        &self.secret
    }

    /// The raw agreement with `their_public`; `None` if the result is the
    /// identity (their key was a low-order point).
    pub fn agree(&self, their_public: &[u8; 32]) -> Option<[u8; 32]> {
        let shared = (MontgomeryPoint(*their_public) * self.secret).to_bytes();
        (shared != [0u8; 32]).then_some(shared)
    }
}

/// Whether `public` is a key an honest client could have sent: the
/// canonical encoding of a point of the prime-order subgroup other than the
/// identity. Our secrets are uniform modulo ℓ, not clamped, so the ladder
/// on a point with a small-order component would leak the secret modulo 8
/// to whoever chose the point; such keys are refused before any use.
pub fn valid_public_key(public: &[u8; 32]) -> bool {
    MontgomeryPoint(*public).to_edwards(0).is_some_and(|point| {
        point.is_torsion_free()
            && !point.is_small_order()
            && point.to_montgomery().to_bytes() == *public
    })
}

fn derive(label: &[u8], round: RoundId, u: usize, v: usize, shared: &[u8; 32]) -> [u8; 16] {
    let (lo, hi) = (u.min(v) as u64, u.max(v) as u64);
    let mut h = Sha256::new();
    h.update((label.len() as u64).to_le_bytes());
    h.update(label);
    h.update(round.job);
    h.update(round.round.to_le_bytes());
    h.update(lo.to_le_bytes());
    h.update(hi.to_le_bytes());
    h.update(shared);
    let digest = h.finalize();
    let mut out = [0u8; 16];
    out.copy_from_slice(&digest[..16]);
    out
}

/// The pairwise mask seed of clients `u` and `v` from their agreement.
pub fn mask_seed(round: RoundId, u: usize, v: usize, shared: &[u8; 32]) -> Seed {
    Seed(derive(MASK_LABEL, round, u, v, shared))
}

/// The AES-GCM key under which `u` and `v` exchange shares.
pub fn share_key(round: RoundId, u: usize, v: usize, shared: &[u8; 32]) -> [u8; 16] {
    derive(SHARE_KEY_LABEL, round, u, v, shared)
}

fn nonce_and_aad(round: RoundId, from: usize, to: usize) -> ([u8; 12], [u8; 56]) {
    // One key serves both directions: the direction goes into the nonce.
    let mut nonce = [0u8; 12];
    nonce[0] = u8::from(from > to);
    let mut aad = [0u8; 56];
    aad[..32].copy_from_slice(&round.job);
    aad[32..40].copy_from_slice(&round.round.to_le_bytes());
    aad[40..48].copy_from_slice(&(from as u64).to_le_bytes());
    aad[48..].copy_from_slice(&(to as u64).to_le_bytes());
    (nonce, aad)
}

/// Encrypts `from`'s shares for `to`.
pub fn seal(
    key: &[u8; 16],
    round: RoundId,
    from: usize,
    to: usize,
    plaintext: &[u8; SHARE_PLAINTEXT],
) -> Vec<u8> {
    let (nonce, aad) = nonce_and_aad(round, from, to);
    let cipher = Aes128Gcm::new(&(*key).into());
    // AES-GCM fails only on inputs longer than 2^36 bytes; ours are 64.
    cipher
        .encrypt(
            &nonce.into(),
            Payload {
                msg: plaintext,
                aad: &aad,
            },
        )
        .unwrap_or_default()
}

/// Decrypts the shares `from` sealed for `to`; `None` if they do not
/// authenticate.
pub fn open(
    key: &[u8; 16],
    round: RoundId,
    from: usize,
    to: usize,
    sealed: &[u8],
) -> Option<[u8; SHARE_PLAINTEXT]> {
    let (nonce, aad) = nonce_and_aad(round, from, to);
    let cipher = Aes128Gcm::new(&(*key).into());
    let plain = cipher
        .decrypt(
            &nonce.into(),
            Payload {
                msg: sealed,
                aad: &aad,
            },
        )
        .ok()?;
    plain.try_into().ok()
}

/// A 128-bit seed as a field element.
pub fn seed_to_scalar(seed: &Seed) -> Scalar {
    let mut bytes = [0u8; 32];
    bytes[..16].copy_from_slice(&seed.0);
    Scalar::from_bytes_mod_order(bytes)
}

/// The seed a field element encodes, if it is below 2^128.
pub fn scalar_to_seed(s: &Scalar) -> Option<Seed> {
    let bytes = s.to_bytes();
    if bytes[16..].iter().any(|&b| b != 0) {
        return None;
    }
    let mut seed = [0u8; 16];
    seed.copy_from_slice(&bytes[..16]);
    Some(Seed(seed))
}

/// A field element from its canonical encoding.
pub fn scalar_from_bytes(bytes: &[u8; 32]) -> Option<Scalar> {
    Option::from(Scalar::from_canonical_bytes(*bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn agreement_is_symmetric_and_seals_authenticate() {
        let mut rng = StdRng::seed_from_u64(1);
        let a = KeyPair::generate(&mut rng);
        let b = KeyPair::generate(&mut rng);
        let ab = a.agree(&b.public()).unwrap();
        assert_eq!(Some(ab), b.agree(&a.public()));
        let r = |job: u8, round: u64| RoundId {
            job: [job; 32],
            round,
        };
        assert_eq!(mask_seed(r(1, 7), 1, 2, &ab), mask_seed(r(1, 7), 2, 1, &ab));
        assert_ne!(mask_seed(r(1, 7), 1, 2, &ab), mask_seed(r(1, 8), 1, 2, &ab));
        // The same round of another job.
        assert_ne!(mask_seed(r(1, 7), 1, 2, &ab), mask_seed(r(2, 7), 1, 2, &ab));
        let key = share_key(r(1, 7), 1, 2, &ab);
        let sealed = seal(&key, r(1, 7), 1, 2, &[9u8; 64]);
        assert_eq!(sealed.len(), SEALED_LEN);
        assert_eq!(open(&key, r(1, 7), 1, 2, &sealed), Some([9u8; 64]));
        assert_eq!(open(&key, r(1, 7), 2, 1, &sealed), None);
        assert_eq!(open(&key, r(2, 7), 1, 2, &sealed), None);
        let mut tampered = sealed.clone();
        tampered[3] ^= 1;
        assert_eq!(open(&key, r(1, 7), 1, 2, &tampered), None);
        assert_eq!(a.agree(&[0u8; 32]), None);
        let seed = Seed([0xab; 16]);
        assert_eq!(scalar_to_seed(&seed_to_scalar(&seed)), Some(seed));
    }

    #[test]
    fn only_canonical_prime_order_keys_are_valid() {
        let mut rng = StdRng::seed_from_u64(2);
        let key = KeyPair::generate(&mut rng).public();
        assert!(valid_public_key(&key));
        // Small-order points: u = 0 (order 2), u = 1 (order 4) and an
        // order-8 point; a point of the twist; a non-canonical u ≥ p.
        let mut order8 = [0u8; 32];
        order8.copy_from_slice(&hex32(
            "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
        ));
        let mut one = [0u8; 32];
        one[0] = 1;
        let mut two = [0u8; 32];
        two[0] = 2;
        let mut p_plus_9 = [0xffu8; 32];
        p_plus_9[0] = 0xed + 9;
        p_plus_9[31] = 0x7f;
        for bad in [[0u8; 32], one, order8, two, p_plus_9] {
            assert!(!valid_public_key(&bad), "{bad:?}");
        }
        // A prime-order key plus a torsion component is refused too.
        let point = MontgomeryPoint(key).to_edwards(0).unwrap();
        let torsion = MontgomeryPoint(order8).to_edwards(0).unwrap();
        assert!(!valid_public_key(
            &(point + torsion).to_montgomery().to_bytes()
        ));
    }

    fn hex32(s: &str) -> Vec<u8> {
        (0..32)
            .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
            .collect()
    }
}
