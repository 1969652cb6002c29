//! Known-answer tests that pin the SecAgg wire format: key derivation,
//! share encryption and the bytes of every control message. The expected
//! values were computed independently (Python: hashlib, `cryptography`'s
//! AES-GCM, and a textbook Montgomery ladder), not by this code. A change
//! here breaks interoperability with every deployed client.
//!
//! Layout change (#11, signed rounds): `Advertise` gained a trailing
//! `signature` byte vector (a length byte 0 in unsigned rounds, 64 and the
//! signature in signed ones), so its frame and `KeyList`'s changed; the
//! consistency-check messages `Endorse` and `Endorsements` are new. The
//! ed25519 signatures below were computed with Python's `cryptography`.

use curve25519_dalek::Scalar;
use ed25519_dalek::SigningKey;
use indomain_aggregate::secagg::crypto::{KeyPair, mask_seed, seal, share_key};
use indomain_aggregate::secagg::messages::{
    Advertise, Endorse, Endorsement, Endorsements, KeyList, PeerKeys, Reveal, RevealedShare,
    Sealed, Survivors,
};
use indomain_aggregate::secagg::signing::{Pki, sign_keys, sign_survivors, verify_keys};
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
        signature: vec![],
    };
    let mut want = vec![1u8; 32];
    want.extend([2u8; 32]);
    want.push(0);
    assert_eq!(frame(&advert), want);
    let signed = Advertise {
        signature: vec![9; 64],
        ..advert.clone()
    };
    want.pop();
    want.push(64);
    want.extend([9u8; 64]);
    assert_eq!(frame(&signed), want);

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
    want.push(0);
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

    let endorse = Endorse {
        signature: vec![3; 64],
    };
    let mut want = vec![64];
    want.extend([3u8; 64]);
    assert_eq!(frame(&endorse), want);
    let relayed = Endorsements {
        signatures: vec![Endorsement {
            client: 300,
            signature: vec![4; 64],
        }],
    };
    let mut want = vec![1, 251, 0x2c, 0x01, 64];
    want.extend([4u8; 64]);
    assert_eq!(frame(&relayed), want);
}

#[test]
fn signatures_on_keys_and_survivor_lists_are_pinned() {
    // ed25519 (RFC 8032) with secret seed 07^32 over
    // u64(len label) ‖ label ‖ u64 round ‖ u64 client ‖ cipher key ‖ mask key, and
    // u64(len label) ‖ label ‖ u64 round ‖ SHA-256(u64 count ‖ u32 ids),
    // integers little-endian.
    let key = SigningKey::from_bytes(&[7; 32]);
    assert_eq!(
        key.verifying_key().to_bytes().to_vec(),
        hex("ea4a6c63e29c520abef5507b132ec5f9954776aebebe7b92421eea691446d22c")
    );
    let mut advert = Advertise {
        cipher_key: [1; 32],
        mask_key: [2; 32],
        signature: vec![],
    };
    advert.signature = sign_keys(&key, 9, 300, &advert);
    assert_eq!(
        advert.signature,
        hex(
            "7a6b27f6d93271df657ca5b6b552c169acebee6c2dd6a69ae218f5a49520d756\
             168655138179f4eead77a843aed88abbe32805b3ea1ca760c1eb4b8f64dfcc09"
        )
    );
    let mut keys = vec![SigningKey::from_bytes(&[1; 32]).verifying_key(); 301];
    keys[300] = key.verifying_key();
    let pki = Pki::new(keys);
    assert!(verify_keys(&pki, 9, 300, &advert));
    assert!(!verify_keys(&pki, 10, 300, &advert));
    assert!(!verify_keys(&pki, 9, 299, &advert));
    assert_eq!(
        sign_survivors(&key, 9, &[0, 2, 1000]),
        hex(
            "6834211bd69c5477c8a822927d4dd33fc7e4d1061f22c53765a44ef83bedcacf\
             461b64f347d01c61a71eabcf87ff5fac4f86333d67cc36ba2a8d943adab5a300"
        )
    );
}
