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

use super::Node;
use super::raw_rows::RawColumns;
use super::run_mesh::Produced;
use super::run_trees::json_output;
use crate::jobspec::JobSpec;
use crate::plan::{PredictPlan, ScorecardPlan};
use indomain_learn::align::Roles;
use indomain_learn::binning::{BinKind, FeatureBins};
use indomain_learn::scorecard::model::ScorecardFile;
use indomain_learn::scorecard::pipeline;
use indomain_learn::woe::file::BinningFile;
use indomain_net::PartySet;
use std::fmt::Write;

/// The categorical features among `bins`.
fn categorical<'a>(bins: impl Iterator<Item = &'a FeatureBins>) -> Vec<String> {
    bins.filter(|b| matches!(b.kind, BinKind::Categorical { .. }))
        .map(|b| b.name.clone())
        .collect()
}

impl Node {
    /// Loads this node's binning file, reads its rows (none at the dealer)
    /// and trains the scorecard.
    pub(super) fn compute_scorecard(
        &self,
        spec: &JobSpec,
        plan: &ScorecardPlan,
        parties: &mut PartySet,
        max_rows: Option<u64>,
    ) -> Result<Vec<Produced>, String> {
        let me = parties.me();
        let roles = &plan.vertical.roles;
        let mut loaded = None;
        if plan.vertical.is_data(me) {
            let path = self.released_file(&plan.binning, "binning.json")?;
            let name = path.display().to_string();
            let file = BinningFile::load(&path).map_err(|e| e.to_string())?;
            if file.party != spec.parties[me].name {
                return Err(format!("{name} is {}'s binning file", file.party));
            }
            let table = self.read_raw(
                spec,
                me,
                max_rows,
                &RawColumns {
                    id: &plan.vertical.id_column,
                    label: (me == roles.label).then_some(plan.vertical.label_column.as_str()),
                    categorical: &categorical(file.features.iter().map(|f| &f.bins)),
                },
            )?;
            loaded = Some((file, name, table));
        }
        let finished = pipeline::run(
            parties,
            &plan.scorecard_run(),
            loaded.as_ref().map(|(f, n, _)| (f, n.as_str())),
            Ok(loaded.as_ref().map(|(_, _, t)| t)),
            &mut rand::rng(),
        )
        .map_err(|e| format!("the scorecard's training failed: {e}"))?;
        let Some(mut card) = finished.file else {
            return Ok(Vec::new());
        };
        card.written_by = format!("indomain node {} (job {})", self.config.name, spec.id);
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

    /// Scores this node's rows with its scorecard file (the dealer serves
    /// the products).
    pub(super) fn compute_predict_scorecard(
        &self,
        spec: &JobSpec,
        plan: &PredictPlan,
        parties: &mut PartySet,
        max_rows: Option<u64>,
    ) -> Result<Vec<Produced>, String> {
        let me = parties.me();
        let label = plan
            .label_holder
            .ok_or("a scorecard is scored with its label holder named")?;
        let roles =
            Roles::new(spec.parties.len(), label, plan.dealer).map_err(|e| e.to_string())?;
        if plan.dealer == Some(me) {
            pipeline::predict(parties, &roles, None, Ok(None), &mut rand::rng())
                .map_err(|e| format!("the joint scoring failed: {e}"))?;
            return Ok(Vec::new());
        }
        let path = self.released_file(&plan.model, "model.json")?;
        let name = path.display().to_string();
        if !ScorecardFile::is_scorecard(&path) {
            return Err(format!(
                "{name} is not a scorecard: set algorithm to the model's kind"
            ));
        }
        let card = ScorecardFile::load(&path).map_err(|e| e.to_string())?;
        if card.party != spec.parties[me].name {
            return Err(format!("{name} is {}'s scorecard", card.party));
        }
        let table = self.read_raw(
            spec,
            me,
            max_rows,
            &RawColumns {
                id: &card.job.id_column,
                label: None,
                categorical: &categorical(card.features.iter().map(|f| &f.bins)),
            },
        )?;
        let out = pipeline::predict(
            parties,
            &roles,
            Some((&card, name.as_str())),
            Ok(Some(&table)),
            &mut rand::rng(),
        )
        .map_err(|e| format!("the joint scoring failed: {e}"))?;
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
}
