//! Secure comparison, the clamped sigmoid and "count ≥ k?" against the
//! plaintext, for 2 and 3 computing parties and a dealer; transcripts
//! without inputs; malformed dealer items are errors.

mod common;

use common::{contains_any, run};
use indomain_core::FixedPoint;
use indomain_mpc::compare::FULL_RANGE;
use indomain_mpc::dealer::{DealerClient, Request};
use indomain_mpc::sigmoid::sigmoid_clamped;
use indomain_mpc::{MpcError, Roster, Session, Shared};
use indomain_net::memory::mesh;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

fn fp() -> FixedPoint {
    FixedPoint::new(16).unwrap()
}

/// Signed values with |v| < 2^bound: the edges, values around 0 and
/// random ones.
fn signed(seed: u64, bound: u32, random: usize) -> Vec<i64> {
    let top = ((1u128 << bound) - 1) as i64;
    let mut v = vec![0, 1, -1, 2, -2, top, -top, top - 1, -top + 1];
    let mut rng = StdRng::seed_from_u64(seed);
    v.extend((0..random).map(|_| rng.random_range(-top..=top)));
    v.extend((0..random).map(|_| rng.random_range(-5i64..=5)));
    v.retain(|x| x.abs() <= top);
    v
}

#[test]
fn less_than_zero_matches_the_plaintext() {
    for n in [2, 3] {
        for bound in [1, 7, 20, 40, FULL_RANGE] {
            let x = signed(bound as u64, bound, 60);
            let ring: Vec<u64> = x.iter().map(|&v| v as u64).collect();
            let (out, _) = run(n, fp(), |s, rng| {
                let mine = (s.rank() == n - 1).then_some(ring.as_slice());
                let sx = s.share_input(n - 1, mine, ring.len(), rng).unwrap();
                let b = s.less_than_zero(&sx, bound).unwrap();
                s.open(&b).unwrap()
            });
            let want: Vec<u64> = x.iter().map(|&v| (v < 0) as u64).collect();
            for got in out {
                assert_eq!(got, want, "n = {n}, bound = {bound}");
            }
        }
    }
}

#[test]
fn comparison_with_a_public_constant_near_the_threshold() {
    let fp = fp();
    let t = 3.25;
    let ulp = 1.0 / fp.scale();
    let mut x: Vec<f64> = vec![t, t - ulp, t + ulp, t - 2.0 * ulp, -t, 0.0, 1e6, -1e6];
    let mut rng = StdRng::seed_from_u64(5);
    x.extend((0..100).map(|_| t + rng.random_range(-0.01..0.01)));
    let ex = fp.encode_slice(&x).unwrap();
    let et = fp.encode(t).unwrap();
    for n in [2, 3] {
        let (out, transcripts) = run(n, fp, |s, rng| {
            let mine = (s.rank() == 0).then_some(ex.as_slice());
            let sx = s.share_input(0, mine, ex.len(), rng).unwrap();
            let b = s.less_than_public(&sx, et, 40).unwrap();
            s.open(&b).unwrap()
        });
        let want: Vec<u64> = ex
            .iter()
            .map(|&v| ((v as i64) < et as i64) as u64)
            .collect();
        for got in &out {
            assert_eq!(got, &want);
        }
        // The owner's encoded values reach no other party.
        for t in &transcripts[1..] {
            assert!(!contains_any(t, &ex));
        }
    }
}

#[test]
fn the_clamped_sigmoid_matches_the_plaintext_approximation() {
    let fp = fp();
    let mut z: Vec<f64> = vec![-2.0, 2.0, 0.0, -1e3, 1e3, -2.00002, 1.99998];
    let mut rng = StdRng::seed_from_u64(8);
    z.extend((0..200).map(|_| rng.random_range(-6.0..6.0)));
    let ez = fp.encode_slice(&z).unwrap();
    for n in [2, 3] {
        let (out, _) = run(n, fp, |s, rng| {
            let mine = (s.rank() == 1).then_some(ez.as_slice());
            let sz = s.share_input(1, mine, ez.len(), rng).unwrap();
            let y = s.sigmoid_clamped(sz, 0).unwrap();
            fp.decode_slice(&s.open(&y).unwrap())
        });
        for got in out {
            for (i, (g, &zi)) in got.iter().zip(&z).enumerate() {
                // The ÷4 truncation is exact to one unit; the clamp is exact.
                let want = sigmoid_clamped(zi);
                assert!((g - want).abs() <= 2.0 / fp.scale(), "{i}: {g} vs {want}");
                assert!((0.0..=1.0).contains(g));
            }
        }
    }
}

#[test]
fn only_the_named_receivers_learn_whether_a_count_reaches_k() {
    let k = 10u64;
    let counts: Vec<u64> = vec![0, 9, 10, 11, 1 << 30, 3, 10, 9];
    let want: Vec<bool> = counts.iter().map(|&c| c >= k).collect();
    for (n, receivers) in [(2, vec![1]), (3, vec![0, 2])] {
        let (out, transcripts) = run(n, fp(), |s, rng| {
            // Every party holds part of each count (rows of its own).
            let mine: Vec<u64> = counts
                .iter()
                .map(|&c| if s.rank() == 0 { c } else { 0 })
                .collect();
            let sc = s
                .share_input(
                    0,
                    Some(&mine).filter(|_| s.rank() == 0).map(|v| v.as_slice()),
                    counts.len(),
                    rng,
                )
                .unwrap();
            s.at_least_to(&sc, k, 40, &receivers).unwrap()
        });
        for (rank, got) in out.iter().enumerate() {
            if receivers.contains(&rank) {
                assert_eq!(got.as_ref(), Some(&want), "rank {rank}");
            } else {
                assert!(got.is_none(), "rank {rank}");
            }
        }
        // No other party's transcript holds a count of the owner.
        let distinctive = [1u64 << 30];
        for t in &transcripts[1..] {
            assert!(!contains_any(t, &distinctive));
        }
    }
}

#[test]
fn a_bound_outside_the_ring_is_refused() {
    let (out, _) = run(2, fp(), |s, _| {
        let zero = s.less_than_zero(&Shared::zeros(3), 0).is_err();
        let wide = s.less_than_zero(&Shared::zeros(3), 64).is_err();
        zero && wide
    });
    assert!(out.into_iter().all(|refused| refused));
}

#[test]
fn a_short_masked_bits_item_is_an_error_naming_the_dealer() {
    let mut sets = mesh(&["p0", "p1", "dealer"]);
    let mut dealer = sets.pop().unwrap();
    let mut p1 = sets.pop().unwrap();
    let mut p0 = sets.pop().unwrap();
    std::thread::scope(|s| {
        s.spawn(move || {
            let request: Request =
                indomain_net::wire::recv_msg(dealer.channel(0).unwrap()).unwrap();
            assert_eq!(request, Request::MaskedBits { len: 4, bits: 21 });
            // The leader's correction one element short; a seed of 15 bytes
            // to the other party.
            dealer
                .channel(0)
                .unwrap()
                .send(&vec![1u8; 16 + 8 * (4 * 21 - 1)])
                .unwrap();
            dealer.channel(1).unwrap().send(&[1u8; 15]).unwrap();
        });
        let other = s.spawn(move || {
            let roster = Roster::new(&p1, Some(2)).unwrap();
            let client = DealerClient::new(&roster).unwrap();
            let mut s1 = Session::new(&mut p1, roster, fp(), client);
            s1.less_than_zero(&Shared::zeros(4), 20).unwrap_err()
        });
        let roster = Roster::new(&p0, Some(2)).unwrap();
        let client = DealerClient::new(&roster).unwrap();
        let mut s0 = Session::new(&mut p0, roster, fp(), client);
        let err = s0.less_than_zero(&Shared::zeros(4), 20).unwrap_err();
        assert!(
            matches!(&err, MpcError::Malformed { peer, .. } if peer == "dealer"),
            "{err}"
        );
        let err = other.join().unwrap();
        assert!(
            matches!(&err, MpcError::Malformed { peer, .. } if peer == "dealer"),
            "{err}"
        );
    });
}

#[test]
fn a_vector_longer_than_a_chunk_is_compared_in_pieces() {
    let len = indomain_mpc::compare::CHUNK + 5;
    let mut rng = StdRng::seed_from_u64(21);
    let x: Vec<i64> = (0..len).map(|_| rng.random_range(-1000i64..1000)).collect();
    let ring: Vec<u64> = x.iter().map(|&v| v as u64).collect();
    let (out, _) = run(2, fp(), |s, rng| {
        let mine = (s.rank() == 0).then_some(ring.as_slice());
        let sx = s.share_input(0, mine, len, rng).unwrap();
        let b = s.less_than_zero(&sx, 12).unwrap();
        s.open(&b).unwrap()
    });
    let want: Vec<u64> = x.iter().map(|&v| (v < 0) as u64).collect();
    assert_eq!(out[0], want);
    assert_eq!(out[1], want);
}

#[test]
fn a_comparison_sends_the_bytes_the_construction_states() {
    // docs/protocols.md: 8 + 119·16 bytes per element at ℓ = 63, 8 + 73·16
    // at ℓ = 40, from each computing party to the other, in 8 messages
    // (rounds) of 8 bytes of framing each.
    for (bound, per_element) in [(FULL_RANGE, 1_912u64), (40, 1_176)] {
        let (out, _) = run(2, fp(), |s, _| {
            let before = s.parties().counters().sent;
            s.less_than_zero(&Shared::zeros(1000), bound).unwrap();
            s.parties().counters().sent - before
        });
        // Rank 1 sends to rank 0 only (the leader also sends requests).
        assert_eq!(out[1], 1000 * per_element + 8 * 8, "bound {bound}");
    }
}
