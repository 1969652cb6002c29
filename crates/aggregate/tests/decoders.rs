//! Every decoder of peer bytes in SecAgg and the statistics protocol, fed
//! random and truncated bytes: an error (or a dropped client), never a
//! panic.

use indomain_aggregate::secagg::crypto::KeyPair;
use indomain_aggregate::secagg::messages::{
    Advertise, KeyList, PeerKeys, Reveal, RevealedShare, Sealed, Survivors,
};
use indomain_aggregate::secagg::{Params, ServerRound, Step, run_client};
use indomain_aggregate::stats::{Statistic, StatsJob};
use indomain_net::Channel;
use indomain_net::memory::pair;
use indomain_net::wire::{decode_msg, send_msg};
use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::Serialize;
use serde::de::DeserializeOwned;

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

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

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
