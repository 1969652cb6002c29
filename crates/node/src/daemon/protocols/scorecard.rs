//! Scorecards under the node: a `train` job with `algorithm =
//! "scorecard"` ([`crate::plan::ScorecardPlan`]) runs
//! [`indomain_learn::scorecard::pipeline::run`] as `indomain train --woe
//! BINNING.json --scorecard` does, each data party with the binning file
//! the named binning job released to it; a `predict` job with `algorithm =
//! "scorecard"` scores new rows with the scorecard files
//! ([`indomain_learn::scorecard::pipeline::predict`]).
//!
//! Outputs: `model` (a data party's scorecard file: its features' bins
//! and its share or readable part of the points) and `metrics` (the
//! held-out AUC, KS and the rest, JSON), to every data party;
//! `predictions` (`id,score,probability`) to the label holder.
//!
//! What each party learns: what [`crate::plan::scorecard`] and
//! [`crate::plan::predict`] state; the dealer, the shapes.

use super::json_output;
use super::raw_rows::{RawColumns, read_if_data, read_raw};
use super::{JobProtocol, JobRun, Produced};
use crate::daemon::error::JobError;
use crate::plan::{PredictPlan, ScorecardPlan};
use indomain_learn::align::Roles;
use indomain_learn::binning::{BinKind, FeatureBins};
use indomain_learn::scorecard::model::ScorecardFile;
use indomain_learn::scorecard::pipeline;
use indomain_learn::woe::file::BinningFile;
use std::fmt::Write;

/// The categorical features among `bins`.
fn categorical<'a>(bins: impl Iterator<Item = &'a FeatureBins>) -> Vec<String> {
    bins.filter(|b| matches!(b.kind, BinKind::Categorical { .. }))
        .map(|b| b.name.clone())
        .collect()
}

impl JobProtocol for ScorecardPlan {
    /// Loads this node's binning file, reads its rows (none at the dealer)
    /// and trains the scorecard.
    fn run(&self, job: JobRun<'_>) -> Result<Vec<Produced>, JobError> {
        let me = job.parties.me();
        let binning = match self.vertical.is_data(me) {
            false => None,
            true => {
                let path = job.own.binning_file(&self.binning)?;
                let name = path.display().to_string();
                let file = BinningFile::load(&path).map_err(|e| JobError::Model(e.to_string()))?;
                if file.party != job.spec.parties[me].name {
                    return Err(JobError::Model(format!(
                        "{name} is {}'s binning file",
                        file.party
                    )));
                }
                Some((file, name))
            }
        };
        // The rows, read with the binning file's categories.
        let categories = binning
            .as_ref()
            .map(|(file, _)| categorical(file.features.iter().map(|f| &f.bins)))
            .unwrap_or_default();
        let table = read_if_data(&job, &self.vertical, &categories)?;
        let JobRun {
            spec,
            parties,
            progress,
            own,
            ..
        } = job;
        progress.phase("running the protocol");
        let finished = pipeline::run(
            parties,
            &self.scorecard_run(),
            binning.as_ref().map(|(f, n)| (f, n.as_str())),
            Ok(table.as_ref()),
            &mut rand::rng(),
        )
        .map_err(|e| JobError::protocol("scorecard's training", e))?;
        let Some(mut card) = finished.file else {
            return Ok(Vec::new());
        };
        card.written_by = format!("indomain node {} (job {})", own.name(), spec.id);
        let metrics = serde_json::json!({
            "evaluation": card.evaluation,
            "mode": card.job.mode.name(),
            "features": card.sizes.iter().map(Vec::len).sum::<usize>(),
            "loss_per_epoch": finished.loss_per_epoch,
        });
        Ok(vec![
            json_output("model", "model.json", &card)?,
            json_output("metrics", "metrics.json", &metrics)?,
        ])
    }
}

/// Scores this node's rows with its scorecard file (the dealer serves the
/// products): a predict job with `algorithm = "scorecard"`.
pub(super) fn predict(plan: &PredictPlan, job: JobRun<'_>) -> Result<Vec<Produced>, JobError> {
    let me = job.parties.me();
    let spec = job.spec;
    let label = plan
        .label_holder
        .ok_or_else(|| JobError::Job("a scorecard is scored with its label holder named".into()))?;
    let roles = Roles::new(spec.parties.len(), label, plan.dealer)
        .map_err(|e| JobError::Job(e.to_string()))?;
    if plan.dealer == Some(me) {
        job.progress.phase("running the protocol");
        pipeline::predict(job.parties, &roles, None, Ok(None), &mut rand::rng())
            .map_err(|e| JobError::protocol("joint scoring", e))?;
        return Ok(Vec::new());
    }
    let path = job.own.model_part(&plan.model)?;
    let name = path.display().to_string();
    if !ScorecardFile::is_scorecard(&path) {
        return Err(JobError::Model(format!(
            "{name} is not a scorecard: set algorithm to the model's kind"
        )));
    }
    let card = ScorecardFile::load(&path).map_err(|e| JobError::Model(e.to_string()))?;
    if card.party != spec.parties[me].name {
        return Err(JobError::Model(format!(
            "{name} is {}'s scorecard",
            card.party
        )));
    }
    let table = read_raw(
        &job,
        &RawColumns {
            id: &card.job.id_column,
            label: None,
            categorical: &categorical(card.features.iter().map(|f| &f.bins)),
        },
    )?;
    job.progress.phase("running the protocol");
    let out = pipeline::predict(
        job.parties,
        &roles,
        Some((&card, name.as_str())),
        Ok(Some(&table)),
        &mut rand::rng(),
    )
    .map_err(|e| JobError::protocol("joint scoring", e))?;
    let Some(scores) = out.scores else {
        return Ok(Vec::new());
    };
    let mut csv = format!("{},score,probability\n", card.job.id_column);
    let (offset, factor) = (card.job.scale.offset(), card.job.scale.factor());
    for (id, s) in out.ids.iter().zip(&scores) {
        let p = indomain_learn::plain::sigmoid((offset - s) / factor);
        let _ = writeln!(csv, "{id},{s:.4},{p:.6}");
    }
    Ok(vec![Produced {
        output: "predictions",
        file: "predictions.csv".into(),
        bytes: csv.into_bytes(),
    }])
}
