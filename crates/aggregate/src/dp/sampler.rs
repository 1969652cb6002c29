//! Exact samplers for the discrete Laplace and discrete Gaussian
//! distributions (Canonne, Kamath and Steinke, "The Discrete Gaussian for
//! Differential Privacy", NeurIPS 2020, Algorithms 1–3), with integer
//! arithmetic only: every random decision is a comparison of a uniform
//! integer with an integer, so the output has exactly the stated
//! distribution (floating-point sampling does not, and that breaks DP:
//! Mironov, CCS 2012).
//!
//! - [`discrete_gaussian`]`(σ)`: P[Y = y] ∝ exp(−y²/(2σ²)) over the
//!   integers, for an integer σ in 1..=[`MAX_SIGMA`];
//! - [`discrete_laplace`]`(t)`: P[X = x] ∝ exp(−|x|/t), for an integer
//!   t ≥ 1, the proposal of the Gaussian's rejection step.
//!
//! Departures from the paper's pseudo-code, each exact:
//! - the Laplace proposal has scale t = σ, not ⌊σ⌋ + 1 (σ is an integer
//!   here). The rejection step accepts y with probability
//!   exp(−(|y| − σ²/t)²/(2σ²)) for any t > 0, so with t = σ the exponent
//!   is (|y| − σ)²/(2σ²);
//! - that exponent is split, with a = ||y| − σ| = qσ + r (0 ≤ r < σ), into
//!   q²/2 + q·(r/σ) + (r/σ)²/2, and exp(−γ) of a sum is the product of
//!   independent Bernoulli trials: exp(−1/2) q² times, exp(−r/σ) q times,
//!   and exp(−(r/σ)²/2) once. Each trial needs only Bernoulli(r/σ),
//!   Bernoulli(1/2) and Bernoulli(1/K) (products of independent trials in
//!   the series of Algorithm 1), so no number exceeds 128 bits for any
//!   σ ≤ 2^100;
//! - uniform integers below n are drawn by rejection from masked random
//!   bits (exact), not by `rand`'s `random_range`, whose default
//!   single-sample method is biased by up to 2^−64.
//!
//! The only truncation: a Laplace proposal beyond 2^126 (V ≥ 2^26
//! geometric steps, probability below exp(−2^26)) is drawn again.

use rand::Rng;

/// The largest σ (in integer units) the Gaussian sampler takes.
pub const MAX_SIGMA: u128 = 1 << 100;

/// A uniform integer in `0..n` (n ≥ 1), by rejection from the smallest
/// number of random bits that covers n: exact, fewer than two draws on
/// average.
pub fn uniform_below<R: Rng + ?Sized>(rng: &mut R, n: u128) -> u128 {
    debug_assert!(n >= 1);
    if n <= 1 {
        return 0;
    }
    let bits = 128 - (n - 1).leading_zeros();
    let mask = if bits == 128 {
        u128::MAX
    } else {
        (1u128 << bits) - 1
    };
    loop {
        let draw = if bits <= 64 {
            u128::from(rng.next_u64())
        } else {
            (u128::from(rng.next_u64()) << 64) | u128::from(rng.next_u64())
        } & mask;
        if draw < n {
            return draw;
        }
    }
}

/// Bernoulli(p/q) for 0 ≤ p ≤ q, q ≥ 1.
fn bernoulli_ratio<R: Rng + ?Sized>(rng: &mut R, p: u128, q: u128) -> bool {
    uniform_below(rng, q) < p
}

/// Bernoulli(exp(−γ)) for γ = factors[0]/den · factors[1]/den · … · scale
/// in [0, 1], by Algorithm 1 of CKS20: K = 1, 2, … while a Bernoulli(γ/K)
/// trial succeeds; the result is whether K stopped odd. Bernoulli(γ/K) is
/// the product of independent trials Bernoulli(p/den) for each factor,
/// Bernoulli(1/2) if `half`, and Bernoulli(1/K).
fn bernoulli_exp_neg_product<R: Rng + ?Sized>(
    rng: &mut R,
    factors: &[u128],
    den: u128,
    half: bool,
) -> bool {
    let mut k: u128 = 1;
    loop {
        let success = factors.iter().all(|&p| bernoulli_ratio(rng, p, den))
            && (!half || rng.next_u32() & 1 == 1)
            && bernoulli_ratio(rng, 1, k);
        if !success {
            return k % 2 == 1;
        }
        k += 1;
    }
}

/// Bernoulli(exp(−1)).
fn bernoulli_exp_neg_one<R: Rng + ?Sized>(rng: &mut R) -> bool {
    bernoulli_exp_neg_product(rng, &[], 1, false)
}

/// Bernoulli(exp(−1/2)).
fn bernoulli_exp_neg_half<R: Rng + ?Sized>(rng: &mut R) -> bool {
    bernoulli_exp_neg_product(rng, &[], 1, true)
}

/// A discrete Laplace sample with integer scale t ≥ 1: P[X = x] ∝
/// exp(−|x|/t) (CKS20 Algorithm 2 with s = 1). `None` only for a proposal
/// beyond 2^126 (see the module documentation); the caller draws again.
fn laplace_once<R: Rng + ?Sized>(rng: &mut R, t: u128) -> Option<i128> {
    loop {
        let u = uniform_below(rng, t);
        // Accept u with probability exp(−u/t).
        if !bernoulli_exp_neg_product(rng, &[u], t, false) {
            continue;
        }
        let mut v: u128 = 0;
        while bernoulli_exp_neg_one(rng) {
            v += 1;
        }
        let x = t.checked_mul(v).and_then(|tv| tv.checked_add(u))?;
        if x >= 1 << 126 {
            return None;
        }
        let negative = rng.next_u32() & 1 == 1;
        if negative && x == 0 {
            continue;
        }
        let x = x as i128;
        return Some(if negative { -x } else { x });
    }
}

/// A discrete Laplace sample with integer scale t ≥ 1 (t ≤ [`MAX_SIGMA`]):
/// P[X = x] = (e^{1/t} − 1)/(e^{1/t} + 1) · exp(−|x|/t).
pub fn discrete_laplace<R: Rng + ?Sized>(rng: &mut R, t: u128) -> i128 {
    let t = t.clamp(1, MAX_SIGMA);
    loop {
        if let Some(x) = laplace_once(rng, t) {
            return x;
        }
    }
}

/// A discrete Gaussian sample N_Z(0, σ²) for an integer σ in
/// 1..=[`MAX_SIGMA`] (clamped to that range): P[Y = y] ∝ exp(−y²/(2σ²)).
pub fn discrete_gaussian<R: Rng + ?Sized>(rng: &mut R, sigma: u128) -> i128 {
    let sigma = sigma.clamp(1, MAX_SIGMA);
    loop {
        let Some(y) = laplace_once(rng, sigma) else {
            continue;
        };
        // Accept with probability exp(−(|y| − σ)²/(2σ²)), where
        // ||y| − σ| = qσ + r: exp(−q²/2) · exp(−r/σ)^q · exp(−(r/σ)²/2).
        let a = y.unsigned_abs().abs_diff(sigma);
        let (q, r) = (a / sigma, a % sigma);
        let accepted = accept_whole(rng, q)
            && (0..q).all(|_| bernoulli_exp_neg_product(rng, &[r], sigma, false))
            && bernoulli_exp_neg_product(rng, &[r, r], sigma, true);
        if accepted {
            return y;
        }
    }
}

/// Bernoulli(exp(−q²/2)) as q² trials of Bernoulli(exp(−1/2)); the first
/// failure ends it, so it takes fewer than three trials on average.
fn accept_whole<R: Rng + ?Sized>(rng: &mut R, q: u128) -> bool {
    let Some(trials) = q.checked_mul(q) else {
        // q ≥ 2^64: the acceptance probability is below exp(−2^127).
        return false;
    };
    let mut done = 0u128;
    while done < trials {
        if !bernoulli_exp_neg_half(rng) {
            return false;
        }
        done += 1;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn uniform_integers_cover_their_range_evenly() {
        let mut rng = StdRng::seed_from_u64(1);
        let mut counts = [0u32; 5];
        for _ in 0..50_000 {
            counts[uniform_below(&mut rng, 5) as usize] += 1;
        }
        for c in counts {
            assert!((9_500..10_500).contains(&c), "{counts:?}");
        }
        assert_eq!(uniform_below(&mut rng, 1), 0);
        let big = (1u128 << 127) + 3;
        assert!((0..100).all(|_| uniform_below(&mut rng, big) < big));
    }

    #[test]
    fn exp_neg_trials_have_their_probabilities() {
        let mut rng = StdRng::seed_from_u64(2);
        let n = 200_000;
        let rate = |hits: usize| hits as f64 / n as f64;
        let one = (0..n).filter(|_| bernoulli_exp_neg_one(&mut rng)).count();
        let half = (0..n).filter(|_| bernoulli_exp_neg_half(&mut rng)).count();
        let third = (0..n)
            .filter(|_| bernoulli_exp_neg_product(&mut rng, &[1], 3, false))
            .count();
        // Standard error ≈ 0.0011: allow 5 of them.
        assert!((rate(one) - (-1f64).exp()).abs() < 0.0055, "{}", rate(one));
        assert!((rate(half) - (-0.5f64).exp()).abs() < 0.0055);
        assert!((rate(third) - (-1.0f64 / 3.0).exp()).abs() < 0.0055);
        // q = 2: exp(−2).
        let whole = (0..n).filter(|_| accept_whole(&mut rng, 2)).count();
        assert!((rate(whole) - (-2f64).exp()).abs() < 0.004);
    }
}
