//! Secure aggregation with 0, some and too many dropouts, against the
//! plaintext sum; transcripts; bad input.

mod common;

use common::{TestLink, Transcript, contains_u64};
use indomain_aggregate::AggregateError;
use indomain_aggregate::secagg::parameters::neighbourhood;
use indomain_aggregate::secagg::sim::{Dropout, simulate_round};
use indomain_aggregate::secagg::{
    DropCause, Dropped, Outgoing, Params, ServerRound, Step, Threat, run_client, run_server,
};
use indomain_net::memory::{MemoryChannel, pair};
use indomain_net::wire::send_msg;
use indomain_net::{Channel, Limits};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

const FRAC_BITS: u32 = 16;
const MAX_ABS: f64 = 100.0;

fn inputs(n: usize, len: usize, seed: u64) -> Vec<Vec<f64>> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            (0..len)
                .map(|_| rng.random_range(-MAX_ABS..MAX_ABS))
                .collect()
        })
        .collect()
}

fn clients(dropped: &[Dropped]) -> Vec<usize> {
    dropped.iter().map(|d| d.client).collect()
}

fn assert_sum_of(sum: &[f64], inputs: &[Vec<f64>], members: &[usize]) {
    let tol = members.len() as f64 * 2f64.powi(-(FRAC_BITS as i32));
    for (i, &got) in sum.iter().enumerate() {
        let want: f64 = members.iter().map(|&u| inputs[u][i]).sum();
        assert!((got - want).abs() <= tol, "element {i}: {got} vs {want}");
    }
}

#[test]
fn no_dropouts_gives_the_plaintext_sum() {
    let params = Params::new(6, 500, FRAC_BITS, MAX_ABS).unwrap();
    let xs = inputs(6, 500, 1);
    let round = simulate_round(&params, &xs, &[Dropout::Never; 6], Limits::default()).unwrap();
    assert_eq!(round.output.survivors, (0..6).collect::<Vec<_>>());
    assert!(round.output.left_out.is_empty());
    assert!(round.output.dropped_after_input.is_empty());
    assert_sum_of(&round.output.sum, &xs, &round.output.survivors);
}

#[test]
fn dropouts_at_every_step_are_tolerated() {
    let params = Params::new(10, 300, FRAC_BITS, MAX_ABS).unwrap();
    assert_eq!((params.neighbours, params.threshold), (9, 5));
    let xs = inputs(10, 300, 2);
    let mut plan = vec![Dropout::Never; 10];
    plan[1] = Dropout::BeforeShares;
    plan[4] = Dropout::BeforeMaskedInput;
    plan[8] = Dropout::BeforeMaskedInput;
    plan[7] = Dropout::BeforeUnmasking;
    let round = simulate_round(&params, &xs, &plan, Limits::default()).unwrap();
    // Client 7's masked input arrived, so its input is in the sum; the
    // output says when and why each client dropped.
    assert_eq!(round.output.survivors, vec![0, 2, 3, 5, 6, 7, 9]);
    let dropped = |client, step| Dropped {
        client,
        step,
        cause: DropCause::Vanished,
    };
    assert_eq!(
        round.output.left_out,
        vec![
            dropped(1, Step::Shares),
            dropped(4, Step::MaskedInputs),
            dropped(8, Step::MaskedInputs)
        ]
    );
    assert_eq!(
        round.output.dropped_after_input,
        vec![dropped(7, Step::Unmasking)]
    );
    assert_sum_of(&round.output.sum, &xs, &round.output.survivors);
}

#[test]
fn secagg_plus_graph_with_ten_percent_dropouts() {
    let params = Params::new(40, 200, FRAC_BITS, MAX_ABS).unwrap();
    let chosen = neighbourhood(40, &Threat::DEFAULT).unwrap();
    assert_eq!((params.neighbours, params.threshold), chosen);
    assert!(params.neighbours < 39);
    let xs = inputs(40, 200, 3);
    let mut plan = vec![Dropout::Never; 40];
    for u in [3, 11, 20, 33] {
        plan[u] = Dropout::BeforeMaskedInput;
    }
    let round = simulate_round(&params, &xs, &plan, Limits::default()).unwrap();
    assert_eq!(clients(&round.output.left_out), vec![3, 11, 20, 33]);
    assert_sum_of(&round.output.sum, &xs, &round.output.survivors);
    // Each client moved little more than its own masked vector.
    for bytes in &round.client_bytes {
        assert!(bytes.sent < 200 * 8 + 4096, "{bytes:?}");
    }
}

#[test]
fn too_many_dropouts_abort_and_release_nothing() {
    let params = Params::new(10, 100, FRAC_BITS, MAX_ABS).unwrap();
    let xs = inputs(10, 100, 4);
    let mut plan = vec![Dropout::Never; 10];
    for p in plan.iter_mut().take(6) {
        *p = Dropout::BeforeMaskedInput;
    }
    match simulate_round(&params, &xs, &plan, Limits::default()) {
        Err(AggregateError::TooFewSurvivors {
            survivors: 4,
            threshold: 5,
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
    // Dropping before unmasking: masked inputs are in, but too few helpers.
    let mut plan = vec![Dropout::Never; 10];
    for p in plan.iter_mut().take(6) {
        *p = Dropout::BeforeUnmasking;
    }
    assert!(matches!(
        simulate_round(&params, &xs, &plan, Limits::default()),
        Err(AggregateError::TooFewSurvivors { survivors: 4, .. })
    ));
}

#[test]
fn the_server_and_clients_never_see_a_raw_input() {
    let n = 5;
    let len = 400;
    let params = Params::new(n, len, FRAC_BITS, MAX_ABS).unwrap();
    let xs = inputs(n, len, 5);
    let server_seen = Transcript::default();
    let client_seen: Vec<Transcript> = (0..n).map(|_| Transcript::default()).collect();
    let (mut server_ends, client_ends): (Vec<TestLink>, Vec<TestLink>) = (0..n)
        .map(|i| {
            let (s, c) = pair("server", &format!("client {i}"));
            (
                TestLink::new(Box::new(s), server_seen.clone(), usize::MAX),
                TestLink::new(Box::new(c), client_seen[i].clone(), usize::MAX),
            )
        })
        .unzip();
    let output = std::thread::scope(|s| {
        for (id, (mut link, x)) in client_ends.into_iter().zip(&xs).enumerate() {
            let params = &params;
            s.spawn(move || run_client(&mut link, id, params, x, &mut rand::rng()).unwrap());
        }
        run_server(&mut server_ends, &params, &mut rand::rng()).unwrap()
    });
    assert_sum_of(&output.sum, &xs, &(0..n).collect::<Vec<_>>());
    let scale = 2f64.powi(FRAC_BITS as i32);
    let server_frames = server_seen.lock().unwrap();
    for (u, x) in xs.iter().enumerate() {
        for &v in x.iter().filter(|v| v.abs() >= 1.0) {
            let encoded = (v * scale).round() as i64 as u64;
            assert!(
                !contains_u64(&server_frames, encoded),
                "server saw client {u}'s input"
            );
            for (w, seen) in client_seen.iter().enumerate().filter(|(w, _)| *w != u) {
                assert!(
                    !contains_u64(&seen.lock().unwrap(), encoded),
                    "client {w} saw client {u}'s input"
                );
            }
        }
    }
}

#[test]
fn a_client_sending_garbage_is_dropped_and_the_round_completes() {
    let n = 5;
    let params = Params::new(n, 50, FRAC_BITS, MAX_ABS).unwrap();
    let xs = inputs(n, 50, 6);
    let (mut server_ends, client_ends): (Vec<_>, Vec<_>) = (0..n)
        .map(|i| pair("server", &format!("client {i}")))
        .unzip();
    let output = std::thread::scope(|s| {
        for (id, (mut link, x)) in client_ends.into_iter().zip(&xs).enumerate() {
            let params = &params;
            s.spawn(move || {
                if id == 2 {
                    // Claims a huge vector length, then vanishes.
                    link.send(&[0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f])
                        .unwrap();
                } else {
                    run_client(&mut link, id, params, x, &mut rand::rng()).unwrap();
                }
            });
        }
        run_server(&mut server_ends, &params, &mut rand::rng()).unwrap()
    });
    let refused = Dropped {
        client: 2,
        step: Step::Keys,
        cause: DropCause::Refused,
    };
    assert_eq!(output.left_out, vec![refused]);
    assert_sum_of(&output.sum, &xs, &[0, 1, 3, 4]);
}

#[test]
fn out_of_range_inputs_and_overflowing_rounds_are_refused() {
    let params = Params::new(3, 4, FRAC_BITS, MAX_ABS).unwrap();
    let (mut a, _b) = pair("client 0", "server");
    let err = run_client(
        &mut a,
        0,
        &params,
        &[1.0, 2.0, 300.0, 0.0],
        &mut rand::rng(),
    )
    .unwrap_err();
    assert!(matches!(err, AggregateError::OutOfRange { row: 2, .. }));
    assert!(run_client(&mut a, 0, &params, &[1.0], &mut rand::rng()).is_err());
    // 1000 clients × 2^34 at 20 fractional bits would exceed 2^63.
    assert!(Params::new(1000, 4, 20, 2f64.powi(34)).is_err());
    assert!(Params::new(1000, 4, 20, 2f64.powi(32)).is_ok());
    assert!(params.clone().with_neighbourhood(2, 1).is_err());
    assert!(params.with_neighbourhood(2, 2).is_ok());
}

#[test]
fn a_relayed_small_order_key_is_refused_before_any_share_is_sent() {
    use indomain_aggregate::secagg::crypto::KeyPair;
    use indomain_aggregate::secagg::messages::{Advertise, KeyList, PeerKeys};
    use indomain_net::wire::{recv_msg, send_msg};
    let params = Params::new(3, 4, FRAC_BITS, MAX_ABS).unwrap();
    let (mut client_end, mut server_end) = pair("server", "client 0");
    let handle = std::thread::spawn(move || {
        run_client(&mut client_end, 0, &params, &[1.0; 4], &mut rand::rng())
    });
    let _: Advertise = recv_msg(&mut server_end).unwrap();
    let honest = KeyPair::generate(&mut rand::rng()).public();
    // u = 1 is a point of order 4: the ladder of an unclamped secret on it
    // yields u = 1 or 0 depending on the secret modulo 4.
    let mut order4 = [0u8; 32];
    order4[0] = 1;
    let keys = |cipher_key| Advertise {
        cipher_key,
        mask_key: honest,
        signature: Vec::new(),
    };
    let list = KeyList {
        graph_seed: [0; 16],
        peers: vec![
            PeerKeys {
                client: 1,
                keys: keys(order4),
            },
            PeerKeys {
                client: 2,
                keys: keys(honest),
            },
        ],
    };
    send_msg(&mut server_end, &list).unwrap();
    let next = server_end.recv();
    drop(server_end);
    let result = handle.join().unwrap();
    assert!(
        next.is_err(),
        "the client sent shares under a small-order key"
    );
    let err = result.unwrap_err();
    assert!(
        matches!(err, AggregateError::Protocol { .. }) && err.to_string().contains("prime-order"),
        "{err}"
    );
}

#[test]
fn the_server_holds_one_vector_not_one_per_client() {
    // Masked inputs are added on arrival: the server's round state stays
    // far below one vector per client (before #11 it kept them all).
    let (n, len) = (24, 20_000);
    let params = Params::new(n, len, FRAC_BITS, MAX_ABS).unwrap();
    let xs = inputs(n, len, 8);
    let mut plan = vec![Dropout::Never; n];
    plan[5] = Dropout::BeforeMaskedInput;
    let round = simulate_round(&params, &xs, &plan, Limits::default()).unwrap();
    assert_sum_of(&round.output.sum, &xs, &round.output.survivors);
    let per_client_vectors = n * len * 8;
    assert!(round.server.peak_state_bytes >= len * 8);
    assert!(
        round.server.peak_state_bytes < per_client_vectors / 4,
        "{} bytes",
        round.server.peak_state_bytes
    );
    assert!(round.server.readers <= 32);
}

#[test]
fn a_client_lost_right_after_its_masked_input_is_still_in_the_sum() {
    // A driver may learn that a link closed after it handed that client's
    // masked input to the server, within the same step (an asynchronous
    // driver does): the input is in the running sum, so the client is a
    // survivor whose self mask the others help remove.
    let n = 5;
    let params = Params::new(n, 40, FRAC_BITS, MAX_ABS).unwrap();
    let xs = inputs(n, 40, 8);
    let (server_ends, client_ends): (Vec<_>, Vec<_>) = (0..n)
        .map(|i| pair("server", &format!("client {i}")))
        .unzip();
    let mut links: Vec<Option<MemoryChannel>> = server_ends.into_iter().map(Some).collect();
    let output = std::thread::scope(|s| {
        for (id, (mut link, x)) in client_ends.into_iter().zip(&xs).enumerate() {
            let params = &params;
            // Client 3 fails once its link is gone; the others complete.
            s.spawn(move || run_client(&mut link, id, params, x, &mut rand::rng()).is_ok());
        }
        let mut round = ServerRound::new(&params, &mut rand::rng()).unwrap();
        while round.step() != Step::Done {
            for u in round.pending() {
                let link = links[u].as_mut().expect("a live client's link");
                match link.recv() {
                    Ok(frame) => round.handle(u, &frame),
                    Err(_) => round.drop_client(u),
                }
                if u == 3 && round.step() == Step::MaskedInputs {
                    round.drop_client(3);
                    links[3] = None;
                }
            }
            for (v, message) in round.advance().unwrap() {
                let ch = links[v].as_mut().expect("messages go to live clients");
                let sent = match &message {
                    Outgoing::Keys(m) => send_msg(ch, m),
                    Outgoing::Shares(m) => send_msg(ch, m),
                    Outgoing::Survivors(m) => send_msg(ch, m),
                    Outgoing::Endorsements(m) => send_msg(ch, m),
                };
                if sent.is_err() {
                    round.drop_client(v);
                }
            }
        }
        // Closing the links ends the clients' threads.
        links.clear();
        round.finish().unwrap()
    });
    assert_eq!(output.survivors, (0..n).collect::<Vec<_>>());
    assert!(output.left_out.is_empty());
    assert_eq!(
        output.dropped_after_input,
        vec![Dropped {
            client: 3,
            step: Step::MaskedInputs,
            cause: DropCause::Vanished
        }]
    );
    assert_sum_of(&output.sum, &xs, &output.survivors);
}
