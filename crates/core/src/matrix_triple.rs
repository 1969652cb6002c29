//! Multiplication of shared matrices with matrix triples (SecureML §4.2).
//!
//! To compute shares of X·Y (X of m×k, Y of k×n) each party i holds a
//! left-mask share U_i (m×k) and a right-triple share (V_i of k×n, W_i of
//! m×n) with Σ W_i = (Σ U_i)·(Σ V_i). Around one opening done by the caller:
//!
//! 1. [`LeftMaskShare::mask`]: D_i = X_i − U_i, and
//!    [`RightTripleShare::mask`]: E_i = Y_i − V_i;
//! 2. the parties open D = Σ D_i and E = Σ E_i;
//! 3. [`RightTripleShare::finish`]: Z_i = W_i + D·V_i + U_i·E, plus D·E at
//!    the leader; then Σ Z_i = X·Y.
//!
//! The left mask is dealt apart from the right triple on purpose: when X is
//! fixed (a training set across epochs), D = X − U is opened once and every
//! later product X·Y_j uses a fresh right triple (V_j, U·V_j) dealt against
//! the same U, so each product only masks and opens Y_j. Products Xᵀ·Y_j
//! reuse the same D through [`Dealer::right_triple_transposed`](crate::dealer::Dealer::right_triple_transposed)
//! and transposed views of U_i and D.
//!
//! What each party learns: D and E. D is X masked by the uniformly random U
//! and E is Y masked by V, so they say nothing about X or Y as long as each
//! V is used for one product and U masks one X (reusing U for the same X is
//! safe: D is the same value opened again). The dealer must not collude with
//! the parties.

use crate::CoreError;
use crate::dealer::{DealtShare, expand_at};
use crate::matmul::matmul_add_into;
use crate::ring::RingMatrix;
use ndarray::{Array2, ArrayView2, Zip};

fn check(
    what: &'static str,
    expected: (usize, usize),
    got: (usize, usize),
) -> Result<(), CoreError> {
    if expected.0 != got.0 {
        return Err(CoreError::ShapeMismatch {
            what,
            expected: expected.0,
            got: got.0,
        });
    }
    if expected.1 != got.1 {
        return Err(CoreError::ShapeMismatch {
            what,
            expected: expected.1,
            got: got.1,
        });
    }
    Ok(())
}

fn matrix(rows: usize, cols: usize, data: Vec<u64>) -> Result<RingMatrix, CoreError> {
    let got = data.len();
    Array2::from_shape_vec((rows, cols), data).map_err(|_| CoreError::ShapeMismatch {
        what: "matrix elements",
        expected: rows * cols,
        got,
    })
}

fn sub(x: ArrayView2<'_, u64>, m: &RingMatrix) -> RingMatrix {
    let mut out = x.to_owned();
    Zip::from(&mut out)
        .and(m)
        .par_for_each(|o, m| *o = o.wrapping_sub(*m));
    out
}

/// One party's share of a left mask U.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeftMaskShare {
    /// The share U_i.
    pub u: RingMatrix,
}

impl LeftMaskShare {
    /// The share from what the dealer sent, for U of `rows`×`inner`.
    pub fn from_dealt(dealt: &DealtShare, rows: usize, inner: usize) -> Result<Self, CoreError> {
        if let Some(c) = &dealt.correction {
            return Err(CoreError::ShapeMismatch {
                what: "left mask: unexpected correction elements",
                expected: 0,
                got: c.len(),
            });
        }
        Ok(Self {
            u: matrix(rows, inner, expand_at(&dealt.seed, 0, rows * inner))?,
        })
    }

    /// Step 1 for the left operand: D_i = X_i − U_i.
    pub fn mask(&self, x: ArrayView2<'_, u64>) -> Result<RingMatrix, CoreError> {
        check("matrix mask: X", self.u.dim(), x.dim())?;
        Ok(sub(x, &self.u))
    }
}

/// One party's share of a right triple (V, W = U·V).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RightTripleShare {
    /// The share V_i (inner×cols).
    pub v: RingMatrix,
    /// The share W_i (rows×cols).
    pub w: RingMatrix,
}

impl RightTripleShare {
    /// The share from what the dealer sent, for a product of `rows`×`inner`
    /// by `inner`×`cols` (for a transposed triple, `rows`×`inner` is the
    /// shape of Uᵀ).
    pub fn from_dealt(
        dealt: &DealtShare,
        rows: usize,
        inner: usize,
        cols: usize,
    ) -> Result<Self, CoreError> {
        let v_len = inner * cols;
        Ok(Self {
            v: matrix(inner, cols, expand_at(&dealt.seed, 0, v_len))?,
            w: matrix(rows, cols, dealt.product_share(v_len, rows * cols)?)?,
        })
    }

    /// The share, and this party's share of ‖V‖², from an item dealt by
    /// [`Dealer::right_triple_transposed_square`](crate::dealer::Dealer::right_triple_transposed_square)
    /// (one column; `rows`×`inner` is the shape of Uᵀ).
    pub fn from_dealt_with_square(
        dealt: &DealtShare,
        rows: usize,
        inner: usize,
    ) -> Result<(Self, u64), CoreError> {
        let mut product = dealt.product_share(inner, rows + 1)?;
        let square = product.pop().unwrap_or_default();
        Ok((
            Self {
                v: matrix(inner, 1, expand_at(&dealt.seed, 0, inner))?,
                w: matrix(rows, 1, product)?,
            },
            square,
        ))
    }

    /// This party's share of Σ y_i² for the one-column y whose mask
    /// E = y − V was opened: \[leader\]·Σ E_i² + 2·Σ E_i·V_i + its share of
    /// ‖V‖² (from [`from_dealt_with_square`](Self::from_dealt_with_square)).
    pub fn square_sum(&self, e: &[u64], square: u64, leader: bool) -> Result<u64, CoreError> {
        check("square sum: E", (self.v.len(), 1), (e.len(), 1))?;
        let cross = self
            .v
            .iter()
            .zip(e)
            .fold(0u64, |s, (v, e)| s.wrapping_add(v.wrapping_mul(*e)));
        let mut sum = square.wrapping_add(cross.wrapping_mul(2));
        if leader {
            sum = e
                .iter()
                .fold(sum, |s, e| s.wrapping_add(e.wrapping_mul(*e)));
        }
        Ok(sum)
    }

    /// Step 1 for the right operand: E_i = Y_i − V_i.
    pub fn mask(&self, y: ArrayView2<'_, u64>) -> Result<RingMatrix, CoreError> {
        check("matrix mask: Y", self.v.dim(), y.dim())?;
        Ok(sub(y, &self.v))
    }

    /// Step 3: this party's share of X·Y from the opened D and E and its
    /// left-mask share `u` (pass transposed views of U_i and D for Xᵀ·Y).
    /// Exactly one party (the leader) passes `leader = true`.
    ///
    /// Computed as W_i + D·(V_i + \[leader\]·E) + U_i·E: two products per
    /// party, the leader's D·E folded into the first.
    pub fn finish(
        &self,
        u: ArrayView2<'_, u64>,
        d: ArrayView2<'_, u64>,
        e: ArrayView2<'_, u64>,
        leader: bool,
    ) -> Result<RingMatrix, CoreError> {
        let (rows, cols) = self.w.dim();
        let inner = self.v.nrows();
        check("matrix finish: U", (rows, inner), u.dim())?;
        check("matrix finish: D", (rows, inner), d.dim())?;
        check("matrix finish: E", (inner, cols), e.dim())?;
        let mut z = self.w.clone();
        if leader {
            let mut v_plus_e = self.v.clone();
            Zip::from(&mut v_plus_e)
                .and(e)
                .par_for_each(|v, e| *v = v.wrapping_add(*e));
            matmul_add_into(&mut z, d, v_plus_e.view())?;
        } else {
            matmul_add_into(&mut z, d, self.v.view())?;
        }
        matmul_add_into(&mut z, u, e)?;
        Ok(z)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dealer::Dealer;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn wrong_shapes_are_errors() {
        let mut rng = StdRng::seed_from_u64(1);
        let (left, right) = Dealer::new(2).unwrap().matrix_triple(2, 3, 4, &mut rng);
        let u = LeftMaskShare::from_dealt(&left[0], 2, 3).unwrap();
        let t = RightTripleShare::from_dealt(&right[0], 2, 3, 4).unwrap();
        assert!(u.mask(Array2::zeros((3, 2)).view()).is_err());
        assert!(t.mask(Array2::zeros((3, 5)).view()).is_err());
        let d = Array2::zeros((2, 3));
        let e = Array2::zeros((3, 4));
        assert!(t.finish(u.u.view(), d.view(), e.t(), true).is_err());
        assert!(t.finish(u.u.t(), d.view(), e.view(), true).is_err());
        assert!(t.finish(u.u.view(), d.view(), e.view(), true).is_ok());
        // The correction party's W is 2×4: any other shape is refused.
        assert!(RightTripleShare::from_dealt(&right[0], 3, 3, 4).is_err());
        assert!(LeftMaskShare::from_dealt(&right[0], 2, 3).is_err());
    }

    #[test]
    fn square_sums_add_up() {
        let mut rng = StdRng::seed_from_u64(2);
        let dealer = Dealer::new(2).unwrap();
        let (left, _) = dealer.left_mask(5, 3, &mut rng);
        let dealt = dealer.right_triple_transposed_square(&left, &mut rng);
        let shares: Vec<(RightTripleShare, u64)> = dealt
            .iter()
            .map(|d| RightTripleShare::from_dealt_with_square(d, 3, 5).unwrap())
            .collect();
        let y: Vec<u64> = vec![3, u64::MAX, 7, 0, 12];
        let v: Vec<u64> = (0..5)
            .map(|i| shares[0].0.v[[i, 0]].wrapping_add(shares[1].0.v[[i, 0]]))
            .collect();
        let e: Vec<u64> = y.iter().zip(&v).map(|(y, v)| y.wrapping_sub(*v)).collect();
        let total = shares
            .iter()
            .enumerate()
            .map(|(i, (t, sq))| t.square_sum(&e, *sq, i == 0).unwrap())
            .fold(0u64, u64::wrapping_add);
        let want = y
            .iter()
            .fold(0u64, |s, y| s.wrapping_add(y.wrapping_mul(*y)));
        assert_eq!(total, want);
        assert!(shares[0].0.square_sum(&e[1..], 0, true).is_err());
        assert!(RightTripleShare::from_dealt_with_square(&dealt[0], 4, 5).is_err());
    }
}
