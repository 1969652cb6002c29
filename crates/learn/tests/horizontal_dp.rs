//! FedAvg with distributed differential privacy: the secure run against
//! plaintext DP-FedAvg given the same noise (with and without a client
//! dropping out), the noise's calibration, and bad DP parameters refused.

use indomain_learn::fed_dp::{FedDp, draw_noise, plain_fedavg_dp};
use indomain_learn::horizontal::{
    FedAvgOutcome, FedAvgParams, GlobalModel, run_client_with_noise, run_server,
};
use indomain_learn::{LearnError, TrainParams};
use indomain_net::memory::{MemoryChannel, pair};
use indomain_net::{Channel, Counters, NetError};
use ndarray::Array2;
use rand::SeedableRng;
use rand::rngs::StdRng;

/// Client c's rows: three features, a noisy linear rule.
fn client_data(c: usize) -> (Array2<f64>, Vec<f64>) {
    let n = 50 + 10 * c;
    let x = Array2::from_shape_fn((n, 3), |(i, j)| {
        (((i * 29 + j * 13 + c * 5) % 19) as f64) / 9.0 - 1.0
    });
    let y = (0..n)
        .map(|i| f64::from((x[[i, 0]] - 0.5 * x[[i, 2]] > 0.0) != (i % 7 == c)))
        .collect();
    (x, y)
}

fn params(clients: usize, epsilon: f64) -> FedAvgParams {
    FedAvgParams {
        clients,
        features: 3,
        rounds: 3,
        local: TrainParams::gradient_descent(2, 0.5),
        frac_bits: 20,
        max_abs: 1e6,
        dp: Some(FedDp {
            epsilon,
            delta: 1e-6,
            clip_norm: 0.5,
            coalition: 0,
        }),
    }
}

/// A link that fails every send after the first `left`.
struct Link {
    inner: MemoryChannel,
    left: usize,
}

impl Channel for Link {
    fn send(&mut self, frame: &[u8]) -> Result<(), NetError> {
        if self.left == 0 {
            return Err(NetError::Closed {
                peer: self.inner.peer().to_string(),
            });
        }
        self.left -= 1;
        self.inner.send(frame)
    }
    fn recv(&mut self) -> Result<Vec<u8>, NetError> {
        self.inner.recv()
    }
    fn peer(&self) -> &str {
        self.inner.peer()
    }
    fn counters(&self) -> Counters {
        self.inner.counters()
    }
}

type Run = (
    Result<FedAvgOutcome, LearnError>,
    Vec<Result<GlobalModel, LearnError>>,
);

fn run(
    p: &FedAvgParams,
    data: &[(Array2<f64>, Vec<f64>)],
    noise: &[Vec<Vec<i64>>],
    sends: &[usize],
) -> Run {
    let (mut server_ends, client_ends): (Vec<MemoryChannel>, Vec<MemoryChannel>) = (0..p.clients)
        .map(|c| pair("server", &format!("client {c}")))
        .unzip();
    std::thread::scope(|scope| {
        let handles: Vec<_> = client_ends
            .into_iter()
            .enumerate()
            .map(|(c, inner)| {
                let (x, y) = &data[c];
                let left = sends[c];
                let noise = &noise[c];
                scope.spawn(move || {
                    let mut link = Link { inner, left };
                    let mut rng = StdRng::seed_from_u64(500 + c as u64);
                    run_client_with_noise(&mut link, c, p, (x.view(), y), noise, &mut rng)
                })
            })
            .collect();
        let out = run_server(&mut server_ends, p, &mut rand::rng(), &mut |_, _| {});
        drop(server_ends);
        (
            out,
            handles.into_iter().map(|h| h.join().unwrap()).collect(),
        )
    })
}

fn noise_for(p: &FedAvgParams, seed: u64) -> Vec<Vec<Vec<i64>>> {
    let calibration = p.dp.unwrap().calibrate(p).unwrap();
    let mut rng = StdRng::seed_from_u64(seed);
    (0..p.clients)
        .map(|_| draw_noise(&calibration, p, &mut rng))
        .collect()
}

#[test]
fn fedavg_with_dp_equals_plain_fedavg_plus_the_summed_noise() {
    let p = params(4, 8.0);
    let data: Vec<_> = (0..4).map(client_data).collect();
    let views: Vec<_> = data.iter().map(|(x, y)| (x.view(), y.as_slice())).collect();
    let noise = noise_for(&p, 1);
    let (out, clients) = run(&p, &data, &noise, &[usize::MAX; 4]);
    let out = out.unwrap();
    let plan = vec![vec![0, 1, 2, 3]; 3];
    let want = plain_fedavg_dp(&views, &p, &plan, &noise).unwrap();
    // The same integers are summed and decoded the same way: exactly equal.
    assert_eq!(out.model, want);
    for c in clients {
        assert_eq!(c.unwrap(), out.model);
    }
    assert!(out.rounds.iter().all(|r| r.rows.is_nan()));
    // The noise is in it: without it the model differs.
    let silent: Vec<Vec<Vec<i64>>> = noise
        .iter()
        .map(|rounds| rounds.iter().map(|r| vec![0; r.len()]).collect())
        .collect();
    let noiseless = plain_fedavg_dp(&views, &p, &plan, &silent).unwrap();
    assert_ne!(noiseless, out.model);
}

#[test]
fn a_client_dropping_out_leaves_its_noise_out_too() {
    let p = params(4, 8.0);
    let data: Vec<_> = (0..4).map(client_data).collect();
    let views: Vec<_> = data.iter().map(|(x, y)| (x.view(), y.as_slice())).collect();
    let noise = noise_for(&p, 2);
    // Client 1 sends its keys and shares of round 1 (4 frames a round),
    // then vanishes before its masked input.
    let mut sends = [usize::MAX; 4];
    sends[1] = 4 + 2;
    let (out, clients) = run(&p, &data, &noise, &sends);
    let out = out.unwrap();
    assert_eq!(out.rounds[1].survivors, vec![0, 2, 3]);
    let plan = vec![vec![0, 1, 2, 3], vec![0, 2, 3], vec![0, 2, 3]];
    let want = plain_fedavg_dp(&views, &p, &plan, &noise).unwrap();
    assert_eq!(out.model, want);
    assert!(clients[1].is_err());
}

#[test]
fn the_noise_is_calibrated_for_the_fewest_survivors_over_all_rounds() {
    let p = params(10, 1.0);
    let dp = p.dp.unwrap();
    let cal = dp.calibrate(&p).unwrap();
    // Ten clients: the complete graph, k = 9 and t = ⌊k/2⌋ + 1 = 5.
    assert_eq!(cal.honest, 5);
    assert!(cal.rho <= indomain_aggregate::dp::accounting::rho_for(1.0, 1e-6));
    assert!(cal.epsilon <= 1.0 && cal.epsilon > 0.95, "{}", cal.epsilon);
    assert!((cal.rho - 3.0 * cal.rho_round).abs() < 1e-15);
    // σ per client: sensitivity (2C·2^f + √4) over √(2 ρ_round · honest).
    let l2 = 2.0 * 0.5 * 2f64.powi(20) + 2.0;
    let want = (l2 / (2.0 * cal.rho_round.max(1e-300) * 5.0).sqrt()).ceil();
    assert!(
        (cal.sigma as f64 - want).abs() <= 1.0,
        "{} vs {want}",
        cal.sigma
    );
    // More rounds, more noise; a coalition of clients, more noise per client.
    let longer = FedAvgParams {
        rounds: 12,
        ..p.clone()
    };
    assert!(dp.calibrate(&longer).unwrap().sigma > cal.sigma);
    let wary = FedDp { coalition: 3, ..dp };
    let wary_cal = wary.calibrate(&p).unwrap();
    assert_eq!(wary_cal.honest, 2);
    assert!(wary_cal.sigma > cal.sigma);
    assert!(FedDp { coalition: 6, ..dp }.calibrate(&p).is_err());
}

#[test]
fn bad_dp_parameters_are_refused_by_validation() {
    let p = params(3, 1.0);
    let dp = p.dp.unwrap();
    for bad in [
        FedDp { epsilon: 0.0, ..dp },
        FedDp {
            epsilon: f64::NAN,
            ..dp
        },
        FedDp {
            epsilon: f64::INFINITY,
            ..dp
        },
        FedDp { delta: 0.0, ..dp },
        FedDp {
            clip_norm: -1.0,
            ..dp
        },
        FedDp {
            clip_norm: f64::NAN,
            ..dp
        },
    ] {
        let job = FedAvgParams {
            dp: Some(bad),
            ..p.clone()
        };
        assert!(
            matches!(job.validate(), Err(LearnError::Params(_))),
            "{bad:?}"
        );
    }
    assert!(p.validate().is_ok());
}
