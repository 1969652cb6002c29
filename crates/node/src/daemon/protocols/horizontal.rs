//! A horizontal training job under the node (`protocol = "train"`, `mode
//! = "horizontal"`): every client reads its rows from its own dataset and,
//! with the server (a party of the job that reads no data), runs
//! [`indomain_learn::horizontal_job::run_horizontal`] — FedAvg over
//! secure aggregation, with distributed differential privacy when the job
//! sets `dp_epsilon` — as `indomain train --mode horizontal` does.
//!
//! Everything the job runs with comes from its [`HorizontalPlan`], built
//! and bounded before any party accepted (parameters: see
//! [`crate::plan::horizontal`]). Outputs: `model` (the global model, as
//! the model file `indomain train` writes, with ε, δ and the clipping
//! norm when the training was private) for every party, and `metrics` (a
//! client's held-out evaluation on its own rows, JSON) for the clients
//! that declare it. A client's DP budget counts as opened once the rounds
//! begin (the server may then learn a noisy sum); a job that fails before
//! (a bad cell, too few rows at any client) is refunded.
//!
//! What each party learns: what [`indomain_learn::horizontal_job`] says —
//! the server and every client the global model after each round; no
//! party another client's rows, update or row count.

use super::{JobProtocol, JobRun, Produced, at, cell_number, json_output};
use crate::daemon::error::JobError;
use crate::dataset::Table;
use crate::plan::HorizontalPlan;
use indomain_learn::Task;
use indomain_learn::data::Table as Rows;
use indomain_learn::horizontal_job::run_horizontal;
use ndarray::Array2;

impl JobProtocol for HorizontalPlan {
    fn run(&self, job: JobRun<'_>) -> Result<Vec<Produced>, JobError> {
        let JobRun {
            spec,
            parties,
            max_rows,
            progress,
            own,
        } = job;
        let me = parties.me();
        let rows = if me == self.server {
            None
        } else {
            progress.phase("reading data");
            let table = own.read(max_rows)?;
            Some(client_rows(&table, self, &spec.parties[me].dataset)?)
        };
        progress.phase("running the protocol");
        let outcome = run_horizontal(
            parties,
            &self.horizontal_job(),
            Ok(rows.as_ref()),
            &mut rand::rng(),
            &mut || progress.opening(),
        )
        .map_err(|e| JobError::protocol("horizontal training", e))?;
        let mut model = outcome.model;
        model.written_by = format!("indomain node {} (job {})", own.name(), spec.id);
        let mut produced = Vec::new();
        if self.metrics.contains(&me) {
            produced.push(json_output("metrics", "metrics.json", &model.evaluation)?);
        }
        produced.push(json_output("model", "model.json", &model)?);
        Ok(produced)
    }
}

/// A client's rows as the training takes them: the plan's features in its
/// order and the label; a cell that is not a finite number, or a label
/// other than 0 or 1 for logistic regression, is an error naming the
/// dataset, row and column.
fn client_rows(table: &Table, plan: &HorizontalPlan, dataset: &str) -> Result<Rows, JobError> {
    let find = |name: &str| {
        table.columns.iter().position(|c| c == name).ok_or_else(|| {
            JobError::Job(format!(
                "the job's columns of dataset {dataset:?} lack {name:?}"
            ))
        })
    };
    let label_at = find(&plan.label_column)?;
    let feature_at = plan
        .features
        .iter()
        .map(|f| find(f))
        .collect::<Result<Vec<_>, _>>()?;
    let logistic = plan.fedavg.local.task == Task::Logistic;
    let n = table.rows.len();
    let mut values = Vec::with_capacity(n * feature_at.len());
    let mut labels = Vec::with_capacity(n);
    for (r, row) in table.rows.iter().enumerate() {
        let cell = |i: usize| cell_number(&row[i], || at(dataset, r, &table.columns[i]));
        for &i in &feature_at {
            values.push(cell(i)?);
        }
        let y = cell(label_at)?;
        if logistic && y != 0.0 && y != 1.0 {
            return Err(JobError::Data {
                at: at(dataset, r, &table.columns[label_at]),
                reason: format!("label {y} is not 0 or 1 (logistic regression)"),
            });
        }
        labels.push(y);
    }
    let x = Array2::from_shape_vec((n, feature_at.len()), values)
        .map_err(|e| JobError::Job(e.to_string()))?;
    Ok(Rows {
        source: format!("dataset {dataset:?}"),
        ids: (1..=n).map(|r| r.to_string()).collect(),
        lines: (1..=n as u64).collect(),
        feature_names: plan.features.clone(),
        x,
        y: Some(labels),
    })
}
