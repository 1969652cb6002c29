//! Criterion benches of indomain-aggregate, every party in one process over
//! in-memory links (the QUIC figure of docs/benchmarks.md comes from
//! `examples/aggregate_sum_quic.rs`, the per-round secure-aggregation
//! figures from `examples/secagg.rs`).
//!
//!     cargo bench --bench aggregate

use criterion::{Criterion, criterion_group, criterion_main};
use indomain_aggregate::dp::sampler::discrete_gaussian;
use indomain_aggregate::dp::{Clip, DpSpec};
use indomain_aggregate::secagg::Params;
use indomain_aggregate::secagg::sim::{Dropout, simulate_round};
use indomain_aggregate::stats::{
    CountDecision, LocalData, Statistic, StatsJob, run_statistics, run_statistics_dp,
    run_statistics_with, serve_dealer,
};
use indomain_aggregate::sum::secure_sum;
use indomain_net::Limits;
use indomain_net::memory::mesh;
use rand::rngs::StdRng;
use rand::{Rng, RngExt, SeedableRng};

fn run_parties<T: Send>(
    n: usize,
    f: impl Fn(usize, &mut indomain_net::PartySet) -> T + Sync,
) -> Vec<T> {
    let names: Vec<String> = (0..n).map(|i| format!("p{i}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let sets = mesh(&names);
    std::thread::scope(|s| {
        let f = &f;
        let handles: Vec<_> = sets
            .into_iter()
            .enumerate()
            .map(|(i, mut ps)| s.spawn(move || f(i, &mut ps)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

fn secure_sum_bench(c: &mut Criterion) {
    let n = 1_000_000;
    let inputs: Vec<Vec<u64>> = (0..3)
        .map(|p| {
            let mut rng = StdRng::seed_from_u64(p);
            (0..n).map(|_| rng.next_u64()).collect()
        })
        .collect();
    let mut group = c.benchmark_group("secure_sum");
    group.sample_size(10);
    group.bench_function("3 parties x 10^6, in memory", |b| {
        b.iter(|| {
            run_parties(3, |i, ps| {
                secure_sum(ps, &inputs[i], &[0], &mut rand::rng()).unwrap()
            })
        })
    });
    // The same sum in Z_2^128, the ring of the statistics: twice the bytes
    // on the wire and twice the keystream per element.
    let wide: Vec<Vec<u128>> = inputs
        .iter()
        .map(|v| {
            v.iter()
                .map(|&x| u128::from(x) << 32 | u128::from(x))
                .collect()
        })
        .collect();
    group.bench_function("3 parties x 10^6, in memory, 128-bit ring", |b| {
        b.iter(|| {
            run_parties(3, |i, ps| {
                secure_sum(ps, &wide[i], &[0], &mut rand::rng()).unwrap()
            })
        })
    });
    group.finish();
}

fn statistics_bench(c: &mut Criterion) {
    let rows = 100_000;
    let data: Vec<LocalData> = (0..5)
        .map(|p| {
            let mut rng = StdRng::seed_from_u64(p);
            LocalData {
                groups: (0..rows).map(|_| rng.random_range(0..4)).collect(),
                columns: (0..2)
                    .map(|_| (0..rows).map(|_| rng.random_range(-1e3..1e3)).collect())
                    .collect(),
            }
        })
        .collect();
    let job = StatsJob {
        statistic: Statistic::Variance,
        columns: vec!["x".into(), "y".into()],
        categories: Some((0..4).map(|g| format!("g{g}")).collect()),
        receivers: vec![0],
        min_group_size: 10,
        frac_bits: 32,
        max_abs: 1e3,
    };
    let mut group = c.benchmark_group("statistics");
    group.sample_size(10);
    group.bench_function(
        "variance, 5 parties x 10^5 rows, 4 groups x 2 columns",
        |b| {
            b.iter(|| {
                run_parties(5, |i, ps| {
                    run_statistics(ps, &job, &data[i], &mut rand::rng(), &mut |_| {}).unwrap()
                })
            })
        },
    );
    group.finish();
}

/// The suppression decision of a count job, 3 data parties × 10^4 rows in
/// 10^3 groups, receivers p0 and p2: opened to the decider, or compared
/// with a dealer (a fourth thread).
fn decision_bench(c: &mut Criterion) {
    let (rows, groups) = (10_000, 1000);
    let data: Vec<LocalData> = (0..3)
        .map(|p| {
            let mut rng = StdRng::seed_from_u64(p);
            LocalData {
                groups: (0..rows).map(|_| rng.random_range(0..groups)).collect(),
                columns: Vec::new(),
            }
        })
        .collect();
    let job = StatsJob {
        statistic: Statistic::Count,
        columns: Vec::new(),
        categories: Some((0..groups).map(|g| format!("g{g}")).collect()),
        receivers: vec![0, 2],
        min_group_size: 20,
        frac_bits: 32,
        max_abs: 1e3,
    };
    let mut group = c.benchmark_group("statistics_decision");
    group.sample_size(10);
    group.bench_function("count, 3 parties, 10^3 groups, opened", |b| {
        b.iter(|| {
            run_parties(3, |i, ps| {
                run_statistics(ps, &job, &data[i], &mut rand::rng(), &mut |_| {}).unwrap()
            })
        })
    });
    let compared = CountDecision::Compared { dealer: 3 };
    group.bench_function("count, 3 parties + dealer, 10^3 groups, compared", |b| {
        b.iter(|| {
            run_parties(4, |i, ps| match data.get(i) {
                Some(d) => {
                    run_statistics_with(ps, &job, d, compared, &mut rand::rng(), &mut |_| {})
                        .unwrap()
                }
                None => serve_dealer(ps, &mut rand::rng()).map(|()| None).unwrap(),
            })
        })
    });
    group.finish();
}

/// Differential privacy: the exact discrete Gaussian sampler at a count's
/// σ and at a fixed-point sum's, and a mean job (3 parties × 10^6 rows,
/// 10^3 groups, decided by comparison with a dealer) without and with DP
/// (ε = 1, clip [0, 10^5]). `examples/dp_statistics.rs` runs the same job
/// alternately and measures the noise's error.
fn dp_bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("dp");
    let mut rng = StdRng::seed_from_u64(3);
    group.bench_function("discrete Gaussian sample, sigma 7", |b| {
        b.iter(|| discrete_gaussian(&mut rng, 7))
    });
    group.bench_function("discrete Gaussian sample, sigma 2^52", |b| {
        b.iter(|| discrete_gaussian(&mut rng, 1 << 52))
    });
    let (rows, groups) = (1_000_000, 1000);
    let data: Vec<LocalData> = (0..3)
        .map(|p| {
            let mut rng = StdRng::seed_from_u64(p);
            let groups: Vec<usize> = (0..rows).map(|_| rng.random_range(0..groups)).collect();
            let income = groups
                .iter()
                .map(|_| (rng.random_range(0.0..100_000.0f64) * 100.0).round() / 100.0)
                .collect();
            LocalData {
                groups,
                columns: vec![income],
            }
        })
        .collect();
    let job = StatsJob {
        statistic: Statistic::Mean,
        columns: vec!["income".into()],
        categories: Some((0..groups).map(|g| format!("g{g}")).collect()),
        receivers: vec![2],
        min_group_size: 20,
        frac_bits: 32,
        max_abs: 1e9,
    };
    let spec = DpSpec::new(1.0).with_clip(Clip::new(0.0, 100_000.0).unwrap());
    let compared = CountDecision::Compared { dealer: 3 };
    group.sample_size(10);
    for dp in [false, true] {
        let name = if dp {
            "mean, 3 parties x 10^6 rows, 10^3 groups, compared, DP epsilon 1"
        } else {
            "mean, 3 parties x 10^6 rows, 10^3 groups, compared, no DP"
        };
        group.bench_function(name, |b| {
            b.iter(|| {
                run_parties(4, |i, ps| {
                    let rng = &mut rand::rng();
                    match (data.get(i), dp) {
                        (Some(d), true) => {
                            run_statistics_dp(ps, &job, d, compared, &spec, rng, &mut |_| {})
                        }
                        (Some(d), false) => {
                            run_statistics_with(ps, &job, d, compared, rng, &mut |_| {})
                        }
                        (None, _) => serve_dealer(ps, rng).map(|()| None),
                    }
                    .unwrap()
                })
            })
        });
    }
    group.finish();
}

fn secagg_bench(c: &mut Criterion) {
    let (clients, len) = (10, 100_000);
    let params = Params::new(clients, len, 16, 1000.0).unwrap();
    let mut rng = StdRng::seed_from_u64(9);
    let inputs: Vec<Vec<f64>> = (0..clients)
        .map(|_| (0..len).map(|_| rng.random_range(-1.0..1.0)).collect())
        .collect();
    let mut plan = vec![Dropout::Never; clients];
    plan[3] = Dropout::BeforeMaskedInput;
    let mut group = c.benchmark_group("secagg");
    group.sample_size(10);
    group.bench_function("10 clients x 10^5, 1 dropout mid-round", |b| {
        b.iter(|| simulate_round(&params, &inputs, &plan, Limits::default()).unwrap())
    });
    group.finish();
}

criterion_group!(
    benches,
    secure_sum_bench,
    statistics_bench,
    decision_bench,
    dp_bench,
    secagg_bench
);
criterion_main!(benches);
