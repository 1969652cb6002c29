//! Every mode of ECDH-PSI over the in-memory backend, one thread a party,
//! against the plaintext computation; and a peer that misbehaves is refused
//! with an error naming it and the phase.

mod common;

use common::{all_jobs, check, items, sets};
use indomain_net::memory::{MemoryChannel, pair, pair_with_limits};
use indomain_net::{Channel, Counters, Limits, NetError};
use indomain_psi::{Construction, Items, Job, Mode, Outcome, Phase, PsiError, ecdh};
use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::time::Duration;

type Run = (Result<Outcome, PsiError>, Result<Outcome, PsiError>);

fn run_over<A: Channel, B: Channel>(
    mut to_sender: A,
    mut to_receiver: B,
    r_job: &Job,
    s_job: &Job,
    x: &Items,
    y: &Items,
    values: Option<&[u64]>,
) -> Run {
    std::thread::scope(|s| {
        let r = s.spawn(move || {
            let mut rng = StdRng::seed_from_u64(1);
            ecdh::receiver(&mut to_sender, r_job, x, &mut rng, &mut |_| {})
        });
        let s = s.spawn(move || {
            let mut rng = StdRng::seed_from_u64(2);
            ecdh::sender(&mut to_receiver, s_job, y, values, &mut rng, &mut |_| {})
        });
        (r.join().unwrap(), s.join().unwrap())
    })
}

fn run(job: &Job, x: &[String], y: &[String], values: &[u64]) -> (Outcome, Outcome) {
    let (a, b) = pair("receiver", "sender");
    let vals = (job.mode == Mode::IntersectionSum).then_some(values);
    let (r, s) = run_over(a, b, job, job, &items(x), &items(y), vals);
    (r.unwrap(), s.unwrap())
}

#[test]
fn every_mode_matches_the_plaintext_on_edge_cases() {
    // (only in X, only in Y, common): empty, one side empty, disjoint,
    // identical, and overlaps spanning several batches.
    let shapes = [
        (0, 0, 0),
        (0, 9, 0),
        (9, 0, 0),
        (13, 17, 0),
        (0, 0, 23),
        (5, 11, 20),
        (40, 3, 1),
    ];
    for job in all_jobs(7) {
        for (seed, &(ox, oy, c)) in shapes.iter().enumerate() {
            let (x, y, v) = sets(seed as u64, ox, oy, c);
            let (r, s) = run(&job, &x, &y, &v);
            check(&job, &x, &y, &v, &r, &s);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]
    #[test]
    fn every_mode_matches_the_plaintext_on_random_sets(
        seed in any::<u64>(), ox in 0usize..40, oy in 0usize..40, c in 0usize..40, batch in 1usize..20, j in 0usize..6,
    ) {
        let job = &all_jobs(batch)[j];
        let (x, y, v) = sets(seed, ox, oy, c);
        let (r, s) = run(job, &x, &y, &v);
        check(job, &x, &y, &v, &r, &s);
    }
}

#[test]
fn duplicate_keys_in_own_input_are_refused_before_anything_is_sent() {
    let job = Job::new(Mode::Intersection).with_construction(Construction::Ecdh);
    let (mut a, b) = pair("receiver", "sender");
    let dup = Items::from_raw(["a", "b", "a"]);
    let mut rng = StdRng::seed_from_u64(0);
    let err = ecdh::receiver(&mut a, &job, &dup, &mut rng, &mut |_| {}).unwrap_err();
    assert!(
        matches!(
            err,
            PsiError::DuplicateInput {
                first: 0,
                second: 2
            }
        ),
        "{err}"
    );
    drop(b);
}

/// Rewrites a frame about to be sent, or leaves it (`None`).
type Rewrite = Box<dyn FnMut(&[u8]) -> Option<Vec<u8>> + Send>;

/// A channel that records what it receives and may rewrite what it sends.
struct Tap<C> {
    inner: C,
    received: Vec<Vec<u8>>,
    rewrite: Rewrite,
}

impl<C: Channel> Tap<C> {
    fn new(inner: C, rewrite: impl FnMut(&[u8]) -> Option<Vec<u8>> + Send + 'static) -> Self {
        Self {
            inner,
            received: Vec::new(),
            rewrite: Box::new(rewrite),
        }
    }
}

impl<C: Channel> Channel for Tap<C> {
    fn send(&mut self, frame: &[u8]) -> Result<(), NetError> {
        match (self.rewrite)(frame) {
            Some(f) => self.inner.send(&f),
            None => self.inner.send(frame),
        }
    }
    fn recv(&mut self) -> Result<Vec<u8>, NetError> {
        let f = self.inner.recv()?;
        self.received.push(f.clone());
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
fn transcripts_hold_no_raw_keys_or_values() {
    let (x, y, v) = sets(9, 30, 30, 30);
    for job in all_jobs(16) {
        let (a, b) = pair("receiver", "sender");
        let (mut ta, mut tb) = (Tap::new(a, |_| None), Tap::new(b, |_| None));
        let vals = (job.mode == Mode::IntersectionSum).then_some(&v[..]);
        let (r, s) = run_over(&mut ta, &mut tb, &job, &job, &items(&x), &items(&y), vals);
        check(&job, &x, &y, &v, &r.unwrap(), &s.unwrap());
        let at_receiver = ta.received.concat();
        let at_sender = tb.received.concat();
        for k in &y {
            assert!(!contains(&at_receiver, k.as_bytes()), "receiver saw {k}");
        }
        for k in &x {
            assert!(!contains(&at_sender, k.as_bytes()), "sender saw {k}");
        }
        for val in &v {
            assert!(
                !contains(&at_receiver, &val.to_le_bytes()[..4]) || *val < 256,
                "receiver saw value {val}"
            );
        }
    }
}

/// Runs a job where the sender (`to_receiver` end) rewrites its frames.
fn with_bad_sender(
    job: &Job,
    rewrite: impl FnMut(&[u8]) -> Option<Vec<u8>> + Send + 'static,
) -> Run {
    let (x, y, v) = sets(4, 5, 3, 0);
    let (a, b) = pair("receiver", "sender");
    let vals = (job.mode == Mode::IntersectionSum).then_some(&v[..]);
    run_over(
        a,
        Tap::new(b, rewrite),
        job,
        job,
        &items(&x),
        &items(&y),
        vals,
    )
}

/// Runs a job where the receiver rewrites its frames.
fn with_bad_receiver(
    job: &Job,
    rewrite: impl FnMut(&[u8]) -> Option<Vec<u8>> + Send + 'static,
) -> Run {
    let (x, y, v) = sets(4, 5, 3, 0);
    let (a, b) = pair("receiver", "sender");
    let vals = (job.mode == Mode::IntersectionSum).then_some(&v[..]);
    run_over(
        Tap::new(a, rewrite),
        b,
        job,
        job,
        &items(&x),
        &items(&y),
        vals,
    )
}

// With 5 receiver keys and 3 sender keys in one batch, the frames are told
// apart by length: the receiver's blinded keys are 5·32 = 160 bytes, the
// double-blinded ones 5·16 = 80, the sender's blinded keys 3·32 = 96.

#[test]
fn a_non_canonical_point_is_refused_naming_peer_and_phase() {
    let job = Job::new(Mode::Intersection).with_construction(Construction::Ecdh);
    let (r, _) = with_bad_sender(&job, |f| {
        (f.len() == 96).then(|| [vec![0xff; 32], f[32..].to_vec()].concat())
    });
    match r.unwrap_err() {
        PsiError::BadPoint { peer, phase, index } => assert_eq!(
            (peer.as_str(), phase, index),
            ("sender", Phase::SenderBlinded, 0)
        ),
        e => panic!("{e}"),
    }
    let (_, s) = with_bad_receiver(&job, |f| {
        (f.len() == 160).then(|| [&f[..64], &[0u8; 32][..], &f[96..]].concat())
    });
    match s.unwrap_err() {
        PsiError::BadPoint { peer, phase, index } => assert_eq!(
            (peer.as_str(), phase, index),
            ("receiver", Phase::ReceiverBlinded, 2)
        ),
        e => panic!("{e}"),
    }
}

#[test]
fn a_batch_of_the_wrong_length_is_refused() {
    let job = Job::new(Mode::Cardinality);
    let (r, _) = with_bad_sender(&job, |f| (f.len() == 96).then(|| f[..95].to_vec()));
    let e = r.unwrap_err();
    assert!(
        matches!(&e, PsiError::BatchLength { peer, phase: Phase::SenderBlinded, expected: 96, got: 95 } if peer == "sender"),
        "{e}"
    );
    let (r, _) = with_bad_sender(&job, |f| {
        (f.len() == 80).then(|| [f, &[0u8; 16][..]].concat())
    });
    let e = r.unwrap_err();
    assert!(
        matches!(
            &e,
            PsiError::BatchLength {
                phase: Phase::DoubleBlinded,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("peer sender"), "{e}");
}

#[test]
fn repeated_double_blinded_values_are_refused() {
    let job = Job::new(Mode::Intersection).with_construction(Construction::Ecdh);
    let (r, _) = with_bad_sender(&job, |f| {
        (f.len() == 80).then(|| [&f[..16], &f[..16], &f[32..]].concat())
    });
    assert!(matches!(
        r.unwrap_err(),
        PsiError::DuplicateValue {
            phase: Phase::DoubleBlinded,
            ..
        }
    ));
}

#[test]
fn mismatched_jobs_and_oversized_sets_are_refused_at_hello() {
    let (x, y, _) = sets(5, 4, 4, 4);
    let mut other = Job::new(Mode::Intersection).with_construction(Construction::Ecdh);
    other.key_spec = "id, trimmed".into();
    let (a, b) = pair("receiver", "sender");
    let (r, s) = run_over(
        a,
        b,
        &Job::new(Mode::Intersection).with_construction(Construction::Ecdh),
        &other,
        &items(&x),
        &items(&y),
        None,
    );
    assert!(matches!(
        r.unwrap_err(),
        PsiError::JobMismatch {
            field: "key spec",
            phase: Phase::Hello,
            ..
        }
    ));
    assert!(matches!(
        s.unwrap_err(),
        PsiError::JobMismatch {
            field: "key spec",
            ..
        }
    ));

    let mut small = Job::new(Mode::Cardinality);
    small.max_peer_items = 7;
    let (a, b) = pair("receiver", "sender");
    let (r, _) = run_over(
        a,
        b,
        &small,
        &Job::new(Mode::Cardinality),
        &items(&x),
        &items(&y),
        None,
    );
    assert!(matches!(
        r.unwrap_err(),
        PsiError::TooManyItems {
            announced: 8,
            limit: 7,
            ..
        }
    ));
}

#[test]
fn a_silent_peer_times_out_and_an_oversized_frame_is_refused() {
    let limits = Limits {
        max_frame: 1 << 10,
        recv_timeout: Duration::from_millis(200),
        ..Limits::default()
    };
    let (mut a, b): (MemoryChannel, MemoryChannel) = pair_with_limits("receiver", "sender", limits);
    let mut rng = StdRng::seed_from_u64(0);
    let e = ecdh::receiver(
        &mut a,
        &Job::new(Mode::Intersection).with_construction(Construction::Ecdh),
        &Items::from_raw(["k"]),
        &mut rng,
        &mut |_| {},
    )
    .unwrap_err();
    assert!(
        matches!(
            e,
            PsiError::Net {
                phase: Phase::Hello,
                source: NetError::Timeout { .. },
                ..
            }
        ),
        "{e}"
    );
    drop(b);

    let (x, y, _) = sets(6, 40, 0, 0);
    let (a, b) = pair_with_limits("receiver", "sender", limits);
    let (_, s) = run_over(
        a,
        b,
        &Job::new(Mode::Intersection).with_construction(Construction::Ecdh),
        &Job::new(Mode::Intersection).with_construction(Construction::Ecdh),
        &items(&x),
        &items(&y),
        None,
    );
    assert!(matches!(
        s.unwrap_err(),
        PsiError::Net {
            phase: Phase::ReceiverBlinded,
            source: NetError::FrameTooLarge { .. },
            ..
        }
    ));
}

#[test]
fn intersection_sum_checks_the_bound_and_the_returned_ciphertext() {
    let (x, y, v) = sets(8, 3, 3, 3);
    let mut job = Job::new(Mode::IntersectionSum);
    job.sum_bound = v.iter().sum::<u64>() - 1;
    let (a, b) = pair("receiver", "sender");
    let (_, s) = run_over(a, b, &job, &job, &items(&x), &items(&y), Some(&v));
    assert!(matches!(s.unwrap_err(), PsiError::Job(m) if m.contains("sum bound")));

    let job = Job::new(Mode::IntersectionSum);
    let (a, b) = pair("receiver", "sender");
    let garbled = Tap::new(a, |f: &[u8]| {
        (f.len() == 72).then(|| [&f[..8], &[0xff; 64][..]].concat())
    });
    let (_, s) = run_over(garbled, b, &job, &job, &items(&x), &items(&y), Some(&v));
    assert!(matches!(
        s.unwrap_err(),
        PsiError::BadPoint {
            phase: Phase::Sum,
            ..
        }
    ));

    let (a, b) = pair("receiver", "sender");
    let (_, s) = run_over(a, b, &job, &job, &items(&x), &items(&y), None);
    assert!(matches!(s.unwrap_err(), PsiError::Job(_)));
}

#[test]
fn revealed_positions_out_of_range_are_refused() {
    let (x, y, _) = sets(10, 2, 2, 3);
    let job = Job::new(Mode::Join).with_construction(Construction::Ecdh);
    let (a, b) = pair("receiver", "sender");
    // Three matches: the receiver reveals three positions (12 bytes).
    let garbled = Tap::new(a, |f: &[u8]| {
        (f.len() == 12).then(|| [&f[..8], &u32::MAX.to_le_bytes()[..]].concat())
    });
    let (_, s) = run_over(garbled, b, &job, &job, &items(&x), &items(&y), None);
    assert!(matches!(
        s.unwrap_err(),
        PsiError::Protocol {
            phase: Phase::Reveal,
            ..
        }
    ));
}

/// The attack a minimum intersection stops: a psi-sum sender puts values
/// 2^i on keys it chose, so one decrypted sum says which of them the
/// receiver holds. Below the job's minimum the receiver sends no count, no
/// positions and no ciphertext, only a notice, and both parties end with
/// [`PsiError::BelowMinimum`]; at the minimum the result is revealed.
#[test]
fn below_the_minimum_intersection_the_sender_learns_nothing() {
    let (x, y, _) = sets(12, 25, 39, 1);
    let powers: Vec<u64> = (0..y.len() as u32).map(|i| 1 << i).collect();
    for mut job in all_jobs(8) {
        job.sum_bound = 1 << 40;
        let vals = (job.mode == Mode::IntersectionSum).then_some(&powers[..]);
        let below = job.clone().with_min_intersection(2);
        let (a, b) = pair("receiver", "sender");
        let mut tb = Tap::new(b, |_| None);
        let (r, s) = run_over(a, &mut tb, &below, &below, &items(&x), &items(&y), vals);
        let finishing = match job.mode {
            Mode::IntersectionSum => Phase::Sum,
            _ => Phase::Reveal,
        };
        for (who, result) in [("receiver", r), ("sender", s)] {
            match result {
                Err(PsiError::BelowMinimum {
                    phase, minimum: 2, ..
                }) => assert_eq!(phase, finishing, "{who}, {:?}", job.mode),
                Err(PsiError::BelowMinimum { .. }) => panic!("{who}: wrong minimum"),
                // A sender that never learns the result ends as usual.
                Ok(o) if who == "sender" && o.intersection_size.is_none() => {}
                other => panic!("{who}, {:?} {:?}: {other:?}", job.mode, job.reveal),
            }
        }
        // What the sender last received is the notice (u64::MAX, raw or
        // as a bincode varint), never a count, positions or a ciphertext.
        if job.mode == Mode::Join
            || job.mode == Mode::IntersectionSum
            || job.reveal == indomain_psi::Reveal::Both
        {
            // Known answers: u64::MAX, as 8 raw bytes in place of the
            // intersection-sum frame, else as a bincode varint (0xfd, then
            // 8 little-endian bytes) in place of the count.
            let notice: &[u8] = match job.mode {
                Mode::IntersectionSum => &[0xff; 8],
                _ => &[0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
            };
            let last = tb.received.last().cloned().unwrap_or_default();
            assert_eq!(last, notice, "{:?}: the sender's last frame", job.mode);
        }
        assert!(
            !tb.received.iter().any(|f| f.len() == 72),
            "the sender received a ciphertext"
        );

        let at = job.clone().with_min_intersection(1);
        let (a, b) = pair("receiver", "sender");
        let (r, s) = run_over(a, b, &at, &at, &items(&x), &items(&y), vals);
        check(&at, &x, &y, &powers, &r.unwrap(), &s.unwrap());
    }
}

#[test]
fn sets_smaller_than_the_minimum_stop_at_hello_and_minimums_must_agree() {
    let (x, y, _) = sets(13, 2, 2, 1);
    let job = Job::new(Mode::Intersection)
        .with_construction(Construction::Ecdh)
        .with_min_intersection(4);
    let (a, b) = pair("receiver", "sender");
    let (r, s) = run_over(a, b, &job, &job, &items(&x), &items(&y), None);
    for e in [r.unwrap_err(), s.unwrap_err()] {
        assert!(
            matches!(
                e,
                PsiError::BelowMinimum {
                    phase: Phase::Hello,
                    minimum: 4,
                    ..
                }
            ),
            "{e}"
        );
    }
    let other = job.clone().with_min_intersection(1);
    let (a, b) = pair("receiver", "sender");
    let (r, _) = run_over(a, b, &job, &other, &items(&x), &items(&y), None);
    assert!(matches!(
        r.unwrap_err(),
        PsiError::JobMismatch {
            field: "min intersection",
            ..
        }
    ),);
}

#[test]
fn a_count_below_the_minimum_is_refused_by_the_sender() {
    // A receiver that reveals a count below the agreed minimum breaks the
    // protocol: the sender refuses it rather than keep it.
    let (x, y, _) = sets(14, 5, 5, 3);
    let job = Job::new(Mode::Cardinality)
        .with_reveal(indomain_psi::Reveal::Both)
        .with_min_intersection(3);
    let (a, b) = pair("receiver", "sender");
    // The count 3 travels as one byte (bincode varint); make it 1.
    let lying = Tap::new(a, |f: &[u8]| (f == [3]).then(|| vec![1]));
    let (_, s) = run_over(lying, b, &job, &job, &items(&x), &items(&y), None);
    assert!(matches!(
        s.unwrap_err(),
        PsiError::Protocol {
            phase: Phase::Reveal,
            ..
        }
    ),);
}
