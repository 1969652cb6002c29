//! Peers that vanish, fall silent or stop reading: every case is an error
//! naming the peer, within the timeout, never a hang.

mod common;

use common::{connected_pair, identity, short_limits};
use indomain_net::quic::{Endpoint, Identity, TrustedPeer};
use indomain_net::{Channel, Limits, NetError};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Limits whose receive timeout is long enough that getting any error other
/// than `Timeout` proves the failure was noticed before it.
fn patient_limits() -> Limits {
    Limits {
        recv_timeout: Duration::from_secs(60),
        ..short_limits()
    }
}

#[test]
fn a_peer_that_closes_is_closed_not_a_timeout() {
    let (a, mut to_bob, b, to_alice) = connected_pair(patient_limits());
    drop((to_alice, b));
    let err = to_bob.recv().unwrap_err();
    assert!(
        matches!(&err, NetError::Closed { peer } if peer == "bob"),
        "{err}"
    );
    // Sending to a closed peer fails too (once the close has arrived, which
    // the failed recv above guarantees).
    let err = to_bob.send(b"anyone?").unwrap_err();
    assert!(
        matches!(&err, NetError::Closed { peer } if peer == "bob"),
        "{err}"
    );
    drop(a);
}

#[test]
fn a_silent_peer_is_a_timeout_naming_it() {
    let (_a, mut to_bob, _b, _to_alice) = connected_pair(short_limits());
    let err = to_bob.recv().unwrap_err();
    assert!(
        matches!(&err, NetError::Timeout { peer, .. } if peer == "bob"),
        "{err}"
    );
}

#[test]
fn a_peer_that_stops_reading_cannot_block_the_sender_forever() {
    let (_a, mut to_bob, _b, _to_alice) = connected_pair(short_limits());
    let frame = vec![7u8; 4 << 20];
    // Flow control holds back at most the windows' worth (well under
    // 1 GiB), so some send must give up at the timeout.
    let err = (0..256)
        .find_map(|_| to_bob.send(&frame).err())
        .expect("sends never blocked");
    assert!(
        matches!(&err, NetError::Timeout { peer, .. } if peer == "bob"),
        "{err}"
    );
}

#[test]
fn frames_sent_just_before_hanging_up_are_delivered() {
    let (a, mut to_bob, b, mut to_alice) = connected_pair(patient_limits());
    let frames: Vec<Vec<u8>> = (0..6u8).map(|i| vec![i; 3 << 20]).collect();
    for f in &frames {
        to_bob.send(f).unwrap();
    }
    // `send` returned once the frames were buffered; hanging up now must
    // still let them all arrive before the connection closes.
    drop((to_bob, a));
    for f in &frames {
        assert_eq!(&to_alice.recv().unwrap(), f);
    }
    let err = to_alice.recv().unwrap_err();
    assert!(
        matches!(&err, NetError::Closed { peer } if peer == "alice"),
        "{err}"
    );
    drop(b);
}

#[test]
fn a_channel_keeps_working_after_its_endpoint_handle_is_dropped() {
    let (a, mut to_bob, b, mut to_alice) = connected_pair(short_limits());
    drop((a, b));
    to_bob.send(b"still here").unwrap();
    assert_eq!(to_alice.recv().unwrap(), b"still here");
}

// --- peers in another process ---------------------------------------------

const CHILD_ENV: &str = "INDOMAIN_NET_TEST_CHILD";

/// Not a test by itself (hence ignored): the body of the child process
/// the tests below start. It connects to the parent, sends one frame, then
/// either returns (its endpoint closes cleanly) or hangs until killed.
#[test]
#[ignore = "run as a child process by the tests below"]
fn child_peer() {
    let spec = std::env::var(CHILD_ENV).expect("started by another test");
    let [dir, addr, parent, mode] = spec.split('|').collect::<Vec<_>>()[..] else {
        panic!("bad {CHILD_ENV}: {spec}");
    };
    let me = Identity::load(dir.as_ref()).unwrap();
    let parent: TrustedPeer = parent.parse().unwrap();
    let endpoint = Endpoint::bind(
        &me,
        common::loopback(),
        vec![parent.clone()],
        short_limits(),
    )
    .unwrap();
    let mut channel = endpoint
        .connect(addr.parse().unwrap(), &parent.name)
        .unwrap();
    channel.send(b"hello from the child").unwrap();
    if mode == "hang" {
        std::thread::sleep(Duration::from_secs(600));
    }
}

/// Starts the child peer and returns it with the parent's channel to it.
fn start_child(mode: &str, limits: Limits) -> (std::process::Child, Endpoint, impl Channel) {
    let (parent, child) = (identity("parent"), identity("child"));
    let dir = tempfile::tempdir().unwrap();
    child.save(dir.path()).unwrap();
    let endpoint = Endpoint::bind(
        &parent,
        common::loopback(),
        vec![child.trusted_entry()],
        limits,
    )
    .unwrap();
    let spec = format!(
        "{}|{}|{}|{mode}",
        dir.path().display(),
        endpoint.local_addr(),
        parent.trusted_entry()
    );
    let process = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_peer",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, spec)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut channel = endpoint.accept().unwrap();
    assert_eq!(channel.peer(), "child");
    assert_eq!(channel.recv().unwrap(), b"hello from the child");
    (process, endpoint, channel)
}

#[test]
fn a_peer_process_that_exits_is_closed() {
    let (mut process, _endpoint, mut channel) = start_child("exit", patient_limits());
    let err = channel.recv().unwrap_err();
    assert!(
        matches!(&err, NetError::Closed { peer } if peer == "child"),
        "{err}"
    );
    assert!(process.wait().unwrap().success());
}

#[test]
fn a_killed_peer_process_is_a_timeout() {
    let (mut process, _endpoint, mut channel) = start_child("hang", short_limits());
    process.kill().unwrap();
    process.wait().unwrap();
    let err = channel.recv().unwrap_err();
    assert!(
        matches!(&err, NetError::Timeout { peer, .. } if peer == "child"),
        "{err}"
    );
}
