//! End to end: a node that is interrupted (SIGTERM, SIGINT) or fails after
//! connecting tells its peer at once that the job was stopped and by whom,
//! removes its partial output and exits non-zero. The peer here is the test
//! itself, on a QUIC endpoint of its own, so it can watch what arrives.

use indomain_net::quic::{Endpoint, Identity, TrustedPeer};
use indomain_net::{Channel, Limits, NetError};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

mod common;

use common::{BIN, free_port, keygen};

/// A patient peer: any error other than a timeout proves the node told it.
fn limits() -> Limits {
    Limits {
        recv_timeout: Duration::from_secs(60),
        ..Limits::default()
    }
}

struct Job {
    dir: tempfile::TempDir,
    node: Child,
    channel: indomain_net::quic::QuicChannel,
    _endpoint: Endpoint,
}

/// Starts `indomain psi` as alice, listening, and connects to it as bob.
fn start() -> Job {
    let dir = tempfile::tempdir().unwrap();
    let alice: TrustedPeer = keygen("alice", &dir.path().join("alice")).parse().unwrap();
    let bob = Identity::generate("bob").unwrap();
    std::fs::write(dir.path().join("in.csv"), "id\na\nb\n").unwrap();
    let addr = format!("127.0.0.1:{}", free_port());
    let node = Command::new(BIN)
        .args([
            "psi",
            "--identity",
            "alice",
            "--key",
            "id",
            "--input",
            "in.csv",
        ])
        .args(["--output", "out.csv", "--reveal", "both"])
        .args(["--listen", &addr, "--quiet"])
        .args([
            "--peer",
            &bob.trusted_entry().to_string(),
            "--timeout",
            "60",
        ])
        .current_dir(dir.path())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let endpoint =
        Endpoint::bind(&bob, "127.0.0.1:0".parse().unwrap(), vec![alice], limits()).unwrap();
    let channel = endpoint.connect(addr.parse().unwrap(), "alice").unwrap();
    Job {
        dir,
        node,
        channel,
        _endpoint: endpoint,
    }
}

fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".indomain-partial") || n == "out.csv")
        .collect()
}

/// Reads frames until the link fails; returns the failure.
fn until_error(channel: &mut impl Channel) -> NetError {
    loop {
        if let Err(e) = channel.recv() {
            return e;
        }
    }
}

#[test]
fn a_signal_stops_the_job_tells_the_peer_and_removes_partial_output() {
    for (signal, code) in [("-TERM", 143), ("-INT", 130)] {
        let mut job = start();
        // Alice's hello: she is in the job, her partial output exists.
        job.channel.recv().unwrap();
        let pid = job.node.id().to_string();
        assert!(
            Command::new("kill")
                .args([signal, &pid])
                .status()
                .unwrap()
                .success()
        );
        let err = until_error(&mut job.channel);
        assert!(
            matches!(&err, NetError::Stopped { peer, reason }
                if peer == "alice" && reason.starts_with("interrupted")),
            "{signal}: {err}"
        );
        let out = job.node.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{stderr}");
        assert!(stderr.contains("interrupted"), "{stderr}");
        assert!(
            leftovers(job.dir.path()).is_empty(),
            "{:?}",
            leftovers(job.dir.path())
        );
    }
}

#[test]
fn a_job_that_fails_at_the_node_tells_the_peer_it_stopped() {
    let mut job = start();
    // Not a hello: alice fails on it and must say so, not just hang up.
    job.channel.send(&[0xff; 9]).unwrap();
    let err = until_error(&mut job.channel);
    assert!(
        matches!(&err, NetError::Stopped { peer, reason }
            if peer == "alice" && reason.contains("error on its side")),
        "{err}"
    );
    let out = job.node.wait_with_output().unwrap();
    assert!(!out.status.success());
    assert!(leftovers(job.dir.path()).is_empty());
}
