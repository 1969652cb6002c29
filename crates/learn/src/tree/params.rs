//! The hyper-parameters of a gradient-boosted tree job, agreed by every
//! party (the job hash covers them), with the ranges the secure training
//! accepts.

use crate::LearnError;
use serde::{Deserialize, Serialize};

/// The loss the trees minimise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Loss {
    /// Binary classification with labels 0/1: XGBoost's `binary:logistic`.
    Logistic,
    /// Regression: XGBoost's `reg:squarederror`.
    Squared,
}

/// Early stopping on a validation split the label holder evaluates.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TreeEarlyStopping {
    /// Share of the training rows held out (a public random choice from
    /// the seed).
    pub validation_fraction: f64,
    /// Trees without improvement of the validation loss before training
    /// stops; the model keeps the trees up to the best one.
    pub patience: usize,
}

/// Whether the parties learn which rows reach which tree node.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InstanceSpace {
    /// Node membership stays a shared 0/1 vector: no party learns it (as
    /// SS-XGB and Squirrel). The default.
    #[default]
    Hidden,
    /// SecureBoost's leakage (Cheng et al. 2019), chosen per job with
    /// `--leak-instance-space`: at every split its owner sends every other
    /// data party which of the node's rows go left, so every data party
    /// learns the rows of every node, and the dealer the sizes of the
    /// nodes whose histograms are summed; gradients, hessians and
    /// histograms stay shared. Histograms then cost a node's own rows.
    Leaked,
}

impl InstanceSpace {
    /// Whether this is the default, hidden mode.
    pub fn is_hidden(&self) -> bool {
        *self == InstanceSpace::Hidden
    }

    /// `"hidden"` or `"leaked"`, as model files and audit records name it.
    pub fn name(&self) -> &'static str {
        match self {
            InstanceSpace::Hidden => "hidden",
            InstanceSpace::Leaked => "leaked",
        }
    }
}

/// The parameters of XGBoost's `hist` method that indomain implements.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GbdtParams {
    /// Logistic or squared loss.
    pub loss: Loss,
    /// Number of trees (the most, with early stopping).
    pub trees: usize,
    /// Depth of every tree (levels of splits below the root).
    pub max_depth: usize,
    /// Shrinkage applied to every leaf weight (XGBoost's `eta`).
    pub learning_rate: f64,
    /// The smallest hessian sum a child may have.
    pub min_child_weight: f64,
    /// L2 regularisation of the leaf weights (XGBoost's `lambda`), > 0.
    pub lambda: f64,
    /// The smallest loss reduction a split must bring (XGBoost's `gamma`).
    pub gamma: f64,
    /// Share of the training rows each tree is grown on (a public random
    /// choice per tree from the seed).
    pub subsample: f64,
    /// Early stopping on a validation split.
    pub early_stopping: Option<TreeEarlyStopping>,
    /// Bins a numeric feature is cut into (quantiles), before its missing
    /// value bin.
    pub bins: usize,
    /// Fractional bits of the shared fixed-point values.
    pub frac_bits: u32,
    /// Seed of the public randomness (validation split, subsamples).
    pub seed: u64,
    /// Hidden (the default) or leaked node membership. Left out of the
    /// serialised form when hidden, so that the job hashes of hidden-mode
    /// jobs (and files written before the mode existed) stay what they
    /// were.
    #[serde(default, skip_serializing_if = "InstanceSpace::is_hidden")]
    pub instance_space: InstanceSpace,
}

impl Default for GbdtParams {
    /// XGBoost's defaults where it has them (eta 0.3, depth 6, λ 1, γ 0,
    /// min child weight 1, no subsampling), 100 trees, 32 bins.
    fn default() -> Self {
        Self {
            loss: Loss::Logistic,
            trees: 100,
            max_depth: 6,
            learning_rate: 0.3,
            min_child_weight: 1.0,
            lambda: 1.0,
            gamma: 0.0,
            subsample: 1.0,
            early_stopping: None,
            bins: 32,
            frac_bits: 16,
            seed: 0,
            instance_space: InstanceSpace::Hidden,
        }
    }
}

/// The most trees a job may grow.
pub const MAX_TREES: usize = 10_000;

/// The deepest tree: 2^10 leaves, and every level's node vectors held at
/// once.
pub const MAX_DEPTH: usize = 10;

impl GbdtParams {
    /// Refuses parameters out of range, naming them.
    pub fn check(&self) -> Result<(), LearnError> {
        let bad = |m: String| Err(LearnError::Params(m));
        if !(1..=MAX_TREES).contains(&self.trees) {
            return bad(format!("{} trees: give 1 to {MAX_TREES}", self.trees));
        }
        if !(1..=MAX_DEPTH).contains(&self.max_depth) {
            return bad(format!(
                "a depth of {}: give 1 to {MAX_DEPTH}",
                self.max_depth
            ));
        }
        if !(self.learning_rate.is_finite()
            && self.learning_rate > 0.0
            && self.learning_rate <= 1.0)
        {
            return bad(format!(
                "a learning rate of {}: give a value in (0, 1]",
                self.learning_rate
            ));
        }
        if !(self.lambda.is_finite() && (1.0 / 64.0..=1e4).contains(&self.lambda)) {
            return bad(format!(
                "lambda {}: give 1/64 to 10^4 (the secure division needs it above 0)",
                self.lambda
            ));
        }
        if !(self.min_child_weight.is_finite() && (0.0..=1e6).contains(&self.min_child_weight)) {
            return bad(format!(
                "a minimum child weight of {}: give 0 to 10^6",
                self.min_child_weight
            ));
        }
        if !(self.gamma.is_finite() && (0.0..=1e6).contains(&self.gamma)) {
            return bad(format!("gamma {}: give 0 to 10^6", self.gamma));
        }
        if !(self.subsample.is_finite() && self.subsample > 0.0 && self.subsample <= 1.0) {
            return bad(format!(
                "a subsample of {}: give a share in (0, 1]",
                self.subsample
            ));
        }
        if !(2..=1024).contains(&self.bins) {
            return bad(format!("{} bins: give 2 to 1024", self.bins));
        }
        if !(12..=20).contains(&self.frac_bits) {
            return bad(format!("{} fractional bits: give 12 to 20", self.frac_bits));
        }
        if let Some(es) = self.early_stopping
            && (!(es.validation_fraction > 0.0 && es.validation_fraction < 1.0) || es.patience == 0)
        {
            return bad(
                "early stopping needs a validation fraction in (0, 1) and patience ≥ 1".into(),
            );
        }
        Ok(())
    }

    /// The parameters as words every party compares at agreement.
    pub(crate) fn words(&self) -> Vec<u64> {
        let es = self.early_stopping;
        vec![
            matches!(self.loss, Loss::Logistic) as u64,
            self.trees as u64,
            self.max_depth as u64,
            self.learning_rate.to_bits(),
            self.min_child_weight.to_bits(),
            self.lambda.to_bits(),
            self.gamma.to_bits(),
            self.subsample.to_bits(),
            es.map_or(0, |e| e.validation_fraction.to_bits()),
            es.map_or(0, |e| e.patience as u64),
            self.bins as u64,
            self.frac_bits as u64,
            self.seed,
            self.instance_space as u64,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_pass_and_out_of_range_values_are_named() {
        assert!(GbdtParams::default().check().is_ok());
        let cases: Vec<(GbdtParams, &str)> = vec![
            (
                GbdtParams {
                    max_depth: 0,
                    ..Default::default()
                },
                "depth",
            ),
            (
                GbdtParams {
                    max_depth: 11,
                    ..Default::default()
                },
                "depth",
            ),
            (
                GbdtParams {
                    bins: 1,
                    ..Default::default()
                },
                "bins",
            ),
            (
                GbdtParams {
                    bins: 5000,
                    ..Default::default()
                },
                "bins",
            ),
            (
                GbdtParams {
                    lambda: 0.0,
                    ..Default::default()
                },
                "lambda",
            ),
            (
                GbdtParams {
                    subsample: 0.0,
                    ..Default::default()
                },
                "subsample",
            ),
            (
                GbdtParams {
                    trees: 0,
                    ..Default::default()
                },
                "trees",
            ),
            (
                GbdtParams {
                    learning_rate: 2.0,
                    ..Default::default()
                },
                "learning rate",
            ),
        ];
        for (p, word) in cases {
            let err = p.check().unwrap_err().to_string();
            assert!(err.contains(word), "{err}");
        }
    }
}
