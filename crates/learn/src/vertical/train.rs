//! Vertical training on secret-shared values: the protocol of one party.
//! See the module documentation of [`crate::vertical`] for the construction
//! and what each party learns.

use super::TrainOutcome;
use super::plan::{self, FEATURE_BOUND};
use super::step::{Chunk, StepShares, Trainer, Weights};
use super::whiten::Whitening;
use crate::LearnError;
use crate::params::{Optimizer, Task, TrainParams};
use indomain_core::{Bounded, FixedPoint};
use indomain_mpc::dealer::{self, DealerClient, DealerLimits};
use indomain_mpc::{Roster, Session, Shared};
use indomain_net::PartySet;
use ndarray::{Array2, ArrayView2};
use rand::{CryptoRng, Rng};
use std::ops::Range;

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
    s: &mut Session<'_, DealerClient>,
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
    let labels = y.map(|y| enc.encode_slice(y)).transpose()?;
    let fraction = params.validation_fraction();
    let (train_rows, val_rows) = plan::validation_split(rows, fraction, params.seed);
    if train_rows.is_empty() {
        return Err(LearnError::Input("no rows left to train on".into()));
    }
    let empty = Array2::zeros((rows, 0));
    let x = if x.ncols() == 0 { empty.view() } else { x };
    // Bound-Newton trains in whitened coordinates (see `whiten`).
    let whitening = match params.optimizer {
        Optimizer::GradientDescent => None,
        Optimizer::BoundNewton { .. } => {
            let parties = widths.iter().filter(|&&w| w > 0).count();
            Some(Whitening::new(x, &train_rows, is_label, parties, params)?)
        }
    };
    let block = match &whitening {
        None => encode_block(x, is_label, &enc)?,
        Some(w) => {
            let wide = Bounded::new(fp, Bounded::largest_bound(fp) / 2.0)?;
            encode_block(w.transform(x, is_label).view(), false, &wide).map_err(|e| {
                LearnError::Input(format!("after whitening this party's columns: {e}"))
            })?
        }
    };
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

    let mut trainer = Trainer::new(params, fp, &widths)?;
    if let Some(w) = &whitening {
        trainer.fix_decay(&mut s, w.decay.view())?;
    }
    let mut weights = Weights::zeros(trainer.cols);
    let mut outcome = TrainOutcome::default();
    let mut judge = Judge::new(params, val_labels);
    let bound_newton = matches!(params.optimizer, Optimizer::BoundNewton { .. });
    for epoch in 0..params.epochs {
        let mut shares = StepShares::default();
        for b in plan::batch_order(epoch, batches.len(), params.seed) {
            let step = trainer.step(&mut s, &fixed[b], &mut weights)?;
            shares.squares = shares.squares.wrapping_add(step.squares);
            shares.uphill = step.uphill;
        }
        let (loss, uphill) = trainer.loss(&mut s, shares, train_rows.len())?;
        outcome.epochs = epoch + 1;
        if let Some(l) = loss {
            outcome.loss_per_epoch.push(l);
        }
        on_epoch(epoch, loss);
        if judge.active() || bound_newton {
            // The label holder decides; the others follow its flags, so
            // that every party keeps its share of the same weights.
            let (improved, stop) = if judge.active() {
                let scores = trainer.validation_scores(&mut s, &val_chunks, &weights.w)?;
                judge.propose(scores)
            } else {
                (false, false)
            };
            let [improved, stop, restart] = trainer.agree(&mut s, [improved, stop, uphill])?;
            if restart {
                weights.restart();
            }
            if judge.active() {
                judge.follow(epoch, improved, &weights.w, &mut outcome);
            }
            if stop {
                outcome.converged = params.convergence.is_some();
                break;
            }
        }
    }
    let w = judge.finish(weights.w, &mut outcome);
    let mut own = trainer.reveal(&mut s, &w)?;
    if let Some(w) = &whitening {
        own = w.weights(&own);
    }
    if is_label {
        outcome.intercept = own.pop();
    }
    outcome.weights = own;
    s.finish()?;
    Ok(outcome)
}

/// The label holder's judgement of each epoch on the validation split,
/// and every party's record of the weights to keep.
struct Judge {
    task: Task,
    early: Option<crate::params::EarlyStopping>,
    convergence: Option<crate::params::Convergence>,
    /// The validation labels (label holder).
    labels: Option<Vec<f64>>,
    /// The previous epoch's validation predictions (label holder).
    previous: Option<Vec<f64>>,
    /// The latest validation scores and loss (label holder).
    latest: (Vec<f64>, Option<f64>),
    /// Epochs in a row without improvement, or within the tolerance.
    streak: usize,
    /// Early stopping: the best loss, its weights and its scores.
    best: Option<(f64, Shared, Vec<f64>)>,
}

impl Judge {
    fn new(params: &TrainParams, labels: Option<Vec<f64>>) -> Self {
        Self {
            task: params.task,
            early: params.early_stopping,
            convergence: params.convergence,
            labels,
            previous: None,
            latest: (Vec::new(), None),
            streak: 0,
            best: None,
        }
    }

    fn active(&self) -> bool {
        self.early.is_some() || self.convergence.is_some()
    }

    /// The label holder's flags (improved, stop) for the epoch whose
    /// validation scores it received; `(false, false)` elsewhere.
    fn propose(&mut self, scores: Option<Vec<f64>>) -> (bool, bool) {
        let (Some(scores), Some(labels)) = (scores, self.labels.as_deref()) else {
            return (false, false);
        };
        let loss = super::validation_loss(self.task, &scores, labels);
        let outputs = super::outputs(self.task, &scores);
        let proposal = if let Some(c) = self.convergence {
            let change = self.previous.as_deref().map_or(f64::INFINITY, |p| {
                plan::prediction_change(self.task, p, &outputs, labels)
            });
            self.streak = if change <= c.tolerance {
                self.streak + 1
            } else {
                0
            };
            (false, self.streak >= c.patience)
        } else {
            let improved = self.best.as_ref().is_none_or(|(b, _, _)| loss < *b);
            let patience = self.early.map_or(1, |e| e.patience);
            (improved, !improved && self.streak + 1 >= patience)
        };
        self.previous = Some(outputs);
        self.latest = (scores, Some(loss));
        proposal
    }

    /// Every party records the agreed flags.
    fn follow(&mut self, epoch: usize, improved: bool, w: &Shared, outcome: &mut TrainOutcome) {
        if let Some(loss) = self.latest.1.take() {
            outcome.validation_loss.push(loss);
        }
        if self.convergence.is_some() {
            // Only the label holder keeps a streak: it proposes the stop.
            return;
        }
        if improved {
            let loss = outcome.validation_loss.last().copied().unwrap_or(0.0);
            self.best = Some((loss, w.clone(), self.latest.0.clone()));
            outcome.best_epoch = epoch + 1;
            self.streak = 0;
        } else {
            self.streak += 1;
        }
    }

    /// The weights to reveal: the best epoch's with early stopping, the
    /// last otherwise; records the validation scores of those weights.
    fn finish(self, last: Shared, outcome: &mut TrainOutcome) -> Shared {
        let labels = self.labels.unwrap_or_default();
        match self.best {
            Some((_, w, scores)) if self.early.is_some() => {
                outcome.validation_scores = scores;
                outcome.validation_labels = labels;
                w
            }
            _ => {
                outcome.best_epoch = outcome.epochs;
                if !self.latest.0.is_empty() {
                    outcome.validation_scores = self.latest.0;
                    outcome.validation_labels = labels;
                }
                last
            }
        }
    }
}
