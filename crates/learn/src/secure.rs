//! The secure trainer of [`crate::pipeline`]: vertical training on
//! secret-shared values with a dealer ([`crate::vertical::train`]) and
//! joint scoring by secure sum ([`crate::vertical::predict`]).

use crate::LearnError;
use crate::align::Roles;
use crate::params::TrainParams;
use crate::pipeline::{SecureTrainer, Trained};
use crate::vertical;
use indomain_net::PartySet;
use ndarray::ArrayView2;
use rand::CryptoRng;

/// Secure vertical training with a dealer.
pub struct Trainer {
    frac_bits: u32,
}

impl Trainer {
    /// A trainer whose joint scoring uses `frac_bits` fractional bits.
    pub fn new(frac_bits: u32) -> Self {
        Self { frac_bits }
    }
}

impl SecureTrainer for Trainer {
    fn train(
        &mut self,
        parties: &mut PartySet,
        roles: &Roles,
        x: ArrayView2<f64>,
        y: Option<&[f64]>,
        params: &TrainParams,
        epoch: &mut dyn FnMut(usize, Option<f64>),
        rng: &mut dyn CryptoRng,
    ) -> Result<Trained, LearnError> {
        let out = vertical::train(
            parties,
            roles,
            x,
            y,
            params,
            &mut |e, loss| epoch(e + 1, loss),
            rng,
        )?;
        Ok(Trained {
            weights: out.weights,
            intercept: out.intercept,
            loss_per_epoch: out.loss_per_epoch,
            validation_loss: out.validation_loss,
            epochs: out.epochs,
            converged: out.converged,
            kept_epoch: out.best_epoch,
            validation_scores: out.validation_scores,
            validation_labels: out.validation_labels,
        })
    }

    fn score(
        &mut self,
        parties: &mut PartySet,
        roles: &Roles,
        x: ArrayView2<f64>,
        model: &Trained,
        rng: &mut dyn CryptoRng,
    ) -> Result<Option<Vec<f64>>, LearnError> {
        joint_scores_with(parties, roles, x, model, self.frac_bits, rng)
    }
}

/// Joint scoring: each party's partial scores x·w (+ b at the label
/// holder) are summed securely and opened to the label holder only; the
/// dealer, if any, returns at once. A party without columns (left out of a
/// contribution run) adds zeros.
pub fn joint_scores(
    parties: &mut PartySet,
    roles: &Roles,
    x: ArrayView2<f64>,
    model: &Trained,
    frac_bits: u32,
) -> Result<Option<Vec<f64>>, LearnError> {
    joint_scores_with(parties, roles, x, model, frac_bits, &mut rand::rng())
}

/// [`joint_scores`] drawing its randomness from `rng`.
pub fn joint_scores_with(
    parties: &mut PartySet,
    roles: &Roles,
    x: ArrayView2<f64>,
    model: &Trained,
    frac_bits: u32,
    rng: &mut dyn CryptoRng,
) -> Result<Option<Vec<f64>>, LearnError> {
    let weights = if x.ncols() == 0 {
        &[][..]
    } else {
        &model.weights[..]
    };
    vertical::predict(
        parties,
        roles,
        roles.label,
        x,
        weights,
        model.intercept,
        frac_bits,
        rng,
    )
}
