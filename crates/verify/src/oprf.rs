//! RFC 9497 OPRF, mode 0 (OPRF), suite ristretto255-SHA512, written on
//! curve25519-dalek 5 (the `voprf` crate depends on dalek 4; see
//! docs/protocols.md).
//!
//! The client blinds H(x) with a random r and sends r·H(x); the server
//! returns k·r·H(x); the client removes r and hashes x with k·H(x) into the
//! 64-byte output F_k(x). What each side learns: the server sees a uniformly
//! random group element (nothing about x) and learns only that one
//! evaluation was asked for; the client learns F_k(x) for its own x and
//! nothing about k.
//!
//! The operator also evaluates F_k directly over its own entries
//! ([`OprfKey::evaluate_batch`]), in parallel.

use crate::error::VerifyError;
use curve25519_dalek::ristretto::{CompressedRistretto, RistrettoPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::IsIdentity;
use rand::CryptoRng;
use rayon::prelude::*;
use sha2::{Digest, Sha512};

/// Bytes of a serialized group element.
pub const ELEMENT_BYTES: usize = 32;
/// Bytes of an OPRF output (SHA-512).
pub const OUTPUT_BYTES: usize = 64;

/// contextString = "OPRFV1-" || I2OSP(mode = 0, 1) || "-" || identifier.
const CONTEXT: &[u8] = b"OPRFV1-\x00-ristretto255-SHA512";

/// Items hashed and compressed together (one field inversion shared by the
/// chunk); also the unit of parallel work.
const CHUNK: usize = 256;

/// An OPRF output, F_k(input).
pub type Output = [u8; OUTPUT_BYTES];

/// expand_message_xmd (RFC 9380 §5.3.1) with SHA-512, over the
/// concatenation of `msg`, filling `out` (at most 255 blocks of 64 bytes).
pub fn expand_message_xmd(msg: &[&[u8]], dst: &[u8], out: &mut [u8]) -> Result<(), VerifyError> {
    let ell = out.len().div_ceil(64);
    let (Ok(dst_len), Ok(len), true) = (
        u8::try_from(dst.len()),
        u16::try_from(out.len()),
        ell <= 255,
    ) else {
        return Err(VerifyError::Input(format!(
            "expand_message_xmd: {} bytes or a {}-byte DST is too long",
            out.len(),
            dst.len()
        )));
    };
    let mut h = Sha512::new();
    h.update([0u8; 128]);
    for part in msg {
        h.update(part);
    }
    h.update(len.to_be_bytes());
    h.update([0u8]);
    h.update(dst);
    h.update([dst_len]);
    let b0 = h.finalize();
    let mut prev = [0u8; 64];
    for (i, block) in out.chunks_mut(64).enumerate() {
        let mut h = Sha512::new();
        if i == 0 {
            h.update(b0);
        } else {
            let mixed: Vec<u8> = b0.iter().zip(prev).map(|(a, b)| a ^ b).collect();
            h.update(mixed);
        }
        h.update([i as u8 + 1]);
        h.update(dst);
        h.update([dst_len]);
        prev.copy_from_slice(&h.finalize());
        block.copy_from_slice(&prev[..block.len()]);
    }
    Ok(())
}

fn dst(prefix: &[u8]) -> Vec<u8> {
    [prefix, CONTEXT].concat()
}

/// HashToGroup: hash_to_ristretto255 with DST "HashToGroup-" || contextString.
pub fn hash_to_group(input: &[u8]) -> RistrettoPoint {
    let mut uniform = [0u8; 64];
    expand_message_xmd(&[input], &dst(b"HashToGroup-"), &mut uniform)
        .expect("64 bytes and a short DST are in range");
    RistrettoPoint::from_uniform_bytes(&uniform)
}

fn hash_to_scalar(msg: &[&[u8]], dst: &[u8]) -> Scalar {
    let mut uniform = [0u8; 64];
    expand_message_xmd(msg, dst, &mut uniform).expect("64 bytes and a short DST are in range");
    Scalar::from_bytes_mod_order_wide(&uniform)
}

/// Finalize's hash: Hash(I2OSP(len(input), 2) || input || I2OSP(32, 2) ||
/// element || "Finalize").
fn finalize_hash(input: &[u8], element: &[u8; 32]) -> Output {
    let mut h = Sha512::new();
    h.update((input.len() as u16).to_be_bytes());
    h.update(input);
    h.update((ELEMENT_BYTES as u16).to_be_bytes());
    h.update(element);
    h.update(b"Finalize");
    h.finalize().into()
}

fn check_input(input: &[u8]) -> Result<(), VerifyError> {
    if input.len() > u16::MAX as usize {
        return Err(VerifyError::Input(format!(
            "an OPRF input of {} bytes is longer than 65535",
            input.len()
        )));
    }
    Ok(())
}

/// Decodes a canonical, non-identity element.
pub fn decode_element(bytes: &[u8]) -> Option<RistrettoPoint> {
    let p = CompressedRistretto::from_slice(bytes).ok()?.decompress()?;
    (!p.is_identity()).then_some(p)
}

/// The server's OPRF key k.
#[derive(Clone)]
pub struct OprfKey {
    k: Scalar,
}

impl OprfKey {
    /// A fresh uniformly random non-zero key.
    pub fn random<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        loop {
            let k = Scalar::random(rng);
            if k != Scalar::ZERO {
                return Self { k };
            }
        }
    }

    /// DeriveKeyPair(seed, info) of RFC 9497 §3.2.1.
    pub fn derive(seed: &[u8; 32], info: &[u8]) -> Result<Self, VerifyError> {
        let info_len = u16::try_from(info.len())
            .map_err(|_| VerifyError::Input("key info longer than 65535 bytes".into()))?;
        let dst = dst(b"DeriveKeyPair");
        for counter in 0..=255u8 {
            let k = hash_to_scalar(&[seed, &info_len.to_be_bytes(), info, &[counter]], &dst);
            if k != Scalar::ZERO {
                return Ok(Self { k });
            }
        }
        Err(VerifyError::Input("DeriveKeyPair found no key".into()))
    }

    /// The key from its 32-byte canonical encoding.
    pub fn from_bytes(bytes: [u8; 32]) -> Option<Self> {
        Option::<Scalar>::from(Scalar::from_canonical_bytes(bytes))
            .filter(|k| *k != Scalar::ZERO)
            .map(|k| Self { k })
    }

    /// The key's 32-byte encoding (secret).
    pub fn to_bytes(&self) -> [u8; 32] {
        self.k.to_bytes()
    }

    /// BlindEvaluate over concatenated 32-byte blinded elements, in
    /// parallel. On a non-canonical or identity element the error is its
    /// index.
    pub fn blind_evaluate(&self, blinded: &[u8]) -> Result<Vec<u8>, usize> {
        if !blinded.len().is_multiple_of(ELEMENT_BYTES) {
            return Err(blinded.len() / ELEMENT_BYTES);
        }
        let mut out = vec![0u8; blinded.len()];
        let half = self.k * Scalar::from(2u8).invert();
        out.par_chunks_mut(CHUNK * ELEMENT_BYTES)
            .zip(blinded.par_chunks(CHUNK * ELEMENT_BYTES))
            .enumerate()
            .try_for_each(|(c, (out, pts))| {
                let halves = pts
                    .chunks_exact(ELEMENT_BYTES)
                    .enumerate()
                    .map(|(j, p)| decode_element(p).map(|p| p * half).ok_or(c * CHUNK + j))
                    .collect::<Result<Vec<_>, _>>()?;
                write_doubled(&halves, out);
                Ok::<(), usize>(())
            })?;
        Ok(out)
    }

    /// F_k(input) computed by the key holder (RFC 9497 `Evaluate`), for
    /// each input, in parallel. Inputs longer than 65535 bytes are an error.
    pub fn evaluate_batch<'a, F>(&self, n: usize, input: F) -> Result<Vec<Output>, VerifyError>
    where
        F: Fn(usize) -> &'a [u8] + Sync,
    {
        (0..n).try_for_each(|i| check_input(input(i)))?;
        let half = self.k * Scalar::from(2u8).invert();
        let mut out = vec![[0u8; OUTPUT_BYTES]; n];
        out.par_chunks_mut(CHUNK).enumerate().for_each(|(c, out)| {
            let base = c * CHUNK;
            let halves: Vec<RistrettoPoint> = (0..out.len())
                .map(|j| hash_to_group(input(base + j)) * half)
                .collect();
            let elements = RistrettoPoint::double_and_compress_batch(&halves);
            for (j, (o, e)) in out.iter_mut().zip(&elements).enumerate() {
                *o = finalize_hash(input(base + j), e.as_bytes());
            }
        });
        Ok(out)
    }
}

/// Writes the compressions of 2·P for each P of `halves` one after the other.
fn write_doubled(halves: &[RistrettoPoint], out: &mut [u8]) {
    let compressed = RistrettoPoint::double_and_compress_batch(halves);
    for (dst, c) in out.chunks_exact_mut(ELEMENT_BYTES).zip(&compressed) {
        dst.copy_from_slice(c.as_bytes());
    }
}

/// The client's secret blind r for one input.
#[derive(Clone)]
pub struct Blind(Scalar);

impl Blind {
    /// A fresh uniformly random non-zero blind.
    pub fn random<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        loop {
            let r = Scalar::random(rng);
            if r != Scalar::ZERO {
                return Self(r);
            }
        }
    }

    /// A fixed blind (test vectors only).
    pub fn from_bytes(bytes: [u8; 32]) -> Option<Self> {
        Option::<Scalar>::from(Scalar::from_canonical_bytes(bytes))
            .filter(|r| *r != Scalar::ZERO)
            .map(Self)
    }

    /// Blind: r·HashToGroup(input), serialized. Fails if the input maps to
    /// the identity (probability 2^-252) or is too long.
    pub fn blind(&self, input: &[u8]) -> Result<[u8; ELEMENT_BYTES], VerifyError> {
        check_input(input)?;
        let p = hash_to_group(input);
        if p.is_identity() {
            return Err(VerifyError::Input(
                "the input hashes to the identity".into(),
            ));
        }
        Ok((p * self.0).compress().to_bytes())
    }

    /// Finalize: removes the blind from the server's evaluated element and
    /// hashes the input with it. `None` if the element is not a valid
    /// non-identity element.
    pub fn finalize(&self, input: &[u8], evaluated: &[u8]) -> Option<Output> {
        let z = decode_element(evaluated)?;
        let n = z * self.0.invert();
        Some(finalize_hash(input, n.compress().as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn arr<const N: usize>(s: &str) -> [u8; N] {
        hex(s).try_into().unwrap()
    }

    /// RFC 9380 Appendix K.3 (expand_message_xmd, SHA-512).
    #[test]
    fn expand_message_xmd_matches_rfc_9380() {
        let mut out = [0u8; 32];
        expand_message_xmd(
            &[b"abcdef0123456789"],
            b"QUUX-V01-CS02-with-expander-SHA512-256",
            &mut out,
        )
        .unwrap();
        assert_eq!(
            out,
            arr::<32>("087e45a86e2939ee8b91100af1583c4938e0f5fc6c9db4b107b83346bc967f58")
        );
    }

    /// RFC 9497 Appendix A.1.1: OPRF(ristretto255, SHA-512), mode 0.
    #[test]
    fn rfc_9497_ristretto255_sha512_oprf_vectors() {
        let key = OprfKey::derive(&[0xa3; 32], b"test key").unwrap();
        assert_eq!(
            key.to_bytes(),
            arr::<32>("5ebcea5ee37023ccb9fc2d2019f9d7737be85591ae8652ffa9ef0f4d37063b0e")
        );
        let blind = Blind::from_bytes(arr(
            "64d37aed22a27f5191de1c1d69fadb899d8862b58eb4220029e036ec4c1f6706",
        ))
        .unwrap();
        let vectors = [
            (
                hex("00"),
                "609a0ae68c15a3cf6903766461307e5c8bb2f95e7e6550e1ffa2dc99e412803c",
                "7ec6578ae5120958eb2db1745758ff379e77cb64fe77b0b2d8cc917ea0869c7e",
                "527759c3d9366f277d8c6020418d96bb393ba2afb20ff90df23fb7708264e2f3\
                 ab9135e3bd69955851de4b1f9fe8a0973396719b7912ba9ee8aa7d0b5e24bcf6",
            ),
            (
                hex("5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a"),
                "da27ef466870f5f15296299850aa088629945a17d1f5b7f5ff043f76b3c06418",
                "b4cbf5a4f1eeda5a63ce7b77c7d23f461db3fcab0dd28e4e17cecb5c90d02c25",
                "f4a74c9c592497375e796aa837e907b1a045d34306a749db9f34221f7e750cb4\
                 f2a6413a6bf6fa5e19ba6348eb673934a722a7ede2e7621306d18951e7cf2c73",
            ),
        ];
        for (input, blinded, evaluated, output) in vectors {
            let b = blind.blind(&input).unwrap();
            assert_eq!(b.to_vec(), hex(blinded));
            let e = key.blind_evaluate(&b).unwrap();
            assert_eq!(e, hex(evaluated));
            let out = blind.finalize(&input, &e).unwrap();
            assert_eq!(out.to_vec(), hex(output));
            let direct = key.evaluate_batch(1, |_| &input).unwrap();
            assert_eq!(direct[0].to_vec(), hex(output));
        }
    }

    #[test]
    fn batch_evaluation_equals_the_blinded_protocol_and_bad_elements_are_named() {
        let mut rng = rand::rng();
        let key = OprfKey::random(&mut rng);
        let inputs: Vec<Vec<u8>> = (0..600u32).map(|i| i.to_le_bytes().to_vec()).collect();
        let direct = key.evaluate_batch(inputs.len(), |i| &inputs[i]).unwrap();
        let blinds: Vec<Blind> = inputs.iter().map(|_| Blind::random(&mut rng)).collect();
        let blinded: Vec<u8> = inputs
            .iter()
            .zip(&blinds)
            .flat_map(|(x, b)| b.blind(x).unwrap())
            .collect();
        let evaluated = key.blind_evaluate(&blinded).unwrap();
        for (i, (x, b)) in inputs.iter().zip(&blinds).enumerate() {
            let e = &evaluated[i * 32..i * 32 + 32];
            assert_eq!(b.finalize(x, e).unwrap(), direct[i]);
        }
        let mut bad = blinded.clone();
        bad[300 * 32..301 * 32].copy_from_slice(&[0xff; 32]);
        assert_eq!(key.blind_evaluate(&bad), Err(300));
        assert_eq!(key.blind_evaluate(&blinded[..33]), Err(1));
        assert!(blinds[0].finalize(&inputs[0], &[0u8; 32]).is_none());
    }
}
