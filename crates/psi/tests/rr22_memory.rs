//! RR22 (VOLE/OKVS) PSI over the in-memory backend, one thread a party:
//! intersection and join against the plaintext computation; the receiver's
//! transcript holds none of the sender's keys; every frame of either party,
//! truncated or replaced by garbage, gives errors naming the peer and the
//! phase, never a panic.

mod common;

use common::{check, items, sets};
use indomain_net::memory::pair;
use indomain_net::{Channel, Counters, NetError};
use indomain_psi::{Construction, Items, Job, Mode, Outcome, PsiError, Reveal, session};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

type Run = (Result<Outcome, PsiError>, Result<Outcome, PsiError>);

fn rr22_jobs() -> Vec<Job> {
    let mut jobs = Vec::new();
    for (mode, reveal) in [
        (Mode::Intersection, Reveal::Receiver),
        (Mode::Intersection, Reveal::Both),
        (Mode::Join, Reveal::Both),
    ] {
        let mut job = Job::new(mode).with_construction(Construction::Rr22);
        job.reveal = reveal;
        job.key_spec = "test".into();
        jobs.push(job);
    }
    jobs
}

fn run_over<A: Channel, B: Channel>(mut a: A, mut b: B, job: &Job, x: &Items, y: &Items) -> Run {
    std::thread::scope(|s| {
        let r = s.spawn(move || {
            session::receiver(&mut a, job, x, &mut StdRng::seed_from_u64(1), &mut |_| {})
        });
        let s = s.spawn(move || {
            session::sender(
                &mut b,
                job,
                y,
                None,
                &mut StdRng::seed_from_u64(2),
                &mut |_| {},
            )
        });
        (r.join().unwrap(), s.join().unwrap())
    })
}

fn run(job: &Job, x: &[String], y: &[String]) -> (Outcome, Outcome) {
    let (a, b) = pair("receiver", "sender");
    let (r, s) = run_over(a, b, job, &items(x), &items(y));
    (r.unwrap(), s.unwrap())
}

#[test]
fn intersection_and_join_match_the_plaintext_on_edge_cases() {
    // (only in X, only in Y, common): empty, one side empty, disjoint,
    // identical, overlaps.
    let shapes = [
        (0, 0, 0),
        (0, 9, 0),
        (9, 0, 0),
        (13, 17, 0),
        (0, 0, 23),
        (5, 11, 20),
        (400, 3, 1),
        (1000, 2000, 1500),
    ];
    for job in rr22_jobs() {
        for (seed, &(ox, oy, c)) in shapes.iter().enumerate() {
            let (x, y, v) = sets(seed as u64, ox, oy, c);
            let (r, s) = run(&job, &x, &y);
            check(&job, &x, &y, &v, &r, &s);
        }
    }
}

#[test]
fn sets_spanning_several_frames_match_the_plaintext() {
    let job = &rr22_jobs()[2];
    let (x, y, v) = sets(77, 30_000, 10_000, 60_000);
    let (r, s) = run(job, &x, &y);
    check(job, &x, &y, &v, &r, &s);
}

#[test]
fn duplicate_laden_inputs_are_refused_and_match_once_deduplicated() {
    let (x, y, v) = sets(3, 20, 20, 20);
    let mut dup_y = y.clone();
    dup_y.extend(y.iter().take(7).cloned());
    let job = &rr22_jobs()[1];
    let (a, b) = pair("receiver", "sender");
    let (_, s) = run_over(a, b, job, &items(&x), &items(&dup_y));
    assert!(matches!(s.unwrap_err(), PsiError::DuplicateInput { .. }));
    let mut seen = HashSet::new();
    let dedup: Vec<String> = dup_y
        .into_iter()
        .filter(|k| seen.insert(k.clone()))
        .collect();
    let (r, s) = run(job, &x, &dedup);
    check(job, &x, &dedup, &v, &r, &s);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10))]
    #[test]
    fn intersection_and_join_match_the_plaintext_on_random_sets(
        seed in any::<u64>(), ox in 0usize..300, oy in 0usize..300, c in 0usize..300, j in 0usize..3,
    ) {
        let job = &rr22_jobs()[j];
        let (x, y, v) = sets(seed, ox, oy, c);
        let (r, s) = run(job, &x, &y);
        check(job, &x, &y, &v, &r, &s);
    }
}

/// Rewrites the frame a party sends, by its index in that party's frames.
type Rewrite = Box<dyn FnMut(usize, &[u8]) -> Option<Vec<u8>> + Send>;

/// A channel that records what it receives and may rewrite what it sends.
struct Tap<C> {
    inner: C,
    received: Arc<Mutex<Vec<Vec<u8>>>>,
    sent: usize,
    rewrite: Rewrite,
}

impl<C: Channel> Tap<C> {
    fn new(inner: C, rewrite: Rewrite) -> Self {
        Self {
            inner,
            received: Arc::default(),
            sent: 0,
            rewrite,
        }
    }
}

impl<C: Channel> Channel for Tap<C> {
    fn send(&mut self, frame: &[u8]) -> Result<(), NetError> {
        let k = self.sent;
        self.sent += 1;
        match (self.rewrite)(k, frame) {
            Some(f) => self.inner.send(&f),
            None => self.inner.send(frame),
        }
    }
    fn recv(&mut self) -> Result<Vec<u8>, NetError> {
        let f = self.inner.recv()?;
        if let Ok(mut r) = self.received.lock() {
            r.push(f.clone());
        }
        Ok(f)
    }
    fn peer(&self) -> &str {
        self.inner.peer()
    }
    fn counters(&self) -> Counters {
        self.inner.counters()
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn the_receivers_transcript_holds_none_of_the_senders_other_keys() {
    let (x, y, v) = sets(9, 300, 300, 300);
    let xs: HashSet<&String> = x.iter().collect();
    for job in rr22_jobs() {
        let (a, b) = pair("receiver", "sender");
        let ta = Tap::new(a, Box::new(|_, _| None));
        let tb = Tap::new(b, Box::new(|_, _| None));
        let (at_receiver, at_sender) = (ta.received.clone(), tb.received.clone());
        let (r, s) = run_over(ta, tb, &job, &items(&x), &items(&y));
        check(&job, &x, &y, &v, &r.unwrap(), &s.unwrap());
        let at_receiver = at_receiver.lock().unwrap().concat();
        let at_sender = at_sender.lock().unwrap().concat();
        for k in y.iter().filter(|k| !xs.contains(k)) {
            assert!(!contains(&at_receiver, k.as_bytes()), "receiver saw {k}");
            assert!(
                !contains(&at_receiver, &k.as_bytes()[..8]),
                "receiver saw part of {k}"
            );
        }
        for k in &x {
            assert!(!contains(&at_sender, k.as_bytes()), "sender saw {k}");
        }
    }
}

/// How many frames each party sends in a clean run of `job` on the small sets.
fn frame_counts(job: &Job, x: &Items, y: &Items) -> (usize, usize) {
    let counts = Arc::new(Mutex::new((0, 0)));
    let (ca, cb) = (counts.clone(), counts.clone());
    let (a, b) = pair("receiver", "sender");
    let ta = Tap::new(
        a,
        Box::new(move |k, _| {
            ca.lock().unwrap().0 = k + 1;
            None
        }),
    );
    let tb = Tap::new(
        b,
        Box::new(move |k, _| {
            cb.lock().unwrap().1 = k + 1;
            None
        }),
    );
    let (r, s) = run_over(ta, tb, job, x, y);
    r.unwrap();
    s.unwrap();
    *counts.lock().unwrap()
}

#[test]
fn every_frame_truncated_or_garbled_is_an_error_naming_peer_and_phase_never_a_panic() {
    let (x, y, _) = sets(4, 50, 40, 30);
    let (x, y) = (items(&x), items(&y));
    for job in rr22_jobs().iter().skip(1) {
        let (from_receiver, from_sender) = frame_counts(job, &x, &y);
        assert!(from_receiver >= 5 && from_sender >= 5);
        let mut rng = StdRng::seed_from_u64(12);
        for (bad_receiver, frames) in [(true, from_receiver), (false, from_sender)] {
            for k in 0..frames {
                for how in 0..3 {
                    let seed: u64 = rng.random();
                    let rewrite: Rewrite = Box::new(move |i, f| {
                        (i == k).then(|| {
                            let mut g = StdRng::seed_from_u64(seed);
                            match how {
                                0 => f[..f.len() - 1].to_vec(),
                                1 => (0..g.random_range(0..40)).map(|_| g.random()).collect(),
                                _ => (0..f.len()).map(|_| g.random()).collect(),
                            }
                        })
                    });
                    let (a, b) = pair("receiver", "sender");
                    let (r, s) = if bad_receiver {
                        run_over(Tap::new(a, rewrite), b, job, &x, &y)
                    } else {
                        run_over(a, Tap::new(b, rewrite), job, &x, &y)
                    };
                    // The honest side's error names the misbehaving peer
                    // and a phase; a length change is always detected.
                    let honest = if bad_receiver { &s } else { &r };
                    let culprit = if bad_receiver { "receiver" } else { "sender" };
                    if let Err(e) = honest {
                        let text = e.to_string();
                        assert!(text.contains(&format!("peer {culprit}")), "{text}");
                        assert!(text.contains("phase"), "{text}");
                    }
                    if how == 0 {
                        assert!(
                            r.is_err() || s.is_err(),
                            "frame {k} truncated went unnoticed"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn below_the_minimum_intersection_no_positions_are_revealed() {
    let (x, y) = {
        let (x, y, _) = sets(21, 30, 30, 2);
        (x, y)
    };
    for job in rr22_jobs() {
        let below = job.clone().with_min_intersection(3);
        let (a, b) = pair("receiver", "sender");
        let (r, s) = run_over(a, b, &below, &items(&x), &items(&y));
        assert!(
            matches!(r, Err(PsiError::BelowMinimum { minimum: 3, .. })),
            "{r:?}"
        );
        match s {
            Err(PsiError::BelowMinimum { .. }) => {}
            Ok(o) if job.reveal == Reveal::Receiver && job.mode != Mode::Join => {
                assert_eq!((o.matched, o.intersection_size), (None, None));
            }
            other => panic!("{:?}: {other:?}", job.mode),
        }
        let at = job.clone().with_min_intersection(2);
        let (r, s) = run(&at, &x, &y);
        check(&at, &x, &y, &[], &r, &s);
    }
}
