//! Signed SecAgg rounds: the plaintext sum with dropouts at every named
//! point, and a scripted malicious server — substituting a client's keys,
//! sending different survivor lists — detected by the clients with a typed
//! error before they send anything that depends on it.

use indomain_aggregate::AggregateError;
use indomain_aggregate::secagg::crypto::KeyPair;
use indomain_aggregate::secagg::messages::{
    Advertise, Endorse, Endorsement, Endorsements, KeyList, PeerKeys, Sealed, Survivors,
};
use indomain_aggregate::secagg::signing::sign_keys;
use indomain_aggregate::secagg::sim::{Dropout, simulate_round, simulate_round_in};
use indomain_aggregate::secagg::{Dropped, Mode, Params, Pki, Step, run_client_signed};
use indomain_net::memory::pair;
use indomain_net::wire::{recv_msg, send_msg};
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

fn assert_sum_of(sum: &[f64], inputs: &[Vec<f64>], members: &[usize]) {
    let tol = members.len() as f64 * 2f64.powi(-(FRAC_BITS as i32));
    for (i, &got) in sum.iter().enumerate() {
        let want: f64 = members.iter().map(|&u| inputs[u][i]).sum();
        assert!((got - want).abs() <= tol, "element {i}: {got} vs {want}");
    }
}

#[test]
fn signed_rounds_give_the_plaintext_sum_with_dropouts_at_every_point() {
    let params = Params::new(12, 300, FRAC_BITS, MAX_ABS).unwrap();
    let xs = inputs(12, 300, 21);
    let mut plan = vec![Dropout::Never; 12];
    plan[1] = Dropout::BeforeShares;
    plan[4] = Dropout::BeforeMaskedInput;
    plan[6] = Dropout::BeforeConsistencyCheck;
    plan[9] = Dropout::BeforeUnmasking;
    for mode in [Mode::Signed, Mode::Unsigned] {
        let round = simulate_round_in(&params, &xs, &plan, Limits::default(), mode).unwrap();
        // 6 and 9 sent their masked inputs: they are in the sum.
        let clients = |d: &[Dropped]| d.iter().map(|d| d.client).collect::<Vec<_>>();
        assert_eq!(clients(&round.output.left_out), vec![1, 4], "{mode:?}");
        assert_eq!(clients(&round.output.dropped_after_input), vec![6, 9]);
        // Signed, 6 dropped at the consistency check; unsigned rounds have
        // none, so it dropped at the unmasking.
        let late = round.output.dropped_after_input[0].step;
        let want = match mode {
            Mode::Signed => Step::ConsistencyCheck,
            Mode::Unsigned => Step::Unmasking,
        };
        assert_eq!(late, want, "{mode:?}");
        assert_sum_of(&round.output.sum, &xs, &round.output.survivors);
    }
}

#[test]
fn signed_secagg_plus_round_with_ten_percent_dropouts() {
    let params = Params::new(40, 100, FRAC_BITS, MAX_ABS).unwrap();
    assert!(params.neighbours < 39);
    let xs = inputs(40, 100, 22);
    let mut plan = vec![Dropout::Never; 40];
    plan[3] = Dropout::BeforeMaskedInput;
    plan[17] = Dropout::BeforeConsistencyCheck;
    plan[25] = Dropout::BeforeUnmasking;
    plan[38] = Dropout::BeforeShares;
    let round = simulate_round(&params, &xs, &plan, Limits::default()).unwrap();
    let clients = |d: &[Dropped]| d.iter().map(|d| d.client).collect::<Vec<_>>();
    assert_eq!(clients(&round.output.left_out), vec![3, 38]);
    assert_eq!(clients(&round.output.dropped_after_input), vec![17, 25]);
    assert_sum_of(&round.output.sum, &xs, &round.output.survivors);
}

#[test]
fn too_many_dropouts_at_the_consistency_check_abort_the_round() {
    let params = Params::new(10, 50, FRAC_BITS, MAX_ABS).unwrap();
    assert_eq!(params.threshold, 5);
    let xs = inputs(10, 50, 23);
    let mut plan = vec![Dropout::Never; 10];
    for p in plan.iter_mut().take(6) {
        *p = Dropout::BeforeConsistencyCheck;
    }
    match simulate_round(&params, &xs, &plan, Limits::default()) {
        Err(AggregateError::TooFewSurvivors {
            phase: "consistency check",
            survivors: 4,
            threshold: 5,
        }) => {}
        other => panic!("{other:?}"),
    }
}

/// What a scripted server does to a round of the complete graph.
struct Script {
    /// Rewrites the key list sent to a client.
    keys: fn(usize, &mut KeyList, &[Advertise]),
    /// The survivor list sent to a client.
    survivors: fn(usize) -> Vec<u32>,
    /// Which clients' signatures are relayed to a client.
    relay: fn(usize, usize) -> bool,
}

/// Outcome of a scripted round: each client's result, and which clients
/// sent shares (step 2) and revealed shares (step 5).
struct Outcome {
    results: Vec<Result<(), AggregateError>>,
    sent_shares: Vec<bool>,
    revealed: Vec<bool>,
}

/// Runs five honest signed clients (complete graph, t = 3) against a
/// server that follows `script`.
fn scripted(script: Script) -> Outcome {
    let n = 5;
    let params = Params::new(n, 4, FRAC_BITS, MAX_ABS).unwrap();
    assert_eq!(params.threshold, 3);
    let (pki, ids) = Pki::generate(n, &mut StdRng::seed_from_u64(30));
    let (mut server, client_ends): (Vec<_>, Vec<_>) = (0..n)
        .map(|i| pair("server", &format!("client {i}")))
        .unzip();
    std::thread::scope(|s| {
        let handles: Vec<_> = client_ends
            .into_iter()
            .enumerate()
            .map(|(id, mut link)| {
                let (params, pki, key) = (&params, &pki, &ids[id]);
                s.spawn(move || {
                    let input = [id as f64; 4];
                    run_client_signed(&mut link, id, params, (key, pki), &input, &mut rand::rng())
                })
            })
            .collect();
        let adverts: Vec<Advertise> = server.iter_mut().map(|c| recv_msg(c).unwrap()).collect();
        for (u, ch) in server.iter_mut().enumerate() {
            let mut list = KeyList {
                graph_seed: [0; 16],
                peers: (0..n)
                    .filter(|&v| v != u)
                    .map(|v| PeerKeys {
                        client: v as u32,
                        keys: adverts[v].clone(),
                    })
                    .collect(),
            };
            (script.keys)(u, &mut list, &adverts);
            send_msg(ch, &list).unwrap();
        }
        let bundles: Vec<Option<Vec<Sealed>>> =
            server.iter_mut().map(|c| recv_msg(c).ok()).collect();
        let sent_shares = bundles.iter().map(Option::is_some).collect();
        let mut inbox: Vec<Vec<Sealed>> = vec![Vec::new(); n];
        for (u, bundle) in bundles.into_iter().enumerate() {
            for sealed in bundle.into_iter().flatten() {
                inbox[sealed.peer as usize].push(Sealed {
                    peer: u as u32,
                    ciphertext: sealed.ciphertext,
                });
            }
        }
        let mut revealed = vec![false; n];
        if sent_shares_all(&inbox) {
            for (ch, shares) in server.iter_mut().zip(&inbox) {
                send_msg(ch, shares).unwrap();
                ch.recv().unwrap();
            }
            for (u, ch) in server.iter_mut().enumerate() {
                let clients = (script.survivors)(u);
                send_msg(ch, &Survivors { clients }).unwrap();
            }
            let signed: Vec<Endorse> = server.iter_mut().map(|c| recv_msg(c).unwrap()).collect();
            for (u, ch) in server.iter_mut().enumerate() {
                let signatures = (0..n)
                    .filter(|&v| v != u && (script.relay)(u, v))
                    .map(|v| Endorsement {
                        client: v as u32,
                        signature: signed[v].signature.clone(),
                    })
                    .collect();
                send_msg(ch, &Endorsements { signatures }).unwrap();
            }
            for (u, ch) in server.iter_mut().enumerate() {
                revealed[u] = ch.recv().is_ok();
            }
        }
        drop(server);
        Outcome {
            results: handles.into_iter().map(|h| h.join().unwrap()).collect(),
            sent_shares,
            revealed,
        }
    })
}

fn sent_shares_all(inbox: &[Vec<Sealed>]) -> bool {
    inbox.iter().all(|shares| shares.len() == inbox.len() - 1)
}

fn keep_keys(_: usize, _: &mut KeyList, _: &[Advertise]) {}
fn everyone(_: usize) -> Vec<u32> {
    vec![0, 1, 2, 3, 4]
}
fn relay_all(_: usize, _: usize) -> bool {
    true
}

#[test]
fn the_scripted_server_is_honest_unless_told_otherwise() {
    let out = scripted(Script {
        keys: keep_keys,
        survivors: everyone,
        relay: relay_all,
    });
    assert!(out.results.iter().all(Result::is_ok));
    assert_eq!(out.revealed, vec![true; 5]);
}

#[test]
fn a_server_that_substitutes_a_key_is_detected_before_any_share_is_sent() {
    // The server puts its own (valid, prime-order) key in place of client
    // 1's cipher key in client 0's list, keeping client 1's signature.
    fn substitute(u: usize, list: &mut KeyList, _: &[Advertise]) {
        if u == 0 {
            list.peers[0].keys.cipher_key = KeyPair::generate(&mut rand::rng()).public();
        }
    }
    let out = scripted(Script {
        keys: substitute,
        survivors: everyone,
        relay: relay_all,
    });
    assert!(
        !out.sent_shares[0],
        "client 0 sent shares under a substituted key"
    );
    match &out.results[0] {
        Err(AggregateError::BadSignature { client: 1, .. }) => {}
        other => panic!("{other:?}"),
    }
    // The server signing the substitute with a key of its own, or
    // stripping the signature, is refused the same way.
    fn resign(u: usize, list: &mut KeyList, _: &[Advertise]) {
        if u == 0 {
            let server_key = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
            let keys = &mut list.peers[1].keys;
            keys.mask_key = KeyPair::generate(&mut rand::rng()).public();
            keys.signature = sign_keys(
                &server_key,
                Params::new(5, 4, FRAC_BITS, MAX_ABS).unwrap().round_id(),
                2,
                keys,
            );
        }
    }
    fn strip(u: usize, list: &mut KeyList, _: &[Advertise]) {
        if u == 0 {
            list.peers[3].keys.signature.clear();
        }
    }
    for (script, victim) in [(resign as fn(_, &mut _, &_), 2), (strip, 4)] {
        let out = scripted(Script {
            keys: script,
            survivors: everyone,
            relay: relay_all,
        });
        assert!(!out.sent_shares[0]);
        match &out.results[0] {
            Err(AggregateError::BadSignature { client, .. }) if *client == victim => {}
            other => panic!("{other:?}"),
        }
    }
    // Replaying a client's keys signed for another client id fails too.
    fn swap(u: usize, list: &mut KeyList, adverts: &[Advertise]) {
        if u == 0 {
            list.peers[0].keys = adverts[2].clone();
        }
    }
    let out = scripted(Script {
        keys: swap,
        survivors: everyone,
        relay: relay_all,
    });
    assert!(matches!(
        out.results[0],
        Err(AggregateError::BadSignature { client: 1, .. })
    ));
}

#[test]
fn different_survivor_lists_are_detected_before_any_share_is_revealed() {
    // Clients 0, 1 and 4 are told everyone survived; 2 and 3 that 4 did
    // not (so they would reveal client 4's mask key while the others
    // reveal its self mask).
    fn split(u: usize) -> Vec<u32> {
        if u == 2 || u == 3 {
            vec![0, 1, 2, 3]
        } else {
            vec![0, 1, 2, 3, 4]
        }
    }
    let out = scripted(Script {
        keys: keep_keys,
        survivors: split,
        relay: relay_all,
    });
    assert_eq!(out.revealed, vec![false; 5], "a share was revealed");
    for (u, result) in out.results.iter().enumerate() {
        // Each client names the first relayed signer whose list differs.
        let differing = if u == 2 || u == 3 { 0 } else { 2 };
        match result {
            Err(AggregateError::BadSignature { client, .. }) if *client == differing => {}
            other => panic!("client {u}: {other:?}"),
        }
    }
    // Relaying only the signatures that match each client's list leaves
    // too few of a neighbour's neighbours: refused as well.
    fn matching(u: usize, v: usize) -> bool {
        split(u) == split(v)
    }
    let out = scripted(Script {
        keys: keep_keys,
        survivors: split,
        relay: matching,
    });
    assert_eq!(out.revealed, vec![false; 5], "a share was revealed");
    for result in &out.results {
        assert!(
            matches!(
                result,
                Err(AggregateError::TooFewEndorsements { threshold: 3, .. })
            ),
            "{result:?}"
        );
    }
}

/// Client 0 of a three-client signed round of `params`, against a server
/// that relays `relayed` as client 1's keys and fresh signed keys for
/// client 2: the client's result, and whether it went on to send shares.
fn with_relayed_keys(
    params: &Params,
    pki: &Pki,
    ids: &[ed25519_dalek::SigningKey],
    relayed: &Advertise,
) -> (Result<(), AggregateError>, bool) {
    let (mut server, mut client) = pair("server", "client 0");
    std::thread::scope(|s| {
        // The client's end goes with its thread: a client that refuses
        // closes the link at once.
        let c = s.spawn(move || {
            run_client_signed(
                &mut client,
                0,
                params,
                (&ids[0], pki),
                &[0.0; 4],
                &mut rand::rng(),
            )
        });
        let _ours: Advertise = recv_msg(&mut server).unwrap();
        let mut fresh = Advertise {
            cipher_key: KeyPair::generate(&mut rand::rng()).public(),
            mask_key: KeyPair::generate(&mut rand::rng()).public(),
            signature: vec![],
        };
        fresh.signature = sign_keys(&ids[2], params.round_id(), 2, &fresh);
        let list = KeyList {
            graph_seed: [0; 16],
            peers: vec![
                PeerKeys {
                    client: 1,
                    keys: relayed.clone(),
                },
                PeerKeys {
                    client: 2,
                    keys: fresh,
                },
            ],
        };
        send_msg(&mut server, &list).unwrap();
        let sent_shares = recv_msg::<Vec<Sealed>>(&mut server).is_ok();
        drop(server);
        (c.join().unwrap(), sent_shares)
    })
}

#[test]
fn a_signed_message_replayed_from_an_earlier_job_is_refused() {
    let (pki, ids) = Pki::generate(3, &mut StdRng::seed_from_u64(31));
    let mut earlier = Params::new(3, 4, FRAC_BITS, MAX_ABS).unwrap();
    earlier.job = [1; 32];
    // Round 0 of the earlier job: client 1's signed keys, as its server
    // received them.
    let (mut server, mut client) = pair("server", "client 1");
    let old: Advertise = std::thread::scope(|s| {
        let c = s.spawn(|| {
            run_client_signed(
                &mut client,
                1,
                &earlier,
                (&ids[1], &pki),
                &[1.0; 4],
                &mut rand::rng(),
            )
        });
        let old = recv_msg(&mut server).unwrap();
        drop(server);
        assert!(c.join().unwrap().is_err());
        old
    });
    // Within that job the keys are good: client 0 takes them and sends
    // its shares.
    let (result, sent) = with_relayed_keys(&earlier, &pki, &ids, &old);
    assert!(sent, "{result:?}");
    // Round 0 of a later job (round numbers restart): the server replays
    // them, and client 0 refuses before it sends anything that uses them.
    let mut later = earlier.clone();
    later.job = [2; 32];
    let (result, sent) = with_relayed_keys(&later, &pki, &ids, &old);
    assert!(!sent);
    match result {
        Err(AggregateError::BadSignature {
            client: 1,
            what: "its public keys",
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
}
