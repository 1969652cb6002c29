use indomain::aggregate::dp::{Clip, DpSpec};
use indomain::aggregate::stats::{
    ColumnResult, CountDecision, DpCalibration, GroupOutcome, LocalData, NoiseShare, Statistic,
    StatsJob, run_statistics_noised, tabulate_clipped,
};
use indomain::prelude::*;

fn main() -> Result<(), Error> {
    // Three banks' loan amounts (thousands) in two regions, 40 rows each.
    let regions = ["north", "south"];
    let data: Vec<LocalData> = (0..3)
        .map(|b| LocalData {
            groups: (0..40).map(|i| i % 2).collect(),
            columns: vec![(0..40).map(|i| ((7 * i + b) % 60) as f64).collect()],
        })
        .collect();
    // Sum of loans per region to bank 0, released with ε = 1 (δ = 10^-6),
    // values clipped to [0, 50]: no party, bank 0 included, sees a result
    // without noise, and groups of fewer than 10 noisy rows are suppressed.
    let job = StatsJob::new(Statistic::Sum, ["loans"], vec![0], 10).with_categories(regions);
    let spec = DpSpec {
        delta: 1e-6,
        ..DpSpec::new(1.0).with_clip(Clip::new(0.0, 50.0)?)
    };
    let out = local::run(&["bank-0", "bank-1", "bank-2"], |me, mut links| {
        let rng = &mut indomain::rand::rng();
        // Each bank draws its share of discrete Gaussian noise (exact
        // integer sampling), calibrated so that the noise of any one bank
        // alone protects a row even if the other two pool theirs.
        let calibration = DpCalibration::new(&job, &spec, 3)?;
        let noise = NoiseShare::draw(calibration, rng);
        let decision = CountDecision::NoisyCounts;
        let result = run_statistics_noised(
            &mut links,
            &job,
            &data[me],
            decision,
            &noise,
            rng,
            &mut |_| {},
        )?;
        // Kept here to check the release below; a real bank forgets it.
        Ok::<_, Error>((result, noise))
    })?;
    // The release is the exact result of the clipped values plus the
    // summed noise, exactly: counts first, then each group's sum.
    let mut exact_plus_noise = vec![0u128; out[0].1.values().len()];
    for (d, (_, noise)) in data.iter().zip(&out) {
        let local = tabulate_clipped(&job, d, spec.clip)?;
        for ((t, l), n) in exact_plus_noise.iter_mut().zip(&local).zip(noise.values()) {
            *t = t.wrapping_add(*l).wrapping_add(*n as u128);
        }
    }
    let result = out[0].0.as_ref().ok_or("bank 0 receives the result")?;
    for (g, group) in result.groups.iter().enumerate() {
        let GroupOutcome::Released { count, columns } = &group.outcome else {
            return Err("60 rows per region clear a threshold of 10".into());
        };
        let Some(ColumnResult::Sum { sum }) = columns.first() else {
            return Err("a sum per released group".into());
        };
        assert_eq!(*count as i128, exact_plus_noise[g] as i128);
        assert_eq!(sum.raw, exact_plus_noise[regions.len() + g] as i128);
    }
    assert!(out[1..].iter().all(|(r, _)| r.is_none()));
    Ok(())
}
