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
//! A group is released only if, for every receiver, the rows of the
//! parties other than that receiver number at least the job's minimum
//! group size (at least [`job::MIN_GROUP_SIZE_FLOOR`]): a receiver cannot
//! single out another party's row by supplying the rest of the group.
//! Inside a released histogram, cells below the minimum are written as
//! suppressed.
//!
//! What each party learns:
//! - the **deciding receiver** (the first) learns every group's total
//!   count, suppressed groups included (TODO(#11): a secure comparison in
//!   the mpc layer would remove this);
//! - **every other receiver** learns the total counts of the groups that
//!   pass the decider's check (candidates), which may still be suppressed by
//!   another receiver's check;
//! - every **receiver** learns, for each released group, the column sums
//!   (sum, mean), sums and sums of squares (variance) or bin counts
//!   (histogram, small cells included) over all parties — mean and variance
//!   are computed from these;
//! - **every other party** learns only which groups are candidates and
//!   which passed, or that the job was stopped — never why: an abort
//!   carries no figure and no group name.
//!
//! Fixed point in Z_2^128: values are encoded with core's
//! [`indomain_core::fixed128::Fixed128`] (nearest, ties to even) with the
//! job's `frac_bits` fractional bits after checking |x| ≤ `max_abs` <
//! 2^(63 − f), so an encoded value fits 64 bits and its square 128. Each
//! party adds its encoded values exactly, and their squares exactly in 256
//! bits, shifted back by `frac_bits` (rounded once per party), so sums of
//! squares carry `frac_bits` fractional bits too. Before anything but the
//! counts is opened, the decider checks that count·max_abs·2^f (and
//! count·max_abs²·2^f for variance) stays below 2^127; otherwise the job
//! aborts with [`AggregateError::Overflow`] instead of wrapping. With the
//! defaults (f = 32, max_abs = 10^9) that takes more than 10^10 rows.

pub mod job;
pub mod protocol;
pub mod tabulate;
pub mod value;

pub use job::{LocalData, MAX_PARTIES, Statistic, StatsJob};
pub use protocol::{Phase, run_statistics};
pub use tabulate::tabulate;
pub use value::Fixed;

use crate::AggregateError;

/// The statistic of one column in one released group. Sums and means are
/// exact fixed-point values ([`Fixed`]): print them with `Display` to get
/// exactly the digits the encoding holds.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnResult {
    /// The column's total.
    Sum {
        /// Σ x.
        sum: Fixed,
    },
    /// The column's mean, with the total it comes from.
    Mean {
        /// Σ x.
        sum: Fixed,
        /// Σ x / count, rounded to the encoding's step.
        mean: Fixed,
    },
    /// The column's sample variance (divisor count − 1), with the
    /// aggregates it comes from.
    Variance {
        /// Σ x.
        sum: Fixed,
        /// Σ x² (rounded to the encoding's step once per party).
        sum_squares: Fixed,
        /// Σ x / count, rounded to the encoding's step.
        mean: Fixed,
        /// (count·Σ x² − (Σ x)²) / (count (count − 1)), computed exactly
        /// and rounded once; NaN when count < 2.
        variance: f64,
        /// Decimal digits after the point the variance holds, given the
        /// rounding of the inputs to the encoding (print with these).
        variance_digits: u32,
    },
    /// Bin counts: values below the first edge, one count per bin
    /// `[e_i, e_{i+1})` (the last bin includes its upper edge), and values
    /// above the last edge. A cell with fewer rows than the job's minimum
    /// group size is `None` (suppressed).
    Histogram {
        /// Values below the first edge.
        below: Option<u64>,
        /// One count per bin.
        bins: Vec<Option<u64>>,
        /// Values above the last edge.
        above: Option<u64>,
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

/// Turns opened aggregates into statistics. `counts` and `pass` cover
/// every group; `stats` holds the passing groups' segments, in group order.
pub(crate) fn decode_result(
    job: &StatsJob,
    counts: &[u64],
    pass: &[bool],
    stats: &[u128],
) -> Result<StatsResult, AggregateError> {
    let width = job.group_width();
    let per_column = job.statistic.per_column();
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
        let segment: &[u128] = if width == 0 {
            &[]
        } else {
            segments.next().ok_or_else(|| {
                AggregateError::BadInput("opened statistics are shorter than the layout".into())
            })?
        };
        let columns = segment
            .chunks_exact(per_column.max(1))
            .filter_map(|agg| decode_column(job, agg, count))
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
fn decode_column(job: &StatsJob, agg: &[u128], count: u64) -> Option<ColumnResult> {
    // Each value was rounded once (half a step); each party rounded its
    // sum of squares once.
    let sum = |v: u128| Fixed::with_error(v as i128, job.frac_bits, 0.5 * count as f64);
    let squares = |v: u128| {
        let parties = MAX_PARTIES as f64;
        Fixed::with_error(v as i128, job.frac_bits, 0.5 * parties)
    };
    // A cell below the minimum group size is not written out. Its count
    // was opened to the receivers nevertheless: see docs/threat-model.md.
    // TODO(#11): decide cells by a secure comparison in the mpc layer.
    let cell = |v: u128| u64::try_from(v).ok().filter(|&c| c >= job.min_group_size);
    Some(match &job.statistic {
        Statistic::Count => return None,
        Statistic::Sum => ColumnResult::Sum { sum: sum(agg[0]) },
        Statistic::Mean => {
            let sum = sum(agg[0]);
            ColumnResult::Mean {
                sum,
                mean: sum.div_round(count),
            }
        }
        Statistic::Variance => {
            let sum = sum(agg[0]);
            let sum_squares = squares(agg[1]);
            let variance = value::exact_variance(sum, sum_squares, count);
            ColumnResult::Variance {
                sum,
                sum_squares,
                mean: sum.div_round(count),
                variance,
                variance_digits: value::variance_digits(
                    variance,
                    count,
                    job.frac_bits,
                    MAX_PARTIES,
                ),
            }
        }
        Statistic::Histogram { .. } => ColumnResult::Histogram {
            below: cell(agg[0]),
            bins: agg[1..agg.len() - 1].iter().map(|&v| cell(v)).collect(),
            above: cell(agg[agg.len() - 1]),
        },
    })
}
