//! Joint scoring: each party's partial scores x_k·w_k (plus the intercept
//! at the label holder) are added by a secure sum to one receiver.

use super::plan;
use crate::LearnError;
use indomain_core::FixedPoint;
use indomain_mpc::sum::sum_to;
use indomain_net::PartySet;
use ndarray::ArrayView2;
use rand::{CryptoRng, Rng};

/// Scores at one party: see [`crate::vertical::predict`].
#[allow(clippy::too_many_arguments)]
pub(super) fn run<R: Rng + CryptoRng + ?Sized>(
    parties: &mut PartySet,
    receiver: usize,
    dealer: Option<usize>,
    x: ArrayView2<'_, f64>,
    weights: &[f64],
    intercept: Option<f64>,
    frac_bits: u32,
    rng: &mut R,
) -> Result<Option<Vec<f64>>, LearnError> {
    if Some(parties.me()) == dealer {
        return Ok(None);
    }
    if receiver >= parties.len() || Some(receiver) == dealer {
        return Err(LearnError::Params(
            "the receiver of the scores must be a data party of the set".into(),
        ));
    }
    if weights.len() != x.ncols() {
        return Err(LearnError::Input(format!(
            "{} weights for {} feature columns",
            weights.len(),
            x.ncols()
        )));
    }
    let fp = FixedPoint::new(frac_bits)?;
    let group = plan::computing_order(parties.len(), receiver, dealer);
    plan::agree(parties, &group, Some(x.nrows()), 0, None)?;
    let w = ndarray::ArrayView1::from(weights);
    let partial: Vec<f64> = x
        .dot(&w)
        .iter()
        .map(|v| v + intercept.unwrap_or(0.0))
        .collect();
    let encoded = fp.encode_slice(&partial)?;
    let mut group_sorted = group;
    group_sorted.sort_unstable();
    let sum = sum_to(parties, &group_sorted, receiver, &encoded, rng)?;
    Ok(sum.map(|v| fp.decode_slice(&v)))
}
