//! Element-wise Beaver multiplication on shares against the plaintext, over
//! 2 and 3 parties, with the dealer's messages shipped as bytes.

mod common;

use common::{open, ship};
use indomain_core::FixedPoint;
use indomain_core::beaver::{Masked, TripleShare};
use indomain_core::dealer::Dealer;
use indomain_core::share::share;
use indomain_core::truncate::{TwoPartyRole, truncate_local};
use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;

/// Runs the whole protocol: returns each party's share of x·y and the
/// masked values each party put on the wire.
fn multiply(x: &[u64], y: &[u64], n: usize, rng: &mut StdRng) -> (Vec<Vec<u64>>, Vec<Masked>) {
    let len = x.len();
    let x_shares = share(x, n, rng).unwrap();
    let y_shares = share(y, n, rng).unwrap();
    let dealt = ship(Dealer::new(n).unwrap().triples(len, rng), Some(len));
    let triples: Vec<TripleShare> = dealt
        .iter()
        .map(|d| TripleShare::from_dealt(d, len).unwrap())
        .collect();
    let masked: Vec<Masked> = triples
        .iter()
        .zip(x_shares.iter().zip(&y_shares))
        .map(|(t, (x, y))| t.mask(x, y).unwrap())
        .collect();
    let d = open(&masked.iter().map(|m| m.d.clone()).collect::<Vec<_>>());
    let e = open(&masked.iter().map(|m| m.e.clone()).collect::<Vec<_>>());
    let z = triples
        .iter()
        .enumerate()
        .map(|(i, t)| t.finish(&d, &e, i == 0).unwrap())
        .collect();
    (z, masked)
}

proptest! {
    #[test]
    fn product_of_shares_is_the_product(
        pairs in prop::collection::vec((any::<u64>(), any::<u64>()), 0..300),
        n in 2usize..=3,
        seed in any::<u64>(),
    ) {
        let mut rng = StdRng::seed_from_u64(seed);
        let (x, y): (Vec<u64>, Vec<u64>) = pairs.into_iter().unzip();
        let (z, _) = multiply(&x, &y, n, &mut rng);
        let expected: Vec<u64> = x.iter().zip(&y).map(|(a, b)| a.wrapping_mul(*b)).collect();
        prop_assert_eq!(open(&z), expected);
    }

    #[test]
    fn nothing_on_the_wire_is_an_input(
        pairs in prop::collection::vec((1u64..1 << 40, 1u64..1 << 40), 16..64),
        seed in any::<u64>(),
    ) {
        let mut rng = StdRng::seed_from_u64(seed);
        let (x, y): (Vec<u64>, Vec<u64>) = pairs.into_iter().unzip();
        let (_, masked) = multiply(&x, &y, 3, &mut rng);
        // Every masked vector, and the opened d and e, are the inputs plus
        // uniform masks: an element equal to an input happens with
        // probability 2^-64.
        let d = open(&masked.iter().map(|m| m.d.clone()).collect::<Vec<_>>());
        let e = open(&masked.iter().map(|m| m.e.clone()).collect::<Vec<_>>());
        for m in &masked {
            prop_assert!(m.d.iter().zip(&x).all(|(a, b)| a != b));
            prop_assert!(m.e.iter().zip(&y).all(|(a, b)| a != b));
        }
        prop_assert!(d.iter().zip(&x).all(|(a, b)| a != b));
        prop_assert!(e.iter().zip(&y).all(|(a, b)| a != b));
        // Small inputs would show as small wire values; masked ones are not.
        prop_assert!(d.iter().chain(&e).filter(|v| **v < 1 << 41).count() <= 1);
    }

    #[test]
    fn fixed_point_product_after_local_truncation(
        pairs in prop::collection::vec((-8.0f64..8.0, -8.0f64..8.0), 1..200),
        seed in any::<u64>(),
    ) {
        // |x|, |y| < 2^3 at f = 20: the product has l_x = 46 bits and a
        // wrap has probability below 2^-17 per element (see truncate.rs).
        let fp = FixedPoint::default();
        let mut rng = StdRng::seed_from_u64(seed);
        let (xs, ys): (Vec<f64>, Vec<f64>) = pairs.into_iter().unzip();
        let x = fp.encode_slice(&xs).unwrap();
        let y = fp.encode_slice(&ys).unwrap();
        let (mut z, _) = multiply(&x, &y, 2, &mut rng);
        let wrapped = wraps(&z[0], &z[1]);
        truncate_local(&mut z[0], fp.frac_bits(), TwoPartyRole::First).unwrap();
        truncate_local(&mut z[1], fp.frac_bits(), TwoPartyRole::Second).unwrap();
        let got = fp.decode_slice(&open(&z));
        for (i, ((g, a), b)) in got.iter().zip(&xs).zip(&ys).enumerate() {
            if wrapped[i] {
                continue;
            }
            // Encoding rounds each input by 2^-21; truncation adds < 2^-20.
            let tol = (a.abs() + b.abs() + 2.0) / fp.scale();
            prop_assert!((g - a * b).abs() <= tol, "{} * {} -> {}", a, b, g);
        }
    }
}

/// Elements whose two shares overflow as signed integers: the one event in
/// which local truncation is allowed to fail.
fn wraps(z0: &[u64], z1: &[u64]) -> Vec<bool> {
    z0.iter()
        .zip(z1)
        .map(|(a, b)| (*a as i64).checked_add(*b as i64).is_none())
        .collect()
}
