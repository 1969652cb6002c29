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
//! What each party learns: what [`indomain_aggregate::stats`] reveals to
//! it under the job's decision (the dealer: the number of groups and
//! cells); only the receivers learn the statistics.

use super::Node;
use super::run_mesh::Produced;
use crate::aggregate_job::write_result;
use crate::dataset::{Cell, Table};
use crate::jobspec::JobSpec;
use indomain_aggregate::stats::job::{DEFAULT_FRAC_BITS, DEFAULT_MAX_ABS};
use indomain_aggregate::stats::{
    CountDecision, LocalData, Statistic, StatsJob, run_statistics_with, serve_dealer,
};
use indomain_net::PartySet;

impl Node {
    /// Reads this node's columns and runs the statistics on `parties`; at
    /// the dealer, deals correlated randomness and produces nothing.
    pub(super) fn compute_aggregate(
        &self,
        spec: &JobSpec,
        parties: &mut PartySet,
        max_rows: Option<u64>,
    ) -> Result<Vec<Produced>, String> {
        let (job, group_by) = stats_job(spec)?;
        job.validate(parties.len()).map_err(|e| e.to_string())?;
        let me = parties.me();
        let party = &spec.parties[me];
        // The party set is the spec's parties in order, as in `indomain
        // aggregate --dealer`: the dealer's rank is its place in the spec.
        let decision = match spec.parties.iter().position(|p| spec.is_dealer(&p.name)) {
            Some(dealer) => CountDecision::Compared { dealer },
            None => CountDecision::OpenedToDecider,
        };
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
        let data = local_data(&table, &job, group_by.as_deref(), &party.dataset)?;
        let result = run_statistics_with(
            parties,
            &job,
            &data,
            decision,
            &mut rand::rng(),
            &mut |_| {},
        )
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

/// The statistics job a spec describes, and the group-by column.
fn stats_job(spec: &JobSpec) -> Result<(StatsJob, Option<String>), String> {
    let list = |name: &str| -> Option<Vec<String>> {
        spec.text_param(name).map(|s| {
            s.split(',')
                .map(|c| c.trim().to_string())
                .filter(|c| !c.is_empty())
                .collect()
        })
    };
    let statistic = match spec.text_param("statistic") {
        Some("count") => Statistic::Count,
        Some("sum") => Statistic::Sum,
        Some("mean") => Statistic::Mean,
        Some("variance") => Statistic::Variance,
        Some("histogram") => {
            let edges = list("bins")
                .ok_or("a histogram needs the parameter bins = \"E0,E1,...\"")?
                .iter()
                .map(|e| e.parse::<f64>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("parameter bins: {e}"))?;
            Statistic::Histogram { edges }
        }
        Some(other) => {
            return Err(format!(
                "parameter statistic = {other:?}: use count, sum, mean, variance or histogram"
            ));
        }
        None => return Err("the job sets no parameter statistic".into()),
    };
    let group_by = spec.text_param("group_by").map(str::to_string);
    let categories = list("categories");
    if group_by.is_some() != categories.is_some() {
        return Err("grouping needs both parameters group_by and categories".into());
    }
    let numeric = |columns: &[String]| -> Vec<String> {
        columns
            .iter()
            .filter(|c| Some(*c) != group_by.as_ref())
            .cloned()
            .collect()
    };
    // The dealer lists no columns; the result is labelled with the first
    // data party's names.
    let mut data_parties = spec.parties.iter().filter(|p| !spec.is_dealer(&p.name));
    let head = data_parties.next().ok_or("the job has no data party")?;
    let first = numeric(&head.columns);
    for p in std::iter::once(head).chain(data_parties) {
        if let Some(g) = &group_by
            && !p.columns.contains(g)
        {
            return Err(format!(
                "party {} does not list the group_by column {g:?}",
                p.name
            ));
        }
        if statistic != Statistic::Count && numeric(&p.columns).len() != first.len() {
            return Err(format!(
                "party {} lists {} numeric columns, {} lists {}: every party gives the same number",
                p.name,
                numeric(&p.columns).len(),
                head.name,
                first.len()
            ));
        }
    }
    let min_group_size = spec
        .int_param("min_group_size")
        .ok_or("the job sets no parameter min_group_size")?;
    let frac_bits = spec
        .int_param("frac_bits")
        .unwrap_or(i64::from(DEFAULT_FRAC_BITS));
    let job = StatsJob {
        columns: if statistic == Statistic::Count {
            Vec::new()
        } else {
            first
        },
        statistic,
        categories,
        receivers: spec.receivers("statistics"),
        min_group_size: u64::try_from(min_group_size)
            .map_err(|_| "parameter min_group_size must not be negative")?,
        frac_bits: u32::try_from(frac_bits).map_err(|_| "parameter frac_bits is out of range")?,
        max_abs: spec.number_param("max_abs").unwrap_or(DEFAULT_MAX_ABS),
    };
    Ok((job, group_by))
}

/// This party's rows as the statistics protocol takes them; a cell that
/// is not a number within the job's bound, or a category the job does not
/// list, is an error naming the dataset, row and column.
fn local_data(
    table: &Table,
    job: &StatsJob,
    group_by: Option<&str>,
    dataset: &str,
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
            if x.abs() > job.max_abs {
                return Err(format!(
                    "{}: {x} is beyond the job's bound max_abs = {}",
                    at(i),
                    job.max_abs
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
