//! A statistics job under the node (`protocol = "aggregate"`): every data
//! party reads its columns from its own dataset and runs the aggregate
//! crate's secure statistics with all the others; each declared receiver
//! of `statistics` gets the result in the format of [`crate::aggregate_job`].
//! With the parameter `dealer` (a party that names no dataset and is no
//! receiver), suppression is decided by secure comparison
//! ([`CountDecision::Compared`]) and the dealer only deals correlated
//! randomness; with `open_counts_to_decider = true` instead, the first
//! receiver sees every group's count ([`CountDecision::OpenedToDecider`]).
//! The spec's validation refuses a job with neither.
//!
//! The spec: each party lists its numeric columns (the same number at
//! every data party; the result is labelled with the first one's names) and,
//! with grouping, the `group_by` column. Parameters: `statistic` (`count`,
//! `sum`, `mean`, `variance` or `histogram`), `min_group_size` (required),
//! and optionally `group_by` with `categories` (comma-separated), `bins`
//! (comma-separated edges, for a histogram), `frac_bits` and `max_abs`.
//! A count reads its columns only to count the rows.
//!
//! With `dp_epsilon` (and `dp_delta`, `clip`, `dp_coalition`; see
//! [`crate::plan::aggregate`]) the release carries distributed discrete
//! Gaussian noise ([`run_statistics_dp`]): each data party clips its values
//! and adds its noise share inside the secret-shared sums; without a
//! dealer suppression is decided on the noisy counts. The budget it
//! spends is kept by `daemon/budget.rs`.
//!
//! What each party learns: what [`indomain_aggregate::stats`] reveals to
//! it under the job's decision (the dealer: the number of groups and
//! cells); only the receivers learn the statistics.

use super::Node;
use super::run_mesh::Produced;
use crate::aggregate_job::write_result;
use crate::dataset::{Cell, Table};
use crate::jobspec::JobSpec;
use crate::plan::{AggregatePlan, JobPlan};
use crate::state::JobKey;
use indomain_aggregate::stats::{
    CountDecision, LocalData, Phase, StatsJob, run_statistics_dp, run_statistics_with, serve_dealer,
};
use indomain_net::PartySet;

impl Node {
    /// Reads this node's columns and runs the statistics on `parties`; at
    /// the dealer, deals correlated randomness and produces nothing.
    pub(super) fn compute_aggregate(
        &self,
        key: &JobKey,
        spec: &JobSpec,
        parties: &mut PartySet,
        max_rows: Option<u64>,
    ) -> Result<Vec<Produced>, String> {
        let plan = match spec.plan().map_err(|e| e.to_string())? {
            JobPlan::Aggregate(plan) => plan,
            _ => return Err("not a statistics job".into()),
        };
        let AggregatePlan {
            job,
            group_by,
            decision,
            dp,
            ..
        } = plan;
        job.validate(parties.len()).map_err(|e| e.to_string())?;
        let me = parties.me();
        let party = &spec.parties[me];
        // The party set is the spec's parties in order, as in `indomain
        // aggregate --dealer`: the dealer's rank is its place in the spec.
        if decision == (CountDecision::Compared { dealer: me }) {
            serve_dealer(parties, &mut rand::rng())
                .map_err(|e| format!("dealing for the statistics failed: {e}"))?;
            return Ok(Vec::new());
        }
        let dataset = self
            .config
            .datasets
            .get(&party.dataset)
            .ok_or_else(|| format!("no dataset {:?} on this node", party.dataset))?;
        let table = dataset
            .read(&party.columns, max_rows)
            .map_err(|e| e.to_string())?;
        // With DP, values beyond the range are clipped by the protocol,
        // not refused.
        let bound = if dp.is_some() {
            f64::INFINITY
        } else {
            job.max_abs
        };
        let data = local_data(&table, &job, group_by.as_deref(), &party.dataset, bound)?;
        // Once values are being opened, a receiver may hold a noisy
        // release: the budget is spent from then on.
        let mut progress = |phase: Phase| {
            if !matches!(phase, Phase::Agreement | Phase::Sharing) {
                self.mark_opened(key);
            }
        };
        let mut rng = rand::rng();
        let result = match &dp {
            Some(dp) => {
                run_statistics_dp(parties, &job, &data, decision, dp, &mut rng, &mut progress)
            }
            None => run_statistics_with(parties, &job, &data, decision, &mut rng, &mut progress),
        }
        .map_err(|e| format!("the statistics protocol failed: {e}"))?;
        match result {
            Some(result) => {
                let mut bytes = Vec::new();
                write_result(&mut bytes, &job, &result)
                    .map_err(|e| format!("rendering the statistics: {e}"))?;
                Ok(vec![Produced {
                    output: "statistics",
                    file: "statistics.csv".into(),
                    bytes,
                }])
            }
            None => Ok(Vec::new()),
        }
    }
}

/// This party's rows as the statistics protocol takes them; a cell that
/// is not a number within the job's bound, or a category the job does not
/// list, is an error naming the dataset, row and column.
fn local_data(
    table: &Table,
    job: &StatsJob,
    group_by: Option<&str>,
    dataset: &str,
    bound: f64,
) -> Result<LocalData, String> {
    let group_at = group_by.and_then(|g| table.columns.iter().position(|c| c == g));
    let value_at: Vec<usize> = (0..table.columns.len())
        .filter(|&i| Some(i) != group_at)
        .take(job.columns.len())
        .collect();
    let mut data = LocalData {
        groups: Vec::with_capacity(table.rows.len()),
        columns: vec![Vec::with_capacity(table.rows.len()); value_at.len()],
    };
    for (r, row) in table.rows.iter().enumerate() {
        let at = |i: usize| {
            format!(
                "dataset {dataset:?}, row {}, column {:?}",
                r + 1,
                table.columns[i]
            )
        };
        let group = match (group_at, &job.categories) {
            (Some(g), Some(categories)) => {
                let cell = cell_text(&row[g]);
                categories.iter().position(|c| *c == cell).ok_or_else(|| {
                    format!(
                        "{}: category {cell:?} is not one of the job's categories ({})",
                        at(g),
                        categories.join(", ")
                    )
                })?
            }
            _ => 0,
        };
        data.groups.push(group);
        for (column, &i) in data.columns.iter_mut().zip(&value_at) {
            let x = cell_number(&row[i]).map_err(|e| format!("{}: {e}", at(i)))?;
            if x.abs() > bound {
                return Err(format!(
                    "{}: {x} is beyond the job's bound max_abs = {bound}",
                    at(i),
                ));
            }
            column.push(x);
        }
    }
    Ok(data)
}

/// A cell as a finite number.
pub(super) fn cell_number(cell: &Cell) -> Result<f64, String> {
    let x = match cell {
        Cell::Int(i) => *i as f64,
        Cell::Float(x) => *x,
        Cell::Text(s) => s
            .trim()
            .parse::<f64>()
            .map_err(|_| format!("{s:?} is not a number"))?,
    };
    if x.is_finite() {
        Ok(x)
    } else {
        Err(format!("{x} is not a finite number"))
    }
}

/// A cell as text (integers in decimal).
pub(super) fn cell_text(cell: &Cell) -> String {
    match cell {
        Cell::Text(s) => s.clone(),
        Cell::Int(i) => i.to_string(),
        Cell::Float(x) => x.to_string(),
    }
}
