//! The packed comparison, boolean-to-ring conversion, the sine series and
//! the Fourier sigmoid against the plaintext, for 2 and 3 computing
//! parties and a dealer; transcripts without inputs.

mod common;

use common::{contains_any, run};
use indomain_core::FixedPoint;
use indomain_core::bits::bit;
use indomain_mpc::compare::FULL_RANGE;
use indomain_mpc::sigmoid::{FOURIER_CLAMP, sigmoid_fourier_clear};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

fn fp() -> FixedPoint {
    FixedPoint::new(16).unwrap()
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

#[test]
fn packed_comparison_matches_the_plaintext_and_hides_the_input() {
    for n in [2, 3] {
        for bound in [1u32, 5, 31, FULL_RANGE] {
            let top = ((1u128 << bound) - 1) as i64;
            let mut x = vec![0, 1, -1, top, -top, top - 1, -top + 1];
            let mut rng = StdRng::seed_from_u64(bound as u64);
            x.extend((0..150).map(|_| rng.random_range(-top..=top)));
            let ring: Vec<u64> = x.iter().map(|&v| v as u64).collect();
            let (out, transcripts) = run(n, fp(), |s, rng| {
                let mine = (s.rank() == n - 1).then_some(ring.as_slice());
                let sx = s.share_input(n - 1, mine, ring.len(), rng).unwrap();
                let b = s.less_than_zero_bits(&sx, bound).unwrap();
                assert_eq!(b.len, ring.len());
                let words = s.open_bits(&b.words).unwrap();
                let arith = s.bits_to_ring(&b).unwrap();
                (words, s.open(&arith).unwrap())
            });
            for (words, arith) in out {
                for (e, &v) in x.iter().enumerate() {
                    let want = (v < 0) as u64;
                    assert_eq!(bit(&words, e), want, "n {n}, bound {bound}, x {v}");
                    assert_eq!(arith[e], want);
                }
            }
            if bound > 20 {
                let big: Vec<u64> = ring
                    .iter()
                    .copied()
                    .filter(|v| (*v as i64).abs() > 1 << 20)
                    .collect();
                for t in &transcripts[..n - 1] {
                    assert!(!contains_any(t, &big), "an input reached another party");
                }
            }
        }
    }
}

#[test]
fn and_gates_on_packed_words() {
    let x: Vec<u64> = vec![0xdead_beef_0123_4567, u64::MAX, 0, 0x8000_0000_0000_0001];
    let y: Vec<u64> = vec![0x0f0f_0f0f_f0f0_f0f0, 0x1234, u64::MAX, 3];
    for n in [2, 3] {
        let (out, _) = run(n, fp(), |s, _| {
            // Party 0 holds x, the last party y, as XOR shares.
            let mine = |v: &[u64], owner| {
                if s.rank() == owner {
                    v.to_vec()
                } else {
                    vec![0; v.len()]
                }
            };
            let (sx, sy) = (mine(&x, 0), mine(&y, n - 1));
            let z = s.and_bits(&sx, &sy).unwrap();
            s.open_bits(&z).unwrap()
        });
        for got in out {
            let want: Vec<u64> = x.iter().zip(&y).map(|(a, b)| a & b).collect();
            assert_eq!(got, want);
        }
    }
}

#[test]
fn the_fourier_sigmoid_is_within_its_bound_on_the_whole_line() {
    let fp = fp();
    let mut z: Vec<f64> = vec![
        0.0,
        1e-4,
        -1e-4,
        FOURIER_CLAMP,
        -FOURIER_CLAMP,
        12.001,
        -12.001,
        16.0,
        -16.0,
        20.0,
        32.0,
        -47.5,
        1e3,
        -1e3,
        3e4,
        -3e4,
    ];
    let mut rng = StdRng::seed_from_u64(3);
    z.extend((0..300).map(|_| rng.random_range(-20.0..20.0)));
    z.extend((0..100).map(|_| rng.random_range(-3.0..3.0)));
    for n in [2, 3] {
        // z as an untruncated product (2f fractional bits): what training
        // passes.
        let wide = FixedPoint::new(2 * fp.frac_bits()).unwrap();
        let ez = wide.encode_slice(&z).unwrap();
        let (out, _) = run(n, fp, |s, rng| {
            let mine = (s.rank() == 0).then_some(ez.as_slice());
            let sz = s.share_input(0, mine, ez.len(), rng).unwrap();
            let y = s.sigmoid_fourier(&sz, fp.frac_bits()).unwrap();
            fp.decode_slice(&s.open(&y).unwrap())
        });
        for got in out {
            for (g, &zi) in got.iter().zip(&z) {
                assert!(
                    (g - sigmoid(zi)).abs() < 2e-4,
                    "n {n}: σ̂({zi}) = {g}, σ = {}",
                    sigmoid(zi)
                );
                assert!((g - sigmoid_fourier_clear(zi)).abs() < 8e-5, "z {zi}: {g}");
            }
        }
    }
}

#[test]
fn a_sine_series_of_values_with_f_fractional_bits() {
    let fp = fp();
    let x: Vec<f64> = vec![0.0, 0.25, -0.25, 1.0, 3.7, -7.9, 8.0];
    let a = [0.5, -0.25, 0.125];
    let ex = fp.encode_slice(&x).unwrap();
    let (out, _) = run(2, fp, |s, rng| {
        let mine = (s.rank() == 1).then_some(ex.as_slice());
        let sx = s.share_input(1, mine, ex.len(), rng).unwrap();
        // Period 2^3 = 8.
        let y = s.sine_series(&sx, fp.frac_bits(), 3, &a).unwrap();
        assert!(s.sine_series(&sx, fp.frac_bits(), 3, &[]).is_err());
        fp.decode_slice(&s.open(&y).unwrap())
    });
    for got in out {
        for (g, &xi) in got.iter().zip(&x) {
            let w = std::f64::consts::TAU * xi / 8.0;
            let want: f64 = a
                .iter()
                .enumerate()
                .map(|(k, a)| a * ((k + 1) as f64 * w).sin())
                .sum();
            assert!((g - want).abs() < 1e-4, "{xi}: {g} vs {want}");
        }
    }
}
