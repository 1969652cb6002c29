//! The ring Z_2^64: wrapping arithmetic on `u64` slices and matrices.
//!
//! Additive shares live here; overflow wraps by definition of the ring.
//! Kernels switch to rayon above [`PAR_THRESHOLD`] elements.

use crate::CoreError;
use ndarray::Array2;
use rayon::prelude::*;

/// A ring matrix (row-major).
pub type RingMatrix = Array2<u64>;

/// Below this many elements the kernels stay on the calling thread.
pub const PAR_THRESHOLD: usize = 1 << 15;

/// Fails with [`CoreError::ShapeMismatch`] unless `expected == got`.
pub(crate) fn check_len(what: &'static str, expected: usize, got: usize) -> Result<(), CoreError> {
    if expected != got {
        return Err(CoreError::ShapeMismatch {
            what,
            expected,
            got,
        });
    }
    Ok(())
}

/// Elements per rayon task: whole blocks keep the inner loop a plain,
/// vectorised slice loop.
const BLOCK: usize = 1 << 14;

/// Generic over the operation so that each kernel is compiled (and
/// vectorised) for its own operation rather than calling through a pointer.
fn zip_apply<F: Fn(u64, u64) -> u64 + Sync>(a: &mut [u64], b: &[u64], op: F) {
    let run = |(a, b): (&mut [u64], &[u64])| {
        a.iter_mut().zip(b).for_each(|(x, &y)| *x = op(*x, y));
    };
    if a.len() >= PAR_THRESHOLD {
        a.par_chunks_mut(BLOCK)
            .zip(b.par_chunks(BLOCK))
            .for_each(run);
    } else {
        run((a, b));
    }
}

/// a += b (wrapping).
pub fn add_assign(a: &mut [u64], b: &[u64]) -> Result<(), CoreError> {
    check_len("add", a.len(), b.len())?;
    zip_apply(a, b, u64::wrapping_add);
    Ok(())
}

/// a −= b (wrapping).
pub fn sub_assign(a: &mut [u64], b: &[u64]) -> Result<(), CoreError> {
    check_len("sub", a.len(), b.len())?;
    zip_apply(a, b, u64::wrapping_sub);
    Ok(())
}

/// a ·= b element-wise (wrapping).
pub fn mul_assign(a: &mut [u64], b: &[u64]) -> Result<(), CoreError> {
    check_len("mul", a.len(), b.len())?;
    zip_apply(a, b, u64::wrapping_mul);
    Ok(())
}

/// a ·= k for a public constant k (wrapping).
pub fn scale_assign(a: &mut [u64], k: u64) {
    map_apply(a, |x| x.wrapping_mul(k));
}

/// a = −a (wrapping).
pub fn neg_assign(a: &mut [u64]) {
    map_apply(a, u64::wrapping_neg);
}

fn map_apply<F: Fn(u64) -> u64 + Sync>(a: &mut [u64], op: F) {
    let run = |a: &mut [u64]| a.iter_mut().for_each(|x| *x = op(*x));
    if a.len() >= PAR_THRESHOLD {
        a.par_chunks_mut(BLOCK).for_each(run);
    } else {
        run(a);
    }
}

/// The wrapping sum of several equal-length vectors.
pub fn sum_all(vectors: &[&[u64]]) -> Result<Vec<u64>, CoreError> {
    let Some((first, rest)) = vectors.split_first() else {
        return Ok(Vec::new());
    };
    let mut acc = first.to_vec();
    for v in rest {
        add_assign(&mut acc, v)?;
    }
    Ok(acc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_wraps() {
        let mut a = vec![u64::MAX, 1, 5];
        add_assign(&mut a, &[1, 2, 3]).unwrap();
        assert_eq!(a, vec![0, 3, 8]);
        sub_assign(&mut a, &[1, 4, 8]).unwrap();
        assert_eq!(a, vec![u64::MAX, u64::MAX, 0]);
        scale_assign(&mut a, 2);
        assert_eq!(a, vec![u64::MAX - 1, u64::MAX - 1, 0]);
        neg_assign(&mut a);
        assert_eq!(a, vec![2, 2, 0]);
    }

    #[test]
    fn shape_mismatch_is_an_error() {
        let mut a = vec![1, 2];
        assert_eq!(
            add_assign(&mut a, &[1]),
            Err(CoreError::ShapeMismatch {
                what: "add",
                expected: 2,
                got: 1
            })
        );
    }
}
