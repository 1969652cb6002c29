//! The secure natural logarithm against f64's, for 2 and 3 computing
//! parties and a dealer, with the error bound of `indomain_mpc::log`.

mod common;

use common::run;
use indomain_core::FixedPoint;
use indomain_mpc::log::{LN1P, ln1p_approx};

#[test]
fn the_polynomial_is_within_its_stated_error() {
    let worst = (0..=100_000)
        .map(|i| {
            let u = i as f64 / 100_000.0;
            (ln1p_approx(u) - u.ln_1p()).abs()
        })
        .fold(0.0, f64::max);
    assert!(worst < 2.3e-7, "{worst}");
    assert_eq!(LN1P.len(), 8);
}

#[test]
fn ln_of_shared_integers_matches_the_plaintext() {
    let bits = 21;
    let mut z: Vec<u64> = vec![
        1,
        2,
        3,
        4,
        5,
        7,
        8,
        9,
        1000,
        1023,
        1024,
        1025,
        (1 << 21) - 1,
    ];
    z.extend((0..40u64).map(|i| 1 + (i * 48_271 + 11) % ((1 << 21) - 1)));
    z.extend((1..40u64).map(|i| 2 * i + 1));
    for (n, f) in [(2, 16), (3, 16), (2, 20)] {
        let fp = FixedPoint::new(f).unwrap();
        let (out, transcripts) = run(n, fp, |s, rng| {
            let mine = (s.rank() == n - 1).then_some(z.as_slice());
            let sz = s.share_input(n - 1, mine, z.len(), rng).unwrap();
            let l = s.ln_int(&sz, bits).unwrap();
            fp.decode_slice(&s.open(&l).unwrap())
        });
        let bound = 12.0 / fp.scale() + 2.3e-7;
        let mut worst = 0.0f64;
        for got in &out {
            for (g, &zi) in got.iter().zip(&z) {
                let want = (zi as f64).ln();
                worst = worst.max((g - want).abs());
                assert!(
                    (g - want).abs() <= bound,
                    "n {n}, f {f}: ln {zi} = {g}, want {want} (bound {bound})"
                );
            }
        }
        eprintln!("n {n}, f {f}: largest error {worst:.3e} (bound {bound:.3e})");
        // The owner's integers reach no other party.
        for t in &transcripts[..n - 1] {
            assert!(!common::contains_any(t, &z[8..]));
        }
    }
}

#[test]
fn out_of_range_widths_are_refused() {
    let fp = FixedPoint::new(16).unwrap();
    let (out, _) = run(2, fp, |s, _| {
        let x = indomain_mpc::Shared::zeros(3);
        (s.ln_int(&x, 1).is_err(), s.ln_int(&x, 33).is_err())
    });
    assert!(out.iter().all(|&(a, b)| a && b));
}
