//! Secure statistics against the plaintext computation on the same random
//! data, for every statistic, 2 and 5 parties, with and without grouping;
//! suppression, transcripts, and failures.

mod common;

use common::{contains_u64, recording_mesh};
use indomain_aggregate::AggregateError;
use indomain_aggregate::stats::{
    ColumnResult, GroupOutcome, LocalData, Statistic, StatsJob, StatsResult, run_statistics,
    tabulate,
};
use indomain_net::{NetError, PartySet};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

const FRAC_BITS: u32 = 16;
const MAX_ABS: f64 = 1000.0;
const CATEGORIES: [&str; 3] = ["north", "south", "rare"];
const NAMES: [&str; 5] = ["a", "b", "c", "d", "e"];

fn job(statistic: Statistic, grouped: bool, parties: usize) -> StatsJob {
    StatsJob {
        statistic,
        columns: vec!["income".into(), "age".into()],
        categories: grouped.then(|| CATEGORIES.iter().map(|s| s.to_string()).collect()),
        receivers: if parties == 2 { vec![1] } else { vec![3, 0] },
        min_group_size: 10,
        frac_bits: FRAC_BITS,
        max_abs: MAX_ABS,
    }
}

/// Random rows; only party 0 has rows in "rare" (two), so it is suppressed.
fn random_data(parties: usize, grouped: bool, seed: u64) -> Vec<LocalData> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..parties)
        .map(|p| {
            let rows = rng.random_range(20..60);
            let groups = (0..rows)
                .map(|r| match (grouped, p == 0 && r < 2) {
                    (false, _) => 0,
                    (true, true) => 2,
                    (true, false) => rng.random_range(0..2),
                })
                .collect();
            let columns = (0..2)
                .map(|_| {
                    (0..rows)
                        .map(|_| rng.random_range(-MAX_ABS..MAX_ABS))
                        .collect()
                })
                .collect();
            LocalData { groups, columns }
        })
        .collect()
}

fn run_all(
    job: &StatsJob,
    sets: Vec<PartySet>,
    data: &[LocalData],
) -> Vec<Result<Option<StatsResult>, AggregateError>> {
    std::thread::scope(|s| {
        let handles: Vec<_> = sets
            .into_iter()
            .zip(data)
            .enumerate()
            .map(|(i, (mut ps, d))| {
                s.spawn(move || {
                    let mut rng = StdRng::seed_from_u64(100 + i as u64);
                    run_statistics(&mut ps, job, d, &mut rng, &mut |_| {})
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

/// The plaintext statistics of the pooled rows of group `g`, column `c`.
fn plain_column(data: &[LocalData], g: usize, c: usize) -> (u64, Vec<f64>) {
    let values: Vec<f64> = data
        .iter()
        .flat_map(|d| {
            d.groups
                .iter()
                .zip(&d.columns[c])
                .filter(|(gr, _)| **gr == g)
                .map(|(_, v)| *v)
        })
        .collect();
    (values.len() as u64, values)
}

fn check_against_plaintext(job: &StatsJob, data: &[LocalData], result: &StatsResult) {
    let ulp = 2f64.powi(-(FRAC_BITS as i32));
    assert_eq!(result.groups.len(), job.groups());
    for (g, group) in result.groups.iter().enumerate() {
        let rows: u64 = data
            .iter()
            .map(|d| d.groups.iter().filter(|&&x| x == g).count() as u64)
            .sum();
        assert_eq!(group.group, job.group_name(g));
        let (count, columns) = match &group.outcome {
            GroupOutcome::Suppressed => {
                assert!(
                    rows < job.min_group_size,
                    "group {g} with {rows} rows was suppressed"
                );
                continue;
            }
            GroupOutcome::Released { count, columns } => (*count, columns),
        };
        assert!(
            rows >= job.min_group_size,
            "group {g} with {rows} rows was released"
        );
        assert_eq!(count, rows);
        let expected_columns = if job.statistic == Statistic::Count {
            0
        } else {
            2
        };
        assert_eq!(columns.len(), expected_columns);
        for (c, got) in columns.iter().enumerate() {
            let (n, values) = plain_column(data, g, c);
            let sum: f64 = values.iter().sum();
            let mean = sum / n as f64;
            let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n as f64 - 1.0);
            let sum_tol = n as f64 * ulp;
            match (got, &job.statistic) {
                (ColumnResult::Sum { sum: s }, Statistic::Sum) => {
                    assert!((s - sum).abs() <= sum_tol)
                }
                (ColumnResult::Mean { sum: s, mean: m }, Statistic::Mean) => {
                    assert!((s - sum).abs() <= sum_tol);
                    assert!((m - mean).abs() <= ulp, "{m} vs {mean}");
                }
                (
                    ColumnResult::Variance {
                        sum: s,
                        mean: m,
                        variance: v,
                        ..
                    },
                    Statistic::Variance,
                ) => {
                    assert!((s - sum).abs() <= sum_tol);
                    assert!((m - mean).abs() <= ulp);
                    assert!((v - var).abs() <= 1e-6 * var + 1e-3, "{v} vs {var}");
                }
                (
                    ColumnResult::Histogram { below, bins, above },
                    Statistic::Histogram { edges },
                ) => {
                    let k = edges.len() - 1;
                    let mut expect = vec![0u64; k + 2];
                    for &x in &values {
                        let slot = if x < edges[0] {
                            0
                        } else if x >= edges[k] {
                            if x == edges[k] { k } else { k + 1 }
                        } else {
                            (0..k).find(|&i| x >= edges[i] && x < edges[i + 1]).unwrap() + 1
                        };
                        expect[slot] += 1;
                    }
                    assert_eq!(*below, expect[0]);
                    assert_eq!(bins[..], expect[1..=k]);
                    assert_eq!(*above, expect[k + 1]);
                }
                other => panic!("unexpected result {other:?}"),
            }
        }
    }
}

fn statistics() -> Vec<Statistic> {
    vec![
        Statistic::Count,
        Statistic::Sum,
        Statistic::Mean,
        Statistic::Variance,
        Statistic::Histogram {
            edges: vec![-500.0, -100.0, 0.0, 250.0, 500.0],
        },
    ]
}

#[test]
fn every_statistic_matches_plaintext_and_transcripts_hide_inputs() {
    let mut seed = 0;
    for statistic in statistics() {
        for parties in [2, 5] {
            for grouped in [false, true] {
                seed += 1;
                let job = job(statistic.clone(), grouped, parties);
                let data = random_data(parties, grouped, seed);
                let (sets, transcripts) =
                    recording_mesh(&NAMES[..parties], &vec![usize::MAX; parties]);
                let results = run_all(&job, sets, &data);
                for (p, r) in results.iter().enumerate() {
                    let r = r.as_ref().unwrap_or_else(|e| panic!("party {p}: {e}"));
                    match r {
                        Some(result) => {
                            assert!(job.receivers.contains(&p));
                            check_against_plaintext(&job, &data, result);
                        }
                        None => assert!(!job.receivers.contains(&p)),
                    }
                }
                // No party received another's raw values or local aggregates.
                let scale = 2f64.powi(FRAC_BITS as i32);
                for (p, transcript) in transcripts.iter().enumerate() {
                    let frames = transcript.lock().unwrap();
                    for (q, d) in data.iter().enumerate().filter(|(q, _)| *q != p) {
                        for &x in d.columns.iter().flatten().filter(|x| x.abs() >= 1.0) {
                            let encoded = (x * scale).round() as i64 as u64;
                            assert!(
                                !contains_u64(&frames, encoded),
                                "party {p} saw a value of party {q}"
                            );
                        }
                        if matches!(
                            job.statistic,
                            Statistic::Sum | Statistic::Mean | Statistic::Variance
                        ) {
                            let local = tabulate(&job, d).unwrap();
                            for &v in &local[job.groups()..] {
                                assert!(
                                    !contains_u64(&frames, v),
                                    "party {p} saw an aggregate of party {q}"
                                );
                            }
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn suppressed_groups_are_never_opened() {
    let job = job(Statistic::Sum, true, 3);
    let data = random_data(3, true, 77);
    let (sets, transcripts) = recording_mesh(&NAMES[..3], &[usize::MAX; 3]);
    let job = StatsJob {
        receivers: vec![0],
        ..job
    };
    let results = run_all(&job, sets, &data);
    let result = results[0].as_ref().unwrap().as_ref().unwrap();
    assert_eq!(result.groups[2].outcome, GroupOutcome::Suppressed);
    // Opening statistics: two passing groups × two columns, never three groups.
    let frames = transcripts[0].lock().unwrap();
    assert!(frames.iter().any(|f| f.len() == 2 * 2 * 8));
    assert!(!frames.iter().any(|f| f.len() == 3 * 2 * 8));
}

#[test]
fn a_party_with_a_different_job_is_named() {
    let data = random_data(3, false, 5);
    let base = job(Statistic::Sum, false, 3);
    let (sets, _) = recording_mesh(&NAMES[..3], &[usize::MAX; 3]);
    let results = std::thread::scope(|s| {
        let handles: Vec<_> = sets
            .into_iter()
            .zip(&data)
            .enumerate()
            .map(|(i, (mut ps, d))| {
                let mut job = StatsJob {
                    receivers: vec![0],
                    ..base.clone()
                };
                if i == 1 {
                    job.min_group_size = 3;
                }
                s.spawn(move || run_statistics(&mut ps, &job, d, &mut rand::rng(), &mut |_| {}))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .collect::<Vec<_>>()
    });
    assert!(matches!(&results[0], Err(AggregateError::JobMismatch { peer }) if peer == "b"));
    assert!(
        matches!(&results[2], Err(AggregateError::JobMismatch { peer }) if peer == "b"),
        "{:?}",
        results[2]
    );
}

#[test]
fn a_party_that_disappears_stops_everyone_and_nothing_is_released() {
    let data = random_data(3, false, 9);
    let job = StatsJob {
        receivers: vec![0],
        ..job(Statistic::Mean, false, 3)
    };
    // Party c sends its job and its seeds, then dies before its count share.
    let (sets, _) = recording_mesh(&NAMES[..3], &[usize::MAX, usize::MAX, 2]);
    let results = run_all(&job, sets, &data);
    match &results[0] {
        Err(AggregateError::Net {
            source: NetError::Closed { peer },
            ..
        }) => assert_eq!(peer, "c"),
        other => panic!("receiver: {other:?}"),
    }
    match &results[1] {
        Err(AggregateError::Aborted { peer, reason, .. }) => {
            assert_eq!(peer, "a");
            assert!(reason.contains("peer c"), "{reason}");
        }
        other => panic!("non-receiver: {other:?}"),
    }
    assert!(results[2].is_err());
}

#[test]
fn a_sum_that_could_overflow_is_refused_not_wrapped() {
    let data: Vec<LocalData> = (0..3)
        .map(|_| LocalData::ungrouped(vec![vec![2f64.powi(40); 4]]))
        .collect();
    let job = StatsJob {
        statistic: Statistic::Sum,
        columns: vec!["x".into()],
        categories: None,
        receivers: vec![1],
        min_group_size: 1,
        frac_bits: 20,
        max_abs: 2f64.powi(41),
    };
    let (sets, _) = recording_mesh(&NAMES[..3], &[usize::MAX; 3]);
    let results = run_all(&job, sets, &data);
    assert!(matches!(
        &results[1],
        Err(AggregateError::Overflow { count: 12, .. })
    ));
    assert!(matches!(&results[0], Err(AggregateError::Aborted { peer, .. }) if peer == "b"));
    assert!(matches!(&results[2], Err(AggregateError::Aborted { .. })));
}

#[test]
fn out_of_range_input_names_row_and_column() {
    let job = job(Statistic::Sum, false, 2);
    let mut data = random_data(2, false, 3);
    data[0].columns[1][5] = 1e6;
    let (sets, _) = recording_mesh(&NAMES[..2], &[usize::MAX; 2]);
    let results = run_all(&job, sets, &data);
    assert!(matches!(
        &results[0],
        Err(AggregateError::OutOfRange {
            row: 5,
            column: 1,
            ..
        })
    ));
    // The other party is told nothing and stops on the closed link.
    assert!(results[1].is_err());
}

#[test]
fn bad_jobs_are_refused() {
    let mut j = job(Statistic::Sum, false, 2);
    j.receivers = vec![2];
    assert!(j.validate(2).is_err());
    j.receivers = vec![];
    assert!(j.validate(2).is_err());
    let j = job(
        Statistic::Histogram {
            edges: vec![1.0, 1.0],
        },
        false,
        2,
    );
    assert!(j.validate(2).is_err());
    assert!(job(Statistic::Sum, false, 2).validate(17).is_err());
}
