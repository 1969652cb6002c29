//! N-party secure statistics, every party in one process (a thread each,
//! over in-memory links): five agencies compute the mean and variance of
//! income by region without any of them seeing another's rows. A region
//! with fewer than 20 rows from the agencies other than the receiver is
//! suppressed for everyone. A sixth party, the dealer, holds no data: with
//! it, suppression is decided by a secure comparison of the shared counts,
//! so no one learns a suppressed region's count either.
//!
//!     cargo run --release --example aggregate

use indomain::aggregate::stats::{
    ColumnResult, CountDecision, GroupOutcome, LocalData, Statistic, StatsJob, run_statistics_with,
    serve_dealer,
};
use indomain::net::memory::mesh;
use indomain::rand;
use indomain::rand::rngs::StdRng;
use indomain::rand::{RngExt, SeedableRng};

const AGENCIES: [&str; 5] = ["tax", "health", "labour", "housing", "stats-office"];
/// The party list: the agencies, then the dealer.
const PARTIES: [&str; 6] = [
    "tax",
    "health",
    "labour",
    "housing",
    "stats-office",
    "dealer",
];
const REGIONS: [&str; 4] = ["north", "south", "east", "islands"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Each agency's own rows: a region index and an income.
    let data: Vec<LocalData> = (0..AGENCIES.len() as u64)
        .map(|a| {
            let mut rng = StdRng::seed_from_u64(a);
            let rows = 1000;
            // "islands" is rare: only the first agency has rows there.
            let groups: Vec<usize> = (0..rows)
                .map(|r| {
                    if a == 0 && r < 3 {
                        3
                    } else {
                        rng.random_range(0..3)
                    }
                })
                .collect();
            let income = groups
                .iter()
                .map(|&g| 20_000.0 + 5_000.0 * g as f64 + rng.random_range(-8_000.0..8_000.0))
                .collect();
            LocalData {
                groups,
                columns: vec![income],
            }
        })
        .collect();
    let job = StatsJob {
        statistic: Statistic::Variance,
        columns: vec!["income".into()],
        categories: Some(REGIONS.iter().map(|r| r.to_string()).collect()),
        // The statistics office alone receives the result.
        receivers: vec![4],
        min_group_size: 20,
        // Incomes up to 100 000 with 8 fractional bits: sums of squares of
        // up to 2^63 / (10^10 · 2^8) ≈ 3.6 million rows fit the ring.
        frac_bits: 8,
        max_abs: 100_000.0,
    };
    let decision = CountDecision::Compared { dealer: 5 };
    let sets = mesh(&PARTIES);
    let results = std::thread::scope(|s| {
        let handles: Vec<_> = sets
            .into_iter()
            .enumerate()
            .map(|(i, mut parties)| {
                let (job, rows) = (&job, data.get(i));
                s.spawn(move || match rows {
                    Some(rows) => run_statistics_with(
                        &mut parties,
                        job,
                        rows,
                        decision,
                        &mut rand::rng(),
                        &mut |_| {},
                    ),
                    None => serve_dealer(&mut parties, &mut rand::rng()).map(|()| None),
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().map_err(|_| "a party panicked"))
            .collect::<Result<Vec<_>, _>>()
    })?;
    for (party, result) in PARTIES.iter().zip(results) {
        let Some(result) = result? else {
            if *party == "dealer" {
                println!("{party}: holds no data, saw only the sizes of its requests");
            } else {
                println!("{party}: not a receiver, learns only which regions were released");
            }
            continue;
        };
        println!("{party} receives:");
        for group in result.groups {
            match group.outcome {
                GroupOutcome::Suppressed => {
                    println!(
                        "  {:8} suppressed (fewer than 20 rows from the others)",
                        group.group
                    )
                }
                GroupOutcome::Released { count, columns } => {
                    if let Some(ColumnResult::Variance { mean, variance, .. }) = columns.first() {
                        println!(
                            "  {:8} {count:5} rows, mean income {mean:9.2}, standard deviation {:8.2}",
                            group.group,
                            variance.sqrt()
                        );
                    }
                }
            }
        }
    }
    Ok(())
}
