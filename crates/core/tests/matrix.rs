//! The matrix kernel and matrix-triple multiplication on shares against the
//! plaintext, over 2 and 3 parties, including the reuse of one opened mask
//! of a fixed matrix for several products (SecureML §4.2).

mod common;

use common::{naive_matmul, open_matrix, ship};
use indomain_core::dealer::{Dealer, DealtShare};
use indomain_core::matmul::{matmul, matmul_add_into};
use indomain_core::matrix_triple::{LeftMaskShare, RightTripleShare};
use indomain_core::ring::RingMatrix;
use indomain_core::share::share;
use ndarray::Array2;
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

fn random(rng: &mut StdRng, rows: usize, cols: usize) -> RingMatrix {
    Array2::from_shape_fn((rows, cols), |_| rng.random())
}

fn share_matrix(x: &RingMatrix, n: usize, rng: &mut StdRng) -> Vec<RingMatrix> {
    let flat: Vec<u64> = x.iter().copied().collect();
    share(&flat, n, rng)
        .unwrap()
        .into_iter()
        .map(|s| Array2::from_shape_vec(x.dim(), s).unwrap())
        .collect()
}

fn left_shares(dealt: Vec<DealtShare>, rows: usize, inner: usize) -> Vec<LeftMaskShare> {
    ship(dealt, None)
        .iter()
        .map(|d| LeftMaskShare::from_dealt(d, rows, inner).unwrap())
        .collect()
}

fn right_shares(
    dealt: Vec<DealtShare>,
    rows: usize,
    inner: usize,
    cols: usize,
) -> Vec<RightTripleShare> {
    ship(dealt, Some(rows * cols))
        .iter()
        .map(|d| RightTripleShare::from_dealt(d, rows, inner, cols).unwrap())
        .collect()
}

/// Opens D for the shared X (once) and returns it.
fn open_left(x: &[RingMatrix], masks: &[LeftMaskShare]) -> RingMatrix {
    let d: Vec<RingMatrix> = masks
        .iter()
        .zip(x)
        .map(|(m, x)| m.mask(x.view()).unwrap())
        .collect();
    open_matrix(&d)
}

/// Multiplies the shared Y by X (whose D is open) with one right triple
/// per party; returns the product shares and the E that was opened.
fn finish_product(
    d: &RingMatrix,
    y: &[RingMatrix],
    masks: &[LeftMaskShare],
    triples: &[RightTripleShare],
) -> (Vec<RingMatrix>, RingMatrix) {
    let e_shares: Vec<RingMatrix> = triples
        .iter()
        .zip(y)
        .map(|(t, y)| t.mask(y.view()).unwrap())
        .collect();
    let e = open_matrix(&e_shares);
    let z = triples
        .iter()
        .zip(masks)
        .enumerate()
        .map(|(i, (t, m))| t.finish(m.u.view(), d.view(), e.view(), i == 0).unwrap())
        .collect();
    (z, e)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn kernel_matches_the_naive_product(
        m in 1usize..40, k in 1usize..300, n in 1usize..40, seed in any::<u64>(),
    ) {
        let mut rng = StdRng::seed_from_u64(seed);
        let a = random(&mut rng, m, k);
        let b = random(&mut rng, k, n);
        let expected = naive_matmul(a.view(), b.view());
        prop_assert_eq!(matmul(a.view(), b.view()).unwrap(), expected.clone());
        let mut c = random(&mut rng, m, n);
        let mut want = c.clone();
        want.zip_mut_with(&expected, |w, e| *w = w.wrapping_add(*e));
        matmul_add_into(&mut c, a.view(), b.view()).unwrap();
        prop_assert_eq!(c, want);
    }

    #[test]
    fn product_of_shared_matrices_is_the_product(
        m in 1usize..12, k in 1usize..12, n in 1usize..12,
        parties in 2usize..=3, seed in any::<u64>(),
    ) {
        let mut rng = StdRng::seed_from_u64(seed);
        let x = random(&mut rng, m, k);
        let y = random(&mut rng, k, n);
        let dealer = Dealer::new(parties).unwrap();
        let (left, right) = dealer.matrix_triple(m, k, n, &mut rng);
        let masks = left_shares(left, m, k);
        let triples = right_shares(right, m, k, n);
        let x_shares = share_matrix(&x, parties, &mut rng);
        let y_shares = share_matrix(&y, parties, &mut rng);
        let d = open_left(&x_shares, &masks);
        let (z, e) = finish_product(&d, &y_shares, &masks, &triples);
        prop_assert_eq!(open_matrix(&z), naive_matmul(x.view(), y.view()));
        // What was opened is masked: no element of X or Y shows in clear.
        prop_assert!(d.iter().zip(x.iter()).all(|(a, b)| a != b));
        prop_assert!(e.iter().zip(y.iter()).all(|(a, b)| a != b));
    }

    #[test]
    fn one_opened_mask_serves_many_products(
        m in 1usize..10, k in 1usize..10, n in 1usize..6,
        parties in 2usize..=3, seed in any::<u64>(),
    ) {
        let mut rng = StdRng::seed_from_u64(seed);
        let x = random(&mut rng, m, k);
        let dealer = Dealer::new(parties).unwrap();
        let (left, left_dealt) = dealer.left_mask(m, k, &mut rng);
        let masks = left_shares(left_dealt, m, k);
        let x_shares = share_matrix(&x, parties, &mut rng);
        let d = open_left(&x_shares, &masks);
        for _epoch in 0..3 {
            // X·Y_j with a fresh right triple against the same U.
            let y = random(&mut rng, k, n);
            let triples = right_shares(dealer.right_triple(&left, n, &mut rng), m, k, n);
            let (z, _) = finish_product(&d, &share_matrix(&y, parties, &mut rng), &masks, &triples);
            prop_assert_eq!(open_matrix(&z), naive_matmul(x.view(), y.view()));

            // Xᵀ·G_j reuses the same opened D, transposed.
            let g = random(&mut rng, m, n);
            let triples_t = right_shares(dealer.right_triple_transposed(&left, n, &mut rng), k, m, n);
            let g_shares = share_matrix(&g, parties, &mut rng);
            let e_shares: Vec<RingMatrix> = triples_t
                .iter()
                .zip(&g_shares)
                .map(|(t, g)| t.mask(g.view()).unwrap())
                .collect();
            let e = open_matrix(&e_shares);
            let zt: Vec<RingMatrix> = triples_t
                .iter()
                .zip(&masks)
                .enumerate()
                .map(|(i, (t, mk))| t.finish(mk.u.t(), d.t(), e.view(), i == 0).unwrap())
                .collect();
            prop_assert_eq!(open_matrix(&zt), naive_matmul(x.t(), g.view()));
        }
    }
}

#[test]
fn a_dealer_message_of_the_wrong_size_is_refused() {
    let mut rng = StdRng::seed_from_u64(9);
    let (_, right) = Dealer::new(2).unwrap().matrix_triple(3, 4, 5, &mut rng);
    let bytes = right[0].to_bytes();
    assert!(DealtShare::from_bytes(&bytes, Some(3 * 5)).is_ok());
    assert!(DealtShare::from_bytes(&bytes, Some(4 * 5)).is_err());
    assert!(DealtShare::from_bytes(&bytes[..bytes.len() - 8], Some(3 * 5)).is_err());
    let mut longer = bytes.clone();
    longer.extend_from_slice(&[0u8; 8]);
    assert!(DealtShare::from_bytes(&longer, Some(3 * 5)).is_err());
}
