//! The bound-Newton optimizer's preconditioner, applied as a change of
//! coordinates that each party makes on its own columns.
//!
//! Party k's block of the quadratic bound of the loss is G_k =
//! K·c·X_kᵀX_k/n + Λ_k + μ·I over its training rows (X_k with the column
//! of ones at the label holder; c = 1/4 logistic, 1 linear; K parties with
//! columns; Λ_k the L2 strength on feature columns, 0 on the intercept;
//! μ a small ridge). With G_k = L_k·L_kᵀ (Cholesky) and T_k = L_k^-T, the
//! party trains on X̃_k = X_k·T_k in place of X_k: the weights w̃ with
//! w_k = T_k·w̃_k give the same scores, and since T_kᵀ·G_k·T_k = I a plain
//! step w̃ ← w̃ − ∇_w̃ is the step w ← w − G⁻¹·∇_w on the original weights —
//! the Newton step on the bound (Böhning and Lindsay 1988), which cannot
//! increase the objective because blockdiag(G_k) ≥ the Hessian (the factor
//! K by Cauchy–Schwarz). The penalty λ/2·‖w‖² becomes w̃ᵀ·M_k·w̃/2 with
//! M_k = T_kᵀ·Λ_k·T_k, whose product with the shared w̃ costs one opening
//! of d elements a step (a fixed matrix, like X).
//!
//! Why a change of coordinates rather than multiplying the gradient by
//! G⁻¹ each step: the shared gradient carries fixed-point rounding of
//! 2^-f per coordinate, which G⁻¹ would multiply by up to 1/(λ + μ) in
//! the directions where a party's columns are nearly collinear; in the
//! whitened coordinates nothing amplifies it, and the validation scores no
//! longer jitter from one epoch to the next.
//!
//! What each party learns: nothing new — G_k, T_k and M_k are computed
//! from its own columns and never leave it in the clear (X̃_k and M_k are
//! opened only under masks).

use crate::LearnError;
use crate::linalg;
use crate::params::{Task, TrainParams};
use ndarray::{Array2, ArrayView2, Axis, s};

/// The ridge added to every block of the bound: keeps a block with
/// collinear columns invertible when l2 = 0 (it only slows the steps in
/// those directions; the optimum does not depend on it).
pub(super) const RIDGE: f64 = 1e-4;

/// One party's change of coordinates.
pub(super) struct Whitening {
    /// T_k (width × width): w = T·w̃.
    t: Array2<f64>,
    /// M_k = Tᵀ·Λ·T (width × width).
    pub(super) decay: Array2<f64>,
}

impl Whitening {
    /// From this party's columns `x` (all rows; `rows` are its training
    /// rows), with the intercept column at the label holder. `parties` is
    /// the number of parties with columns.
    pub(super) fn new(
        x: ArrayView2<'_, f64>,
        rows: &[usize],
        label: bool,
        parties: usize,
        params: &TrainParams,
    ) -> Result<Self, LearnError> {
        let cols = x.ncols();
        let width = cols + label as usize;
        let curvature = match params.task {
            Task::Logistic => 0.25,
            Task::Linear => 1.0,
        };
        let mut gram = Array2::<f64>::zeros((width, width));
        if cols == 0 && label {
            gram[[0, 0]] = rows.len() as f64;
        }
        for idx in rows.chunks(super::plan::CHUNK_ROWS).filter(|_| cols > 0) {
            let part = augment(x.select(Axis(0), idx).view(), label);
            gram += &part.t().dot(&part);
        }
        let mut g = gram * (parties as f64 * curvature / rows.len().max(1) as f64);
        let mut penalty = Array2::<f64>::zeros((width, width));
        for j in 0..width {
            let l2 = if label && j == cols { 0.0 } else { params.l2 };
            penalty[[j, j]] = l2;
            g[[j, j]] += l2 + RIDGE;
        }
        let l = linalg::cholesky(g.view()).ok_or_else(|| {
            LearnError::Input(
                "this party's columns give a bound that is not positive definite".into(),
            )
        })?;
        let t = linalg::lower_inverse(l.view()).reversed_axes();
        let decay = t.t().dot(&penalty).dot(&t);
        Ok(Self { t, decay })
    }

    /// X̃ = [x | 1]·T (the column of ones at the label holder).
    pub(super) fn transform(&self, x: ArrayView2<'_, f64>, label: bool) -> Array2<f64> {
        augment(x, label).dot(&self.t)
    }

    /// The original weights (and the intercept last, at the label holder)
    /// from whitened ones: w = T·w̃.
    pub(super) fn weights(&self, whitened: &[f64]) -> Vec<f64> {
        self.t.dot(&ndarray::ArrayView1::from(whitened)).to_vec()
    }
}

/// [x | 1] at the label holder, x elsewhere.
fn augment(x: ArrayView2<'_, f64>, label: bool) -> Array2<f64> {
    let (rows, cols) = x.dim();
    let mut out = Array2::<f64>::ones((rows, cols + label as usize));
    out.slice_mut(s![.., ..cols]).assign(&x);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn whitened_columns_have_the_bound_as_identity_and_keep_the_scores() {
        let x = array![
            [1.0, 2.0],
            [0.5, -1.0],
            [-1.5, 0.3],
            [2.0, 2.1],
            [0.0, -0.7]
        ];
        let rows: Vec<usize> = (0..5).collect();
        let params = TrainParams::default();
        let w = Whitening::new(x.view(), &rows, true, 2, &params).unwrap();
        let xt = w.transform(x.view(), true);
        let n = 5.0;
        // Tᵀ·G·T = I, where G also holds the penalty and the ridge.
        let mut g = augment(x.view(), true).t().dot(&augment(x.view(), true)) * (0.5 / n);
        for j in 0..3 {
            g[[j, j]] += if j == 2 { 0.0 } else { params.l2 } + RIDGE;
        }
        let id = w.t.t().dot(&g).dot(&w.t);
        for i in 0..3 {
            for j in 0..3 {
                assert!((id[[i, j]] - f64::from(u8::from(i == j))).abs() < 1e-10);
            }
        }
        // Scores are kept: X̃·w̃ = [X | 1]·T·w̃.
        let wt = [0.3, -0.2, 0.1];
        let orig = w.weights(&wt);
        let a = xt.dot(&ndarray::ArrayView1::from(&wt[..]));
        let b = augment(x.view(), true).dot(&ndarray::Array1::from(orig));
        assert!((a - b).iter().all(|d| d.abs() < 1e-12));
    }
}
