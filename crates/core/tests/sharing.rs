//! Additive sharing, reconstruction and share-wise addition against the
//! plaintext, over 2 and 3 parties; the fixed-point codec's range check.

mod common;

use common::open;
use indomain_core::share::{reconstruct, share, share_from_seed, share_seeded};
use indomain_core::{CoreError, FixedPoint, ring};
use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;

proptest! {
    #[test]
    fn shares_reconstruct_and_add(
        xs in prop::collection::vec(-1.0e6f64..1.0e6, 0..200),
        ys_seed in any::<u64>(),
        n in 2usize..=3,
        seed in any::<u64>(),
    ) {
        let fp = FixedPoint::default();
        let mut rng = StdRng::seed_from_u64(seed);
        let x = fp.encode_slice(&xs).unwrap();
        let y: Vec<u64> = (0..x.len() as u64).map(|i| i.wrapping_mul(ys_seed)).collect();
        let x_shares = share(&x, n, &mut rng).unwrap();
        let y_shares = share(&y, n, &mut rng).unwrap();
        prop_assert_eq!(x_shares.len(), n);
        let refs: Vec<&[u64]> = x_shares.iter().map(Vec::as_slice).collect();
        prop_assert_eq!(reconstruct(&refs).unwrap(), x.clone());
        for (got, want) in fp.decode_slice(&open(&x_shares)).iter().zip(&xs) {
            prop_assert!((got - want).abs() <= 0.5 / fp.scale());
        }
        // Addition is local: each party adds its own shares.
        let sums: Vec<Vec<u64>> = x_shares
            .iter()
            .zip(&y_shares)
            .map(|(a, b)| {
                let mut s = a.clone();
                ring::add_assign(&mut s, b).unwrap();
                s
            })
            .collect();
        let expected: Vec<u64> = x.iter().zip(&y).map(|(a, b)| a.wrapping_add(*b)).collect();
        prop_assert_eq!(open(&sums), expected);
    }

    #[test]
    fn seeded_sharing_hides_the_secret_from_every_single_share(
        x in prop::collection::vec(any::<u64>(), 8..64),
        seed in any::<u64>(),
    ) {
        let mut rng = StdRng::seed_from_u64(seed);
        let s = share_seeded(&x, 2, &mut rng);
        let others: Vec<Vec<u64>> = s.seeds.iter().map(|sd| share_from_seed(sd, x.len())).collect();
        // No single share carries any element of the secret in clear (each
        // match has probability 2^-64).
        for share in std::iter::once(&s.own).chain(&others) {
            prop_assert!(x.iter().zip(share).all(|(a, b)| a != b));
        }
        prop_assert_eq!(open(&[s.own.clone(), others[0].clone(), others[1].clone()]), x);
    }

    #[test]
    fn encode_refuses_out_of_range(
        magnitude in 43.0f64..300.0,
        negative in any::<bool>(),
    ) {
        let fp = FixedPoint::default();
        let x = if negative { -(2f64.powf(magnitude)) } else { 2f64.powf(magnitude) };
        prop_assert_eq!(
            fp.encode(x),
            Err(CoreError::OutOfRange { value: x, limit: 2f64.powi(43) })
        );
    }

    #[test]
    fn encode_accepts_the_range_and_round_trips(x in -(2f64.powi(42))..2f64.powi(42)) {
        let fp = FixedPoint::default();
        let back = fp.decode(fp.encode(x).unwrap());
        prop_assert!((back - x).abs() <= 0.5 / fp.scale());
    }
}

#[test]
fn encode_slice_stops_at_the_first_bad_value() {
    let fp = FixedPoint::default();
    assert!(matches!(
        fp.encode_slice(&[1.0, f64::INFINITY, 1e300]),
        Err(CoreError::NotFinite { .. })
    ));
    assert!(matches!(
        fp.encode_slice(&[1.0, -1e300]),
        Err(CoreError::OutOfRange { .. })
    ));
}
