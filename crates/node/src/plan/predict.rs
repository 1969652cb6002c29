//! The plan of a scoring job (`predict`): the data parties of a training
//! job that ran under these nodes score new rows with their model parts.
//! Each party lists the model's id column and feature columns, in the
//! model's order (checked against its model part when the job runs).
//!
//! Parameters: `model`, the training job's id (required; an id, never a
//! path); `algorithm`, the model's kind (`linear`, the default; `gbdt`
//! for trees; `scorecard`), which each party checks against its model
//! part; `dealer`, a party without data that deals the products tree and
//! scorecard scoring need (required for those, refused for a linear
//! model); `correlations` (`dealer`, the default, or `two-party`: a tree
//! or scorecard model of two data parties scored by them alone, no
//! dealer); `label_holder`, the model's label holder (optional: when
//! given, the predictions must go to it; required without a dealer for
//! trees and scorecards); `min_group_size`, the fewest rows the
//! parties must share (default 1).
//!
//! What each party learns: the number of rows every party holds (the
//! alignment); the receiver of `predictions` — exactly one party, the
//! model's label holder — the scores of those rows; with trees, no party
//! another's path bits; the dealer, the row count and the shapes; with
//! two-party correlations each data party also the other's uniformly
//! masked generation messages.

use super::params::{Params, bad, bad_param};
use super::set;
use super::{Correlations, LeakProfile};
use crate::jobspec::{JobSpec, Problem, is_name};
use crate::policy::leak::TWO_PARTY;
use std::collections::BTreeSet;

/// The parameters a scoring job takes.
const PARAMETERS: &[&str] = &[
    "model",
    "algorithm",
    "dealer",
    "correlations",
    "label_holder",
    "min_group_size",
];

/// The kind of model a scoring job scores with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelKind {
    /// Vertical linear or logistic regression.
    Linear,
    /// Gradient-boosted trees.
    Trees,
    /// A WOE scorecard.
    Scorecard,
}

/// A scoring job's plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PredictPlan {
    /// The id of the training job whose model parts score.
    pub model: String,
    /// The receiver of the predictions (party index).
    pub receiver: usize,
    /// The model's label holder, when the spec names it.
    pub label_holder: Option<usize>,
    /// The kind of model.
    pub kind: ModelKind,
    /// The dealer (trees and scorecards), by party index.
    pub dealer: Option<usize>,
    /// Whether the two data parties generate the correlations themselves
    /// (trees and scorecards with `correlations = "two-party"`).
    pub two_party: bool,
    /// The fewest rows the parties must share.
    pub min_rows: usize,
    /// Parties in the job.
    parties: usize,
    /// Their names, in spec order.
    names: Vec<String>,
}

impl PredictPlan {
    pub(super) fn build(spec: &JobSpec) -> Result<Self, Problem> {
        let params = Params::new(spec, PARAMETERS)?;
        let model = params.required_text("model", "its training job (the model's job id)")?;
        // A job id, not a path: no way out of results/.
        if !is_name(model) || model.starts_with('.') {
            return Err(bad_param(
                "model",
                format!("parameter model = {model:?} is not a job id"),
            ));
        }
        let kind = match params.choice("algorithm", &["linear", "gbdt", "scorecard"])? {
            Some("gbdt") => ModelKind::Trees,
            Some("scorecard") => ModelKind::Scorecard,
            _ => ModelKind::Linear,
        };
        let dealer = params.party("dealer")?;
        let two_party = params.choice("correlations", &["dealer", TWO_PARTY])? == Some(TWO_PARTY);
        match (kind, dealer) {
            (ModelKind::Linear, Some(_)) => {
                return Err(bad_param(
                    "dealer",
                    "a linear model is scored without a dealer: drop parameter dealer (or set algorithm)".into(),
                ));
            }
            (ModelKind::Linear, None) if two_party => {
                return Err(bad_param(
                    "correlations",
                    "a linear model is scored without correlated randomness: drop parameter correlations".into(),
                ));
            }
            (_, Some(_)) if two_party => {
                return Err(bad_param(
                    "dealer",
                    "with correlations = \"two-party\" no party deals: drop parameter dealer"
                        .into(),
                ));
            }
            (ModelKind::Trees | ModelKind::Scorecard, None) if !two_party => {
                return Err(bad(
                    "tree and scorecard models are scored with a dealer: name it (parameter dealer, a party that names no dataset), or with correlations = \"two-party\" between their two data parties".into(),
                ));
            }
            (ModelKind::Trees | ModelKind::Scorecard, None) if spec.parties.len() != 2 => {
                return Err(bad(format!(
                    "two-party correlations take exactly two parties, the label holder and one feature holder, not {}; name a dealer for more",
                    spec.parties.len()
                )));
            }
            _ => {}
        }
        if let Some(d) = dealer
            && let Some(i) = spec
                .outputs
                .iter()
                .position(|o| o.receiver == spec.parties[d].name)
        {
            return Err(Problem {
                at: crate::jobspec::Part::Receiver(i),
                reason: format!(
                    "{} is the dealer, which receives no output: drop output {:?} to it",
                    spec.parties[d].name, spec.outputs[i].name
                ),
            });
        }
        let label_holder = params.party("label_holder")?;
        if dealer.is_some() && label_holder.is_none() {
            return Err(bad(
                "the dealer has no model to read the label holder from: name it (parameter label_holder)".into(),
            ));
        }
        if two_party && label_holder.is_none() {
            return Err(bad(
                "two-party scoring names the model's label holder (parameter label_holder)".into(),
            ));
        }
        let receivers = spec.receivers("predictions");
        let [receiver] = receivers[..] else {
            return Err(bad(
                "the predictions go to exactly one party, the model's label holder".into(),
            ));
        };
        if let Some(label) = label_holder
            && label != receiver
        {
            return Err(bad(format!(
                "only the label holder ({}) learns the scores: declare output \"predictions\" for it alone",
                spec.parties[label].name
            )));
        }
        let min_rows = params
            .count("min_group_size", 0..=1 << 32)?
            .unwrap_or(1)
            .max(1);
        Ok(Self {
            model: model.to_string(),
            receiver,
            label_holder,
            kind,
            dealer,
            two_party,
            min_rows,
            parties: spec.parties.len(),
            names: spec.parties.iter().map(|p| p.name.clone()).collect(),
        })
    }

    pub(super) fn receives(&self) -> Vec<BTreeSet<&'static str>> {
        (0..self.parties)
            .map(|i| match i == self.receiver {
                true => set(&["predictions"]),
                false => set(&[]),
            })
            .collect()
    }

    pub(super) fn leaks(&self) -> LeakProfile {
        LeakProfile {
            correlations: match (self.dealer, self.two_party) {
                (Some(d), _) => Correlations::Dealer(self.names[d].clone()),
                (None, true) => Correlations::TwoParty,
                (None, false) => Correlations::None,
            },
            ..LeakProfile::plain()
        }
    }
}
