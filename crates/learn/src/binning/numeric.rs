//! Cut points of a numeric column: quantile, equal width or given edges,
//! and the merging of adjacent bins that hold too few rows.
//!
//! A feature with edges e_1 < … < e_m has m + 1 value bins, bin i holding
//! e_i ≤ x < e_(i+1) (with e_0 = −∞, e_(m+1) = +∞): x goes to the number of
//! edges at or below it. Splitting a tree at edge e_i sends x < e_i left,
//! as XGBoost does.

use std::ops::Range;

/// The value bin of `x` (not missing) among `edges`.
pub fn bin_of(edges: &[f64], x: f64) -> usize {
    edges.partition_point(|e| *e <= x)
}

/// Quantile edges of sorted, finite `sorted` values for `bins` bins: edge
/// k (1 ≤ k < bins) is the value at 0-based position ⌊k·n / bins⌋, so that
/// without ties bin k holds the values at positions ⌊(k−1)·n/bins⌋ to
/// ⌊k·n/bins⌋ − 1. Ties collapse edges (a value never straddles two
/// bins), so fewer bins may come out; an edge at the minimum is dropped
/// (it would leave the first bin empty).
pub fn quantile_edges(sorted: &[f64], bins: usize) -> Vec<f64> {
    let n = sorted.len();
    let mut edges: Vec<f64> = Vec::with_capacity(bins.saturating_sub(1));
    if n == 0 {
        return edges;
    }
    for k in 1..bins {
        let e = sorted[(k as u128 * n as u128 / bins as u128) as usize];
        if e > sorted[0] && edges.last().is_none_or(|&last| e > last) {
            edges.push(e);
        }
    }
    edges
}

/// Edges of `bins` bins of equal width between `min` and `max`; none when
/// the column is constant.
pub fn equal_width_edges(min: f64, max: f64, bins: usize) -> Vec<f64> {
    if max <= min {
        return Vec::new();
    }
    let width = (max - min) / bins as f64;
    let mut edges: Vec<f64> = Vec::with_capacity(bins.saturating_sub(1));
    for k in 1..bins {
        let e = min + k as f64 * width;
        if e > min && e <= max && edges.last().is_none_or(|&last| e > last) {
            edges.push(e);
        }
    }
    edges
}

/// Blocks of adjacent bins such that every block holds at least
/// `min_count` rows (unless there is only one block): repeatedly, the
/// smallest block under the minimum (the first on a tie) is merged with
/// its smaller neighbour (the left one on a tie).
pub fn merge_small(counts: &[u64], min_count: u64) -> Vec<Range<usize>> {
    let mut blocks: Vec<(Range<usize>, u64)> = counts
        .iter()
        .enumerate()
        .map(|(i, &c)| (i..i + 1, c))
        .collect();
    while blocks.len() > 1 {
        let Some((at, _)) = blocks
            .iter()
            .enumerate()
            .filter(|(_, (_, c))| *c < min_count)
            .min_by_key(|(i, (_, c))| (*c, *i))
        else {
            break;
        };
        let left = at.checked_sub(1).map(|l| blocks[l].1);
        let right = blocks.get(at + 1).map(|b| b.1);
        let with = match (left, right) {
            (Some(l), Some(r)) if r < l => at + 1,
            (Some(_), _) => at - 1,
            (None, _) => at + 1,
        };
        let (lo, hi) = (at.min(with), at.max(with));
        let merged = blocks[lo].0.start..blocks[hi].0.end;
        let count = blocks[lo].1 + blocks[hi].1;
        blocks[lo] = (merged, count);
        blocks.remove(hi);
    }
    blocks.into_iter().map(|(r, _)| r).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_edges_split_evenly_and_collapse_ties() {
        let v: Vec<f64> = (0..100).map(f64::from).collect();
        let e = quantile_edges(&v, 4);
        assert_eq!(e, vec![25.0, 50.0, 75.0]);
        let counts = [0, 1, 2, 3].map(|b| v.iter().filter(|&&x| bin_of(&e, x) == b).count());
        assert_eq!(counts, [25; 4]);
        // Ties: half the values are 0.
        let mut t = vec![0.0; 50];
        t.extend((1..=50).map(f64::from));
        assert_eq!(quantile_edges(&t, 4), vec![1.0, 26.0]);
        assert!(quantile_edges(&[3.0; 10], 5).is_empty());
    }

    #[test]
    fn equal_width_and_bin_of() {
        assert_eq!(equal_width_edges(0.0, 10.0, 4), vec![2.5, 5.0, 7.5]);
        assert!(equal_width_edges(1.0, 1.0, 4).is_empty());
        let e = [1.0, 2.0];
        assert_eq!(
            [0.5, 1.0, 1.5, 2.0, 9.0].map(|x| bin_of(&e, x)),
            [0, 1, 1, 2, 2]
        );
    }

    #[test]
    fn small_bins_merge_with_their_smaller_neighbour() {
        assert_eq!(merge_small(&[10, 1, 5, 10], 4), vec![0..1, 1..3, 3..4]);
        assert_eq!(merge_small(&[1, 10, 10], 4), vec![0..2, 2..3]);
        assert_eq!(merge_small(&[10, 10, 1], 4), vec![0..1, 1..3]);
        assert_eq!(merge_small(&[1, 1], 4), vec![0..2]);
        assert_eq!(merge_small(&[5, 5], 4), vec![0..1, 1..2]);
    }
}
