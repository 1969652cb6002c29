//! Secure aggregation for horizontal federated learning, every party in one
//! process: one server and many clients (a thread each) over in-memory
//! links, with clients dropping out mid-round (after sharing their secrets,
//! before sending their masked update).
//!
//! Prints time per round, bytes per client and the neighbourhood size for
//! the configurations of docs/benchmarks.md:
//!
//!     cargo run --release --example secagg            # 10 × 10^5 (1 drop), 100 × 10^5 (10% drop)
//!     cargo run --release --example secagg -- 20 1000 2   # clients, length, dropouts

use indomain::aggregate::secagg::Params;
use indomain::aggregate::secagg::sim::{Dropout, simulate_round};
use indomain::net::Limits;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use std::time::Instant;

const ROUNDS: usize = 5;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse())
        .collect::<Result<_, _>>()?;
    let configs: Vec<(usize, usize, usize)> = match args[..] {
        [clients, len, dropouts] => vec![(clients, len, dropouts)],
        _ => vec![(10, 100_000, 1), (100, 100_000, 10)],
    };
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load average at start: {}", load.trim());
    for (clients, len, dropouts) in configs {
        run(clients, len, dropouts)?;
    }
    Ok(())
}

fn run(clients: usize, len: usize, dropouts: usize) -> Result<(), Box<dyn std::error::Error>> {
    let mut params = Params::new(clients, len, 16, 1000.0)?;
    let mut rng = StdRng::seed_from_u64(1);
    let inputs: Vec<Vec<f64>> = (0..clients)
        .map(|_| (0..len).map(|_| rng.random_range(-1.0..1.0)).collect())
        .collect();
    // Spread the dropouts over the client ids.
    let mut plan = vec![Dropout::Never; clients];
    for i in 0..dropouts {
        plan[i * clients / dropouts.max(1)] = Dropout::BeforeMaskedInput;
    }
    let mut times = Vec::with_capacity(ROUNDS);
    let mut last = None;
    for round in 0..ROUNDS as u64 {
        params.round = round;
        let start = Instant::now();
        let outcome = simulate_round(&params, &inputs, &plan, Limits::default())?;
        times.push(start.elapsed().as_secs_f64());
        last = Some(outcome);
    }
    let outcome = last.ok_or("no round ran")?;
    // Check the released sum against the plaintext sum of the survivors.
    let worst = (0..len)
        .map(|i| {
            let want: f64 = outcome.output.survivors.iter().map(|&u| inputs[u][i]).sum();
            (outcome.output.sum[i] - want).abs()
        })
        .fold(0.0, f64::max);
    let survivors = &outcome.output.survivors;
    let bytes: Vec<u64> = survivors
        .iter()
        .map(|&u| outcome.client_bytes[u].sent + outcome.client_bytes[u].received)
        .collect();
    let per_client = bytes.iter().sum::<u64>() as f64 / bytes.len() as f64;
    times.sort_by(f64::total_cmp);
    println!(
        "{clients} clients × {len} values, {} dropped mid-round: median {:.3} s per round (min {:.3}, max {:.3}, {ROUNDS} rounds); \
         neighbours k = {}, threshold t = {}; per surviving client {:.0} bytes sent+received ({:.2}× its masked vector); \
         server received {} bytes; max error vs plaintext {worst:.2e}",
        outcome.output.dropped.len(),
        times[ROUNDS / 2],
        times[0],
        times[ROUNDS - 1],
        params.neighbours,
        params.threshold,
        per_client,
        per_client / (len as f64 * 8.0),
        outcome.server_bytes.received,
    );
    Ok(())
}
