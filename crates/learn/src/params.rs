//! Training hyper-parameters, agreed by every party of a job.

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
    /// unbounded beyond. The default: training stays where |z| is small
    /// from w = 0 on standardised features, and it costs no round.
    #[default]
    Linear,
    /// 1/2 + z/4 clamped to [0, 1]: error at most 0.1192 on the whole line,
    /// for two secure comparisons (9 rounds per 2^14 rows) and about
    /// 3.8 KB per row and party per batch.
    Clamped,
}

/// Stop when the validation loss has not improved for `patience` epochs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EarlyStopping {
    /// Fraction of the training rows the label holder keeps for validation.
    pub validation_fraction: f64,
    /// Epochs without improvement before training stops.
    pub patience: usize,
}

/// The hyper-parameters of one training job; every party must hold the
/// same values (the job hash covers them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainParams {
    /// Logistic or linear regression.
    pub task: Task,
    /// Number of passes over the training rows (the maximum, with early
    /// stopping).
    pub epochs: usize,
    /// Gradient-descent step size.
    pub learning_rate: f64,
    /// L2 regularisation strength (the intercept is not regularised).
    pub l2: f64,
    /// Rows per mini-batch; `None` for full-batch gradient descent.
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
            epochs: 20,
            learning_rate: 0.5,
            l2: 0.0,
            batch_size: None,
            early_stopping: None,
            frac_bits: 16,
            seed: 0,
            sigmoid: Sigmoid::Linear,
        }
    }
}
