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
//! that declare it. The DP budget of a client's dataset counts as opened
//! once the rounds begin (the server may then learn a noisy sum).
//!
//! What each party learns: what [`indomain_learn::horizontal_job`] says —
//! the server and every client the global model after each round; no
//! party another client's rows, update or row count.

use super::Node;
use super::run_aggregate::cell_number;
use super::run_mesh::Produced;
use crate::dataset::Table;
use crate::jobspec::JobSpec;
use crate::plan::{HorizontalPlan, JobPlan};
use crate::state::JobKey;
use indomain_learn::Task;
use indomain_learn::data::Table as Rows;
use indomain_learn::horizontal_job::run_horizontal;
use indomain_net::PartySet;
use ndarray::Array2;

impl Node {
    /// Reads this client's rows (none at the server) and runs the training.
    pub(super) fn compute_horizontal(
        &self,
        key: &JobKey,
        spec: &JobSpec,
        parties: &mut PartySet,
        max_rows: Option<u64>,
    ) -> Result<Vec<Produced>, String> {
        let Ok(JobPlan::Horizontal(plan)) = spec.plan() else {
            return Err("the job is not a horizontal training job".into());
        };
        let me = parties.me();
        let party = &spec.parties[me];
        let rows = if me == plan.server {
            None
        } else {
            let dataset = self
                .config
                .datasets
                .get(&party.dataset)
                .ok_or_else(|| format!("no dataset {:?} on this node", party.dataset))?;
            let table = dataset
                .read(&party.columns, max_rows)
                .map_err(|e| e.to_string())?;
            Some(client_rows(&table, &plan, &party.dataset)?)
        };
        let outcome = run_horizontal(
            parties,
            &plan.horizontal_job(),
            Ok(rows.as_ref()),
            &mut rand::rng(),
            &mut || self.mark_opened(key),
        )
        .map_err(|e| format!("the training failed: {e}"))?;
        let mut model = outcome.model;
        model.written_by = format!("indomain node {} (job {})", self.config.name, spec.id);
        let mut produced = Vec::new();
        if plan.metrics.contains(&me) {
            let bytes = serde_json::to_vec_pretty(&model.evaluation)
                .map_err(|e| format!("rendering the metrics: {e}"))?;
            produced.push(Produced {
                output: "metrics",
                file: "metrics.json".into(),
                bytes,
            });
        }
        let bytes =
            serde_json::to_vec_pretty(&model).map_err(|e| format!("rendering the model: {e}"))?;
        produced.push(Produced {
            output: "model",
            file: "model.json".into(),
            bytes,
        });
        Ok(produced)
    }
}

/// A client's rows as the training takes them: the plan's features in its
/// order and the label; a cell that is not a finite number, or a label
/// other than 0 or 1 for logistic regression, is an error naming the
/// dataset, row and column.
fn client_rows(table: &Table, plan: &HorizontalPlan, dataset: &str) -> Result<Rows, String> {
    let find = |name: &str| {
        table
            .columns
            .iter()
            .position(|c| c == name)
            .ok_or_else(|| format!("the job's columns of dataset {dataset:?} lack {name:?}"))
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
        let at = |i: usize| {
            format!(
                "dataset {dataset:?}, row {}, column {:?}",
                r + 1,
                table.columns[i]
            )
        };
        for &i in &feature_at {
            values.push(cell_number(&row[i]).map_err(|e| format!("{}: {e}", at(i)))?);
        }
        let y = cell_number(&row[label_at]).map_err(|e| format!("{}: {e}", at(label_at)))?;
        if logistic && y != 0.0 && y != 1.0 {
            return Err(format!(
                "{}: label {y} is not 0 or 1 (logistic regression)",
                at(label_at)
            ));
        }
        labels.push(y);
    }
    let x = Array2::from_shape_vec((n, feature_at.len()), values).map_err(|e| e.to_string())?;
    Ok(Rows {
        source: format!("dataset {dataset:?}"),
        ids: (1..=n).map(|r| r.to_string()).collect(),
        lines: (1..=n as u64).collect(),
        feature_names: plan.features.clone(),
        x,
        y: Some(labels),
    })
}
