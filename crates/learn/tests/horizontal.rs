//! FedAvg over SecAgg+ against plaintext FedAvg, with and without a client
//! dropping out mid-round; what the server sees; bad peers.

use indomain_learn::horizontal::{FedAvgParams, plain_fedavg, run_client, run_server};
use indomain_learn::{LearnError, TrainParams};
use indomain_net::memory::{MemoryChannel, pair};
use indomain_net::{Channel, Counters, NetError};
use ndarray::Array2;
use std::sync::{Arc, Mutex};

/// Client c's rows: two features, a noisy linear rule, different sizes.
fn client_data(c: usize) -> (Array2<f64>, Vec<f64>) {
    let n = 60 + 25 * c;
    let x = Array2::from_shape_fn((n, 2), |(i, j)| {
        (((i * 31 + j * 17 + c * 7) % 23) as f64) / 11.0 - 1.0
    });
    let y = (0..n)
        .map(|i| f64::from((x[[i, 0]] - 0.7 * x[[i, 1]] > 0.0) != (i % 9 == c)))
        .collect();
    (x, y)
}

fn params(clients: usize) -> FedAvgParams {
    FedAvgParams {
        clients,
        features: 2,
        rounds: 4,
        local: TrainParams {
            l2: 0.01,
            ..TrainParams::gradient_descent(3, 0.5)
        },
        frac_bits: 24,
        max_abs: 1e6,
        dp: None,
    }
}

/// A link that fails every send after the first `left` and records every
/// frame it receives.
struct Link {
    inner: MemoryChannel,
    left: usize,
    received: Arc<Mutex<Vec<Vec<u8>>>>,
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
        let f = self.inner.recv()?;
        self.received.lock().unwrap().push(f.clone());
        Ok(f)
    }
    fn peer(&self) -> &str {
        self.inner.peer()
    }
    fn counters(&self) -> Counters {
        self.inner.counters()
    }
}

type Run = (
    Result<indomain_learn::horizontal::FedAvgOutcome, LearnError>,
    Vec<Result<indomain_learn::horizontal::GlobalModel, LearnError>>,
    Vec<Vec<u8>>,
);

/// Runs the server and every client; `sends[c]` bounds client c's frames.
fn run(p: &FedAvgParams, data: &[(Array2<f64>, Vec<f64>)], sends: &[usize]) -> Run {
    let server_saw = Arc::new(Mutex::new(Vec::new()));
    let (mut server_ends, client_ends): (Vec<Link>, Vec<MemoryChannel>) = (0..p.clients)
        .map(|c| {
            let (s, cl) = pair("server", &format!("client {c}"));
            (
                Link {
                    inner: s,
                    left: usize::MAX,
                    received: server_saw.clone(),
                },
                cl,
            )
        })
        .unzip();
    std::thread::scope(|scope| {
        let handles: Vec<_> = client_ends
            .into_iter()
            .enumerate()
            .map(|(c, inner)| {
                let (x, y) = &data[c];
                let left = sends[c];
                scope.spawn(move || {
                    let mut link = Link {
                        inner,
                        left,
                        received: Arc::new(Mutex::new(Vec::new())),
                    };
                    run_client(&mut link, c, p, x.view(), y, &mut rand::rng())
                })
            })
            .collect();
        let out = run_server(&mut server_ends, p, &mut rand::rng(), &mut |_, _| {});
        drop(server_ends);
        let clients = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let saw = server_saw.lock().unwrap().clone();
        (out, clients, saw)
    })
}

fn assert_close(a: &[f64], b: &[f64], tol: f64) {
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() < tol, "{a:?} vs {b:?}");
    }
}

#[test]
fn fedavg_over_secagg_equals_plain_fedavg() {
    let p = params(3);
    let data: Vec<_> = (0..3).map(client_data).collect();
    let (out, clients, _) = run(&p, &data, &[usize::MAX; 3]);
    let out = out.unwrap();
    let views: Vec<_> = data.iter().map(|(x, y)| (x.view(), y.as_slice())).collect();
    let want = plain_fedavg(&views, &p, &vec![vec![0, 1, 2]; 4]).unwrap();
    let got: Vec<f64> = out
        .model
        .weights
        .iter()
        .copied()
        .chain([out.model.intercept])
        .collect();
    let exp: Vec<f64> = want
        .weights
        .iter()
        .copied()
        .chain([want.intercept])
        .collect();
    assert_close(&got, &exp, 1e-5);
    assert!(out.model.weights[0] > 0.0 && out.model.weights[1] < 0.0);
    // Every client got the final model.
    for c in clients {
        assert_eq!(c.unwrap(), out.model);
    }
    assert!(
        out.rounds
            .iter()
            .all(|r| r.dropped.is_empty() && r.rows == 60.0 + 85.0 + 110.0)
    );
}

#[test]
fn a_client_dropping_mid_round_is_left_out_from_then_on() {
    let p = params(4);
    let data: Vec<_> = (0..4).map(client_data).collect();
    // A SecAgg round takes four frames from a client; client 2 sends its
    // keys and shares in round 1, then vanishes before its masked input.
    let mut sends = [usize::MAX; 4];
    sends[2] = 4 + 2;
    let (out, clients, _) = run(&p, &data, &sends);
    let out = out.unwrap();
    assert_eq!(out.rounds[0].survivors, vec![0, 1, 2, 3]);
    assert_eq!(out.rounds[1].survivors, vec![0, 1, 3]);
    assert_eq!(out.rounds[1].dropped, vec![2]);
    assert_eq!(out.rounds[3].survivors, vec![0, 1, 3]);
    let views: Vec<_> = data.iter().map(|(x, y)| (x.view(), y.as_slice())).collect();
    let plan = vec![
        vec![0, 1, 2, 3],
        vec![0, 1, 3],
        vec![0, 1, 3],
        vec![0, 1, 3],
    ];
    let want = plain_fedavg(&views, &p, &plan).unwrap();
    assert_close(&out.model.weights, &want.weights, 1e-5);
    assert!((out.model.intercept - want.intercept).abs() < 1e-5);
    assert!(clients[2].is_err());
    assert_eq!(clients[0].as_ref().unwrap(), &out.model);
}

#[test]
fn the_server_never_sees_a_clients_model_or_row_count() {
    let p = params(3);
    let data: Vec<_> = (0..3).map(client_data).collect();
    let (out, _, saw) = run(&p, &data, &[usize::MAX; 3]);
    out.unwrap();
    // Client 0's first local model, scaled as it enters the aggregation.
    let views: Vec<_> = data.iter().map(|(x, y)| (x.view(), y.as_slice())).collect();
    let first = plain_fedavg(
        &views[..1],
        &FedAvgParams {
            clients: 1,
            rounds: 1,
            ..p.clone()
        },
        &[vec![0]],
    )
    .unwrap();
    let scale = 2f64.powi(p.frac_bits as i32);
    let n = 60.0;
    let secret: Vec<u64> = first
        .weights
        .iter()
        .map(|w| ((w * n * scale).round() as i64) as u64)
        .chain([((n * scale) as i64) as u64])
        .collect();
    for v in secret {
        for f in &saw {
            assert!(
                !f.chunks_exact(8)
                    .any(|c| u64::from_le_bytes(c.try_into().unwrap()) == v),
                "the server saw client 0's value {v:#x} in the clear"
            );
        }
    }
}

#[test]
fn a_server_announcing_the_wrong_round_is_refused() {
    let (mut server, client) = pair("server", "client 0");
    let (x, y) = client_data(0);
    let handle = std::thread::spawn(move || {
        let mut c = client;
        run_client(&mut c, 0, &params(2), x.view(), &y, &mut rand::rng())
    });
    // The job nonce, as an honest server agrees it.
    let mine: [u8; 32] = server.recv().unwrap().try_into().unwrap();
    let list = indomain_aggregate::secagg::nonce::Contributions {
        clients: vec![(0, mine)],
    };
    indomain_net::wire::send_msg(&mut server, &list).unwrap();
    // Round 3 first, with the model as raw f64 bits.
    let announce =
        bincode::serde::encode_to_vec((0u32, 3u64), bincode::config::standard()).unwrap();
    server.send(&announce).unwrap();
    server.send(&[0u8; 24]).unwrap();
    let err = handle.join().unwrap().unwrap_err().to_string();
    assert!(err.contains("round 3"), "{err}");
}

#[test]
fn early_stopping_and_empty_jobs_are_refused() {
    let mut p = params(2);
    p.rounds = 0;
    assert!(p.validate().is_err());
    let mut p = params(2);
    p.local.early_stopping = Some(indomain_learn::EarlyStopping {
        validation_fraction: 0.2,
        patience: 2,
    });
    assert!(p.validate().is_err());
}

#[test]
fn signed_fedavg_equals_plain_fedavg() {
    use indomain_aggregate::secagg::Pki;
    use indomain_learn::horizontal::{run_client_signed, run_server_signed};
    let p = params(3);
    let data: Vec<_> = (0..3).map(client_data).collect();
    let (pki, ids) = Pki::generate(3, &mut rand::rng());
    let (mut server_ends, client_ends): (Vec<MemoryChannel>, Vec<MemoryChannel>) = (0..3)
        .map(|c| pair("server", &format!("client {c}")))
        .unzip();
    let (out, clients) = std::thread::scope(|scope| {
        let handles: Vec<_> = client_ends
            .into_iter()
            .enumerate()
            .map(|(c, mut link)| {
                let (x, y) = &data[c];
                let me = (&ids[c], &pki);
                let p = &p;
                scope.spawn(move || {
                    run_client_signed(&mut link, c, p, me, (x.view(), y), &mut rand::rng())
                })
            })
            .collect();
        let out = run_server_signed(&mut server_ends, &p, &pki, &mut rand::rng(), &mut |_, _| {});
        drop(server_ends);
        let clients: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        (out, clients)
    });
    let out = out.unwrap();
    let views: Vec<_> = data.iter().map(|(x, y)| (x.view(), y.as_slice())).collect();
    let want = plain_fedavg(&views, &p, &vec![vec![0, 1, 2]; 4]).unwrap();
    assert_close(&out.model.weights, &want.weights, 1e-5);
    assert_close(&[out.model.intercept], &[want.intercept], 1e-5);
    for c in clients {
        assert_eq!(c.unwrap(), out.model);
    }
}
