//! Evaluation on the held-out rows, at the label holder (the only party
//! that has labels and, after joint scoring, the scores): AUC with ties,
//! KS, accuracy and log-loss for classification; RMSE and R² for
//! regression; and the curves the report draws.

use serde::{Deserialize, Serialize};

/// Classification metrics on held-out rows.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Classification {
    /// Area under the ROC curve (ties count one half).
    pub auc: f64,
    /// Kolmogorov–Smirnov statistic: max over thresholds of TPR − FPR.
    pub ks: f64,
    /// Share of rows on the right side of probability 0.5.
    pub accuracy: f64,
    /// Mean log-loss (probabilities clamped to [1e-15, 1 − 1e-15]).
    pub log_loss: f64,
}

/// Regression metrics on held-out rows.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Regression {
    /// Root mean squared error.
    pub rmse: f64,
    /// Coefficient of determination.
    pub r2: f64,
}

/// What a model scored on the held-out rows.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Evaluation {
    /// Logistic regression.
    Classification(Classification),
    /// Linear regression.
    Regression(Regression),
}

/// One point of the ROC curve, after all rows scoring at least a threshold.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RocPoint {
    /// False-positive rate.
    pub fpr: f64,
    /// True-positive rate.
    pub tpr: f64,
    /// Share of all rows at or above the threshold.
    pub depth: f64,
}

/// The ROC curve from (0, 0) to (1, 1); rows with equal scores move the
/// curve together (one diagonal segment), which is how ties are handled.
pub fn roc(scores: &[f64], labels: &[f64]) -> Vec<RocPoint> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let pos = labels.iter().filter(|&&l| l > 0.5).count() as f64;
    let neg = labels.len() as f64 - pos;
    let n = labels.len().max(1) as f64;
    let mut points = vec![RocPoint {
        fpr: 0.0,
        tpr: 0.0,
        depth: 0.0,
    }];
    let (mut tp, mut fp, mut i) = (0.0, 0.0, 0);
    while i < order.len() {
        let s = scores[order[i]];
        while i < order.len() && scores[order[i]] == s {
            if labels[order[i]] > 0.5 {
                tp += 1.0;
            } else {
                fp += 1.0;
            }
            i += 1;
        }
        points.push(RocPoint {
            fpr: if neg > 0.0 { fp / neg } else { 0.0 },
            tpr: if pos > 0.0 { tp / pos } else { 0.0 },
            depth: i as f64 / n,
        });
    }
    points
}

/// At most `max` points of a ROC curve, evenly spread over it, its ends
/// kept: enough to draw it (a model file keeps the label holder's curve
/// this way, whatever the number of held-out rows).
pub fn thin(curve: &[RocPoint], max: usize) -> Vec<RocPoint> {
    if curve.len() <= max || max < 2 {
        return curve.to_vec();
    }
    (0..max)
        .map(|i| curve[i * (curve.len() - 1) / (max - 1)])
        .collect()
}

/// Area under the ROC curve (trapezoids, so tied scores count one half);
/// 0.5 when one class is missing.
pub fn auc(scores: &[f64], labels: &[f64]) -> f64 {
    if !has_both_classes(labels) {
        return 0.5;
    }
    roc(scores, labels)
        .windows(2)
        .map(|w| (w[1].fpr - w[0].fpr) * (w[1].tpr + w[0].tpr) / 2.0)
        .sum()
}

/// The KS statistic: max over thresholds of TPR − FPR.
pub fn ks(scores: &[f64], labels: &[f64]) -> f64 {
    roc(scores, labels)
        .iter()
        .map(|p| p.tpr - p.fpr)
        .fold(0.0, f64::max)
}

fn has_both_classes(labels: &[f64]) -> bool {
    labels.iter().any(|&l| l > 0.5) && labels.iter().any(|&l| l <= 0.5)
}

/// Every classification metric from probabilities and 0/1 labels.
pub fn classification(probabilities: &[f64], labels: &[f64]) -> Classification {
    let n = labels.len().max(1) as f64;
    let right = probabilities
        .iter()
        .zip(labels)
        .filter(|(p, l)| (**p >= 0.5) == (**l > 0.5))
        .count();
    Classification {
        auc: auc(probabilities, labels),
        ks: ks(probabilities, labels),
        accuracy: right as f64 / n,
        log_loss: crate::plain::loss(crate::Task::Logistic, probabilities, labels),
    }
}

/// RMSE and R² of predictions against targets.
pub fn regression(predictions: &[f64], targets: &[f64]) -> Regression {
    let n = targets.len().max(1) as f64;
    let mean = targets.iter().sum::<f64>() / n;
    let sse: f64 = predictions
        .iter()
        .zip(targets)
        .map(|(p, t)| (p - t).powi(2))
        .sum();
    let sst: f64 = targets.iter().map(|t| (t - mean).powi(2)).sum();
    Regression {
        rmse: (sse / n).sqrt(),
        r2: if sst > 0.0 { 1.0 - sse / sst } else { 0.0 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_of_perfect_random_and_inverted_rankings() {
        let labels = [0.0, 0.0, 1.0, 1.0];
        assert_eq!(auc(&[0.1, 0.2, 0.8, 0.9], &labels), 1.0);
        assert_eq!(auc(&[0.9, 0.8, 0.2, 0.1], &labels), 0.0);
        assert_eq!(auc(&[0.5; 4], &labels), 0.5);
    }

    #[test]
    fn auc_counts_ties_one_half_like_the_rank_statistic() {
        let scores = [0.3, 0.5, 0.5, 0.7, 0.5, 0.1, 0.9];
        let labels = [0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 0.0];
        // Mann–Whitney: pairs (pos, neg) with pos > neg, plus half the ties.
        let mut wins = 0.0;
        let mut pairs = 0.0;
        for (i, &si) in scores.iter().enumerate() {
            for (j, &sj) in scores.iter().enumerate() {
                if labels[i] == 1.0 && labels[j] == 0.0 {
                    pairs += 1.0;
                    wins += if si > sj {
                        1.0
                    } else if si == sj {
                        0.5
                    } else {
                        0.0
                    };
                }
            }
        }
        assert!((auc(&scores, &labels) - wins / pairs).abs() < 1e-12);
    }

    #[test]
    fn ks_is_the_largest_gap() {
        let labels = [0.0, 0.0, 1.0, 1.0];
        assert_eq!(ks(&[0.1, 0.2, 0.8, 0.9], &labels), 1.0);
        assert!((ks(&[0.1, 0.8, 0.2, 0.9], &labels) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn accuracy_log_loss_and_regression() {
        let c = classification(&[0.9, 0.2, 0.6, 0.4], &[1.0, 0.0, 0.0, 1.0]);
        assert_eq!(c.accuracy, 0.5);
        let expected = -(0.9f64.ln() + 0.8f64.ln() + 0.4f64.ln() + 0.4f64.ln()) / 4.0;
        assert!((c.log_loss - expected).abs() < 1e-12);
        let r = regression(&[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0]);
        assert_eq!((r.rmse, r.r2), (0.0, 1.0));
    }
}
