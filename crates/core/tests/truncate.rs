//! Truncation of shared fixed-point values against the plaintext: SecureML
//! local truncation (2 parties) and dealer truncation pairs (2 and 3
//! parties). Every element must come out as ⌊x/2^f⌋ or ⌊x/2^f⌋ + 1 unless
//! its shares wrap around the ring — the one failure event the bound of
//! `indomain_core::truncate` allows, which the tests detect exactly.

mod common;

use common::{open, ship};
use indomain_core::CoreError;
use indomain_core::dealer::Dealer;
use indomain_core::share::share;
use indomain_core::truncate::{TruncationPairShare, TwoPartyRole, truncate_local};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

fn overflows(a: u64, b: u64) -> bool {
    (a as i64).checked_add(b as i64).is_none()
}

/// Whether `got` is ⌊x/2^f⌋ or ⌊x/2^f⌋ + 1.
fn within_one(x: u64, f: u32, got: u64) -> bool {
    let floor = (x as i64) >> f;
    let diff = (got as i64).wrapping_sub(floor);
    diff == 0 || diff == 1
}

fn random_below(rng: &mut StdRng, len: usize, bits: u32) -> Vec<u64> {
    (0..len)
        .map(|_| {
            let v: i64 = rng.random_range(-(1i64 << bits) + 1..1i64 << bits);
            v as u64
        })
        .collect()
}

/// Local truncation of `x`; returns the result and which elements wrapped.
fn local(x: &[u64], f: u32, rng: &mut StdRng) -> (Vec<u64>, Vec<bool>) {
    let mut s = share(x, 2, rng).unwrap();
    let wrapped = s[0]
        .iter()
        .zip(&s[1])
        .map(|(a, b)| overflows(*a, *b))
        .collect();
    truncate_local(&mut s[0], f, TwoPartyRole::First).unwrap();
    truncate_local(&mut s[1], f, TwoPartyRole::Second).unwrap();
    (open(&s), wrapped)
}

/// Truncation with dealer pairs among `n` parties; returns the result and
/// which elements wrapped.
fn with_pairs(x: &[u64], f: u32, n: usize, rng: &mut StdRng) -> (Vec<u64>, Vec<bool>) {
    let len = x.len();
    let shares = share(x, n, rng).unwrap();
    let dealt = ship(
        Dealer::new(n)
            .unwrap()
            .truncation_pairs(len, f, rng)
            .unwrap(),
        Some(len),
    );
    let pairs: Vec<TruncationPairShare> = dealt
        .iter()
        .map(|d| TruncationPairShare::from_dealt(d, len, f).unwrap())
        .collect();
    let masked: Vec<Vec<u64>> = pairs
        .iter()
        .zip(&shares)
        .map(|(p, s)| p.mask(s).unwrap())
        .collect();
    let c = open(&masked);
    let r = open(&pairs.iter().map(|p| p.r.clone()).collect::<Vec<_>>());
    let wrapped = c.iter().zip(&r).map(|(c, r)| overflows(*c, *r)).collect();
    let out: Vec<Vec<u64>> = pairs
        .into_iter()
        .enumerate()
        .map(|(i, p)| p.finish((i == 0).then_some(c.as_slice())).unwrap())
        .collect();
    (open(&out), wrapped)
}

proptest! {
    #[test]
    fn local_truncation_is_within_one_unless_shares_wrap(
        bits in 1u32..63, f in 0u32..=30, len in 1usize..200, seed in any::<u64>(),
    ) {
        let mut rng = StdRng::seed_from_u64(seed);
        let x = random_below(&mut rng, len, bits);
        let (got, wrapped) = local(&x, f, &mut rng);
        for i in 0..len {
            prop_assert!(wrapped[i] || within_one(x[i], f, got[i]), "x = {}", x[i] as i64);
        }
    }

    #[test]
    fn pair_truncation_is_within_one_unless_shares_wrap(
        bits in 1u32..63, f in 0u32..=30, len in 1usize..200,
        n in 2usize..=3, seed in any::<u64>(),
    ) {
        let mut rng = StdRng::seed_from_u64(seed);
        let x = random_below(&mut rng, len, bits);
        let (got, wrapped) = with_pairs(&x, f, n, &mut rng);
        for i in 0..len {
            prop_assert!(wrapped[i] || within_one(x[i], f, got[i]), "x = {}", x[i] as i64);
        }
    }
}

/// With |x| < 2^40 a wrap has probability below 2^-23 per element: none in
/// 10^5 elements (fixed seed, so the test is reproducible), every element
/// within one unit.
#[test]
fn small_values_never_wrap() {
    let mut rng = StdRng::seed_from_u64(2024);
    let x = random_below(&mut rng, 100_000, 40);
    for (got, wrapped) in [local(&x, 20, &mut rng), with_pairs(&x, 20, 3, &mut rng)] {
        assert!(wrapped.iter().all(|w| !w));
        assert!(x.iter().zip(&got).all(|(x, g)| within_one(*x, 20, *g)));
    }
}

/// The failure rate matches the stated bound: for x uniform below 2^62 in
/// magnitude, a wrap happens with probability E|x|/2^64 = 1/8, and a wrapped
/// element is off by about 2^(64−f).
#[test]
fn large_values_wrap_at_the_predicted_rate() {
    let mut rng = StdRng::seed_from_u64(7);
    let x = random_below(&mut rng, 100_000, 62);
    for (got, wrapped) in [local(&x, 20, &mut rng), with_pairs(&x, 20, 3, &mut rng)] {
        let rate = wrapped.iter().filter(|w| **w).count() as f64 / x.len() as f64;
        assert!((0.115..0.135).contains(&rate), "wrap rate {rate}");
        for ((x, g), w) in x.iter().zip(&got).zip(&wrapped) {
            let err = ((*g as i64).wrapping_sub((*x as i64) >> 20)).unsigned_abs();
            if *w {
                assert!(err > 1 << 42, "a wrap gives garbage, got error {err}");
            } else {
                assert!(err <= 1);
            }
        }
    }
}

#[test]
fn wrong_lengths_and_shifts_are_errors() {
    let mut rng = StdRng::seed_from_u64(1);
    let dealt = Dealer::new(3)
        .unwrap()
        .truncation_pairs(4, 20, &mut rng)
        .unwrap();
    assert!(TruncationPairShare::from_dealt(&dealt[0], 5, 20).is_err());
    assert_eq!(
        TruncationPairShare::from_dealt(&dealt[1], 4, 70),
        Err(CoreError::BadFractionalBits { frac_bits: 70 })
    );
    let pair = TruncationPairShare::from_dealt(&dealt[0], 4, 20).unwrap();
    assert!(pair.mask(&[1, 2, 3]).is_err());
    assert!(pair.finish(Some(&[1, 2, 3])).is_err());
}
