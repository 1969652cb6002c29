//! A party's local aggregates: the vector it secret-shares.
//!
//! Layout: the G group counts first, then one segment per group of
//! `columns × per_column` ring elements (see [`Statistic::per_column`]), so
//! that the counts and each group's statistics can be opened separately.

use super::job::{LocalData, Statistic, StatsJob};
use crate::AggregateError;

/// Computes this party's local aggregates in the job's layout, refusing
/// rows with an unknown group and values outside the job's range.
pub fn tabulate(job: &StatsJob, data: &LocalData) -> Result<Vec<u64>, AggregateError> {
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
    let per_column = job.statistic.per_column();
    let width = job.group_width();
    let scale = 2f64.powi(job.frac_bits as i32);
    let mut counts = vec![0u64; groups];
    // Exact local accumulation: no wrap and no rounding until the end.
    let mut acc = vec![0i128; groups * width];
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
            let x = col[row];
            if !(x.is_finite() && x.abs() <= job.max_abs) {
                return Err(AggregateError::OutOfRange {
                    row,
                    column: c,
                    value: x,
                    max_abs: job.max_abs,
                });
            }
            let cell = &mut acc[g * width + c * per_column..][..per_column];
            let encoded = (x * scale).round() as i128;
            match &job.statistic {
                Statistic::Count => {}
                Statistic::Sum | Statistic::Mean => cell[0] += encoded,
                Statistic::Variance => {
                    cell[0] += encoded;
                    cell[1] += encoded * encoded;
                }
                Statistic::Histogram { edges } => cell[bin_of(edges, x)] += 1,
            }
        }
    }
    if job.statistic == Statistic::Variance {
        // Σ x² carries 2f fractional bits: shift back to f, rounding once.
        let half = 1i128 << job.frac_bits >> 1;
        for sq in acc.iter_mut().skip(1).step_by(2) {
            *sq = (*sq + half) >> job.frac_bits;
        }
    }
    let mut out = counts;
    // Reducing modulo 2^64 is the ring embedding; the overflow check before
    // opening guarantees the opened totals did not wrap.
    out.extend(acc.into_iter().map(|v| v as u64));
    Ok(out)
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
            min_group_size: 1,
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
