//! N-party secure statistics: sum, count, mean, variance and histogram of
//! numeric columns, optionally by a public category, with small groups
//! suppressed.
//!
//! Every party turns its rows into one vector of local aggregates per group
//! ([`tabulate()`]): the row count, and per column the sum, the sum of squares
//! or the bin counts the statistic needs. The vectors are added up with the
//! seed-compressed secure sum of [`crate::sum`]
//! ([`protocol::run_statistics_with`]); then it is decided which groups
//! pass, and only the passing groups' counts and aggregates are opened to
//! the receivers. A suppressed group's aggregates never leave any party, so
//! no one can reconstruct them.
//!
//! A group is released only if, for every receiver, the rows of the
//! parties other than that receiver number at least the job's minimum
//! group size (at least [`job::MIN_GROUP_SIZE_FLOOR`]): a receiver cannot
//! single out another party's row by supplying the rest of the group.
//! Histogram cells follow the same rule.
//!
//! How it is decided ([`CountDecision`]):
//! - **compared** ([`compare`], the default of the command line): the
//!   shared counts are compared with the minimum by the mpc layer's secure
//!   comparison, with a dealer party that holds no data; only the verdicts
//!   are opened, to every data party. No party learns a suppressed group's
//!   or cell's count. A column of a released histogram with one suppressed
//!   cell has a second one suppressed, so that the released count does not
//!   give the first away;
//! - **opened to the decider** ([`run_statistics`], kept from before): the
//!   counts are opened to the first receiver (the decider), which decides;
//!   with several receivers the candidates' counts are opened to the
//!   others, which check them. The decider learns every group's count, the
//!   other receivers the candidates', and receivers every cell's count
//!   (cells below the minimum are only left out of the result).
//!
//! What each party learns (compared):
//! - every **receiver** learns, for each released group, its count and the
//!   column sums (sum, mean), sums and sums of squares (variance) or the
//!   released bin counts (histogram) over all parties — mean and variance
//!   are computed from these;
//! - **every data party** learns which groups and cells were released,
//!   and whether the job's rows fit the fixed-point range;
//! - the **dealer** learns the sizes of its requests (how many groups,
//!   cells and receivers), never a value;
//! - an abort carries no figure and no group name.
//!
//! Fixed point in Z_2^128: values are encoded with core's
//! [`indomain_core::fixed128::Fixed128`] (nearest, ties to even) with the
//! job's `frac_bits` fractional bits after checking |x| ≤ `max_abs` <
//! 2^(63 − f), so an encoded value fits 64 bits and its square 128. Each
//! party adds its encoded values exactly, and their squares exactly in 256
//! bits, shifted back by `frac_bits` (rounded once per party), so sums of
//! squares carry `frac_bits` fractional bits too. Before anything but the
//! counts is opened, the job checks that count·max_abs·2^f (and
//! count·max_abs²·2^f for variance) stays below 2^127; otherwise the job
//! aborts with [`AggregateError::Overflow`] (opened: the decider checks
//! each passing group's count) or [`AggregateError::RowsOverflow`]
//! (compared: a secure comparison of the job's row total with the public
//! bound) instead of wrapping. With the defaults (f = 32, max_abs = 10^9)
//! that takes more than 10^10 rows.

pub mod compare;
pub mod job;
pub mod noise;
pub mod noisy;
pub mod protocol;
pub mod tabulate;
pub mod value;

pub use compare::serve_dealer;
pub use job::{LocalData, MAX_CELLS, MAX_PARTIES, Statistic, StatsJob};
pub use noise::{DpCalibration, NoiseScale, NoiseShare};
pub use noisy::{run_statistics_dp, run_statistics_noised};
pub use protocol::{CountDecision, Phase, run_statistics, run_statistics_with};
pub use tabulate::{tabulate, tabulate_clipped};
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
/// `cells` marks the released histogram cells of every group (compared
/// decision); without it a cell is released if its total reaches the
/// minimum. With DP, `noise` is the noise's scale: values print only the
/// digits it leaves meaningful.
pub(crate) fn decode_result(
    job: &StatsJob,
    counts: &[u64],
    pass: &[bool],
    stats: &[u128],
    cells: Option<&[bool]>,
    noise: Option<NoiseScale>,
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
        let group_cells = cells.and_then(|c| c.get(g * width..(g + 1) * width));
        let columns = segment
            .chunks_exact(per_column.max(1))
            .enumerate()
            .filter_map(|(c, agg)| {
                let released =
                    group_cells.and_then(|gc| gc.get(c * per_column..(c + 1) * per_column));
                decode_column(job, agg, count, released, noise)
            })
            .collect();
        groups.push(GroupResult {
            group,
            outcome: GroupOutcome::Released { count, columns },
        });
    }
    Ok(StatsResult { groups })
}

/// Decodes one column's aggregates (`None` for [`Statistic::Count`], which
/// has none); `released` marks its released histogram cells, if decided.
fn decode_column(
    job: &StatsJob,
    agg: &[u128],
    count: u64,
    released: Option<&[bool]>,
    noise: Option<NoiseScale>,
) -> Option<ColumnResult> {
    // Each value was rounded once (half a step); each party rounded its
    // sum of squares once; DP noise adds its standard deviation.
    let steps = |sd: Option<f64>| sd.unwrap_or(0.0) * 2f64.powi(job.frac_bits as i32);
    let sum_noise = steps(noise.and_then(|n| n.sum));
    let squares_noise = steps(noise.and_then(|n| n.sum_squares));
    let sum = |v: u128| Fixed::with_error(v as i128, job.frac_bits, 0.5 * count as f64 + sum_noise);
    let squares = |v: u128| {
        let parties = MAX_PARTIES as f64;
        Fixed::with_error(v as i128, job.frac_bits, 0.5 * parties + squares_noise)
    };
    // Compared: the verdicts say which cells were opened. Opened to the
    // decider: a cell below the minimum is only not written out.
    let cell = |i: usize, v: u128| {
        let shown = match released {
            Some(r) => r.get(i).copied().unwrap_or(false),
            None => u64::try_from(v).is_ok_and(|c| c >= job.min_group_size),
        };
        u64::try_from(v).ok().filter(|_| shown)
    };
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
                variance_digits: match noise.and_then(|n| n.sum_squares) {
                    // Noise on Σx² alone moves the variance by sd/(n − 1).
                    Some(sd) => {
                        let error = sd / (count.max(2) - 1) as f64;
                        (-(2.0 * error).log10()).floor().clamp(0.0, 17.0) as u32
                    }
                    None => value::variance_digits(variance, count, job.frac_bits, MAX_PARTIES),
                },
            }
        }
        Statistic::Histogram { .. } => ColumnResult::Histogram {
            below: cell(0, agg[0]),
            bins: (1..agg.len() - 1).map(|i| cell(i, agg[i])).collect(),
            above: cell(agg.len() - 1, agg[agg.len() - 1]),
        },
    })
}
