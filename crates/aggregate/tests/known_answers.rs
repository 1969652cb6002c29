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
//!
//! Derivation change (#16, job nonces): the labels moved to `v2` and every
//! derived key, AEAD associated data and signed message now carries the
//! 32-byte job nonce before the round number, so nothing of one job's
//! rounds is valid in another's; the values below were recomputed with
//! Python's hashlib and `cryptography` (job nonce 5a^32).

use curve25519_dalek::Scalar;
use ed25519_dalek::SigningKey;
use indomain_aggregate::secagg::RoundId;
use indomain_aggregate::secagg::crypto::{KeyPair, mask_seed, seal, share_key};
use indomain_aggregate::secagg::messages::{
    Advertise, Endorse, Endorsement, Endorsements, KeyList, PeerKeys, Reveal, RevealedShare,
    Sealed, Survivors,
};
use indomain_aggregate::secagg::nonce::{Contributions, job_nonce};
use indomain_aggregate::secagg::signing::{Pki, sign_keys, sign_survivors, verify_keys};
use indomain_net::Channel;
use indomain_net::memory::pair;
use indomain_net::wire::send_msg;
use serde::Serialize;

/// Round `round` of the job whose nonce is 5a^32.
fn round(round: u64) -> RoundId {
    RoundId {
        job: [0x5a; 32],
        round,
    }
}

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
    // SHA-256(len(label) ‖ label ‖ job nonce ‖ round ‖ min id ‖ max id ‖
    // agreement)[..16], integers as little-endian u64.
    let shared: [u8; 32] = std::array::from_fn(|i| i as u8);
    let seed = mask_seed(round(7), 3, 1, &shared);
    assert_eq!(seed.0.to_vec(), hex("14609b9e725aec12abbcfb1ba1241217"));
    assert_eq!(mask_seed(round(7), 1, 3, &shared), seed);
    let key = share_key(round(7), 3, 1, &shared);
    assert_eq!(key.to_vec(), hex("eec35e686f9b80cd2c4f9d4957e49b82"));
    // AES-128-GCM, nonce 01 ‖ 0^11 (from 3 to 1: the larger id sends),
    // associated data job nonce ‖ round ‖ from ‖ to.
    assert_eq!(
        seal(&key, round(7), 3, 1, &[9u8; 64]),
        hex(
            "3446b507d6c911648681e302182de41653f6d63c677db7975dd24502e8087400\
             4ecb90aa27c7937a8318667e27ad7133c4b00879d9a4c6da9c0ddf9e067ca8dd\
             454440f73e09c1c4631a6cf7cff310ac"
        )
    );
    // Another job's nonce: another seed for the same round and agreement.
    let other = RoundId {
        job: [0x5b; 32],
        round: 7,
    };
    assert_ne!(mask_seed(other, 3, 1, &shared), seed);
}

#[test]
fn the_job_nonce_is_pinned() {
    // SHA-256(len(label) ‖ label ‖ count ‖ (id ‖ contribution)...), u64 LE.
    let list = Contributions {
        clients: vec![(0, [1; 32]), (3, [2; 32])],
    };
    assert_eq!(
        job_nonce(&list).to_vec(),
        hex("c1a9ef09099e3e906f3f683934bd96c3c1a88b26e310a5b79f1ac6197fe2fd75")
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
    // u64(len label) ‖ label ‖ job nonce ‖ u64 round ‖ u64 client ‖ cipher key ‖ mask key,
    // and u64(len label) ‖ label ‖ job nonce ‖ u64 round ‖ SHA-256(u64 count ‖ u32 ids),
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
    advert.signature = sign_keys(&key, round(9), 300, &advert);
    assert_eq!(
        advert.signature,
        hex(
            "f11afabb11f76d075695990edb073e16134f1367175b9f5404211d376a172262\
             03b9df13bf86f645ffd93aaab1f7f79849570c637194bb61b87b978b05ac130a"
        )
    );
    let mut keys = vec![SigningKey::from_bytes(&[1; 32]).verifying_key(); 301];
    keys[300] = key.verifying_key();
    let pki = Pki::new(keys);
    assert!(verify_keys(&pki, round(9), 300, &advert));
    assert!(!verify_keys(&pki, round(10), 300, &advert));
    assert!(!verify_keys(&pki, round(9), 299, &advert));
    // The same round of another job.
    let other = RoundId {
        job: [0x5b; 32],
        round: 9,
    };
    assert!(!verify_keys(&pki, other, 300, &advert));
    assert_eq!(
        sign_survivors(&key, round(9), &[0, 2, 1000]),
        hex(
            "06f6ab9e3d148ba13655e683f32825d38bf5a96be83ca24ba94e32e4323c0b63\
             20f52705b3b64ca54b2762e3099fae18ce60c7011a62595e355932d2e83ad607"
        )
    );
}
