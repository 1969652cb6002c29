//! A vertical training job under the node (`protocol = "train"`): the
//! label holder and the feature holders read their rows from their own
//! datasets, and with the dealer (a party of the job that reads no data)
//! run [`indomain_learn::pipeline::run_with`] as `indomain train --mode
//! vertical` does: job agreement, row alignment by PSI join on the id
//! column (the fewest shared rows, `min_rows`, is checked on the count
//! before the join is revealed), split, secure training, joint scoring of
//! the held-out rows for the receivers of the metrics.
//!
//! Everything the job runs with comes from its [`TrainPlan`], built and
//! bounded before any party accepted (parameters: see
//! [`crate::plan::train`]). Outputs: `model` (a data party's own part of
//! the model, as the model file `indomain train` writes, which `predict`
//! jobs use) and `metrics` (the held-out evaluation, JSON).
//!
//! What each party learns: what the pipeline reveals to it under the
//! plan's releases (the dealer: the row count and the job's shape; every
//! data party its own model part; the metrics' receivers the evaluation);
//! nothing the job does not declare for it.

use super::{JobProtocol, JobRun, Produced, at, cell_number, cell_text, json_output};
use crate::daemon::error::JobError;
use crate::dataset::Table;
use crate::plan::TrainPlan;
use indomain_learn::Task;
use indomain_learn::data::Table as Rows;
use indomain_learn::model::PartyRole;
use indomain_learn::pipeline;
use ndarray::Array2;
use std::collections::HashMap;

impl JobProtocol for TrainPlan {
    fn run(&self, job: JobRun<'_>) -> Result<Vec<Produced>, JobError> {
        let JobRun {
            spec,
            parties,
            max_rows,
            progress,
            own,
        } = job;
        let vertical = self.vertical_job();
        let me = parties.me();
        let role = vertical.spec.parties[me].role;
        let party = &spec.parties[me];
        let rows = match role {
            PartyRole::Dealer => None,
            _ => {
                progress.phase("reading data");
                let table = own.read(max_rows)?;
                let label = (role == PartyRole::Label)
                    .then_some((self.label_column.as_str(), self.params.task));
                Some(learn_rows(&table, &self.id_column, label, &party.dataset)?)
            }
        };
        progress.phase("running the protocol");
        let mut trainer = indomain_learn::secure::Trainer::new(self.params.frac_bits);
        let outcome = pipeline::run_with(
            parties,
            &vertical,
            &self.releases,
            Ok(rows.as_ref()),
            &mut trainer,
            &mut rand::rng(),
            &mut |_| {},
        )
        .map_err(|e| JobError::protocol("training", e))?;
        let Some(mut model) = outcome.model else {
            return Ok(Vec::new());
        };
        model.written_by = format!("indomain node {} (job {})", own.name(), spec.id);
        let mut produced = Vec::new();
        if spec.receivers("metrics").contains(&me) {
            produced.push(json_output("metrics", "metrics.json", &model.evaluation)?);
        }
        produced.push(json_output("model", "model.json", &model)?);
        Ok(produced)
    }
}

/// A data party's rows as the pipeline takes them: the id column, the
/// label column at the label holder, every other listed column a feature.
/// An empty or repeated id, a cell that is not a finite number, or a
/// label other than 0 or 1 for logistic regression is an error naming
/// the dataset, row and column.
pub(super) fn learn_rows(
    table: &Table,
    id_column: &str,
    label: Option<(&str, Task)>,
    dataset: &str,
) -> Result<Rows, JobError> {
    let find = |name: &str| {
        table.columns.iter().position(|c| c == name).ok_or_else(|| {
            JobError::Job(format!(
                "the job's columns of dataset {dataset:?} lack {name:?}"
            ))
        })
    };
    let id_at = find(id_column)?;
    let label_at = label.map(|(column, _)| find(column)).transpose()?;
    let logistic = matches!(label, Some((_, Task::Logistic)));
    let feature_at: Vec<usize> = (0..table.columns.len())
        .filter(|&i| i != id_at && Some(i) != label_at)
        .collect();
    if feature_at.is_empty() {
        return Err(JobError::Job(format!(
            "no feature columns in dataset {dataset:?}"
        )));
    }
    let n = table.rows.len();
    let mut ids = Vec::with_capacity(n);
    let mut values = Vec::with_capacity(n * feature_at.len());
    let mut labels = label_at.map(|_| Vec::with_capacity(n));
    let mut seen: HashMap<String, usize> = HashMap::with_capacity(n);
    for (r, row) in table.rows.iter().enumerate() {
        let place = |i: usize| at(dataset, r, &table.columns[i]);
        let bad = |i: usize, reason: String| JobError::Data {
            at: place(i),
            reason,
        };
        let id = cell_text(&row[id_at]).trim().to_string();
        if id.is_empty() {
            return Err(bad(id_at, "empty id".into()));
        }
        if let Some(first) = seen.insert(id.clone(), r + 1) {
            return Err(bad(id_at, format!("id {id:?} repeats row {first}")));
        }
        for &i in &feature_at {
            values.push(cell_number(&row[i], || place(i))?);
        }
        if let (Some(i), Some(labels)) = (label_at, labels.as_mut()) {
            let y = cell_number(&row[i], || place(i))?;
            if logistic && y != 0.0 && y != 1.0 {
                return Err(bad(
                    i,
                    format!("label {y} is not 0 or 1 (logistic regression)"),
                ));
            }
            labels.push(y);
        }
        ids.push(id);
    }
    if ids.is_empty() {
        return Err(JobError::Job(format!("dataset {dataset:?} has no rows")));
    }
    let x = Array2::from_shape_vec((n, feature_at.len()), values)
        .map_err(|e| JobError::Job(e.to_string()))?;
    Ok(Rows {
        source: format!("dataset {dataset:?}"),
        lines: (1..=n as u64).collect(),
        ids,
        feature_names: feature_at
            .iter()
            .map(|&i| table.columns[i].clone())
            .collect(),
        x,
        y: labels,
    })
}
