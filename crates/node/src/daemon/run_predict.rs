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
//! id), and lists
//! the model's id column and feature columns, in the model's order. The
//! dealer of the training job takes no part. Output: `predictions`, to the
//! label holder only (`id,score,prediction`, the linear score and, for a
//! logistic model, the probability), for the ids every party holds.
//!
//! What each party learns: the number of rows every party holds (the
//! alignment); the label holder learns the scores.

use super::Node;
use super::run_mesh::Produced;
use super::run_train::learn_rows;
use crate::jobspec::JobSpec;
use indomain_learn::align::{Roles, align};
use indomain_learn::data::check_features;
use indomain_learn::model::PartyRole;
use indomain_learn::pipeline::Trained;
use indomain_learn::tree::model::{AnyModel, load_any};
use indomain_learn::{LearnError, agree, secure};
use indomain_net::PartySet;
use std::fmt::Write;

impl Node {
    /// Loads this node's model part, reads its rows and scores them jointly.
    pub(super) fn compute_predict(
        &self,
        spec: &JobSpec,
        parties: &mut PartySet,
        max_rows: Option<u64>,
    ) -> Result<Vec<Produced>, String> {
        let me = parties.me();
        let my_name = parties.name(me).to_string();
        let job = spec
            .text_param("model")
            .ok_or("a predict job names its training job (parameter model)")?;
        let model_path = self.released_file(job, "model.json")?;
        let model_name = model_path.display().to_string();
        let model = match load_any(&model_path).map_err(|e| e.to_string())? {
            AnyModel::Linear(m) => *m,
            AnyModel::Trees(_) => {
                return Err(format!(
                    "{model_name} is a tree model: score it with algorithm = \"gbdt\" and a dealer"
                ));
            }
        };
        if model.party != my_name || !matches!(model.role, PartyRole::Label | PartyRole::Feature) {
            return Err(format!(
                "{model_name} is {}'s model part ({:?}), not a data party's of {my_name}",
                model.party, model.role
            ));
        }
        let label_name = model
            .job
            .parties
            .iter()
            .find(|p| p.role == PartyRole::Label)
            .map(|p| p.name.clone())
            .ok_or_else(|| format!("{model_name}: its job names no label holder"))?;
        let label = spec
            .parties
            .iter()
            .position(|p| p.name == label_name)
            .ok_or_else(|| format!("the label holder {label_name} is not a party of the job"))?;
        if let Some(o) = spec
            .outputs
            .iter()
            .find(|o| o.name == "predictions" && o.receiver != label_name)
        {
            return Err(format!(
                "only the label holder ({label_name}) learns the scores: drop output \"predictions\" to {}",
                o.receiver
            ));
        }
        let roles = Roles::new(spec.parties.len(), label, None).map_err(|e| e.to_string())?;

        let party = &spec.parties[me];
        let dataset = self
            .config
            .datasets
            .get(&party.dataset)
            .ok_or_else(|| format!("no dataset {:?} on this node", party.dataset))?;
        let table = dataset
            .read(&party.columns, max_rows)
            .map_err(|e| e.to_string())?;
        let rows = learn_rows(&table, &model.job.id_column, None, &party.dataset)?;
        check_features(&model.features, &rows.feature_names, &rows.source)
            .map_err(|e| e.to_string())?;

        agree::same_job(parties, &model.job_hash).map_err(|e| match e {
            LearnError::Protocol { peer, .. } => format!(
                "party {peer}'s model part comes from another training job (ours is {})",
                model.job_hash
            ),
            other => other.to_string(),
        })?;
        let min_rows =
            usize::try_from(spec.int_param("min_group_size").unwrap_or(1).max(1)).unwrap_or(1);
        let (_, aligned) = align(parties, &roles, &rows.ids, min_rows, &mut rand::rng())
            .map_err(|e| format!("aligning the rows: {e}"))?;
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
        .map_err(|e| format!("the joint scoring failed: {e}"))?;
        let Some(scores) = scores else {
            return Ok(Vec::new());
        };
        let mut csv = format!("{},score,prediction\n", model.job.id_column);
        for (id, s) in aligned.ids.iter().zip(&scores) {
            let _ = writeln!(csv, "{id},{s},{}", model.prediction(*s));
        }
        if !spec.receivers("predictions").contains(&me) {
            return Ok(Vec::new());
        }
        Ok(vec![Produced {
            output: "predictions",
            file: "predictions.csv".into(),
            bytes: csv.into_bytes(),
        }])
    }
}
