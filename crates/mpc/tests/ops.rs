//! Every operation of the mpc layer against the plaintext, for 2 and 3
//! computing parties and a dealer, one thread each.

mod common;

use common::{contains_any, run};
use indomain_core::FixedPoint;
use indomain_mpc::Shared;
use indomain_mpc::sigmoid::sigmoid_approx;
use ndarray::{Array2, ArrayView2};
use proptest::prelude::*;
use rand::RngExt;
use rand::SeedableRng;
use rand::rngs::StdRng;

fn fp() -> FixedPoint {
    FixedPoint::new(16).unwrap()
}

fn reals(seed: u64, len: usize, bound: f64) -> Vec<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..len).map(|_| rng.random_range(-bound..bound)).collect()
}

fn close(got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= tol, "element {i}: {g} vs {w} (tol {tol})");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    fn beaver_products_match_the_plaintext(n in 2usize..=3, seed in 0u64..1000, len in 1usize..200) {
        let fp = fp();
        let x = reals(seed, len, 8.0);
        let y = reals(seed + 1, len, 8.0);
        let (out, _) = run(n, fp, |s, rng| {
            let ex = (s.rank() == 0).then(|| fp.encode_slice(&x).unwrap());
            let ey = (s.rank() == n - 1).then(|| fp.encode_slice(&y).unwrap());
            let sx = s.share_input(0, ex.as_deref(), len, rng).unwrap();
            let sy = s.share_input(n - 1, ey.as_deref(), len, rng).unwrap();
            let z = s.mul_fixed(&sx, &sy).unwrap();
            fp.decode_slice(&s.open(&z).unwrap())
        });
        let want: Vec<f64> = x.iter().zip(&y).map(|(a, b)| a * b).collect();
        for got in &out {
            close(got, &want, 4.0 * 8.0 / fp.scale());
        }
    }

    #[test]
    fn linear_operations_match_the_plaintext(n in 2usize..=3, seed in 0u64..1000, len in 1usize..100) {
        let fp = fp();
        let x = reals(seed, len, 100.0);
        let y = reals(seed + 7, len, 100.0);
        let c = reals(seed + 9, len, 3.0);
        let (out, _) = run(n, fp, |s, rng| {
            let ex = (s.rank() == 1).then(|| fp.encode_slice(&x).unwrap());
            let ey = (s.rank() == 0).then(|| fp.encode_slice(&y).unwrap());
            let sx = s.share_input(1, ex.as_deref(), len, rng).unwrap();
            let sy = s.share_input(0, ey.as_deref(), len, rng).unwrap();
            let mut z = sx.add(&sy).unwrap().sub(&Shared::public(&fp.encode_slice(&y).unwrap(), s.rank())).unwrap();
            z.add_public(&vec![fp.encode(1.5).unwrap(); len], s.rank()).unwrap();
            z.scale(3);
            let w = s.mul_public_real(z, &c).unwrap();
            fp.decode_slice(&s.open(&w).unwrap())
        });
        let want: Vec<f64> = x.iter().zip(&c).map(|(a, c)| (a + 1.5) * 3.0 * c).collect();
        // encode(c) is off by at most 2^-17, times |(x + 1.5)·3| < 305.
        for got in &out {
            close(got, &want, (305.0 * 0.5 + 4.0) / fp.scale());
        }
    }
}

/// A product longer than one triple batch is cut into pieces (the
/// dealer refuses items above 2^23 elements) and put back in order.
#[test]
fn a_product_longer_than_one_triple_batch_matches_the_plaintext() {
    let len = 2 * indomain_mpc::session::MUL_CHUNK + 3;
    let x: Vec<u64> = (0..len as u64)
        .map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15))
        .collect();
    let y: Vec<u64> = (0..len as u64).map(|i| i ^ 0x5555).collect();
    let (out, _) = run(2, fp(), |s, _| {
        let (sx, sy) = (Shared::public(&x, s.rank()), Shared::public(&y, s.rank()));
        let z = s.mul(&sx, &sy).unwrap();
        s.open(&z).unwrap()
    });
    for got in out {
        assert_eq!(got.len(), len);
        let wrong = (0..len).find(|&i| got[i] != x[i].wrapping_mul(y[i]));
        assert_eq!(wrong, None, "first wrong element");
    }
}

#[test]
fn matrix_products_match_the_plaintext() {
    let fp = fp();
    for n in [2, 3] {
        let (m, k, c) = (9, 5, 3);
        let x = reals(1, m * k, 2.0);
        let y = reals(2, k * c, 2.0);
        let (out, _) = run(n, fp, |s, rng| {
            let ex = (s.rank() == 0).then(|| fp.encode_slice(&x).unwrap());
            let ey = (s.rank() == 1).then(|| fp.encode_slice(&y).unwrap());
            let sx = s.share_input(0, ex.as_deref(), m * k, rng).unwrap();
            let sy = s.share_input(1, ey.as_deref(), k * c, rng).unwrap();
            let xv = ArrayView2::from_shape((m, k), sx.as_slice()).unwrap();
            let yv = ArrayView2::from_shape((k, c), sy.as_slice()).unwrap();
            let z = s.matmul(xv, yv).unwrap();
            let z = s
                .truncate(Shared(z.into_raw_vec_and_offset().0), fp.frac_bits())
                .unwrap();
            fp.decode_slice(&s.open(&z).unwrap())
        });
        let xa = ArrayView2::from_shape((m, k), &x).unwrap();
        let ya = ArrayView2::from_shape((k, c), &y).unwrap();
        let want = xa.dot(&ya).into_raw_vec_and_offset().0;
        for got in &out {
            close(got, &want, 4.0 * k as f64 / fp.scale());
        }
    }
}

/// A column-split matrix opened once, then multiplied by fresh vectors
/// several times, both ways: the SecureML mask reuse of training epochs.
#[test]
fn fixed_matrix_products_reuse_one_mask() {
    let fp = fp();
    for n in [2, 3] {
        let rows = 300;
        let widths: Vec<usize> = (0..n).map(|k| 2 + k).collect();
        let cols: usize = widths.iter().sum();
        let x = reals(3, rows * cols, 3.0);
        let xa = Array2::from_shape_vec((rows, cols), x.clone()).unwrap();
        let ws: Vec<Vec<f64>> = (0..3).map(|e| reals(10 + e, cols, 1.0)).collect();
        let es: Vec<Vec<f64>> = (0..3).map(|e| reals(20 + e, rows, 1.0)).collect();
        let (out, transcripts) = run(n, fp, |s, rng| {
            let r = s.rank();
            let off: usize = widths[..r].iter().sum();
            let own = xa.slice(ndarray::s![.., off..off + widths[r]]).to_owned();
            let own = own.mapv(|v| fp.encode(v).unwrap());
            let fixed = s.fix_matrix(own.view(), &widths).unwrap();
            let mut results = Vec::new();
            for (w, e) in ws.iter().zip(&es) {
                let ew = (r == 0).then(|| fp.encode_slice(w).unwrap());
                let ee = (r == n - 1).then(|| fp.encode_slice(e).unwrap());
                let sw = s.share_input(0, ew.as_deref(), cols, rng).unwrap();
                let se = s.share_input(n - 1, ee.as_deref(), rows, rng).unwrap();
                let xw = s.fixed_times(&fixed, &sw).unwrap();
                let xw = s.truncate(xw, fp.frac_bits()).unwrap();
                let xte = s.fixed_t_times(&fixed, &se).unwrap();
                let xte = s.truncate(xte, fp.frac_bits()).unwrap();
                let (xte2, sq) = s.fixed_t_times_square(&fixed, &se).unwrap();
                let xte2 = s.truncate(xte2, fp.frac_bits()).unwrap();
                let sq = s.open(&Shared(vec![sq])).unwrap()[0] as i64 as f64;
                results.push((
                    fp.decode_slice(&s.open(&xw).unwrap()),
                    fp.decode_slice(&s.open(&xte).unwrap()),
                    fp.decode_slice(&s.open(&xte2).unwrap()),
                    sq / fp.scale() / fp.scale(),
                ));
            }
            results
        });
        for (epoch, (w, e)) in ws.iter().zip(&es).enumerate() {
            let want_xw = xa.dot(&ndarray::arr1(w)).to_vec();
            let want_xte = xa.t().dot(&ndarray::arr1(e)).to_vec();
            for party in &out {
                close(&party[epoch].0, &want_xw, 2.0 * cols as f64 / fp.scale());
                close(&party[epoch].1, &want_xte, 2.0 * rows as f64 / fp.scale());
                close(&party[epoch].2, &want_xte, 2.0 * rows as f64 / fp.scale());
                let e_enc: f64 = e
                    .iter()
                    .map(|v| fp.decode(fp.encode(*v).unwrap()).powi(2))
                    .sum();
                assert!(
                    (party[epoch].3 - e_enc).abs() < 1e-9,
                    "{} vs {e_enc}",
                    party[epoch].3
                );
            }
        }
        // No party receives another party's encoded feature block.
        for (r, transcript) in transcripts.iter().enumerate() {
            for k in (0..n).filter(|&k| k != r) {
                let off: usize = widths[..k].iter().sum();
                let block: Vec<u64> = xa
                    .slice(ndarray::s![.., off..off + widths[k]])
                    .iter()
                    .map(|&v| fp.encode(v).unwrap())
                    .collect();
                assert!(
                    !contains_any(transcript, &block),
                    "rank {r} saw rank {k}'s block"
                );
            }
        }
    }
}

#[test]
fn truncation_is_within_one_unit() {
    let fp = fp();
    for n in [2, 3] {
        let x = reals(5, 500, 1000.0);
        let (out, _) = run(n, fp, |s, rng| {
            let ex = (s.rank() == 1).then(|| {
                x.iter()
                    .map(|v| FixedPoint::new(32).unwrap().encode(*v).unwrap())
                    .collect::<Vec<u64>>()
            });
            let sx = s.share_input(1, ex.as_deref(), x.len(), rng).unwrap();
            let t = s.truncate(sx, 16).unwrap();
            s.open(&t).unwrap()
        });
        for got in &out {
            for (g, v) in got.iter().zip(&x) {
                let exact = (v * fp.scale() * fp.scale()).round() as i64 >> 16;
                let diff = (*g as i64) - exact;
                assert!((0..=1).contains(&diff), "{g} vs {exact}");
            }
        }
    }
}

#[test]
fn sigmoid_matches_its_approximation() {
    let fp = fp();
    for n in [2, 3] {
        let z = reals(6, 100, 3.0);
        let (out, _) = run(n, fp, |s, rng| {
            let ez = (s.rank() == 0).then(|| fp.encode_slice(&z).unwrap());
            let sz = s.share_input(0, ez.as_deref(), z.len(), rng).unwrap();
            let y = s.sigmoid(sz, 0).unwrap();
            fp.decode_slice(&s.open(&y).unwrap())
        });
        let want: Vec<f64> = z.iter().map(|&v| sigmoid_approx(v)).collect();
        for got in &out {
            close(got, &want, 2.0 / fp.scale());
        }
    }
}

#[test]
fn only_the_receiver_learns_an_opened_value() {
    let fp = fp();
    let x = reals(7, 50, 5.0);
    let (out, transcripts) = run(3, fp, |s, rng| {
        let ex = (s.rank() == 2).then(|| fp.encode_slice(&x).unwrap());
        let sx = s.share_input(2, ex.as_deref(), x.len(), rng).unwrap();
        s.open_to(&sx, s.leader())
            .unwrap()
            .map(|v| fp.decode_slice(&v))
    });
    close(out[0].as_ref().unwrap(), &x, 1.0 / fp.scale());
    assert!(out[1].is_none() && out[2].is_none());
    let encoded = fp.encode_slice(&x).unwrap();
    // Shares travel in clear to the receiver, never the value; the others
    // see seeds only.
    for t in &transcripts {
        assert!(!contains_any(t, &encoded));
    }
}

#[test]
fn secure_sum_reveals_only_the_sum_to_the_receiver() {
    let fp = fp();
    let inputs: Vec<Vec<f64>> = (0..3).map(|k| reals(30 + k, 40, 50.0)).collect();
    let (out, transcripts) = run(3, fp, |s, rng| {
        let group = s.roster().computing().to_vec();
        let mine = fp.encode_slice(&inputs[s.rank()]).unwrap();
        indomain_mpc::sum::sum_to(s.parties_mut(), &group, group[1], &mine, rng)
            .unwrap()
            .map(|v| fp.decode_slice(&v))
    });
    let want: Vec<f64> = (0..40).map(|i| inputs.iter().map(|v| v[i]).sum()).collect();
    close(out[1].as_ref().unwrap(), &want, 3.0 / fp.scale());
    assert!(out[0].is_none() && out[2].is_none());
    for (r, t) in transcripts.iter().enumerate() {
        for k in (0..3).filter(|&k| k != r) {
            assert!(!contains_any(t, &fp.encode_slice(&inputs[k]).unwrap()));
        }
    }
}
