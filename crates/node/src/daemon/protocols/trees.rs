//! Gradient-boosted trees under the node: a `train` job with `algorithm =
//! "gbdt"` ([`crate::plan::TreePlan`]) runs
//! [`indomain_learn::tree::pipeline::run`] as `indomain train --algorithm
//! gbdt` does (job agreement, PSI join on the id column, split, local
//! binning, the secure training with the instance space hidden or, where
//! the job asks and the policy allows, leaked, joint
//! scoring of the held-out rows, the label holder's release of the
//! metrics); a `predict` job with `algorithm = "gbdt"` scores new rows
//! with the model parts ([`indomain_learn::tree::pipeline::score_job`]).
//!
//! Outputs: `model` (a data party's tree model file, as `indomain train`
//! writes it: the shared structure, its own thresholds and gains, and at
//! the label holder the leaf weights) and `metrics` (the held-out
//! evaluation, the validation loss per tree and the contribution report,
//! JSON), to every data party; `predictions` (`id,score,prediction`: the
//! margin and, for the logistic loss, the probability) to the label
//! holder.
//!
//! What each party learns: what [`crate::plan::trees`] and
//! [`crate::plan::predict`] state; the dealer, the row count and the
//! shapes.

use super::raw_rows::{RawColumns, read_if_data, read_raw};
use super::{JobProtocol, JobRun, Produced, json_output};
use crate::daemon::error::JobError;
use crate::jobspec::JobSpec;
use crate::plan::{PredictPlan, TreePlan};
use indomain_learn::align::Roles;
use indomain_learn::binning::BinKind;
use indomain_learn::model::PartyRole;
use indomain_learn::tree::model::{AnyModel, TreeModelFile, load_any};
use indomain_learn::tree::pipeline::{self, TreeEvent};
use indomain_learn::tree::{Loss, Progress};
use std::fmt::Write;

impl JobProtocol for TreePlan {
    /// Reads this node's rows (none at the dealer) and trains the trees.
    fn run(&self, job: JobRun<'_>) -> Result<Vec<Produced>, JobError> {
        let table = read_if_data(&job, &self.vertical, &self.categorical)?;
        let JobRun {
            spec,
            parties,
            progress,
            own,
            ..
        } = job;
        progress.phase("running the protocol");
        let total = self.params.trees as u64;
        let outcome = pipeline::run(
            parties,
            &self.tree_job(),
            Ok(table.as_ref()),
            &mut rand::rng(),
            &mut |event| {
                if let TreeEvent::Training {
                    run: 0,
                    progress: Progress::Tree { tree, .. },
                } = event
                {
                    progress.count(tree as u64 + 1, total, "trees");
                }
            },
        )
        .map_err(|e| JobError::protocol("tree training", e))?;
        let Some(mut model) = outcome.model else {
            return Ok(Vec::new());
        };
        model.written_by = format!("indomain node {} (job {})", own.name(), spec.id);
        let metrics = serde_json::json!({
            "evaluation": model.evaluation,
            "validation_loss": model.validation_loss,
            "trees_grown": model.trees_grown,
            "trees_kept": model.trees.len(),
            "contribution": model.contribution,
            "instance_space": model.instance_space.name(),
        });
        Ok(vec![
            json_output("model", "model.json", &model)?,
            json_output("metrics", "metrics.json", &metrics)?,
        ])
    }
}

/// Scores this node's rows with its tree model part (the dealer serves
/// the products): a predict job with `algorithm = "gbdt"`.
pub(super) fn predict(plan: &PredictPlan, job: JobRun<'_>) -> Result<Vec<Produced>, JobError> {
    let me = job.parties.me();
    let spec = job.spec;
    let label = plan.label_holder.ok_or_else(|| {
        JobError::Job("a tree model is scored with its label holder named".into())
    })?;
    let roles = Roles::new(spec.parties.len(), label, plan.dealer)
        .map_err(|e| JobError::Job(e.to_string()))?;
    if plan.dealer == Some(me) {
        job.progress.phase("running the protocol");
        pipeline::score_job(job.parties, &roles, None, None, &mut rand::rng())
            .map_err(|e| JobError::protocol("joint scoring", e))?;
        return Ok(Vec::new());
    }
    let path = job.own.model_part(&plan.model)?;
    let name = path.display().to_string();
    let model = match load_any(&path).map_err(|e| JobError::Model(e.to_string()))? {
        AnyModel::Trees(m) => *m,
        AnyModel::Linear(_) => {
            return Err(JobError::Model(format!(
                "{name} is a linear model: score it with algorithm = \"linear\" (and no dealer)"
            )));
        }
    };
    check_parties(&model, spec, &roles, me, &name)?;
    let categorical: Vec<String> = model
        .features
        .iter()
        .filter(|f| matches!(f.kind, BinKind::Categorical { .. }))
        .map(|f| f.name.clone())
        .collect();
    let table = read_raw(
        &job,
        &RawColumns {
            id: &model.job.id_column,
            label: None,
            categorical: &categorical,
        },
    )?;
    job.progress.phase("running the protocol");
    let scored = pipeline::score_job(
        job.parties,
        &roles,
        Some(&model),
        Some(&table),
        &mut rand::rng(),
    )
    .map_err(|e| JobError::protocol("joint scoring", e))?;
    let Some((ids, margins)) = scored.scores else {
        return Ok(Vec::new());
    };
    let mut csv = format!("{},score,prediction\n", model.job.id_column);
    for (id, z) in ids.iter().zip(&margins) {
        let p = match model.job.params.loss {
            Loss::Logistic => 1.0 / (1.0 + (-z).exp()),
            Loss::Squared => *z,
        };
        let _ = writeln!(csv, "{id},{z},{p}");
    }
    Ok(vec![Produced {
        output: "predictions",
        file: "predictions.csv".into(),
        bytes: csv.into_bytes(),
    }])
}

/// Refuses a model part that is not this party's, or a job whose data
/// parties differ from the model's in names or order (a split is owned by
/// a party's rank: label holder first, then feature holders in order).
fn check_parties(
    model: &TreeModelFile,
    spec: &JobSpec,
    roles: &Roles,
    me: usize,
    name: &str,
) -> Result<(), JobError> {
    let my_name = &spec.parties[me].name;
    if &model.party != my_name || model.role == PartyRole::Dealer {
        return Err(JobError::Model(format!(
            "{name} is {}'s model part ({:?}), not a data party's of {my_name}",
            model.party, model.role
        )));
    }
    let ranked = |names: Vec<&str>| names.join(", ");
    let ours = ranked(
        std::iter::once(roles.label)
            .chain(roles.features.iter().copied())
            .map(|i| spec.parties[i].name.as_str())
            .collect(),
    );
    let label = model
        .job
        .parties
        .iter()
        .filter(|p| p.role == PartyRole::Label);
    let owners = model
        .job
        .parties
        .iter()
        .filter(|p| p.role == PartyRole::Feature);
    let theirs = ranked(label.chain(owners).map(|p| p.name.as_str()).collect());
    if ours != theirs {
        return Err(JobError::Model(format!(
            "{name}: the model's data parties are {theirs}, this job's {ours}: give the same parties in the same order and roles"
        )));
    }
    Ok(())
}
