//! Vertical logistic and linear regression on secret-shared values
//! (SecureML-style), and joint scoring.
//!
//! **Parties.** One label holder (labels y and its own feature columns),
//! 1 to 4 feature holders, and a dealer of correlated randomness that
//! holds no data and sees no shares (it must not collude with any other
//! party: docs/threat-model.md). All are parties of one
//! [`PartySet`]; rows are already aligned (PSI join) and standardised by
//! each party. The computing parties are ranked label holder first, then
//! the feature holders in set order; the label holder is the mpc layer's
//! leader.
//!
//! **Training** ([`train`]). Each party's column block X_k (the label
//! holder's with a column of ones for the intercept) is opened once under a
//! mask only it knows (`indomain_mpc::matrix`). The weights w are shared,
//! starting at 0. Each step on a batch, per chunk of at most 2^16 rows:
//! z = X·w (one opening of w − V), err = σ̃(z) − y (logistic, σ̃(z) = 1/2 +
//! z/4: `indomain_mpc::sigmoid`; with [`crate::Sigmoid::Clamped`] the same
//! line clamped to [0, 1] by two secure comparisons, `indomain_mpc::compare`)
//! or z − y (linear), y subtracted by the
//! label holder; g = Xᵀ·err (one opening of err − V′), truncated; then
//! w ← w − lr·(g/rows + l2·w), the intercept not regularised. Σ err² comes
//! from the same opening of err − V′ (the dealer adds shares of ‖V′‖²) and
//! is opened to the label holder only, as the epoch's training loss. Full batch, or mini-batches of consecutive
//! training rows visited in a public order drawn from the seed.
//!
//! **Early stopping.** A public random ⌈fraction·rows⌉ rows (from the
//! seed) are held out; after each epoch their scores X_val·w are opened to
//! the label holder, which computes the validation loss and tells the
//! others whether to stop; training ends with the weights of the best
//! epoch.
//!
//! **What each party learns.** Every computing party: the row count, every
//! party's column count, the parameters, and masked values (uniformly
//! random). The label holder also learns, per epoch, the training loss (one
//! number) and, with early stopping, the scores of the validation rows
//! under the current weights — linear combinations of the other parties'
//! features on those rows with weights it does not know; it needs them to
//! stop early and they are what the model reveals on those rows anyway.
//! At the end each party learns the weights of its own columns (the label
//! holder also the intercept), and nothing of the others' weights. The
//! dealer learns shapes only.
//!
//! **Scoring** ([`predict`]). Each party computes x_k·w_k locally (the
//! label holder adds the intercept); a secure sum (`indomain_mpc::sum`)
//! gives the receiver the total scores and no party any partial score.
//!
//! **Accuracy.** Values are fixed-point with f fractional bits (16 by
//! default); features must be within ±1024 (the bounded encoder refuses
//! others). The secure weights follow plaintext gradient descent with the
//! same σ̃, rows and order up to the rounding of encodings and truncations
//! (about 2^-f per step) and the truncation failure bound of
//! docs/protocols.md.
//!
//! **Which sigmoid, which plaintext reference.** Logistic training never
//! evaluates the exact σ: its gradient uses σ̃(z) = 1/2 + z/4
//! ([`crate::Sigmoid::Linear`], the default of [`TrainParams`]) or that
//! line clamped to [0, 1] ([`crate::Sigmoid::Clamped`]). The plaintext
//! computation it matches is [`crate::plain::train_with`] with
//! `indomain_mpc::sigmoid::sigmoid_approx` (or `sigmoid_clamped`), on the
//! parties' columns joined label holder first, then the feature holders in
//! set order. [`crate::plain::train`] descends with the exact σ and ends
//! elsewhere: after the same epochs its weights can differ by tens of
//! percent. Scores, losses on held-out rows and metrics use the exact σ.

mod plan;
mod predict;
mod train;

pub(crate) use plan::check_params;
pub use plan::{FEATURE_BOUND, batch_order, batches, validation_split};

use crate::LearnError;
use crate::align::Roles;
use crate::params::TrainParams;
use indomain_net::PartySet;
use ndarray::ArrayView2;
use rand::{CryptoRng, Rng};

/// What one party ends training with.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TrainOutcome {
    /// The weights of this party's own feature columns, in column order
    /// (empty at the dealer).
    pub weights: Vec<f64>,
    /// The intercept, at the label holder only.
    pub intercept: Option<f64>,
    /// The training loss of each epoch, at the label holder only (half the
    /// mean squared error, or the Taylor logistic loss of the weights each
    /// epoch started from).
    pub loss_per_epoch: Vec<f64>,
    /// The validation loss after each epoch, at the label holder, with
    /// early stopping.
    pub validation_loss: Vec<f64>,
    /// Epochs run (fewer than asked when early stopping ended training;
    /// 0 at the dealer).
    pub epochs: usize,
    /// The epoch whose weights were kept (1-based).
    pub best_epoch: usize,
}

/// Trains a vertical model; every party of `parties` calls it.
///
/// - `roles`: who holds the labels, who holds features and who deals, by
///   set index ([`Roles::new`]); every party of the set has one role.
///   With `roles.dealer` of `None` and one feature holder, the two data
///   parties generate the correlations themselves
///   (`indomain_mpc::TwoParty`, correlated OT); more feature holders
///   without a dealer are refused with [`LearnError::Params`].
/// - `x`: this party's standardised feature columns, rows aligned across
///   parties (rows × own columns; ignored at the dealer). A party that
///   takes part without columns may pass an empty matrix of any shape with
///   zero columns: it takes the others' row count.
/// - `y`: the labels, at the label holder only (0/1 for logistic).
/// - `on_epoch(epoch, loss)`: called after every epoch, with the training
///   loss at the label holder and `None` elsewhere.
pub fn train<R: Rng + CryptoRng + ?Sized>(
    parties: &mut PartySet,
    roles: &Roles,
    x: ArrayView2<'_, f64>,
    y: Option<&[f64]>,
    params: &TrainParams,
    on_epoch: &mut dyn FnMut(usize, Option<f64>),
    rng: &mut R,
) -> Result<TrainOutcome, LearnError> {
    roles.check(parties.len())?;
    train::run(
        parties,
        roles.label,
        roles.dealer,
        x,
        y,
        params,
        on_epoch,
        rng,
    )
}

/// Scores rows jointly: returns the linear scores x·w + b (before any
/// link function) at `receiver` (the set index of a data party) and
/// `None` at every other party. Every party of `roles` but the dealer
/// (which returns at once) passes its own columns of the same rows and
/// its own weights; the label holder passes the intercept. Needs no
/// dealer: `roles.dealer` may be `None`.
#[allow(clippy::too_many_arguments)]
pub fn predict<R: Rng + CryptoRng + ?Sized>(
    parties: &mut PartySet,
    roles: &Roles,
    receiver: usize,
    x: ArrayView2<'_, f64>,
    weights: &[f64],
    intercept: Option<f64>,
    frac_bits: u32,
    rng: &mut R,
) -> Result<Option<Vec<f64>>, LearnError> {
    roles.check(parties.len())?;
    predict::run(
        parties,
        receiver,
        roles.dealer,
        x,
        weights,
        intercept,
        frac_bits,
        rng,
    )
}

/// Mean log-loss of linear scores `z` against 0/1 labels, with the exact
/// sigmoid (probabilities clipped to [1e-15, 1 − 1e-15]).
fn log_loss(z: &[f64], y: &[f64]) -> f64 {
    let eps = 1e-15;
    let sum: f64 = z
        .iter()
        .zip(y)
        .map(|(&z, &y)| {
            let p = (1.0 / (1.0 + (-z).exp())).clamp(eps, 1.0 - eps);
            -(y * p.ln() + (1.0 - y) * (1.0 - p).ln())
        })
        .sum();
    sum / y.len().max(1) as f64
}
