//! Known-answer tests that pin the SecAgg wire format: key derivation,
//! share encryption and the bytes of every control message. The expected
//! values were computed independently (Python: hashlib, `cryptography`'s
//! AES-GCM, and a textbook Montgomery ladder), not by this code. A change
//! here breaks interoperability with every deployed client.

use curve25519_dalek::Scalar;
use indomain_aggregate::secagg::crypto::{KeyPair, mask_seed, seal, share_key};
use indomain_aggregate::secagg::messages::{
    Advertise, KeyList, PeerKeys, Reveal, RevealedShare, Sealed, Survivors,
};
use indomain_net::Channel;
use indomain_net::memory::pair;
use indomain_net::wire::send_msg;
use serde::Serialize;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

/// The frame `send_msg` puts on the wire for `msg`.
fn frame<T: Serialize>(msg: &T) -> Vec<u8> {
    let (mut a, mut b) = pair("a", "b");
    send_msg(&mut a, msg).unwrap();
    b.recv().unwrap()
}

#[test]
fn public_keys_and_agreements_are_x25519_u_coordinates_of_unclamped_scalars() {
    let five = KeyPair::from_secret(Scalar::from(5u64));
    let seven = KeyPair::from_secret(Scalar::from(7u64));
    assert_eq!(
        five.public().to_vec(),
        hex("877c4978577d530dcb491d58bcc9cba87f9e075e6e02c003f27aee503cecb641")
    );
    let shared = five.agree(&seven.public()).unwrap();
    assert_eq!(
        shared.to_vec(),
        hex("f8e3fb3ff8fadced148409a10274cc9944d561f5a998ca137a545e415c719b1b")
    );
    assert_eq!(seven.agree(&five.public()), Some(shared));
}

#[test]
fn mask_seeds_share_keys_and_seals_are_pinned() {
    // SHA-256(len(label) ‖ label ‖ round ‖ min id ‖ max id ‖ agreement)[..16],
    // integers as little-endian u64.
    let shared: [u8; 32] = std::array::from_fn(|i| i as u8);
    let seed = mask_seed(7, 3, 1, &shared);
    assert_eq!(seed.0.to_vec(), hex("b0cf4f787b8e3676b24e8e0ea23dd0c6"));
    assert_eq!(mask_seed(7, 1, 3, &shared), seed);
    let key = share_key(7, 3, 1, &shared);
    assert_eq!(key.to_vec(), hex("7ae4d1bbc18c75491c8311ec8efe228e"));
    // AES-128-GCM, nonce 01 ‖ 0^11 (from 3 to 1: the larger id sends),
    // associated data round ‖ from ‖ to.
    assert_eq!(
        seal(&key, 7, 3, 1, &[9u8; 64]),
        hex(
            "9f4f740fd1ddca47e6817ef56b4c0c3b7d5958088b451c61616e435ea70de99e\
             927e43e089468226462d7c9e23b008b2eb5240509d185ad01b7fe224b6ca9da2\
             aead3af17f4f0cc6640b924a22ce1ea6"
        )
    );
}

#[test]
fn control_messages_have_pinned_bytes() {
    // bincode 2, standard configuration: fixed arrays raw, integers and
    // lengths as varints (one byte below 251).
    let advert = Advertise {
        cipher_key: [1; 32],
        mask_key: [2; 32],
    };
    let mut want = vec![1u8; 32];
    want.extend([2u8; 32]);
    assert_eq!(frame(&advert), want);

    let list = KeyList {
        graph_seed: [3; 16],
        peers: vec![PeerKeys {
            client: 300,
            keys: advert.clone(),
        }],
    };
    let mut want = vec![3u8; 16];
    want.extend([1, 251, 0x2c, 0x01]);
    want.extend([1u8; 32]);
    want.extend([2u8; 32]);
    assert_eq!(frame(&list), want);

    let sealed = vec![Sealed {
        peer: 5,
        ciphertext: vec![0xaa, 0xbb],
    }];
    assert_eq!(frame(&sealed), vec![1, 5, 2, 0xaa, 0xbb]);

    let survivors = Survivors {
        clients: vec![0, 2, 1000],
    };
    assert_eq!(frame(&survivors), vec![3, 0, 2, 251, 0xe8, 0x03]);

    let reveal = Reveal {
        self_masks: vec![RevealedShare {
            owner: 4,
            value: [7; 32],
        }],
        mask_keys: vec![],
    };
    let mut want = vec![1, 4];
    want.extend([7u8; 32]);
    want.push(0);
    assert_eq!(frame(&reveal), want);
}
