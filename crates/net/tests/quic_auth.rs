//! Mutual authentication: only pinned certificates get through the
//! handshake, on either side, and peers are named by the trusted list.

mod common;

use common::{bind, handshake, identity, short_limits};
use indomain_net::quic::{Endpoint, TrustedPeer};
use indomain_net::{Channel, NetError};

#[test]
fn server_refuses_a_client_it_does_not_list() {
    let (server_id, client_id, listed) =
        (identity("server"), identity("mallory"), identity("alice"));
    let server = bind(&server_id, &[&listed], short_limits());
    let client = bind(&client_id, &[&server_id], short_limits());
    let (accepted, connected) = handshake(&server, &client, "server");
    match accepted {
        Err(NetError::UnknownPeer { fingerprint }) => {
            assert_eq!(fingerprint, client_id.fingerprint().to_string())
        }
        other => panic!("server side: expected UnknownPeer, got {other:?}"),
    }
    match connected {
        Err(NetError::Connect { reason, .. }) => {
            assert!(reason.contains("among its peers"), "{reason}")
        }
        other => panic!("client side: expected a refused connection, got {other:?}"),
    }
}

#[test]
fn client_refuses_a_server_it_does_not_list() {
    let (client_id, server_id, listed) = (identity("client"), identity("mallory"), identity("bob"));
    let server = bind(&server_id, &[&client_id], short_limits());
    let client = bind(&client_id, &[&listed], short_limits());
    let (accepted, connected) = handshake(&server, &client, "bob");
    match connected {
        Err(NetError::UnknownPeer { fingerprint }) => {
            assert_eq!(fingerprint, server_id.fingerprint().to_string())
        }
        other => panic!("client side: expected UnknownPeer, got {other:?}"),
    }
    assert!(
        accepted.is_err(),
        "server side: the refused client must not yield a channel"
    );
}

#[test]
fn the_right_address_with_another_trusted_peer_is_wrong_peer() {
    let (client_id, bob, carol) = (identity("client"), identity("bob"), identity("carol"));
    let carols = bind(&carol, &[&client_id], short_limits());
    let client = bind(&client_id, &[&bob, &carol], short_limits());
    let (accepted, connected) = handshake(&carols, &client, "bob");
    match connected {
        Err(NetError::WrongPeer { expected, got }) => {
            assert_eq!((expected.as_str(), got.as_str()), ("bob", "carol"))
        }
        other => panic!("expected WrongPeer, got {other:?}"),
    }
    assert!(
        accepted.is_err(),
        "carol must not get a channel the client abandoned"
    );
}

#[test]
fn a_certificate_claiming_a_listed_name_is_still_refused() {
    let (server_id, real_bob, fake_bob) = (identity("server"), identity("bob"), identity("bob"));
    let server = bind(&server_id, &[&real_bob], short_limits());
    let client = bind(&fake_bob, &[&server_id], short_limits());
    let (accepted, connected) = handshake(&server, &client, "server");
    assert!(
        matches!(accepted, Err(NetError::UnknownPeer { .. })),
        "{accepted:?}"
    );
    assert!(connected.is_err());
}

#[test]
fn peers_are_named_by_the_trusted_list_not_by_their_certificate() {
    let (server_id, client_id) = (identity("server"), identity("calls-itself-this"));
    let renamed = TrustedPeer {
        name: "known-as-that".into(),
        fingerprint: client_id.fingerprint(),
    };
    let server = Endpoint::bind(
        &server_id,
        common::loopback(),
        vec![renamed],
        short_limits(),
    )
    .unwrap();
    let client = bind(&client_id, &[&server_id], short_limits());
    let (accepted, connected) = handshake(&server, &client, "server");
    assert_eq!(accepted.unwrap().peer(), "known-as-that");
    assert_eq!(connected.unwrap().peer(), "server");
}

#[test]
fn connecting_to_a_name_not_in_the_list_is_a_configuration_error() {
    let (a, b) = (identity("a"), identity("b"));
    let endpoint = bind(&a, &[&b], short_limits());
    let err = endpoint.connect(common::loopback(), "c").unwrap_err();
    assert!(
        matches!(&err, NetError::Config(m) if m.contains("c is not among the trusted peers")),
        "{err}"
    );
}

#[test]
fn a_trusted_list_naming_a_peer_twice_is_refused() {
    let (a, b) = (identity("a"), identity("b"));
    let entry = b.trusted_entry();
    let err = Endpoint::bind(
        &a,
        common::loopback(),
        vec![entry.clone(), entry],
        short_limits(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("listed twice"), "{err}");
}

#[test]
fn nobody_connecting_ends_accept_at_the_receive_timeout() {
    let a = identity("a");
    let endpoint = bind(&a, &[&identity("b")], short_limits());
    let err = endpoint.accept().unwrap_err();
    assert!(
        matches!(&err, NetError::NeverArrived { missing, .. } if missing == &["b"]),
        "{err}"
    );
}

#[test]
fn nobody_listening_ends_connect_at_the_receive_timeout() {
    let (a, b) = (identity("a"), identity("b"));
    let endpoint = bind(&a, &[&b], short_limits());
    // A bound UDP socket that never answers.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let err = endpoint
        .connect(silent.local_addr().unwrap(), "b")
        .unwrap_err();
    assert!(
        matches!(&err, NetError::Connect { peer, .. } if peer.starts_with("b at ")),
        "{err}"
    );
}
