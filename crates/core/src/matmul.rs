//! Wrapping matrix products over Z_2^64.
//!
//! ndarray's `dot` for `u64` is a naive triple loop; secure matrix
//! multiplication spends nearly all its time here, so this module has its own
//! kernel: B is packed once into column panels of NR values, each rayon
//! task owns a block of rows of C, and a register-tiled micro-kernel
//! accumulates MR×NR products over a slice of the inner dimension that stays
//! in L1. On x86-64 CPUs with AVX-512DQ (native 64-bit multiply)
//! or AVX2 the same kernel is compiled a second time for those features and
//! picked at run time; the result does not depend on the path taken.
//!
//! Pure arithmetic: no party learns anything here.

use crate::CoreError;
use crate::ring::{RingMatrix, check_len as check};
use ndarray::{Array2, ArrayView2};
use rayon::prelude::*;

/// Inner-dimension slice per pass: the packed B slice (KC·NR values) stays
/// in L1/L2 while every row tile of the task's block uses it.
const KC: usize = 256;

/// The wrapping product A·B.
pub fn matmul(a: ArrayView2<'_, u64>, b: ArrayView2<'_, u64>) -> Result<RingMatrix, CoreError> {
    let mut c = Array2::zeros((a.nrows(), b.ncols()));
    matmul_add_into(&mut c, a, b)?;
    Ok(c)
}

/// C += A·B (wrapping), without allocating C.
pub fn matmul_add_into(
    c: &mut RingMatrix,
    a: ArrayView2<'_, u64>,
    b: ArrayView2<'_, u64>,
) -> Result<(), CoreError> {
    let (m, k) = a.dim();
    let n = b.ncols();
    check("matmul: rows of B", k, b.nrows())?;
    check("matmul: rows of C", m, c.nrows())?;
    check("matmul: columns of C", n, c.ncols())?;
    if m == 0 || n == 0 || k == 0 {
        return Ok(());
    }
    if n == 1 && matvec_add_into(c, a, b) {
        return Ok(());
    }
    let a = a.as_standard_layout();
    let kernel = Kernel::detect();
    match (a.as_slice(), c.as_slice_mut()) {
        (Some(a), Some(c)) => kernel.run(a, c, b, k, n),
        (Some(a), None) => {
            // C is a strided view: compute on a dense copy, then store.
            let mut dense = c.as_standard_layout().into_owned();
            if let Some(slice) = dense.as_slice_mut() {
                kernel.run(a, slice, b, k, n);
            }
            c.assign(&dense);
        }
        (None, _) => unreachable!("as_standard_layout is contiguous"),
    }
    Ok(())
}

/// Rows per rayon task in the matrix-vector paths.
const MATVEC_ROWS: usize = 1 << 12;

/// The widest transposed operand the matrix-vector path takes: each task
/// keeps a partial sum of this many elements.
const MATVEC_MAX_PARTIAL: usize = 1 << 12;

/// C += A·b for a one-column B, without copying or packing A: a
/// matrix-vector product is bound by reading A once, and a transposed view
/// of a row-major matrix (Dᵀ·e in training) is read row by row as it lies
/// in memory. Returns false, doing nothing, for layouts it does not cover.
fn matvec_add_into(c: &mut RingMatrix, a: ArrayView2<'_, u64>, b: ArrayView2<'_, u64>) -> bool {
    let (m, k) = a.dim();
    let b: Vec<u64> = b.column(0).to_vec();
    let Some(c) = c.as_slice_mut() else {
        return false;
    };
    if let Some(a) = a.as_slice() {
        let row = |(ci, ai): (&mut u64, &[u64])| {
            let dot = ai
                .iter()
                .zip(&b)
                .fold(0u64, |s, (x, y)| s.wrapping_add(x.wrapping_mul(*y)));
            *ci = ci.wrapping_add(dot);
        };
        if m * k < PAR_ELEMENTS {
            c.iter_mut().zip(a.chunks_exact(k)).for_each(row);
        } else {
            c.par_chunks_mut(MATVEC_ROWS)
                .zip(a.par_chunks(MATVEC_ROWS * k))
                .for_each(|(c, a)| c.iter_mut().zip(a.chunks_exact(k)).for_each(row));
        }
        return true;
    }
    // A is Aᵀ of a row-major k×m matrix: C += Σ_p b[p]·(row p of that matrix).
    let at = a.t();
    let Some(at) = at.as_slice() else {
        return false;
    };
    if m > MATVEC_MAX_PARTIAL {
        return false;
    }
    let axpy = |acc: &mut Vec<u64>, (rows, b): (&[u64], &[u64])| {
        for (row, &bp) in rows.chunks_exact(m).zip(b) {
            for (s, x) in acc.iter_mut().zip(row) {
                *s = s.wrapping_add(x.wrapping_mul(bp));
            }
        }
    };
    let sum = if m * k < PAR_ELEMENTS {
        let mut acc = vec![0u64; m];
        axpy(&mut acc, (at, &b));
        acc
    } else {
        at.par_chunks(MATVEC_ROWS * m)
            .zip(b.par_chunks(MATVEC_ROWS))
            .fold(
                || vec![0u64; m],
                |mut acc, chunk| {
                    axpy(&mut acc, chunk);
                    acc
                },
            )
            .reduce(
                || vec![0u64; m],
                |mut x, y| {
                    x.iter_mut()
                        .zip(&y)
                        .for_each(|(a, b)| *a = a.wrapping_add(*b));
                    x
                },
            )
    };
    c.iter_mut()
        .zip(&sum)
        .for_each(|(ci, s)| *ci = ci.wrapping_add(*s));
    true
}

/// Below this many multiply-adds a matrix-vector product stays on the
/// calling thread.
const PAR_ELEMENTS: usize = 1 << 16;

/// Rows of C per rayon task: enough tasks to keep every thread busy and
/// balance uneven blocks, blocks big enough to reuse each packed B slice.
fn rows_per_task<const MR: usize>(m: usize, n: usize, k: usize) -> usize {
    // Tiny products are not worth splitting at all.
    if m.saturating_mul(n).saturating_mul(k) < 1 << 18 {
        return m;
    }
    let threads = rayon::current_num_threads().max(1);
    m.div_ceil(threads * 4).clamp(MR, 64).div_ceil(MR) * MR
}

/// Packs B (k×n) into ⌈n/NR⌉ panels of k rows of NR values, zero-padded.
fn pack_panels<const NR: usize>(b: ArrayView2<'_, u64>) -> Vec<u64> {
    let (k, n) = b.dim();
    let panels = n.div_ceil(NR);
    let mut packed = vec![0u64; panels * k * NR];
    packed
        .par_chunks_mut(k * NR)
        .enumerate()
        .for_each(|(jp, panel)| {
            let cols = jp * NR..n.min(jp * NR + NR);
            for (row, b_row) in panel.chunks_exact_mut(NR).zip(b.rows()) {
                for (dst, j) in row.iter_mut().zip(cols.clone()) {
                    *dst = b_row[j];
                }
            }
        });
    packed
}

/// Which compiled copy of the kernel to run, each with the tile shape that
/// was fastest for it (measured on the 2-core AMD EPYC of docs/benchmarks.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kernel {
    /// Any CPU: 4×8 tiles of scalar multiply-adds.
    Portable,
    /// x86-64 with AVX2: 64-bit products emulated 4 lanes at a time.
    #[cfg(target_arch = "x86_64")]
    Avx2,
    /// x86-64 with AVX-512DQ: native 8-lane 64-bit multiply.
    #[cfg(target_arch = "x86_64")]
    Avx512,
}

const PORTABLE_TILE: (usize, usize) = (4, 8);
#[cfg(target_arch = "x86_64")]
const SIMD_TILE: (usize, usize) = (2, 32);

impl Kernel {
    fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx512dq")
            {
                return Kernel::Avx512;
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                return Kernel::Avx2;
            }
        }
        Kernel::Portable
    }

    /// c (m×n, row-major) += a (m×k, row-major) · b.
    fn run(self, a: &[u64], c: &mut [u64], b: ArrayView2<'_, u64>, k: usize, n: usize) {
        // Narrow products (B with one or a few columns) still use the
        // padded panels: measured against one dot product per entry, the
        // panels won even at n = 1, the product being bound by reading A.
        match self {
            Kernel::Portable => {
                const TILE: (usize, usize) = PORTABLE_TILE;
                self.run_tiles::<{ TILE.0 }, { TILE.1 }>(a, c, pack_panels::<{ TILE.1 }>(b), k, n)
            }
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 | Kernel::Avx512 => {
                const TILE: (usize, usize) = SIMD_TILE;
                self.run_tiles::<{ TILE.0 }, { TILE.1 }>(a, c, pack_panels::<{ TILE.1 }>(b), k, n)
            }
        }
    }

    /// Runs this kernel copy over row blocks of C, with B already packed
    /// into panels of NR columns.
    fn run_tiles<const MR: usize, const NR: usize>(
        self,
        a: &[u64],
        c: &mut [u64],
        packed: Vec<u64>,
        k: usize,
        n: usize,
    ) {
        let packed = &packed;
        match self {
            Kernel::Portable => {
                run_blocks::<MR>(a, c, k, n, |a, c| block::<MR, NR>(a, c, packed, k, n))
            }
            // SAFETY: `detect` picks this variant only on a CPU with AVX2.
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => run_blocks::<MR>(a, c, k, n, |a, c| unsafe {
                block_avx2::<MR, NR>(a, c, packed, k, n)
            }),
            // SAFETY: `detect` picks this variant only on a CPU with
            // AVX-512F and AVX-512DQ.
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 => run_blocks::<MR>(a, c, k, n, |a, c| unsafe {
                block_avx512::<MR, NR>(a, c, packed, k, n)
            }),
        }
    }
}

/// Splits C and A into blocks of whole rows and runs `block` on each in
/// parallel.
fn run_blocks<const MR: usize>(
    a: &[u64],
    c: &mut [u64],
    k: usize,
    n: usize,
    block: impl Fn(&[u64], &mut [u64]) + Sync,
) {
    let m = c.len() / n;
    let rows = rows_per_task::<MR>(m, n, k);
    c.par_chunks_mut(rows * n)
        .zip(a.par_chunks(rows * k))
        .for_each(|(c_block, a_block)| block(a_block, c_block));
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn block_avx2<const MR: usize, const NR: usize>(
    a: &[u64],
    c: &mut [u64],
    packed: &[u64],
    k: usize,
    n: usize,
) {
    block::<MR, NR>(a, c, packed, k, n)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq")]
fn block_avx512<const MR: usize, const NR: usize>(
    a: &[u64],
    c: &mut [u64],
    packed: &[u64],
    k: usize,
    n: usize,
) {
    block::<MR, NR>(a, c, packed, k, n)
}

/// C_block += A_block·B for a block of whole rows (A rows of length k,
/// C rows of length n).
#[inline(always)]
fn block<const MR: usize, const NR: usize>(
    a: &[u64],
    c: &mut [u64],
    packed: &[u64],
    k: usize,
    n: usize,
) {
    let rows = c.len() / n;
    for k0 in (0..k).step_by(KC) {
        let kc = KC.min(k - k0);
        for (jp, panel) in packed.chunks_exact(k * NR).enumerate() {
            let bp = &panel[k0 * NR..(k0 + kc) * NR];
            let j0 = jp * NR;
            let width = NR.min(n - j0);
            let mut i = 0;
            while i + MR <= rows {
                let acc = tile::<MR, NR>(a, i, k, k0, kc, bp);
                write_back(c, &acc, i, n, j0, width);
                i += MR;
            }
            while i < rows {
                let acc = tile::<1, NR>(a, i, k, k0, kc, bp);
                write_back(c, &acc, i, n, j0, width);
                i += 1;
            }
        }
    }
}

/// The R×NR products of rows i..i+R of A (columns k0..k0+kc) with a packed
/// B slice.
#[inline(always)]
fn tile<const R: usize, const NR: usize>(
    a: &[u64],
    i: usize,
    k: usize,
    k0: usize,
    kc: usize,
    bp: &[u64],
) -> [[u64; NR]; R] {
    let rows: [&[u64]; R] = std::array::from_fn(|r| &a[(i + r) * k + k0..(i + r) * k + k0 + kc]);
    let mut acc = [[0u64; NR]; R];
    for (p, b) in bp.chunks_exact(NR).enumerate() {
        for r in 0..R {
            let av = rows[r][p];
            for col in 0..NR {
                acc[r][col] = acc[r][col].wrapping_add(av.wrapping_mul(b[col]));
            }
        }
    }
    acc
}

#[inline(always)]
fn write_back<const R: usize, const NR: usize>(
    c: &mut [u64],
    acc: &[[u64; NR]; R],
    i: usize,
    n: usize,
    j0: usize,
    width: usize,
) {
    for (r, row) in acc.iter().enumerate() {
        let dst = &mut c[(i + r) * n + j0..(i + r) * n + j0 + width];
        for (d, v) in dst.iter_mut().zip(row) {
            *d = d.wrapping_add(*v);
        }
    }
}

/// The naive product, as the reference the kernel is tested against.
#[cfg(test)]
pub(crate) fn matmul_naive(a: ArrayView2<'_, u64>, b: ArrayView2<'_, u64>) -> RingMatrix {
    let (m, k) = a.dim();
    let n = b.ncols();
    Array2::from_shape_fn((m, n), |(i, j)| {
        (0..k).fold(0u64, |s, p| {
            s.wrapping_add(a[[i, p]].wrapping_mul(b[[p, j]]))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};

    fn random(rng: &mut StdRng, m: usize, n: usize) -> RingMatrix {
        Array2::from_shape_fn((m, n), |_| rng.random())
    }

    #[test]
    fn matches_naive_on_awkward_shapes() {
        let mut rng = StdRng::seed_from_u64(3);
        for &(m, k, n) in &[
            (1, 1, 1),
            (3, 5, 7),
            (4, 8, 8),
            (9, 300, 17),
            (67, 513, 33),
            (130, 70, 9),
            (50, 300, 1),
            (33, 17, 3),
            (1, 1000, 4),
            (70, 40, 5),
            (5000, 23, 1),
            (3, 7, 1),
        ] {
            let a = random(&mut rng, m, k);
            let b = random(&mut rng, k, n);
            assert_eq!(
                matmul(a.view(), b.view()).unwrap(),
                matmul_naive(a.view(), b.view()),
                "{m}x{k}x{n}"
            );
        }
    }

    #[test]
    fn every_kernel_copy_agrees() {
        let mut rng = StdRng::seed_from_u64(4);
        for (m, k, n) in [(13, 270, 19), (21, 270, 2)] {
            let a = random(&mut rng, m, k);
            let b = random(&mut rng, k, n);
            check_every_kernel(&a, &b);
        }
    }

    fn check_every_kernel(a: &RingMatrix, b: &RingMatrix) {
        let (k, n) = b.dim();
        let expected = matmul_naive(a.view(), b.view());
        let a = a.as_slice().unwrap();
        let mut kernels = vec![Kernel::Portable];
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") {
                kernels.push(Kernel::Avx2);
            }
            if std::arch::is_x86_feature_detected!("avx512dq") {
                kernels.push(Kernel::Avx512);
            }
        }
        for kernel in kernels {
            let mut c = vec![0u64; expected.len()];
            kernel.run(a, &mut c, b.view(), k, n);
            assert_eq!(c, expected.as_slice().unwrap(), "{kernel:?}");
        }
    }

    #[test]
    fn transposed_views_and_accumulation() {
        let mut rng = StdRng::seed_from_u64(5);
        let a = random(&mut rng, 20, 11);
        let b = random(&mut rng, 20, 6);
        let at_b = matmul(a.t(), b.view()).unwrap();
        assert_eq!(at_b, matmul_naive(a.t(), b.view()));
        let mut c = random(&mut rng, 11, 6);
        let before = c.clone();
        matmul_add_into(&mut c, a.t(), b.view()).unwrap();
        let mut expected = before;
        expected.zip_mut_with(&at_b, |x, y| *x = x.wrapping_add(*y));
        assert_eq!(c, expected);
    }

    #[test]
    fn transposed_matrix_vector_products() {
        let mut rng = StdRng::seed_from_u64(6);
        for (k, m) in [(5000, 23), (7, 3), (300, 5000)] {
            let a = random(&mut rng, k, m);
            let b = random(&mut rng, k, 1);
            assert_eq!(
                matmul(a.t(), b.view()).unwrap(),
                matmul_naive(a.t(), b.view()),
                "{k}x{m}"
            );
            let b_row = random(&mut rng, 1, k);
            assert_eq!(
                matmul(a.t(), b_row.t()).unwrap(),
                matmul_naive(a.t(), b_row.t())
            );
        }
    }

    #[test]
    fn shape_mismatch_is_an_error() {
        let a = Array2::<u64>::zeros((2, 3));
        let b = Array2::<u64>::zeros((4, 2));
        assert!(matches!(
            matmul(a.view(), b.view()),
            Err(CoreError::ShapeMismatch {
                expected: 3,
                got: 4,
                ..
            })
        ));
    }
}
