//! The secure trainer of [`crate::pipeline`]: vertical training and joint
//! scoring on secret-shared values (`crate::vertical`).

use crate::LearnError;
use crate::align::Roles;
use crate::params::TrainParams;
use crate::pipeline::{SecureTrainer, Trained};
use crate::plain;
use indomain_aggregate::sum::secure_sum;
use indomain_core::FixedPoint;
use indomain_net::PartySet;
use ndarray::ArrayView2;

/// Secure vertical training with a dealer.
pub struct Trainer {
    frac_bits: u32,
}

impl Trainer {
    /// A trainer with `frac_bits` fractional bits.
    pub fn new(frac_bits: u32) -> Self {
        Self { frac_bits }
    }

    fn unavailable(&self) -> LearnError {
        LearnError::Params(format!(
            "secure vertical training ({} fractional bits) is not in this build yet",
            self.frac_bits
        ))
    }
}

impl SecureTrainer for Trainer {
    fn train(
        &mut self,
        _parties: &mut PartySet,
        _roles: &Roles,
        _x: ArrayView2<f64>,
        _y: Option<&[f64]>,
        _params: &TrainParams,
        _epoch: &mut dyn FnMut(usize, Option<f64>),
    ) -> Result<Trained, LearnError> {
        Err(self.unavailable())
    }

    /// Each party's partial scores x·w (+ b at the label holder) are
    /// summed by the secure sum of `indomain-aggregate` opened to the label
    /// holder only: no party sees another's partial scores, the label
    /// holder learns their sums.
    fn score(
        &mut self,
        parties: &mut PartySet,
        roles: &Roles,
        x: ArrayView2<f64>,
        model: &Trained,
    ) -> Result<Option<Vec<f64>>, LearnError> {
        joint_scores(parties, roles, x, model, self.frac_bits)
    }
}

/// Joint scoring: see [`Trainer::score`]. `x` has no columns at a party
/// without weights (the dealer).
pub fn joint_scores(
    parties: &mut PartySet,
    roles: &Roles,
    x: ArrayView2<f64>,
    model: &Trained,
    frac_bits: u32,
) -> Result<Option<Vec<f64>>, LearnError> {
    let fp = FixedPoint::new(frac_bits)?;
    let weights = if x.ncols() == 0 {
        &[][..]
    } else {
        &model.weights[..]
    };
    if weights.len() != x.ncols() {
        return Err(LearnError::Params(format!(
            "{} weights for {} columns",
            model.weights.len(),
            x.ncols()
        )));
    }
    let partial = plain::scores(x, weights, model.intercept.unwrap_or(0.0));
    let encoded = fp.encode_slice(&partial)?;
    let sum = secure_sum(parties, &encoded, &[roles.label], &mut rand::rng())
        .map_err(LearnError::Scoring)?;
    Ok(sum.map(|s| fp.decode_slice(&s)))
}
