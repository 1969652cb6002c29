//! Datagram sizes: a known size is used from the first packet, the default
//! follows this namespace's loopback MTU, and sizes QUIC cannot use are
//! refused.

mod common;

use common::{handshake, identity, loopback, short_limits};
use indomain_net::quic::{DatagramSize, Endpoint, MAX_DATAGRAM};
use indomain_net::{Channel, NetError};

/// Connects two endpoints bound with `datagrams`, sends a 1 MiB frame each
/// way, and returns the datagram size each end used.
fn exchange(datagrams: DatagramSize) -> (u16, u16) {
    let (alice, bob) = (identity("alice"), identity("bob"));
    let bind = |me: &indomain_net::quic::Identity, peer: &indomain_net::quic::Identity| {
        Endpoint::bind_with(
            me,
            loopback(),
            vec![peer.trusted_entry()],
            short_limits(),
            datagrams,
        )
        .unwrap()
    };
    let (a, b) = (bind(&alice, &bob), bind(&bob, &alice));
    let (to_bob, to_alice) = handshake(&a, &b, "alice");
    let (mut to_bob, mut to_alice) = (to_bob.unwrap(), to_alice.unwrap());
    let frame: Vec<u8> = (0..1u32 << 20).map(|i| (i % 251) as u8).collect();
    to_alice.send(&frame).unwrap();
    assert_eq!(to_bob.recv().unwrap(), frame);
    to_bob.send(&frame).unwrap();
    assert_eq!(to_alice.recv().unwrap(), frame);
    (
        to_bob.path_stats().datagram_size,
        to_alice.path_stats().datagram_size,
    )
}

#[test]
fn a_known_datagram_size_is_used_from_the_first_packet() {
    assert_eq!(exchange(DatagramSize::Known(1200)), (1200, 1200));
    assert_eq!(exchange(DatagramSize::Known(1472)), (1472, 1472));
}

#[test]
fn loopback_datagrams_follow_the_loopback_mtu() {
    // 6000 bytes on a host loopback (MTU 65536); 1472 in a network
    // namespace whose loopback has MTU 1500, where 6000-byte datagrams
    // never arrive.
    let expected = std::fs::read_to_string("/sys/class/net/lo/mtu")
        .ok()
        .and_then(|m| m.trim().parse::<u32>().ok())
        .map(|mtu| (mtu - 28).min(u32::from(MAX_DATAGRAM)) as u16);
    let (server_side, client_side) = exchange(DatagramSize::Auto);
    assert_eq!(server_side, client_side);
    match expected {
        Some(size) => assert_eq!(server_side, size),
        // Unknown MTU: the network-path start, 1200 bytes raised by discovery.
        None => assert!((1200..=1452).contains(&server_side)),
    }
}

#[test]
fn datagram_sizes_quic_cannot_use_are_refused() {
    let (alice, bob) = (identity("alice"), identity("bob"));
    for size in [1199, MAX_DATAGRAM + 1] {
        let err = Endpoint::bind_with(
            &alice,
            loopback(),
            vec![bob.trusted_entry()],
            short_limits(),
            DatagramSize::Known(size),
        )
        .unwrap_err();
        assert!(
            matches!(&err, NetError::Config(reason) if reason.contains(&size.to_string())),
            "{err}"
        );
    }
}
