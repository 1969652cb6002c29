//! Shared by the PSI integration tests: random sets, the plaintext answer,
//! and the checks that a run's outcomes agree with it.
#![allow(dead_code)]

use indomain_psi::{Construction, Items, Job, Mode, Outcome, Reveal};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use std::collections::{HashMap, HashSet};

/// Two key sets with `common` shared keys, `only_x` and `only_y` private
/// ones, shuffled; and a value per key of Y.
pub fn sets(
    seed: u64,
    only_x: usize,
    only_y: usize,
    common: usize,
) -> (Vec<String>, Vec<String>, Vec<u64>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let key = |tag: &str, i: usize| format!("{tag}-customer-{i:08}");
    let mut x: Vec<String> = (0..common)
        .map(|i| key("c", i))
        .chain((0..only_x).map(|i| key("x", i)))
        .collect();
    let mut y: Vec<String> = (0..common)
        .map(|i| key("c", i))
        .chain((0..only_y).map(|i| key("y", i)))
        .collect();
    x.shuffle(&mut rng);
    y.shuffle(&mut rng);
    let values = y
        .iter()
        .map(|_| rng.random_range(0..1_000_000u64))
        .collect();
    (x, y, values)
}

pub fn items(keys: &[String]) -> Items {
    Items::from_raw(keys.iter().map(|k| k.as_bytes()))
}

/// Checks both outcomes against the plaintext computation on the same sets.
pub fn check(job: &Job, x: &[String], y: &[String], values: &[u64], r: &Outcome, s: &Outcome) {
    let ys: HashSet<&String> = y.iter().collect();
    let want: HashSet<&String> = x.iter().filter(|k| ys.contains(k)).collect();
    assert_eq!((r.items, r.peer_items), (x.len(), y.len()));
    assert_eq!((s.items, s.peer_items), (y.len(), x.len()));
    assert_eq!(r.intersection_size, Some(want.len()));
    let keys_of = |keys: &[String], idx: &[usize]| -> Vec<String> {
        idx.iter().map(|&i| keys[i].clone()).collect()
    };
    match job.mode {
        Mode::Intersection | Mode::Join => {
            let got_r = keys_of(
                x,
                r.matched.as_deref().expect("receiver learns the matches"),
            );
            assert_eq!(got_r.iter().collect::<HashSet<_>>(), want);
            assert_eq!(got_r.len(), want.len());
            if job.mode == Mode::Join || job.reveal == Reveal::Both {
                let got_s = keys_of(y, s.matched.as_deref().expect("sender learns the matches"));
                // The same rows, in the same order at both parties.
                assert_eq!(got_s, got_r);
                assert_eq!(s.intersection_size, Some(want.len()));
            } else {
                assert_eq!((s.matched.as_ref(), s.intersection_size), (None, None));
            }
        }
        Mode::Cardinality => {
            assert_eq!(r.matched, None);
            assert_eq!(s.matched, None);
            let expect = (job.reveal == Reveal::Both).then_some(want.len());
            assert_eq!(s.intersection_size, expect);
        }
        Mode::IntersectionSum => {
            let by_key: HashMap<&String, u64> =
                y.iter().zip(values).map(|(k, &v)| (k, v)).collect();
            let total: u64 = want.iter().map(|k| by_key[k]).sum();
            assert_eq!(s.sum, Some(total));
            assert_eq!(s.intersection_size, Some(want.len()));
            assert_eq!(
                (r.sum, r.matched.as_ref(), s.matched.as_ref()),
                (None, None, None)
            );
        }
    }
}

pub fn all_jobs(batch: usize) -> Vec<Job> {
    let mut jobs = Vec::new();
    for mode in [
        Mode::Intersection,
        Mode::Cardinality,
        Mode::IntersectionSum,
        Mode::Join,
    ] {
        for reveal in [Reveal::Receiver, Reveal::Both] {
            if reveal == Reveal::Receiver && matches!(mode, Mode::Join | Mode::IntersectionSum) {
                continue;
            }
            let mut job = Job::new(mode).with_construction(Construction::Ecdh);
            job.reveal = reveal;
            job.batch = batch;
            job.sum_bound = 1 << 32;
            job.key_spec = "test".into();
            jobs.push(job);
        }
    }
    jobs
}
