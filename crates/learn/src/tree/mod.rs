//! Vertical gradient-boosted trees: XGBoost's `hist` method between one
//! label holder and 1 to 4 feature holders, on secret-shared values, with
//! the instance space hidden.
//!
//! **Parties.** The label holder (labels, and optionally features), 1 to
//! 4 feature holders, and a dealer of correlated randomness that holds no
//! data and sees no shares (it must collude with no other party:
//! docs/threat-model.md) — or, with one feature holder, no dealer: the
//! two data parties generate the correlated randomness themselves
//! (`indomain_mpc::TwoParty`). Rows are aligned (PSI join) and every party has
//! binned its own features locally ([`crate::binning`]): each feature is
//! a bin index per row, value bins in order and possibly a last bin for
//! missing values ([`BinnedFeatures`]).
//!
//! **Training** ([`train`], see `train.rs` for the protocol step by
//! step). Second-order boosting: per tree, gradients g and hessians h of
//! the loss at the current scores (logistic or squared), level-wise growth
//! to a fixed depth, per node the histogram of g and h over every party's
//! bins (`indomain_mpc::bins`), the best split by the XGBoost gain
//! G_L²/(H_L + λ) + G_R²/(H_R + λ) − G²/(H + λ) among candidates whose
//! children have hessian sums ≥ min_child_weight, a split if its gain
//! exceeds γ, leaf weights −η·G/(H + λ). Scores, g, h and **node
//! membership stay secret-shared**: node membership is a shared 0/1
//! vector, so no party learns which rows reach which node. Only if a job
//! chooses it ([`InstanceSpace::Leaked`], `--leak-instance-space`:
//! SecureBoost's leakage, `leaked.rs`) does each split's owner send the
//! other data parties which of the node's rows go left: then every data
//! party learns the rows of every node, and the dealer the node sizes;
//! everything else below is unchanged.
//!
//! **What each party learns.** Every party: the parameters, the row count,
//! every party's number of features and bins per feature (shapes), and for
//! every split the winning (party, feature, bin, direction of missing
//! values) — the tree structure every model file holds — and whether each
//! node splits. The owner of a split knows its threshold in feature units
//! (its own bin edges). The label holder learns, per tree with early
//! stopping, the scores of the validation rows (as in vertical regression),
//! and at the end the leaf weights. Each split's gain is opened to the
//! split's owner only (feature importance). Nothing else: every value sent
//! is masked (bin sums, Beaver products, comparisons, exact truncations:
//! see docs/protocols.md, "Vertical gradient-boosted trees"). The dealer
//! learns the shapes only; without one, each party receives only the
//! pseudo-random messages of the OTs (docs/protocols.md, "Two parties
//! without a dealer").
//!
//! **Scoring** ([`score`]): each party evaluates its own splits on its own
//! rows; the leaf reached is combined by secure products so that only the
//! label holder learns the scores, and no party any other's path bits.
//!
//! [`plain`] is the plaintext reference with the same candidates, order
//! and ties, against which the secure training is tested.

mod agree;
mod argmax;
mod candidates;
pub mod forest;
mod grow;
mod leaked;
pub mod model;
pub mod params;
pub mod pipeline;
pub mod plain;
mod score;
mod split;
mod train;

pub use candidates::{candidates, left_sums};
pub use forest::{FeatureShape, Node, Threshold, Tree};
pub use params::{GbdtParams, InstanceSpace, Loss, TreeEarlyStopping};
pub use score::score;
pub use train::{Progress, TreeOutcome, train};

use crate::LearnError;
use crate::binning::Binned;
use indomain_core::prg::{Prg, Seed};
use ndarray::{Array2, Axis};

/// One party's binned features: a bin index per row and feature, and each
/// feature's shape.
#[derive(Debug, Clone, PartialEq)]
pub struct BinnedFeatures {
    /// Rows × features.
    pub indices: Array2<u16>,
    /// One shape per feature.
    pub shapes: Vec<FeatureShape>,
}

impl BinnedFeatures {
    /// Checks that every index is below its feature's bins and that a
    /// feature with a missing-value bin has a value bin too.
    pub fn new(indices: Array2<u16>, shapes: Vec<FeatureShape>) -> Result<Self, LearnError> {
        if indices.ncols() != shapes.len() {
            return Err(LearnError::Input(format!(
                "{} columns of bin indices for {} features",
                indices.ncols(),
                shapes.len()
            )));
        }
        for (f, s) in shapes.iter().enumerate() {
            if s.bins == 0 || s.value_bins() == 0 {
                return Err(LearnError::Input(format!("feature {f} has no value bin")));
            }
            if let Some(i) = indices.column(f).iter().position(|&b| b >= s.bins) {
                return Err(LearnError::Input(format!(
                    "row {i}, feature {f}: bin {} of {}",
                    indices[[i, f]],
                    s.bins
                )));
            }
        }
        Ok(Self { indices, shapes })
    }

    /// Where each feature's bins start in the flat list of all this
    /// party's bins (features in order), and the total number of bins.
    pub fn bin_offsets(&self) -> (Vec<usize>, usize) {
        let mut total = 0;
        let offsets = self
            .shapes
            .iter()
            .map(|s| {
                let start = total;
                total += s.bins as usize;
                start
            })
            .collect();
        (offsets, total)
    }

    /// A party without features, over `rows` rows.
    pub fn empty(rows: usize) -> Self {
        Self {
            indices: Array2::zeros((rows, 0)),
            shapes: Vec::new(),
        }
    }

    /// From a party's binned columns ([`crate::binning::bin_table`]).
    pub fn from_binned(binned: &[Binned], rows: usize) -> Result<Self, LearnError> {
        let mut indices = Array2::zeros((rows, binned.len()));
        let mut shapes = Vec::with_capacity(binned.len());
        for (f, b) in binned.iter().enumerate() {
            if b.index.len() != rows {
                return Err(LearnError::Input(format!(
                    "feature {}: {} bin indices for {rows} rows",
                    b.bins.name,
                    b.index.len()
                )));
            }
            let bins = u16::try_from(b.bins.bins()).map_err(|_| {
                LearnError::Input(format!("feature {}: too many bins", b.bins.name))
            })?;
            for (i, v) in b.index.to_vec().into_iter().enumerate() {
                indices[[i, f]] = v;
            }
            shapes.push(FeatureShape {
                bins,
                missing: b.bins.missing,
            });
        }
        Self::new(indices, shapes)
    }

    /// Rows.
    pub fn rows(&self) -> usize {
        self.indices.nrows()
    }

    /// Features.
    pub fn features(&self) -> usize {
        self.shapes.len()
    }

    /// The rows at `rows`, in that order.
    pub fn select(&self, rows: &[usize]) -> Self {
        Self {
            indices: self.indices.select(Axis(0), rows),
            shapes: self.shapes.clone(),
        }
    }

    /// Whether row `row` goes left at a split of this party.
    pub fn goes_left(&self, row: usize, t: &Threshold) -> bool {
        t.goes_left(self.indices[[row, t.feature]], self.shapes[t.feature])
    }
}

/// The rows tree `tree` is grown on among `rows`: each row with probability
/// `fraction`, from the public seed (every row when the fraction is 1).
pub fn tree_rows(rows: usize, fraction: f64, seed: u64, tree: usize) -> Vec<bool> {
    if fraction >= 1.0 {
        return vec![true; rows];
    }
    let mut key = [0u8; 16];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..].copy_from_slice(&(tree as u64 ^ 0x7472_6565_7375_6273).to_le_bytes());
    let mut draws = vec![0u64; rows];
    Prg::new(&Seed(key)).fill(&mut draws);
    let cut = (fraction * 2f64.powi(64)) as u64;
    draws.into_iter().map(|d| d < cut).collect()
}

/// The score every row starts from, computed by the label holder from the
/// training labels: their mean (squared loss) or the log-odds of it
/// (logistic), as XGBoost 2 estimates its base score.
pub fn base_margin(loss: Loss, y: &[f64]) -> f64 {
    let mean = y.iter().sum::<f64>() / y.len().max(1) as f64;
    match loss {
        Loss::Squared => mean,
        Loss::Logistic => {
            let p = mean.clamp(1e-6, 1.0 - 1e-6);
            (p / (1.0 - p)).ln()
        }
    }
}

/// The validation loss the label holder tracks: log-loss (logistic) or the
/// root mean squared error (squared), of margins `z`.
pub fn validation_loss(loss: Loss, z: &[f64], y: &[f64]) -> f64 {
    let n = y.len().max(1) as f64;
    match loss {
        Loss::Logistic => {
            let eps = 1e-15;
            z.iter()
                .zip(y)
                .map(|(&z, &y)| {
                    let p = (1.0 / (1.0 + (-z).exp())).clamp(eps, 1.0 - eps);
                    -(y * p.ln() + (1.0 - y) * (1.0 - p).ln())
                })
                .sum::<f64>()
                / n
        }
        Loss::Squared => (z.iter().zip(y).map(|(z, y)| (z - y).powi(2)).sum::<f64>() / n).sqrt(),
    }
}

/// The label holder's check of its labels.
pub(crate) fn check_labels(loss: Loss, y: &[f64]) -> Result<(), LearnError> {
    for (i, &v) in y.iter().enumerate() {
        let ok = match loss {
            Loss::Logistic => v == 0.0 || v == 1.0,
            Loss::Squared => v.is_finite() && v.abs() <= 1e6,
        };
        if !ok {
            return Err(LearnError::Input(format!(
                "row {i}: label {v} is not {}",
                match loss {
                    Loss::Logistic => "0 or 1",
                    Loss::Squared => "a finite value within ±10^6",
                }
            )));
        }
    }
    Ok(())
}
