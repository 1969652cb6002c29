//! A party's local aggregates: the vector it secret-shares.
//!
//! Layout: the G group counts first, then one segment per group of
//! `columns × per_column` ring elements (see [`Statistic::per_column`]), so
//! that the counts and each group's statistics can be opened separately.

use super::job::{LocalData, Statistic, StatsJob};
use crate::AggregateError;
use crate::dp::Clip;
use indomain_core::fixed128::Fixed128;

/// Computes this party's local aggregates in the job's layout (ring
/// Z_2^128), refusing rows with an unknown group and values outside the
/// job's range. Values are encoded with core's [`Fixed128`] (nearest, ties
/// to even), the one encoding every protocol uses.
pub fn tabulate(job: &StatsJob, data: &LocalData) -> Result<Vec<u128>, AggregateError> {
    tabulate_clipped(job, data, None)
}

/// [`tabulate`] with every finite value first moved into `clip`'s bounds
/// (differential privacy: a value outside is clipped, not refused; a value
/// that is not a number is still refused).
pub fn tabulate_clipped(
    job: &StatsJob,
    data: &LocalData,
    clip: Option<Clip>,
) -> Result<Vec<u128>, AggregateError> {
    let groups = job.groups();
    let rows = data.rows();
    if data.columns.len() != job.columns.len() {
        return Err(AggregateError::BadInput(format!(
            "the job has {} columns, the data {}",
            job.columns.len(),
            data.columns.len()
        )));
    }
    if let Some((c, col)) = data
        .columns
        .iter()
        .enumerate()
        .find(|(_, c)| c.len() != rows)
    {
        return Err(AggregateError::BadInput(format!(
            "column {c} has {} values for {rows} rows",
            col.len()
        )));
    }
    let codec =
        Fixed128::new(job.frac_bits).map_err(|e| AggregateError::BadParameters(e.to_string()))?;
    let per_column = job.statistic.per_column();
    let width = job.group_width();
    let mut counts = vec![0u128; groups];
    // Exact local accumulation: sums in i128 (at most 2^63 per row), sums
    // of squares in 256 bits (at most 2^126 per row); no rounding until the
    // end.
    let mut acc = vec![0i128; groups * width];
    let mut squares = vec![Wide::default(); groups * width];
    for (row, &g) in data.groups.iter().enumerate() {
        if g >= groups {
            return Err(AggregateError::UnknownGroup {
                row,
                group: g,
                groups,
            });
        }
        counts[g] += 1;
        for (c, col) in data.columns.iter().enumerate() {
            let x = match clip {
                Some(clip) if col[row].is_finite() => clip.apply(col[row]),
                _ => col[row],
            };
            let out_of_range = || AggregateError::OutOfRange {
                row,
                column: c,
                value: x,
                max_abs: job.max_abs,
            };
            if !(x.is_finite() && x.abs() <= job.max_abs) {
                return Err(out_of_range());
            }
            let at = g * width + c * per_column;
            let cell = &mut acc[at..][..per_column];
            match &job.statistic {
                Statistic::Count => {}
                Statistic::Sum | Statistic::Mean => {
                    cell[0] += codec.encode_decimal(x).map_err(|_| out_of_range())? as i128;
                }
                Statistic::Variance => {
                    let encoded = codec.encode_decimal(x).map_err(|_| out_of_range())? as i128;
                    cell[0] += encoded;
                    squares[at + 1].add(encoded.unsigned_abs().pow(2));
                }
                Statistic::Histogram { edges } => cell[bin_of(edges, x)] += 1,
            }
        }
    }
    if job.statistic == Statistic::Variance {
        // Σ x² carries 2f fractional bits: shift back to f, rounding once.
        for (sq, wide) in acc.iter_mut().zip(&squares).skip(1).step_by(2) {
            *sq = wide.shift_round(job.frac_bits) as i128;
        }
    }
    let mut out = counts;
    // Reducing modulo 2^128 is the ring embedding; the overflow check before
    // opening guarantees the opened totals did not wrap.
    out.extend(acc.into_iter().map(|v| v as u128));
    Ok(out)
}

/// An unsigned 256-bit accumulator for sums of squares.
#[derive(Debug, Clone, Copy, Default)]
struct Wide {
    lo: u128,
    hi: u128,
}

impl Wide {
    fn add(&mut self, v: u128) {
        let (lo, carry) = self.lo.overflowing_add(v);
        self.lo = lo;
        self.hi += u128::from(carry);
    }

    /// round(self / 2^f), reduced modulo 2^128.
    fn shift_round(self, f: u32) -> u128 {
        if f == 0 {
            return self.lo;
        }
        let mut w = self;
        w.add(1u128 << (f - 1));
        (w.lo >> f) | (w.hi << (128 - f))
    }
}

/// The slot of `x` in a histogram cell: 0 below the first edge, 1..=k for
/// the bins, k + 1 above the last edge.
fn bin_of(edges: &[f64], x: f64) -> usize {
    let k = edges.len() - 1;
    match edges.first().zip(edges.last()) {
        Some((&lo, _)) if x < lo => 0,
        Some((_, &hi)) if x > hi => k + 1,
        Some((_, &hi)) if x == hi => k,
        _ => edges.partition_point(|&e| e <= x),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_squares_shift_back_with_one_rounding() {
        let mut w = Wide::default();
        w.add(u128::MAX);
        w.add(3);
        assert_eq!((w.lo, w.hi), (2, 1));
        // (2^128 + 2) / 2^4 = 2^124 + 0.125 → 2^124.
        assert_eq!(w.shift_round(4), 1u128 << 124);
        let mut half = Wide::default();
        half.add(24);
        assert_eq!(half.shift_round(4), 2);
        assert_eq!(half.shift_round(0), 24);
    }

    #[test]
    fn bins_are_half_open_with_a_closed_last_bin() {
        let edges = [0.0, 1.0, 2.0];
        let slots: Vec<usize> = [-0.5, 0.0, 0.5, 1.0, 1.5, 2.0, 2.5]
            .iter()
            .map(|&x| bin_of(&edges, x))
            .collect();
        assert_eq!(slots, vec![0, 1, 1, 2, 2, 2, 3]);
    }

    #[test]
    fn out_of_range_values_and_unknown_groups_are_refused() {
        let job = StatsJob {
            statistic: Statistic::Sum,
            columns: vec!["x".into()],
            categories: Some(vec!["a".into(), "b".into()]),
            receivers: vec![0],
            min_group_size: 3,
            frac_bits: 16,
            max_abs: 100.0,
        };
        let data = LocalData {
            groups: vec![0, 1],
            columns: vec![vec![5.0, 100.5]],
        };
        assert!(matches!(
            tabulate(&job, &data),
            Err(AggregateError::OutOfRange {
                row: 1,
                column: 0,
                ..
            })
        ));
        let data = LocalData {
            groups: vec![0, 2],
            columns: vec![vec![5.0, 1.0]],
        };
        assert!(matches!(
            tabulate(&job, &data),
            Err(AggregateError::UnknownGroup {
                row: 1,
                group: 2,
                ..
            })
        ));
        let data = LocalData {
            groups: vec![0, 1],
            columns: vec![vec![5.0, f64::NAN]],
        };
        assert!(tabulate(&job, &data).is_err());
    }
}
