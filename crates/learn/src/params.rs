//! Training hyper-parameters, agreed by every party of a job.
//!
//! The defaults ([`TrainParams::default`]) converge: logistic regression
//! with a small L2 penalty, trained by Newton steps on each party's block
//! of the quadratic bound with momentum ([`Optimizer::BoundNewton`]), the
//! Fourier sigmoid ([`Sigmoid::Fourier`], error below 2·10^-4), and a
//! convergence test on a validation split held by the label holder
//! ([`Convergence`]); `epochs` is only a cap. Fields added since model
//! format 1 read their old meaning when a file lacks them and are left out
//! of the job hash at that value, so the hash of an older job is
//! unchanged.

use crate::LearnError;
use serde::{Deserialize, Serialize};

/// What the model predicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Task {
    /// Binary classification with labels in {0, 1}: sigmoid of a linear
    /// score, trained on the logistic loss.
    Logistic,
    /// Regression on real labels: a linear score, trained on squared error.
    Linear,
}

/// The sigmoid approximation logistic regression trains with (see
/// `indomain_mpc::sigmoid`). The model is scored with the exact σ either
/// way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Sigmoid {
    /// 1/2 + z/4, unclamped: no communication, error 0.119 on [−2, 2] and
    /// unbounded beyond; what a model file without the field was trained
    /// with. Its fixed point is not the logistic optimum.
    #[default]
    Linear,
    /// 1/2 + z/4 clamped to [0, 1]: error at most 0.1192 on the whole line,
    /// for two secure comparisons on ring elements (9 rounds per 2^14 rows)
    /// and about 3.8 KB per row and party per batch.
    Clamped,
    /// A 12-term Fourier series clamped to 0 and 1 outside [−12, 12] by
    /// packed comparisons: error below 2·10^-4 on the whole line, about
    /// 10 rounds and 110 bytes per row and party per batch (the default).
    Fourier,
}

/// How the weights move each step.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub enum Optimizer {
    /// w ← w − lr·(∇ + L2 term): SecureML's step, with `learning_rate`;
    /// what a model file without the field was trained with.
    #[default]
    GradientDescent,
    /// Newton steps on each party's block of the quadratic bound of the
    /// loss (Böhning and Lindsay 1988), with Nesterov momentum:
    /// w ← y − P·∇L(y), y = w + β_k·(w − w_prev), P the inverse of
    /// blockdiag_k(K·c·X_kᵀX_k/n + L2), c = 1/4 (logistic) or 1 (linear),
    /// K the number of parties with columns; β_k = k/(k + 3) (Nesterov's
    /// schedule) up to `momentum`, k counting steps since the last restart,
    /// restarted when a step goes uphill (∇L(y)·(w_new − w) > 0, O'Donoghue
    /// and Candès 2015). Each party computes its block of P from its own
    /// columns alone; `learning_rate` scales the step (1 is the step the
    /// bound guarantees). See docs/protocols.md.
    BoundNewton {
        /// The largest momentum, in [0, 1).
        momentum: f64,
    },
}

impl Optimizer {
    /// The default optimizer of new jobs.
    pub const DEFAULT: Optimizer = Optimizer::BoundNewton { momentum: 0.95 };

    fn is_gradient_descent(&self) -> bool {
        matches!(self, Optimizer::GradientDescent)
    }
}

/// Stop when the validation loss has not improved for `patience` epochs,
/// keeping the best epoch's weights (early stopping as regularisation).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EarlyStopping {
    /// Fraction of the training rows the label holder keeps for validation.
    pub validation_fraction: f64,
    /// Epochs without improvement before training stops.
    pub patience: usize,
}

/// Stop when training has converged, judged on a validation split at the
/// label holder: when for `patience` epochs in a row no validation row's
/// prediction (probability, or prediction in units of the labels' spread)
/// moved by more than `tolerance`, the validation loss has stopped
/// changing and training ends with the last weights — the optimum of the
/// training objective, not an early-stopped point.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Convergence {
    /// Fraction of the training rows the label holder keeps for validation.
    pub validation_fraction: f64,
    /// The largest change of a validation prediction in an epoch that
    /// counts as converged.
    pub tolerance: f64,
    /// Epochs in a row within the tolerance.
    pub patience: usize,
}

impl Default for Convergence {
    fn default() -> Self {
        Self {
            validation_fraction: 0.2,
            tolerance: 1e-4,
            patience: 2,
        }
    }
}

/// The hyper-parameters of one training job; every party must hold the
/// same values (the job hash covers them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainParams {
    /// Logistic or linear regression.
    pub task: Task,
    /// Number of passes over the training rows: the cap, with a
    /// convergence test or early stopping.
    pub epochs: usize,
    /// Gradient-descent step size, or the multiplier of the bound-Newton
    /// step.
    pub learning_rate: f64,
    /// L2 regularisation strength λ (the intercept is not regularised):
    /// the objective is mean loss + λ/2·‖w‖², scikit-learn's C = 1/(λ·n).
    pub l2: f64,
    /// Rows per mini-batch; `None` for full-batch steps.
    pub batch_size: Option<usize>,
    /// Early stopping on a validation split held by the label holder.
    pub early_stopping: Option<EarlyStopping>,
    /// Fractional bits of the fixed-point encoding of shared values (16 by
    /// default: see docs/protocols.md, "Vertical regression", for why not
    /// more).
    pub frac_bits: u32,
    /// Seed of the public randomness every party shares (mini-batch order).
    pub seed: u64,
    /// The sigmoid approximation (logistic regression only); model files
    /// written before it existed read as [`Sigmoid::Linear`].
    #[serde(default)]
    pub sigmoid: Sigmoid,
    /// The optimizer; files written before it existed read as
    /// [`Optimizer::GradientDescent`] (which is left out of the hash).
    #[serde(default, skip_serializing_if = "Optimizer::is_gradient_descent")]
    pub optimizer: Optimizer,
    /// The convergence test; files written before it existed read as
    /// `None` (left out of the hash).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub convergence: Option<Convergence>,
    /// Logistic regression: recalibrate the probabilities on the
    /// validation split (Platt or isotonic) at the label holder, which
    /// records the map in its model file; `None` (the default, left out of
    /// the hash) keeps the model's own probabilities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recalibration: Option<crate::calibration::Method>,
}

impl TrainParams {
    /// Checks the values as vertical training does before it starts (epochs
    /// at least 1, learning rate and L2 strength in range, fractional
    /// bits, batch size, early stopping), so that a job can be refused
    /// before any party accepts it.
    pub fn check(&self) -> Result<(), LearnError> {
        crate::vertical::check_params(self)
    }
}

impl Default for TrainParams {
    fn default() -> Self {
        Self {
            task: Task::Logistic,
            epochs: 300,
            learning_rate: 1.0,
            l2: 1e-3,
            batch_size: None,
            early_stopping: None,
            frac_bits: 16,
            seed: 0,
            sigmoid: Sigmoid::Fourier,
            optimizer: Optimizer::DEFAULT,
            convergence: Some(Convergence::default()),
            recalibration: None,
        }
    }
}

impl TrainParams {
    /// SecureML's training as before #18: `epochs` full-batch steps of
    /// gradient descent with `learning_rate`, σ̃ = 1/2 + z/4, no L2, no
    /// validation split.
    pub fn gradient_descent(epochs: usize, learning_rate: f64) -> Self {
        Self {
            epochs,
            learning_rate,
            l2: 0.0,
            sigmoid: Sigmoid::Linear,
            optimizer: Optimizer::GradientDescent,
            convergence: None,
            ..Self::default()
        }
    }

    /// The validation fraction of the convergence test or early stopping.
    pub fn validation_fraction(&self) -> Option<f64> {
        self.convergence
            .map(|c| c.validation_fraction)
            .or(self.early_stopping.map(|e| e.validation_fraction))
    }
}
