//! The plan of a scoring job (`predict`): the data parties of a training
//! job that ran under these nodes score new rows with their model parts.
//! Each party lists the model's id column and feature columns, in the
//! model's order (checked against its model part when the job runs).
//!
//! Parameters: `model`, the training job's id (required; an id, never a
//! path); `label_holder`, the model's label holder (optional: when given,
//! the predictions must go to it); `min_group_size`, the fewest rows the
//! parties must share (default 1).
//!
//! What each party learns: the number of rows every party holds (the
//! alignment); the receiver of `predictions` — exactly one party, the
//! model's label holder — the scores of those rows.

use super::params::{Params, bad, bad_param};
use super::set;
use crate::jobspec::{JobSpec, Problem, is_name};
use std::collections::BTreeSet;

/// The parameters a scoring job takes.
const PARAMETERS: &[&str] = &["model", "label_holder", "min_group_size"];

/// A scoring job's plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PredictPlan {
    /// The id of the training job whose model parts score.
    pub model: String,
    /// The receiver of the predictions (party index).
    pub receiver: usize,
    /// The model's label holder, when the spec names it.
    pub label_holder: Option<usize>,
    /// The fewest rows the parties must share.
    pub min_rows: usize,
    /// Parties in the job.
    parties: usize,
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
        let label_holder = params.party("label_holder")?;
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
            min_rows,
            parties: spec.parties.len(),
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
}
