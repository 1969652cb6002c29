//! Vertical training and joint scoring over QUIC on loopback (mutual TLS,
//! pinned certificates): a label holder, a feature holder and a dealer,
//! each with its own endpoint; the model equals the one trained over
//! in-memory channels, and the receiver's scores equal plaintext scoring.

use indomain_learn::align::Roles;
use indomain_learn::vertical::{self, TrainOutcome};
use indomain_learn::{Task, TrainParams};
use indomain_net::memory;
use indomain_net::quic::{Endpoint, Identity, PartyAddr, mesh};
use indomain_net::{Limits, PartySet};
use ndarray::{Array1, Array2};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

const NAMES: [&str; 3] = ["bank", "tax", "dealer"];

fn quic_sets(
    f: impl Fn(&mut PartySet) -> (TrainOutcome, Option<Vec<f64>>) + Sync,
) -> Vec<(TrainOutcome, Option<Vec<f64>>)> {
    let ids: Vec<Identity> = NAMES
        .iter()
        .map(|n| Identity::generate(n).unwrap())
        .collect();
    let endpoints: Vec<Endpoint> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let trusted = ids
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, o)| o.trusted_entry())
                .collect();
            Endpoint::bind(
                id,
                "127.0.0.1:0".parse().unwrap(),
                trusted,
                Limits::default(),
            )
            .unwrap()
        })
        .collect();
    let addrs: Vec<PartyAddr> = NAMES
        .iter()
        .zip(&endpoints)
        .map(|(n, e)| PartyAddr {
            name: n.to_string(),
            addr: e.local_addr(),
        })
        .collect();
    std::thread::scope(|s| {
        let handles: Vec<_> = endpoints
            .iter()
            .enumerate()
            .map(|(me, endpoint)| {
                let (addrs, f) = (&addrs, &f);
                s.spawn(move || {
                    let mut parties = mesh(endpoint, me, addrs).unwrap();
                    let out = f(&mut parties);
                    // Keep the endpoint open until every peer is done.
                    for j in parties.others().collect::<Vec<_>>() {
                        parties.channel(j).unwrap().send(b"done").unwrap();
                    }
                    for j in parties.others().collect::<Vec<_>>() {
                        parties.channel(j).unwrap().recv().unwrap();
                    }
                    out
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

#[test]
fn training_and_scoring_over_quic() {
    let rows = 400;
    let mut rng = StdRng::seed_from_u64(1);
    let blocks: Vec<Array2<f64>> = [3, 2]
        .iter()
        .map(|&w| Array2::from_shape_fn((rows, w), |_| rng.random_range(-2.0..2.0)))
        .collect();
    let y: Vec<f64> = (0..rows)
        .map(|i| {
            (blocks[0][[i, 0]] - blocks[1][[i, 1]] + rng.random_range(-1.0..1.0) > 0.0) as u8 as f64
        })
        .collect();
    let params = TrainParams {
        task: Task::Logistic,
        epochs: 8,
        learning_rate: 0.5,
        l2: 0.01,
        ..TrainParams::default()
    };
    let empty = Array2::<f64>::zeros((0, 0));
    let party = |parties: &mut PartySet| {
        let me = parties.me();
        let x = blocks.get(me).map_or(empty.view(), |b| b.view());
        let labels = (me == 0).then_some(y.as_slice());
        let mut rng = StdRng::seed_from_u64(me as u64);
        let roles = Roles::new(3, 0, Some(2)).unwrap();
        let model = vertical::train(
            parties,
            &roles,
            x,
            labels,
            &params,
            &mut |_, _| {},
            &mut rng,
        )
        .unwrap();
        let scores = vertical::predict(
            parties,
            &roles,
            0,
            x,
            &model.weights,
            model.intercept,
            16,
            &mut rng,
        )
        .unwrap();
        (model, scores)
    };
    let over_quic = quic_sets(party);
    let in_memory: Vec<(TrainOutcome, Option<Vec<f64>>)> = std::thread::scope(|s| {
        let handles: Vec<_> = memory::mesh(&NAMES)
            .into_iter()
            .map(|mut set| {
                let party = &party;
                s.spawn(move || party(&mut set))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for ((q, _), (m, _)) in over_quic.iter().zip(&in_memory) {
        assert_eq!(q.weights.len(), m.weights.len());
        for (a, b) in q.weights.iter().zip(&m.weights) {
            assert!((a - b).abs() < 1e-3, "{a} vs {b}");
        }
        assert_eq!(q.intercept.is_some(), m.intercept.is_some());
    }
    // The label holder's scores are the plaintext scores of the model.
    let model = &over_quic;
    let mut want = Array1::from_elem(rows, model[0].0.intercept.unwrap());
    for (k, b) in blocks.iter().enumerate() {
        want = want + b.dot(&Array1::from(model[k].0.weights.clone()));
    }
    let got = model[0].1.as_ref().unwrap();
    for (g, w) in got.iter().zip(&want) {
        assert!((g - w).abs() < 1e-3, "{g} vs {w}");
    }
    assert!(model[1].1.is_none() && model[2].1.is_none());
}
