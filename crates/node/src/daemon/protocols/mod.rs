//! The protocols a node runs, one file each, behind one trait.
//!
//! Every job, two parties or more, runs over its [`PartySet`] (a PSI job is
//! a party set of two). The executor (`daemon/executor.rs`) opens the links,
//! hands this node's side to the job's protocol through [`JobProtocol::run`]
//! and gets back the outputs it produced ([`Produced`]); releasing them
//! through the egress guard, staging, sealing against cancels, committing
//! and exchanging receipts are the executor's, once for every protocol.
//!
//! A protocol is implemented by its plan (`crate::plan`): the parameters
//! were parsed and bounded before anyone accepted, and [`protocol_of`] is
//! the only place a plan is dispatched to its protocol. A new job type is
//! one file here (`impl JobProtocol for ThePlan`) and one arm in
//! [`protocol_of`] (plus its plan's arm in `crate::plan`).
//!
//! What each party learns is stated in each protocol's file: what its
//! protocol crate reveals to it under the plan, and no more; of the outputs
//! only those the job declares for it leave the node.

mod aggregate;
mod binning;
mod horizontal;
mod predict;
mod psi;
mod psi_sum;
mod raw_rows;
mod scorecard;
mod train;
mod trees;

use super::error::JobError;
use crate::dataset::{Cell, Table};
use crate::jobspec::JobSpec;
use crate::plan::JobPlan;
use indomain_net::PartySet;
use std::path::PathBuf;

/// One protocol a node runs for a job: this node's side of it.
pub(super) trait JobProtocol {
    /// Computes this node's side of the job over `job.parties` and returns
    /// the outputs it produced for this node (before the egress guard,
    /// which releases only those the job declares for it). An error stops
    /// the job at every party.
    fn run(&self, job: JobRun<'_>) -> Result<Vec<Produced>, JobError>;
}

/// What a protocol works with at this node.
pub(super) struct JobRun<'a> {
    /// The job as every party accepted it (names, columns, declared
    /// outputs).
    pub spec: &'a JobSpec,
    /// The job's parties in the spec's order, with a link to each other.
    pub parties: &'a mut PartySet,
    /// The most rows this node's policy lets the job read (none: all).
    pub max_rows: Option<u64>,
    /// Where the job's progress goes (`job status`).
    pub progress: &'a dyn Report,
    /// Reads this node's own data and model parts.
    pub own: &'a dyn OwnData,
}

/// An output this node computed for itself, before the egress guard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Produced {
    /// The output's name in the job.
    pub output: &'static str,
    /// Its file name under `results/<proposer>/<job id>/`.
    pub file: String,
    /// Its contents.
    pub bytes: Vec<u8>,
}

/// How a protocol reports its progress.
pub(super) trait Report {
    /// Enters `phase` (`reading data`, `running the protocol`, …).
    fn phase(&self, phase: &str);
    /// `done` of `total` `unit` of the current phase.
    fn count(&self, done: u64, total: u64, unit: &str);
    /// Values are being opened to a receiver from now on (a DP budget is
    /// spent whatever happens next).
    fn opening(&self);
}

/// How a protocol reads what this node holds.
pub(super) trait OwnData {
    /// This node's name.
    fn name(&self) -> &str;
    /// This node's party's columns of its dataset, at most `max_rows` rows
    /// (more is [`JobError::RowLimit`]).
    fn read(&self, max_rows: Option<u64>) -> Result<Table, JobError>;
    /// The model file that the job `model` (`<id>` or `<proposer>/<id>`)
    /// released to this node.
    fn model_part(&self, model: &str) -> Result<PathBuf, JobError>;
    /// The binning file that the binning job `job` (`<id>` or
    /// `<proposer>/<id>`) released to this node.
    fn binning_file(&self, job: &str) -> Result<PathBuf, JobError>;
}

/// The protocol of a job's plan: the one dispatch from plans to protocols.
pub(super) fn protocol_of(plan: &JobPlan) -> &dyn JobProtocol {
    match plan {
        JobPlan::Psi(p) => p,
        JobPlan::PsiSum(p) => p,
        JobPlan::Aggregate(p) => p,
        JobPlan::Train(p) => p,
        JobPlan::Horizontal(p) => p,
        JobPlan::Predict(p) => p,
        JobPlan::Trees(p) => p,
        JobPlan::Binning(p) => p,
        JobPlan::Scorecard(p) => p,
    }
}

/// An output as pretty JSON.
pub(super) fn json_output(
    output: &'static str,
    file: &str,
    value: &impl serde::Serialize,
) -> Result<Produced, JobError> {
    Ok(Produced {
        output,
        file: file.into(),
        bytes: serde_json::to_vec_pretty(value).map_err(|e| JobError::Render {
            output,
            reason: e.to_string(),
        })?,
    })
}

/// Where a cell is, for an error: `dataset "d", row 3, column "x"`
/// (`row` counted from 0).
pub(super) fn at(dataset: &str, row: usize, column: &str) -> String {
    format!("dataset {dataset:?}, row {}, column {column:?}", row + 1)
}

/// A cell as a finite number; `at` says where it is.
pub(super) fn cell_number(cell: &Cell, at: impl FnOnce() -> String) -> Result<f64, JobError> {
    let bad = |reason: String| JobError::Data { at: at(), reason };
    let x = match cell {
        Cell::Int(i) => *i as f64,
        Cell::Float(x) => *x,
        Cell::Text(s) => match s.trim().parse::<f64>() {
            Ok(x) => x,
            Err(_) => return Err(bad(format!("{s:?} is not a number"))),
        },
    };
    if x.is_finite() {
        Ok(x)
    } else {
        Err(bad(format!("{x} is not a finite number")))
    }
}

/// A cell as the text both parties hash: integers in decimal, floats in
/// Rust's shortest round-trip form.
pub(super) fn cell_text(cell: &Cell) -> String {
    match cell {
        Cell::Text(s) => s.clone(),
        Cell::Int(i) => i.to_string(),
        Cell::Float(x) => x.to_string(),
    }
}

#[cfg(test)]
mod tests;
