//! Privacy accounting in zero-concentrated DP (Bun and Steinke, TCC 2016):
//! ρ-zCDP composes by adding ρ, and converts to (ε, δ)-DP with the bound
//! of Canonne, Kamath and Steinke (NeurIPS 2020, Corollary 13), tighter
//! than Bun–Steinke's ε = ρ + 2√(ρ ln(1/δ)):
//!
//! δ = min over α > 1 of exp((α − 1)(αρ − ε)) / (α − 1) · (1 − 1/α)^α.
//!
//! The ρ of a released coordinate block with discrete Gaussian noise
//! follows Kairouz, Liu and Steinke (ICML 2021, Proposition 14 and
//! Theorem 1 — the last of its three bounds, which is zCDP): when h
//! parties that do not collude each add N_Z(0, σ²) to a block of `dims`
//! coordinates whose L2 sensitivity is Δ,
//!
//! ρ = ½ (Δ / (√h · σ) + √dims · τ),  τ = 10 Σ_{k=1}^{h−1} exp(−2π²σ² k/(k + 1)).
//!
//! With h = 1 (τ = 0) this is the discrete Gaussian's own guarantee,
//! Δ²/(2σ²) (CKS20 Theorem 4), exactly. For the σ used here (thousands of
//! fixed-point steps and more) τ is far below 10^−300 and vanishes in
//! floating point.
//!
//! These are computations on public parameters: floating point is fine
//! here, and every search keeps the side that is valid (a larger δ, a
//! smaller ρ, a larger ε).

use std::f64::consts::PI;

/// Bisection steps: far more than f64 resolution needs.
const STEPS: usize = 400;

/// The δ for which ρ-zCDP implies (ε, δ)-DP (CKS20 Corollary 13); 1 when
/// no α helps, 0 for ρ = 0.
pub fn delta_for(rho: f64, epsilon: f64) -> f64 {
    if rho <= 0.0 {
        return 0.0;
    }
    if !(rho.is_finite() && epsilon.is_finite()) || epsilon < 0.0 {
        return 1.0;
    }
    // The bound is valid for every α > 1; bisect for the minimiser on
    // the sign of the derivative of its logarithm, keeping α away from 1
    // for numerical stability (the optimum is at least (1 + ε/ρ)/2).
    let (mut lo, mut hi) = (1.01f64, (epsilon + 1.0) / (2.0 * rho) + 2.0);
    let mut alpha = (lo + hi) / 2.0;
    for _ in 0..STEPS {
        alpha = (lo + hi) / 2.0;
        let slope = (2.0 * alpha - 1.0) * rho - epsilon + (-1.0 / alpha).ln_1p();
        if slope < 0.0 {
            lo = alpha;
        } else {
            hi = alpha;
        }
        if hi - lo <= 1e-13 * hi {
            break;
        }
    }
    let log_delta = (alpha - 1.0) * (alpha * rho - epsilon) + alpha * (-1.0 / alpha).ln_1p()
        - (alpha - 1.0).ln();
    log_delta.exp().min(1.0)
}

/// The smallest ε (to within 10^−12 relative, rounded up) such that
/// ρ-zCDP implies (ε, δ)-DP.
pub fn epsilon_for(rho: f64, delta: f64) -> f64 {
    if rho <= 0.0 || delta >= 1.0 {
        return 0.0;
    }
    let (mut lo, mut hi) = (0.0f64, rho + 2.0 * (rho * (1.0 / delta).ln()).sqrt());
    for _ in 0..STEPS {
        let mid = (lo + hi) / 2.0;
        if delta_for(rho, mid) <= delta {
            hi = mid;
        } else {
            lo = mid;
        }
        if hi - lo <= 1e-12 * hi {
            break;
        }
    }
    hi
}

/// The largest ρ such that ρ-zCDP implies (ε, δ)-DP.
pub fn rho_for(epsilon: f64, delta: f64) -> f64 {
    if !(epsilon > 0.0 && epsilon.is_finite() && delta > 0.0) {
        return 0.0;
    }
    let (mut lo, mut hi) = (0.0f64, epsilon + 1.0);
    for _ in 0..STEPS {
        let mid = (lo + hi) / 2.0;
        if delta_for(mid, epsilon) <= delta {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo <= 1e-12 * hi {
            break;
        }
    }
    lo
}

/// KLS21's τ for `honest` parties each adding N_Z(0, σ²).
pub fn kls_tau(sigma: f64, honest: usize) -> f64 {
    let s2 = sigma * sigma;
    10.0 * (1..honest)
        .map(|k| (-2.0 * PI * PI * s2 * k as f64 / (k as f64 + 1.0)).exp())
        .sum::<f64>()
}

/// The ρ of a block of `dims` coordinates with L2 sensitivity `l2` when
/// `honest` parties each add N_Z(0, σ²) to every coordinate (see the
/// module documentation).
pub fn distributed_rho(l2: f64, sigma: f64, honest: usize, dims: usize) -> f64 {
    let h = honest.max(1) as f64;
    let scale = l2 / (h.sqrt() * sigma) + (dims as f64).sqrt() * kls_tau(sigma, honest);
    0.5 * scale * scale
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversion_is_tighter_than_bun_steinke_and_round_trips() {
        for &(rho, delta) in &[(0.01, 1e-6), (0.5, 1e-5), (2.0, 1e-9)] {
            let eps = epsilon_for(rho, delta);
            let standard = rho + 2.0 * (rho * (1.0f64 / delta).ln()).sqrt();
            assert!(eps < standard, "{eps} vs {standard}");
            assert!(eps > rho, "{eps}");
            assert!(delta_for(rho, eps) <= delta * (1.0 + 1e-9));
            let back = rho_for(eps, delta);
            assert!((back - rho).abs() < 1e-6 * rho, "{back} vs {rho}");
        }
        // Known values (Steinke's cdp2adp reference code, to 1e-9).
        assert!((epsilon_for(0.5, 1e-6) - 5.221534444530).abs() < 1e-9);
        assert!((rho_for(1.0, 1e-6) - 0.024355970359538).abs() < 1e-12);
        assert_eq!(delta_for(0.0, 1.0), 0.0);
        assert_eq!(rho_for(-1.0, 1e-6), 0.0);
    }

    #[test]
    fn one_honest_party_gives_the_discrete_gaussian_bound() {
        assert_eq!(kls_tau(0.6, 1), 0.0);
        assert!((distributed_rho(2.0, 4.0, 1, 3) - 0.125).abs() < 1e-15);
        // Four parties of σ = 2 are as good as one of σ = 4, plus τ (tiny).
        let four = distributed_rho(2.0, 2.0, 4, 1);
        assert!((0.125..0.125 + 1e-15).contains(&four), "{four}");
        // At σ = 0.5 the correction is visible.
        assert!(distributed_rho(1.0, 0.5, 2, 1) > 1.0 / (2.0 * 0.5));
    }
}
