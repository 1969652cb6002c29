//! Differentially private statistics, every party in one process (a thread
//! each, over in-memory links): three agencies release the mean income of
//! each of their regions with ε = 1, and a histogram of incomes, each party
//! adding its share of discrete Gaussian noise to its secret share before
//! anything is opened. It then measures two things:
//!
//! 1. what DP costs: the same mean job with and without DP, in the same
//!    suppression mode — the dealer's secure comparison in both, or, with
//!    no dealer, counts opened to the decider (noisy with DP) — run
//!    alternately, wall time and the process's CPU time;
//! 2. what DP's noise does: the error of every released mean and histogram
//!    cell against the exact value (which this example, holding every
//!    party's rows, can compute), next to the analytic standard deviation.
//!
//!     cargo run --release --example dp_statistics -- [ROWS] [GROUPS] [RUNS]
//!
//! (defaults: 10^6 rows a party, 10^3 groups, 5 runs of each).

use indomain::aggregate::dp::{Clip, DpSpec};
use indomain::aggregate::stats::{
    ColumnResult, CountDecision, DpCalibration, GroupOutcome, LocalData, Statistic, StatsJob,
    StatsResult, run_statistics_dp, run_statistics_with, serve_dealer,
};
use indomain::net::memory::mesh;
use indomain::rand;
use indomain::rand::rngs::StdRng;
use indomain::rand::{RngExt, SeedableRng};
use std::time::Instant;

const PARTIES: [&str; 4] = ["tax", "health", "stats-office", "dealer"];
const HIGH: f64 = 100_000.0;

fn main() {
    let arg = |i: usize, default: usize| {
        std::env::args()
            .nth(i)
            .and_then(|a| a.parse().ok())
            .unwrap_or(default)
    };
    let (rows, groups, runs) = (arg(1, 1_000_000), arg(2, 1000), arg(3, 5));
    let data: Vec<LocalData> = (0..3u64)
        .map(|p| {
            let mut rng = StdRng::seed_from_u64(p);
            let groups: Vec<usize> = (0..rows).map(|_| rng.random_range(0..groups)).collect();
            // Incomes with cents, a region's mean rising with its index.
            let income = groups
                .iter()
                .map(|&g| {
                    let centre = 20_000.0 + 60_000.0 * g as f64 / groups.len().max(1) as f64;
                    ((centre + rng.random_range(-15_000.0..15_000.0)) * 100.0).round() / 100.0
                })
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
        categories: Some((0..groups).map(|g| format!("region {g}")).collect()),
        receivers: vec![2],
        min_group_size: 20,
        frac_bits: 32,
        max_abs: 1e9,
    };
    let spec = DpSpec::new(1.0).with_clip(Clip::new(0.0, HIGH).expect("bounds"));
    let compared = CountDecision::Compared { dealer: 3 };
    println!(
        "3 data parties × {rows} rows, {groups} groups, mean income; decision: secure comparison with a dealer"
    );

    // 1. Cost: alternate runs with and without DP, in each decision mode:
    // the dealer's comparison (on noisy counts with DP), and without a
    // dealer the opened counts (noisy with DP: the noisy-count decision).
    let modes = [
        ("secure comparison", compared, compared),
        (
            "opened counts",
            CountDecision::OpenedToDecider,
            CountDecision::NoisyCounts,
        ),
    ];
    for (m, (name, without, with)) in modes.into_iter().enumerate() {
        let mut plain = Vec::new();
        let mut private = Vec::new();
        for run in 0..runs {
            for dp in [false, true] {
                let cpu = cpu_seconds();
                let start = Instant::now();
                let decision = if dp { with } else { without };
                let result = run_job(&job, &data, decision, dp.then_some(&spec));
                let sample = (start.elapsed().as_secs_f64(), cpu_seconds() - cpu);
                assert!(result.groups.len() == groups);
                if dp { &mut private } else { &mut plain }.push(sample);
                if run == 0 && dp && m == 0 {
                    report_mean_error(&job, &data, &spec, &result);
                }
            }
        }
        let (pw, dw) = (median(&plain, false), median(&private, false));
        // CPU time is counted in 10 ms ticks: compare the totals.
        let total = |v: &[(f64, f64)]| v.iter().map(|s| s.1).sum::<f64>();
        let (pc, dc) = (total(&plain), total(&private));
        println!(
            "cost ({name}), {runs} alternating runs: median wall without DP {pw:.3} s, with DP {dw:.3} s (DP/plain {:.3}); total CPU without {pc:.2} s, with {dc:.2} s (DP/plain {:.3})",
            dw / pw,
            dc / pc
        );
    }

    // 2. Histogram error at ε = 1, noisy-count decision (no dealer).
    let edges: Vec<f64> = (0..=10).map(|i| i as f64 * HIGH / 10.0).collect();
    let histogram = StatsJob {
        statistic: Statistic::Histogram {
            edges: edges.clone(),
        },
        ..job.clone()
    };
    let result = run_job(&histogram, &data, CountDecision::NoisyCounts, Some(&spec));
    report_histogram_error(&histogram, &data, &spec, &result, &edges);
}

/// The median wall (or CPU) seconds of `samples`.
fn median(samples: &[(f64, f64)], cpu: bool) -> f64 {
    let mut xs: Vec<f64> = samples
        .iter()
        .map(|s| if cpu { s.1 } else { s.0 })
        .collect();
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// Runs `job` with the three agencies and, with a compared decision, the
/// dealer; returns the receiver's result.
fn run_job(
    job: &StatsJob,
    data: &[LocalData],
    decision: CountDecision,
    dp: Option<&DpSpec>,
) -> StatsResult {
    let names = match decision {
        CountDecision::Compared { .. } => &PARTIES[..],
        _ => &PARTIES[..3],
    };
    let sets = mesh(names);
    let results: Vec<Option<StatsResult>> = std::thread::scope(|s| {
        let handles: Vec<_> = sets
            .into_iter()
            .enumerate()
            .map(|(i, mut parties)| {
                let rows = data.get(i);
                s.spawn(move || {
                    let rng = &mut rand::rng();
                    match (rows, dp) {
                        (Some(rows), Some(spec)) => run_statistics_dp(
                            &mut parties,
                            job,
                            rows,
                            decision,
                            spec,
                            rng,
                            &mut |_| {},
                        ),
                        (Some(rows), None) => {
                            run_statistics_with(&mut parties, job, rows, decision, rng, &mut |_| {})
                        }
                        (None, _) => serve_dealer(&mut parties, rng).map(|()| None),
                    }
                    .expect("the job runs")
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a party"))
            .collect()
    });
    results.into_iter().flatten().next().expect("a result")
}

/// Exact (count, sum of clipped values) per group.
fn exact_sums(data: &[LocalData], groups: usize) -> Vec<(f64, f64)> {
    let mut out = vec![(0.0, 0.0); groups];
    for d in data {
        for (&g, &x) in d.groups.iter().zip(&d.columns[0]) {
            out[g].0 += 1.0;
            out[g].1 += x.clamp(0.0, HIGH);
        }
    }
    out
}

fn report_mean_error(job: &StatsJob, data: &[LocalData], spec: &DpSpec, result: &StatsResult) {
    let calibration = DpCalibration::new(job, spec, 3).expect("calibration");
    let scale = calibration.noise_scale(&job.statistic);
    let sum_sd = scale.sum.expect("a sum");
    let exact = exact_sums(data, job.groups());
    let (mut squares, mut analytic, mut released) = (0.0, 0.0, 0usize);
    for (group, &(n, s)) in result.groups.iter().zip(&exact) {
        let GroupOutcome::Released { columns, .. } = &group.outcome else {
            continue;
        };
        let Some(ColumnResult::Mean { mean, .. }) = columns.first() else {
            continue;
        };
        let error = mean.to_f64() - s / n;
        squares += error * error;
        // Delta method: sd(S'/N') ≈ √(σ_S² + μ²σ_N²) / N.
        analytic += (sum_sd.powi(2) + (s / n).powi(2) * scale.count.powi(2)) / (n * n);
        released += 1;
    }
    println!(
        "mean at ε = {:.4} (asked {}, δ = {}): RMS error {:.2} over {released} groups of ~{:.0} rows, analytic sd {:.2}; noise sd: count {:.2} rows, sum {:.4e}",
        calibration.epsilon(),
        spec.epsilon,
        spec.delta,
        (squares / released as f64).sqrt(),
        exact.iter().map(|e| e.0).sum::<f64>() / exact.len() as f64,
        (analytic / released as f64).sqrt(),
        scale.count,
        sum_sd
    );
}

fn report_histogram_error(
    job: &StatsJob,
    data: &[LocalData],
    spec: &DpSpec,
    result: &StatsResult,
    edges: &[f64],
) {
    let calibration = DpCalibration::new(job, spec, 3).expect("calibration");
    let sd = calibration.noise_scale(&job.statistic).cell.expect("cells");
    let cells = edges.len() + 1;
    let mut exact = vec![vec![0i64; cells]; job.groups()];
    for d in data {
        for (&g, &x) in d.groups.iter().zip(&d.columns[0]) {
            let x = x.clamp(edges[0], edges[edges.len() - 1]);
            let bin = 1 + edges[1..]
                .iter()
                .position(|&e| x < e)
                .unwrap_or(edges.len() - 2);
            exact[g][bin] += 1;
        }
    }
    // Cells far above the minimum are released whatever the noise: their
    // error is the noise alone. Cells near or below it are released only
    // when the noise lifts them over it (a selection), counted apart.
    let populated = job.min_group_size as f64 + 5.0 * sd;
    let (mut squares, mut count, mut worst) = (0.0, 0usize, 0f64);
    let (mut lifted, mut small) = (0usize, 0usize);
    for (group, want) in result.groups.iter().zip(&exact) {
        let GroupOutcome::Released { columns, .. } = &group.outcome else {
            continue;
        };
        let Some(ColumnResult::Histogram { below, bins, above }) = columns.first() else {
            continue;
        };
        let got = std::iter::once(below).chain(bins).chain([above]);
        for (cell, &w) in got.zip(want) {
            if (w as f64) < populated {
                small += 1;
                lifted += usize::from(cell.is_some());
                continue;
            }
            if let Some(v) = cell {
                let e = *v as f64 - w as f64;
                squares += e * e;
                worst = worst.max(e.abs());
                count += 1;
            }
        }
    }
    println!(
        "histogram (10 bins) at ε = {:.4}: RMS error {:.2} rows over the {count} cells with at least {populated:.0} rows, analytic sd {sd:.2} rows; largest |error| {worst:.0} (99.9 % bound for one cell {:.1}, for the largest of {count} {:.1}); {lifted} of the {small} cells with fewer rows released (noisy count ≥ {})",
        calibration.epsilon(),
        (squares / count.max(1) as f64).sqrt(),
        3.29 * sd,
        sd * normal_max_quantile(count),
        job.min_group_size
    );
}

/// z such that the largest |N(0, 1)| of `n` stays below z with
/// probability 0.999 (bisection on 1 − (1 − 2Q(z))^n = 0.001).
fn normal_max_quantile(n: usize) -> f64 {
    // Q(z) by the complementary error function's continued-fraction-free
    // bound: Q(z) ≈ φ(z)/z (1 − 1/z²), accurate to 1 % above z = 3.
    let q = |z: f64| {
        (-z * z / 2.0).exp() / (z * (2.0 * std::f64::consts::PI).sqrt()) * (1.0 - 1.0 / (z * z))
    };
    let (mut lo, mut hi) = (3.0f64, 10.0f64);
    for _ in 0..60 {
        let z = (lo + hi) / 2.0;
        if 1.0 - (1.0 - 2.0 * q(z)).powi(n as i32) > 0.001 {
            lo = z;
        } else {
            hi = z;
        }
    }
    hi
}

/// User + system CPU seconds of this process.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after ')'.
    (ticks(11) + ticks(12)) / 100.0
}
