//! Bucketed PSI over the in-memory backend: intersection and join in 1, 3
//! and 16 buckets equal the plaintext (join aligned at both parties), by
//! either construction; mismatched bucket counts and modes that would
//! reveal a result per bucket are refused.

mod common;

use common::{check, items, sets};
use indomain_net::memory::pair;
use indomain_psi::{Construction, Items, Job, Mode, Outcome, Phase, PsiError, Reveal, buckets};
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
