//! The dealer-free generator: every kind of item satisfies its algebra at
//! both roles and many sizes; disagreement, bad frames and a stopped peer
//! are errors naming the peer; what a party receives does not depend on
//! the other party's input (a statistical test).

use indomain_core::FixedPoint;
use indomain_core::matmul::matmul;
use indomain_mpc::correlations::{Correlations, MaskLayout, RightTriplePlan};
use indomain_mpc::{MpcError, Roster, Session, Shared, TwoParty};
use indomain_net::memory::pair;
use indomain_net::{Channel, Counters, NetError, PartySet};
use ndarray::Array2;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use std::sync::{Arc, Mutex};

type Log = Arc<Mutex<Vec<Vec<u8>>>>;
type Events = Arc<Mutex<Vec<bool>>>;

/// A channel that records what it receives and can cut or corrupt one
/// received frame, or fail after a number of frames (a stopped peer).
struct Wire<C> {
    inner: C,
    log: Log,
    /// Its sends (`true`) and receives (`false`), in order.
    events: Events,
    received: usize,
    truncate: Option<usize>,
    flip: Option<usize>,
    stop_after: Option<usize>,
}

impl<C: Channel> Channel for Wire<C> {
    fn send(&mut self, frame: &[u8]) -> Result<(), NetError> {
        self.events.lock().unwrap().push(true);
        self.inner.send(frame)
    }
    fn recv(&mut self) -> Result<Vec<u8>, NetError> {
        self.events.lock().unwrap().push(false);
        if self.stop_after == Some(self.received) {
            return Err(NetError::Closed {
                peer: self.inner.peer().to_string(),
            });
        }
        let mut frame = self.inner.recv()?;
        if self.truncate == Some(self.received) {
            frame.pop();
        }
        if self.flip == Some(self.received) && !frame.is_empty() {
            let at = frame.len() / 2;
            frame[at] ^= 0x5a;
        }
        self.received += 1;
        self.log.lock().unwrap().push(frame.clone());
        Ok(frame)
    }
    fn peer(&self) -> &str {
        self.inner.peer()
    }
    fn counters(&self) -> Counters {
        self.inner.counters()
    }
}

#[derive(Clone, Copy, Default)]
struct Faults {
    truncate: Option<usize>,
    flip: Option<usize>,
    stop_after: Option<usize>,
}

/// Two parties "p0", "p1" over memory channels; p1's link gets `faults`;
/// with p1's sends and receives.
fn mesh(faults: Faults) -> (Vec<PartySet>, Vec<Log>, Events) {
    let names = vec!["p0".to_string(), "p1".to_string()];
    let (a, b) = pair("p0", "p1");
    let logs: Vec<Log> = vec![Arc::default(), Arc::default()];
    let events = Events::default();
    let wire0 = Wire {
        inner: a,
        log: logs[0].clone(),
        events: Events::default(),
        received: 0,
        truncate: None,
        flip: None,
        stop_after: None,
    };
    let wire1 = Wire {
        inner: b,
        log: logs[1].clone(),
        events: events.clone(),
        received: 0,
        truncate: faults.truncate,
        flip: faults.flip,
        stop_after: faults.stop_after,
    };
    let sets = vec![
        PartySet::new(0, names.clone(), vec![None, Some(Box::new(wire0))]),
        PartySet::new(1, names, vec![Some(Box::new(wire1)), None]),
    ];
    (sets, logs, events)
}

/// Runs `f` at both parties with generators seeded by `seeds`.
fn run<T: Send>(
    faults: Faults,
    seeds: [u64; 2],
    f: impl Fn(&mut PartySet, &mut TwoParty) -> T + Sync,
) -> (Vec<T>, Vec<Log>) {
    let (out, logs, _) = run_traced(faults, seeds, f);
    (out, logs)
}

/// [`run`], with p1's sends (`true`) and receives (`false`) in order.
fn run_traced<T: Send>(
    faults: Faults,
    seeds: [u64; 2],
    f: impl Fn(&mut PartySet, &mut TwoParty) -> T + Sync,
) -> (Vec<T>, Vec<Log>, Vec<bool>) {
    let (sets, logs, events) = mesh(faults);
    let out = std::thread::scope(|s| {
        let handles: Vec<_> = sets
            .into_iter()
            .map(|mut set| {
                let f = &f;
                s.spawn(move || {
                    let roster = Roster::new(&set, None).unwrap();
                    let seed = seeds[set.me()];
                    let mut generator =
                        TwoParty::with_rng(&roster, StdRng::seed_from_u64(seed)).unwrap();
                    f(&mut set, &mut generator)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let events = events.lock().unwrap().clone();
    (out, logs, events)
}

fn add(a: &[u64], b: &[u64]) -> Vec<u64> {
    a.iter().zip(b).map(|(x, y)| x.wrapping_add(*y)).collect()
}

#[test]
fn triples_multiply_at_every_size() {
    for len in [1, 2, 63, 1000, 100_000] {
        let (out, _) = run(Faults::default(), [1, 2], |set, g| {
            g.triples(set, len).unwrap()
        });
        let a = add(&out[0].a, &out[1].a);
        let b = add(&out[0].b, &out[1].b);
        let c = add(&out[0].c, &out[1].c);
        for i in 0..len {
            assert_eq!(c[i], a[i].wrapping_mul(b[i]), "len {len}, triple {i}");
        }
        // Shares are not the values: each party's a is not the whole a.
        assert_ne!(out[0].a, a);
    }
}

fn reconstruct(a: &Array2<u64>, b: &Array2<u64>) -> Array2<u64> {
    let mut out = a.clone();
    out.zip_mut_with(b, |x, y| *x = x.wrapping_add(*y));
    out
}

#[test]
fn right_triples_multiply_the_mask_in_every_layout() {
    let layouts = [
        MaskLayout::Blocks { widths: vec![3, 2] },
        MaskLayout::Blocks { widths: vec![0, 4] },
        MaskLayout::Shared { inner: 3 },
    ];
    // 20,000 rows span three ciphertexts of the column layout (N = 8192).
    let cases = layouts
        .iter()
        .flat_map(|l| [1, 5, 300].map(|r| (r, l)))
        .chain([(20_000, &layouts[0])]);
    for (rows, layout) in cases {
        let (out, _) = run(Faults::default(), [3, 4], |set, g| {
            let (id, share) = g.left_mask(set, rows, layout).unwrap();
            let plain = g.right_triple(set, id, 2, false).unwrap();
            let transposed = g.right_triple(set, id, 3, true).unwrap();
            let square = g.right_triple_square(set, id).unwrap();
            (share, plain, transposed, square)
        });
        let inner = layout.inner();
        // U: each party's share on its own columns, zero elsewhere.
        let mut u = Array2::<u64>::zeros((rows, inner));
        for (rank, o) in out.iter().enumerate() {
            let (off, width) = match layout {
                MaskLayout::Shared { .. } => (0, inner),
                MaskLayout::Blocks { widths } => (widths[..rank].iter().sum(), widths[rank]),
            };
            let mut block = u.slice_mut(ndarray::s![.., off..off + width]);
            block.zip_mut_with(&o.0, |x, y| *x = x.wrapping_add(*y));
        }
        let v = reconstruct(&out[0].1.v, &out[1].1.v);
        let w = reconstruct(&out[0].1.w, &out[1].1.w);
        assert_eq!(
            w,
            matmul(u.view(), v.view()).unwrap(),
            "{layout:?}, {rows} rows"
        );
        let v = reconstruct(&out[0].2.v, &out[1].2.v);
        let w = reconstruct(&out[0].2.w, &out[1].2.w);
        assert_eq!(w, matmul(u.t(), v.view()).unwrap(), "{layout:?} transposed");
        let v = reconstruct(&out[0].3.0.v, &out[1].3.0.v);
        let w = reconstruct(&out[0].3.0.w, &out[1].3.0.w);
        assert_eq!(w, matmul(u.t(), v.view()).unwrap());
        let square = out[0].3.1.wrapping_add(out[1].3.1);
        let want = v
            .iter()
            .fold(0u64, |s, x| s.wrapping_add(x.wrapping_mul(*x)));
        assert_eq!(square, want);
    }
}

#[test]
fn planned_right_triples_come_in_batches_and_each_multiplies_the_mask() {
    // 20,000 rows: three ciphertexts a forward column, so a batch holds
    // 26 forward triples and 20 squares (80 ciphertexts): 30 of each take
    // two batches, the second partly unused.
    let (rows, layout) = (20_000, MaskLayout::Blocks { widths: vec![3, 2] });
    let plan = RightTriplePlan {
        forward: 30,
        squares: 30,
    };
    let (out, _) = run(Faults::default(), [7, 8], |set, g| {
        let (id, share) = g.left_mask(set, rows, &layout).unwrap();
        g.plan_right_triples(id, plan);
        let items: Vec<_> = (0..plan.forward)
            .map(|_| {
                let forward = g.right_triple(set, id, 1, false).unwrap();
                let square = g.right_triple_square(set, id).unwrap();
                (forward, square)
            })
            .collect();
        (share, items, g.items())
    });
    let mut u = Array2::<u64>::zeros((rows, 5));
    u.slice_mut(ndarray::s![.., 0..3]).assign(&out[0].0);
    u.slice_mut(ndarray::s![.., 3..5]).assign(&out[1].0);
    let mut seen = Vec::new();
    for k in 0..plan.forward {
        let ((f0, (s0, q0)), (f1, (s1, q1))) = (&out[0].1[k], &out[1].1[k]);
        let v = reconstruct(&f0.v, &f1.v);
        let w = reconstruct(&f0.w, &f1.w);
        assert_eq!(w, matmul(u.view(), v.view()).unwrap(), "forward {k}");
        let v = reconstruct(&s0.v, &s1.v);
        let w = reconstruct(&s0.w, &s1.w);
        assert_eq!(w, matmul(u.t(), v.view()).unwrap(), "transposed {k}");
        let want = v
            .iter()
            .fold(0u64, |s, x| s.wrapping_add(x.wrapping_mul(*x)));
        assert_eq!(q0.wrapping_add(*q1), want, "square {k}");
        // Every triple is fresh: no V repeats.
        assert!(!seen.contains(&v), "square {k} repeats an earlier V");
        seen.push(v);
    }
    // One mask and two batches of each kind: five agreed items, not 61.
    assert_eq!(out[0].2, 5);
    assert_eq!(out[1].2, 5);
}

#[test]
fn masked_bits_and_truncation_pairs_hold() {
    for (len, bits) in [(1, 1), (50, 17), (7, 64), (100_000, 2)] {
        let (out, _) = run(Faults::default(), [5, 6], |set, g| {
            g.masked_bits(set, len, bits).unwrap()
        });
        let r = add(&out[0].r, &out[1].r);
        let b = add(&out[0].bits, &out[1].bits);
        for e in 0..len {
            for j in 0..bits as usize {
                assert_eq!(b[j * len + e], (r[e] >> j) & 1, "len {len}, bits {bits}");
            }
        }
        // The high part is random too: not every mask is below 2^bits.
        if bits < 64 && len > 1 {
            assert!(r.iter().any(|v| v >> bits != 0));
        }
    }
    for shift in [0, 16, 62] {
        let (out, _) = run(Faults::default(), [7, 8], |set, g| {
            g.truncation_pairs(set, 20, shift).unwrap()
        });
        let r = add(&out[0].r, &out[1].r);
        let t = add(&out[0].shifted, &out[1].shifted);
        for (r, t) in r.iter().zip(&t) {
            assert_eq!(*t as i64, (*r as i64) >> shift);
        }
    }
}

#[test]
fn both_roles_agree_on_every_item_in_one_session() {
    // A session mixing kinds keeps the two parties in step, whichever
    // generator leads.
    let (out, _) = run(Faults::default(), [9, 10], |set, g| {
        let t = g.triples(set, 10).unwrap();
        let m = g.masked_bits(set, 3, 5).unwrap();
        let t2 = g.triples(set, 4).unwrap();
        (t, m, t2, g.items())
    });
    for k in 0..10 {
        let a = out[0].0.a[k].wrapping_add(out[1].0.a[k]);
        let b = out[0].0.b[k].wrapping_add(out[1].0.b[k]);
        assert_eq!(out[0].0.c[k].wrapping_add(out[1].0.c[k]), a.wrapping_mul(b));
    }
    assert_eq!(out[0].3, 3);
    assert_eq!(out[1].3, 3);
}

#[test]
fn items_that_disagree_are_refused_at_agreement() {
    let (out, logs) = run(Faults::default(), [1, 2], |set, g| {
        let len = if set.me() == 0 { 5 } else { 6 };
        g.triples(set, len).unwrap_err()
    });
    for (me, err) in out.iter().enumerate() {
        let peer = if me == 0 { "p1" } else { "p0" };
        assert!(
            matches!(err, MpcError::Refused { peer: p, reason } if p == peer && reason.contains("different items")),
            "{err}"
        );
    }
    // Refused before any OT: each party received one frame, the request.
    assert_eq!(logs[0].lock().unwrap().len(), 1);
    assert_eq!(logs[1].lock().unwrap().len(), 1);
}

/// Frames p1 receives while generating a few items of every kind.
fn frames_of_a_session() -> usize {
    let (_, logs) = run(Faults::default(), [1, 2], session_of_every_kind);
    logs[1].lock().unwrap().len()
}

fn session_of_every_kind(set: &mut PartySet, g: &mut TwoParty) -> Result<(), MpcError> {
    g.triples(set, 3)?;
    let (id, _) = g.left_mask(set, 4, &MaskLayout::Blocks { widths: vec![2, 1] })?;
    g.right_triple(set, id, 1, false)?;
    g.right_triple_square(set, id)?;
    g.masked_bits(set, 2, 3)?;
    Ok(())
}

/// The frames p1 receives (by index) after which it still sends
/// something in a fault-free session: if p1 fails at one of them, p0 is
/// left waiting for a frame and must fail too. At a receive followed only
/// by receives p0's last steps are sends, which may succeed before the
/// link drops: p0 may finish first, so a test must not expect it to fail.
fn stops_p0_must_notice() -> Vec<usize> {
    let (_, _, events) = run_traced(Faults::default(), [1, 2], session_of_every_kind);
    let mut received = 0;
    let mut stops = Vec::new();
    for (i, &sent) in events.iter().enumerate() {
        if !sent {
            if events[i + 1..].contains(&true) {
                stops.push(received);
            }
            received += 1;
        }
    }
    stops
}

#[test]
fn cut_or_corrupted_frames_are_errors_not_panics() {
    let frames = frames_of_a_session();
    let noticed = stops_p0_must_notice();
    assert!(frames > 10, "{frames}");
    for k in 0..frames {
        let (out, _) = run(
            Faults {
                truncate: Some(k),
                ..Faults::default()
            },
            [1, 2],
            session_of_every_kind,
        );
        let err = out[1].as_ref().unwrap_err();
        let names_peer = match err {
            MpcError::Malformed { peer, .. } | MpcError::Link { peer, .. } => peer == "p0",
            MpcError::Net(e) => e.to_string().contains("p0"),
            _ => false,
        };
        assert!(names_peer, "frame {k}: {err}");
        // p0 fails too where it still waits for p1.
        if noticed.contains(&k) {
            assert!(out[0].is_err(), "frame {k}: p0 finished without p1");
        }
    }
    for k in 0..frames {
        // A flipped byte may go unnoticed (it changes a random value) but
        // never panics: both threads return.
        let _ = run(
            Faults {
                flip: Some(k),
                ..Faults::default()
            },
            [1, 2],
            session_of_every_kind,
        );
    }
}

#[test]
fn a_peer_stopped_mid_generation_fails_naming_it_and_the_phase() {
    // p1 stops only where p0 must notice (see `stops_p0_must_notice`).
    let stops = stops_p0_must_notice();
    assert!(stops.len() > 4, "{stops:?}");
    let last = stops[stops.len() - 1];
    for k in [stops[0], stops[1], stops[stops.len() / 2], last] {
        let (out, _) = run(
            Faults {
                stop_after: Some(k),
                ..Faults::default()
            },
            [1, 2],
            session_of_every_kind,
        );
        // p1 "stops" (its link fails at frame k and it drops the link);
        // p0 must fail naming p1 and a two-party phase.
        let err = out[0].as_ref().unwrap_err();
        match err {
            MpcError::Link { peer, phase, .. } => {
                assert_eq!(peer, "p1");
                assert!(phase.starts_with("two-party"), "{phase}");
            }
            other => panic!("frame {k}: {other}"),
        }
        assert!(err.to_string().contains("p1"));
    }
}

/// A mask whose encryption spans two rounds at p1 (42 ciphertexts of
/// 229 kB against 36 a round) and one at p0 (4), then a product with it.
fn streamed_mask(set: &mut PartySet, g: &mut TwoParty) -> Result<(), MpcError> {
    let layout = MaskLayout::Blocks {
        widths: vec![3, 40],
    };
    let (id, _) = g.left_mask(set, 300, &layout)?;
    g.right_triple(set, id, 1, true)?;
    Ok(())
}

#[test]
fn a_mask_goes_out_in_rounds_and_a_peer_stopped_inside_them_fails_both_sides() {
    let (out, _, events) = run_traced(Faults::default(), [3, 4], |set, g| {
        let layout = MaskLayout::Blocks {
            widths: vec![3, 40],
        };
        let (id, share) = g.left_mask(set, 300, &layout).unwrap();
        (share, g.right_triple(set, id, 2, false).unwrap())
    });
    let mut u = Array2::<u64>::zeros((300, 43));
    u.slice_mut(ndarray::s![.., ..3]).assign(&out[0].0);
    u.slice_mut(ndarray::s![.., 3..]).assign(&out[1].0);
    let v = reconstruct(&out[0].1.v, &out[1].1.v);
    let w = reconstruct(&out[0].1.w, &out[1].1.w);
    assert_eq!(w, matmul(u.view(), v.view()).unwrap());
    // p1 never sends more than a round (8 MiB) before it reads p0's round.
    let longest = events
        .split(|sent| !sent)
        .map(<[bool]>::len)
        .max()
        .unwrap_or(0);
    assert!((6..=36).contains(&longest), "{longest} sends in a row");
    // p1 stops at each receive after which it still sends: p0 fails
    // naming it and a two-party phase, inside the mask's rounds too.
    let (_, _, events) = run_traced(Faults::default(), [3, 4], streamed_mask);
    let mut received = 0;
    let mut phases = Vec::new();
    for (i, &sent) in events.iter().enumerate() {
        if sent {
            continue;
        }
        if events[i + 1..].contains(&true) {
            let stop = Faults {
                stop_after: Some(received),
                ..Faults::default()
            };
            let (out, _) = run(stop, [3, 4], streamed_mask);
            for (err, peer) in [(&out[0], "p1"), (&out[1], "p0")] {
                match err {
                    Err(MpcError::Link { peer: p, phase, .. }) if p == peer => {
                        assert!(phase.starts_with("two-party"), "{phase}");
                        phases.push(*phase);
                    }
                    other => panic!("stop at {received}: {peer}'s peer: {other:?}"),
                }
            }
        }
        received += 1;
    }
    assert!(phases.contains(&"two-party encrypted mask"), "{phases:?}");
}

/// Chi-square of two byte histograms (two-sample, equal totals).
fn chi_square(a: &[u64; 256], b: &[u64; 256]) -> f64 {
    a.iter()
        .zip(b)
        .filter(|(x, y)| **x + **y > 0)
        .map(|(&x, &y)| {
            let (x, y) = (x as f64, y as f64);
            (x - y).powi(2) / (x + y)
        })
        .sum()
}

/// p0's received frames while p1 holds `input` as its block of a fixed
/// matrix and both multiply it by shared weights, p0's randomness fixed;
/// `planned`: the products are announced, so their right triples come in
/// one batch of each kind (as training asks for them).
fn p0_view(input: f64, p1_seed: u64, planned: bool) -> Vec<Vec<u8>> {
    let fp = FixedPoint::new(16).unwrap();
    let (_, logs) = run(Faults::default(), [42, p1_seed], |set, g| {
        let rank = set.me();
        let roster = Roster::new(set, None).unwrap();
        let generator = std::mem::replace(
            g,
            TwoParty::with_rng(&roster, StdRng::seed_from_u64(0)).unwrap(),
        );
        let mut s = Session::new(set, roster, fp, generator);
        let rows = 6;
        let own = if rank == 1 {
            Array2::from_elem((rows, 2), fp.encode(input).unwrap())
        } else {
            Array2::from_elem((rows, 1), fp.encode(0.5).unwrap())
        };
        let x = s.fix_matrix(own.view(), &[1, 2]).unwrap();
        let mut rng = StdRng::seed_from_u64(7 + rank as u64);
        let w = s
            .share_input(1, (rank == 1).then_some(&[1, 2, 3][..]), 3, &mut rng)
            .unwrap();
        let rounds = if planned { 2 } else { 1 };
        if planned {
            s.plan_fixed(&x, rounds, rounds);
        }
        for _ in 0..rounds {
            s.fixed_times(&x, &w).unwrap();
            let y = Shared::zeros(rows);
            s.fixed_t_times_square(&x, &y).unwrap();
        }
    });
    logs[0].lock().unwrap().clone()
}

#[test]
fn what_a_party_receives_does_not_depend_on_the_other_partys_input() {
    for planned in [false, true] {
        received_frames_do_not_depend_on_the_input(planned);
    }
}

fn received_frames_do_not_depend_on_the_input(planned: bool) {
    let runs = 40;
    let views_a: Vec<_> = (0..runs).map(|i| p0_view(0.0, 1000 + i, planned)).collect();
    let views_b: Vec<_> = (0..runs)
        .map(|i| p0_view(900.0, 5000 + i, planned))
        .collect();
    let frames = views_a[0].len();
    assert!(views_a.iter().chain(&views_b).all(|v| v.len() == frames));
    // Per frame, the bytes of all runs: the same distribution under both
    // inputs. 255 degrees of freedom: 360 is p ≈ 1e-5 for one frame.
    let mut worst = 0.0f64;
    for f in 0..frames {
        let mut ha = [0u64; 256];
        let mut hb = [0u64; 256];
        for (va, vb) in views_a.iter().zip(&views_b) {
            assert_eq!(
                va[f].len(),
                vb[f].len(),
                "frame {f} length depends on the input"
            );
            va[f].iter().for_each(|b| ha[*b as usize] += 1);
            vb[f].iter().for_each(|b| hb[*b as usize] += 1);
        }
        let total: u64 = ha.iter().sum();
        if total >= 2560 {
            worst = worst.max(chi_square(&ha, &hb));
        }
    }
    assert!(
        worst < 360.0,
        "a frame's bytes depend on the input (planned: {planned}): χ² = {worst}"
    );
    // The test has power: the raw encoded inputs differ at once.
    let fp = FixedPoint::new(16).unwrap();
    let raw = |v: f64| {
        let mut h = [0u64; 256];
        for _ in 0..2560 / 8 {
            fp.encode(v)
                .unwrap()
                .to_le_bytes()
                .iter()
                .for_each(|b| h[*b as usize] += 1);
        }
        h
    };
    assert!(chi_square(&raw(0.0), &raw(900.0)) > 360.0);
}

#[test]
fn a_roster_of_three_is_refused() {
    let sets = indomain_net::memory::mesh(&["a", "b", "c"]);
    let roster = Roster::new(&sets[0], None).unwrap();
    assert!(matches!(TwoParty::new(&roster), Err(MpcError::Usage(_))));
    let mut rng = StdRng::seed_from_u64(1);
    let _: u64 = rng.random();
}
