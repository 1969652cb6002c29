//! Small dense symmetric positive-definite systems, solved by Cholesky
//! factorisation: the preconditioner blocks of the bound-Newton optimizer
//! and the Newton steps of the plaintext reference (d ≤ a few hundred).
//! Written here rather than taken from a linear-algebra crate because the
//! pure-Rust ones are large and the LAPACK bindings need a system library;
//! this needs thirty lines.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2};

/// The lower-triangular L with A = L·Lᵀ, or `None` if A is not (numerically)
/// positive definite.
pub fn cholesky(a: ArrayView2<f64>) -> Option<Array2<f64>> {
    let n = a.nrows();
    if a.ncols() != n {
        return None;
    }
    let mut l = Array2::<f64>::zeros((n, n));
    for j in 0..n {
        let mut d = a[[j, j]];
        for k in 0..j {
            d -= l[[j, k]] * l[[j, k]];
        }
        if !(d > 0.0 && d.is_finite()) {
            return None;
        }
        let d = d.sqrt();
        l[[j, j]] = d;
        for i in j + 1..n {
            let mut s = a[[i, j]];
            for k in 0..j {
                s -= l[[i, k]] * l[[j, k]];
            }
            l[[i, j]] = s / d;
        }
    }
    Some(l)
}

/// Solves A·x = b given the Cholesky factor L of A.
pub fn solve(l: ArrayView2<f64>, b: ArrayView1<f64>) -> Array1<f64> {
    let n = l.nrows();
    let mut y = b.to_owned();
    for i in 0..n {
        for k in 0..i {
            y[i] -= l[[i, k]] * y[k];
        }
        y[i] /= l[[i, i]];
    }
    for i in (0..n).rev() {
        for k in i + 1..n {
            y[i] -= l[[k, i]] * y[k];
        }
        y[i] /= l[[i, i]];
    }
    y
}

/// L⁻¹ for lower-triangular L with a positive diagonal (forward
/// substitution, column by column).
pub fn lower_inverse(l: ArrayView2<f64>) -> Array2<f64> {
    let n = l.nrows();
    let mut inv = Array2::<f64>::zeros((n, n));
    for j in 0..n {
        inv[[j, j]] = 1.0 / l[[j, j]];
        for i in j + 1..n {
            let s: f64 = (j..i).map(|k| l[[i, k]] * inv[[k, j]]).sum();
            inv[[i, j]] = -s / l[[i, i]];
        }
    }
    inv
}

/// A⁻¹ for symmetric positive-definite A, or `None`.
pub fn spd_inverse(a: ArrayView2<f64>) -> Option<Array2<f64>> {
    let l = cholesky(a)?;
    let n = a.nrows();
    let mut inv = Array2::zeros((n, n));
    for j in 0..n {
        let mut e = Array1::zeros(n);
        e[j] = 1.0;
        inv.column_mut(j).assign(&solve(l.view(), e.view()));
    }
    Some(inv)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn inverts_and_solves() {
        let a = array![[4.0, 1.0, 0.5], [1.0, 3.0, 0.2], [0.5, 0.2, 2.0]];
        let inv = spd_inverse(a.view()).unwrap();
        let id = a.dot(&inv);
        for i in 0..3 {
            for j in 0..3 {
                assert!((id[[i, j]] - f64::from(u8::from(i == j))).abs() < 1e-12);
            }
        }
        let b = array![1.0, 2.0, 3.0];
        let x = solve(cholesky(a.view()).unwrap().view(), b.view());
        assert!((a.dot(&x) - &b).iter().all(|v| v.abs() < 1e-12));
        let l = cholesky(a.view()).unwrap();
        let li = lower_inverse(l.view());
        let id = l.dot(&li);
        assert!(
            (0..3)
                .all(|i| (0..3).all(|j| (id[[i, j]] - f64::from(u8::from(i == j))).abs() < 1e-12))
        );
        assert!(cholesky(array![[1.0, 2.0], [2.0, 1.0]].view()).is_none());
        assert!(cholesky(array![[1.0, 2.0]].view()).is_none());
    }
}
