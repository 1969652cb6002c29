//! End to end: the server of a horizontal `indomain train` job that is
//! interrupted (SIGTERM, SIGINT) or fails after its clients connected
//! tells them at once that the job was stopped and by whom, leaves no model
//! or partial file, and exits non-zero. The clients are the test itself,
//! on QUIC endpoints of its own, so it can watch what arrives.

use indomain_net::quic::{Endpoint, Identity, QuicChannel, TrustedPeer};
use indomain_net::{Channel, Limits, NetError};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

mod common;

use common::{BIN, free_port, keygen};

/// Patient clients: any error other than a timeout proves the server told
/// them.
fn limits() -> Limits {
    Limits {
        recv_timeout: Duration::from_secs(60),
        ..Limits::default()
    }
}

struct Job {
    dir: tempfile::TempDir,
    server: Child,
    clients: Vec<(QuicChannel, Endpoint)>,
}

/// Starts the server alice of clients bob and carol, and connects both.
fn start() -> Job {
    let dir = tempfile::tempdir().unwrap();
    let alice = keygen("alice", &dir.path().join("alice"));
    let alice_peer: TrustedPeer = alice.parse().unwrap();
    let ids: Vec<Identity> = ["bob", "carol"]
        .into_iter()
        .map(|n| Identity::generate(n).unwrap())
        .collect();
    let addr = format!("127.0.0.1:{}", free_port());
    let mut cmd = Command::new(BIN);
    cmd.args(["train", "--mode", "horizontal", "--identity", "alice"])
        .args(["--me", "alice", "--server", "alice"])
        .args(["--party", &format!("{alice}@{addr}")]);
    for id in &ids {
        let entry = format!("{}@127.0.0.1:{}", id.trusted_entry(), free_port());
        cmd.args(["--party", &entry]);
    }
    let server = cmd
        .args([
            "--features",
            "x1,x2",
            "--model",
            "model.json",
            "--rounds",
            "2",
        ])
        .args(["--timeout", "60", "--quiet"])
        .current_dir(dir.path())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let clients = ids
        .iter()
        .map(|id| {
            let endpoint = Endpoint::bind(
                id,
                "127.0.0.1:0".parse().unwrap(),
                vec![alice_peer.clone()],
                limits(),
            )
            .unwrap();
            let ch = endpoint.connect(addr.parse().unwrap(), "alice").unwrap();
            (ch, endpoint)
        })
        .collect();
    Job {
        dir,
        server,
        clients,
    }
}

fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".indomain-partial") || n.starts_with("model"))
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
fn a_signal_stops_the_server_and_tells_every_client_at_once() {
    for (signal, code) in [("-TERM", 143), ("-INT", 130)] {
        let mut job = start();
        // The server's job hash: it accepted both clients and is agreeing.
        job.clients[0].0.recv().unwrap();
        let pid = job.server.id().to_string();
        assert!(
            Command::new("kill")
                .args([signal, &pid])
                .status()
                .unwrap()
                .success()
        );
        for (ch, _) in &mut job.clients {
            let err = until_error(ch);
            assert!(
                matches!(&err, NetError::Stopped { peer, reason }
                    if peer == "alice" && reason.starts_with("interrupted")),
                "{signal}: {err}"
            );
        }
        let out = job.server.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{stderr}");
        assert!(stderr.contains("interrupted"), "{stderr}");
        assert!(leftovers(job.dir.path()).is_empty());
    }
}

#[test]
fn a_server_that_fails_tells_every_client_it_stopped() {
    let mut job = start();
    job.clients[0].0.recv().unwrap();
    // Not a job hash: the server fails on it and must say so.
    job.clients[0].0.send(&[0xff; 9]).unwrap();
    for (ch, _) in &mut job.clients {
        let err = until_error(ch);
        assert!(
            matches!(&err, NetError::Stopped { peer, reason }
                if peer == "alice" && reason.contains("error on its side")),
            "{err}"
        );
    }
    let out = job.server.wait_with_output().unwrap();
    assert!(!out.status.success());
    assert!(leftovers(job.dir.path()).is_empty());
}
