//! Every decoder of peer bytes in SecAgg and the statistics protocol, fed
//! random and truncated bytes: an error (or a dropped client), never a
//! panic.

use indomain_aggregate::AggregateError;
use indomain_aggregate::secagg::crypto::KeyPair;
use indomain_aggregate::secagg::messages::{
    Advertise, Endorse, Endorsement, Endorsements, KeyList, PeerKeys, Reveal, RevealedShare,
    Sealed, Survivors,
};
use indomain_aggregate::secagg::signing::{self, sign_keys, sign_survivors};
use indomain_aggregate::secagg::{
    Outgoing, Params, Pki, RoundId, ServerRound, Step, run_client, run_client_signed,
};
use indomain_aggregate::stats::{Statistic, StatsJob};
use indomain_net::Channel;
use indomain_net::memory::pair;
use indomain_net::wire::recv_msg;
use indomain_net::wire::{decode_msg, send_msg};
use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Round 0 of the job nonce `Params::new` leaves (zero).
const R0: RoundId = RoundId {
    job: [0; 32],
    round: 0,
};

fn frame<T: Serialize>(msg: &T) -> Vec<u8> {
    let (mut a, mut b) = pair("a", "b");
    send_msg(&mut a, msg).unwrap();
    b.recv().unwrap()
}

/// Every strict prefix of a valid frame fails to decode.
fn truncations_fail<T: Serialize + DeserializeOwned>(msg: &T) {
    let bytes = frame(msg);
    for cut in 0..bytes.len() {
        assert!(decode_msg::<T>("p", &bytes[..cut]).is_err(), "prefix {cut}");
    }
    assert!(decode_msg::<T>("p", &bytes).is_ok());
}

fn advert(seed: u64) -> Advertise {
    let mut rng = StdRng::seed_from_u64(seed);
    Advertise {
        cipher_key: KeyPair::generate(&mut rng).public(),
        mask_key: KeyPair::generate(&mut rng).public(),
        signature: vec![seed as u8; 64],
    }
}

#[test]
fn truncated_secagg_and_stats_messages_are_errors() {
    truncations_fail(&advert(1));
    truncations_fail(&KeyList {
        graph_seed: [1; 16],
        peers: vec![PeerKeys {
            client: 9,
            keys: advert(2),
        }],
    });
    truncations_fail(&vec![Sealed {
        peer: 3,
        ciphertext: vec![5; 80],
    }]);
    truncations_fail(&Survivors {
        clients: vec![1, 2, 300],
    });
    truncations_fail(&Endorse {
        signature: vec![6; 64],
    });
    truncations_fail(&Endorsements {
        signatures: vec![Endorsement {
            client: 4,
            signature: vec![7; 64],
        }],
    });
    truncations_fail(&Reveal {
        self_masks: vec![RevealedShare {
            owner: 1,
            value: [2; 32],
        }],
        mask_keys: vec![],
    });
    let job = StatsJob {
        statistic: Statistic::Histogram {
            edges: vec![0.0, 1.0],
        },
        columns: vec!["x".into()],
        categories: Some(vec!["a".into()]),
        receivers: vec![0],
        min_group_size: 5,
        frac_bits: 32,
        max_abs: 1e9,
    };
    truncations_fail(&(job, vec!["a".to_string(), "b".to_string()]));
    truncations_fail(&vec![true, false, true]);
}

/// A three-client round advanced to `step` with well-formed messages.
fn round_at(step: Step) -> ServerRound {
    let params = Params::new(3, 4, 16, 100.0).unwrap();
    let mut round = ServerRound::new(&params, &mut StdRng::seed_from_u64(5)).unwrap();
    let adverts: Vec<Advertise> = (0..3).map(advert).collect();
    if step == Step::Keys {
        return round;
    }
    for (u, a) in adverts.iter().enumerate() {
        round.handle(u, &frame(a));
    }
    round.advance().unwrap();
    if step == Step::Shares {
        return round;
    }
    for u in 0..3 {
        let bundle: Vec<Sealed> = (0..3)
            .filter(|&v| v != u)
            .map(|v| Sealed {
                peer: v as u32,
                ciphertext: vec![0; 80],
            })
            .collect();
        round.handle(u, &frame(&bundle));
    }
    round.advance().unwrap();
    if step == Step::MaskedInputs {
        return round;
    }
    for u in 0..3 {
        round.handle(u, &[0u8; 32]);
    }
    round.advance().unwrap();
    round
}

/// A signed three-client round advanced to the consistency check.
fn signed_round_at_consistency_check() -> (ServerRound, Vec<ed25519_dalek::SigningKey>) {
    let params = Params::new(3, 4, 16, 100.0).unwrap();
    let (pki, ids) = Pki::generate(3, &mut StdRng::seed_from_u64(6));
    let mut round = ServerRound::signed(&params, pki, &mut StdRng::seed_from_u64(5)).unwrap();
    for (u, key) in ids.iter().enumerate() {
        let mut a = advert(u as u64);
        a.signature = sign_keys(key, R0, u, &a);
        round.handle(u, &frame(&a));
    }
    round.advance().unwrap();
    for u in 0..3 {
        let bundle: Vec<Sealed> = (0..3)
            .filter(|&v| v != u)
            .map(|v| Sealed {
                peer: v as u32,
                ciphertext: vec![0; 80],
            })
            .collect();
        round.handle(u, &frame(&bundle));
    }
    round.advance().unwrap();
    for u in 0..3 {
        round.handle(u, &[0u8; 32]);
    }
    round.advance().unwrap();
    (round, ids)
}

#[test]
fn a_signed_server_drops_clients_with_bad_signatures() {
    let params = Params::new(3, 4, 16, 100.0).unwrap();
    let (pki, ids) = Pki::generate(3, &mut StdRng::seed_from_u64(7));
    let mut round = ServerRound::signed(&params, pki, &mut StdRng::seed_from_u64(5)).unwrap();
    let mut signed = advert(0);
    signed.signature = sign_keys(&ids[0], R0, 0, &signed);
    round.handle(0, &frame(&signed));
    // Client 0's signature presented as client 1's, and a missing one.
    round.handle(1, &frame(&signed));
    round.handle(2, &frame(&advert(2)));
    assert!(round.pending().is_empty());
    assert!(matches!(
        round.advance(),
        Err(AggregateError::TooFewSurvivors { survivors: 1, .. })
    ));

    let (mut round, ids) = signed_round_at_consistency_check();
    assert_eq!(round.step(), Step::ConsistencyCheck);
    let list = [0u32, 1, 2];
    let good = sign_survivors(&ids[0], R0, &list);
    round.handle(0, &frame(&Endorse { signature: good }));
    // A signature on another list, and one of client 0 sent by client 2.
    let other = sign_survivors(&ids[1], R0, &[0, 1]);
    round.handle(1, &frame(&Endorse { signature: other }));
    let stolen = sign_survivors(&ids[0], R0, &list);
    round.handle(2, &frame(&Endorse { signature: stolen }));
    assert!(round.advance().is_err(), "only client 0 signed the list");
}

#[test]
fn malformed_signature_bytes_never_verify() {
    let key = ed25519_dalek::SigningKey::from_bytes(&[3; 32]);
    let pki = Pki::new(vec![key.verifying_key()]);
    let message = b"message";
    let good = {
        use ed25519_dalek::Signer;
        key.sign(message).to_bytes().to_vec()
    };
    assert!(signing::verify(&pki, 0, message, &good));
    let mut non_canonical = good.clone();
    // s + ℓ: the same s modulo ℓ, refused as non-canonical.
    let ell: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let mut carry = 0u16;
    for i in 0..32 {
        let v = u16::from(non_canonical[32 + i]) + u16::from(ell[i]) + carry;
        non_canonical[32 + i] = v as u8;
        carry = v >> 8;
    }
    let mut flipped = good.clone();
    flipped[5] ^= 1;
    for bad in [
        vec![],
        good[..63].to_vec(),
        [good.clone(), vec![0]].concat(),
        non_canonical,
        flipped,
        vec![0; 64],
    ] {
        assert!(!signing::verify(&pki, 0, message, &bad), "{bad:?}");
    }
    assert!(
        !signing::verify(&pki, 1, message, &good),
        "no key for client 1"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_bytes_at_the_consistency_check_drop_the_client(
        bytes in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let (mut round, ids) = signed_round_at_consistency_check();
        prop_assert_eq!(round.pending(), vec![0, 1, 2]);
        round.handle(1, &bytes);
        prop_assert_eq!(round.pending(), vec![0, 2]);
        for u in [0, 2] {
            let signature = sign_survivors(&ids[u], R0, &[0, 1, 2]);
            round.handle(u, &frame(&Endorse { signature }));
        }
        // Nobody can sign for client 1 without its key: it was dropped,
        // and its bytes are relayed to no one.
        let out = round.advance().unwrap();
        prop_assert_eq!(out.len(), 2);
        for (_, message) in out {
            let Outgoing::Endorsements(list) = message else {
                return Err(TestCaseError::fail("not endorsements"));
            };
            prop_assert_eq!(list.signatures.len(), 1);
            prop_assert!(list.signatures[0].client != 1);
        }
    }

    #[test]
    fn a_signed_client_refuses_random_signature_bytes(
        signature in proptest::collection::vec(any::<u8>(), 0..100),
    ) {
        let params = Params::new(3, 4, 16, 100.0).unwrap();
        let (pki, ids) = Pki::generate(3, &mut StdRng::seed_from_u64(8));
        let (mut client_end, mut server_end) = pair("server", "client 0");
        let key = ids[0].clone();
        let handle = std::thread::spawn(move || {
            run_client_signed(&mut client_end, 0, &params, (&key, &pki), &[1.0; 4], &mut rand::rng())
        });
        let _: Advertise = recv_msg(&mut server_end).unwrap();
        let mut peers: Vec<PeerKeys> = (1..3)
            .map(|v| {
                let mut keys = advert(v as u64);
                keys.signature = sign_keys(&ids[v], R0, v, &keys);
                PeerKeys { client: v as u32, keys }
            })
            .collect();
        peers[1].keys.signature = signature;
        send_msg(&mut server_end, &KeyList { graph_seed: [0; 16], peers }).unwrap();
        let next = server_end.recv();
        drop(server_end);
        let result = handle.join().expect("the client panicked");
        prop_assert!(next.is_err(), "the client sent shares");
        prop_assert!(
            matches!(result, Err(AggregateError::BadSignature { client: 2, .. })),
            "{:?}", result
        );
    }

    #[test]
    fn random_bytes_to_the_server_drop_the_client_and_never_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..200),
        step in prop_oneof![
            Just(Step::Keys),
            Just(Step::Shares),
            Just(Step::MaskedInputs),
            Just(Step::Unmasking)
        ],
    ) {
        let mut round = round_at(step);
        prop_assert_eq!(round.step(), step);
        prop_assert_eq!(round.pending(), vec![0, 1, 2]);
        round.handle(1, &bytes);
        round.handle(7, &bytes);
        // Client 1 either answered with a message that happens to be valid,
        // or was dropped; in both cases it is no longer awaited.
        prop_assert_eq!(round.pending(), vec![0, 2]);
        round.handle(1, &bytes);
        prop_assert_eq!(round.pending(), vec![0, 2]);
    }

    #[test]
    fn random_bytes_decode_to_errors_not_panics(
        bytes in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let _ = decode_msg::<Advertise>("p", &bytes);
        let _ = decode_msg::<KeyList>("p", &bytes);
        let _ = decode_msg::<Vec<Sealed>>("p", &bytes);
        let _ = decode_msg::<Survivors>("p", &bytes);
        let _ = decode_msg::<Reveal>("p", &bytes);
        let _ = decode_msg::<Endorse>("p", &bytes);
        let _ = decode_msg::<Endorsements>("p", &bytes);
        let _ = decode_msg::<(StatsJob, Vec<String>)>("p", &bytes);
        let _ = decode_msg::<Vec<bool>>("p", &bytes);
    }

    #[test]
    fn a_client_fed_random_bytes_fails_cleanly(
        bytes in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let params = Params::new(3, 4, 16, 100.0).unwrap();
        let (mut client_end, mut server_end) = pair("server", "client 0");
        let handle = std::thread::spawn(move || {
            run_client(&mut client_end, 0, &params, &[1.0; 4], &mut rand::rng())
        });
        let _ = server_end.recv();
        let _ = server_end.send(&bytes);
        drop(server_end);
        prop_assert!(handle.join().expect("the client panicked").is_err());
    }
}
