//! The arithmetic of one training step on shared weights, with every
//! public constant encoded once: the gradient (through the chosen sigmoid),
//! the gradient-descent step, the bound-Newton step with momentum (in the
//! whitened coordinates of [`super::whiten`], weights with f + 8
//! fractional bits), the
//! per-epoch losses, validation scores, the label holder's flags and the
//! final reveal. See [`crate::vertical`] for the construction and what
//! each party learns.

use crate::LearnError;
use crate::params::{Optimizer, Sigmoid, Task, TrainParams};
use indomain_core::FixedPoint;
use indomain_mpc::{Correlations, FixedMatrix, Session, Shared};
use ndarray::{Array2, ArrayView2};

/// The label holder's rank: it is the mpc layer's leader.
pub(super) const LEADER: usize = 0;

/// This party's block of one chunk of rows, opened once under a mask.
pub(super) struct Chunk {
    pub(super) matrix: FixedMatrix,
    /// The chunk's labels, encoded (label holder only).
    pub(super) labels: Vec<u64>,
}

/// The shared weights, the previous step's for momentum, and the steps
/// since momentum last restarted (the same at every party).
pub(super) struct Weights {
    pub(super) w: Shared,
    prev: Shared,
    since_restart: usize,
}

impl Weights {
    pub(super) fn zeros(cols: usize) -> Self {
        Self {
            w: Shared::zeros(cols),
            prev: Shared::zeros(cols),
            since_restart: 0,
        }
    }

    /// Momentum starts again from 0 (the last step went uphill).
    pub(super) fn restart(&mut self) {
        self.since_restart = 0;
    }
}

/// What one step leaves behind besides the new weights: this party's
/// shares of the batch's Σ err² (2f fractional bits) and, for bound-Newton,
/// of ∇L(y)·(w_new − w) (the sign the restart test needs).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct StepShares {
    pub(super) squares: u64,
    pub(super) uphill: u64,
}

/// The per-step arithmetic.
pub(super) struct Trainer {
    task: Task,
    sigmoid: Sigmoid,
    optimizer: Optimizer,
    fp: FixedPoint,
    pub(super) cols: usize,
    widths: Vec<usize>,
    learning_rate: f64,
    /// Gradient descent: lr·l2 per coordinate (0 for the intercept),
    /// encoded.
    decay: Vec<u64>,
    /// Bound-Newton: the whitened penalty lr·M = lr·blockdiag(M_k), fixed
    /// once.
    whitened_decay: Option<FixedMatrix>,
    /// Fractional bits of the shared weights: f for gradient descent, f +
    /// [`EXTRA_WEIGHT_BITS`] for bound-Newton.
    weight_bits: u32,
}

/// Fractional bits the bound-Newton weights carry beyond f: their rounding
/// (2^-(f+8) a step) stays far below what the convergence test measures.
pub(super) const EXTRA_WEIGHT_BITS: u32 = 8;

impl Trainer {
    pub(super) fn new(
        params: &TrainParams,
        fp: FixedPoint,
        widths: &[usize],
    ) -> Result<Self, LearnError> {
        let cols: usize = widths.iter().sum();
        let intercept = widths[LEADER] - 1;
        let decay_value = fp.encode(params.learning_rate * params.l2)?;
        let decay = (0..cols)
            .map(|c| if c == intercept { 0 } else { decay_value })
            .collect();
        let weight_bits = match params.optimizer {
            Optimizer::GradientDescent => fp.frac_bits(),
            Optimizer::BoundNewton { .. } => fp.frac_bits() + EXTRA_WEIGHT_BITS,
        };
        Ok(Self {
            task: params.task,
            sigmoid: params.sigmoid,
            optimizer: params.optimizer,
            fp,
            cols,
            widths: widths.to_vec(),
            learning_rate: params.learning_rate,
            decay,
            whitened_decay: None,
            weight_bits,
        })
    }

    /// The codec of the shared weights.
    pub(super) fn weight_codec(&self) -> Result<FixedPoint, LearnError> {
        Ok(FixedPoint::new(self.weight_bits)?)
    }

    /// Fixes this party's block of the whitened penalty lr·M_k
    /// ([`super::whiten`]), placed at its rows of a d×d matrix whose other
    /// blocks the other parties hold.
    pub(super) fn fix_decay<C: Correlations>(
        &mut self,
        s: &mut Session<'_, C>,
        own: ArrayView2<'_, f64>,
    ) -> Result<(), LearnError> {
        let rank = s.rank();
        let width = self.widths[rank];
        let mut placed = Array2::<u64>::zeros((self.cols, width));
        let offset: usize = self.widths[..rank].iter().sum();
        let scaled = own.mapv(|v| v * self.learning_rate);
        let encoded = self
            .fp
            .encode_slice(scaled.as_standard_layout().as_slice().unwrap_or_default())?;
        let encoded = ArrayView2::from_shape((width, width), &encoded)
            .map_err(|e| LearnError::Params(e.to_string()))?;
        placed
            .slice_mut(ndarray::s![offset..offset + width, ..])
            .assign(&encoded);
        self.whitened_decay = Some(s.fix_matrix(placed.view(), &self.widths)?);
        Ok(())
    }

    /// Announces the fixed-matrix products of `epochs` epochs over
    /// `batches` (and, when the validation split is `judged` every epoch,
    /// its scores): every step computes X·w and Xᵀ·e with Σ e² once with
    /// each of its chunks, and with bound-Newton the penalty's product
    /// once; validation scores X·w once a chunk. A source that generates
    /// correlations between the parties then makes their right triples in
    /// batches ahead of need.
    pub(super) fn plan<C: Correlations>(
        &self,
        s: &mut Session<'_, C>,
        batches: &[Vec<Chunk>],
        validation: &[Chunk],
        epochs: usize,
        judged: bool,
    ) {
        for chunk in batches.iter().flatten() {
            s.plan_fixed(&chunk.matrix, epochs, epochs);
        }
        if let Some(decay) = &self.whitened_decay {
            s.plan_fixed(decay, epochs.saturating_mul(batches.len()), 0);
        }
        if judged {
            for chunk in validation {
                s.plan_fixed(&chunk.matrix, epochs, 0);
            }
        }
    }

    /// One step on a batch.
    pub(super) fn step<C: Correlations>(
        &self,
        s: &mut Session<'_, C>,
        batch: &[Chunk],
        weights: &mut Weights,
    ) -> Result<StepShares, LearnError> {
        let f = self.fp.frac_bits();
        let rows: usize = batch.iter().map(|c| c.matrix.rows()).sum();
        // 2^t ≤ rows: each chunk's gradient is truncated by f + t at once,
        // and the remaining factor 2^t / rows is folded into the step.
        let t = usize::BITS - 1 - rows.leading_zeros();
        let per_row = (1u64 << t) as f64 / rows as f64;
        match (self.optimizer, &self.whitened_decay) {
            (Optimizer::GradientDescent, _) => {
                let (mut grad, squares) = self.gradient(s, batch, &weights.w, f + t)?;
                grad.scale(self.fp.encode(self.learning_rate * per_row)?);
                let mut decay = weights.w.clone();
                decay.mul_public(&self.decay)?;
                grad.add_assign(&decay)?;
                let update = s.truncate(grad, f)?;
                weights.w.sub_assign(&update)?;
                Ok(StepShares { squares, uphill: 0 })
            }
            (Optimizer::BoundNewton { momentum }, Some(decay)) => {
                // In whitened coordinates, with weights of f + 8 bits:
                // y = w + β_k·(w − w_prev), Nesterov's β_k = k/(k + 3) up
                // to the cap, k the steps since the last restart.
                let k = weights.since_restart as f64;
                let beta = (k / (k + 3.0)).min(momentum);
                weights.since_restart += 1;
                let mut ahead = weights.w.sub(&weights.prev)?;
                ahead.scale(self.fp.encode(beta)?);
                let mut point = s.truncate(ahead, f)?;
                point.add_assign(&weights.w)?;
                // lr·∇L(y) = lr·X̃ᵀ(σ̂(X̃·y) − y)/rows + lr·M·y: the
                // gradient truncated to the weights' bits, times
                // lr·2^t/rows (f bits), plus lr·M·y (f bits × weights').
                let shift = 2 * f + t - self.weight_bits;
                let (mut grad, squares) = self.gradient(s, batch, &point, shift)?;
                grad.scale(self.fp.encode(self.learning_rate * per_row)?);
                grad.add_assign(&s.fixed_times(decay, &point)?)?;
                let step = s.truncate(grad, f)?;
                let next = point.sub(&step)?;
                // ∇L(y)·(w_new − w) > 0 means the step went uphill: the
                // label holder restarts momentum (O'Donoghue and Candès
                // 2015). The sign is all it needs; the sum keeps 2·(f + 8)
                // bits.
                let moved = next.sub(&weights.w)?;
                let uphill = s.mul(&step, &moved)?.sum().0[0];
                weights.prev = std::mem::replace(&mut weights.w, next);
                Ok(StepShares { squares, uphill })
            }
            (Optimizer::BoundNewton { .. }, None) => Err(LearnError::Params(
                "the whitened penalty was not fixed".into(),
            )),
        }
    }

    /// Σ over the batch's chunks of Xᵀ(σ̂(X·w) − y) (or Xᵀ(X·w − y)),
    /// each chunk's 2f-bit sum truncated by `shift`, and this party's
    /// share of Σ err² (2f bits). X·w carries f + the weights' bits; err
    /// f bits.
    fn gradient<C: Correlations>(
        &self,
        s: &mut Session<'_, C>,
        batch: &[Chunk],
        w: &Shared,
        shift: u32,
    ) -> Result<(Shared, u64), LearnError> {
        let wb = self.weight_bits;
        let rank = s.rank();
        let mut grad = Shared::zeros(self.cols);
        let mut squares = 0u64;
        for chunk in batch {
            let z = s.fixed_times(&chunk.matrix, w)?;
            let mut err = match self.task {
                Task::Logistic => match self.sigmoid {
                    Sigmoid::Linear => s.sigmoid(z, wb)?,
                    Sigmoid::Clamped => s.sigmoid_clamped(z, wb)?,
                    Sigmoid::Fourier => s.sigmoid_fourier(&z, wb)?,
                },
                Task::Linear => s.truncate(z, wb)?,
            };
            if rank == LEADER {
                err.sub_public(&chunk.labels, rank)?;
            }
            let (g, sq) = s.fixed_t_times_square(&chunk.matrix, &err)?;
            grad.add_assign(&s.truncate(g, shift)?)?;
            squares = squares.wrapping_add(sq);
        }
        Ok((grad, squares))
    }

    /// Opens Σ err² to the label holder and turns it into the epoch's
    /// training loss: half the mean squared error (linear); with σ̃, the
    /// second-order Taylor expansion of the logistic loss that σ̃ belongs
    /// to, ln 2 − 1/2 + 2·mean(err²); with the clamped or Fourier sigmoid,
    /// the Brier score mean((σ̂ − y)²).
    ///
    /// The same opening gives the label holder ∇L(y)·(w_new − w) of the
    /// epoch's last step: whether it went uphill.
    pub(super) fn loss<C: Correlations>(
        &self,
        s: &mut Session<'_, C>,
        shares: StepShares,
        rows: usize,
    ) -> Result<(Option<f64>, bool), LearnError> {
        let leader = s.leader();
        let opened = s.open_to(&Shared(vec![shares.squares, shares.uphill]), leader)?;
        Ok(match opened {
            Some(v) => {
                let mean = (v[0] as i64) as f64 / (self.fp.scale() * self.fp.scale()) / rows as f64;
                let loss = match (self.task, self.sigmoid) {
                    (Task::Linear, _) => mean / 2.0,
                    (Task::Logistic, Sigmoid::Linear) => std::f64::consts::LN_2 - 0.5 + 2.0 * mean,
                    (Task::Logistic, _) => mean,
                };
                (Some(loss), (v[1] as i64) > 0)
            }
            None => (None, false),
        })
    }

    /// Scores the validation rows and opens them to the label holder only.
    pub(super) fn validation_scores<C: Correlations>(
        &self,
        s: &mut Session<'_, C>,
        chunks: &[Chunk],
        w: &Shared,
    ) -> Result<Option<Vec<f64>>, LearnError> {
        let leader = s.leader();
        let mut scores = Vec::new();
        let mut mine = false;
        for chunk in chunks {
            let z = s.fixed_times(&chunk.matrix, w)?;
            let z = s.truncate(z, self.weight_bits)?;
            if let Some(v) = s.open_to(&z, leader)? {
                scores.extend(self.fp.decode_slice(&v));
                mine = true;
            }
        }
        Ok(mine.then_some(scores))
    }

    /// The label holder tells every computing party its flags for the
    /// epoch: whether it improved, whether to stop, whether to restart
    /// momentum.
    pub(super) fn agree<C: Correlations>(
        &self,
        s: &mut Session<'_, C>,
        flags: [bool; 3],
    ) -> Result<[bool; 3], LearnError> {
        let shared = Shared::public(&flags.map(u64::from), s.rank());
        let opened = s.open(&shared)?;
        let flag = |v: u64| match v {
            0 => Ok(false),
            1 => Ok(true),
            v => Err(LearnError::Disagreement {
                peer: "label holder".into(),
                what: format!("an epoch's flag {v}"),
            }),
        };
        Ok([flag(opened[0])?, flag(opened[1])?, flag(opened[2])?])
    }

    /// Opens each rank's block of weights to that rank only (in the
    /// coordinates they were trained in, the intercept last at the label
    /// holder).
    pub(super) fn reveal<C: Correlations>(
        &self,
        s: &mut Session<'_, C>,
        w: &Shared,
    ) -> Result<Vec<f64>, LearnError> {
        let codec = self.weight_codec()?;
        let mut mine = Vec::new();
        let mut off = 0;
        for (rank, &width) in self.widths.iter().enumerate() {
            let part = Shared(w.0[off..off + width].to_vec());
            let index = s.roster().index(rank)?;
            if let Some(v) = s.open_to(&part, index)? {
                mine = codec.decode_slice(&v);
            }
            off += width;
        }
        Ok(mine)
    }
}
