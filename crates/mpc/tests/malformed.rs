//! A malformed message from the dealer or a peer is an error naming the
//! sender, never a panic; the dealer refuses requests beyond its limits.

use indomain_core::FixedPoint;
use indomain_mpc::dealer::{self, DealerClient, DealerLimits, Request};
use indomain_mpc::{MpcError, Roster, Session, Shared};
use indomain_net::memory::mesh;
use indomain_net::wire::send_msg;
use indomain_net::{NetError, PartySet};
use rand::SeedableRng;
use rand::rngs::StdRng;

fn sets() -> Vec<PartySet> {
    mesh(&["p0", "p1", "dealer"])
}

fn session(set: &mut PartySet) -> Session<'_, DealerClient> {
    let roster = Roster::new(set, Some(2)).unwrap();
    let client = DealerClient::new(&roster).unwrap();
    Session::new(set, roster, FixedPoint::new(16).unwrap(), client)
}

#[test]
fn a_short_dealer_frame_is_an_error_naming_the_dealer() {
    let mut sets = sets();
    let mut dealer = sets.pop().unwrap();
    let mut p1 = sets.pop().unwrap();
    let mut p0 = sets.pop().unwrap();
    std::thread::scope(|s| {
        s.spawn(move || {
            let _: Request = indomain_net::wire::recv_msg(dealer.channel(0).unwrap()).unwrap();
            // 15 bytes to the leader, 17 to the other party.
            dealer.channel(0).unwrap().send(&[7u8; 15]).unwrap();
            dealer.channel(1).unwrap().send(&[7u8; 17]).unwrap();
        });
        let other = s.spawn(move || {
            let mut s1 = session(&mut p1);
            s1.mul(&Shared::zeros(4), &Shared::zeros(4)).unwrap_err()
        });
        let mut s0 = session(&mut p0);
        let err = s0.mul(&Shared::zeros(4), &Shared::zeros(4)).unwrap_err();
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
fn a_bad_seed_or_short_share_from_a_peer_is_an_error() {
    let mut sets = sets();
    sets.pop();
    let mut p1 = sets.pop().unwrap();
    let mut p0 = sets.pop().unwrap();
    std::thread::scope(|s| {
        s.spawn(move || {
            p1.channel(0).unwrap().send(&[1u8; 15]).unwrap();
            // A share of 3 elements where 4 are expected.
            indomain_net::wire::send_u64s(p1.channel(0).unwrap(), &[1, 2, 3]).unwrap();
            let _ = p1.channel(0).unwrap().recv();
        });
        let mut s0 = session(&mut p0);
        let mut rng = StdRng::seed_from_u64(1);
        let err = s0.share_input(1, None, 4, &mut rng).unwrap_err();
        assert!(
            matches!(&err, MpcError::Malformed { peer, .. } if peer == "p1"),
            "{err}"
        );
        let err = s0.open(&Shared::zeros(4)).unwrap_err();
        assert!(
            matches!(&err, MpcError::Net(NetError::UnexpectedLength { peer, .. }) if peer == "p1"),
            "{err}"
        );
    });
}

#[test]
fn the_dealer_refuses_oversized_and_malformed_requests() {
    let limits = DealerLimits {
        max_item_elements: 1000,
        max_mask_elements: 1000,
    };
    let mut rng = StdRng::seed_from_u64(2);
    for request in [
        Request::Triples { len: 1 << 40 },
        Request::LeftMask {
            rows: 1 << 20,
            inner: 1 << 20,
            widths: vec![],
        },
        Request::LeftMask {
            rows: 2,
            inner: 3,
            widths: vec![1, 1],
        },
        // Widths that wrap around to the mask's columns in release builds.
        Request::LeftMask {
            rows: 1,
            inner: 3,
            widths: vec![1 << 63, (1 << 63) + 3],
        },
        // A mask without a column.
        Request::LeftMask {
            rows: 2,
            inner: 0,
            widths: vec![0, 0],
        },
        Request::RightTriple {
            mask: 0,
            cols: 1,
            transposed: false,
        },
        Request::TruncationPairs { len: 10, shift: 70 },
        Request::MaskedBits {
            len: 1 << 40,
            bits: 64,
        },
        Request::MaskedBits { len: 1, bits: 65 },
    ] {
        let mut sets = sets();
        let mut d = sets.pop().unwrap();
        let mut p0 = sets.remove(0);
        send_msg(p0.channel(2).unwrap(), &request).unwrap();
        // No party waits: a request the dealer served would fail on the
        // closed links instead of being refused.
        drop((p0, sets));
        let err = dealer::serve(&mut d, limits, &mut rng).unwrap_err();
        assert!(
            matches!(err, MpcError::Refused { .. } | MpcError::Core { .. }),
            "{request:?}: {err}"
        );
    }
    let mut sets = sets();
    let mut d = sets.pop().unwrap();
    sets[0].channel(2).unwrap().send(&[0xff; 9]).unwrap();
    assert!(matches!(
        dealer::serve(&mut d, limits, &mut rng),
        Err(MpcError::Net(NetError::Decode { .. }))
    ));
}
