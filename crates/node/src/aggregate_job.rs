//! Running a statistics job of this node: read the numeric columns from
//! CSV, run the secure statistics protocol with every other party, and —
//! at a result receiver — write the result to its output file, which
//! appears only if the whole job completes.
//!
//! Output (long format, one row per group and column; `status` is
//! `released` or `suppressed`, and a suppressed group's other cells are
//! empty):
//! - count: `group,status,count`
//! - sum: `group,status,column,count,sum`
//! - mean: `group,status,column,count,sum,mean`
//! - variance: `group,status,column,count,sum,sum_squares,mean,variance`
//!   (sample variance, divisor count − 1)
//! - histogram: `group,status,column,bin_lower,bin_upper,count`, one row a
//!   bin, with the values below the first edge (`-inf`) and above the last
//!   (`inf`) as bins of their own.
//!
//! With differential privacy ([`AggregateJob::dp`]) the format is the same;
//! every count and statistic carries noise, and values outside the clip
//! bounds are clipped instead of refused.

use crate::numeric_csv::{NumericCsvError, NumericSpec, read_numeric};
use crate::output::AtomicOutput;
use indomain_aggregate::AggregateError;
use indomain_aggregate::dp::DpSpec;
use indomain_aggregate::stats::{
    ColumnResult, CountDecision, DpCalibration, GroupOutcome, LocalData, Phase, Statistic,
    StatsJob, StatsResult, run_statistics_dp, run_statistics_with,
};
use indomain_net::{Counters, PartySet};
use std::fmt;
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use thiserror::Error;

/// Everything that can go wrong in a statistics job of this node.
#[derive(Debug, Error)]
pub enum AggregateJobError {
    /// The input CSV is malformed or lacks what the job needs.
    #[error(transparent)]
    Input(#[from] NumericCsvError),
    /// The protocol failed (the error names the peer and phase).
    #[error(transparent)]
    Protocol(#[from] AggregateError),
    /// The output could not be written.
    #[error("output {}: {source}", path.display())]
    Output {
        /// The destination.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The job asks this party for something it cannot do.
    #[error("{0}")]
    Usage(String),
}

/// One party's statistics job.
#[derive(Debug, Clone)]
pub struct AggregateJob {
    /// The protocol parameters, identical at every party.
    pub job: StatsJob,
    /// The group-by column of this party's file (with `job.categories`).
    pub group_by: Option<String>,
    /// The input CSV.
    pub input: PathBuf,
    /// Where to write the result: required at a receiver, refused elsewhere.
    pub output: Option<PathBuf>,
    /// Replace an existing output file (`--force`).
    pub replace_output: bool,
    /// Differential privacy for the release, the same at every party.
    pub dp: Option<DpSpec>,
}

/// What a job checked and read locally before any peer is involved: the
/// input's columns, and the output file a receiver will write (not yet
/// visible).
pub struct Prepared {
    data: LocalData,
    output: Option<AtomicOutput>,
    calibration: Option<DpCalibration>,
}

/// What a completed job reports.
#[derive(Debug, Clone)]
pub struct AggregateSummary {
    /// Rows read from the input.
    pub rows: usize,
    /// Groups released and suppressed (known at a receiver only).
    pub released: Option<(usize, usize)>,
    /// Time from reading the input to writing the output.
    pub elapsed: Duration,
    /// Bytes moved over all links.
    pub bytes: Counters,
    /// The output file, if this party wrote one.
    pub output: Option<PathBuf>,
    /// With DP: the release's guarantee and noise.
    pub dp: Option<DpCalibration>,
    /// The statistic (to describe the noise).
    pub statistic: Statistic,
}

impl fmt::Display for AggregateSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} input rows; {:.2} s; {} bytes sent, {} received",
            self.rows,
            self.elapsed.as_secs_f64(),
            self.bytes.sent,
            self.bytes.received
        )?;
        match (&self.released, &self.output) {
            (Some((released, suppressed)), Some(path)) => write!(
                f,
                "; {released} groups released, {suppressed} suppressed; result in {}",
                path.display()
            )?,
            _ => write!(
                f,
                "; this party is not a result receiver and learns no result"
            )?,
        }
        if let Some(dp) = &self.dp {
            let spec = dp.spec();
            let scale = dp.noise_scale(&self.statistic);
            write!(
                f,
                "; differential privacy: ε = {:.4} (asked {}), δ = {}, ρ = {:.5}, against {} of the data parties pooling their noise; noise standard deviation: count {:.3}",
                dp.epsilon(),
                spec.epsilon,
                spec.delta,
                dp.rho(),
                spec.coalition
                    .map_or_else(|| "all but one".to_string(), |c| c.to_string()),
                scale.count
            )?;
            for (what, sd) in [
                ("sum", scale.sum),
                ("sum of squares", scale.sum_squares),
                ("bin count", scale.cell),
            ] {
                if let Some(sd) = sd {
                    write!(f, ", {what} {sd:.4e}")?;
                }
            }
        }
        Ok(())
    }
}

impl AggregateJob {
    /// Checks and reads everything local for party `me` of `n` — the job,
    /// the output flag against the receivers, the output's destination and
    /// directory, the input file — so that a local mistake fails before
    /// this node listens or connects.
    ///
    /// With DP, the spec is checked against the job for `data_parties` of
    /// the `n` first ([`DpCalibration::new`]: a bad ε, missing or too wide
    /// clip bounds), and values beyond the job's range are read, to be
    /// clipped, rather than refused.
    pub fn prepare(
        &self,
        me: usize,
        n: usize,
        data_parties: usize,
    ) -> Result<Prepared, AggregateJobError> {
        self.job.validate(n)?;
        let calibration = self
            .dp
            .map(|spec| DpCalibration::new(&self.job, &spec, data_parties))
            .transpose()?;
        let receiver = self.job.receivers.contains(&me);
        match (receiver, &self.output) {
            (true, None) => {
                return Err(AggregateJobError::Usage(
                    "this party is a result receiver: give an output file".into(),
                ));
            }
            (false, Some(_)) => {
                return Err(AggregateJobError::Usage(
                    "this party is not a result receiver and learns no result: drop the output file"
                        .into(),
                ));
            }
            _ => {}
        }
        let group_by = match (&self.group_by, &self.job.categories) {
            (Some(column), Some(categories)) => Some((column.clone(), categories.clone())),
            (None, None) => None,
            _ => {
                return Err(AggregateJobError::Usage(
                    "grouping needs both the group-by column and the agreed categories".into(),
                ));
            }
        };
        let create = |path: &PathBuf| {
            AtomicOutput::create(path, &[&self.input], self.replace_output).map_err(|source| {
                AggregateJobError::Output {
                    path: path.clone(),
                    source,
                }
            })
        };
        // The destination first: a mistake there costs no reading.
        let output = self.output.as_ref().map(create).transpose()?;
        let spec = NumericSpec {
            columns: self.job.columns.clone(),
            group_by,
            max_abs: if self.dp.is_some() {
                f64::INFINITY
            } else {
                self.job.max_abs
            },
        };
        let data = read_numeric(&self.input, &spec)?;
        Ok(Prepared {
            data,
            output,
            calibration,
        })
    }
}

/// Runs `job` as party `parties.me()`, on what [`AggregateJob::prepare`]
/// read for that party, with suppression decided by opening the counts to
/// the first receiver ([`CountDecision::OpenedToDecider`]: it learns every
/// group's count); [`run_with`] takes the decision.
pub fn run(
    parties: &mut PartySet,
    job: &AggregateJob,
    prepared: Prepared,
    progress: &mut dyn FnMut(Phase),
) -> Result<AggregateSummary, AggregateJobError> {
    run_with(
        parties,
        job,
        prepared,
        CountDecision::OpenedToDecider,
        progress,
    )
}

/// [`run`] with suppression decided as `decision` says; with
/// [`CountDecision::Compared`] the dealer of the set runs
/// `indomain_aggregate::stats::serve_dealer` meanwhile.
pub fn run_with(
    parties: &mut PartySet,
    job: &AggregateJob,
    prepared: Prepared,
    decision: CountDecision,
    progress: &mut dyn FnMut(Phase),
) -> Result<AggregateSummary, AggregateJobError> {
    let start = Instant::now();
    let Prepared {
        data,
        output,
        calibration,
    } = prepared;
    let result = match &job.dp {
        Some(spec) => run_statistics_dp(
            parties,
            &job.job,
            &data,
            decision,
            spec,
            &mut rand::rng(),
            progress,
        ),
        None => run_statistics_with(
            parties,
            &job.job,
            &data,
            decision,
            &mut rand::rng(),
            progress,
        ),
    }?;
    let released = match (result, output) {
        (Some(result), Some(mut out)) => {
            let path = out.path().to_path_buf();
            let io = |source| AggregateJobError::Output {
                path: path.clone(),
                source,
            };
            write_result(&mut out, &job.job, &result).map_err(io)?;
            out.commit().map_err(io)?;
            let released = result
                .groups
                .iter()
                .filter(|g| matches!(g.outcome, GroupOutcome::Released { .. }))
                .count();
            Some((released, result.groups.len() - released))
        }
        _ => None,
    };
    Ok(AggregateSummary {
        rows: data.rows(),
        released,
        elapsed: start.elapsed(),
        bytes: parties.counters(),
        output: job.output.clone(),
        dp: calibration,
        statistic: job.job.statistic.clone(),
    })
}

/// Writes `result` as CSV in the format of this module's documentation.
pub fn write_result(
    out: &mut impl Write,
    job: &StatsJob,
    result: &StatsResult,
) -> std::io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    let header: &[&str] = match &job.statistic {
        Statistic::Count => &["group", "status", "count"],
        Statistic::Sum => &["group", "status", "column", "count", "sum"],
        Statistic::Mean => &["group", "status", "column", "count", "sum", "mean"],
        Statistic::Variance => &[
            "group",
            "status",
            "column",
            "count",
            "sum",
            "sum_squares",
            "mean",
            "variance",
        ],
        Statistic::Histogram { .. } => &[
            "group",
            "status",
            "column",
            "bin_lower",
            "bin_upper",
            "count",
        ],
    };
    w.write_record(header)?;
    let blank = |n: usize| vec![String::new(); n];
    for group in &result.groups {
        let (count, columns) = match &group.outcome {
            GroupOutcome::Suppressed => {
                let mut row = vec![group.group.clone(), "suppressed".into()];
                row.extend(blank(header.len() - 2));
                w.write_record(&row)?;
                continue;
            }
            GroupOutcome::Released { count, columns } => (*count, columns),
        };
        let lead = |column: &str| vec![group.group.clone(), "released".into(), column.to_string()];
        if job.statistic == Statistic::Count {
            w.write_record([group.group.clone(), "released".into(), count.to_string()])?;
        }
        for (name, column) in job.columns.iter().zip(columns) {
            match column {
                ColumnResult::Sum { sum } => {
                    let mut row = lead(name);
                    row.extend([count.to_string(), sum.to_string()]);
                    w.write_record(&row)?;
                }
                ColumnResult::Mean { sum, mean } => {
                    let mut row = lead(name);
                    row.extend([count.to_string(), sum.to_string(), mean.to_string()]);
                    w.write_record(&row)?;
                }
                ColumnResult::Variance {
                    sum,
                    sum_squares,
                    mean,
                    variance,
                    variance_digits,
                } => {
                    let mut row = lead(name);
                    row.push(count.to_string());
                    row.extend([sum, sum_squares, mean].map(ToString::to_string));
                    // Only the digits the encoding of the inputs supports.
                    let digits = *variance_digits as usize;
                    row.push(format!("{variance:.digits$}"));
                    w.write_record(&row)?;
                }
                ColumnResult::Histogram { below, bins, above } => {
                    let edges = match &job.statistic {
                        Statistic::Histogram { edges } => edges.as_slice(),
                        _ => &[],
                    };
                    let lowers = std::iter::once(f64::NEG_INFINITY).chain(edges.iter().copied());
                    let uppers = edges.iter().copied().chain(std::iter::once(f64::INFINITY));
                    let counts = std::iter::once(below)
                        .chain(bins)
                        .chain(std::iter::once(above));
                    for ((lo, hi), n) in lowers.zip(uppers).zip(counts) {
                        let mut row = lead(name);
                        // A cell below the minimum group size is suppressed.
                        let n = n.map_or_else(|| "suppressed".to_string(), |n| n.to_string());
                        row.extend([lo.to_string(), hi.to_string(), n]);
                        w.write_record(&row)?;
                    }
                }
            }
        }
    }
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use indomain_aggregate::stats::GroupResult;

    #[test]
    fn histograms_and_suppressed_groups_are_written_plainly() {
        let job = StatsJob {
            statistic: Statistic::Histogram {
                edges: vec![0.0, 10.0, 20.0],
            },
            columns: vec!["age".into()],
            categories: Some(vec!["north".into(), "south".into()]),
            receivers: vec![0],
            min_group_size: 5,
            frac_bits: 16,
            max_abs: 100.0,
        };
        let result = StatsResult {
            groups: vec![
                GroupResult {
                    group: "north".into(),
                    outcome: GroupOutcome::Released {
                        count: 12,
                        columns: vec![ColumnResult::Histogram {
                            below: None,
                            bins: vec![Some(5), Some(7)],
                            above: None,
                        }],
                    },
                },
                GroupResult {
                    group: "south".into(),
                    outcome: GroupOutcome::Suppressed,
                },
            ],
        };
        let mut out = Vec::new();
        write_result(&mut out, &job, &result).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "group,status,column,bin_lower,bin_upper,count\n\
             north,released,age,-inf,0,suppressed\n\
             north,released,age,0,10,5\n\
             north,released,age,10,20,7\n\
             north,released,age,20,inf,suppressed\n\
             south,suppressed,,,,\n"
        );
    }
}
