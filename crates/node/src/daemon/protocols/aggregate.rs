//! A statistics job under the node (`protocol = "aggregate"`): every data
//! party reads its columns from its own dataset and runs the aggregate
//! crate's secure statistics with all the others; each declared receiver
//! of `statistics` gets the result in the format of [`crate::aggregate_job`].
//! With the parameter `dealer` (a party that names no dataset and is no
//! receiver), suppression is decided by secure comparison
//! ([`CountDecision::Compared`]) and the dealer only deals correlated
//! randomness; with `open_counts_to_decider = true` instead, the first
//! receiver sees every group's count ([`CountDecision::OpenedToDecider`]).
//! The plan refuses a job with neither.
//!
//! The spec: each party lists its numeric columns (the same number at
//! every data party; the result is labelled with the first one's names) and,
//! with grouping, the `group_by` column. Parameters: see
//! [`crate::plan::aggregate`]. A count reads its columns only to count the
//! rows.
//!
//! With `dp_epsilon` the release carries distributed discrete Gaussian
//! noise ([`run_statistics_dp`]): each data party clips its values and adds
//! its noise share inside the secret-shared sums; without a dealer
//! suppression is decided on the noisy counts. The budget it spends is
//! kept by `daemon/budget.rs` (through [`super::Report::opening`]).
//!
//! What each party learns: what [`indomain_aggregate::stats`] reveals to
//! it under the job's decision (the dealer: the number of groups and
//! cells); only the receivers learn the statistics.

use super::{JobProtocol, JobRun, Produced, at, cell_number, cell_text};
use crate::aggregate_job::write_result;
use crate::daemon::error::JobError;
use crate::dataset::Table;
use crate::plan::AggregatePlan;
use indomain_aggregate::stats::{
    CountDecision, LocalData, Phase, StatsJob, run_statistics_dp, run_statistics_with, serve_dealer,
};

impl JobProtocol for AggregatePlan {
    fn run(&self, job: JobRun<'_>) -> Result<Vec<Produced>, JobError> {
        let JobRun {
            spec,
            parties,
            max_rows,
            progress,
            own,
        } = job;
        let AggregatePlan {
            job,
            group_by,
            decision,
            dp,
            ..
        } = self;
        job.validate(parties.len())
            .map_err(|e| JobError::Job(e.to_string()))?;
        let me = parties.me();
        let party = &spec.parties[me];
        // The party set is the spec's parties in order, as in `indomain
        // aggregate --dealer`: the dealer's rank is its place in the spec.
        if *decision == (CountDecision::Compared { dealer: me }) {
            serve_dealer(parties, &mut rand::rng())
                .map_err(|e| JobError::protocol("dealing for the statistics", e))?;
            return Ok(Vec::new());
        }
        progress.phase("reading data");
        let table = own.read(max_rows)?;
        // With DP, values beyond the range are clipped by the protocol,
        // not refused.
        let bound = if dp.is_some() {
            f64::INFINITY
        } else {
            job.max_abs
        };
        let data = local_data(&table, job, group_by.as_deref(), &party.dataset, bound)?;
        progress.phase("running the protocol");
        // Once values are being opened, a receiver may hold a noisy
        // release: the budget is spent from then on.
        let mut report = |phase: Phase| {
            if !matches!(phase, Phase::Agreement | Phase::Sharing) {
                progress.opening();
            }
        };
        let mut rng = rand::rng();
        let result = match dp {
            Some(dp) => {
                run_statistics_dp(parties, job, &data, *decision, dp, &mut rng, &mut report)
            }
            None => run_statistics_with(parties, job, &data, *decision, &mut rng, &mut report),
        }
        .map_err(|e| JobError::protocol("statistics protocol", e))?;
        let Some(result) = result else {
            return Ok(Vec::new());
        };
        let mut bytes = Vec::new();
        write_result(&mut bytes, job, &result).map_err(|e| JobError::Render {
            output: "statistics",
            reason: e.to_string(),
        })?;
        Ok(vec![Produced {
            output: "statistics",
            file: "statistics.csv".into(),
            bytes,
        }])
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
) -> Result<LocalData, JobError> {
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
        let place = |i: usize| at(dataset, r, &table.columns[i]);
        let group = match (group_at, &job.categories) {
            (Some(g), Some(categories)) => {
                let cell = cell_text(&row[g]);
                categories
                    .iter()
                    .position(|c| *c == cell)
                    .ok_or_else(|| JobError::Data {
                        at: place(g),
                        reason: format!(
                            "category {cell:?} is not one of the job's categories ({})",
                            categories.join(", ")
                        ),
                    })?
            }
            _ => 0,
        };
        data.groups.push(group);
        for (column, &i) in data.columns.iter_mut().zip(&value_at) {
            let x = cell_number(&row[i], || place(i))?;
            if x.abs() > bound {
                return Err(JobError::Data {
                    at: place(i),
                    reason: format!("{x} is beyond the job's bound max_abs = {bound}"),
                });
            }
            column.push(x);
        }
    }
    Ok(data)
}
