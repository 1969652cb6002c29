//! Statistics whose suppression is decided by secure comparison with a
//! dealer: results against the plaintext computation, the deciding
//! receiver's transcript (no suppressed count, in a frame or in anything
//! it opens), the dealer's transcript (shapes only), the row-total overflow
//! check.

use indomain_aggregate::AggregateError;
use indomain_aggregate::stats::{
    ColumnResult, CountDecision, GroupOutcome, LocalData, Statistic, StatsJob, StatsResult,
    run_statistics_with, serve_dealer,
};
use indomain_mpc::dealer::Request;
use indomain_net::memory::pair;
use indomain_net::wire::decode_msg;
use indomain_net::{Channel, Counters, NetError, PartySet};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use std::sync::{Arc, Mutex};

type Log = Arc<Mutex<Vec<Vec<u8>>>>;

/// A link that logs what it sends and what it receives.
struct Logged {
    inner: Box<dyn Channel>,
    sent: Log,
    received: Log,
}

impl Channel for Logged {
    fn send(&mut self, frame: &[u8]) -> Result<(), NetError> {
        self.sent.lock().unwrap().push(frame.to_vec());
        self.inner.send(frame)
    }
    fn recv(&mut self) -> Result<Vec<u8>, NetError> {
        let frame = self.inner.recv()?;
        self.received.lock().unwrap().push(frame.clone());
        Ok(frame)
    }
    fn peer(&self) -> &str {
        self.inner.peer()
    }
    fn counters(&self) -> Counters {
        self.inner.counters()
    }
}

/// Logs of every link: `logs[i][j]` = (sent, received) by party i to/from j.
type Logs = Vec<Vec<(Log, Log)>>;

fn logged_mesh(n: usize) -> (Vec<PartySet>, Logs) {
    let names: Vec<String> = (0..n).map(|i| format!("p{i}")).collect();
    let logs: Logs = (0..n)
        .map(|_| (0..n).map(|_| (Log::default(), Log::default())).collect())
        .collect();
    let mut links: Vec<Vec<Option<Box<dyn Channel>>>> =
        (0..n).map(|_| (0..n).map(|_| None).collect()).collect();
    for i in 0..n {
        for j in i + 1..n {
            let (a, b) = pair(&names[i], &names[j]);
            for (me, other, end) in [(i, j, Box::new(a) as Box<dyn Channel>), (j, i, Box::new(b))] {
                links[me][other] = Some(Box::new(Logged {
                    inner: end,
                    sent: logs[me][other].0.clone(),
                    received: logs[me][other].1.clone(),
                }));
            }
        }
    }
    let sets = links
        .into_iter()
        .enumerate()
        .map(|(me, row)| PartySet::new(me, names.clone(), row))
        .collect();
    (sets, logs)
}

/// Runs the data parties (every index but the last) and the dealer (the
/// last) in threads.
fn run(
    job: &StatsJob,
    sets: Vec<PartySet>,
    data: &[LocalData],
) -> Vec<Result<Option<StatsResult>, AggregateError>> {
    let dealer = sets.len() - 1;
    let decision = CountDecision::Compared { dealer };
    std::thread::scope(|s| {
        let handles: Vec<_> = sets
            .into_iter()
            .enumerate()
            .map(|(i, mut ps)| {
                let d = data.get(i);
                s.spawn(move || {
                    let mut rng = StdRng::seed_from_u64(200 + i as u64);
                    match d {
                        Some(d) => {
                            run_statistics_with(&mut ps, job, d, decision, &mut rng, &mut |_| {})
                        }
                        None => serve_dealer(&mut ps, &mut rng).map(|()| None),
                    }
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

const K: u64 = 50;

/// Rows per (party, group): north passes; south passes (others' rows 90
/// for a, 70 for c); rare has 41 rows in all; lopsided has 113, but only
/// 43 of them from parties other than receiver a.
const ROWS: [[usize; 4]; 3] = [[100, 40, 13, 70], [100, 30, 17, 21], [100, 60, 11, 22]];
const SUPPRESSED_TOTALS: [u64; 2] = [41, 113];
const OTHERS_FOR_A: [u64; 2] = [28, 43];

fn fixed_data(seed: u64) -> Vec<LocalData> {
    let mut rng = StdRng::seed_from_u64(seed);
    ROWS.iter()
        .map(|rows| {
            let groups: Vec<usize> = rows
                .iter()
                .enumerate()
                .flat_map(|(g, &n)| std::iter::repeat_n(g, n))
                .collect();
            let column = (0..groups.len())
                .map(|_| rng.random_range(-1000.0..1000.0))
                .collect();
            LocalData {
                groups,
                columns: vec![column],
            }
        })
        .collect()
}

/// [`fixed_data`] with the columns `job` reads.
fn data_for(job: &StatsJob, seed: u64) -> Vec<LocalData> {
    let mut data = fixed_data(seed);
    for d in &mut data {
        d.columns.truncate(job.columns.len());
    }
    data
}

fn job(statistic: Statistic) -> StatsJob {
    StatsJob {
        columns: if statistic == Statistic::Count {
            Vec::new()
        } else {
            vec!["amount".into()]
        },
        statistic,
        categories: Some(vec![
            "north".into(),
            "south".into(),
            "rare".into(),
            "lopsided".into(),
        ]),
        receivers: vec![0, 2],
        min_group_size: K,
        frac_bits: 16,
        max_abs: 1000.0,
    }
}

/// Which rows of group `g` each party holds, per party.
fn rows_of(data: &[LocalData], g: usize) -> Vec<Vec<usize>> {
    data.iter()
        .map(|d| (0..d.rows()).filter(|&r| d.groups[r] == g).collect())
        .collect()
}

/// Released iff, for every receiver, the other parties' counts reach K.
fn passes(job: &StatsJob, per_party: &[u64]) -> bool {
    let total: u64 = per_party.iter().sum();
    job.receivers.iter().all(|&r| total - per_party[r] >= K)
}

fn check(job: &StatsJob, data: &[LocalData], result: &StatsResult) {
    let ulp = 2f64.powi(-16);
    for (g, group) in result.groups.iter().enumerate() {
        let rows = rows_of(data, g);
        let per_party: Vec<u64> = rows.iter().map(|r| r.len() as u64).collect();
        let values: Vec<Vec<f64>> = rows
            .iter()
            .zip(data)
            .map(|(r, d)| {
                r.iter()
                    .filter_map(|&i| Some(d.columns.first()?[i]))
                    .collect()
            })
            .collect();
        let all: Vec<f64> = values.concat();
        let (count, columns) = match &group.outcome {
            GroupOutcome::Suppressed => {
                assert!(!passes(job, &per_party), "group {g} suppressed");
                continue;
            }
            GroupOutcome::Released { count, columns } => (*count, columns),
        };
        assert!(passes(job, &per_party), "group {g} released");
        assert_eq!(count, per_party.iter().sum::<u64>());
        let n = all.len() as f64;
        let sum: f64 = all.iter().sum();
        let mean = sum / n;
        let var = all.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
        match (columns.first(), &job.statistic) {
            (None, Statistic::Count) => {}
            (Some(ColumnResult::Sum { sum: s }), Statistic::Sum) => {
                assert!((s.to_f64() - sum).abs() <= n * ulp)
            }
            (Some(ColumnResult::Mean { mean: m, .. }), Statistic::Mean) => {
                assert!((m.to_f64() - mean).abs() <= ulp)
            }
            (Some(ColumnResult::Variance { variance: v, .. }), Statistic::Variance) => {
                assert!((v - var).abs() <= 1e-6 * var, "{v} vs {var}")
            }
            (
                Some(ColumnResult::Histogram { below, bins, above }),
                Statistic::Histogram { edges },
            ) => check_cells(job, edges, &values, below, bins, above),
            other => panic!("unexpected {other:?}"),
        }
    }
}

/// Every released cell is exact and passes for every receiver; a
/// suppressed cell fails, or is the one neighbour suppressed with a lone
/// failing cell; no column has exactly one suppressed cell.
fn check_cells(
    job: &StatsJob,
    edges: &[f64],
    values: &[Vec<f64>],
    below: &Option<u64>,
    bins: &[Option<u64>],
    above: &Option<u64>,
) {
    let cells = edges.len() + 1;
    let slot = |x: f64| {
        if x < edges[0] {
            0
        } else if x > edges[edges.len() - 1] {
            cells - 1
        } else {
            (1..edges.len())
                .find(|&i| x < edges[i])
                .unwrap_or(edges.len() - 1)
        }
    };
    // per cell, per party
    let mut counts = vec![vec![0u64; values.len()]; cells];
    for (p, vs) in values.iter().enumerate() {
        for &x in vs {
            counts[slot(x)][p] += 1;
        }
    }
    let got: Vec<Option<u64>> = std::iter::once(*below)
        .chain(bins.iter().copied())
        .chain(std::iter::once(*above))
        .collect();
    let failing: Vec<bool> = counts.iter().map(|c| !passes(job, c)).collect();
    let lone = (failing.iter().filter(|f| **f).count() == 1)
        .then(|| failing.iter().position(|f| *f).unwrap());
    let secondary = lone.map(|i| if i + 1 < cells { i + 1 } else { i - 1 });
    for (i, cell) in got.iter().enumerate() {
        let total: u64 = counts[i].iter().sum();
        match cell {
            Some(c) => {
                assert_eq!(*c, total);
                assert!(!failing[i]);
            }
            None => assert!(failing[i] || Some(i) == secondary, "cell {i}"),
        }
    }
    assert_ne!(got.iter().filter(|c| c.is_none()).count(), 1);
}

#[test]
fn every_statistic_matches_plaintext_with_the_compared_decision() {
    let histogram = Statistic::Histogram {
        edges: vec![-900.0, -200.0, 0.0, 300.0, 990.0],
    };
    for statistic in [
        Statistic::Count,
        Statistic::Sum,
        Statistic::Mean,
        Statistic::Variance,
        histogram,
    ] {
        let job = job(statistic);
        let data = data_for(&job, 7);
        let (sets, _) = logged_mesh(4);
        let results = run(&job, sets, &data);
        for (i, r) in results.iter().enumerate() {
            let r = r.as_ref().unwrap();
            assert_eq!(r.is_some(), job.receivers.contains(&i), "party {i}");
            if let Some(result) = r {
                check(&job, &data, result);
                let outcomes: Vec<bool> = result
                    .groups
                    .iter()
                    .map(|g| matches!(g.outcome, GroupOutcome::Released { .. }))
                    .collect();
                assert_eq!(outcomes, [true, true, false, false]);
            }
        }
    }
}

#[test]
fn histogram_cells_are_decided_by_comparison_with_secondary_suppression() {
    // Random values: some cells fall below K for some receiver.
    let job = job(Statistic::Histogram {
        edges: vec![-990.0, -950.0, -500.0, 0.0, 500.0, 950.0, 990.0],
    });
    for seed in 0..3 {
        let data = fixed_data(seed);
        let (sets, _) = logged_mesh(4);
        let results = run(&job, sets, &data);
        let result = results[2].as_ref().unwrap().as_ref().unwrap();
        check(&job, &data, result);
        let GroupOutcome::Released { columns, .. } = &result.groups[0].outcome else {
            panic!("north is released");
        };
        let ColumnResult::Histogram { bins, .. } = &columns[0] else {
            panic!("a histogram");
        };
        // The narrow bins near the edges hold about 6 of 300 rows each.
        assert!(bins.iter().any(Option::is_none) && bins.iter().any(Option::is_some));
    }
}

fn words(frame: &[u8]) -> Vec<u64> {
    frame
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

fn contains(frames: &[Vec<u8>], value: u64) -> bool {
    let (w8, w16) = (value.to_le_bytes(), (value as u128).to_le_bytes());
    frames
        .iter()
        .any(|f| f.windows(8).any(|w| w == w8) || f.windows(16).any(|w| w == w16))
}

#[test]
fn the_deciding_receiver_never_sees_or_opens_a_suppressed_count() {
    let job = job(Statistic::Count);
    let data = data_for(&job, 1);
    let (sets, logs) = logged_mesh(4);
    let results = run(&job, sets, &data);
    let result = results[0].as_ref().unwrap().as_ref().unwrap();
    check(&job, &data, result);
    let decider = &logs[0];
    let received: Vec<Vec<u8>> = decider
        .iter()
        .flat_map(|(_, r)| r.lock().unwrap().clone())
        .collect();
    // No frame carries a suppressed group's count or the other parties'
    // rows of it.
    for v in SUPPRESSED_TOTALS.into_iter().chain(OTHERS_FOR_A) {
        assert!(!contains(&received, v), "{v} in a frame");
    }
    for (_, r) in &decider[1..3] {
        // The last frame from each data party is its share of the released
        // counts (north and south), 16 bytes each: the opened decision sent
        // one of all four counts instead.
        assert_eq!(r.lock().unwrap().last().unwrap().len(), 2 * 16);
    }
    // Everything the decider opens with the other data parties: its own
    // share (the same frame to both) plus theirs, opening by opening.
    let (sent1, recv1) = (decider[1].0.lock().unwrap(), decider[1].1.lock().unwrap());
    let (sent2, recv2) = (decider[2].0.lock().unwrap(), decider[2].1.lock().unwrap());
    let mut openings = Vec::new();
    // Frames 0 and 1 are the job agreement and the seed.
    for i in 2..sent1.len() {
        assert_eq!(sent1[i], sent2[i], "an opening sends one share to all");
        let mut sum = words(&sent1[i]);
        for theirs in [words(&recv1[i]), words(&recv2[i])] {
            assert_eq!(theirs.len(), sum.len());
            for (s, t) in sum.iter_mut().zip(theirs) {
                *s = s.wrapping_add(t);
            }
        }
        openings.push(sum);
    }
    assert!(openings.len() >= 3, "masked values, products, verdicts");
    for opened in &openings {
        for v in SUPPRESSED_TOTALS.into_iter().chain(OTHERS_FOR_A) {
            assert!(!opened.contains(&v), "{v} opened");
        }
    }
    // The last opening is the verdicts: for each group, only its flag.
    assert_eq!(openings.last().unwrap(), &vec![1, 1, 0, 0]);
}

#[test]
fn the_dealer_receives_requests_for_shapes_only() {
    let job = job(Statistic::Sum);
    let data = fixed_data(3);
    let (sets, logs) = logged_mesh(4);
    let results = run(&job, sets, &data);
    assert!(results.iter().all(Result::is_ok));
    let dealer = &logs[3];
    // Only the leader (party 0) talks to the dealer, and only requests.
    for (j, (_, received)) in dealer.iter().enumerate() {
        let frames = received.lock().unwrap();
        if j != 0 {
            assert!(frames.is_empty(), "party {j} sent the dealer a frame");
            continue;
        }
        assert!(!frames.is_empty());
        for f in frames.iter() {
            let request: Request = decode_msg("p0", f).unwrap();
            assert!(
                matches!(
                    request,
                    Request::MaskedBits { .. } | Request::Triples { .. } | Request::Done
                ),
                "{request:?}"
            );
        }
        assert_eq!(
            decode_msg::<Request>("p0", frames.last().unwrap()).unwrap(),
            Request::Done
        );
    }
}

#[test]
fn a_row_total_that_could_overflow_stops_every_party_without_a_figure() {
    // Variance with 0 fractional bits and |x| ≤ 10^18: Σx² overflows from
    // about 170 rows. 300 rows in all: every data party stops.
    let job = StatsJob {
        frac_bits: 0,
        max_abs: 1e18,
        ..job(Statistic::Variance)
    };
    let mut data = fixed_data(5);
    let (sets, _) = logged_mesh(4);
    for d in &mut data {
        d.groups.truncate(100);
        d.columns[0].truncate(100);
    }
    let results = run(&job, sets, &data);
    for r in &results[..3] {
        match r {
            Err(AggregateError::RowsOverflow { what, bound }) => {
                assert_eq!(*what, "sum of squares");
                assert!((100..300).contains(bound), "{bound}");
            }
            other => panic!("expected an overflow, got {other:?}"),
        }
    }
    // 150 rows fit.
    let (sets, _) = logged_mesh(4);
    for d in &mut data {
        d.groups.truncate(50);
        d.columns[0].truncate(50);
    }
    let results = run(&job, sets, &data);
    assert!(results.iter().all(Result::is_ok));
}

#[test]
fn a_dealer_that_receives_or_holds_data_is_refused() {
    let data = fixed_data(1);
    let (mut sets, _) = logged_mesh(4);
    let mut rng = StdRng::seed_from_u64(1);
    let bad = StatsJob {
        receivers: vec![3],
        ..job(Statistic::Count)
    };
    let decision = CountDecision::Compared { dealer: 3 };
    let err = run_statistics_with(
        &mut sets[0],
        &bad,
        &data[0],
        decision,
        &mut rng,
        &mut |_| {},
    );
    assert!(
        matches!(err, Err(AggregateError::BadParameters(_))),
        "{err:?}"
    );
    let err = run_statistics_with(
        &mut sets[3],
        &job(Statistic::Count),
        &data[0],
        decision,
        &mut rng,
        &mut |_| {},
    );
    assert!(
        matches!(err, Err(AggregateError::BadParameters(_))),
        "{err:?}"
    );
}

#[test]
fn two_data_parties_compare_without_a_dealer() {
    for statistic in [Statistic::Count, Statistic::Mean] {
        let mut job = job(statistic);
        job.receivers = vec![0, 1];
        let mut data = data_for(&job, 7);
        data.truncate(2);
        let (sets, logs) = logged_mesh(2);
        let results: Vec<_> = std::thread::scope(|s| {
            let handles: Vec<_> = sets
                .into_iter()
                .zip(&data)
                .enumerate()
                .map(|(i, (mut ps, d))| {
                    let job = &job;
                    s.spawn(move || {
                        let mut rng = StdRng::seed_from_u64(300 + i as u64);
                        run_statistics_with(
                            &mut ps,
                            job,
                            d,
                            CountDecision::ComparedTwoParty,
                            &mut rng,
                            &mut |_| {},
                        )
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let mut released = 0;
        for r in results {
            let r = r.unwrap().unwrap();
            check(&job, &data, &r);
            released += r
                .groups
                .iter()
                .filter(|g| matches!(g.outcome, GroupOutcome::Released { .. }))
                .count();
        }
        // Some groups pass and some do not, at both receivers.
        assert!(released > 0 && released < 2 * 4, "{released}");
        // Both parties generated correlations: each received frames.
        for (i, l) in logs.iter().enumerate() {
            assert!(l[1 - i].1.lock().unwrap().len() > 10);
        }
    }
    // Three data parties cannot run it.
    let job = job(Statistic::Count);
    let data = data_for(&job, 7);
    let (mut sets, _) = logged_mesh(3);
    let mut rng = StdRng::seed_from_u64(1);
    let err = run_statistics_with(
        &mut sets[0],
        &job,
        &data[0],
        CountDecision::ComparedTwoParty,
        &mut rng,
        &mut |_| {},
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("exactly two data parties"),
        "{err}"
    );
}
