//! Training hyper-parameters, agreed by every party of a job.

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
        }
    }
}
