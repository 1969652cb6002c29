//! Parties are named by set index everywhere in the mpc layer, whatever
//! place the dealer has in the set: here the dealer is party 0, so a rank
//! and a set index differ by one. And the inner product of two shared
//! vectors, against the plaintext.

use indomain_core::FixedPoint;
use indomain_mpc::dealer::{self, DealerClient, DealerLimits};
use indomain_mpc::{Roster, Session, Shared};
use indomain_net::memory::mesh;
use rand::SeedableRng;
use rand::rngs::StdRng;

/// Runs dealer (0), alice (1) and bob (2); alice owns `x`, bob owns `y`;
/// their dot product is opened to `receiver` (a set index). Returns what
/// alice and bob got.
fn dot_opened_to(receiver: usize, x: &[f64], y: &[f64]) -> [Option<Vec<f64>>; 2] {
    let fp = FixedPoint::new(16).unwrap();
    let sets = mesh(&["dealer", "alice", "bob"]);
    let results: Vec<Option<Vec<f64>>> = std::thread::scope(|s| {
        let handles: Vec<_> = sets
            .into_iter()
            .map(|mut set| {
                s.spawn(move || {
                    let mut rng = StdRng::seed_from_u64(set.me() as u64);
                    if set.me() == 0 {
                        dealer::serve(&mut set, DealerLimits::default(), &mut rng).unwrap();
                        return None;
                    }
                    let roster = Roster::new(&set, Some(0)).unwrap();
                    assert_eq!(roster.leader(), 1);
                    assert_eq!(roster.rank_of(2).unwrap(), 1);
                    assert!(roster.rank_of(0).is_err(), "the dealer has no rank");
                    let client = DealerClient::new(&roster).unwrap();
                    let mut session = Session::new(&mut set, roster, fp, client);
                    let me = session.parties().me();
                    let mine = fp.encode_slice(if me == 1 { x } else { y }).unwrap();
                    let sx = session
                        .share_input(1, (me == 1).then_some(&mine[..]), x.len(), &mut rng)
                        .unwrap();
                    let sy = session
                        .share_input(2, (me == 2).then_some(&mine[..]), y.len(), &mut rng)
                        .unwrap();
                    let dot = session.dot(&sx, &sy).unwrap();
                    assert_eq!(dot.len(), 1);
                    let opened = session.open_to(&dot, receiver).unwrap();
                    session.finish().unwrap();
                    opened.map(|v| fp.decode_slice(&v))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut it = results.into_iter().skip(1);
    [it.next().unwrap(), it.next().unwrap()]
}

#[test]
fn inputs_and_openings_name_parties_by_set_index() {
    let x = [1.5, -2.0, 0.25, 3.0];
    let y = [4.0, 0.5, -8.0, 1.25];
    let want: f64 = x.iter().zip(&y).map(|(a, b)| a * b).sum();
    for receiver in [1, 2] {
        let got = dot_opened_to(receiver, &x, &y);
        // Only the named party (alice is 1, bob is 2) gets the value.
        let (mine, other) = if receiver == 1 {
            (&got[0], &got[1])
        } else {
            (&got[1], &got[0])
        };
        let value = mine.as_ref().expect("the receiver gets the value")[0];
        assert!((value - want).abs() < 1e-3, "{value} vs {want}");
        assert!(
            other.is_none(),
            "receiver {receiver}: the other party gets nothing"
        );
    }
}

#[test]
fn sum_of_a_share_is_the_share_of_the_sum() {
    let a = Shared(vec![1, 2, u64::MAX]);
    let b = Shared(vec![5, 0, 3]);
    let total = a.sum().add(&b.sum()).unwrap();
    // (1 + 2 − 1) + (5 + 0 + 3), wrapping in Z_2^64.
    assert_eq!(total, Shared(vec![10]));
    assert_eq!(Shared::zeros(0).sum(), Shared(vec![0]));
}
