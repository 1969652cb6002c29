//! Horizontal FedAvg logistic regression over SecAgg+, every party in one
//! process: a server and N clients (a thread each) over in-memory links;
//! one client vanishes in the middle of round 3. Prints each round's
//! survivors, the final model next to plaintext FedAvg with the same
//! participation, each client's held-out AUC, time and bytes.
//!
//!     cargo run --release --example fedavg               # 8 clients, 10 rounds
//!     cargo run --release --example fedavg -- 20 5       # clients, rounds

use indomain::learn::TrainParams;
use indomain::learn::data::split;
use indomain::learn::horizontal::{FedAvgParams, plain_fedavg, run_client, run_server};
use indomain::learn::metrics::auc;
use indomain::learn::plain::{scores, sigmoid};
use indomain::ndarray;
use indomain::ndarray::Array2;
use indomain::net::memory::{MemoryChannel, pair};
use indomain::net::{Channel, Counters, NetError};
use indomain::rand;
use indomain::rand::rngs::StdRng;
use indomain::rand::{RngExt, SeedableRng};
use std::time::Instant;

const FEATURES: usize = 10;

/// A client's rows: a shared true model, client-specific feature shifts.
fn client_rows(c: usize, rows: usize, truth: &[f64]) -> (Array2<f64>, Vec<f64>) {
    let mut rng = StdRng::seed_from_u64(c as u64);
    let shift: f64 = rng.random_range(-0.5..0.5);
    let x = Array2::from_shape_fn((rows, FEATURES), |_| rng.random_range(-1.0..1.0) + shift);
    let y = x
        .rows()
        .into_iter()
        .map(|r| {
            let s: f64 = r.iter().zip(truth).map(|(a, w)| a * w).sum();
            f64::from(rng.random_range(0.0..1.0) < sigmoid(2.0 * s))
        })
        .collect();
    (x, y)
}

/// A client link that fails every send after `left` frames.
struct Vanishing(MemoryChannel, usize);

impl Channel for Vanishing {
    fn send(&mut self, frame: &[u8]) -> Result<(), NetError> {
        if self.1 == 0 {
            return Err(NetError::Closed {
                peer: self.0.peer().to_string(),
            });
        }
        self.1 -= 1;
        self.0.send(frame)
    }
    fn recv(&mut self) -> Result<Vec<u8>, NetError> {
        self.0.recv()
    }
    fn peer(&self) -> &str {
        self.0.peer()
    }
    fn counters(&self) -> Counters {
        self.0.counters()
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse())
        .collect::<Result<_, _>>()?;
    let (clients, rounds) = match args[..] {
        [c, r] => (c, r),
        _ => (8, 10),
    };
    let truth: Vec<f64> = (0..FEATURES).map(|j| (j as f64 - 4.5) / 3.0).collect();
    let data: Vec<_> = (0..clients)
        .map(|c| client_rows(c, 2_000 + 500 * c, &truth))
        .collect();
    let parts: Vec<_> = data
        .iter()
        .map(|(x, _)| split(x.nrows(), 0.25, 1))
        .collect();
    let train: Vec<(Array2<f64>, Vec<f64>)> = data
        .iter()
        .zip(&parts)
        .map(|((x, y), p)| {
            (
                x.select(ndarray::Axis(0), &p.train),
                p.train.iter().map(|&r| y[r]).collect(),
            )
        })
        .collect();
    let params = FedAvgParams {
        clients,
        features: FEATURES,
        rounds,
        local: TrainParams::gradient_descent(2, 0.5),
        frac_bits: 20,
        max_abs: 1e9,
        dp: None,
    };
    // The last client sends its keys and shares in round 3, then vanishes.
    let drop_client = clients - 1;
    let (mut server_ends, client_ends): (Vec<MemoryChannel>, Vec<MemoryChannel>) = (0..clients)
        .map(|c| pair("server", &format!("client {c}")))
        .unzip();
    let start = Instant::now();
    let (outcome, client_bytes) = std::thread::scope(|s| {
        let handles: Vec<_> = client_ends
            .into_iter()
            .enumerate()
            .map(|(c, ch)| {
                let (x, y) = &train[c];
                let params = &params;
                s.spawn(move || {
                    let left = if c == drop_client {
                        4 * 2 + 2
                    } else {
                        usize::MAX
                    };
                    let mut link = Vanishing(ch, left);
                    let model = run_client(&mut link, c, params, x.view(), y, &mut rand::rng());
                    (model, link.counters())
                })
            })
            .collect();
        let outcome = run_server(
            &mut server_ends,
            &params,
            &mut rand::rng(),
            &mut |r, info| {
                println!(
                    "round {:>2}: {} clients averaged ({} rows), dropped {:?}",
                    r + 1,
                    info.survivors.len(),
                    info.rows,
                    info.dropped
                )
            },
        );
        drop(server_ends);
        let bytes: Vec<Counters> = handles
            .into_iter()
            .filter_map(|h| h.join().ok())
            .map(|(_, b)| b)
            .collect();
        (outcome, bytes)
    });
    let outcome = outcome?;
    let seconds = start.elapsed().as_secs_f64();
    let plan: Vec<Vec<usize>> = outcome.rounds.iter().map(|r| r.survivors.clone()).collect();
    let views: Vec<_> = train
        .iter()
        .map(|(x, y)| (x.view(), y.as_slice()))
        .collect();
    let reference = plain_fedavg(&views, &params, &plan)?;
    let gap = outcome
        .model
        .weights
        .iter()
        .zip(&reference.weights)
        .map(|(a, b)| (a - b).abs())
        .fold(
            (outcome.model.intercept - reference.intercept).abs(),
            f64::max,
        );
    println!("largest |secure − plaintext FedAvg| over weights and intercept: {gap:.2e}");
    for (c, ((x, y), p)) in data.iter().zip(&parts).enumerate() {
        let xt = x.select(ndarray::Axis(0), &p.test);
        let yt: Vec<f64> = p.test.iter().map(|&r| y[r]).collect();
        let s = scores(xt.view(), &outcome.model.weights, outcome.model.intercept);
        println!("client {c}: held-out AUC {:.4}", auc(&s, &yt));
    }
    let mean_sent = client_bytes.iter().map(|b| b.sent).sum::<u64>() as f64 / clients as f64;
    println!(
        "{clients} clients × {FEATURES} features, {rounds} rounds: {seconds:.2} s; a client sent {:.1} kB on average",
        mean_sent / 1e3
    );
    Ok(())
}
