//! The arithmetic of one training step on shared weights, with every
//! public constant encoded once: the gradient (through the chosen sigmoid),
//! the gradient-descent step, the bound-Newton step with momentum, the
//! per-epoch losses, validation scores, the label holder's flags and the
//! final reveal. See [`crate::vertical`] for the construction and what
//! each party learns.

use super::plan::CHUNK_ROWS;
use crate::LearnError;
use crate::linalg;
use crate::params::{Optimizer, Sigmoid, Task, TrainParams};
use indomain_core::FixedPoint;
use indomain_mpc::{Correlations, FixedMatrix, Session, Shared};
use ndarray::{Array2, ArrayView2, Axis};

/// The label holder's rank: it is the mpc layer's leader.
pub(super) const LEADER: usize = 0;

/// This party's block of one chunk of rows, opened once under a mask.
pub(super) struct Chunk {
    pub(super) matrix: FixedMatrix,
    /// The chunk's labels, encoded (label holder only).
    pub(super) labels: Vec<u64>,
}

/// The shared weights, and the previous step's for momentum.
pub(super) struct Weights {
    pub(super) w: Shared,
    prev: Shared,
}

impl Weights {
    pub(super) fn zeros(cols: usize) -> Self {
        Self {
            w: Shared::zeros(cols),
            prev: Shared::zeros(cols),
        }
    }
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
    /// Gradient descent: lr·l2 per coordinate; bound-Newton: l2 (0 for
    /// the intercept), encoded.
    decay: Vec<u64>,
    /// The bound-Newton preconditioner P, fixed once.
    bound: Option<FixedMatrix>,
}

impl Trainer {
    pub(super) fn new(params: &TrainParams, fp: FixedPoint, widths: &[usize]) -> Result<Self, LearnError> {
        let cols: usize = widths.iter().sum();
        let intercept = widths[LEADER] - 1;
        let rate = match params.optimizer {
            Optimizer::GradientDescent => params.learning_rate,
            Optimizer::BoundNewton { .. } => 1.0,
        };
        let decay_value = fp.encode(rate * params.l2)?;
        let decay = (0..cols)
            .map(|c| if c == intercept { 0 } else { decay_value })
            .collect();
        Ok(Self {
            task: params.task,
            sigmoid: params.sigmoid,
            optimizer: params.optimizer,
            fp,
            cols,
            widths: widths.to_vec(),
            learning_rate: params.learning_rate,
            decay,
            bound: None,
        })
    }

    /// Fixes this party's block of the bound-Newton preconditioner: P_k =
    /// lr·(K·c·X_kᵀX_k/n + diag(l2) + μ)^-1 from its own training rows
    /// `x` (with the intercept column at the label holder), placed at its
    /// rows of a d×d matrix whose other blocks the other parties hold.
    pub(super) fn fix_bound<C: Correlations>(
        &mut self,
        s: &mut Session<'_, C>,
        x: ArrayView2<'_, f64>,
        rows: &[usize],
        params: &TrainParams,
    ) -> Result<(), LearnError> {
        let rank = s.rank();
        let own = bound_block(x, rows, rank == LEADER, &self.widths, params)?;
        let mut placed = Array2::<u64>::zeros((self.cols, self.widths[rank]));
        let offset: usize = self.widths[..rank].iter().sum();
        let encoded = self.fp.encode_slice(own.as_slice().unwrap_or_default())?;
        let encoded = ArrayView2::from_shape(own.dim(), &encoded)
            .map_err(|e| LearnError::Params(e.to_string()))?;
        placed
            .slice_mut(ndarray::s![offset..offset + self.widths[rank], ..])
            .assign(&encoded);
        self.bound = Some(s.fix_matrix(placed.view(), &self.widths)?);
        Ok(())
    }

    /// One step on a batch; returns this party's share of the batch's
    /// Σ err² (2f fractional bits).
    pub(super) fn step<C: Correlations>(
        &self,
        s: &mut Session<'_, C>,
        batch: &[Chunk],
        weights: &mut Weights,
    ) -> Result<u64, LearnError> {
        let f = self.fp.frac_bits();
        let rows: usize = batch.iter().map(|c| c.matrix.rows()).sum();
        // 2^t ≤ rows: each chunk's gradient is truncated by f + t at once,
        // and the remaining factor 2^t / rows is folded into the step.
        let t = usize::BITS - 1 - rows.leading_zeros();
        let per_row = (1u64 << t) as f64 / rows as f64;
        match (self.optimizer, &self.bound) {
            (Optimizer::GradientDescent, _) => {
                let (mut grad, squares) = self.gradient(s, batch, &weights.w, t)?;
                grad.scale(self.fp.encode(self.learning_rate * per_row)?);
                let mut decay = weights.w.clone();
                decay.mul_public(&self.decay)?;
                grad.add_assign(&decay)?;
                let update = s.truncate(grad, f)?;
                weights.w.sub_assign(&update)?;
                Ok(squares)
            }
            (Optimizer::BoundNewton { momentum }, Some(bound)) => {
                // y = w + β·(w − w_prev).
                let mut ahead = weights.w.sub(&weights.prev)?;
                ahead.scale(self.fp.encode(momentum)?);
                let mut point = s.truncate(ahead, f)?;
                point.add_assign(&weights.w)?;
                // v = ∇L(y) = Xᵀ(σ̂(X·y) − y)/rows + l2·y (intercept free).
                let (mut grad, squares) = self.gradient(s, batch, &point, t)?;
                grad.scale(self.fp.encode(per_row)?);
                let mut decay = point.clone();
                decay.mul_public(&self.decay)?;
                grad.add_assign(&decay)?;
                let v = s.truncate(grad, f)?;
                // w ← y − P·v.
                let step = s.fixed_times(bound, &v)?;
                let step = s.truncate(step, f)?;
                weights.prev = std::mem::replace(&mut weights.w, point.sub(&step)?);
                Ok(squares)
            }
            (Optimizer::BoundNewton { .. }, None) => Err(LearnError::Params(
                "the bound-Newton preconditioner was not fixed".into(),
            )),
        }
    }

    /// Σ over the batch's chunks of Xᵀ(σ̂(X·w) − y) (or Xᵀ(X·w − y)),
    /// truncated by f + t (f fractional bits after the 2^t division), and
    /// this party's share of Σ err².
    fn gradient<C: Correlations>(
        &self,
        s: &mut Session<'_, C>,
        batch: &[Chunk],
        w: &Shared,
        t: u32,
    ) -> Result<(Shared, u64), LearnError> {
        let f = self.fp.frac_bits();
        let rank = s.rank();
        let mut grad = Shared::zeros(self.cols);
        let mut squares = 0u64;
        for chunk in batch {
            let z = s.fixed_times(&chunk.matrix, w)?;
            let mut err = match self.task {
                Task::Logistic => match self.sigmoid {
                    Sigmoid::Linear => s.sigmoid(z, f)?,
                    Sigmoid::Clamped => s.sigmoid_clamped(z, f)?,
                    Sigmoid::Fourier => s.sigmoid_fourier(&z, f)?,
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
        Ok((grad, squares))
    }

    /// Opens Σ err² to the label holder and turns it into the epoch's
    /// training loss: half the mean squared error (linear); with σ̃, the
    /// second-order Taylor expansion of the logistic loss that σ̃ belongs
    /// to, ln 2 − 1/2 + 2·mean(err²); with the clamped or Fourier sigmoid,
    /// the Brier score mean((σ̂ − y)²).
    pub(super) fn loss<C: Correlations>(
        &self,
        s: &mut Session<'_, C>,
        squares: u64,
        rows: usize,
    ) -> Result<Option<f64>, LearnError> {
        let leader = s.leader();
        let opened = s.open_to(&Shared(vec![squares]), leader)?;
        Ok(opened.map(|v| {
            let mean = (v[0] as i64) as f64 / (self.fp.scale() * self.fp.scale()) / rows as f64;
            match (self.task, self.sigmoid) {
                (Task::Linear, _) => mean / 2.0,
                (Task::Logistic, Sigmoid::Linear) => std::f64::consts::LN_2 - 0.5 + 2.0 * mean,
                (Task::Logistic, _) => mean,
            }
        }))
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
            let z = s.truncate(z, self.fp.frac_bits())?;
            if let Some(v) = s.open_to(&z, leader)? {
                scores.extend(self.fp.decode_slice(&v));
                mine = true;
            }
        }
        Ok(mine.then_some(scores))
    }

    /// The label holder tells every computing party two flags (whether the
    /// epoch improved, whether to stop).
    pub(super) fn agree<C: Correlations>(
        &self,
        s: &mut Session<'_, C>,
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
    pub(super) fn reveal<C: Correlations>(
        &self,
        s: &mut Session<'_, C>,
        w: &Shared,
    ) -> Result<(Vec<f64>, Option<f64>), LearnError> {
        let mut mine = Vec::new();
        let mut off = 0;
        for (rank, &width) in self.widths.iter().enumerate() {
            let part = Shared(w.0[off..off + width].to_vec());
            let index = s.roster().index(rank)?;
            if let Some(v) = s.open_to(&part, index)? {
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

/// The ridge added to every block of the bound: keeps a block with
/// collinear columns invertible when l2 = 0 (it only slows the steps in
/// those directions; the optimum does not depend on it).
const BOUND_RIDGE: f64 = 1e-4;

/// This party's block of P (its width × its width): lr·(K·c·XᵀX/n +
/// diag(l2, the intercept's 0) + BOUND_RIDGE)^-1 over its training `rows`
/// of `x`.
fn bound_block(
    x: ArrayView2<'_, f64>,
    rows: &[usize],
    label: bool,
    widths: &[usize],
    params: &TrainParams,
) -> Result<Array2<f64>, LearnError> {
    let (n, cols) = (rows.len(), x.ncols());
    let width = cols + label as usize;
    if width == 0 {
        return Ok(Array2::zeros((0, 0)));
    }
    let parties = widths.iter().filter(|&&w| w > 0).count() as f64;
    let curvature = match params.task {
        Task::Logistic => 0.25,
        Task::Linear => 1.0,
    };
    // XᵀX over the rows, a chunk of rows at a time.
    let mut gram = Array2::<f64>::zeros((width, width));
    if cols == 0 {
        gram[[0, 0]] = n as f64;
    }
    for idx in rows.chunks(CHUNK_ROWS).filter(|_| cols > 0) {
        let part = x.select(Axis(0), idx);
        gram.slice_mut(ndarray::s![..cols, ..cols])
            .scaled_add(1.0, &part.t().dot(&part));
        if label {
            let sums = part.sum_axis(Axis(0));
            gram.slice_mut(ndarray::s![..cols, cols]).scaled_add(1.0, &sums);
            gram.slice_mut(ndarray::s![cols, ..cols]).scaled_add(1.0, &sums);
            gram[[cols, cols]] += part.nrows() as f64;
        }
    }
    let mut b = gram * (parties * curvature / n.max(1) as f64);
    for j in 0..width {
        let l2 = if label && j == cols { 0.0 } else { params.l2 };
        b[[j, j]] += l2 + BOUND_RIDGE;
    }
    let inverse = linalg::spd_inverse(b.view()).ok_or_else(|| {
        LearnError::Input("this party's columns give a bound that is not positive definite".into())
    })?;
    Ok(inverse * params.learning_rate)
}
