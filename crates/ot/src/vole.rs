//! Random VOLE over GF(2^128) by silent expansion: the sender gets Δ and
//! B, the receiver A and C with C = B + A·Δ, for vectors of any length m,
//! at a communication cost that grows only with log m.
//!
//! 1. 128 base OTs and IKNP give t·(128 + d) correlated OTs under Δ.
//! 2. 128 of them per tree make one base VOLE z = y + β·Δ (Gilboa: the
//!    receiver's choice bits are the bits of β, and z = Σ t_j·X^j).
//! 3. t punctured GGM trees of 2^d leaves give w = v + u·Δ with u sparse:
//!    β_k at one random point α_k of tree k (regular noise).
//! 4. Both sides compress with the expand-convolute dual encoder: A = H·u,
//!    B = H·v, C = H·w; A is pseudo-random under dual LPN.
//!
//! The noise weight t = 256 follows libOTe's rule for this code
//! (t ≥ −λ / log2(1 − 2·0.15) = 249 for λ = 128, rounded up to a multiple
//! of 8) and the length is at least 2m (code rate 1/2).

use crate::OtError;
use crate::pprf::{self, Shape};
use crate::{code, gf128, iknp};
use indomain_net::Channel;
use rand::{CryptoRng, RngExt};

/// Noise weight: the number of GGM trees at least.
const NOISE_WEIGHT: usize = 256;

/// The trees for a VOLE of length `m`: t ≥ 256 trees of 2^d leaves with
/// t·2^d ≥ 2m.
pub fn shape(m: usize) -> Shape {
    let want = (2 * m).max(2 * NOISE_WEIGHT);
    let depth = (want / NOISE_WEIGHT).ilog2() as usize;
    let trees = want.div_ceil(1 << depth).max(NOISE_WEIGHT);
    Shape { trees, depth }
}

/// The sender's side: returns (Δ, B) with B of length `m`.
pub fn send<C, R>(ch: &mut C, m: usize, rng: &mut R) -> Result<(u128, Vec<u128>), OtError>
where
    C: Channel + ?Sized,
    R: CryptoRng + ?Sized,
{
    let shape = shape(m);
    let delta: u128 = rng.random();
    let q = iknp::send(ch, delta, shape.trees * (128 + shape.depth), rng)?;
    let (base, tree_ots) = q.split_at(shape.trees * 128);
    let y: Vec<u128> = base.chunks_exact(128).map(gilboa).collect();
    let mut v = pprf::send(ch, shape, delta, tree_ots, &y, rng)?;
    compress(&mut v, m);
    Ok((delta, v))
}

/// The receiver's side: returns (A, C) with both of length `m`.
pub fn receive<C, R>(ch: &mut C, m: usize, rng: &mut R) -> Result<(Vec<u128>, Vec<u128>), OtError>
where
    C: Channel + ?Sized,
    R: CryptoRng + ?Sized,
{
    let shape = shape(m);
    let alpha: Vec<usize> = (0..shape.trees)
        .map(|_| rng.random_range(0..shape.leaves()))
        .collect();
    let beta: Vec<u128> = (0..shape.trees)
        .map(|_| rng.random::<u128>().max(1))
        .collect();
    let mut choices = Vec::with_capacity(shape.trees * (128 + shape.depth));
    for b in &beta {
        choices.extend((0..128).map(|j| (b >> j) & 1 == 1));
    }
    for a in &alpha {
        choices.extend((0..shape.depth).map(|l| (a >> (shape.depth - 1 - l)) & 1 == 0));
    }
    let t = iknp::receive(ch, &choices, rng)?;
    let (base, tree_ots) = t.split_at(shape.trees * 128);
    let z: Vec<u128> = base.chunks_exact(128).map(gilboa).collect();
    let mut w = pprf::receive(ch, shape, &alpha, tree_ots, &z)?;
    let len = w.len();
    compress(&mut w, m);
    // u after w is compressed: the peak is three vectors of length m, not four.
    let mut u = vec![0u128; len];
    for (k, (a, b)) in alpha.iter().zip(&beta).enumerate() {
        u[k * shape.leaves() + a] = *b;
    }
    compress(&mut u, m);
    Ok((u, w))
}

/// The code's output, keeping only its `m` entries' memory.
fn compress(v: &mut Vec<u128>, m: usize) {
    code::dual_encode(v, m);
    v.truncate(m);
    v.shrink_to_fit();
}

/// Σ_j c_j·X^j over 128 correlated OTs: with c_j = q_j + b_j·Δ this is
/// y + β·Δ for β the integer with bits b_j.
fn gilboa(c: &[u128]) -> u128 {
    c.iter()
        .enumerate()
        .fold(0, |acc, (j, &c)| acc ^ gf128::mul(c, 1 << j))
}

#[cfg(test)]
mod tests {
    use super::*;
    use indomain_net::memory;
    use rand::{SeedableRng, rngs::StdRng};

    #[test]
    fn shapes_cover_twice_the_length() {
        for m in [1, 100, 1000, 5000, 1 << 16, 1_300_000] {
            let s = shape(m);
            assert!(
                s.trees >= NOISE_WEIGHT && s.trees * s.leaves() >= 2 * m,
                "{m}"
            );
            assert!(s.trees * s.leaves() < 4 * m + 4 * NOISE_WEIGHT, "{m}");
        }
    }

    #[test]
    fn vole_correlation_holds() {
        let (mut a, mut b) = memory::pair("s", "r");
        let m = 3000;
        let ((delta, bb), (aa, cc)) = std::thread::scope(|s| {
            let h = s.spawn(move || send(&mut a, m, &mut StdRng::seed_from_u64(1)));
            let r = receive(&mut b, m, &mut StdRng::seed_from_u64(2)).unwrap();
            (h.join().unwrap().unwrap(), r)
        });
        assert_eq!((bb.len(), aa.len(), cc.len()), (m, m, m));
        for i in 0..m {
            assert_eq!(cc[i], bb[i] ^ gf128::mul(aa[i], delta), "entry {i}");
        }
        // A is dense, not the sparse noise.
        assert!(aa.iter().filter(|&&x| x == 0).count() < m / 100);
    }
}
