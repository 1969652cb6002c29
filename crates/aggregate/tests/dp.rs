//! Differential privacy in the secure statistics: the exact sampler
//! against its distribution, the parties' summed noise against the stated
//! distribution, the opened result against the exact one plus the summed
//! noise (every statistic, both decisions), clipping and suppression on
//! noisy counts against plaintext references, and bad specs refused before
//! anything is sent.

use indomain_aggregate::AggregateError;
use indomain_aggregate::dp::sampler::{discrete_gaussian, discrete_laplace};
use indomain_aggregate::dp::{Clip, DpSpec};
use indomain_aggregate::stats::{
    ColumnResult, CountDecision, DpCalibration, GroupOutcome, LocalData, NoiseShare, Statistic,
    StatsJob, StatsResult, run_statistics_dp, run_statistics_noised, run_statistics_with,
    serve_dealer, tabulate_clipped,
};
use indomain_net::memory::mesh;
use indomain_net::{Channel, Counters, NetError, PartySet};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// P[Y = y] of N_Z(0, s2) over |y| ≤ `reach`, normalised over the range
/// that holds all but a negligible mass.
fn discrete_gaussian_pmf(s2: f64, reach: i64) -> Vec<f64> {
    let weights: Vec<f64> = (-reach..=reach)
        .map(|y| (-(y * y) as f64 / (2.0 * s2)).exp())
        .collect();
    let total: f64 = weights.iter().sum();
    weights.iter().map(|w| w / total).collect()
}

/// Pearson's χ² of `samples` against `pmf` over -reach..=reach, cells with
/// expected counts below 20 pooled into the tails. Returns (χ², degrees of
/// freedom).
fn chi_square(samples: &[i128], pmf: &[f64], reach: i64) -> (f64, usize) {
    let n = samples.len() as f64;
    let mut observed = vec![0f64; pmf.len()];
    for &y in samples {
        let at = (y.clamp(-(reach as i128), reach as i128) + reach as i128) as usize;
        observed[at] += 1.0;
    }
    // Pool from both ends inward until each pooled cell expects ≥ 20.
    let mut cells: Vec<(f64, f64)> = Vec::new();
    let (mut o, mut e) = (0.0, 0.0);
    for (obs, p) in observed.iter().zip(pmf) {
        o += obs;
        e += p * n;
        if e >= 20.0 {
            cells.push((o, e));
            (o, e) = (0.0, 0.0);
        }
    }
    if let Some(last) = cells.last_mut() {
        last.0 += o;
        last.1 += e;
    }
    let stat = cells.iter().map(|(o, e)| (o - e).powi(2) / e).sum();
    (stat, cells.len() - 1)
}

/// The upper 10^−6 quantile of χ²(df), by the Wilson–Hilferty
/// approximation (z = 4.753).
fn chi_square_limit(df: usize) -> f64 {
    let k = df as f64;
    let z = 4.753;
    k * (1.0 - 2.0 / (9.0 * k) + z * (2.0 / (9.0 * k)).sqrt()).powi(3)
}

fn variance(samples: &[i128]) -> f64 {
    let n = samples.len() as f64;
    let mean = samples.iter().map(|&y| y as f64).sum::<f64>() / n;
    samples
        .iter()
        .map(|&y| (y as f64 - mean).powi(2))
        .sum::<f64>()
        / (n - 1.0)
}

#[test]
fn the_discrete_gaussian_sampler_matches_its_distribution() {
    let mut rng = StdRng::seed_from_u64(22);
    let sigma = 5u128;
    let samples: Vec<i128> = (0..1_000_000)
        .map(|_| discrete_gaussian(&mut rng, sigma))
        .collect();
    let reach = 40;
    let pmf = discrete_gaussian_pmf(25.0, reach);
    let exact_var: f64 = pmf
        .iter()
        .zip(-reach..=reach)
        .map(|(p, y)| p * (y * y) as f64)
        .sum();
    // The variance of 10^6 samples has a relative standard error of
    // √(2/10^6) ≈ 0.0014: allow five of them.
    let var = variance(&samples);
    assert!(
        (var / exact_var - 1.0).abs() < 0.007,
        "{var} vs {exact_var}"
    );
    let mean = samples.iter().sum::<i128>() as f64 / samples.len() as f64;
    assert!(mean.abs() < 5.0 * 5.0 / 1000.0, "mean {mean}");
    let (stat, df) = chi_square(&samples, &pmf, reach);
    assert!(stat < chi_square_limit(df), "χ² = {stat} with {df} df");
    // A symmetric distribution: as many positive as negative samples.
    let positive = samples.iter().filter(|&&y| y > 0).count() as f64;
    let negative = samples.iter().filter(|&&y| y < 0).count() as f64;
    assert!((positive - negative).abs() < 5.0 * (positive + negative).sqrt());

    // Large σ, as in fixed-point units: the variance is σ² to within the
    // sampling error (10^5 samples: 0.45 % standard error).
    let big = 1u128 << 40;
    let samples: Vec<i128> = (0..100_000)
        .map(|_| discrete_gaussian(&mut rng, big))
        .collect();
    let ratio = variance(&samples) / (big as f64).powi(2);
    assert!((ratio - 1.0).abs() < 0.025, "{ratio}");
    // And the largest σ the sampler takes works.
    let y = discrete_gaussian(&mut rng, 1 << 100);
    assert!(y.unsigned_abs() < 1 << 110);
}

#[test]
fn the_discrete_laplace_proposal_matches_its_distribution() {
    let mut rng = StdRng::seed_from_u64(23);
    let t = 3u128;
    let samples: Vec<i128> = (0..200_000)
        .map(|_| discrete_laplace(&mut rng, t))
        .collect();
    let reach = 40i64;
    let weights: Vec<f64> = (-reach..=reach)
        .map(|x| (-(x.abs() as f64) / 3.0).exp())
        .collect();
    let total: f64 = weights.iter().sum();
    let pmf: Vec<f64> = weights.iter().map(|w| w / total).collect();
    let (stat, df) = chi_square(&samples, &pmf, reach);
    assert!(stat < chi_square_limit(df), "χ² = {stat} with {df} df");
}

fn count_job(groups: usize) -> StatsJob {
    StatsJob {
        statistic: Statistic::Count,
        columns: Vec::new(),
        categories: Some((0..groups).map(|g| format!("g{g}")).collect()),
        receivers: vec![0],
        min_group_size: 3,
        frac_bits: 16,
        max_abs: 1000.0,
    }
}

#[test]
fn the_sum_of_the_parties_noise_shares_has_the_stated_distribution() {
    // Three parties each draw a share for 200 000 group counts; a larger
    // coalition-free calibration (two honest of three) keeps σ small.
    let job = count_job(200_000);
    let spec = DpSpec {
        coalition: Some(1),
        ..DpSpec::new(3.0)
    };
    let calibration = DpCalibration::new(&job, &spec, 3).unwrap();
    let sigma = calibration.count_sigma();
    assert!((2..10).contains(&sigma), "σ = {sigma}");
    assert_eq!(calibration.honest(), 2);
    let mut rng = StdRng::seed_from_u64(24);
    let shares: Vec<NoiseShare> = (0..3)
        .map(|_| NoiseShare::draw(calibration.clone(), &mut rng))
        .collect();
    let sums: Vec<i128> = (0..200_000)
        .map(|g| shares.iter().map(|s| s.values()[g]).sum())
        .collect();
    // Stated: close to N_Z(0, 3σ²) (KLS21: the sum of discrete Gaussians
    // differs from one by τ ≈ 10·e^{−π²σ²}, invisible here), with variance
    // exactly three times one share's.
    let s2 = 3.0 * (sigma * sigma) as f64;
    let reach = (12.0 * s2.sqrt()) as i64;
    let pmf = discrete_gaussian_pmf(s2, reach);
    let exact_var: f64 = pmf
        .iter()
        .zip(-reach..=reach)
        .map(|(p, y)| p * (y * y) as f64)
        .sum();
    let var = variance(&sums);
    assert!(
        (var / exact_var - 1.0).abs() < 0.016,
        "{var} vs {exact_var}"
    );
    let (stat, df) = chi_square(&sums, &pmf, reach);
    assert!(stat < chi_square_limit(df), "χ² = {stat} with {df} df");
    // The stated noise scale is the total's standard deviation.
    let scale = calibration.noise_scale(&job.statistic);
    assert!((scale.count - s2.sqrt()).abs() < 1e-9);
}

const K: u64 = 20;

/// Four regions; rows per (party, region) put "edge" near the minimum.
const ROWS: [[usize; 4]; 3] = [[60, 8, 5, 40], [50, 7, 4, 45], [70, 6, 3, 55]];

/// Every party's rows: incomes between −50 and 250 around clip [0, 200],
/// with two decimals, and a second column (none for a count).
fn dataset_for(job: &StatsJob, seed: u64) -> Vec<LocalData> {
    let mut data = dataset(seed);
    for d in &mut data {
        d.columns.truncate(job.columns.len());
    }
    data
}

fn dataset(seed: u64) -> Vec<LocalData> {
    let mut rng = StdRng::seed_from_u64(seed);
    ROWS.iter()
        .map(|rows| {
            let groups: Vec<usize> = rows
                .iter()
                .enumerate()
                .flat_map(|(g, &n)| std::iter::repeat_n(g, n))
                .collect();
            let mut column = || -> Vec<f64> {
                (0..groups.len())
                    .map(|_| (rng.random_range(-50.0..250.0f64) * 100.0).round() / 100.0)
                    .collect()
            };
            let columns = vec![column(), column()];
            LocalData { groups, columns }
        })
        .collect()
}

fn job(statistic: Statistic) -> StatsJob {
    StatsJob {
        columns: match statistic {
            Statistic::Count => Vec::new(),
            _ => vec!["income".into(), "spend".into()],
        },
        statistic,
        categories: Some(vec![
            "north".into(),
            "edge".into(),
            "small".into(),
            "south".into(),
        ]),
        receivers: vec![0, 1],
        min_group_size: K,
        frac_bits: 20,
        max_abs: 1000.0,
    }
}

fn clip() -> Clip {
    Clip::new(0.0, 200.0).unwrap()
}

/// Runs the data parties (and, with `Compared`, a dealer as the last
/// party) with the given noise shares.
fn run_noised(
    job: &StatsJob,
    data: &[LocalData],
    decision: CountDecision,
    noise: &[NoiseShare],
) -> Vec<Result<Option<StatsResult>, AggregateError>> {
    let names = ["a", "b", "c", "dealer"];
    let n = data.len() + usize::from(matches!(decision, CountDecision::Compared { .. }));
    let sets = mesh(&names[..n]);
    std::thread::scope(|s| {
        let handles: Vec<_> = sets
            .into_iter()
            .enumerate()
            .map(|(i, mut ps)| {
                s.spawn(move || {
                    let mut rng = StdRng::seed_from_u64(300 + i as u64);
                    match data.get(i) {
                        Some(d) => run_statistics_noised(
                            &mut ps,
                            job,
                            d,
                            decision,
                            &noise[i],
                            &mut rng,
                            &mut |_| {},
                        ),
                        None => serve_dealer(&mut ps, &mut rng).map(|()| None),
                    }
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

/// The exact clipped aggregates of every party plus every party's noise,
/// as signed integers in the layout of the local aggregates.
fn expected_totals(job: &StatsJob, data: &[LocalData], noise: &[NoiseShare]) -> Vec<i128> {
    let mut total: Vec<u128> = vec![0; noise[0].values().len()];
    for (d, share) in data.iter().zip(noise) {
        let local = tabulate_clipped(job, d, Some(clip())).unwrap();
        for ((t, l), n) in total.iter_mut().zip(&local).zip(share.values()) {
            *t = t.wrapping_add(*l).wrapping_add(*n as u128);
        }
    }
    total.into_iter().map(|v| v as i128).collect()
}

fn noise_for(job: &StatsJob, spec: &DpSpec, parties: usize, seed: u64) -> Vec<NoiseShare> {
    let calibration = DpCalibration::new(job, spec, parties).unwrap();
    let mut rng = StdRng::seed_from_u64(seed);
    (0..parties)
        .map(|_| NoiseShare::draw(calibration.clone(), &mut rng))
        .collect()
}

/// Checks that every released value is exactly the expected noisy total
/// and that a group is released iff its noisy count reaches K (cells
/// likewise, without the compared decision's secondary suppression).
fn check_exact_plus_noise(job: &StatsJob, result: &StatsResult, expected: &[i128], compared: bool) {
    let groups = job.groups();
    let width = job.group_width();
    for (g, group) in result.groups.iter().enumerate() {
        let noisy_count = expected[g];
        let (count, columns) = match &group.outcome {
            GroupOutcome::Suppressed => {
                assert!(noisy_count < K as i128, "{}: {noisy_count}", group.group);
                continue;
            }
            GroupOutcome::Released { count, columns } => (*count, columns),
        };
        assert!(noisy_count >= K as i128, "{}: {noisy_count}", group.group);
        assert_eq!(count as i128, noisy_count, "{}", group.group);
        let segment = &expected[groups + g * width..groups + (g + 1) * width];
        for (c, column) in columns.iter().enumerate() {
            let per = job.statistic.per_column();
            let at = &segment[c * per..(c + 1) * per];
            match column {
                ColumnResult::Sum { sum } => assert_eq!(sum.raw, at[0]),
                ColumnResult::Mean { sum, mean } => {
                    assert_eq!(sum.raw, at[0]);
                    assert_eq!(*mean, sum.div_round(count));
                }
                ColumnResult::Variance {
                    sum, sum_squares, ..
                } => {
                    assert_eq!((sum.raw, sum_squares.raw), (at[0], at[1]));
                }
                ColumnResult::Histogram { below, bins, above } => {
                    let cells: Vec<Option<u64>> = std::iter::once(*below)
                        .chain(bins.iter().copied())
                        .chain(std::iter::once(*above))
                        .collect();
                    for (cell, &want) in cells.iter().zip(at) {
                        match cell {
                            Some(v) => assert_eq!(*v as i128, want),
                            // Compared: a second cell may go with a
                            // suppressed one.
                            None => assert!(compared || want < K as i128, "{want}"),
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn opened_results_are_the_exact_ones_plus_the_summed_noise() {
    let histogram = Statistic::Histogram {
        edges: vec![0.0, 50.0, 100.0, 150.0, 200.0],
    };
    let spec = DpSpec::new(2.0).with_clip(clip());
    for (s, statistic) in [
        Statistic::Count,
        Statistic::Sum,
        Statistic::Mean,
        Statistic::Variance,
        histogram,
    ]
    .into_iter()
    .enumerate()
    {
        let job = job(statistic);
        let data = dataset_for(&job, 1);
        for compared in [false, true] {
            let decision = if compared {
                CountDecision::Compared { dealer: 3 }
            } else {
                CountDecision::NoisyCounts
            };
            let noise = noise_for(&job, &spec, 3, 40 + s as u64);
            let expected = expected_totals(&job, &data, &noise);
            let results = run_noised(&job, &data, decision, &noise);
            let outcome: Vec<_> = results.into_iter().map(Result::unwrap).collect();
            // Receivers a and b get the same result; c and the dealer none.
            let result = outcome[0].as_ref().expect("a receives");
            assert_eq!(outcome[1].as_ref(), Some(result));
            assert!(outcome[2].is_none());
            check_exact_plus_noise(&job, result, &expected, compared);
        }
    }
}

#[test]
fn clipping_equals_the_plaintext_reference() {
    // Without noise of its own: the opened sum minus the summed noise is
    // the plaintext sum of the clipped values (to the encoding's rounding).
    let data = dataset(2);
    let job = job(Statistic::Sum);
    let spec = DpSpec::new(1.0).with_clip(clip());
    let noise = noise_for(&job, &spec, 3, 50);
    let results = run_noised(&job, &data, CountDecision::NoisyCounts, &noise);
    let result = results[0].as_ref().unwrap().as_ref().unwrap();
    let width = job.group_width();
    let groups = job.groups();
    for (g, group) in result.groups.iter().enumerate() {
        let GroupOutcome::Released { columns, .. } = &group.outcome else {
            continue;
        };
        for (c, column) in columns.iter().enumerate() {
            let ColumnResult::Sum { sum } = column else {
                panic!("not a sum")
            };
            let noise_sum: i128 = noise
                .iter()
                .map(|n| n.values()[groups + g * width + c])
                .sum();
            let opened = (sum.raw - noise_sum) as f64 / 2f64.powi(20);
            let plain: f64 = data
                .iter()
                .flat_map(|d| {
                    (0..d.rows())
                        .filter(move |&r| d.groups[r] == g)
                        .map(move |r| d.columns[c][r].clamp(0.0, 200.0))
                })
                .sum();
            let rows = data.iter().map(|d| d.rows()).sum::<usize>() as f64;
            assert!(
                (opened - plain).abs() <= rows * 2f64.powi(-21),
                "{}: {opened} vs {plain}",
                group.group
            );
        }
    }
    // Some values were outside the bounds (and beyond no refusal).
    assert!(data.iter().any(|d| d.columns[0].iter().any(|&x| x < 0.0)));
}

#[test]
fn suppression_on_noisy_counts_matches_a_plaintext_reference() {
    // A small ε makes the noise on counts large against K = 20, so that
    // groups near the minimum go either way; over several seeds both
    // outcomes occur, and each matches the reference given the same noise.
    let job = job(Statistic::Count);
    let data = dataset_for(&job, 3);
    let mut outcomes = std::collections::BTreeSet::new();
    for seed in 0..6 {
        let spec = DpSpec::new(0.05);
        let noise = noise_for(&job, &spec, 3, 60 + seed);
        let expected = expected_totals(&job, &data, &noise);
        for decision in [
            CountDecision::NoisyCounts,
            CountDecision::Compared { dealer: 3 },
        ] {
            let results = run_noised(&job, &data, decision, &noise);
            let result = results[0].as_ref().unwrap().as_ref().unwrap();
            for (g, group) in result.groups.iter().enumerate() {
                let released = matches!(group.outcome, GroupOutcome::Released { .. });
                assert_eq!(released, expected[g] >= K as i128, "{decision:?} {g}");
                outcomes.insert((g, released));
            }
        }
    }
    // "edge" (21 rows) and "small" (12 rows) went both ways.
    for g in [1, 2] {
        assert!(
            outcomes.contains(&(g, true)) && outcomes.contains(&(g, false)),
            "{g}"
        );
    }
}

/// A link that fails every send and receive: a job that reaches the
/// network with it fails with a network error, not a parameter error.
struct Dead(String);

impl Channel for Dead {
    fn send(&mut self, _: &[u8]) -> Result<(), NetError> {
        Err(NetError::Closed {
            peer: self.0.clone(),
        })
    }
    fn recv(&mut self) -> Result<Vec<u8>, NetError> {
        Err(NetError::Closed {
            peer: self.0.clone(),
        })
    }
    fn peer(&self) -> &str {
        &self.0
    }
    fn counters(&self) -> Counters {
        Counters::default()
    }
}

fn dead_set() -> PartySet {
    let names: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
    let links = (0..3)
        .map(|j| (j != 0).then(|| Box::new(Dead(names[j].clone())) as Box<dyn Channel>))
        .collect();
    PartySet::new(0, names, links)
}

#[test]
fn bad_specs_are_refused_before_anything_is_sent() {
    let sum = job(Statistic::Sum);
    let data = &dataset(4)[0];
    let count_data = &dataset_for(&job(Statistic::Count), 4)[0];
    let clip = clip();
    let refused = |job: &StatsJob, decision, spec: DpSpec| {
        let mut set = dead_set();
        let mut rng = StdRng::seed_from_u64(5);
        let data = if job.columns.is_empty() {
            count_data
        } else {
            data
        };
        run_statistics_dp(&mut set, job, data, decision, &spec, &mut rng, &mut |_| {})
            .unwrap_err()
            .to_string()
    };
    let noisy = CountDecision::NoisyCounts;
    for epsilon in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let e = refused(&sum, noisy, DpSpec::new(epsilon).with_clip(clip));
        assert!(e.contains("epsilon"), "{e}");
    }
    let e = refused(&sum, noisy, DpSpec::new(1.0));
    assert!(e.contains("clip bounds"), "{e}");
    let wide = DpSpec::new(1.0).with_clip(Clip {
        lo: -5.0,
        hi: 5000.0,
    });
    let e = refused(&sum, noisy, wide);
    assert!(e.contains("declared range"), "{e}");
    let backwards = DpSpec::new(1.0).with_clip(Clip { lo: 5.0, hi: 1.0 });
    assert!(refused(&sum, noisy, backwards).contains("clip bounds"));
    let all = DpSpec {
        coalition: Some(3),
        ..DpSpec::new(1.0).with_clip(clip)
    };
    assert!(refused(&sum, noisy, all).contains("coalition"));
    let e = refused(
        &sum,
        CountDecision::OpenedToDecider,
        DpSpec::new(1.0).with_clip(clip),
    );
    assert!(e.contains("noisy counts"), "{e}");
    // A comparison cannot take the count noise of a tiny ε and δ (σ of
    // about 0.4/δ rows).
    let tiny = DpSpec {
        delta: 1e-12,
        ..DpSpec::new(1e-9)
    };
    let e = refused(
        &job(Statistic::Count),
        CountDecision::Compared { dealer: 2 },
        tiny,
    );
    assert!(e.contains("secure comparison"), "{e}");
    // The noisy-count decision without DP.
    let mut set = dead_set();
    let e = run_statistics_with(
        &mut set,
        &sum,
        data,
        CountDecision::NoisyCounts,
        &mut StdRng::seed_from_u64(6),
        &mut |_| {},
    )
    .unwrap_err();
    assert!(matches!(e, AggregateError::BadParameters(_)), "{e}");
    // A good spec does reach the network.
    let e = refused(&sum, noisy, DpSpec::new(1.0).with_clip(clip));
    assert!(e.contains("closed") || e.contains("job agreement"), "{e}");
}

#[test]
fn parties_with_different_dp_specs_do_not_run() {
    let data = dataset(5);
    let job = job(Statistic::Mean);
    let sets = mesh(&["a", "b", "c"]);
    let results: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = sets
            .into_iter()
            .enumerate()
            .map(|(i, mut ps)| {
                let (job, data) = (&job, &data);
                s.spawn(move || {
                    // Party c asks for a larger ε.
                    let epsilon = if i == 2 { 2.0 } else { 1.0 };
                    let spec = DpSpec::new(epsilon).with_clip(clip());
                    let mut rng = StdRng::seed_from_u64(i as u64);
                    run_statistics_dp(
                        &mut ps,
                        job,
                        &data[i],
                        CountDecision::NoisyCounts,
                        &spec,
                        &mut rng,
                        &mut |_| {},
                    )
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for r in results {
        assert!(r.is_err());
    }
}
