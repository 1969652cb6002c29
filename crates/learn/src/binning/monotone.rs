//! Monotone merging: adjacent value bins merged until the event rate (and
//! so the WOE, which increases with it) is monotone across them.
//!
//! Construction: weighted isotonic regression of the bins' event rates
//! pos_i / n_i with weights n_i by pool-adjacent-violators (Ayer et al.
//! 1955; Barlow et al. 1972); its level sets are the merged bins. It is run
//! for an increasing and for a decreasing rate, and the direction with the
//! smaller weighted squared error is kept (increasing on a tie), i.e. the
//! best monotone fit. A bin without rows joins its left neighbour (the
//! right one if it is first). The missing-value bin is never merged.

use std::ops::Range;

/// One pooled block of bins.
#[derive(Debug, Clone)]
struct Block {
    bins: Range<usize>,
    events: f64,
    rows: f64,
}

impl Block {
    fn rate(&self) -> f64 {
        self.events / self.rows
    }
}

/// Which way the event rate runs across the merged bins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Non-decreasing.
    Increasing,
    /// Non-increasing.
    Decreasing,
}

/// The merged bins (blocks of adjacent bins, in order) and the direction,
/// from each bin's events and non-events.
pub fn monotone_blocks(events: &[f64], non_events: &[f64]) -> (Vec<Range<usize>>, Direction) {
    let up = pool(events, non_events, Direction::Increasing);
    let down = pool(events, non_events, Direction::Decreasing);
    if sse(&down, events, non_events) < sse(&up, events, non_events) {
        (ranges(down), Direction::Decreasing)
    } else {
        (ranges(up), Direction::Increasing)
    }
}

fn ranges(blocks: Vec<Block>) -> Vec<Range<usize>> {
    blocks.into_iter().map(|b| b.bins).collect()
}

/// Pool-adjacent-violators for one direction.
fn pool(events: &[f64], non_events: &[f64], direction: Direction) -> Vec<Block> {
    let mut stack: Vec<Block> = Vec::with_capacity(events.len());
    let mut carry: Option<Block> = None;
    for (i, (&e, &ne)) in events.iter().zip(non_events).enumerate() {
        let mut block = Block {
            bins: i..i + 1,
            events: e,
            rows: e + ne,
        };
        if let Some(c) = carry.take() {
            block.bins.start = c.bins.start;
        }
        if block.rows <= 0.0 {
            match stack.last_mut() {
                Some(top) => top.bins.end = block.bins.end,
                None => carry = Some(block),
            }
            continue;
        }
        stack.push(block);
        while stack.len() > 1 {
            let (a, b) = (&stack[stack.len() - 2], &stack[stack.len() - 1]);
            let violates = match direction {
                Direction::Increasing => a.rate() > b.rate(),
                Direction::Decreasing => a.rate() < b.rate(),
            };
            if !violates {
                break;
            }
            let b = stack.pop().expect("two blocks");
            let a = stack.last_mut().expect("two blocks");
            a.bins.end = b.bins.end;
            a.events += b.events;
            a.rows += b.rows;
        }
    }
    if let Some(c) = carry {
        // Every bin was empty: one block.
        stack.push(c);
    }
    stack
}

/// Σ_i n_i · (rate_i − fitted_i)².
fn sse(blocks: &[Block], events: &[f64], non_events: &[f64]) -> f64 {
    blocks
        .iter()
        .map(|b| {
            let fitted = if b.rows > 0.0 { b.rate() } else { 0.0 };
            b.bins
                .clone()
                .map(|i| {
                    let n = events[i] + non_events[i];
                    if n > 0.0 {
                        n * (events[i] / n - fitted).powi(2)
                    } else {
                        0.0
                    }
                })
                .sum::<f64>()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plaintext reference: every partition of the bins into blocks
    /// of adjacent bins whose pooled rates are monotone in `direction`;
    /// the isotonic fit is the one with the least weighted squared error.
    fn brute_force(e: &[f64], ne: &[f64], direction: Direction) -> (Vec<f64>, f64) {
        let n = e.len();
        let mut best: Option<(Vec<f64>, f64)> = None;
        for mask in 0u32..(1 << (n - 1)) {
            let mut starts = vec![0];
            starts.extend((1..n).filter(|i| mask & (1 << (i - 1)) != 0));
            starts.push(n);
            let rates: Vec<f64> = starts
                .windows(2)
                .map(|w| {
                    let ev: f64 = e[w[0]..w[1]].iter().sum();
                    let rows: f64 = ev + ne[w[0]..w[1]].iter().sum::<f64>();
                    ev / rows
                })
                .collect();
            let ok = rates.windows(2).all(|r| match direction {
                Direction::Increasing => r[0] <= r[1],
                Direction::Decreasing => r[0] >= r[1],
            });
            if !ok {
                continue;
            }
            let mut fitted = vec![0.0; n];
            for (w, r) in starts.windows(2).zip(&rates) {
                fitted[w[0]..w[1]].iter_mut().for_each(|f| *f = *r);
            }
            let err: f64 = (0..n)
                .map(|i| (e[i] + ne[i]) * (e[i] / (e[i] + ne[i]) - fitted[i]).powi(2))
                .sum();
            if best.as_ref().is_none_or(|(_, b)| err < *b - 1e-12) {
                best = Some((fitted, err));
            }
        }
        best.expect("one block is always monotone")
    }

    fn fitted(blocks: &[Range<usize>], e: &[f64], ne: &[f64]) -> Vec<f64> {
        let mut out = vec![0.0; e.len()];
        for b in blocks {
            let ev: f64 = e[b.clone()].iter().sum();
            let rows: f64 = ev + ne[b.clone()].iter().sum::<f64>();
            out[b.clone()].iter_mut().for_each(|f| *f = ev / rows);
        }
        out
    }

    #[test]
    fn merging_equals_the_brute_force_isotonic_fit() {
        let mut state = 0x1234_5678_u64;
        let mut next = |m: u64| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) % m
        };
        for _ in 0..300 {
            let n = 2 + next(8) as usize;
            let e: Vec<f64> = (0..n).map(|_| next(30) as f64).collect();
            let ne: Vec<f64> = (0..n).map(|_| 1.0 + next(60) as f64).collect();
            let (blocks, dir) = monotone_blocks(&e, &ne);
            let got = fitted(&blocks, &e, &ne);
            let (up, up_err) = brute_force(&e, &ne, Direction::Increasing);
            let (down, down_err) = brute_force(&e, &ne, Direction::Decreasing);
            let want = if down_err < up_err - 1e-12 { down } else { up };
            for (g, w) in got.iter().zip(&want) {
                assert!(
                    (g - w).abs() < 1e-9,
                    "{e:?} {ne:?} {dir:?}: {got:?} != {want:?}"
                );
            }
            // Blocks cover every bin once, in order.
            assert_eq!(blocks.first().map(|b| b.start), Some(0));
            assert_eq!(blocks.last().map(|b| b.end), Some(n));
            assert!(blocks.windows(2).all(|w| w[0].end == w[1].start));
        }
    }

    #[test]
    fn known_answers_and_empty_bins() {
        let (b, d) = monotone_blocks(&[1.0, 3.0, 2.0, 8.0], &[9.0, 7.0, 8.0, 2.0]);
        assert_eq!((b, d), (vec![0..1, 1..3, 3..4], Direction::Increasing));
        let (b, d) = monotone_blocks(&[8.0, 5.0, 1.0], &[2.0, 5.0, 9.0]);
        assert_eq!((b, d), (vec![0..1, 1..2, 2..3], Direction::Decreasing));
        let (b, _) = monotone_blocks(&[0.0, 1.0, 0.0, 3.0], &[0.0, 9.0, 0.0, 7.0]);
        assert_eq!(b, vec![0..3, 3..4]);
        let (b, _) = monotone_blocks(&[0.0, 0.0], &[0.0, 0.0]);
        assert_eq!(b, vec![0..2]);
    }
}
