//! Exact truncation and division against the plaintext, for 2 and 3
//! computing parties and a dealer.

mod common;

use common::run;
use indomain_core::FixedPoint;
use indomain_mpc::Shared;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

fn fp() -> FixedPoint {
    FixedPoint::new(16).unwrap()
}

/// Shares of `values` for party `rank` of `n`: random for all but the last.
fn share(values: &[u64], rank: usize, n: usize, seed: u64) -> Shared {
    let mut rng = StdRng::seed_from_u64(seed);
    let randoms: Vec<Vec<u64>> = (0..n - 1)
        .map(|_| values.iter().map(|_| rng.random()).collect())
        .collect();
    if rank < n - 1 {
        return Shared(randoms[rank].clone());
    }
    Shared(
        values
            .iter()
            .enumerate()
            .map(|(i, v)| randoms.iter().fold(*v, |acc, r| acc.wrapping_sub(r[i])))
            .collect(),
    )
}

#[test]
fn exact_truncation_is_floor_division_at_every_shift() {
    let mut rng = StdRng::seed_from_u64(1);
    // Values near every edge: tiny, negative, close to ±2^62.
    let mut values: Vec<i64> = vec![0, 1, -1, (1 << 62) - 1, -(1 << 62) + 1, 12345, -12345];
    values.extend((0..300).map(|_| rng.random::<i64>() >> 2));
    values.extend((0..100).map(|_| rng.random::<i64>() >> 40));
    let raw: Vec<u64> = values.iter().map(|&v| v as u64).collect();
    for n in [2, 3] {
        let (out, _) = run(n, fp(), |s, _| {
            let x = share(&raw, s.rank(), n, 7);
            [1u32, 5, 16, 31, 32, 47, 62]
                .iter()
                .map(|&shift| {
                    let t = s.truncate_exact(&x, shift).unwrap();
                    (shift, s.open(&t).unwrap())
                })
                .collect::<Vec<_>>()
        });
        for (shift, got) in &out[0] {
            for (i, v) in values.iter().enumerate() {
                assert_eq!(got[i] as i64, v >> shift, "n {n} shift {shift} value {v}");
            }
        }
    }
}

#[test]
fn division_matches_the_plaintext_over_its_range() {
    let fp = fp();
    let mut rng = StdRng::seed_from_u64(2);
    let (lo, hi) = (-4, 20);
    let mut pairs: Vec<(f64, f64)> = vec![(1.0, 1.0), (-3.0, 0.0625), (1000.0, 999_999.0)];
    pairs.extend((0..200).map(|_| {
        let den = 2f64.powf(rng.random_range(lo as f64..(hi as f64 - 0.01)));
        let q = rng.random_range(-500.0..500.0);
        (q * den / 1000.0, den)
    }));
    let num: Vec<u64> = fp
        .encode_slice(&pairs.iter().map(|p| p.0).collect::<Vec<_>>())
        .unwrap();
    let den: Vec<u64> = fp
        .encode_slice(&pairs.iter().map(|p| p.1).collect::<Vec<_>>())
        .unwrap();
    for n in [2, 3] {
        let (out, _) = run(n, fp, |s, _| {
            let a = share(&num, s.rank(), n, 3);
            let b = share(&den, s.rank(), n, 4);
            let q = s.divide(&a, &b, lo, hi).unwrap();
            fp.decode_slice(&s.open(&q).unwrap())
        });
        for (i, (a, b)) in pairs.iter().enumerate() {
            let (a, b) = (
                fp.decode(fp.encode(*a).unwrap()),
                fp.decode(fp.encode(*b).unwrap()),
            );
            let want = a / b;
            let tol = 8.0 / fp.scale() * (1.0 + want.abs());
            assert!(
                (out[0][i] - want).abs() <= tol,
                "n {n}: {a} / {b} = {want}, got {}",
                out[0][i]
            );
        }
    }
}
