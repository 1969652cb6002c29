//! Helpers shared by the core integration tests: plaintext references and
//! a simulated network (shipping dealer messages as bytes, opening by sums).
#![allow(dead_code)]

use indomain_core::dealer::{CORRECTION_PARTY, DealtShare};
use indomain_core::ring::RingMatrix;
use ndarray::{Array2, ArrayView2};

/// Ships each party's dealt share through its byte encoding, as a network
/// would, decoding it with the length that party expects: the correction
/// party a correction of `correction_len` (if any), the others none.
pub fn ship(dealt: Vec<DealtShare>, correction_len: Option<usize>) -> Vec<DealtShare> {
    dealt
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let expected = correction_len.filter(|_| i == CORRECTION_PARTY);
            DealtShare::from_bytes(&d.to_bytes(), expected).expect("well-formed dealer message")
        })
        .collect()
}

/// The opening of a shared vector: Σ_i shares_i.
pub fn open(shares: &[Vec<u64>]) -> Vec<u64> {
    let mut sum = vec![0u64; shares[0].len()];
    for s in shares {
        for (a, b) in sum.iter_mut().zip(s) {
            *a = a.wrapping_add(*b);
        }
    }
    sum
}

/// The opening of a shared matrix.
pub fn open_matrix(shares: &[RingMatrix]) -> RingMatrix {
    let mut sum = RingMatrix::zeros(shares[0].dim());
    for s in shares {
        sum.zip_mut_with(s, |a, b| *a = a.wrapping_add(*b));
    }
    sum
}

/// The plaintext wrapping product, one dot product at a time.
pub fn naive_matmul(a: ArrayView2<'_, u64>, b: ArrayView2<'_, u64>) -> RingMatrix {
    Array2::from_shape_fn((a.nrows(), b.ncols()), |(i, j)| {
        a.row(i)
            .iter()
            .zip(b.column(j))
            .fold(0u64, |s, (x, y)| s.wrapping_add(x.wrapping_mul(*y)))
    })
}
