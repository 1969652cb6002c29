//! Bucketed PSI over the in-memory backend: intersection and join in 1, 3
//! and 16 buckets equal the plaintext (join aligned at both parties), by
//! either construction; an interrupted run resumes to the same result;
//! mismatched bucket counts, modes that would reveal a result per bucket,
//! and resuming with a changed input or another peer are refused.

mod common;

use common::{check, items, sets};
use indomain_net::memory::{MemoryChannel, pair};
use indomain_psi::buckets::{Plan, State};
use indomain_psi::{
    Construction, Items, Job, Mode, Outcome, Phase, PsiError, Reveal, Role, buckets,
};
use rand::SeedableRng;
use rand::rngs::StdRng;

type Run = (Result<Outcome, PsiError>, Result<Outcome, PsiError>);

fn run(job: &Job, x: &Items, y: &Items, rb: usize, sb: usize) -> Run {
    let (mut a, mut b) = pair("receiver", "sender");
    std::thread::scope(|s| {
        let r = s.spawn(move || {
            buckets::receiver(
                &mut a,
                job,
                x,
                rb,
                &mut StdRng::seed_from_u64(1),
                &mut |_| {},
            )
        });
        let t = s.spawn(move || {
            buckets::sender(
                &mut b,
                job,
                y,
                sb,
                &mut StdRng::seed_from_u64(2),
                &mut |_| {},
            )
        });
        (r.join().unwrap(), t.join().unwrap())
    })
}

#[test]
fn bucketed_runs_equal_the_plaintext_and_stay_aligned() {
    for construction in [Construction::Rr22, Construction::Ecdh] {
        for (mode, reveal) in [
            (Mode::Intersection, Reveal::Receiver),
            (Mode::Intersection, Reveal::Both),
            (Mode::Join, Reveal::Both),
        ] {
            let mut job = Job::new(mode).with_construction(construction);
            job.reveal = reveal;
            for (seed, (ox, oy, c)) in [
                (0, 0, 0),
                (40, 0, 0),
                (30, 50, 0),
                (0, 0, 60),
                (120, 90, 300),
            ]
            .into_iter()
            .enumerate()
            {
                let (x, y, v) = sets(seed as u64, ox, oy, c);
                for n in [1, 3, 16] {
                    let (r, s) = run(&job, &items(&x), &items(&y), n, n);
                    check(&job, &x, &y, &v, &r.unwrap(), &s.unwrap());
                }
            }
        }
    }
}

#[test]
fn mismatched_bucket_counts_and_per_bucket_results_are_refused() {
    let (x, y, _) = sets(3, 10, 10, 10);
    let job = Job::new(Mode::Join).with_construction(Construction::Rr22);
    let (r, s) = run(&job, &items(&x), &items(&y), 4, 5);
    for e in [r.unwrap_err(), s.unwrap_err()] {
        assert!(
            matches!(
                e,
                PsiError::JobMismatch {
                    field: "buckets",
                    phase: Phase::Hello,
                    ..
                }
            ),
            "{e}"
        );
    }
    let job = Job::new(Mode::Cardinality);
    let (r, _) = run(&job, &items(&x), &items(&y), 2, 2);
    assert!(matches!(r.unwrap_err(), PsiError::Job(_)));
    // A minimum would apply bucket by bucket: refused.
    let job = Job::new(Mode::Join)
        .with_construction(Construction::Rr22)
        .with_min_intersection(5);
    let (r, _) = run(&job, &items(&x), &items(&y), 2, 2);
    assert!(matches!(r.unwrap_err(), PsiError::Job(m) if m.contains("minimum")));
}

#[test]
fn a_repeated_key_is_refused_with_its_positions_in_the_whole_input() {
    let (x, y, _) = sets(8, 30, 30, 30);
    let mut dup = y.clone();
    dup.push(y[17].clone());
    let job = Job::new(Mode::Intersection).with_construction(Construction::Rr22);
    let (_, s) = run(&job, &items(&x), &items(&dup), 5, 5);
    match s.unwrap_err() {
        PsiError::DuplicateInput { first, second } => {
            assert_eq!((first, second), (17, dup.len() - 1))
        }
        e => panic!("{e}"),
    }
}

/// Runs a resumable bucketed job; each party's saved states go to its slot,
/// and a party's `save` fails once it has saved `stop_after` states in this
/// run (a crash after that bucket).
fn run_resumable(
    job: &Job,
    x: &Items,
    y: &Items,
    n: usize,
    states: [Option<State>; 2],
    stop_after: [usize; 2],
) -> (Run, [Option<State>; 2], [usize; 2]) {
    let (a, b) = pair("receiver", "sender");
    let [rs, ss] = states;
    // Each party owns its end, so a crashed party's end closes at once.
    let party = |mut ch: MemoryChannel,
                 role: Role,
                 items: &Items,
                 resume: Option<State>,
                 stop: usize,
                 seed: u64| {
        let mut last = None;
        let mut saves = 0;
        let mut save = |s: &State| {
            if saves == stop {
                return Err(PsiError::Job("crash".into()));
            }
            saves += 1;
            last = Some(s.clone());
            Ok(())
        };
        let plan = Plan {
            buckets: n,
            resume,
            save: &mut save,
        };
        let r = buckets::run(
            &mut ch,
            job,
            items,
            role,
            plan,
            &mut StdRng::seed_from_u64(seed),
            &mut |_| {},
        );
        (r, last, saves)
    };
    std::thread::scope(|s| {
        let r = s.spawn(|| party(a, Role::Receiver, x, rs, stop_after[0], 1));
        let t = s.spawn(|| party(b, Role::Sender, y, ss, stop_after[1], 2));
        let (r, rl, rn) = r.join().unwrap();
        let (t, tl, tn) = t.join().unwrap();
        ((r, t), [rl, tl], [rn, tn])
    })
}

#[test]
fn an_interrupted_bucketed_run_resumes_to_the_plaintext_result() {
    let (x, y, v) = sets(21, 200, 150, 250);
    let (xi, yi) = (items(&x), items(&y));
    let job = Job::new(Mode::Join).with_construction(Construction::Rr22);
    // The receiver crashes after saving 3 of 8 buckets.
    let ((r, s), states, _) = run_resumable(&job, &xi, &yi, 8, [None, None], [3, usize::MAX]);
    assert!(r.is_err() && s.is_err());
    let done = [
        states[0].as_ref().map_or(0, |s| s.done.len()),
        states[1].as_ref().map_or(0, |s| s.done.len()),
    ];
    assert_eq!(done[0], 3);
    assert!(done[1] >= 3, "{done:?}");
    // Resumed from both states: only the buckets after the third run again.
    let ((r, s), _, saves) = run_resumable(&job, &xi, &yi, 8, states, [usize::MAX; 2]);
    assert_eq!(saves, [5, 5]);
    check(&job, &x, &y, &v, &r.unwrap(), &s.unwrap());
}

#[test]
fn a_sender_that_learns_nothing_resumes_without_state_of_its_own() {
    let (x, y, v) = sets(23, 200, 150, 250);
    let (xi, yi) = (items(&x), items(&y));
    // The default reveal: only the receiver learns the intersection, so
    // the command line's sender has no output to keep a resume state by.
    let job = Job::new(Mode::Intersection).with_construction(Construction::Rr22);
    assert_eq!(job.reveal, Reveal::Receiver);
    let ((r, s), states, _) = run_resumable(&job, &xi, &yi, 8, [None, None], [3, usize::MAX]);
    assert!(r.is_err() && s.is_err());
    assert_eq!(states[0].as_ref().map_or(0, |s| s.done.len()), 3);
    // Resumed with the receiver's state alone: the sender continues where
    // the receiver stopped, and only the last five buckets run again.
    let [receiver_state, _] = states;
    let ((r, s), _, saves) =
        run_resumable(&job, &xi, &yi, 8, [receiver_state, None], [usize::MAX; 2]);
    assert_eq!(saves, [5, 5]);
    check(&job, &x, &y, &v, &r.unwrap(), &s.unwrap());
}

#[test]
fn resuming_with_a_changed_input_or_another_peer_is_refused() {
    let (x, y, _) = sets(22, 40, 40, 40);
    let (xi, yi) = (items(&x), items(&y));
    let job = Job::new(Mode::Intersection).with_construction(Construction::Rr22);
    let (_, states, _) = run_resumable(&job, &xi, &yi, 4, [None, None], [2, 2]);
    let [rs, ss] = states;
    let (rs, ss) = (rs.unwrap(), ss.unwrap());

    let mut changed = x.clone();
    changed[0] = "someone-else".into();
    let ((r, _), _, _) = run_resumable(
        &job,
        &items(&changed),
        &yi,
        4,
        [Some(rs.clone()), Some(ss.clone())],
        [9, 9],
    );
    let e = r.unwrap_err();
    assert!(e.to_string().contains("this party's input changed"), "{e}");

    let mut other_peer = rs.clone();
    other_peer.peer = "mallory".into();
    let ((r, _), _, _) = run_resumable(
        &job,
        &xi,
        &yi,
        4,
        [Some(other_peer), Some(ss.clone())],
        [9, 9],
    );
    let e = r.unwrap_err();
    assert!(e.to_string().contains("the peer differs"), "{e}");

    // The sender's input changed: the receiver sees other bucket sizes.
    let mut grown = y.clone();
    grown.push("one-more-key".into());
    let ((r, _), _, _) = run_resumable(&job, &xi, &items(&grown), 4, [Some(rs), None], [9, 9]);
    let e = r.unwrap_err();
    assert!(e.to_string().contains("the peer's input changed"), "{e}");
}

/// A channel that truncates the `k`-th frame it sends.
struct Truncate {
    inner: MemoryChannel,
    k: usize,
    sent: usize,
}

impl indomain_net::Channel for Truncate {
    fn send(&mut self, frame: &[u8]) -> Result<(), indomain_net::NetError> {
        self.sent += 1;
        if self.sent - 1 == self.k {
            return self.inner.send(&frame[..frame.len() / 2]);
        }
        self.inner.send(frame)
    }
    fn recv(&mut self) -> Result<Vec<u8>, indomain_net::NetError> {
        self.inner.recv()
    }
    fn peer(&self) -> &str {
        self.inner.peer()
    }
    fn counters(&self) -> indomain_net::Counters {
        self.inner.counters()
    }
}

#[test]
fn truncated_bucket_messages_are_errors_naming_the_peer() {
    let (x, y, _) = sets(5, 20, 20, 20);
    let (xi, yi) = (items(&x), items(&y));
    let job = Job::new(Mode::Join).with_construction(Construction::Rr22);
    // Frame 0 is the bucket hello, 1 the bucket sizes, 2 the first run's hello.
    for k in 0..3 {
        let (a, b) = pair("receiver", "sender");
        let bad = Truncate {
            inner: b,
            k,
            sent: 0,
        };
        let (jr, xr, yr) = (&job, &xi, &yi);
        // Each party owns its end, so the one that fails closes it at once.
        let (r, s) = std::thread::scope(|sc| {
            let r = sc.spawn(move || {
                let mut a = a;
                buckets::receiver(
                    &mut a,
                    jr,
                    xr,
                    3,
                    &mut StdRng::seed_from_u64(1),
                    &mut |_| {},
                )
            });
            let t = sc.spawn(move || {
                let mut bad = bad;
                buckets::sender(
                    &mut bad,
                    jr,
                    yr,
                    3,
                    &mut StdRng::seed_from_u64(2),
                    &mut |_| {},
                )
            });
            (r.join().unwrap(), t.join().unwrap())
        });
        let e = r.unwrap_err();
        assert!(e.to_string().contains("peer sender"), "frame {k}: {e}");
        assert!(s.is_err());
    }
}
