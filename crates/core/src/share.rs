//! n-party additive secret sharing over Z_2^64.
//!
//! A secret vector x is split into shares x_0 … x_{n−1} with Σ x_i = x.
//! Any n−1 shares are uniformly random and say nothing about x.
//!
//! With seed compression (SecureML; ABY) the owner draws a 128-bit seed for
//! every other party, whose share is the AES-CTR expansion of that seed, and
//! keeps x − Σ PRG(seed_j) itself: sharing a vector among n parties costs one
//! 16-byte seed per other party instead of one vector each.

use crate::prg::{self, Seed};
use crate::{CoreError, ring};
use rand::{CryptoRng, Rng};

/// A sharing in which every share but the owner's is a seed.
#[derive(Debug, Clone)]
pub struct SeededSharing {
    /// The owner's explicit share: x − Σ_j PRG(seed_j).
    pub own: Vec<u64>,
    /// One seed for each other party, in the caller's order.
    pub seeds: Vec<Seed>,
}

/// Splits `secret` into an explicit share for its owner and `others` seeds.
pub fn share_seeded<R: Rng + CryptoRng + ?Sized>(
    secret: &[u64],
    others: usize,
    rng: &mut R,
) -> SeededSharing {
    let mut own = secret.to_vec();
    let seeds = share_seeded_in_place(&mut own, others, rng);
    SeededSharing { own, seeds }
}

/// Turns `secret` into its owner's share, in place, and returns one seed
/// for each of `others` parties: no allocation for large vectors.
pub fn share_seeded_in_place<R: Rng + CryptoRng + ?Sized>(
    secret: &mut [u64],
    others: usize,
    rng: &mut R,
) -> Vec<Seed> {
    let seeds: Vec<Seed> = (0..others).map(|_| Seed::random(rng)).collect();
    for seed in &seeds {
        prg::sub_expansion(secret, seed);
    }
    seeds
}

/// The share a party holds when it was handed `seed` for a vector of `len`.
pub fn share_from_seed(seed: &Seed, len: usize) -> Vec<u64> {
    prg::expand(seed, len)
}

/// Overwrites `out` with the share a party holds when it was handed `seed`
/// for a vector of `out.len()`.
pub fn share_from_seed_into(seed: &Seed, out: &mut [u64]) {
    prg::expand_into(seed, out);
}

/// Splits `secret` into `n` explicit shares (n ≥ 2).
pub fn share<R: Rng + CryptoRng + ?Sized>(
    secret: &[u64],
    n: usize,
    rng: &mut R,
) -> Result<Vec<Vec<u64>>, CoreError> {
    if n < 2 {
        return Err(CoreError::TooFewParties { min: 2, got: n });
    }
    let SeededSharing { own, seeds } = share_seeded(secret, n - 1, rng);
    let mut shares = Vec::with_capacity(n);
    shares.push(own);
    shares.extend(seeds.iter().map(|s| share_from_seed(s, secret.len())));
    Ok(shares)
}

/// Adds up all shares of a vector.
pub fn reconstruct(shares: &[&[u64]]) -> Result<Vec<u64>, CoreError> {
    ring::sum_all(shares)
}

/// Adds the other shares into `own`, which then holds the secret.
pub fn reconstruct_into(own: &mut [u64], others: &[&[u64]]) -> Result<(), CoreError> {
    for share in others {
        ring::add_assign(own, share)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn seeded_sharing_reconstructs() {
        let mut rng = StdRng::seed_from_u64(1);
        let secret: Vec<u64> = (0..1000).map(|i| i * 7919).collect();
        let s = share_seeded(&secret, 2, &mut rng);
        let a = share_from_seed(&s.seeds[0], secret.len());
        let b = share_from_seed(&s.seeds[1], secret.len());
        assert_ne!(s.own, secret);
        assert_eq!(reconstruct(&[&s.own, &a, &b]).unwrap(), secret);
    }

    #[test]
    fn in_place_sharing_reconstructs_in_place() {
        let mut rng = StdRng::seed_from_u64(2);
        let secret: Vec<u64> = (0..100_000).map(|i| i * 31).collect();
        let mut own = secret.clone();
        let seeds = share_seeded_in_place(&mut own, 2, &mut rng);
        assert_ne!(own, secret);
        let mut others = vec![vec![0u64; secret.len()]; 2];
        for (out, seed) in others.iter_mut().zip(&seeds) {
            share_from_seed_into(seed, out);
        }
        let refs: Vec<&[u64]> = others.iter().map(Vec::as_slice).collect();
        reconstruct_into(&mut own, &refs).unwrap();
        assert_eq!(own, secret);
        assert!(reconstruct_into(&mut own, &[&[1, 2]]).is_err());
    }

    #[test]
    fn one_party_is_refused() {
        let mut rng = StdRng::seed_from_u64(1);
        assert!(matches!(
            share(&[1, 2], 1, &mut rng),
            Err(CoreError::TooFewParties { .. })
        ));
    }
}
