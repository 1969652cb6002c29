//! Faults in the generation of the newer dealer-free items — the histogram
//! kernel's bin indicators and bin-sum masks, AND triples, daBits, packed
//! masked bits and trigonometric masks (issue #21): a peer that stops
//! mid-generation fails the generation at both sides, each naming the
//! other and a two-party phase; a cut frame is an error naming the peer
//! and a frame replaced by random bytes of any length never panics
//! (property tests); batch sizes that disagree are refused at agreement,
//! before any transfer.
//!
//! Where the peer stops is chosen from a fault-free run's order of sends
//! and receives at the stopped party: only at receives after which it
//! still had something to send, so the other party must still receive
//! and cannot finish first (no sleeping, no race).

use indomain_mpc::correlations::Correlations;
use indomain_mpc::{BinShape, MpcError, Permutations, Roster, TwoParty};
use indomain_net::memory::pair;
use indomain_net::{Channel, Counters, NetError, PartySet};
use ndarray::Array2;
use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::sync::{Arc, Mutex, OnceLock};

/// What a link did: a send, or a receive of a frame of some bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Event {
    Sent,
    Received(usize),
}

/// A link's events, in order.
type Events = Arc<Mutex<Vec<Event>>>;

/// What to do to p1's link.
#[derive(Clone, Default)]
struct Faults {
    /// Fail at this received frame (p1 stops and drops its link).
    stop_at: Option<usize>,
    /// Replace this received frame by these bytes.
    replace: Option<(usize, Vec<u8>)>,
    /// Cut this received frame to this many bytes (if shorter).
    cut: Option<(usize, usize)>,
}

/// A channel that records its sends and receives and applies `faults` to
/// what it receives.
struct Wire<C> {
    inner: C,
    events: Events,
    received: usize,
    faults: Faults,
}

impl<C: Channel> Channel for Wire<C> {
    fn send(&mut self, frame: &[u8]) -> Result<(), NetError> {
        self.events.lock().unwrap().push(Event::Sent);
        self.inner.send(frame)
    }
    fn recv(&mut self) -> Result<Vec<u8>, NetError> {
        if self.faults.stop_at == Some(self.received) {
            return Err(NetError::Closed {
                peer: self.inner.peer().to_string(),
            });
        }
        let mut frame = self.inner.recv()?;
        self.events
            .lock()
            .unwrap()
            .push(Event::Received(frame.len()));
        if let Some((k, bytes)) = &self.faults.replace
            && *k == self.received
        {
            frame = bytes.clone();
        }
        if let Some((k, len)) = self.faults.cut
            && k == self.received
        {
            frame.truncate(len);
        }
        self.received += 1;
        Ok(frame)
    }
    fn peer(&self) -> &str {
        self.inner.peer()
    }
    fn counters(&self) -> Counters {
        self.inner.counters()
    }
}

/// Runs `f` at p0 and p1 (p1's link gets `faults`); returns both results
/// and p1's sends and receives in order.
fn run<T: Send>(
    faults: Faults,
    f: impl Fn(&mut PartySet, &mut TwoParty) -> T + Sync,
) -> (Vec<T>, Vec<Event>) {
    let names = vec!["p0".to_string(), "p1".to_string()];
    let (a, b) = pair("p0", "p1");
    let events: Vec<Events> = vec![Events::default(), Events::default()];
    let wire = |inner, me: usize, faults| -> Box<dyn Channel> {
        Box::new(Wire {
            inner,
            events: events[me].clone(),
            received: 0,
            faults,
        })
    };
    let sets = vec![
        PartySet::new(
            0,
            names.clone(),
            vec![None, Some(wire(a, 0, Faults::default()))],
        ),
        PartySet::new(1, names, vec![Some(wire(b, 1, faults)), None]),
    ];
    let out = std::thread::scope(|s| {
        let handles: Vec<_> = sets
            .into_iter()
            .map(|mut set| {
                let f = &f;
                s.spawn(move || {
                    let roster = Roster::new(&set, None).unwrap();
                    let seed = 40 + set.me() as u64;
                    let mut g = TwoParty::with_rng(&roster, StdRng::seed_from_u64(seed)).unwrap();
                    f(&mut set, &mut g)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a party panicked"))
            .collect()
    });
    let p1 = events[1].lock().unwrap().clone();
    (out, p1)
}

/// A few items of every newer kind: p1 owns a bin indicator matrix of two
/// features and p0 draws masks for it; then boolean and trigonometric
/// items.
fn newer_items(set: &mut PartySet, g: &mut TwoParty) -> Result<(), MpcError> {
    let bins = [5u16, 9];
    let ix = Array2::from_shape_fn((40, 2), |(r, f)| {
        ((r * 7 + f * 3) % bins[f] as usize) as u16
    });
    let shape = BinShape {
        rows: 40,
        bins: bins.to_vec(),
        permutations: Permutations::PerFeature,
    };
    let own = (set.me() == 1).then(|| ix.view());
    let id = g.bin_indicators(set, 1, &shape, own)?;
    g.bin_sum_masks(set, id, 2)?;
    g.bin_sum_masks(set, id, 1)?;
    g.bit_triples(set, 3)?;
    g.dabits(set, 70)?;
    g.packed_masked_bits(set, 5, 2, 6)?;
    g.trig_masks(set, 4, 21, 2, 16)?;
    Ok(())
}

/// p1's sends and receives in a fault-free run of [`newer_items`].
fn fault_free() -> &'static [Event] {
    static EVENTS: OnceLock<Vec<Event>> = OnceLock::new();
    EVENTS.get_or_init(|| {
        let (out, events) = run(Faults::default(), newer_items);
        assert!(out.iter().all(Result::is_ok));
        events
    })
}

/// The sizes of the frames p1 receives in [`newer_items`].
fn frame_sizes() -> Vec<usize> {
    fault_free()
        .iter()
        .filter_map(|e| match e {
            Event::Received(len) => Some(*len),
            Event::Sent => None,
        })
        .collect()
}

/// p1's receives (by index) after which it still sends something: if p1
/// stops at one of them, p0 is left waiting for a frame.
fn stops_that_p0_must_notice() -> Vec<usize> {
    let events = fault_free();
    let mut received = 0;
    let mut stops = Vec::new();
    for (i, e) in events.iter().enumerate() {
        if let Event::Received(_) = e {
            if events[i + 1..].contains(&Event::Sent) {
                stops.push(received);
            }
            received += 1;
        }
    }
    stops
}

/// Whether `err` names `peer` and a two-party phase.
fn names_peer_and_phase(err: &MpcError, peer: &str) -> bool {
    match err {
        MpcError::Link { peer: p, phase, .. } => p == peer && phase.starts_with("two-party"),
        _ => false,
    }
}

#[test]
fn a_peer_stopped_while_generating_the_newer_items_fails_both_sides() {
    let stops = stops_that_p0_must_notice();
    assert!(stops.len() > 8, "{stops:?}");
    // Every stop, from the bins' first block to the trigonometric masks.
    for &k in &stops {
        let (out, _) = run(
            Faults {
                stop_at: Some(k),
                ..Faults::default()
            },
            newer_items,
        );
        let (p0, p1) = (out[0].as_ref().unwrap_err(), out[1].as_ref().unwrap_err());
        assert!(names_peer_and_phase(p0, "p1"), "stop at {k}: p0: {p0}");
        assert!(names_peer_and_phase(p1, "p0"), "stop at {k}: p1: {p1}");
        assert!(p0.to_string().contains("p1"), "{p0}");
    }
}

/// Cuts p1's received frame `k` to `len` bytes (nothing to do if it is
/// not longer) and checks that p1 fails naming p0.
fn a_cut_frame_is_named(k: usize, len: usize) {
    if len >= frame_sizes()[k] {
        return;
    }
    let (out, _) = run(
        Faults {
            cut: Some((k, len)),
            ..Faults::default()
        },
        newer_items,
    );
    let err = out[1].as_ref().unwrap_err();
    let named = match err {
        MpcError::Malformed { peer, .. } | MpcError::Link { peer, .. } => peer == "p0",
        MpcError::Refused { peer, .. } => peer == "p0",
        other => other.to_string().contains("p0"),
    };
    assert!(named, "frame {k} cut to {len}: {err}");
}

#[test]
fn every_frame_cut_by_a_byte_or_emptied_is_an_error_naming_the_peer() {
    let sizes = frame_sizes();
    assert!(sizes.len() > 10, "{sizes:?}");
    for (k, &len) in sizes.iter().enumerate() {
        a_cut_frame_is_named(k, len.saturating_sub(1));
        a_cut_frame_is_named(k, 0);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// A received frame cut anywhere is an error naming the peer.
    #[test]
    fn a_frame_cut_anywhere_is_an_error(k in 0usize..64, keep in 0.0f64..1.0) {
        let sizes = frame_sizes();
        let k = k % sizes.len();
        let len = ((sizes[k] as f64) * keep) as usize;
        a_cut_frame_is_named(k, len.min(sizes[k].saturating_sub(1)));
    }

    /// A received frame replaced by random bytes of any length is an error
    /// or a random value, never a panic (`run` joins both parties).
    #[test]
    fn random_bytes_in_place_of_a_frame_never_panic(
        k in 0usize..64,
        bytes in proptest::collection::vec(any::<u8>(), 0..4096),
    ) {
        let frames = frame_sizes().len();
        let (out, _) = run(
            Faults { replace: Some((k % frames, bytes)), ..Faults::default() },
            newer_items,
        );
        if let Err(e) = &out[1] {
            prop_assert!(e.to_string().contains("p0"), "{}", e);
        }
    }
}

#[test]
fn batch_sizes_that_disagree_are_refused_at_agreement() {
    type Item = fn(&mut PartySet, &mut TwoParty, usize) -> Result<(), MpcError>;
    let items: [(&str, Item); 4] = [
        ("AND triples", |set, g, n| g.bit_triples(set, n).map(drop)),
        ("daBits", |set, g, n| g.dabits(set, n).map(drop)),
        ("packed masks", |set, g, n| {
            g.packed_masked_bits(set, n, 0, 8).map(drop)
        }),
        ("trigonometric masks", |set, g, n| {
            g.trig_masks(set, n, 21, 2, 16).map(drop)
        }),
    ];
    for (what, item) in items {
        let (out, events) = run(Faults::default(), |set, g| {
            item(set, g, 4 + set.me()).unwrap_err()
        });
        for (me, err) in out.iter().enumerate() {
            let peer = ["p1", "p0"][me];
            assert!(
                matches!(err, MpcError::Refused { peer: p, reason } if p == peer && reason.contains("different items")),
                "{what}: {err}"
            );
        }
        // Refused on the requests alone: one frame each way.
        assert_eq!(events.len(), 2, "{what}: {events:?}");
    }
    // Bin-sum masks of a different count on agreed indicators.
    let (out, _) = run(Faults::default(), |set, g| {
        let shape = BinShape {
            rows: 8,
            bins: vec![3],
            permutations: Permutations::PerFeature,
        };
        let ix = Array2::<u16>::zeros((8, 1));
        let own = (set.me() == 0).then(|| ix.view());
        let id = g.bin_indicators(set, 0, &shape, own).unwrap();
        g.bin_sum_masks(set, id, 1 + set.me()).unwrap_err()
    });
    for (me, err) in out.iter().enumerate() {
        let peer = ["p1", "p0"][me];
        assert!(
            matches!(err, MpcError::Refused { peer: p, .. } if p == peer),
            "bin-sum masks: {err}"
        );
    }
}
