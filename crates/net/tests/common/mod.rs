//! Helpers shared by the QUIC integration tests: identities and connected
//! endpoint pairs on loopback.
#![allow(dead_code)]

use indomain_net::quic::{Endpoint, Identity, QuicChannel, TrustedPeer};
use indomain_net::{Limits, NetError};
use std::net::SocketAddr;
use std::time::Duration;

pub const LOOPBACK: &str = "127.0.0.1:0";

pub fn loopback() -> SocketAddr {
    LOOPBACK.parse().unwrap()
}

/// Short timeouts so that failure tests finish quickly.
pub fn short_limits() -> Limits {
    Limits {
        max_frame: 4 << 20,
        recv_timeout: Duration::from_secs(2),
        connect_timeout: Duration::from_secs(3),
    }
}

pub fn identity(name: &str) -> Identity {
    Identity::generate(name).unwrap()
}

pub fn bind(me: &Identity, trusted: &[&Identity], limits: Limits) -> Endpoint {
    let trusted: Vec<TrustedPeer> = trusted.iter().map(|i| i.trusted_entry()).collect();
    Endpoint::bind(me, loopback(), trusted, limits).unwrap()
}

/// Runs `accept` on `server` while `client` connects to it, expecting
/// `peer_name` there.
pub fn handshake(
    server: &Endpoint,
    client: &Endpoint,
    peer_name: &str,
) -> (Result<QuicChannel, NetError>, Result<QuicChannel, NetError>) {
    std::thread::scope(|s| {
        let accepted = s.spawn(|| server.accept());
        let connected = client.connect(server.local_addr(), peer_name);
        (accepted.join().unwrap(), connected)
    })
}

/// Two endpoints that trust each other, with a channel between them:
/// (alice's endpoint, alice's channel to bob, bob's endpoint, bob's channel
/// to alice). Alice listens, bob connects.
pub fn connected_pair(limits: Limits) -> (Endpoint, QuicChannel, Endpoint, QuicChannel) {
    let (alice, bob) = (identity("alice"), identity("bob"));
    let a = bind(&alice, &[&bob], limits);
    let b = bind(&bob, &[&alice], limits);
    let (to_bob, to_alice) = handshake(&a, &b, "alice");
    (a, to_bob.unwrap(), b, to_alice.unwrap())
}
