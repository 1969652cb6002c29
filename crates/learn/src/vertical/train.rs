//! Vertical training on secret-shared values: the protocol of one party.
//! See the module documentation of [`crate::vertical`] for the construction
//! and what each party learns.

use super::TrainOutcome;
use super::plan::{self, FEATURE_BOUND};
use crate::LearnError;
use crate::params::{Sigmoid, Task, TrainParams};
use indomain_core::{Bounded, FixedPoint};
use indomain_mpc::dealer::{self, DealerClient, DealerLimits};
use indomain_mpc::{FixedMatrix, Roster, Session, Shared};
use indomain_net::PartySet;
use ndarray::{Array2, ArrayView2};
use rand::{CryptoRng, Rng};
use std::ops::Range;

/// This party's block of one chunk of rows, opened once under a mask.
struct Chunk {
    matrix: FixedMatrix,
    /// The chunk's labels, encoded (label holder only).
    labels: Vec<u64>,
}

type Party<'a> = Session<'a, DealerClient>;

/// The label holder's rank: it is the mpc layer's leader.
const LEADER: usize = 0;

/// Checks the label holder's labels.
fn check_labels(task: Task, y: &[f64], rows: usize) -> Result<(), LearnError> {
    if y.len() != rows {
        return Err(LearnError::Input(format!(
            "{} labels for {rows} rows",
            y.len()
        )));
    }
    for (i, &v) in y.iter().enumerate() {
        let ok = match task {
            Task::Logistic => v == 0.0 || v == 1.0,
            Task::Linear => v.is_finite() && v.abs() <= FEATURE_BOUND,
        };
        if !ok {
            return Err(LearnError::Input(format!(
                "row {i}: label {v} is not {}",
                match task {
                    Task::Logistic => "0 or 1".to_string(),
                    Task::Linear => format!("a finite value within ±{FEATURE_BOUND}"),
                }
            )));
        }
    }
    Ok(())
}

/// This party's encoded block (rows × width), with a column of ones at the
/// label holder for the intercept.
fn encode_block(
    x: ArrayView2<'_, f64>,
    with_intercept: bool,
    enc: &Bounded,
) -> Result<Array2<u64>, LearnError> {
    let (rows, cols) = x.dim();
    let width = cols + with_intercept as usize;
    let values = x.as_standard_layout();
    let values = values.as_slice().unwrap_or_default();
    let encoded = enc.encode_slice(values).map_err(|e| {
        let at = values.iter().position(|v| enc.encode(*v).is_err());
        let at = at.map_or(String::new(), |i| {
            format!(
                "row {}, feature column {}: ",
                i / cols.max(1),
                i % cols.max(1)
            )
        });
        LearnError::Input(format!("{at}{e}"))
    })?;
    let mut out = Array2::zeros((rows, width));
    out.slice_mut(ndarray::s![.., ..cols]).assign(
        &ArrayView2::from_shape((rows, cols), &encoded)
            .map_err(|e| LearnError::Input(e.to_string()))?,
    );
    if with_intercept {
        out.column_mut(cols).fill(enc.encode(1.0)?);
    }
    Ok(out)
}

fn gather_rows(block: &Array2<u64>, rows: &[usize]) -> Array2<u64> {
    block.select(ndarray::Axis(0), rows)
}

/// Opens the chunks of a list of rows under their masks.
fn fix_chunks(
    s: &mut Party<'_>,
    block: &Array2<u64>,
    rows: &[usize],
    range: Range<usize>,
    widths: &[usize],
    labels: Option<&[u64]>,
) -> Result<Vec<Chunk>, LearnError> {
    plan::chunks(range)
        .into_iter()
        .map(|c| {
            let own = gather_rows(block, &rows[c.clone()]);
            Ok(Chunk {
                matrix: s.fix_matrix(own.view(), widths)?,
                labels: labels.map(|l| l[c].to_vec()).unwrap_or_default(),
            })
        })
        .collect()
}

/// Trains at one party: see [`crate::vertical::train`].
#[allow(clippy::too_many_arguments)]
pub(super) fn run<R: Rng + CryptoRng + ?Sized>(
    parties: &mut PartySet,
    label: usize,
    dealer_index: usize,
    x: ArrayView2<'_, f64>,
    y: Option<&[f64]>,
    params: &TrainParams,
    on_epoch: &mut dyn FnMut(usize, Option<f64>),
    rng: &mut R,
) -> Result<TrainOutcome, LearnError> {
    plan::check_params(params)?;
    if label == dealer_index || label >= parties.len() || dealer_index >= parties.len() {
        return Err(LearnError::Params(
            "the label holder and the dealer must be two different parties of the set".into(),
        ));
    }
    let computing = plan::computing_order(parties.len(), label, Some(dealer_index));
    if !(2..=5).contains(&computing.len()) {
        return Err(LearnError::Params(format!(
            "vertical training takes 1 to 4 feature holders, not {}",
            computing.len() - 1
        )));
    }
    if parties.me() == dealer_index {
        let limits = DealerLimits::default();
        dealer::serve_ordered(parties, &computing, limits, rng)?;
        return Ok(TrainOutcome::default());
    }
    let roster = Roster::ordered(parties, computing.clone(), Some(dealer_index))?;
    let is_label = roster.is_leader();
    // A party without columns (left out of a contribution run) takes the
    // others' row count; the label holder's is its number of labels.
    let own_rows = match (is_label, y) {
        (true, Some(y)) => Some(y.len()),
        (true, None) => return Err(LearnError::Input("the label holder has no labels".into())),
        (false, Some(_)) => {
            return Err(LearnError::Input(
                "only the label holder passes labels".into(),
            ));
        }
        (false, None) => (x.ncols() > 0).then_some(x.nrows()),
    };
    if x.ncols() > 0 && own_rows != Some(x.nrows()) {
        return Err(LearnError::Input(format!(
            "{} labels for {} rows of features",
            own_rows.unwrap_or_default(),
            x.nrows()
        )));
    }
    if let Some(y) = y {
        check_labels(params.task, y, y.len())?;
    }
    let fp = FixedPoint::new(params.frac_bits)?;
    let enc = Bounded::new(fp, FEATURE_BOUND)?;
    let width = x.ncols() + is_label as usize;
    let (rows, widths) = plan::agree(parties, &computing, own_rows, width, Some(params))?;
    let block = if x.ncols() == 0 {
        encode_block(Array2::zeros((rows, 0)).view(), is_label, &enc)?
    } else {
        encode_block(x, is_label, &enc)?
    };
    let labels = y.map(|y| enc.encode_slice(y)).transpose()?;

    let fraction = params.early_stopping.map(|e| e.validation_fraction);
    let (train_rows, val_rows) = plan::validation_split(rows, fraction, params.seed);
    if train_rows.is_empty() {
        return Err(LearnError::Input("no rows left to train on".into()));
    }
    let train_labels: Option<Vec<u64>> = labels
        .as_ref()
        .map(|l| train_rows.iter().map(|&r| l[r]).collect());
    let val_labels: Option<Vec<f64>> = y.map(|y| val_rows.iter().map(|&r| y[r]).collect());

    let client = DealerClient::new(&roster)?;
    let mut s = Session::new(parties, roster, fp, client);
    let batches = plan::batches(train_rows.len(), params.batch_size);
    let mut fixed = Vec::with_capacity(batches.len());
    for b in &batches {
        fixed.push(fix_chunks(
            &mut s,
            &block,
            &train_rows,
            b.clone(),
            &widths,
            train_labels.as_deref(),
        )?);
    }
    let val_chunks = if val_rows.is_empty() {
        Vec::new()
    } else {
        fix_chunks(&mut s, &block, &val_rows, 0..val_rows.len(), &widths, None)?
    };
    drop(block);

    let trainer = Trainer::new(params, fp, &widths)?;
    let mut w = Shared::zeros(trainer.cols);
    let mut outcome = TrainOutcome::default();
    let mut best: Option<(f64, Shared)> = None;
    let mut since_best = 0usize;
    for epoch in 0..params.epochs {
        let mut squares = 0u64;
        for b in plan::batch_order(epoch, batches.len(), params.seed) {
            squares = squares.wrapping_add(trainer.step(&mut s, &fixed[b], &mut w)?);
        }
        let loss = trainer.loss(&mut s, squares, train_rows.len())?;
        outcome.epochs = epoch + 1;
        if let Some(l) = loss {
            outcome.loss_per_epoch.push(l);
        }
        on_epoch(epoch, loss);
        if let Some(es) = params.early_stopping {
            // The label holder decides; the others follow its flags, so
            // that every party keeps its share of the same best weights.
            let val = trainer.validation_loss(&mut s, &val_chunks, &w, val_labels.as_deref())?;
            let improved = match (&best, val) {
                (Some((b, _)), Some(v)) => v < *b,
                _ => true,
            };
            if let Some(v) = val {
                outcome.validation_loss.push(v);
            }
            let proposed = !improved && since_best + 1 >= es.patience;
            let (improved, stop) = trainer.agree(&mut s, improved, proposed)?;
            if improved {
                best = Some((val.unwrap_or(0.0), w.clone()));
                outcome.best_epoch = epoch + 1;
                since_best = 0;
            } else {
                since_best += 1;
            }
            if stop {
                break;
            }
        }
    }
    if let Some((_, b)) = best {
        w = b;
    } else {
        outcome.best_epoch = outcome.epochs;
    }
    let (weights, intercept) = trainer.reveal(&mut s, &w)?;
    outcome.weights = weights;
    outcome.intercept = intercept;
    s.finish()?;
    Ok(outcome)
}

/// The per-epoch arithmetic, with every public constant encoded once.
struct Trainer {
    task: Task,
    sigmoid: Sigmoid,
    fp: FixedPoint,
    cols: usize,
    widths: Vec<usize>,
    learning_rate: f64,
    /// lr·l2 per coordinate (0 for the intercept), encoded.
    decay: Vec<u64>,
}

impl Trainer {
    fn new(params: &TrainParams, fp: FixedPoint, widths: &[usize]) -> Result<Self, LearnError> {
        let cols: usize = widths.iter().sum();
        let intercept = widths[LEADER] - 1;
        let decay_value = fp.encode(params.learning_rate * params.l2)?;
        let decay = (0..cols)
            .map(|c| if c == intercept { 0 } else { decay_value })
            .collect();
        Ok(Self {
            task: params.task,
            sigmoid: params.sigmoid,
            fp,
            cols,
            widths: widths.to_vec(),
            learning_rate: params.learning_rate,
            decay,
        })
    }

    /// One gradient step on a batch; returns this party's share of the
    /// batch's Σ err² (2f fractional bits).
    fn step(&self, s: &mut Party<'_>, batch: &[Chunk], w: &mut Shared) -> Result<u64, LearnError> {
        let f = self.fp.frac_bits();
        let rows: usize = batch.iter().map(|c| c.matrix.rows()).sum();
        // 2^t ≤ rows: each chunk's gradient is truncated by f + t at once,
        // and the remaining factor 2^t / rows is folded into the step size.
        let t = usize::BITS - 1 - rows.leading_zeros();
        let mut grad = Shared::zeros(self.cols);
        let mut squares = 0u64;
        let rank = s.rank();
        for chunk in batch {
            let z = s.fixed_times(&chunk.matrix, w)?;
            let mut err = match self.task {
                Task::Logistic => match self.sigmoid {
                    Sigmoid::Linear => s.sigmoid(z, f)?,
                    Sigmoid::Clamped => s.sigmoid_clamped(z, f)?,
                },
                Task::Linear => s.truncate(z, f)?,
            };
            if rank == LEADER {
                err.sub_public(&chunk.labels, rank)?;
            }
            let (g, sq) = s.fixed_t_times_square(&chunk.matrix, &err)?;
            grad.add_assign(&s.truncate(g, f + t)?)?;
            squares = squares.wrapping_add(sq);
        }
        let step = self.learning_rate * (1u64 << t) as f64 / rows as f64;
        grad.scale(self.fp.encode(step)?);
        let mut decay = w.clone();
        decay.mul_public(&self.decay)?;
        grad.add_assign(&decay)?;
        let update = s.truncate(grad, f)?;
        w.sub_assign(&update)?;
        Ok(squares)
    }

    /// Opens Σ err² to the label holder and turns it into the epoch's
    /// training loss: half the mean squared error (linear), or the
    /// second-order Taylor expansion of the logistic loss that matches
    /// the sigmoid approximation, ln 2 − 1/2 + 2·mean(err²) (logistic).
    fn loss(
        &self,
        s: &mut Party<'_>,
        squares: u64,
        rows: usize,
    ) -> Result<Option<f64>, LearnError> {
        let opened = s.open_to(&Shared(vec![squares]), s.leader())?;
        Ok(opened.map(|v| {
            let mean = (v[0] as i64) as f64 / (self.fp.scale() * self.fp.scale()) / rows as f64;
            match self.task {
                Task::Linear => mean / 2.0,
                Task::Logistic => std::f64::consts::LN_2 - 0.5 + 2.0 * mean,
            }
        }))
    }

    /// Scores the validation rows and opens them to the label holder,
    /// which returns the validation loss (log-loss with the exact sigmoid,
    /// or half the mean squared error).
    fn validation_loss(
        &self,
        s: &mut Party<'_>,
        chunks: &[Chunk],
        w: &Shared,
        labels: Option<&[f64]>,
    ) -> Result<Option<f64>, LearnError> {
        let mut scores = Vec::new();
        for chunk in chunks {
            let z = s.fixed_times(&chunk.matrix, w)?;
            let z = s.truncate(z, self.fp.frac_bits())?;
            if let Some(v) = s.open_to(&z, s.leader())? {
                scores.extend(self.fp.decode_slice(&v));
            }
        }
        Ok(labels.map(|y| match self.task {
            Task::Logistic => super::log_loss(&scores, y),
            Task::Linear => {
                let sum: f64 = scores.iter().zip(y).map(|(z, y)| (z - y).powi(2)).sum();
                sum / (2.0 * y.len().max(1) as f64)
            }
        }))
    }

    /// The label holder tells every computing party whether the epoch
    /// improved the validation loss and whether to stop.
    fn agree(
        &self,
        s: &mut Party<'_>,
        improved: bool,
        stop: bool,
    ) -> Result<(bool, bool), LearnError> {
        let flags = Shared::public(&[improved as u64, stop as u64], s.rank());
        let opened = s.open(&flags)?;
        let flag = |v: u64| match v {
            0 => Ok(false),
            1 => Ok(true),
            v => Err(LearnError::Disagreement {
                peer: "label holder".into(),
                what: format!("early-stopping flag {v}"),
            }),
        };
        Ok((flag(opened[0])?, flag(opened[1])?))
    }

    /// Opens each rank's block of weights to that rank only.
    fn reveal(&self, s: &mut Party<'_>, w: &Shared) -> Result<(Vec<f64>, Option<f64>), LearnError> {
        let mut mine = Vec::new();
        let mut off = 0;
        for (rank, &width) in self.widths.iter().enumerate() {
            let part = Shared(w.0[off..off + width].to_vec());
            let owner = s.roster().index(rank)?;
            if let Some(v) = s.open_to(&part, owner)? {
                mine = self.fp.decode_slice(&v);
            }
            off += width;
        }
        if s.rank() == LEADER {
            let intercept = mine.pop();
            return Ok((mine, intercept));
        }
        Ok((mine, None))
    }
}
