//! Starting a job: parties may start in any order, a party that never comes
//! is named, a node cannot be listed as someone else, and a stopped job is
//! reported to the peers at once as stopped, by whom.

mod common;

use common::{bind, handshake, identity};
use indomain_net::quic::{Endpoint, PartyAddr, mesh};
use indomain_net::{Channel, Limits, NetError};
use std::net::SocketAddr;
use std::time::Duration;

/// A receive timeout long enough that an error other than a timeout proves
/// the event was noticed on its own, and a connect timeout (one handshake
/// attempt) much shorter than the wait below.
fn limits() -> Limits {
    Limits {
        max_frame: 1 << 20,
        recv_timeout: Duration::from_secs(30),
        connect_timeout: Duration::from_secs(1),
    }
}

fn free_addr() -> SocketAddr {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

#[test]
fn a_connecting_party_retries_until_the_listener_starts() {
    let (alice, bob) = (identity("alice"), identity("bob"));
    let addr = free_addr();
    let client = bind(&bob, &[&alice], limits());
    std::thread::scope(|s| {
        let connecting = s.spawn(|| client.connect(addr, "alice"));
        // Several connect timeouts pass before the listener exists.
        std::thread::sleep(Duration::from_secs(3));
        let server = Endpoint::bind(&alice, addr, vec![bob.trusted_entry()], limits()).unwrap();
        let mut to_bob = server.accept().unwrap();
        let mut to_alice = connecting.join().unwrap().unwrap();
        to_alice.send(b"late but here").unwrap();
        assert_eq!(to_bob.recv().unwrap(), b"late but here");
    });
}

#[test]
fn a_party_that_never_arrives_is_named() {
    let names = ["a", "b", "c"];
    let ids: Vec<_> = names.iter().map(|n| identity(n)).collect();
    let short = Limits {
        recv_timeout: Duration::from_secs(3),
        ..limits()
    };
    let a = bind(&ids[0], &[&ids[1], &ids[2]], short);
    let b = bind(&ids[1], &[&ids[0], &ids[2]], short);
    let parties: Vec<PartyAddr> = [a.local_addr(), b.local_addr(), free_addr()]
        .iter()
        .zip(names)
        .map(|(addr, name)| PartyAddr {
            name: name.into(),
            addr: *addr,
        })
        .collect();
    let (ra, rb) = std::thread::scope(|s| {
        let ra = s.spawn(|| mesh(&a, 0, &parties).map(|_| ()));
        let rb = s.spawn(|| mesh(&b, 1, &parties).map(|_| ()));
        (ra.join().unwrap(), rb.join().unwrap())
    });
    for err in [ra.unwrap_err(), rb.unwrap_err()] {
        assert!(
            matches!(&err, NetError::NeverArrived { missing, .. } if missing == &["c"]),
            "{err}"
        );
        assert!(err.to_string().starts_with("c did not connect"), "{err}");
    }
}

#[test]
fn a_trusted_peer_with_this_nodes_own_fingerprint_is_refused() {
    let alice = identity("alice");
    let mut entry = alice.trusted_entry();
    entry.name = "bob".into();
    let err = Endpoint::bind(&alice, common::loopback(), vec![entry], limits()).unwrap_err();
    assert!(
        err.to_string()
            .contains("bob has this node's own fingerprint"),
        "{err}"
    );
}

#[test]
fn a_stopped_job_is_reported_to_the_peer_at_once_and_by_whom() {
    let (alice, bob) = (identity("alice"), identity("bob"));
    let a = bind(&alice, &[&bob], limits());
    let b = bind(&bob, &[&alice], limits());
    let (to_bob, to_alice) = handshake(&a, &b, "alice");
    let (_to_bob, mut to_alice) = (to_bob.unwrap(), to_alice.unwrap());
    a.stop_handle()
        .stop("interrupted (SIGTERM)\n\u{1b}[31mforged line");
    let err = to_alice.recv().unwrap_err();
    match &err {
        NetError::Stopped { peer, reason } => {
            assert_eq!(peer, "alice");
            assert!(
                reason.starts_with("interrupted (SIGTERM)\\n\\u{1b}[31m"),
                "{reason}"
            );
        }
        other => panic!("expected Stopped, got {other}"),
    }
    let err = to_alice.send(b"anyone?").unwrap_err();
    assert!(matches!(err, NetError::Stopped { .. }), "{err}");
}
