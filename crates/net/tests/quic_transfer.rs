//! Bulk transfer and n-party meshes over QUIC on loopback.

mod common;

use common::{bind, connected_pair, identity, loopback};
use indomain_net::quic::{Endpoint, PartyAddr, mesh};
use indomain_net::{Channel, Limits};

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// A cheap, order-sensitive checksum (FNV-1a over 8-byte words).
fn checksum(acc: u64, data: &[u8]) -> u64 {
    data.chunks(8).fold(acc, |h, w| {
        let mut word = [0u8; 8];
        word[..w.len()].copy_from_slice(w);
        (h ^ u64::from_le_bytes(word)).wrapping_mul(0x100_0000_01b3)
    })
}

/// Frame `i` of a transfer: distinct content in every frame.
fn fill(frame: &mut [u8], i: u64) {
    for (j, w) in frame.chunks_mut(8).enumerate() {
        let v = (i << 32 | j as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        w.copy_from_slice(&v.to_le_bytes()[..w.len()]);
    }
}

#[test]
fn one_gibibyte_arrives_intact_in_both_directions_at_once() {
    const FRAME: usize = 1 << 20;
    const FRAMES: u64 = 512; // 512 MiB each way, 1 GiB in all
    let (_a, mut to_bob, _b, mut to_alice) = connected_pair(Limits::default());
    assert_eq!(to_bob.peer(), "bob");
    assert_eq!(to_alice.peer(), "alice");

    // Each party sends a frame, then receives one, on its own thread: both
    // directions are busy at once, as in a real protocol round.
    let party = |ch: &mut dyn Channel, salt: u64| {
        let mut frame = vec![0u8; FRAME];
        let (mut sent, mut got) = (FNV_OFFSET, FNV_OFFSET);
        for i in 0..FRAMES {
            fill(&mut frame, i ^ salt);
            sent = checksum(sent, &frame);
            ch.send(&frame).unwrap();
            let incoming = ch.recv().unwrap();
            assert_eq!(incoming.len(), FRAME);
            got = checksum(got, &incoming);
        }
        (sent, got)
    };
    let ((sent_ab, got_ba), (sent_ba, got_ab)) = std::thread::scope(|s| {
        let alice = s.spawn(|| party(&mut to_bob, 1));
        let bob = party(&mut to_alice, 2);
        (alice.join().unwrap(), bob)
    });
    assert_eq!(sent_ab, got_ab, "alice -> bob content differs");
    assert_eq!(sent_ba, got_ba, "bob -> alice content differs");
    assert_ne!(sent_ab, sent_ba);
    let bytes = FRAMES * (FRAME as u64 + 8);
    assert_eq!(to_bob.counters().sent, bytes);
    assert_eq!(to_bob.counters().received, bytes);
    assert_eq!(to_alice.counters(), to_bob.counters());
}

#[test]
fn three_parties_form_a_mesh_ordered_by_party_index() {
    let names = ["bank", "tax", "operator"];
    let ids: Vec<_> = names.iter().map(|n| identity(n)).collect();
    let endpoints: Vec<Endpoint> = ids
        .iter()
        .enumerate()
        .map(|(i, me)| {
            let others: Vec<_> = ids
                .iter()
                .enumerate()
                .filter(|&(j, _)| j != i)
                .map(|(_, id)| id)
                .collect();
            bind(me, &others, Limits::default())
        })
        .collect();
    let parties: Vec<PartyAddr> = names
        .iter()
        .zip(&endpoints)
        .map(|(n, e)| PartyAddr {
            name: n.to_string(),
            addr: e.local_addr(),
        })
        .collect();
    let results: Vec<Vec<Option<Vec<u8>>>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..3)
            .rev()
            .map(|me| {
                let (endpoint, parties) = (&endpoints[me], &parties);
                s.spawn(move || {
                    let mut set = mesh(endpoint, me, parties).unwrap();
                    assert_eq!(set.me(), me);
                    for other in set.others().collect::<Vec<_>>() {
                        assert_eq!(set.channel(other).unwrap().peer(), names[other]);
                    }
                    set.broadcast(format!("from {}", names[me]).as_bytes())
                        .unwrap();
                    set.gather().unwrap()
                })
            })
            .collect();
        let mut results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        results.reverse();
        results
    });
    for (me, gathered) in results.iter().enumerate() {
        for (other, frame) in gathered.iter().enumerate() {
            let expected = (other != me).then(|| format!("from {}", names[other]).into_bytes());
            assert_eq!(frame, &expected, "party {me}, slot {other}");
        }
    }
}

#[test]
fn mesh_refuses_a_party_list_that_does_not_name_this_node() {
    let (bank, tax) = (identity("bank"), identity("tax"));
    let endpoint = bind(&bank, &[&tax], Limits::default());
    let parties = [
        PartyAddr {
            name: "tax".into(),
            addr: loopback(),
        },
        PartyAddr {
            name: "bank".into(),
            addr: endpoint.local_addr(),
        },
    ];
    let err = mesh(&endpoint, 0, &parties).err().unwrap().to_string();
    assert!(err.contains("party 0 of the job is tax"), "{err}");
}
