//! The contribution report ("whoever contributes, benefits"): next to the
//! joint model, the held-out AUC and KS of the same secure training re-run
//! on the label holder's features alone and, with two or more feature
//! holders, with each feature holder left out. The differences measure
//! what each party's columns add, so revenue can be shared by measured
//! contribution.
//!
//! What each party learns: the label holder evaluates every re-run (it
//! alone has the labels and, through joint scoring, the scores) and so
//! learns the held-out AUC and KS of each subset model (and, through joint
//! scoring, each subset model's held-out scores); it then sends the report,
//! and only the report, to the receivers of the metrics
//! ([`crate::pipeline::Releases`]), which write it into their model files.
//! Each re-run is the same secure training on fewer parties, so it reveals
//! what a joint run on those parties would: every feature holder that takes
//! part learns its weights in that leave-one-out model (then discarded),
//! and the label holder that model's scores on the held-out rows — with
//! one feature holder taking part, that holder's partial scores. A node's
//! policy decides whether its data may go into such re-runs.

use crate::LearnError;
use serde::{Deserialize, Serialize};

/// Held-out AUC and KS of one model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    /// Area under the ROC curve.
    pub auc: f64,
    /// Kolmogorov–Smirnov statistic.
    pub ks: f64,
}

/// One line of the report: which feature holders took part, and how the
/// model scored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// The feature holders whose columns were used (the label holder's
    /// columns always are).
    pub feature_holders: Vec<String>,
    /// Held-out scores of the model trained on them.
    pub scores: Scores,
}

/// The whole report, identical in every party's model file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The label holder.
    pub label_holder: String,
    /// Every party's columns.
    pub joint: Entry,
    /// The label holder's columns alone.
    pub label_only: Entry,
    /// With two or more feature holders: each one left out in turn, in
    /// party order (`left_out` names it).
    pub leave_one_out: Vec<LeftOut>,
}

/// The model without one feature holder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeftOut {
    /// The feature holder left out.
    pub left_out: String,
    /// The model trained without it.
    pub entry: Entry,
}

impl Report {
    /// AUC gained by adding every feature holder to the label holder's own
    /// columns.
    pub fn joint_gain(&self) -> f64 {
        self.joint.scores.auc - self.label_only.scores.auc
    }

    /// AUC lost when each feature holder is left out (its marginal
    /// contribution), in party order.
    pub fn marginal_gains(&self) -> Vec<(String, f64)> {
        self.leave_one_out
            .iter()
            .map(|l| {
                (
                    l.left_out.clone(),
                    self.joint.scores.auc - l.entry.scores.auc,
                )
            })
            .collect()
    }
}

/// The subsets of feature holders to train on, in the order every party
/// runs them: all of them (the joint model), none (label holder alone),
/// then, with two or more, each left out in turn.
pub fn runs(feature_holders: &[String]) -> Vec<Vec<String>> {
    let mut runs = vec![feature_holders.to_vec(), Vec::new()];
    if feature_holders.len() >= 2 {
        for skip in 0..feature_holders.len() {
            runs.push(
                feature_holders
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| *i != skip)
                    .map(|(_, f)| f.clone())
                    .collect(),
            );
        }
    }
    runs
}

/// Builds the report from `train`, which runs the secure training and
/// held-out evaluation with the given feature holders and returns the
/// scores. Runs happen in the order of [`runs`].
pub fn build<F>(
    label_holder: &str,
    feature_holders: &[String],
    mut train: F,
) -> Result<Report, LearnError>
where
    F: FnMut(&[String]) -> Result<Scores, LearnError>,
{
    let mut entries = Vec::new();
    for subset in runs(feature_holders) {
        let scores = train(&subset)?;
        entries.push(Entry {
            feature_holders: subset,
            scores,
        });
    }
    let mut entries = entries.into_iter();
    let (Some(joint), Some(label_only)) = (entries.next(), entries.next()) else {
        return Err(LearnError::Params("the report needs two runs".into()));
    };
    let leave_one_out = entries
        .zip(feature_holders)
        .map(|(entry, left_out)| LeftOut {
            left_out: left_out.clone(),
            entry,
        })
        .collect();
    Ok(Report {
        label_holder: label_holder.to_string(),
        joint,
        label_only,
        leave_one_out,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn one_feature_holder_gets_joint_and_label_only() {
        assert_eq!(runs(&names(&["tax"])), vec![names(&["tax"]), vec![]]);
    }

    #[test]
    fn leave_one_out_with_two_or_more() {
        let r = build("bank", &names(&["tax", "telco"]), |s| {
            Ok(Scores {
                auc: 0.6
                    + 0.1 * s.len() as f64
                    + if s.contains(&"tax".into()) { 0.05 } else { 0.0 },
                ks: 0.0,
            })
        })
        .unwrap();
        assert_eq!(r.leave_one_out.len(), 2);
        assert_eq!(r.leave_one_out[0].left_out, "tax");
        assert_eq!(r.leave_one_out[0].entry.feature_holders, names(&["telco"]));
        let gains = r.marginal_gains();
        assert!((gains[0].1 - 0.15).abs() < 1e-12 && (gains[1].1 - 0.1).abs() < 1e-12);
        assert!((r.joint_gain() - 0.25).abs() < 1e-12);
    }
}
