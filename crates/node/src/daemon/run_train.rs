//! A vertical training job under the node (`protocol = "train"`): the
//! label holder and the feature holders read their rows from their own
//! datasets, and with the dealer (a party of the job that reads no data)
//! run [`indomain_learn::pipeline::run`] as `indomain train --mode
//! vertical` does: job agreement, row alignment by PSI join on the id
//! column, split, secure training, joint scoring of the held-out rows.
//!
//! The spec: parameters `label_holder` and `dealer` name two parties;
//! `id_column` is the id every data party lists among its columns;
//! `label_column` is one of the label holder's columns; every other
//! column a data party lists is a feature. The dealer's party entry has no
//! dataset and no columns. Optional parameters, with the CLI's defaults:
//! `task` (`logistic` or `linear`), `epochs`, `learning_rate`, `l2`,
//! `batch_size`, `test_fraction`, `seed`, `frac_bits`, `min_rows` (at
//! least `min_group_size` when that is set), `contribution` (false).
//! Outputs: `model` (a data party's own part of the model, as the model
//! file `indomain train` writes, which `predict` jobs use) and `metrics`
//! (the held-out evaluation, JSON), each to data parties only.
//!
//! What each party learns: what the pipeline reveals to it (the dealer:
//! the row count and the job's shape); its model part and the metrics only
//! if the job declares them for it.

use super::Node;
use super::run_aggregate::{cell_number, cell_text};
use super::run_mesh::Produced;
use crate::dataset::Table;
use crate::jobspec::JobSpec;
use indomain_learn::align::Roles;
use indomain_learn::calibration::Method;
use indomain_learn::data::Table as Rows;
use indomain_learn::model::{JobParty, JobSpec as LearnSpec, PartyRole};
use indomain_learn::pipeline::{self, VerticalJob};
use indomain_learn::{Convergence, Optimizer, Sigmoid, Task, TrainParams};
use indomain_net::PartySet;
use ndarray::Array2;
use std::collections::HashMap;

/// The fewest shared rows a training job accepts unless it says otherwise.
const DEFAULT_MIN_ROWS: i64 = 20;

impl Node {
    /// Reads this node's rows (none at the dealer) and runs the training.
    pub(super) fn compute_train(
        &self,
        spec: &JobSpec,
        parties: &mut PartySet,
        max_rows: Option<u64>,
    ) -> Result<Vec<Produced>, String> {
        let job = vertical_job(spec)?;
        let me = parties.me();
        let role = job.spec.parties[me].role;
        let party = &spec.parties[me];
        let table = match role {
            PartyRole::Dealer => None,
            _ => {
                let dataset = self
                    .config
                    .datasets
                    .get(&party.dataset)
                    .ok_or_else(|| format!("no dataset {:?} on this node", party.dataset))?;
                let table = dataset
                    .read(&party.columns, max_rows)
                    .map_err(|e| e.to_string())?;
                let label = match role {
                    PartyRole::Label => Some(spec.text_param("label_column").ok_or(
                        "the label holder's label column is not set (parameter label_column)",
                    )?),
                    _ => None,
                };
                let task = job.spec.params.task;
                Some(learn_rows(
                    &table,
                    &job.spec.id_column,
                    label.map(|l| (l, task)),
                    &party.dataset,
                )?)
            }
        };
        let mut trainer = indomain_learn::secure::Trainer::new(job.spec.params.frac_bits);
        let outcome = pipeline::run(
            parties,
            &job,
            Ok(table.as_ref()),
            &mut trainer,
            &mut rand::rng(),
            &mut |_| {},
        )
        .map_err(|e| format!("the training failed: {e}"))?;
        let mut produced = Vec::new();
        if let Some(mut model) = outcome.model {
            model.written_by = format!("indomain node {} (job {})", self.config.name, spec.id);
            let declared = |output: &str| spec.receivers(output).contains(&me);
            if declared("metrics") {
                let bytes = serde_json::to_vec_pretty(&model.evaluation)
                    .map_err(|e| format!("rendering the metrics: {e}"))?;
                produced.push(Produced {
                    output: "metrics",
                    file: "metrics.json".into(),
                    bytes,
                });
            }
            if declared("model") {
                let bytes = serde_json::to_vec_pretty(&model)
                    .map_err(|e| format!("rendering the model: {e}"))?;
                produced.push(Produced {
                    output: "model",
                    file: "model.json".into(),
                    bytes,
                });
            }
        }
        Ok(produced)
    }
}

/// The training job a spec describes, with the roles in party order.
fn vertical_job(spec: &JobSpec) -> Result<VerticalJob, String> {
    let at = |param: &str| -> Result<usize, String> {
        let name = spec
            .text_param(param)
            .ok_or_else(|| format!("a training job names its {param} (parameter {param})"))?;
        spec.parties
            .iter()
            .position(|p| p.name == name)
            .ok_or_else(|| format!("parameter {param}: {name:?} is not a party of the job"))
    };
    let (label, dealer) = (at("label_holder")?, at("dealer")?);
    let roles = Roles::new(spec.parties.len(), label, Some(dealer)).map_err(|e| e.to_string())?;
    let dealer_name = &spec.parties[dealer].name;
    for o in &spec.outputs {
        if o.name == "model-share" {
            return Err(
                "vertical training under the node releases `model` and `metrics`, not `model-share`"
                    .into(),
            );
        }
        if &o.receiver == dealer_name {
            return Err(format!(
                "{dealer_name} is the dealer and learns no model and no metrics: drop output {:?} to it",
                o.name
            ));
        }
    }
    let int = |name: &str, default: i64| -> Result<usize, String> {
        usize::try_from(spec.int_param(name).unwrap_or(default))
            .map_err(|_| format!("parameter {name} must not be negative"))
    };
    let number = |name: &str, default: f64| spec.number_param(name).unwrap_or(default);
    let defaults = TrainParams::default();
    let task = match spec.text_param("task") {
        None | Some("logistic") => Task::Logistic,
        Some("linear") => Task::Linear,
        Some(other) => {
            return Err(format!(
                "parameter task = {other:?}: use logistic or linear"
            ));
        }
    };
    let sigmoid = match spec.text_param("sigmoid") {
        None => defaults.sigmoid,
        Some("fourier") => Sigmoid::Fourier,
        Some("linear") => Sigmoid::Linear,
        Some("clamped") => Sigmoid::Clamped,
        Some(other) => {
            return Err(format!(
                "parameter sigmoid = {other:?}: use fourier, linear or clamped"
            ));
        }
    };
    let optimizer = match spec.text_param("optimizer") {
        None => defaults.optimizer,
        Some("bound-newton") => Optimizer::DEFAULT,
        Some("gradient-descent") => Optimizer::GradientDescent,
        Some(other) => {
            return Err(format!(
                "parameter optimizer = {other:?}: use bound-newton or gradient-descent"
            ));
        }
    };
    // The convergence test is on unless the job asks for a fixed number of
    // epochs (convergence = false).
    let convergence = match spec.parameters.get("convergence") {
        Some(crate::jobspec::Param::Bool(false)) => None,
        _ => Some(Convergence {
            tolerance: number("tolerance", Convergence::default().tolerance),
            ..Convergence::default()
        }),
    };
    let params = TrainParams {
        task,
        epochs: int("epochs", defaults.epochs as i64)?,
        learning_rate: number("learning_rate", defaults.learning_rate),
        l2: number("l2", defaults.l2),
        batch_size: spec
            .int_param("batch_size")
            .map(|b| usize::try_from(b).map_err(|_| "parameter batch_size must be positive"))
            .transpose()?,
        early_stopping: None,
        frac_bits: u32::try_from(int("frac_bits", i64::from(defaults.frac_bits))?)
            .map_err(|_| "parameter frac_bits is out of range")?,
        seed: u64::try_from(spec.int_param("seed").unwrap_or(0))
            .map_err(|_| "parameter seed must not be negative")?,
        sigmoid,
        optimizer,
        convergence,
        recalibration: match spec.text_param("recalibration") {
            None | Some("none") => None,
            Some("platt") => Some(Method::Platt),
            Some("isotonic") => Some(Method::Isotonic),
            Some(other) => {
                return Err(format!(
                    "parameter recalibration = {other:?}: use none, platt or isotonic"
                ));
            }
        },
    };
    let test_fraction = number("test_fraction", 0.25);
    if !(test_fraction > 0.0 && test_fraction < 1.0) {
        return Err("parameter test_fraction must be between 0 and 1".into());
    }
    let min_rows = int("min_rows", DEFAULT_MIN_ROWS)?.max(int("min_group_size", 0)?);
    let id_column = spec
        .text_param("id_column")
        .ok_or("a training job names the rows' id column (parameter id_column)")?;
    let contribution = matches!(
        spec.parameters.get("contribution"),
        Some(crate::jobspec::Param::Bool(true))
    );
    Ok(VerticalJob {
        spec: LearnSpec {
            mode: "vertical".into(),
            parties: spec
                .parties
                .iter()
                .enumerate()
                .map(|(i, p)| JobParty {
                    name: p.name.clone(),
                    role: if i == label {
                        PartyRole::Label
                    } else if i == dealer {
                        PartyRole::Dealer
                    } else {
                        PartyRole::Feature
                    },
                })
                .collect(),
            id_column: id_column.to_string(),
            test_fraction,
            params,
            horizontal: None,
            nonce: String::new(),
        },
        roles,
        min_rows,
        contribution,
    })
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
) -> Result<Rows, String> {
    let find = |name: &str| {
        table
            .columns
            .iter()
            .position(|c| c == name)
            .ok_or_else(|| format!("the job's columns of dataset {dataset:?} lack {name:?}"))
    };
    let id_at = find(id_column)?;
    let label_at = label.map(|(column, _)| find(column)).transpose()?;
    let logistic = matches!(label, Some((_, Task::Logistic)));
    let feature_at: Vec<usize> = (0..table.columns.len())
        .filter(|&i| i != id_at && Some(i) != label_at)
        .collect();
    if feature_at.is_empty() {
        return Err(format!("no feature columns in dataset {dataset:?}"));
    }
    let n = table.rows.len();
    let mut ids = Vec::with_capacity(n);
    let mut values = Vec::with_capacity(n * feature_at.len());
    let mut labels = label_at.map(|_| Vec::with_capacity(n));
    let mut seen: HashMap<String, usize> = HashMap::with_capacity(n);
    for (r, row) in table.rows.iter().enumerate() {
        let at = |i: usize| {
            format!(
                "dataset {dataset:?}, row {}, column {:?}",
                r + 1,
                table.columns[i]
            )
        };
        let id = cell_text(&row[id_at]).trim().to_string();
        if id.is_empty() {
            return Err(format!("{}: empty id", at(id_at)));
        }
        if let Some(first) = seen.insert(id.clone(), r + 1) {
            return Err(format!("{}: id {id:?} repeats row {first}", at(id_at)));
        }
        for &i in &feature_at {
            values.push(cell_number(&row[i]).map_err(|e| format!("{}: {e}", at(i)))?);
        }
        if let (Some(i), Some(labels)) = (label_at, labels.as_mut()) {
            let y = cell_number(&row[i]).map_err(|e| format!("{}: {e}", at(i)))?;
            if logistic && y != 0.0 && y != 1.0 {
                return Err(format!(
                    "{}: label {y} is not 0 or 1 (logistic regression)",
                    at(i)
                ));
            }
            labels.push(y);
        }
        ids.push(id);
    }
    if ids.is_empty() {
        return Err(format!("dataset {dataset:?} has no rows"));
    }
    let x = Array2::from_shape_vec((n, feature_at.len()), values).map_err(|e| e.to_string())?;
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
