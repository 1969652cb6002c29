//! The plaintext reference of a vertical job: every party's file joined in
//! the clear, in the order, split and standardisation the secure job uses
//! (rows shared by all files, sorted by id; [`crate::data::split`]; each
//! party's columns standardised on the training rows), then trained with
//! [`crate::plain`] — gradient descent as the secure training does it, or
//! for the bound-Newton optimizer the converged optimum on the rows the
//! secure training trains on. Tests, the demo and the benchmarks compare
//! the secure model with it; no party of a real job can compute it.

use crate::LearnError;
use crate::data::{Standardizer, Table, split};
use crate::metrics::{self, Evaluation};
use crate::params::{Task, TrainParams};
use crate::plain::{self, Fit};
use ndarray::{Array2, Axis, concatenate};
use std::collections::HashMap;

/// The reference model and its held-out evaluation.
#[derive(Debug, Clone)]
pub struct Reference {
    /// The plaintext fit over all columns (label holder's first).
    pub fit: Fit,
    /// The fit's weights cut per table, in table order.
    pub weights: Vec<Vec<f64>>,
    /// Held-out metrics with the exact link function.
    pub evaluation: Evaluation,
    /// Held-out outputs (probabilities or predictions).
    pub test_outputs: Vec<f64>,
    /// Held-out labels.
    pub test_labels: Vec<f64>,
    /// The held-out rows, joined and standardised as the secure job does
    /// (label holder's columns first): for scoring other weights in the
    /// clear.
    pub test_x: Array2<f64>,
    /// The training split's rows, joined and standardised (all of them,
    /// validation rows included), and their labels: for fitting with
    /// another library.
    pub train_x: Array2<f64>,
    /// See `train_x`.
    pub train_labels: Vec<f64>,
    /// Rows shared by every table.
    pub shared_rows: usize,
}

/// Joins `tables` (the label holder's, with labels, first) and trains.
/// `activation` replaces the sigmoid in the gradient (e.g. the secure
/// training's approximation); `None` uses the exact link.
pub fn vertical(
    tables: &[&Table],
    test_fraction: f64,
    params: &TrainParams,
    activation: Option<fn(f64) -> f64>,
) -> Result<Reference, LearnError> {
    let label = tables
        .first()
        .filter(|t| t.y.is_some())
        .ok_or_else(|| LearnError::Params("the first table must hold the labels".into()))?;
    let index: Vec<HashMap<&str, usize>> = tables
        .iter()
        .map(|t| {
            t.ids
                .iter()
                .enumerate()
                .map(|(i, id)| (id.trim(), i))
                .collect()
        })
        .collect();
    let mut shared: Vec<&str> = label
        .ids
        .iter()
        .map(|id| id.trim())
        .filter(|id| index.iter().all(|m| m.contains_key(id)))
        .collect();
    shared.sort_unstable();
    let parts = split(shared.len(), test_fraction, params.seed);
    let mut train_blocks = Vec::new();
    let mut test_blocks = Vec::new();
    for (t, m) in tables.iter().zip(&index) {
        let rows: Vec<usize> = shared.iter().map(|id| m[id]).collect();
        let aligned = t.select(&rows);
        let (tr, te) = (aligned.select(&parts.train), aligned.select(&parts.test));
        let s = Standardizer::fit(tr.x.view(), &t.feature_names, &t.source)?;
        train_blocks.push(s.apply(tr.x.view()));
        test_blocks.push(s.apply(te.x.view()));
    }
    let join = |blocks: &[Array2<f64>]| {
        let views: Vec<_> = blocks.iter().map(|b| b.view()).collect();
        concatenate(Axis(1), &views).map_err(|e| LearnError::Params(e.to_string()))
    };
    let (x_train, x_test) = (join(&train_blocks)?, join(&test_blocks)?);
    let y = label.y.as_deref().unwrap_or_default();
    let label_rows: Vec<usize> = shared.iter().map(|id| index[0][id]).collect();
    let y_train: Vec<f64> = parts.train.iter().map(|&r| y[label_rows[r]]).collect();
    let y_test: Vec<f64> = parts.test.iter().map(|&r| y[label_rows[r]]).collect();
    let fit = match activation {
        Some(a) => plain::train_with(x_train.view(), &y_train, params, a)?,
        None => plain::train(x_train.view(), &y_train, params)?,
    };
    let outputs: Vec<f64> = plain::scores(x_test.view(), &fit.weights, fit.intercept)
        .into_iter()
        .map(|s| plain::link(params.task, s))
        .collect();
    let evaluation = match params.task {
        Task::Logistic => Evaluation::Classification(metrics::classification(&outputs, &y_test)),
        Task::Linear => Evaluation::Regression(metrics::regression(&outputs, &y_test)),
    };
    let mut weights = Vec::new();
    let mut at = 0;
    for t in tables {
        let k = t.feature_names.len();
        weights.push(fit.weights[at..at + k].to_vec());
        at += k;
    }
    Ok(Reference {
        fit,
        weights,
        evaluation,
        test_outputs: outputs,
        test_labels: y_test,
        test_x: x_test,
        train_x: x_train,
        train_labels: y_train,
        shared_rows: shared.len(),
    })
}
