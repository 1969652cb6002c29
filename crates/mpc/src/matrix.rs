//! Products with matrices, on matrix triples (SecureML §4.2).
//!
//! **A fixed matrix split by columns** ([`FixedMatrix`]): X = [X_0 | X_1 |
//! …], column block X_k held in the clear by the party of rank k (a
//! vertically split feature matrix). The dealer deals a left mask U whose
//! block U_k only rank k knows ([`MaskLayout::Blocks`]); each party sends
//! the others D_k = X_k − U_k **once**, and every party keeps D = X − U for
//! the whole computation. Each later product X·y or Xᵀ·y needs only a fresh
//! right triple (V, W = U·V) against the same U, the opening of E = y − V,
//! and local work: Z_k = W_k + D·(V_k + \[leader\]·E) + U_k·E_k, where E_k is
//! rank k's rows of E (and the transposed form for Xᵀ·y). This is SecureML's
//! mask reuse with X shared as (X_k at rank k, zero elsewhere): since rank
//! k's share of the other blocks is zero, its share of U there is zero too,
//! so a party holds and sends only its own block.
//!
//! **Two shared matrices** ([`Session::matmul`]): a fresh left mask shared
//! by all and one right triple; D and E are opened together.
//!
//! What each party learns: D (once) and E per product — X and y masked by
//! uniformly random U and V that no computing party knows in full (U_k is
//! known to its owner, who knows X_k anyway). Products carry 2f fractional
//! bits; truncate them.

use crate::MpcError;
use crate::correlations::{Correlations, MaskId, MaskLayout, RightTriplePlan};
use crate::error::core;
use crate::open;
use crate::session::Session;
use crate::shared::Shared;
use indomain_core::matmul::matmul_add_into;
use indomain_core::matrix_triple::RightTripleShare;
use indomain_core::ring::RingMatrix;
use ndarray::{Array2, ArrayView2, s};

/// A column-split matrix opened once under a reusable mask: every party's
/// view of D = X − U, and its own block of U.
pub struct FixedMatrix {
    mask: MaskId,
    d: RingMatrix,
    u_own: RingMatrix,
    offsets: Vec<usize>,
    widths: Vec<usize>,
}

impl FixedMatrix {
    /// Rows of X.
    pub fn rows(&self) -> usize {
        self.d.nrows()
    }

    /// Columns of X (all blocks).
    pub fn cols(&self) -> usize {
        self.d.ncols()
    }

    /// The first column of rank k's block, and its width.
    pub fn block(&self, rank: usize) -> (usize, usize) {
        (self.offsets[rank], self.widths[rank])
    }
}

fn column(values: Vec<u64>) -> Result<RingMatrix, MpcError> {
    let len = values.len();
    Array2::from_shape_vec((len, 1), values).map_err(|e| MpcError::Usage(e.to_string()))
}

fn into_vec(m: RingMatrix) -> Vec<u64> {
    let m = if m.is_standard_layout() {
        m
    } else {
        m.as_standard_layout().into_owned()
    };
    m.into_raw_vec_and_offset().0
}

impl<C: Correlations> Session<'_, C> {
    /// Masks and opens a column-split matrix once: this party passes its
    /// own block (rows × `widths[rank]`, encoded), `widths` gives every
    /// rank's block width.
    pub fn fix_matrix(
        &mut self,
        own: ArrayView2<'_, u64>,
        widths: &[usize],
    ) -> Result<FixedMatrix, MpcError> {
        let rank = self.rank();
        if widths.len() != self.roster().len() || own.ncols() != widths[rank] {
            return Err(MpcError::Usage(format!(
                "fixed matrix: {} widths for {} parties, own block of {} columns",
                widths.len(),
                self.roster().len(),
                own.ncols()
            )));
        }
        let rows = own.nrows();
        let layout = MaskLayout::Blocks {
            widths: widths.to_vec(),
        };
        let (parties, corr, roster) = self.parts();
        let (mask, u_own) = corr.left_mask(parties, rows, &layout)?;
        let mut d_own = own.to_owned();
        d_own.zip_mut_with(&u_own, |x, u| *x = x.wrapping_sub(*u));
        let lens: Vec<usize> = widths.iter().map(|w| w * rows).collect();
        let blocks = open::exchange(parties, roster.computing(), into_vec(d_own), &lens)?;
        let inner: usize = widths.iter().sum();
        let mut d = Array2::zeros((rows, inner));
        let mut offsets = Vec::with_capacity(widths.len());
        let mut col = 0;
        for (block, &width) in blocks.iter().zip(widths) {
            offsets.push(col);
            let view = ArrayView2::from_shape((rows, width), block)
                .map_err(|e| MpcError::Usage(e.to_string()))?;
            d.slice_mut(s![.., col..col + width]).assign(&view);
            col += width;
        }
        Ok(FixedMatrix {
            mask,
            d,
            u_own,
            offsets,
            widths: widths.to_vec(),
        })
    }

    /// Announces that this job will compute X·y `forward` times and
    /// Xᵀ·y with Σ y² ([`fixed_t_times_square`](Self::fixed_t_times_square))
    /// `squares` times with this X, so that the correlations source may
    /// generate their right triples in batches ahead of need (see
    /// [`Correlations::plan_right_triples`]). Every party calls it with
    /// the same counts.
    pub fn plan_fixed(&mut self, x: &FixedMatrix, forward: usize, squares: usize) {
        let (_, corr, _) = self.parts();
        corr.plan_right_triples(x.mask, RightTriplePlan { forward, squares });
    }

    /// X·y for a fixed X and a shared y (cols(X) elements): shares of a
    /// vector of rows(X) elements with 2f fractional bits.
    pub fn fixed_times(&mut self, x: &FixedMatrix, y: &Shared) -> Result<Shared, MpcError> {
        let phase = "fixed matrix product";
        if y.len() != x.cols() {
            return Err(MpcError::Usage(format!(
                "X has {} columns, y {} elements",
                x.cols(),
                y.len()
            )));
        }
        let (parties, corr, _) = self.parts();
        let triple = corr.right_triple(parties, x.mask, 1, false)?;
        let e = triple
            .mask(column(y.0.clone())?.view())
            .map_err(core(phase))?;
        let e = column(self.open(&Shared(into_vec(e)))?)?;
        let mut v = triple.v;
        if self.is_leader() {
            v.zip_mut_with(&e, |a, b| *a = a.wrapping_add(*b));
        }
        let mut z = triple.w;
        matmul_add_into(&mut z, x.d.view(), v.view()).map_err(core(phase))?;
        let (off, width) = x.block(self.rank());
        matmul_add_into(&mut z, x.u_own.view(), e.slice(s![off..off + width, ..]))
            .map_err(core(phase))?;
        Ok(Shared(into_vec(z)))
    }

    /// Xᵀ·y for a fixed X and a shared y (rows(X) elements): shares of a
    /// vector of cols(X) elements with 2f fractional bits.
    pub fn fixed_t_times(&mut self, x: &FixedMatrix, y: &Shared) -> Result<Shared, MpcError> {
        let phase = "transposed fixed matrix product";
        if y.len() != x.rows() {
            return Err(MpcError::Usage(format!(
                "X has {} rows, y {} elements",
                x.rows(),
                y.len()
            )));
        }
        let (parties, corr, _) = self.parts();
        let triple = corr.right_triple(parties, x.mask, 1, true)?;
        let e = triple
            .mask(column(y.0.clone())?.view())
            .map_err(core(phase))?;
        let e = column(self.open(&Shared(into_vec(e)))?)?;
        self.finish_transposed(x, triple, e, phase)
    }

    /// Xᵀ·y as [`fixed_t_times`](Self::fixed_t_times), and this party's
    /// share of Σ y_i² (2f fractional bits) from the same opening of y − V
    /// (the dealer adds shares of ‖V‖² to the right triple): the sum of
    /// squares costs no extra message.
    pub fn fixed_t_times_square(
        &mut self,
        x: &FixedMatrix,
        y: &Shared,
    ) -> Result<(Shared, u64), MpcError> {
        let phase = "transposed fixed matrix product with square sum";
        if y.len() != x.rows() {
            return Err(MpcError::Usage(format!(
                "X has {} rows, y {} elements",
                x.rows(),
                y.len()
            )));
        }
        let (parties, corr, _) = self.parts();
        let (triple, square) = corr.right_triple_square(parties, x.mask)?;
        let e = triple
            .mask(column(y.0.clone())?.view())
            .map_err(core(phase))?;
        let e = self.open(&Shared(into_vec(e)))?;
        let leader = self.is_leader();
        let squares = triple.square_sum(&e, square, leader).map_err(core(phase))?;
        let g = self.finish_transposed(x, triple, column(e)?, phase)?;
        Ok((g, squares))
    }

    fn finish_transposed(
        &mut self,
        x: &FixedMatrix,
        triple: RightTripleShare,
        e: RingMatrix,
        phase: &'static str,
    ) -> Result<Shared, MpcError> {
        let mut v = triple.v;
        if self.is_leader() {
            v.zip_mut_with(&e, |a, b| *a = a.wrapping_add(*b));
        }
        let mut z = triple.w;
        matmul_add_into(&mut z, x.d.t(), v.view()).map_err(core(phase))?;
        let (off, width) = x.block(self.rank());
        let mut own = Array2::zeros((width, 1));
        matmul_add_into(&mut own, x.u_own.t(), e.view()).map_err(core(phase))?;
        z.slice_mut(s![off..off + width, ..])
            .zip_mut_with(&own, |a, b| *a = a.wrapping_add(*b));
        Ok(Shared(into_vec(z)))
    }

    /// X·Y for shared X (m×k) and Y (k×n) given as this party's shares:
    /// shares of an m×n product with 2f fractional bits, on a fresh matrix
    /// triple.
    pub fn matmul(
        &mut self,
        x: ArrayView2<'_, u64>,
        y: ArrayView2<'_, u64>,
    ) -> Result<RingMatrix, MpcError> {
        let phase = "matrix product";
        let ((m, k), (k2, n)) = (x.dim(), y.dim());
        if k != k2 {
            return Err(MpcError::Usage(format!("multiplying {m}×{k} by {k2}×{n}")));
        }
        let (parties, corr, _) = self.parts();
        let (mask, u) = corr.left_mask(parties, m, &MaskLayout::Shared { inner: k })?;
        let triple = corr.right_triple(parties, mask, n, false)?;
        let mut d_own = x.to_owned();
        d_own.zip_mut_with(&u, |a, b| *a = a.wrapping_sub(*b));
        let mut masked = into_vec(d_own);
        masked.extend(triple.mask(y).map_err(core(phase))?.iter());
        let opened = self.open(&Shared(masked))?;
        let (d, e) = opened.split_at(m * k);
        let d = ArrayView2::from_shape((m, k), d).map_err(|e| MpcError::Usage(e.to_string()))?;
        let e = ArrayView2::from_shape((k, n), e).map_err(|e| MpcError::Usage(e.to_string()))?;
        triple
            .finish(u.view(), d, e, self.is_leader())
            .map_err(core(phase))
    }
}
