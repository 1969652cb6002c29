//! N-party secure statistics: sum, count, mean, variance and histogram of
//! numeric columns, optionally by a public category, with small groups
//! suppressed.
//!
//! Every party turns its rows into one vector of local aggregates per group
//! ([`tabulate()`]): the row count, and per column the sum, the sum of squares
//! or the bin counts the statistic needs. The vectors are added up with the
//! seed-compressed secure sum of [`crate::sum`] in two openings
//! ([`protocol::run_statistics`]): first the counts, then — only for the
//! groups whose total count reaches the job's minimum — the other
//! aggregates. A suppressed group's aggregates never leave any party, so no
//! one can reconstruct them.
//!
//! What each party learns:
//! - a **result receiver** learns every group's total count (suppressed
//!   groups included) and, for each group that passes, the column sums
//!   (sum, mean), sums and sums of squares (variance) or bin counts
//!   (histogram) over all parties — mean and variance are computed from
//!   these, so receivers learn them, not just the mean or the variance;
//! - **every other party** learns only which groups passed (or that the job
//!   was aborted, and why).
//!
//! Fixed point: values are encoded with the job's `frac_bits` fractional
//! bits after checking |x| ≤ `max_abs`. Each party adds its own encoded
//! values, and their squares shifted back by `frac_bits` (rounded once per
//! party, in 128-bit arithmetic), so sums of squares carry `frac_bits`
//! fractional bits too. Before anything but the counts is opened, the first
//! receiver checks that count·max_abs (and count·max_abs² for variance)
//! fits below 2^(63 − frac_bits); otherwise the job aborts with
//! [`AggregateError::Overflow`] instead of wrapping.

pub mod job;
pub mod protocol;
pub mod tabulate;

pub use job::{LocalData, Statistic, StatsJob};
pub use protocol::{Phase, run_statistics};
pub use tabulate::tabulate;

use crate::AggregateError;

/// The statistic of one column in one released group.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnResult {
    /// The column's total.
    Sum {
        /// Σ x.
        sum: f64,
    },
    /// The column's mean, with the total it comes from.
    Mean {
        /// Σ x.
        sum: f64,
        /// Σ x / count.
        mean: f64,
    },
    /// The column's sample variance (divisor count − 1), with the
    /// aggregates it comes from.
    Variance {
        /// Σ x.
        sum: f64,
        /// Σ x².
        sum_squares: f64,
        /// Σ x / count.
        mean: f64,
        /// (Σ x² − (Σ x)²/count) / (count − 1); NaN when count < 2.
        variance: f64,
    },
    /// Bin counts: values below the first edge, one count per bin
    /// `[e_i, e_{i+1})` (the last bin includes its upper edge), and values
    /// above the last edge.
    Histogram {
        /// Values below the first edge.
        below: u64,
        /// One count per bin.
        bins: Vec<u64>,
        /// Values above the last edge.
        above: u64,
    },
}

/// What the receivers get for one group.
#[derive(Debug, Clone, PartialEq)]
pub enum GroupOutcome {
    /// The group's total count is below the job's minimum group size; none
    /// of its statistics were opened.
    Suppressed,
    /// The group's statistics.
    Released {
        /// Rows in the group over all parties.
        count: u64,
        /// One result per job column (empty for [`Statistic::Count`]).
        columns: Vec<ColumnResult>,
    },
}

/// One group of the result.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupResult {
    /// The category, or `"all"` for a job without grouping.
    pub group: String,
    /// Its statistics, or suppression.
    pub outcome: GroupOutcome,
}

/// The result of a statistics job, as the receivers get it.
#[derive(Debug, Clone, PartialEq)]
pub struct StatsResult {
    /// One entry per group, in the job's category order.
    pub groups: Vec<GroupResult>,
}

fn decode_signed(v: u64, scale: f64) -> f64 {
    (v as i64) as f64 / scale
}

/// Turns opened aggregates into statistics. `stats` holds the passing
/// groups' segments, in group order.
pub(crate) fn decode_result(
    job: &StatsJob,
    counts: &[u64],
    pass: &[bool],
    stats: &[u64],
) -> Result<StatsResult, AggregateError> {
    let width = job.group_width();
    let per_column = job.statistic.per_column();
    let scale = 2f64.powi(job.frac_bits as i32);
    let mut segments = stats.chunks_exact(width.max(1));
    let mut groups = Vec::with_capacity(counts.len());
    for (g, (&count, &passes)) in counts.iter().zip(pass).enumerate() {
        let group = job.group_name(g).to_string();
        if !passes {
            groups.push(GroupResult {
                group,
                outcome: GroupOutcome::Suppressed,
            });
            continue;
        }
        let segment: &[u64] = if width == 0 {
            &[]
        } else {
            segments.next().ok_or_else(|| {
                AggregateError::BadInput("opened statistics are shorter than the layout".into())
            })?
        };
        let columns = segment
            .chunks_exact(per_column.max(1))
            .filter_map(|agg| decode_column(&job.statistic, agg, count, scale))
            .collect();
        groups.push(GroupResult {
            group,
            outcome: GroupOutcome::Released { count, columns },
        });
    }
    Ok(StatsResult { groups })
}

/// Decodes one column's aggregates (`None` for [`Statistic::Count`], which
/// has none).
fn decode_column(
    statistic: &Statistic,
    agg: &[u64],
    count: u64,
    scale: f64,
) -> Option<ColumnResult> {
    let n = count as f64;
    Some(match statistic {
        Statistic::Count => return None,
        Statistic::Sum => ColumnResult::Sum {
            sum: decode_signed(agg[0], scale),
        },
        Statistic::Mean => {
            let sum = decode_signed(agg[0], scale);
            ColumnResult::Mean { sum, mean: sum / n }
        }
        Statistic::Variance => {
            let sum = decode_signed(agg[0], scale);
            let sum_squares = decode_signed(agg[1], scale);
            let variance = if count < 2 {
                f64::NAN
            } else {
                ((sum_squares - sum * sum / n) / (n - 1.0)).max(0.0)
            };
            ColumnResult::Variance {
                sum,
                sum_squares,
                mean: sum / n,
                variance,
            }
        }
        Statistic::Histogram { .. } => ColumnResult::Histogram {
            below: agg[0],
            bins: agg[1..agg.len() - 1].to_vec(),
            above: agg[agg.len() - 1],
        },
    })
}
