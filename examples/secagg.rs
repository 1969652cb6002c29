//! Secure aggregation for horizontal federated learning, every party in one
//! process: one server and many clients (a thread each) over in-memory
//! links, with clients dropping out mid-round (after sharing their secrets,
//! before sending their masked update).
//!
//! Prints time per round, bytes per client, the neighbourhood size and the
//! threat it was chosen for, and the process's peak memory, for the
//! configurations of docs/benchmarks.md:
//!
//!     cargo run --release --example secagg            # 10 × 10^5 (1 drop), 100 × 10^5 (10% drop)
//!     cargo run --release --example secagg -- 20 1000 2   # clients, length, dropouts
//!     cargo run --release --example secagg -- --clients 1000 --len 10000 --dropout 0.1
//!     cargo run --release --example secagg -- --clients 1000 --len 10000 --dropout 0.1 --unsigned
//!
//! Rounds are signed (signed keys and the consistency-check round against a
//! malicious server) unless `--unsigned` asks for the semi-honest protocol.

use indomain::aggregate::secagg::sim::{Dropout, simulate_round_in};
use indomain::aggregate::secagg::{Mode, Params, Threat};
use indomain::net::Limits;
use indomain::rand::rngs::StdRng;
use indomain::rand::{RngExt, SeedableRng};
use std::time::Instant;

const ROUNDS: usize = 5;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mode = if args.iter().any(|a| a == "--unsigned") {
        Mode::Unsigned
    } else {
        Mode::Signed
    };
    args.retain(|a| a != "--unsigned");
    let configs: Vec<(usize, usize, usize, usize)> =
        if args.first().is_some_and(|a| a.starts_with("--")) {
            let flag = |name: &str| -> Result<Option<f64>, Box<dyn std::error::Error>> {
                match args.iter().position(|a| a == name) {
                    Some(i) => Ok(Some(
                        args.get(i + 1)
                            .ok_or(format!("{name} needs a value"))?
                            .parse()?,
                    )),
                    None => Ok(None),
                }
            };
            let clients = flag("--clients")?.unwrap_or(1000.0) as usize;
            let len = flag("--len")?.unwrap_or(10_000.0) as usize;
            let dropout = flag("--dropout")?.unwrap_or(0.1);
            let rounds = flag("--rounds")?.unwrap_or(3.0) as usize;
            vec![(
                clients,
                len,
                (dropout * clients as f64).round() as usize,
                rounds.max(1),
            )]
        } else {
            let numbers: Vec<usize> = args.iter().map(|a| a.parse()).collect::<Result<_, _>>()?;
            match numbers[..] {
                [clients, len, dropouts] => vec![(clients, len, dropouts, ROUNDS)],
                _ => vec![(10, 100_000, 1, ROUNDS), (100, 100_000, 10, ROUNDS)],
            }
        };
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load average at start: {}", load.trim());
    for (clients, len, dropouts, rounds) in configs {
        run(clients, len, dropouts, rounds, mode)?;
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    if let Some(peak) = status.lines().find(|l| l.starts_with("VmHWM")) {
        println!(
            "peak resident memory of the process (server and every client): {}",
            peak[6..].trim()
        );
    }
    Ok(())
}

fn run(
    clients: usize,
    len: usize,
    dropouts: usize,
    rounds: usize,
    mode: Mode,
) -> Result<(), Box<dyn std::error::Error>> {
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
    let mut times = Vec::with_capacity(rounds);
    let mut last = None;
    for round in 0..rounds as u64 {
        params.round = round;
        let start = Instant::now();
        let outcome = simulate_round_in(&params, &inputs, &plan, Limits::default(), mode)?;
        times.push(start.elapsed().as_secs_f64());
        last = Some(outcome);
    }
    let outcome = last.ok_or("no round ran")?;
    println!(
        "server: {:.3} s of its own work in the last round (the rest is waiting for the clients, which run in this process too); \
         at most {:.1} MB of round state; {} reader threads",
        outcome.server.compute.as_secs_f64(),
        outcome.server.peak_state_bytes as f64 / 1e6,
        outcome.server.readers,
    );
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
        "{mode:?} rounds, {clients} clients × {len} values, {} dropped mid-round: median {:.3} s per round (min {:.3}, max {:.3}, {rounds} rounds); \
         neighbours k = {}, threshold t = {} ({}); per surviving client {:.0} bytes sent+received ({:.2}× its masked vector); \
         server received {} bytes; max error vs plaintext {worst:.2e}",
        outcome.output.left_out.len(),
        times[rounds / 2],
        times[0],
        times[rounds - 1],
        params.neighbours,
        params.threshold,
        if clients <= 16 {
            "complete graph".to_string()
        } else {
            format!("chosen for {}", Threat::DEFAULT)
        },
        per_client,
        per_client / (len as f64 * 8.0),
        outcome.server_bytes.received,
    );
    Ok(())
}
