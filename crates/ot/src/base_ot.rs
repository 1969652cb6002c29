//! Base oblivious transfers: the "simplest OT" of Chou and Orlandi
//! (Latincrypt 2015) on ristretto255, semi-honest, many at once.
//!
//! The sender draws a and sends A = a·G. For each transfer i with choice
//! c_i the receiver draws b_i and sends B_i = b_i·G + c_i·A. The sender's
//! two keys are H(i, A, B_i, a·B_i) and H(i, A, B_i, a·(B_i − A)); the
//! receiver's is H(i, A, B_i, b_i·A), equal to the one it chose. The sender
//! learns nothing of the choices (B_i is uniform whatever c_i); the
//! receiver cannot compute the other key without solving CDH.

use crate::{OtError, Phase};
use curve25519_dalek::constants::RISTRETTO_BASEPOINT_TABLE;
use curve25519_dalek::ristretto::{CompressedRistretto, RistrettoPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::IsIdentity;
use indomain_net::Channel;
use rand::CryptoRng;
use sha2::{Digest, Sha256};

const DOMAIN: &[u8] = b"indomain/psi/rr22/v1/base-ot";
const POINT: usize = 32;

/// Runs `count` transfers as the sender; returns each transfer's two keys.
pub fn send<C, R>(ch: &mut C, count: usize, rng: &mut R) -> Result<Vec<[u128; 2]>, OtError>
where
    C: Channel + ?Sized,
    R: CryptoRng + ?Sized,
{
    let peer = ch.peer().to_string();
    let phase = Phase::BaseOt;
    let a = Scalar::random(rng);
    let big_a = &a * RISTRETTO_BASEPOINT_TABLE;
    let a_bytes = big_a.compress().to_bytes();
    ch.send(&a_bytes).map_err(OtError::net(&peer, phase))?;
    let frame = ch.recv().map_err(OtError::net(&peer, phase))?;
    if frame.len() != count * POINT {
        return Err(OtError::BatchLength {
            peer,
            phase,
            expected: count * POINT,
            got: frame.len(),
        });
    }
    frame
        .chunks_exact(POINT)
        .enumerate()
        .map(|(i, b)| {
            let point = decode(b).ok_or_else(|| OtError::BadPoint {
                peer: peer.clone(),
                phase,
                index: i,
            })?;
            let k0 = key(i, &a_bytes, b, &(a * point));
            let k1 = key(i, &a_bytes, b, &(a * (point - big_a)));
            Ok([k0, k1])
        })
        .collect()
}

/// Runs one transfer per choice as the receiver; returns the chosen keys.
pub fn receive<C, R>(ch: &mut C, choices: &[bool], rng: &mut R) -> Result<Vec<u128>, OtError>
where
    C: Channel + ?Sized,
    R: CryptoRng + ?Sized,
{
    let peer = ch.peer().to_string();
    let phase = Phase::BaseOt;
    let frame = ch.recv().map_err(OtError::net(&peer, phase))?;
    let big_a = decode(&frame).ok_or_else(|| OtError::BadPoint {
        peer: peer.clone(),
        phase,
        index: 0,
    })?;
    let a_bytes = big_a.compress().to_bytes();
    let mut msg = Vec::with_capacity(choices.len() * POINT);
    let mut keys = Vec::with_capacity(choices.len());
    for (i, &c) in choices.iter().enumerate() {
        let b = Scalar::random(rng);
        let mut point = &b * RISTRETTO_BASEPOINT_TABLE;
        if c {
            point += big_a;
        }
        let b_bytes = point.compress().to_bytes();
        keys.push(key(i, &a_bytes, &b_bytes, &(b * big_a)));
        msg.extend_from_slice(&b_bytes);
    }
    ch.send(&msg).map_err(OtError::net(&peer, phase))?;
    Ok(keys)
}

/// A canonical, non-identity point.
fn decode(bytes: &[u8]) -> Option<RistrettoPoint> {
    let compressed = CompressedRistretto::from_slice(bytes).ok()?;
    compressed.decompress().filter(|p| !p.is_identity())
}

fn key(i: usize, a: &[u8], b: &[u8], shared: &RistrettoPoint) -> u128 {
    let mut h = Sha256::new();
    h.update(DOMAIN);
    h.update((i as u64).to_le_bytes());
    h.update(a);
    h.update(b);
    h.update(shared.compress().as_bytes());
    let d = h.finalize();
    let mut k = [0u8; 16];
    k.copy_from_slice(&d[..16]);
    u128::from_le_bytes(k)
}

#[cfg(test)]
mod tests {
    use super::*;
    use indomain_net::memory;
    use rand::{RngExt, SeedableRng, rngs::StdRng};

    #[test]
    fn the_receiver_gets_the_chosen_key_and_not_the_other() {
        let (mut a, mut b) = memory::pair("s", "r");
        let mut rng = StdRng::seed_from_u64(3);
        let choices: Vec<bool> = (0..64).map(|_| rng.random()).collect();
        let (pairs, got) = std::thread::scope(|s| {
            let h = s.spawn(move || send(&mut a, 64, &mut StdRng::seed_from_u64(1)));
            let got = receive(&mut b, &choices, &mut StdRng::seed_from_u64(2)).unwrap();
            (h.join().unwrap().unwrap(), got)
        });
        for ((pair, c), k) in pairs.iter().zip(&choices).zip(&got) {
            assert_eq!(pair[*c as usize], *k);
            assert_ne!(pair[!*c as usize], *k);
        }
    }

    #[test]
    fn malformed_points_are_errors() {
        let (mut a, mut b) = memory::pair("s", "r");
        std::thread::scope(|s| {
            s.spawn(move || {
                let _ = b.recv();
                b.send(&[0xff; 2 * POINT]).unwrap();
            });
            let e = send(&mut a, 2, &mut StdRng::seed_from_u64(1)).unwrap_err();
            assert!(matches!(
                e,
                OtError::BadPoint {
                    phase: Phase::BaseOt,
                    index: 0,
                    ..
                }
            ));
        });
    }
}
