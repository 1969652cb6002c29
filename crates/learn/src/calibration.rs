//! Calibration of a classifier's probabilities, computed where the labels
//! are (the label holder of a vertical job, each client of a horizontal
//! one): the reliability table — predicted against observed by decile of
//! predicted probability — and the expected calibration error; and an
//! optional recalibration fitted on the validation split (Platt scaling or
//! isotonic regression), recorded in the model file and applied by
//! `indomain predict`.
//!
//! Definitions. Rows are sorted by predicted probability (ties by row
//! order) and cut into `bins` groups of ⌊n/bins⌋ or ⌈n/bins⌉ rows (equal
//! mass: deciles for 10 bins). For each bin: its rows, the mean predicted
//! probability and the observed rate of label 1. The expected calibration
//! error is Σ_b (rows_b/n)·|mean predicted_b − observed_b| (equal-mass ECE,
//! Naeini, Cooper and Hauskrecht, AAAI 2015).
//!
//! - **Platt** (Platt 1999): p = σ(a·s + b) on the linear score s, a and b
//!   maximising the likelihood of the validation labels with Platt's
//!   smoothed targets (N₊ + 1)/(N₊ + 2) and 1/(N₋ + 2), by Newton's
//!   method.
//! - **Isotonic** (Zadrozny and Elkan, KDD 2002): the non-decreasing step
//!   function of σ(s) closest in squared error to the validation labels
//!   (pool adjacent violators); each block keeps its lowest and highest
//!   probability, and a probability is mapped by linear interpolation
//!   between these points (constant beyond them), the values kept within
//!   [1/(2n), 1 − 1/(2n)] so that no held-out row gets probability 0 or 1.
//!
//! What it reveals: nothing by itself; the report goes into the file of
//! the party that holds the labels, and the map is applied by that party.

use crate::LearnError;
use crate::plain::sigmoid;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Bins of the reliability table: deciles.
pub const DECILES: usize = 10;

/// One bin of a reliability table.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ReliabilityBin {
    /// Rows in the bin.
    pub rows: usize,
    /// Their mean predicted probability.
    pub predicted: f64,
    /// Their observed rate of label 1.
    pub observed: f64,
}

/// A reliability table and its expected calibration error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// Bins in increasing order of predicted probability.
    pub bins: Vec<ReliabilityBin>,
    /// The expected calibration error.
    pub ece: f64,
}

impl Calibration {
    /// The table of `probabilities` against 0/1 `labels` in `bins`
    /// equal-mass bins.
    pub fn of(probabilities: &[f64], labels: &[f64], bins: usize) -> Self {
        let bins = reliability(probabilities, labels, bins);
        let ece = expected_calibration_error(&bins);
        Self { bins, ece }
    }
}

/// The reliability table (see the module documentation).
pub fn reliability(probabilities: &[f64], labels: &[f64], bins: usize) -> Vec<ReliabilityBin> {
    let n = probabilities.len().min(labels.len());
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| {
        probabilities[a]
            .total_cmp(&probabilities[b])
            .then(a.cmp(&b))
    });
    let bins = bins.clamp(1, n.max(1));
    (0..bins)
        .map(|b| {
            let rows = &order[b * n / bins..(b + 1) * n / bins];
            let count = rows.len().max(1) as f64;
            ReliabilityBin {
                rows: rows.len(),
                predicted: rows.iter().map(|&r| probabilities[r]).sum::<f64>() / count,
                observed: rows.iter().map(|&r| labels[r]).sum::<f64>() / count,
            }
        })
        .filter(|b| b.rows > 0)
        .collect()
}

/// Σ_b (rows_b/n)·|predicted_b − observed_b|.
pub fn expected_calibration_error(bins: &[ReliabilityBin]) -> f64 {
    let n: usize = bins.iter().map(|b| b.rows).sum();
    bins.iter()
        .map(|b| b.rows as f64 * (b.predicted - b.observed).abs())
        .sum::<f64>()
        / n.max(1) as f64
}

/// How to recalibrate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Method {
    /// Platt scaling: σ(a·s + b).
    Platt,
    /// Isotonic regression on σ(s).
    Isotonic,
}

/// A fitted recalibration map from a linear score to a probability.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Recalibration {
    /// p = σ(a·s + b).
    Platt {
        /// Slope on the score.
        a: f64,
        /// Offset.
        b: f64,
    },
    /// p = linear interpolation of `values` at `thresholds` (both
    /// non-decreasing) of σ(s), constant beyond the ends.
    Isotonic {
        /// Probabilities σ(s) of the block ends.
        thresholds: Vec<f64>,
        /// The recalibrated probability at each threshold.
        values: Vec<f64>,
    },
}

impl Recalibration {
    /// Fits `method` to the validation rows' linear `scores` and 0/1
    /// `labels`.
    pub fn fit(method: Method, scores: &[f64], labels: &[f64]) -> Result<Self, LearnError> {
        if scores.len() != labels.len() || scores.len() < 2 {
            return Err(LearnError::Params(format!(
                "recalibration needs a validation split of at least 2 rows ({} scores, {} labels)",
                scores.len(),
                labels.len()
            )));
        }
        Ok(match method {
            Method::Platt => platt(scores, labels),
            Method::Isotonic => isotonic(scores, labels),
        })
    }

    /// The recalibrated probability of a linear score.
    pub fn apply(&self, score: f64) -> f64 {
        match self {
            Recalibration::Platt { a, b } => sigmoid(a * score + b),
            Recalibration::Isotonic { thresholds, values } => {
                interpolate(thresholds, values, sigmoid(score))
            }
        }
    }

    /// The method of this map.
    pub fn method(&self) -> Method {
        match self {
            Recalibration::Platt { .. } => Method::Platt,
            Recalibration::Isotonic { .. } => Method::Isotonic,
        }
    }

    /// Checks a map read from a file: finite, and for isotonic maps
    /// non-decreasing thresholds and values of equal length.
    pub fn check(&self) -> Result<(), RecalibrationError> {
        match self {
            Recalibration::Platt { a, b } if a.is_finite() && b.is_finite() => Ok(()),
            Recalibration::Platt { .. } => Err(RecalibrationError::PlattNotFinite),
            Recalibration::Isotonic { thresholds, values } => {
                let sorted = |v: &[f64]| v.windows(2).all(|w| w[0] <= w[1]);
                if thresholds.is_empty()
                    || thresholds.len() != values.len()
                    || !sorted(thresholds)
                    || !sorted(values)
                    || values.iter().any(|v| !(0.0..=1.0).contains(v))
                {
                    return Err(RecalibrationError::IsotonicShape);
                }
                Ok(())
            }
        }
    }
}

/// Why a recalibration map read from a file is unusable
/// ([`Recalibration::check`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum RecalibrationError {
    /// A Platt map's slope or offset is infinite or NaN.
    #[error("a Platt map with a value that is not finite")]
    PlattNotFinite,
    /// An isotonic map's thresholds and values are empty, of unequal
    /// length, decreasing somewhere, or (values) outside [0, 1].
    #[error(
        "an isotonic map must have as many non-decreasing thresholds as non-decreasing values in [0, 1]"
    )]
    IsotonicShape,
}

/// Platt's fit with smoothed targets, by Newton's method with step
/// halving on (a, b).
fn platt(scores: &[f64], labels: &[f64]) -> Recalibration {
    let pos = labels.iter().filter(|&&y| y > 0.5).count() as f64;
    let neg = labels.len() as f64 - pos;
    let (hi, lo) = ((pos + 1.0) / (pos + 2.0), 1.0 / (neg + 2.0));
    let targets: Vec<f64> = labels
        .iter()
        .map(|&y| if y > 0.5 { hi } else { lo })
        .collect();
    let nll = |a: f64, b: f64| -> f64 {
        scores
            .iter()
            .zip(&targets)
            .map(|(&s, &t)| {
                let z = a * s + b;
                z.max(0.0) + (-z.abs()).exp().ln_1p() - t * z
            })
            .sum()
    };
    let (mut a, mut b) = (1.0, 0.0);
    let mut current = nll(a, b);
    for _ in 0..100 {
        let (mut ga, mut gb, mut haa, mut hab, mut hbb) = (0.0, 0.0, 1e-12, 0.0, 1e-12);
        for (&s, &t) in scores.iter().zip(&targets) {
            let p = sigmoid(a * s + b);
            let w = p * (1.0 - p);
            ga += (p - t) * s;
            gb += p - t;
            haa += w * s * s;
            hab += w * s;
            hbb += w;
        }
        let det = haa * hbb - hab * hab;
        if det.abs() < 1e-300 {
            break;
        }
        let (da, db) = ((hbb * ga - hab * gb) / det, (haa * gb - hab * ga) / det);
        let mut step = 1.0;
        while step > 1e-10 && nll(a - step * da, b - step * db) > current {
            step /= 2.0;
        }
        a -= step * da;
        b -= step * db;
        let next = nll(a, b);
        let done = (current - next).abs() < 1e-12 * (1.0 + current.abs());
        current = next;
        if done {
            break;
        }
    }
    Recalibration::Platt { a, b }
}

/// Pool adjacent violators on (σ(s), y) sorted by σ(s).
fn isotonic(scores: &[f64], labels: &[f64]) -> Recalibration {
    let n = scores.len();
    let mut rows: Vec<(f64, f64)> = scores
        .iter()
        .zip(labels)
        .map(|(&s, &y)| (sigmoid(s), y))
        .collect();
    rows.sort_by(|a, b| a.0.total_cmp(&b.0));
    // Blocks: (sum of labels, rows, lowest p, highest p).
    let mut blocks: Vec<(f64, f64, f64, f64)> = Vec::new();
    for (p, y) in rows {
        blocks.push((y, 1.0, p, p));
        while blocks.len() > 1 {
            let k = blocks.len();
            let (last, prev) = (blocks[k - 1], blocks[k - 2]);
            if prev.0 / prev.1 < last.0 / last.1 {
                break;
            }
            blocks[k - 2] = (prev.0 + last.0, prev.1 + last.1, prev.2, last.3);
            blocks.pop();
        }
    }
    let floor = 0.5 / n as f64;
    let mut thresholds = Vec::with_capacity(2 * blocks.len());
    let mut values = Vec::with_capacity(2 * blocks.len());
    for (sum, count, lo, hi) in blocks {
        let v = (sum / count).clamp(floor, 1.0 - floor);
        thresholds.push(lo);
        values.push(v);
        if hi > lo {
            thresholds.push(hi);
            values.push(v);
        }
    }
    Recalibration::Isotonic { thresholds, values }
}

fn interpolate(xs: &[f64], ys: &[f64], x: f64) -> f64 {
    let (Some(&first), Some(&last)) = (xs.first(), xs.last()) else {
        return x;
    };
    if x <= first {
        return ys[0];
    }
    if x >= last {
        return ys[ys.len() - 1];
    }
    let k = xs.partition_point(|&t| t <= x);
    let (x0, x1, y0, y1) = (xs[k - 1], xs[k], ys[k - 1], ys[k]);
    if x1 > x0 {
        y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    } else {
        y1
    }
}

/// The label holder's calibration report, in its model file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalibrationReport {
    /// The model's held-out reliability table (deciles) and ECE.
    pub held_out: Calibration,
    /// With a recalibration: the held-out table, ECE and log-loss of the
    /// recalibrated probabilities.
    pub recalibrated: Option<Recalibrated>,
}

/// Held-out figures after recalibration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recalibrated {
    /// How it was recalibrated.
    pub method: Method,
    /// Reliability table and ECE of the recalibrated probabilities.
    pub held_out: Calibration,
    /// Their log-loss.
    pub log_loss: f64,
    /// Their AUC (isotonic maps create ties).
    pub auc: f64,
}

impl CalibrationReport {
    /// The report of held-out `scores` (linear) against `labels`, with the
    /// recalibration `map` if there is one.
    pub fn new(scores: &[f64], labels: &[f64], map: Option<&Recalibration>) -> Self {
        let raw: Vec<f64> = scores.iter().map(|&s| sigmoid(s)).collect();
        Self {
            held_out: Calibration::of(&raw, labels, DECILES),
            recalibrated: map.map(|m| {
                let p: Vec<f64> = scores.iter().map(|&s| m.apply(s)).collect();
                Recalibrated {
                    method: m.method(),
                    held_out: Calibration::of(&p, labels, DECILES),
                    log_loss: crate::plain::loss(crate::Task::Logistic, &p, labels),
                    auc: crate::metrics::auc(&p, labels),
                }
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reliability_table_by_hand() {
        let p = [0.1, 0.9, 0.2, 0.8, 0.3, 0.7];
        let y = [0.0, 1.0, 1.0, 1.0, 0.0, 0.0];
        let t = reliability(&p, &y, 3);
        // Sorted: 0.1 0.2 | 0.3 0.7 | 0.8 0.9.
        assert_eq!(t.len(), 3);
        assert_eq!(t[0].rows, 2);
        assert!((t[0].predicted - 0.15).abs() < 1e-12 && (t[0].observed - 0.5).abs() < 1e-12);
        assert!((t[1].predicted - 0.5).abs() < 1e-12 && t[1].observed == 0.0);
        assert!((t[2].predicted - 0.85).abs() < 1e-12 && t[2].observed == 1.0);
        let ece = expected_calibration_error(&t);
        assert!((ece - (0.35 + 0.5 + 0.15) / 3.0).abs() < 1e-12);
        // Ten rows in ten bins, eleven rows: sizes differ by at most one.
        let p: Vec<f64> = (0..11).map(|i| i as f64 / 11.0).collect();
        let t = reliability(&p, &[0.0; 11], 10);
        assert_eq!(t.iter().map(|b| b.rows).sum::<usize>(), 11);
        assert!(t.iter().all(|b| b.rows == 1 || b.rows == 2));
    }

    #[test]
    fn platt_undoes_a_scaled_score() {
        // Labels drawn from σ(s), scores handed over as 3·s − 1: Platt
        // finds a ≈ 1/3, b ≈ 1/3.
        let n = 4000;
        let s: Vec<f64> = (0..n).map(|i| (i as f64 / n as f64 - 0.5) * 8.0).collect();
        let y: Vec<f64> = s
            .iter()
            .enumerate()
            .map(|(i, &s)| f64::from(((i * 7919) % 1000) as f64 / 1000.0 < sigmoid(s)))
            .collect();
        let scores: Vec<f64> = s.iter().map(|s| 3.0 * s - 1.0).collect();
        let Recalibration::Platt { a, b } = Recalibration::fit(Method::Platt, &scores, &y).unwrap()
        else {
            panic!("not Platt");
        };
        assert!(
            (a - 1.0 / 3.0).abs() < 0.03 && (b - 1.0 / 3.0).abs() < 0.06,
            "{a} {b}"
        );
    }

    #[test]
    fn isotonic_is_monotone_and_fits_block_means() {
        let scores = [-2.0, -1.0, 0.0, 1.0, 2.0, 3.0];
        let labels = [0.0, 1.0, 0.0, 1.0, 1.0, 1.0];
        let map = Recalibration::fit(Method::Isotonic, &scores, &labels).unwrap();
        map.check().unwrap();
        // Blocks: {−2} 0, {−1, 0} 1/2, {1, 2, 3} 1 (clamped to 1 − 1/12).
        assert!((map.apply(-2.0) - 1.0 / 12.0).abs() < 1e-12);
        assert!((map.apply(-0.5) - 0.5).abs() < 1e-12);
        assert!((map.apply(2.0) - 11.0 / 12.0).abs() < 1e-12);
        let mut last = 0.0;
        for i in -40..40 {
            let v = map.apply(i as f64 / 10.0);
            assert!(v >= last);
            last = v;
        }
        assert!(Recalibration::fit(Method::Isotonic, &[1.0], &[1.0]).is_err());
        let bad = Recalibration::Isotonic {
            thresholds: vec![0.5, 0.4],
            values: vec![0.1, 0.2],
        };
        assert_eq!(bad.check(), Err(RecalibrationError::IsotonicShape));
    }
}
