//! Secure statistics against the plaintext computation on the same random
//! data, for every statistic, 2 and 5 parties, with and without grouping;
//! suppression, transcripts, and failures.

mod common;

use common::{contains_u128, recording_mesh};
use indomain_aggregate::AggregateError;
use indomain_aggregate::stats::job::{DEFAULT_FRAC_BITS, DEFAULT_MAX_ABS};
use indomain_aggregate::stats::{
    ColumnResult, GroupOutcome, LocalData, Statistic, StatsJob, StatsResult, run_statistics,
    tabulate,
};
use indomain_core::fixed128::Fixed128;
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
        // Released iff, for every receiver, the others' rows reach k.
        let passes = job.receivers.iter().all(|&r| {
            let own = data[r].groups.iter().filter(|&&x| x == g).count() as u64;
            rows - own >= job.min_group_size
        });
        let (count, columns) = match &group.outcome {
            GroupOutcome::Suppressed => {
                assert!(!passes, "group {g} with {rows} rows was suppressed");
                continue;
            }
            GroupOutcome::Released { count, columns } => (*count, columns),
        };
        assert!(passes, "group {g} with {rows} rows was released");
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
                    assert!((s.to_f64() - sum).abs() <= sum_tol)
                }
                (ColumnResult::Mean { sum: s, mean: m }, Statistic::Mean) => {
                    assert!((s.to_f64() - sum).abs() <= sum_tol);
                    assert!((m.to_f64() - mean).abs() <= ulp, "{m} vs {mean}");
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
                    assert!((s.to_f64() - sum).abs() <= sum_tol);
                    assert!((m.to_f64() - mean).abs() <= ulp);
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
                    // Cells below the minimum group size are suppressed.
                    let shown: Vec<Option<u64>> = expect
                        .iter()
                        .map(|&c| (c >= job.min_group_size).then_some(c))
                        .collect();
                    assert_eq!(*below, shown[0]);
                    assert_eq!(bins[..], shown[1..=k]);
                    assert_eq!(*above, shown[k + 1]);
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
                let codec = Fixed128::new(FRAC_BITS).unwrap();
                for (p, transcript) in transcripts.iter().enumerate() {
                    let frames = transcript.lock().unwrap();
                    for (q, d) in data.iter().enumerate().filter(|(q, _)| *q != p) {
                        for &x in d.columns.iter().flatten().filter(|x| x.abs() >= 1.0) {
                            let encoded = codec.encode_decimal(x).unwrap();
                            assert!(
                                !contains_u128(&frames, encoded),
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
                                    !contains_u128(&frames, v),
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
    assert!(frames.iter().any(|f| f.len() == 2 * 2 * 16));
    assert!(!frames.iter().any(|f| f.len() == 3 * 2 * 16));
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
        Err(e @ AggregateError::Aborted { peer, .. }) => {
            assert_eq!(peer, "a");
            assert!(!e.to_string().contains("peer c"), "{e}");
        }
        other => panic!("non-receiver: {other:?}"),
    }
    assert!(results[2].is_err());
}

#[test]
fn an_abort_tells_non_receivers_no_count_and_no_group_name() {
    // Sums of squares of 12 values near 2^61 at 0 fractional bits exceed
    // 2^127: the decider aborts. Before #11 every party's error carried
    // the decider's reason, with the group's name and its count (12).
    let data: Vec<LocalData> = (0..3)
        .map(|_| LocalData {
            groups: vec![0; 4],
            columns: vec![vec![2f64.powi(61); 4]],
        })
        .collect();
    let job = StatsJob {
        statistic: Statistic::Variance,
        columns: vec!["x".into()],
        categories: Some(vec!["zebra".into()]),
        receivers: vec![1],
        min_group_size: 3,
        frac_bits: 0,
        max_abs: 2f64.powi(62),
    };
    let (sets, _) = recording_mesh(&NAMES[..3], &[usize::MAX; 3]);
    let results = run_all(&job, sets, &data);
    let decider = results[1].as_ref().unwrap_err();
    assert!(matches!(
        decider,
        AggregateError::Overflow { count: 12, .. }
    ));
    assert!(decider.to_string().contains("zebra"), "{decider}");
    for p in [0, 2] {
        let e = results[p].as_ref().unwrap_err();
        assert!(
            matches!(e, AggregateError::Aborted { peer, .. } if peer == "b"),
            "{e}"
        );
        let text = format!("{e} {e:?}");
        assert!(
            !text.contains("zebra") && !text.contains("12"),
            "party {p}: {text}"
        );
    }
}

#[test]
fn a_receivers_own_rows_do_not_count_towards_the_minimum() {
    // The receiver supplies k − 1 rows of "rare" and another party one:
    // k rows in all, but only one is not the receiver's, so it would learn
    // that row exactly. The group must be suppressed.
    let k = 5;
    let mut data: Vec<LocalData> = (0..3)
        .map(|_| LocalData {
            groups: vec![0; 20],
            columns: vec![vec![1.0; 20]],
        })
        .collect();
    data[0].groups.extend([1; 4]);
    data[0].columns[0].extend([0.0; 4]);
    data[2].groups.push(1);
    data[2].columns[0].push(123.45);
    let job = StatsJob {
        statistic: Statistic::Sum,
        columns: vec!["x".into()],
        categories: Some(vec!["common".into(), "rare".into()]),
        receivers: vec![0],
        min_group_size: k,
        frac_bits: 16,
        max_abs: 1000.0,
    };
    let (sets, _) = recording_mesh(&NAMES[..3], &[usize::MAX; 3]);
    let results = run_all(&job, sets, &data);
    let result = results[0].as_ref().unwrap().as_ref().unwrap();
    assert!(matches!(
        result.groups[0].outcome,
        GroupOutcome::Released { count: 60, .. }
    ));
    assert_eq!(result.groups[1].outcome, GroupOutcome::Suppressed);
}

#[test]
fn count_jobs_do_not_open_suppressed_counts_to_other_receivers() {
    // Receivers d (decider) and a; "rare" is suppressed. Receiver a gets
    // the counts of the two candidate groups (one 32-byte frame per other
    // party), never a frame with all three counts.
    let job = StatsJob {
        receivers: vec![3, 0],
        ..job(Statistic::Count, true, 5)
    };
    let data = random_data(5, true, 41);
    let (sets, transcripts) = recording_mesh(&NAMES[..5], &[usize::MAX; 5]);
    let results = run_all(&job, sets, &data);
    for r in [3, 0] {
        let result = results[r].as_ref().unwrap().as_ref().unwrap();
        check_against_plaintext(&job, &data, result);
        assert_eq!(result.groups[2].outcome, GroupOutcome::Suppressed);
    }
    let a = transcripts[0].lock().unwrap();
    assert_eq!(a.iter().filter(|f| f.len() == 2 * 16).count(), 4);
    assert!(!a.iter().any(|f| f.len() == 3 * 16));
    let d = transcripts[3].lock().unwrap();
    assert_eq!(d.iter().filter(|f| f.len() == 3 * 16).count(), 4);
}

#[test]
fn variance_of_amounts_with_cents_works_with_the_defaults() {
    // The scenario of issue #11: three parties, a few thousand amounts up
    // to ~1.2 million with cents, variance with the default encoding.
    // Before, the 64-bit ring refused it ("could exceed the fixed-point
    // range of the sum of squares").
    let mut rng = StdRng::seed_from_u64(11);
    let cents: Vec<Vec<i64>> = (0..3)
        .map(|_| {
            (0..rng.random_range(2000..4000))
                .map(|_| rng.random_range(-5_000i64..120_000_000))
                .collect()
        })
        .collect();
    let data: Vec<LocalData> = cents
        .iter()
        .map(|c| LocalData::ungrouped(vec![c.iter().map(|&v| v as f64 / 100.0).collect()]))
        .collect();
    let job = StatsJob {
        statistic: Statistic::Variance,
        columns: vec!["amount".into()],
        categories: None,
        receivers: vec![0],
        min_group_size: 10,
        frac_bits: DEFAULT_FRAC_BITS,
        max_abs: DEFAULT_MAX_ABS,
    };
    let (sets, _) = recording_mesh(&NAMES[..3], &[usize::MAX; 3]);
    let results = run_all(&job, sets, &data);
    let result = results[0].as_ref().unwrap().as_ref().unwrap();
    let GroupOutcome::Released { count, columns } = &result.groups[0].outcome else {
        panic!("suppressed")
    };
    let all: Vec<i128> = cents.iter().flatten().map(|&c| c as i128).collect();
    let n = all.len() as i128;
    assert_eq!(*count as i128, n);
    let ColumnResult::Variance { sum, variance, .. } = &columns[0] else {
        panic!("{columns:?}")
    };
    // The sum, exactly to the cent (decimal arithmetic on integer cents).
    let exact_cents: i128 = all.iter().sum();
    let got_cents = (sum.raw * 100 + (1 << (sum.frac_bits - 1))) >> sum.frac_bits;
    assert_eq!(got_cents, exact_cents);
    let printed = sum.to_string();
    let whole = exact_cents.div_euclid(100);
    let expected_prefix = format!("{whole}.{:02}", exact_cents.rem_euclid(100));
    assert!(
        printed.starts_with(&expected_prefix),
        "{printed} vs {expected_prefix}"
    );
    assert!(
        printed.len() - expected_prefix.len() <= 3,
        "{printed}: more digits than it holds"
    );
    // The variance to 1e-9 relative: (nΣc² − (Σc)²) / (n(n−1)) / 10^4.
    let squares: i128 = all.iter().map(|c| c * c).sum();
    let exact = (n * squares - exact_cents * exact_cents) as f64 / (n * (n - 1)) as f64 / 1e4;
    assert!(
        ((variance - exact) / exact).abs() < 1e-9,
        "{variance} vs {exact}"
    );
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
    for k in [0, 1, 2] {
        let mut j = job(Statistic::Count, false, 2);
        j.min_group_size = k;
        assert!(j.validate(2).is_err(), "k = {k}");
    }
    // 10^5 categories × 6·10^4 bin edges would be ~10^10 cells a party:
    // refused before anything is allocated.
    let mut j = job(
        Statistic::Histogram {
            edges: (0..60_000).map(f64::from).collect(),
        },
        false,
        2,
    );
    j.categories = Some((0..100_000).map(|c| format!("c{c}")).collect());
    let err = j.validate(2).unwrap_err().to_string();
    assert!(err.contains("cells"), "{err}");
}

#[test]
fn sums_of_amounts_are_exact_to_the_cent_whatever_their_parse_error() {
    // 987654321.03 parses to an f64 2.9·10^−8 below it: encoding the f64
    // put the sum of 210,000 of them 0.006 below the amount, a cent off
    // once rounded. The amount itself is encoded, so the sum is exact.
    let amount = "987654321.03";
    let x: f64 = amount.parse().unwrap();
    let data: Vec<LocalData> = (0..3)
        .map(|_| LocalData::ungrouped(vec![vec![x; 70_000]]))
        .collect();
    let job = StatsJob {
        statistic: Statistic::Sum,
        columns: vec!["amount".into()],
        categories: None,
        receivers: vec![0],
        min_group_size: 10,
        frac_bits: DEFAULT_FRAC_BITS,
        max_abs: DEFAULT_MAX_ABS,
    };
    let (sets, _) = recording_mesh(&NAMES[..3], &[usize::MAX; 3]);
    let results = run_all(&job, sets, &data);
    let result = results[0].as_ref().unwrap().as_ref().unwrap();
    let GroupOutcome::Released { columns, .. } = &result.groups[0].outcome else {
        panic!("suppressed")
    };
    let ColumnResult::Sum { sum, .. } = &columns[0] else {
        panic!("{columns:?}")
    };
    let exact_cents: i128 = 98_765_432_103 * 210_000;
    let got_cents = (sum.raw * 100 + (1 << (sum.frac_bits - 1))) >> sum.frac_bits;
    assert_eq!(got_cents, exact_cents, "{sum}");
    assert!(sum.to_string().starts_with("207407407416300.00"), "{sum}");
}
