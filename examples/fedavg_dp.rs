//! FedAvg with distributed differential privacy: how accurate the model is
//! at ε = 1, 3 and 8 next to non-private FedAvg, on a generated logistic
//! task, and one secure run that checks the protocol against its oracle.
//!
//! Accuracy figures come from the plaintext oracle
//! (`learn::fed_dp::plain_fedavg_dp`), fed the same kind of noise the
//! clients draw: the secure protocol equals it bit for bit given the same
//! noise (`crates/learn/tests/horizontal_dp.rs`, and step 2 below), and the
//! oracle lets the clients number in the thousands on two cores. Each
//! figure is the mean over five noise draws.
//!
//! 2. One secure run, every party a thread over in-memory links (SecAgg+,
//!    100 clients): its model against the oracle's with the clients' own
//!    noise, and its time.
//!
//!     cargo run --release --example fedavg_dp -- [ROUNDS] [CLIP] [SECURE_CLIENTS]

use indomain::learn::TrainParams;
use indomain::learn::fed_dp::{FedDp, draw_noise, plain_fedavg_dp};
use indomain::learn::horizontal::{
    FedAvgParams, GlobalModel, plain_fedavg, run_client_with_noise, run_server,
};
use indomain::learn::metrics::classification;
use indomain::learn::plain::{scores, sigmoid};
use indomain::ndarray::Array2;
use indomain::net::memory::{MemoryChannel, pair};
use indomain::rand;
use indomain::rand::rngs::StdRng;
use indomain::rand::{RngExt, SeedableRng};
use std::time::Instant;

const FEATURES: usize = 10;
const ROWS: usize = 100;

/// Rows of one client (or the test set): features in [−1, 1] with a
/// client-specific shift, labels from a shared logistic model.
fn rows(seed: u64, n: usize, truth: &[f64]) -> (Array2<f64>, Vec<f64>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let shift: f64 = rng.random_range(-0.3..0.3);
    let x = Array2::from_shape_fn((n, FEATURES), |_| rng.random_range(-1.0..1.0) + shift);
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

fn params(clients: usize, rounds: usize, dp: Option<FedDp>) -> FedAvgParams {
    FedAvgParams {
        clients,
        features: FEATURES,
        rounds,
        local: TrainParams::gradient_descent(2, 0.5),
        frac_bits: 20,
        max_abs: 1e9,
        dp,
    }
}

/// (AUC, accuracy) of `model` on the test rows.
fn evaluate(model: &GlobalModel, test: &(Array2<f64>, Vec<f64>)) -> (f64, f64) {
    let p: Vec<f64> = scores(test.0.view(), &model.weights, model.intercept)
        .into_iter()
        .map(sigmoid)
        .collect();
    let m = classification(&p, &test.1);
    (m.auc, m.accuracy)
}

fn main() {
    let arg = |i: usize, default: f64| {
        std::env::args()
            .nth(i)
            .and_then(|a| a.parse().ok())
            .unwrap_or(default)
    };
    let rounds = arg(1, 5.0) as usize;
    let clip = arg(2, 1.0);
    let secure_clients = arg(3, 100.0) as usize;
    let mut rng = StdRng::seed_from_u64(2026);
    let truth: Vec<f64> = (0..FEATURES).map(|_| rng.random_range(-1.0..1.0)).collect();
    let test = rows(u64::MAX, 20_000, &truth);
    println!(
        "logistic task, {FEATURES} features, {ROWS} rows a client; {rounds} rounds, 2 local epochs, clip norm {clip}, δ = 1e-6"
    );
    for clients in [100, 1000] {
        let data: Vec<_> = (0..clients as u64).map(|c| rows(c, ROWS, &truth)).collect();
        let views: Vec<_> = data.iter().map(|(x, y)| (x.view(), y.as_slice())).collect();
        let everyone = vec![(0..clients).collect::<Vec<_>>(); rounds];
        let plain =
            plain_fedavg(&views, &params(clients, rounds, None), &everyone).expect("plain FedAvg");
        let (auc, acc) = evaluate(&plain, &test);
        println!("{clients} clients, non-private FedAvg: AUC {auc:.4}, accuracy {acc:.4}");
        // DP-FedAvg's clipping and unweighted mean without its noise: what
        // is lost to clipping alone.
        let clipped = params(
            clients,
            rounds,
            Some(FedDp {
                epsilon: 1.0,
                delta: 1e-6,
                clip_norm: clip,
                coalition: 0,
            }),
        );
        let silence = vec![vec![vec![0i64; FEATURES + 1]; rounds]; clients];
        let model = plain_fedavg_dp(&views, &clipped, &everyone, &silence).expect("oracle");
        let (auc, acc) = evaluate(&model, &test);
        println!("{clients} clients, clipped updates, no noise: AUC {auc:.4}, accuracy {acc:.4}");
        for epsilon in [1.0, 3.0, 8.0] {
            let dp = FedDp {
                epsilon,
                delta: 1e-6,
                clip_norm: clip,
                coalition: 0,
            };
            let p = params(clients, rounds, Some(dp));
            let calibration = dp.calibrate(&p).expect("calibration");
            let (mut auc, mut acc) = (0.0, 0.0);
            let draws = 5;
            for seed in 0..draws {
                let mut noise_rng = StdRng::seed_from_u64(seed);
                let noise: Vec<_> = (0..clients)
                    .map(|_| draw_noise(&calibration, &p, &mut noise_rng))
                    .collect();
                let model = plain_fedavg_dp(&views, &p, &everyone, &noise).expect("oracle");
                let (a, c) = evaluate(&model, &test);
                auc += a / draws as f64;
                acc += c / draws as f64;
            }
            // The noise on a coordinate of the mean update, per round.
            let sd_mean = (clients as f64).sqrt() * calibration.sigma as f64
                / 2f64.powi(p.frac_bits as i32)
                / clients as f64;
            println!(
                "{clients} clients, ε = {epsilon} (achieved {:.3}): AUC {auc:.4}, accuracy {acc:.4}; calibrated for t = {} survivors, noise sd on the mean update {sd_mean:.3} a coordinate a round",
                calibration.epsilon, calibration.honest
            );
        }
    }
    secure_run(secure_clients, rounds, clip, &truth, &test);
}

/// The secure protocol with `clients` clients at ε = 3, against the oracle.
fn secure_run(
    clients: usize,
    rounds: usize,
    clip: f64,
    truth: &[f64],
    test: &(Array2<f64>, Vec<f64>),
) {
    let dp = FedDp {
        epsilon: 3.0,
        delta: 1e-6,
        clip_norm: clip,
        coalition: 0,
    };
    let p = params(clients, rounds, Some(dp));
    let calibration = dp.calibrate(&p).expect("calibration");
    let data: Vec<_> = (0..clients as u64).map(|c| rows(c, ROWS, truth)).collect();
    let noise: Vec<_> = (0..clients)
        .map(|_| draw_noise(&calibration, &p, &mut rand::rng()))
        .collect();
    let (mut server_ends, client_ends): (Vec<MemoryChannel>, Vec<MemoryChannel>) = (0..clients)
        .map(|c| pair("server", &format!("client {c}")))
        .unzip();
    let start = Instant::now();
    let outcome = std::thread::scope(|s| {
        for (c, mut link) in client_ends.into_iter().enumerate() {
            let ((x, y), noise, p) = (&data[c], &noise[c], &p);
            s.spawn(move || {
                run_client_with_noise(&mut link, c, p, (x.view(), y), noise, &mut rand::rng())
            });
        }
        run_server(&mut server_ends, &p, &mut rand::rng(), &mut |_, _| {})
    })
    .expect("the secure run");
    let seconds = start.elapsed().as_secs_f64();
    let views: Vec<_> = data.iter().map(|(x, y)| (x.view(), y.as_slice())).collect();
    let everyone = vec![(0..clients).collect::<Vec<_>>(); rounds];
    let oracle = plain_fedavg_dp(&views, &p, &everyone, &noise).expect("oracle");
    let (auc, acc) = evaluate(&outcome.model, test);
    println!(
        "secure run, {clients} clients over SecAgg+ (threads, in-memory links), ε = 3: {seconds:.2} s for {rounds} rounds; AUC {auc:.4}, accuracy {acc:.4}; equal to the oracle with the same noise: {}",
        outcome.model == oracle
    );
}
