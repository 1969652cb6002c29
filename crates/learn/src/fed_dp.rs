//! FedAvg with distributed differential privacy (DP-FedAvg, McMahan et
//! al., ICLR 2018, with the noise added by the clients before secure
//! aggregation as in Kairouz, Liu and Steinke, ICML 2021, and TensorFlow
//! Federated's distributed DP aggregator).
//!
//! Each round, each client:
//! 1. trains locally from the global model, as without DP;
//! 2. takes its update u = (local weights, intercept) − (global ones) and
//!    scales it down to L2 norm at most C, the clipping norm
//!    ([`clip_to_norm`]);
//! 3. encodes u in fixed point and adds its noise share — one
//!    N_Z(0, σ²) sample per coordinate in the encoding's units, drawn
//!    exactly ([`indomain_aggregate::dp::sampler`]) — before SecAgg+ masks
//!    it ([`indomain_aggregate::secagg::run_client_noised`]).
//!
//! The server learns the noisy sum of the survivors' clipped updates and
//! adds its mean (over the survivors, a public number) to the global
//! model. No row count is aggregated: with DP the mean is unweighted.
//!
//! Accounting: neighbouring inputs differ in one client's data (any of its
//! rows, or all of them; which clients take part is public, the server
//! sees the survivors). That moves one clipped update anywhere within the
//! ball of radius C, so the L2 sensitivity of the sum is 2C, plus √D
//! encoding steps for the rounding of the D coordinates. Every round
//! spends ρ/R of the job's ρ (zCDP composes by addition over the R
//! rounds). Each client's σ is calibrated so that the noise of the
//! **fewest survivors a round accepts** (the SecAgg threshold t), minus a
//! stated coalition of clients that might pool their noise with the
//! server, gives that ρ ([`FedDp::calibrate`]): a round with more
//! survivors only carries more noise.

use crate::LearnError;
use crate::horizontal::{FedAvgParams, GlobalModel, local_update};
use indomain_aggregate::dp::{self, Component, accounting, sampler};
use indomain_aggregate::secagg;
use indomain_core::FixedPoint;
use ndarray::ArrayView2;
use rand::{CryptoRng, Rng};
use serde::{Deserialize, Serialize};

/// The DP parameters of a FedAvg job, recorded in the model file.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FedDp {
    /// ε of the whole training (all rounds).
    pub epsilon: f64,
    /// δ of the whole training.
    pub delta: f64,
    /// The L2 norm every client's update is clipped to.
    pub clip_norm: f64,
    /// Clients that might pool their noise with the server (0 by default:
    /// the server alone is the adversary).
    pub coalition: usize,
}

/// What a FedAvg job's noise is, at the server and every client.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FedDpCalibration {
    /// Each client's σ per coordinate, in units of 2^−frac_bits.
    pub sigma: u128,
    /// Survivors whose noise the guarantee rests on (t − coalition).
    pub honest: usize,
    /// ρ spent by one round.
    pub rho_round: f64,
    /// ρ spent by the whole training (at most the budget).
    pub rho: f64,
    /// The ε the training achieves at the job's δ (at most the job's ε).
    pub epsilon: f64,
    /// The bound on each aggregated value SecAgg checks: C plus 20 σ.
    pub bound: f64,
}

impl FedDp {
    /// Checks ε, δ and the clipping norm.
    pub fn check(&self) -> Result<(), LearnError> {
        let spec = dp::DpSpec {
            delta: self.delta,
            ..dp::DpSpec::new(self.epsilon)
        };
        spec.check()
            .map_err(|e| LearnError::Params(e.to_string().replace("bad parameters: ", "")))?;
        if !(self.clip_norm.is_finite() && self.clip_norm > 0.0) {
            return Err(LearnError::Params(format!(
                "clipping norm {}: give a finite number above 0",
                self.clip_norm
            )));
        }
        Ok(())
    }

    /// The noise for `params`: σ from the budget, the rounds, the
    /// sensitivity 2C·2^f + √D and the SecAgg threshold.
    pub fn calibrate(&self, params: &FedAvgParams) -> Result<FedDpCalibration, LearnError> {
        self.check()?;
        let bad = |e: indomain_aggregate::AggregateError| LearnError::Params(e.to_string());
        let len = params.features + 1;
        // The neighbourhood, hence t, depends on the number of clients only.
        let shape = secagg::Params::new(params.clients, len, params.frac_bits, self.clip_norm)
            .map_err(bad)?;
        let threshold = shape.threshold;
        if self.coalition >= threshold {
            return Err(LearnError::Params(format!(
                "a coalition of {} clients leaves no noise of the {threshold} survivors a round needs: state at most {}",
                self.coalition,
                threshold - 1
            )));
        }
        let honest = threshold - self.coalition;
        let rounds = params.rounds.max(1) as f64;
        let budget = accounting::rho_for(self.epsilon, self.delta);
        let scale = 2f64.powi(params.frac_bits as i32);
        let component = Component {
            l2: 2.0 * self.clip_norm * scale + (len as f64).sqrt(),
            dims: len,
        };
        let calibrated =
            dp::calibrate(&[component], budget / rounds, honest, 1 << 62).map_err(bad)?;
        let sigma = calibrated.sigmas[0];
        let rho = calibrated.rho * rounds;
        Ok(FedDpCalibration {
            sigma,
            honest,
            rho_round: calibrated.rho,
            rho,
            epsilon: accounting::epsilon_for(rho, self.delta),
            bound: self.clip_norm + 20.0 * sigma as f64 / scale,
        })
    }
}

/// Scales `update` down to L2 norm `norm` if it is longer.
pub fn clip_to_norm(update: &mut [f64], norm: f64) {
    let length = update.iter().map(|v| v * v).sum::<f64>().sqrt();
    if length > norm {
        let factor = norm / length;
        update.iter_mut().for_each(|v| *v *= factor);
    }
}

/// A client's update from `global` to its local model, clipped.
pub(crate) fn clipped_update(local: &GlobalModel, global: &GlobalModel, norm: f64) -> Vec<f64> {
    let mut update: Vec<f64> = local
        .weights
        .iter()
        .zip(&global.weights)
        .map(|(l, g)| l - g)
        .chain(std::iter::once(local.intercept - global.intercept))
        .collect();
    clip_to_norm(&mut update, norm);
    update
}

/// The global model after a round: `global` plus the mean of the
/// survivors' (noisy) updates, whose sum is `sum`.
pub(crate) fn apply_mean_update(
    global: &GlobalModel,
    sum: &[f64],
    survivors: usize,
) -> GlobalModel {
    let s = survivors.max(1) as f64;
    let d = global.weights.len();
    GlobalModel {
        weights: global
            .weights
            .iter()
            .zip(sum)
            .map(|(w, u)| w + u / s)
            .collect(),
        intercept: global.intercept + sum.get(d).copied().unwrap_or(0.0) / s,
    }
}

/// One client's noise for every round: `rounds` vectors of
/// `features + 1` samples of N_Z(0, σ²).
pub fn draw_noise<R: Rng + CryptoRng + ?Sized>(
    calibration: &FedDpCalibration,
    params: &FedAvgParams,
    rng: &mut R,
) -> Vec<Vec<i64>> {
    (0..params.rounds)
        .map(|_| {
            (0..=params.features)
                .map(|_| sampler::discrete_gaussian(rng, calibration.sigma) as i64)
                .collect()
        })
        .collect()
}

/// Plaintext FedAvg with DP, the oracle: in round r, the clients in
/// `participants[r]` train locally, clip their updates, encode them as the
/// SecAgg client does and add `noise[client][r]`; the integer sum is
/// decoded as the server decodes it and its mean added to the model.
pub fn plain_fedavg_dp(
    data: &[(ArrayView2<f64>, &[f64])],
    params: &FedAvgParams,
    participants: &[Vec<usize>],
    noise: &[Vec<Vec<i64>>],
) -> Result<GlobalModel, LearnError> {
    let dp = params
        .dp
        .ok_or_else(|| LearnError::Params("the job has no DP parameters".into()))?;
    let codec = FixedPoint::new(params.frac_bits).map_err(|e| LearnError::Params(e.to_string()))?;
    let mut model = GlobalModel {
        weights: vec![0.0; params.features],
        intercept: 0.0,
    };
    for (round, members) in participants.iter().take(params.rounds).enumerate() {
        let mut sum = vec![0u64; params.features + 1];
        for &c in members {
            let (x, y) = data[c];
            let local = local_update(x, y, params, &model)?;
            let update = clipped_update(&local, &model, dp.clip_norm);
            for ((s, &u), &n) in sum.iter_mut().zip(&update).zip(&noise[c][round]) {
                let encoded = codec
                    .encode(u)
                    .map_err(|e| LearnError::Params(e.to_string()))?;
                *s = s.wrapping_add(encoded).wrapping_add(n as u64);
            }
        }
        let decoded: Vec<f64> = sum
            .iter()
            .map(|&v| (v as i64) as f64 / codec.scale())
            .collect();
        model = apply_mean_update(&model, &decoded, members.len());
    }
    Ok(model)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clipping_scales_long_updates_only() {
        let mut long = vec![3.0, 4.0];
        clip_to_norm(&mut long, 1.0);
        assert!((long[0] - 0.6).abs() < 1e-15 && (long[1] - 0.8).abs() < 1e-15);
        let mut short = vec![0.3, 0.4];
        clip_to_norm(&mut short, 1.0);
        assert_eq!(short, vec![0.3, 0.4]);
    }
}
