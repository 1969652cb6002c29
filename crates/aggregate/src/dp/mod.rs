//! Differential privacy for released sums: distributed discrete Gaussian
//! noise added inside the secret-shared sum (Kairouz, Liu and Steinke,
//! "The Distributed Discrete Gaussian Mechanism for Federated Learning
//! with Secure Aggregation", ICML 2021), sampled exactly ([`sampler`],
//! Canonne–Kamath–Steinke 2020) and accounted in zCDP ([`accounting`]).
//!
//! Each data party adds an integer noise share, in the ring units of the
//! fixed-point encoding, to its secret share of every released value
//! before anything is opened, so the opened total carries the sum of all
//! shares and no party ever sees a noiseless result. The noise is
//! calibrated ([`calibrate`]) so that the parties **outside a coalition**
//! alone give the stated guarantee: by default the coalition is every
//! data party but one ([`DpSpec::coalition`] = `None`), so each party's
//! share alone carries the full noise, and a receiver that pools the noise
//! of every other party but one, and subtracts it, still faces the noise
//! of that one. A job may state a smaller coalition c: each of n parties
//! then adds 1/(n − c) of the variance.
//!
//! Why the discrete Gaussian and not Skellam (Agarwal, Kairouz and Liu,
//! NeurIPS 2021): a Skellam share is a difference of two Poisson draws
//! whose mean is the variance — here up to 2^140 ring units² — and no
//! simple exact integer Poisson sampler exists at that size, whereas the
//! discrete Gaussian has one with a constant expected number of integer
//! coin flips at any σ. The price is that sums of discrete Gaussians are
//! not discrete Gaussian; KLS21 bound the difference (the τ term of
//! [`accounting`]), which vanishes at the σ used here, and with the
//! default coalition it does not arise at all: the guarantee rests on one
//! party's exact N_Z(0, σ²).
//!
//! What each party learns beyond the protocol without DP: nothing — its
//! own noise share, which it drew. What a receiver learns: the noisy
//! totals, which are ρ-zCDP in every row of every party (or in every
//! client's update, for FedAvg), against any coalition of the stated size.

pub mod accounting;
pub mod sampler;

use crate::AggregateError;
use serde::{Deserialize, Serialize};

/// The δ a job gets when it states none.
pub const DEFAULT_DELTA: f64 = 1e-6;

/// Clipping bounds: with DP, every value is moved into [lo, hi] before it
/// is aggregated (never refused for being outside).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Clip {
    /// The lower bound.
    pub lo: f64,
    /// The upper bound.
    pub hi: f64,
}

impl Clip {
    /// Bounds lo < hi, both finite.
    pub fn new(lo: f64, hi: f64) -> Result<Clip, AggregateError> {
        if !(lo.is_finite() && hi.is_finite() && lo < hi) {
            return Err(AggregateError::BadParameters(format!(
                "clip bounds {lo},{hi}: give finite bounds LO < HI"
            )));
        }
        Ok(Clip { lo, hi })
    }

    /// `x` moved into [lo, hi] (a NaN stays NaN, and is refused later).
    pub fn apply(&self, x: f64) -> f64 {
        x.clamp(self.lo, self.hi)
    }

    /// The largest |x| a clipped value can have.
    pub fn bound(&self) -> f64 {
        self.lo.abs().max(self.hi.abs())
    }
}

/// What a job asks of DP: the (ε, δ) of its release, the clipping bounds
/// of its values, and the coalition it must withstand. Every party must
/// hold the same value (it is part of the job agreement).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DpSpec {
    /// ε of the whole release (> 0).
    pub epsilon: f64,
    /// δ of the whole release, in (0, 1) ([`DEFAULT_DELTA`] by default).
    pub delta: f64,
    /// The clipping bounds; required wherever values are summed.
    pub clip: Option<Clip>,
    /// The most data parties whose noise a receiver may know (itself
    /// included); `None` for all data parties but one, the default.
    pub coalition: Option<usize>,
}

impl DpSpec {
    /// ε with the default δ, no clipping and the default coalition.
    pub fn new(epsilon: f64) -> DpSpec {
        DpSpec {
            epsilon,
            delta: DEFAULT_DELTA,
            clip: None,
            coalition: None,
        }
    }

    /// The same with clipping bounds.
    pub fn with_clip(self, clip: Clip) -> DpSpec {
        DpSpec {
            clip: Some(clip),
            ..self
        }
    }

    /// Checks ε, δ and the clip bounds.
    pub fn check(&self) -> Result<(), AggregateError> {
        let bad = |m: String| Err(AggregateError::BadParameters(m));
        if !(self.epsilon.is_finite() && self.epsilon > 0.0) {
            return bad(format!(
                "DP epsilon {}: give a finite number above 0",
                self.epsilon
            ));
        }
        if !(self.delta > 0.0 && self.delta < 1.0) {
            return bad(format!("DP delta {}: give a number in (0, 1)", self.delta));
        }
        if let Some(c) = self.clip {
            Clip::new(c.lo, c.hi)?;
        }
        Ok(())
    }

    /// The zCDP budget ρ that (ε, δ) allows.
    pub fn rho(&self) -> f64 {
        accounting::rho_for(self.epsilon, self.delta)
    }

    /// The parties whose noise no coalition can know, out of `parties`
    /// that each add noise.
    pub fn honest(&self, parties: usize) -> Result<usize, AggregateError> {
        let coalition = self.coalition.unwrap_or(parties.saturating_sub(1));
        if parties == 0 || coalition >= parties {
            return Err(AggregateError::BadParameters(format!(
                "a coalition of {coalition} of {parties} noise-adding parties leaves no noise it does not know: state at most {}",
                parties.saturating_sub(1)
            )));
        }
        Ok(parties - coalition)
    }
}

/// One block of released coordinates with its own noise scale: a row (or
/// a client) changes at most `dims` of its coordinates, by at most `l2` in
/// L2 norm (in integer ring units).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Component {
    /// L2 sensitivity, in ring units.
    pub l2: f64,
    /// How many coordinates one row can change.
    pub dims: usize,
}

/// Noise scales for a list of components.
#[derive(Debug, Clone, PartialEq)]
pub struct Calibrated {
    /// Each party's σ per component (integer ring units).
    pub sigmas: Vec<u128>,
    /// The ρ the components spend together (at most the budget).
    pub rho: f64,
}

/// Calibrates `components` so that together they spend at most
/// `rho_budget` when `honest` parties' noise is unknown to the adversary:
/// the budget is split evenly, each σ is rounded up to an integer (which
/// only lowers ρ) and raised further if KLS21's τ term needs it. Refuses a
/// σ above `max_sigma` (the ring's room for noise).
pub fn calibrate(
    components: &[Component],
    rho_budget: f64,
    honest: usize,
    max_sigma: u128,
) -> Result<Calibrated, AggregateError> {
    if components.is_empty() || !(rho_budget > 0.0 && rho_budget.is_finite()) {
        return Err(AggregateError::BadParameters(
            "nothing to calibrate, or no privacy budget".into(),
        ));
    }
    let share = rho_budget / components.len() as f64;
    let h = honest.max(1) as f64;
    let mut sigmas: Vec<u128> = components
        .iter()
        .map(|c| {
            let sigma = (c.l2 / (h * 2.0 * share).sqrt()).ceil().max(1.0);
            if sigma >= max_sigma as f64 {
                Err(AggregateError::BadParameters(format!(
                    "the noise this epsilon needs (σ ≈ 2^{:.0} ring units) exceeds the fixed-point range: use fewer fractional bits, tighter clip bounds or a larger epsilon",
                    sigma.log2()
                )))
            } else {
                Ok(sigma as u128)
            }
        })
        .collect::<Result<_, _>>()?;
    let spent = |sigmas: &[u128]| -> f64 {
        components
            .iter()
            .zip(sigmas)
            .map(|(c, &s)| accounting::distributed_rho(c.l2, s as f64, honest, c.dims))
            .sum()
    };
    let mut rho = spent(&sigmas);
    // τ is only visible at σ of a few units; a few steps of +1/16 settle it.
    let mut steps = 0;
    while rho > rho_budget {
        steps += 1;
        if steps > 1000 {
            return Err(AggregateError::BadParameters(
                "the noise could not be calibrated for this budget".into(),
            ));
        }
        for s in &mut sigmas {
            *s += (*s / 16).max(1);
        }
        rho = spent(&sigmas);
    }
    Ok(Calibrated { sigmas, rho })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_refuse_bad_budgets_and_bounds() {
        assert!(DpSpec::new(1.0).check().is_ok());
        for eps in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(DpSpec::new(eps).check().is_err(), "{eps}");
        }
        let spec = DpSpec {
            delta: 1.0,
            ..DpSpec::new(1.0)
        };
        assert!(spec.check().is_err());
        assert!(Clip::new(3.0, 3.0).is_err());
        assert!(Clip::new(f64::NEG_INFINITY, 3.0).is_err());
        let clip = Clip::new(-2.0, 5.0).unwrap();
        assert_eq!(
            (clip.apply(-7.0), clip.apply(9.0), clip.apply(1.5)),
            (-2.0, 5.0, 1.5)
        );
        assert_eq!(clip.bound(), 5.0);
    }

    #[test]
    fn the_default_coalition_leaves_one_party() {
        let spec = DpSpec::new(1.0);
        assert_eq!(spec.honest(3).unwrap(), 1);
        let spec = DpSpec {
            coalition: Some(1),
            ..spec
        };
        assert_eq!(spec.honest(3).unwrap(), 2);
        assert!(
            DpSpec {
                coalition: Some(3),
                ..spec
            }
            .honest(3)
            .is_err()
        );
    }

    #[test]
    fn calibration_spends_at_most_the_budget_and_splits_it_evenly() {
        let components = [
            Component { l2: 1.0, dims: 1 },
            Component {
                l2: 1000.0,
                dims: 1,
            },
        ];
        let c = calibrate(&components, 0.1, 1, 1 << 100).unwrap();
        // σ rounds up from 3.16 to 4 for the count: 1/32 + 10^6/(2·3163²).
        assert!((c.rho - 0.081227).abs() < 1e-6, "{}", c.rho);
        // σ = Δ/√(2ρ/2) = Δ·√10, rounded up.
        assert_eq!(c.sigmas, vec![4, 3163]);
        // Two honest parties each carry half the variance.
        let two = calibrate(&components, 0.1, 2, 1 << 100).unwrap();
        assert_eq!(two.sigmas, vec![3, 2237]);
        assert!(two.rho <= 0.1);
        assert!(calibrate(&components, 0.1, 1, 100).is_err());
        // A large budget at Δ = 1 needs σ of one unit, where τ matters.
        let tiny = calibrate(&[Component { l2: 1.0, dims: 1 }], 2.0, 3, 1 << 100).unwrap();
        assert!(tiny.rho <= 2.0, "{}", tiny.rho);
    }
}
