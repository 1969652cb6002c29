//! The public plan of a vertical job, which every party derives alike: the
//! computing parties' order, the checks every party makes of the others'
//! announcements, the validation split, batches and chunks.
//!
//! Nothing here is secret: row counts, column counts and the parameters
//! are announced to every computing party; the split and the batch order
//! come from the job's public seed.

use crate::LearnError;
use crate::params::{Optimizer, Sigmoid, Task, TrainParams};
use indomain_mpc::open;
use indomain_net::PartySet;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use std::ops::Range;

/// Rows per fixed matrix: each is opened under its own mask, and products
/// over it are truncated on their own, which keeps the truncated values
/// (and the chance that a truncation fails) small for any number of rows.
pub(crate) const CHUNK_ROWS: usize = 1 << 16;

/// The most shared matrix elements (rows × all parties' columns) a party
/// accepts to hold: 2^31 elements, 16 GiB of masked matrix. Larger jobs are
/// refused when announced, before anything is allocated.
pub(crate) const MAX_ELEMENTS: u128 = 1 << 31;

/// The largest |feature| accepted (standardised features; see the bounded
/// encoder of indomain-core).
pub const FEATURE_BOUND: f64 = 1024.0;

/// The computing parties in rank order: the label holder first (the
/// leader), then every other party but the dealer, in set order.
pub(crate) fn computing_order(n: usize, label: usize, dealer: Option<usize>) -> Vec<usize> {
    std::iter::once(label)
        .chain((0..n).filter(|&i| i != label && Some(i) != dealer))
        .collect()
}

/// The parameters as words every party compares.
fn param_words(p: &TrainParams) -> Vec<u64> {
    let es = p.early_stopping;
    vec![
        p.epochs as u64,
        p.learning_rate.to_bits(),
        p.l2.to_bits(),
        p.batch_size.map_or(0, |b| b as u64),
        p.frac_bits as u64,
        p.seed,
        matches!(p.task, Task::Logistic) as u64,
        es.map_or(0, |e| e.validation_fraction.to_bits()),
        es.map_or(0, |e| e.patience as u64),
        match p.sigmoid {
            Sigmoid::Linear => 0,
            Sigmoid::Clamped => 1,
            Sigmoid::Fourier => 2,
        },
        match p.optimizer {
            Optimizer::GradientDescent => 0,
            Optimizer::BoundNewton { momentum } => 1 + momentum.to_bits(),
        },
        p.convergence.map_or(0, |c| c.validation_fraction.to_bits()),
        p.convergence.map_or(0, |c| c.tolerance.to_bits()),
        p.convergence.map_or(0, |c| c.patience as u64),
        match p.recalibration {
            None => 0,
            Some(crate::calibration::Method::Platt) => 1,
            Some(crate::calibration::Method::Isotonic) => 2,
        },
    ]
}

/// The largest change of a validation prediction between two epochs:
/// probabilities (logistic), or predictions in units of the labels'
/// standard deviation (linear). The convergence test compares it with
/// its tolerance.
pub fn prediction_change(task: Task, previous: &[f64], now: &[f64], labels: &[f64]) -> f64 {
    let largest = previous
        .iter()
        .zip(now)
        .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
    match task {
        Task::Logistic => largest,
        Task::Linear => {
            let n = labels.len().max(1) as f64;
            let mean = labels.iter().sum::<f64>() / n;
            let sd = (labels.iter().map(|y| (y - mean).powi(2)).sum::<f64>() / n).sqrt();
            largest / sd.max(1e-12)
        }
    }
}

/// Checks the parameters every party must accept before anything is sent.
pub(crate) fn check_params(p: &TrainParams) -> Result<(), LearnError> {
    let bad = |what: &str| Err(LearnError::Params(what.to_string()));
    if p.epochs == 0 {
        return bad("epochs must be at least 1");
    }
    if !(p.learning_rate.is_finite() && p.learning_rate > 0.0 && p.learning_rate <= 16.0) {
        return bad("the learning rate must be in (0, 16]");
    }
    if !(p.l2.is_finite() && p.l2 >= 0.0 && p.l2 <= 16.0) {
        return bad("the L2 strength must be in [0, 16]");
    }
    if p.batch_size == Some(0) {
        return bad("a batch holds at least one row");
    }
    if !(8..=20).contains(&p.frac_bits) {
        return bad("vertical training takes 8 to 20 fractional bits");
    }
    if let Some(es) = p.early_stopping
        && (!(es.validation_fraction > 0.0 && es.validation_fraction < 1.0) || es.patience == 0)
    {
        return bad("early stopping needs a validation fraction in (0, 1) and patience ≥ 1");
    }
    if let Some(c) = p.convergence
        && (!(c.validation_fraction > 0.0 && c.validation_fraction < 1.0)
            || c.patience == 0
            || !(c.tolerance.is_finite() && c.tolerance > 0.0))
    {
        return bad(
            "the convergence test needs a validation fraction in (0, 1), a positive tolerance and patience ≥ 1",
        );
    }
    if p.recalibration.is_some() && (p.validation_fraction().is_none() || p.task != Task::Logistic)
    {
        return bad(
            "recalibration needs logistic regression and a validation split (the convergence test or early stopping)",
        );
    }
    if p.convergence.is_some() && p.early_stopping.is_some() {
        return bad("choose the convergence test or early stopping, not both");
    }
    if let Optimizer::BoundNewton { momentum } = p.optimizer
        && !(0.0..1.0).contains(&momentum)
    {
        return bad("the bound-Newton momentum must be in [0, 1)");
    }
    Ok(())
}

/// Announced instead of a row count by a party without columns, which
/// takes the others' rows.
const ANY_ROWS: u64 = u64::MAX;

/// Every computing party announces its rows (`None` for a party without
/// columns, which takes the others'), its block width and the parameters;
/// returns the agreed row count and every rank's width. Any difference in
/// rows or parameters is an error naming the peer.
pub(crate) fn agree(
    parties: &mut PartySet,
    group: &[usize],
    rows: Option<usize>,
    width: usize,
    params: Option<&TrainParams>,
) -> Result<(usize, Vec<usize>), LearnError> {
    let mut mine = vec![rows.map_or(ANY_ROWS, |r| r as u64), width as u64];
    mine.extend(params.map(param_words).unwrap_or_default());
    let lens = vec![mine.len(); group.len()];
    let all = open::exchange(parties, group, mine.clone(), &lens)?;
    let mut agreed = rows.map(|r| r as u64);
    let mut widths = Vec::with_capacity(group.len());
    for (theirs, &index) in all.iter().zip(group) {
        let peer = || parties.name(index).to_string();
        if theirs[0] != ANY_ROWS {
            match agreed {
                Some(r) if r != theirs[0] => {
                    return Err(LearnError::Disagreement {
                        peer: peer(),
                        what: format!("it has {} rows, this party {r}", theirs[0]),
                    });
                }
                _ => agreed = Some(theirs[0]),
            }
        }
        if theirs[2..] != mine[2..] {
            return Err(LearnError::Disagreement {
                peer: peer(),
                what: "its training parameters differ".into(),
            });
        }
        if theirs[1] > (1 << 20) {
            return Err(LearnError::Disagreement {
                peer: peer(),
                what: format!("it announces {} columns", theirs[1]),
            });
        }
        widths.push(theirs[1] as usize);
    }
    let rows = agreed.ok_or_else(|| LearnError::Input("no party has any rows".into()))?;
    let total = rows as u128 * widths.iter().map(|&w| w as u128).sum::<u128>();
    if total > MAX_ELEMENTS {
        return Err(LearnError::Params(format!(
            "{rows} rows × {} columns exceed the {MAX_ELEMENTS} shared elements a party holds",
            widths.iter().sum::<usize>()
        )));
    }
    Ok((rows as usize, widths))
}

/// Training and validation rows (each in row order): the validation rows
/// are a public random choice of ⌈fraction · rows⌉ rows, from the seed.
pub fn validation_split(rows: usize, fraction: Option<f64>, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let Some(fraction) = fraction else {
        return ((0..rows).collect(), Vec::new());
    };
    let mut order: Vec<usize> = (0..rows).collect();
    order.shuffle(&mut StdRng::seed_from_u64(seed));
    let val = ((fraction * rows as f64).ceil() as usize).min(rows);
    let (mut v, mut t) = (order[..val].to_vec(), order[val..].to_vec());
    v.sort_unstable();
    t.sort_unstable();
    (t, v)
}

/// Batches of positions into the training rows: consecutive ranges of
/// `batch` rows (the last may be shorter), or one batch of all.
pub fn batches(rows: usize, batch: Option<usize>) -> Vec<Range<usize>> {
    let size = batch.unwrap_or(rows).max(1);
    (0..rows.div_ceil(size))
        .map(|b| b * size..((b + 1) * size).min(rows))
        .collect()
}

/// The order in which an epoch visits the batches: a public shuffle from
/// the seed and the epoch (the identity for a single batch).
pub fn batch_order(epoch: usize, batches: usize, seed: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..batches).collect();
    if batches > 1 {
        let mix = seed ^ (epoch as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        order.shuffle(&mut StdRng::seed_from_u64(mix));
    }
    order
}

/// A range of rows cut into chunks of at most [`CHUNK_ROWS`].
pub(crate) fn chunks(range: Range<usize>) -> Vec<Range<usize>> {
    range
        .clone()
        .step_by(CHUNK_ROWS)
        .map(|start| start..(start + CHUNK_ROWS).min(range.end))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_batches_and_chunks_cover_every_row_once() {
        let (t, v) = validation_split(1000, Some(0.25), 7);
        assert_eq!(v.len(), 250);
        let mut all: Vec<usize> = t.iter().chain(&v).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..1000).collect::<Vec<_>>());
        assert_eq!(validation_split(1000, Some(0.25), 7), (t, v));
        let b = batches(10, Some(4));
        assert_eq!(b, vec![0..4, 4..8, 8..10]);
        assert_eq!(batches(10, None), vec![0..10]);
        let mut order = batch_order(3, 3, 1);
        order.sort_unstable();
        assert_eq!(order, vec![0, 1, 2]);
        let c = chunks(5..CHUNK_ROWS * 2 + 10);
        assert_eq!(c.len(), 3);
        assert_eq!(c[2].end, CHUNK_ROWS * 2 + 10);
        assert_eq!(computing_order(4, 2, Some(0)), vec![2, 1, 3]);
    }
}
