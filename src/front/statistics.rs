use indomain::aggregate::stats::{
    ColumnResult, CountDecision, GroupOutcome, LocalData, Statistic, StatsJob, run_statistics_with,
    serve_dealer,
};
use indomain::prelude::*;

fn main() -> Result<(), Error> {
    // Three hospitals' stays (days) by region; each has 4 rows in the north,
    // 3 in the south and 1 in the east. Party 3 deals correlated randomness
    // and holds no data.
    let regions = ["north", "south", "east"];
    let data: Vec<LocalData> = (0..3)
        .map(|h| {
            let groups: Vec<usize> = [0, 0, 0, 0, 1, 1, 1, 2].to_vec();
            let days = groups
                .iter()
                .enumerate()
                .map(|(i, &g)| (h + i + 2 * g) as f64)
                .collect();
            LocalData {
                groups,
                columns: vec![days],
            }
        })
        .collect();
    // Mean stay per region, to hospital 0, released where the other
    // hospitals hold at least 5 of the region's rows: the east's 2 do not.
    let job = StatsJob::new(Statistic::Mean, ["days"], vec![0], 5).with_categories(regions);
    let dealer = 3;
    let parties = ["hospital-0", "hospital-1", "hospital-2", "dealer"];
    let out = local::run(&parties, |me, mut links| {
        let rng = &mut indomain::rand::rng();
        if me == dealer {
            serve_dealer(&mut links, rng)?;
            return Ok(None);
        }
        // Suppression decided by secure comparison: no party learns the
        // count of a suppressed group.
        let decision = CountDecision::Compared { dealer };
        run_statistics_with(&mut links, &job, &data[me], decision, rng, &mut |_| {})
    })?;
    let result = out[0].as_ref().ok_or("hospital 0 receives the result")?;
    for (g, group) in result.groups.iter().enumerate() {
        let days: Vec<f64> = data
            .iter()
            .flat_map(|d| d.groups.iter().zip(&d.columns[0]))
            .filter(|(row, _)| **row == g)
            .map(|(_, v)| *v)
            .collect();
        match (&group.outcome, group.group.as_str()) {
            (GroupOutcome::Suppressed, "east") => {}
            (GroupOutcome::Released { count, columns }, "north" | "south") => {
                let Some(ColumnResult::Mean { mean, .. }) = columns.first() else {
                    return Err("a mean per released group".into());
                };
                let plain = days.iter().sum::<f64>() / days.len() as f64;
                assert_eq!(*count as usize, days.len());
                assert!((mean.to_f64() - plain).abs() < 1e-6, "{mean} vs {plain}");
            }
            other => return Err(format!("unexpected {other:?}").into()),
        }
    }
    assert!(out[1..].iter().all(Option::is_none));
    Ok(())
}
