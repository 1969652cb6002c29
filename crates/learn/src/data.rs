//! One party's training data: reading its CSV file with every check done
//! before any training (feature `files`), local standardisation, and the
//! train/test split every party computes identically from the aligned row
//! order.
//!
//! Nothing here talks to a peer: a party learns only its own file. The
//! split depends only on the number of aligned rows and the job's seed, so
//! every party derives the same split without a message.

use crate::LearnError;
use crate::params::Task;
use indomain_core::prg::{Prg, Seed};
use ndarray::{Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

#[cfg(feature = "files")]
mod raw;
#[cfg(feature = "files")]
mod read;
#[cfg(feature = "files")]
pub use raw::{load_raw_csv, read_raw_csv};
#[cfg(feature = "files")]
pub use read::{load_csv, read_csv};

/// Which columns of a party's CSV file to use.
#[derive(Debug, Clone, PartialEq)]
pub struct CsvSpec {
    /// The id column rows are aligned on.
    pub id_column: String,
    /// The label column (the label holder only).
    pub label_column: Option<String>,
    /// The feature columns; `None` takes every other column, in file order.
    pub features: Option<Vec<String>>,
    /// The task, which decides what labels are allowed.
    pub task: Task,
}

/// A party's rows, read and checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Where the rows came from (for error messages).
    pub source: String,
    /// The id of each row.
    pub ids: Vec<String>,
    /// The physical line of each row in the file.
    pub lines: Vec<u64>,
    /// The feature columns, in order.
    pub feature_names: Vec<String>,
    /// Rows × features.
    pub x: Array2<f64>,
    /// The labels, at the label holder.
    pub y: Option<Vec<f64>>,
}

impl Table {
    /// The rows at `rows`, in that order.
    pub fn select(&self, rows: &[usize]) -> Table {
        Table {
            source: self.source.clone(),
            ids: rows.iter().map(|&r| self.ids[r].clone()).collect(),
            lines: rows.iter().map(|&r| self.lines[r]).collect(),
            feature_names: self.feature_names.clone(),
            x: self.x.select(Axis(0), rows),
            y: self
                .y
                .as_ref()
                .map(|y| rows.iter().map(|&r| y[r]).collect()),
        }
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.ids.len()
    }
}

/// Refuses a feature list that differs from the one the model was trained
/// on (names and order).
pub fn check_features(
    expected: &[String],
    found: &[String],
    source: &str,
) -> Result<(), LearnError> {
    if expected != found {
        return Err(LearnError::Data(format!(
            "{source}: the feature columns [{}] differ from the model's [{}]; give the same columns in the same order",
            found.join(", "),
            expected.join(", ")
        )));
    }
    Ok(())
}

/// Refuses to train on fewer than `min` shared rows.
pub fn check_shared_rows(shared: usize, min: usize, with: &str) -> Result<(), LearnError> {
    if shared < min {
        return Err(LearnError::Data(format!(
            "only {shared} rows are shared with {with}; training needs at least {min}"
        )));
    }
    Ok(())
}

/// Standardised values are clipped to ±CLIP: the secure training encodes
/// features with a bound of ±64 (`vertical::FEATURE_BOUND`), and a value
/// 63 standard deviations out is an outlier whatever its sign.
pub const CLIP: f64 = 63.0;

/// Per-feature mean and standard deviation, fitted on the training rows
/// and kept in the model file so that scoring applies the same transform.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Standardizer {
    /// Mean of each feature.
    pub mean: Vec<f64>,
    /// Population standard deviation of each feature (never 0).
    pub std: Vec<f64>,
    /// Standardised values are clipped to ±clip ([`CLIP`]).
    pub clip: f64,
}

impl Standardizer {
    /// Fits on `x`; a constant column (std 0 or not finite) is refused,
    /// naming it and `source`.
    pub fn fit(x: ArrayView2<f64>, names: &[String], source: &str) -> Result<Self, LearnError> {
        let n = x.nrows() as f64;
        let mut mean = Vec::with_capacity(x.ncols());
        let mut std = Vec::with_capacity(x.ncols());
        for (j, column) in x.axis_iter(Axis(1)).enumerate() {
            let m = column.sum() / n;
            let s = (column.iter().map(|v| (v - m).powi(2)).sum::<f64>() / n).sqrt();
            let scale = m.abs().max(1.0);
            if !(s.is_finite() && s > 1e-12 * scale) {
                return Err(LearnError::Data(format!(
                    "{source}: column {:?} is constant on the training rows; drop it",
                    names.get(j).map_or("?", |s| s.as_str())
                )));
            }
            mean.push(m);
            std.push(s);
        }
        Ok(Self {
            mean,
            std,
            clip: CLIP,
        })
    }

    /// (x − mean) / std, column by column, clipped to ±clip.
    pub fn apply(&self, x: ArrayView2<f64>) -> Array2<f64> {
        let mut out = x.to_owned();
        for (j, mut column) in out.axis_iter_mut(Axis(1)).enumerate() {
            column
                .mapv_inplace(|v| ((v - self.mean[j]) / self.std[j]).clamp(-self.clip, self.clip));
        }
        out
    }
}

/// Row indices of the training and test parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    /// Training rows, in shuffled order.
    pub train: Vec<usize>,
    /// Held-out rows, in shuffled order.
    pub test: Vec<usize>,
}

/// A seeded shuffle of `0..rows` cut into train and test
/// (`round(rows × test_fraction)` test rows). Uses the AES-CTR PRG of
/// indomain-core, so the split is the same at every party and on every
/// platform.
pub fn split(rows: usize, test_fraction: f64, seed: u64) -> Split {
    let order = shuffle(rows, seed, b"split");
    let test = ((rows as f64 * test_fraction).round() as usize).min(rows);
    Split {
        train: order[test..].to_vec(),
        test: order[..test].to_vec(),
    }
}

/// A permutation of `0..n` from the public seed and a domain tag.
pub fn shuffle(n: usize, seed: u64, tag: &[u8]) -> Vec<usize> {
    let mut key = [0u8; 16];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    for (k, t) in key[8..].iter_mut().zip(tag) {
        *k = *t;
    }
    let mut prg = Prg::new(&Seed(key));
    let mut order: Vec<usize> = (0..n).collect();
    let mut draws = vec![0u64; n];
    prg.fill(&mut draws);
    // Fisher–Yates; the modulo bias (n / 2^64) is irrelevant for a split.
    for i in (1..n).rev() {
        let j = (draws[i] % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_column_is_refused_by_name() {
        let x = ndarray::array![[1.0, 5.0], [2.0, 5.0], [3.0, 5.0]];
        let names = ["a".to_string(), "b".to_string()];
        let err = Standardizer::fit(x.view(), &names, "tax.csv")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("tax.csv") && err.contains("\"b\" is constant"),
            "{err}"
        );
    }

    #[test]
    fn standardised_columns_have_zero_mean_unit_std() {
        let x = ndarray::array![[1.0], [2.0], [6.0]];
        let s = Standardizer::fit(x.view(), &["a".to_string()], "f").unwrap();
        let z = s.apply(x.view());
        let mean = z.column(0).sum() / 3.0;
        let var = z.column(0).iter().map(|v| v * v).sum::<f64>() / 3.0;
        assert!(mean.abs() < 1e-12 && (var - 1.0).abs() < 1e-12);
        let outlier = ndarray::array![[1e9]];
        assert_eq!(s.apply(outlier.view())[[0, 0]], CLIP);
    }

    #[test]
    fn split_is_a_seeded_partition() {
        let a = split(100, 0.25, 9);
        assert_eq!(a, split(100, 0.25, 9));
        assert_ne!(a, split(100, 0.25, 10));
        assert_eq!(a.test.len(), 25);
        let mut all: Vec<usize> = a.train.iter().chain(&a.test).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn feature_lists_must_match() {
        let a = vec!["a".to_string(), "b".to_string()];
        let b = vec!["b".to_string(), "a".to_string()];
        assert!(check_features(&a, &a, "f").is_ok());
        assert!(
            check_features(&a, &b, "new.csv")
                .unwrap_err()
                .to_string()
                .contains("new.csv")
        );
        assert!(
            check_shared_rows(3, 10, "tax-bureau")
                .unwrap_err()
                .to_string()
                .contains("tax-bureau")
        );
    }
}
