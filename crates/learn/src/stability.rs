//! The population stability index (PSI in the credit-risk sense; not
//! private set intersection): how far a new batch's distribution over a
//! feature's bins, or over score bands, has moved from the training rows'.
//!
//! PSI = Σ_i (a_i − e_i) · ln(a_i / e_i), with e_i and a_i the shares of
//! the training and the new rows in bin i, each count smoothed by
//! [`crate::woe::SMOOTHING`] (so an empty bin is finite). Usual reading:
//! below 0.1 stable, 0.1 to 0.25 a shift worth a look, above 0.25 a
//! shift that calls for re-fitting.
//!
//! What each party learns: a feature's owner computes its features' index
//! alone, from its own bins (nothing is sent); the label holder computes
//! the score's index from the scores it alone learns by joint scoring.

use crate::woe::SMOOTHING;
use serde::{Deserialize, Serialize};

/// The index between training counts `expected` and new counts `actual`
/// over the same bins.
pub fn index(expected: &[u64], actual: &[u64]) -> f64 {
    let k = expected.len() as f64;
    let e_total = expected.iter().sum::<u64>() as f64 + k * SMOOTHING;
    let a_total = actual.iter().sum::<u64>() as f64 + k * SMOOTHING;
    expected
        .iter()
        .zip(actual)
        .map(|(&e, &a)| {
            let e = (e as f64 + SMOOTHING) / e_total;
            let a = (a as f64 + SMOOTHING) / a_total;
            (a - e) * (a / e).ln()
        })
        .sum()
}

/// How the index reads.
pub fn verdict(psi: f64) -> &'static str {
    if psi < 0.1 {
        "stable"
    } else if psi < 0.25 {
        "shifted"
    } else {
        "unstable"
    }
}

/// Score bands fitted on the training scores: edges at the deciles (fewer
/// when scores tie), and the training rows per band.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreBands {
    /// Band i holds edges\[i − 1\] ≤ score < edges\[i\].
    pub edges: Vec<f64>,
    /// Training rows per band.
    pub counts: Vec<u64>,
}

impl ScoreBands {
    /// Deciles of `scores` (finite).
    pub fn fit(scores: &[f64]) -> Self {
        let mut sorted = scores.to_vec();
        sorted.sort_unstable_by(f64::total_cmp);
        let edges = crate::binning::numeric::quantile_edges(&sorted, 10);
        let counts = Self::count(&edges, scores);
        Self { edges, counts }
    }

    fn count(edges: &[f64], scores: &[f64]) -> Vec<u64> {
        let mut counts = vec![0u64; edges.len() + 1];
        for &s in scores {
            counts[crate::binning::numeric::bin_of(edges, s)] += 1;
        }
        counts
    }

    /// The index of new `scores` against the training bands.
    pub fn index(&self, scores: &[f64]) -> f64 {
        index(&self.counts, &Self::count(&self.edges, scores))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_by_hand() {
        let e = [40u64, 60];
        let a = [60u64, 40];
        let es: [f64; 2] = [40.5 / 101.0, 60.5 / 101.0];
        let as_: [f64; 2] = [60.5 / 101.0, 40.5 / 101.0];
        let want: f64 = (0..2)
            .map(|i| (as_[i] - es[i]) * (as_[i] / es[i]).ln())
            .sum();
        assert!((index(&e, &a) - want).abs() < 1e-12);
        assert_eq!(index(&e, &e), 0.0);
        assert!(index(&[10, 0], &[0, 10]).is_finite());
        assert_eq!(verdict(0.05), "stable");
        assert_eq!(verdict(0.3), "unstable");
    }

    #[test]
    fn score_bands_are_deciles_of_the_training_scores() {
        let train: Vec<f64> = (0..1000).map(|i| i as f64).collect();
        let bands = ScoreBands::fit(&train);
        assert_eq!(bands.edges.len(), 9);
        assert!(bands.counts.iter().all(|&c| c == 100));
        assert!(bands.index(&train).abs() < 1e-12);
        let shifted: Vec<f64> = train.iter().map(|s| s + 300.0).collect();
        assert!(bands.index(&shifted) > 0.25);
    }
}
