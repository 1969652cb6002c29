//! A scoring job under the node (`protocol = "predict"`): the data parties
//! of a training job that ran under these nodes score new rows jointly
//! with their model parts, as `indomain predict` does: the parties check
//! that their model parts come from the same training job, align their
//! rows by PSI join on the model's id column, and a secure sum opens the
//! scores to the label holder only.
//!
//! The spec: parameter `model` is the id of the training job; each party
//! uses the model part that job released to it
//! (`results/<proposer>/<training job>/model.json` beside its audit log;
//! `model = "<proposer>/<id>"` names it when several proposers used the
//! id), and lists the model's id column and feature columns, in the
//! model's order. The job's parties are exactly the training job's data
//! parties (its dealer takes no part): a job that leaves one out or adds
//! another is refused before anyone accepts it (each data party's node
//! checks its own model part when it decides: `Node::check_scoring_parties`),
//! and again before any row is read. Output: `predictions`, to
//! the label holder only (`id,score,prediction`, the linear score and, for
//! a logistic model, the probability), for the ids every party holds.
//!
//! A model of trees or a scorecard (`algorithm = "gbdt"` or
//! `"scorecard"`) is scored by `trees.rs` or `scorecard.rs`, with the
//! dealer the plan names.
//!
//! What each party learns: the number of rows every party holds (the
//! alignment); the label holder learns the scores.

use super::train::learn_rows;
use super::{JobProtocol, JobRun, Produced};
use crate::daemon::error::JobError;
use crate::jobspec::{JobSpec, Party};
use crate::plan::{JobPlan, ModelKind, PredictPlan};
use indomain_learn::align::{Roles, align};
use indomain_learn::data::check_features;
use indomain_learn::model::{JobParty, PartyRole};
use indomain_learn::pipeline::Trained;
use indomain_learn::scorecard::model::ScorecardFile;
use indomain_learn::tree::model::{AnyModel, load_any};
use indomain_learn::{LearnError, agree, secure};
use std::collections::BTreeSet;
use std::fmt::Write;

/// A model scores only with every data party of its training job, and no
/// other party: a scoring job's parties are exactly those.
pub(super) fn bound_to_training(
    model: &str,
    trained: &[JobParty],
    scoring: &[Party],
) -> Result<(), JobError> {
    let trained_by: BTreeSet<&str> = trained
        .iter()
        .filter(|p| p.role != PartyRole::Dealer)
        .map(|p| p.name.as_str())
        .collect();
    let scoring: BTreeSet<&str> = scoring.iter().map(|p| p.name.as_str()).collect();
    if trained_by == scoring {
        return Ok(());
    }
    Err(JobError::Model(format!(
        "the model of training job {model} scores with its data parties ({}), not with {}",
        trained_by.into_iter().collect::<Vec<_>>().join(", "),
        scoring.into_iter().collect::<Vec<_>>().join(", ")
    )))
}

impl crate::daemon::Node {
    /// Refuses a scoring job whose data parties (its parties but the
    /// plan's dealer) are not exactly those that trained this node's part
    /// of its model: run where the node decides on the job (proposing it,
    /// or answering its proposal), so that such a job is refused before
    /// anyone accepts. The scoring dealer holds no model part: it checks
    /// nothing.
    pub(in crate::daemon) fn check_scoring_parties(
        &self,
        spec: &JobSpec,
        plan: &JobPlan,
    ) -> Result<(), JobError> {
        let JobPlan::Predict(plan) = plan else {
            return Ok(());
        };
        let me = spec.parties.iter().position(|p| p.name == self.config.name);
        if me.is_none() || me == plan.dealer {
            return Ok(());
        }
        let path = self.model_part(&plan.model)?;
        let bad = |e: LearnError| JobError::Model(format!("{}: {e}", path.display()));
        let trained = if ScorecardFile::is_scorecard(&path) {
            ScorecardFile::load(&path).map_err(bad)?.job.parties
        } else {
            match load_any(&path).map_err(bad)? {
                AnyModel::Linear(m) => m.job.parties,
                AnyModel::Trees(m) => m.job.parties,
            }
        };
        let scoring: Vec<Party> = spec
            .parties
            .iter()
            .enumerate()
            .filter(|(i, _)| Some(*i) != plan.dealer)
            .map(|(_, p)| p.clone())
            .collect();
        bound_to_training(&plan.model, &trained, &scoring)
    }
}

impl JobProtocol for PredictPlan {
    fn run(&self, job: JobRun<'_>) -> Result<Vec<Produced>, JobError> {
        match self.kind {
            ModelKind::Linear => self.linear(job),
            ModelKind::Trees => super::trees::predict(self, job),
            ModelKind::Scorecard => super::scorecard::predict(self, job),
        }
    }
}

impl PredictPlan {
    /// Scoring with a linear model's parts.
    fn linear(&self, job: JobRun<'_>) -> Result<Vec<Produced>, JobError> {
        let JobRun {
            spec,
            parties,
            max_rows,
            progress,
            own,
        } = job;
        let me = parties.me();
        let my_name = parties.name(me).to_string();
        let model_path = own.model_part(&self.model)?;
        let model_name = model_path.display().to_string();
        let model = match load_any(&model_path).map_err(|e| JobError::Model(e.to_string()))? {
            AnyModel::Linear(m) => *m,
            AnyModel::Trees(_) => {
                return Err(JobError::Model(format!(
                    "{model_name} is a tree model: score it with algorithm = \"gbdt\" and a dealer"
                )));
            }
        };
        if model.party != my_name || !matches!(model.role, PartyRole::Label | PartyRole::Feature) {
            return Err(JobError::Model(format!(
                "{model_name} is {}'s model part ({:?}), not a data party's of {my_name}",
                model.party, model.role
            )));
        }
        bound_to_training(&self.model, &model.job.parties, &spec.parties)?;
        let label_name = model
            .job
            .parties
            .iter()
            .find(|p| p.role == PartyRole::Label)
            .map(|p| p.name.clone())
            .ok_or_else(|| {
                JobError::Model(format!("{model_name}: its job names no label holder"))
            })?;
        let label = spec
            .parties
            .iter()
            .position(|p| p.name == label_name)
            .ok_or_else(|| {
                JobError::Model(format!(
                    "the label holder {label_name} is not a party of the job"
                ))
            })?;
        if self.receiver != label {
            return Err(JobError::Model(format!(
                "only the label holder ({label_name}) learns the scores: declare output \"predictions\" for it alone"
            )));
        }
        let roles = Roles::new(spec.parties.len(), label, None)
            .map_err(|e| JobError::Job(e.to_string()))?;

        progress.phase("reading data");
        let party = &spec.parties[me];
        let table = own.read(max_rows)?;
        let rows = learn_rows(&table, &model.job.id_column, None, &party.dataset)?;
        check_features(&model.features, &rows.feature_names, &rows.source)
            .map_err(|e| JobError::Model(e.to_string()))?;

        progress.phase("running the protocol");
        agree::same_job(parties, &model.job_hash).map_err(|e| match e {
            LearnError::Protocol { peer, .. } => JobError::Model(format!(
                "party {peer}'s model part comes from another training job (ours is {})",
                model.job_hash
            )),
            other => JobError::protocol("model agreement", other),
        })?;
        let (_, aligned) = align(parties, &roles, &rows.ids, self.min_rows, &mut rand::rng())
            .map_err(|e| JobError::protocol("row alignment", e))?;
        let aligned = rows.select(&aligned.unwrap_or_default());
        let x = match &model.standardizer {
            Some(s) => s.apply(aligned.x.view()),
            None => aligned.x.clone(),
        };
        let trained = Trained {
            weights: model.weights.clone(),
            intercept: model.intercept,
            ..Trained::default()
        };
        let scores = secure::joint_scores(
            parties,
            &roles,
            x.view(),
            &trained,
            model.job.params.frac_bits,
        )
        .map_err(|e| JobError::protocol("joint scoring", e))?;
        let Some(scores) = scores else {
            return Ok(Vec::new());
        };
        let mut csv = format!("{},score,prediction\n", model.job.id_column);
        for (id, s) in aligned.ids.iter().zip(&scores) {
            let _ = writeln!(csv, "{id},{s},{}", model.prediction(*s));
        }
        Ok(vec![Produced {
            output: "predictions",
            file: "predictions.csv".into(),
            bytes: csv.into_bytes(),
        }])
    }
}
