//! End to end: what a node checks on its own before it listens or
//! connects — inputs readable and valid, outputs that do not overwrite an
//! input or an earlier result (unless `--force`) in a writable directory —
//! so a local mistake fails at once, without a peer.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;

use common::{BIN, free_port, keygen};

const PEER: &str = "bob=sha256:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

struct Node {
    dir: tempfile::TempDir,
    entry: String,
}

impl Node {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let entry = keygen("alice", &dir.path().join("alice"));
        std::fs::write(dir.path().join("in.csv"), "id,v\na,1\nb,2\n").unwrap();
        Self { dir, entry }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `indomain psi` listening for a peer that never comes (a sender
    /// with an output, so revealed to both); a local problem must stop it
    /// long before the timeout.
    fn psi(&self, extra: &[&str]) -> Output {
        Command::new(BIN)
            .args(["psi", "--identity", "alice", "--peer", PEER, "--key", "id"])
            .args(["--listen", &format!("127.0.0.1:{}", free_port())])
            .args(["--reveal", "both"])
            .args(["--timeout", "5", "--quiet"])
            .args(extra)
            .current_dir(self.dir.path())
            .output()
            .unwrap()
    }

    /// `indomain aggregate` as receiver `alice` of a job with a party
    /// that never comes.
    fn aggregate(&self, extra: &[&str]) -> Output {
        let me = format!("{}@127.0.0.1:{}", self.entry, free_port());
        let other = format!("{PEER}@127.0.0.1:{}", free_port());
        Command::new(BIN)
            .args(["aggregate", "--identity", "alice", "--me", "alice"])
            .args(["--party", &me, "--party", &other])
            .args(["--stat", "sum", "--columns", "v", "--receivers", "alice"])
            .args(["--min-group-size", "3", "--timeout", "5", "--quiet"])
            .arg("--open-counts-to-decider")
            .args(extra)
            .current_dir(self.dir.path())
            .output()
            .unwrap()
    }
}

/// The run failed for a local reason, before any network activity.
fn refused_locally(o: &Output, what: &str) -> String {
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(!o.status.success(), "{err}");
    assert!(err.contains(what), "{err} does not say {what:?}");
    assert!(
        !err.contains("listening") && !err.contains("within"),
        "the check came after the network: {err}"
    );
    err
}

fn unchanged(path: &Path, text: &str) {
    assert_eq!(std::fs::read_to_string(path).unwrap(), text);
}

#[cfg(unix)]
fn link(node: &Node) -> &'static str {
    std::os::unix::fs::symlink(node.path("in.csv"), node.path("link.csv")).unwrap();
    "link.csv"
}

#[test]
fn an_output_that_is_the_input_is_refused_by_file_not_by_name() {
    let node = Node::new();
    std::fs::create_dir(node.path("sub")).unwrap();
    let input = node.path("in.csv");
    let mut aliases = vec!["in.csv".to_string(), "sub/../in.csv".into()];
    aliases.push(input.display().to_string());
    #[cfg(unix)]
    aliases.push(link(&node).into());
    for alias in &aliases {
        for force in [false, true] {
            let mut args = vec!["--input", "in.csv", "--output", alias.as_str()];
            if force {
                args.push("--force");
            }
            let err = refused_locally(&node.psi(&args), "is the input");
            assert!(err.contains("in.csv"), "{err}");
            refused_locally(&node.aggregate(&args), "is the input");
            unchanged(&input, "id,v\na,1\nb,2\n");
        }
    }
}

#[test]
fn an_existing_output_is_refused_without_force() {
    let node = Node::new();
    let out = node.path("out.csv");
    std::fs::write(&out, "earlier result\n").unwrap();
    let args = ["--input", "in.csv", "--output", "out.csv"];
    refused_locally(&node.psi(&args), "--force");
    refused_locally(&node.aggregate(&args), "--force");
    unchanged(&out, "earlier result\n");
}

#[test]
fn bad_inputs_and_unwritable_outputs_fail_before_the_network() {
    let node = Node::new();
    std::fs::write(node.path("bad.csv"), "id,v\na,1\nb\n").unwrap();
    let err = refused_locally(
        &node.psi(&["--input", "bad.csv", "--output", "o.csv"]),
        "bad.csv:3",
    );
    assert!(!node.path("o.csv").exists(), "{err}");
    refused_locally(
        &node.aggregate(&["--input", "bad.csv", "--output", "o.csv"]),
        "bad.csv:3",
    );
    refused_locally(
        &node.psi(&["--input", "missing.csv", "--output", "o.csv"]),
        "missing.csv",
    );
    for run in [Node::psi, Node::aggregate] {
        refused_locally(
            &run(
                &node,
                &["--input", "in.csv", "--output", "no/such/dir/o.csv"],
            ),
            "no/such/dir",
        );
    }
    let partials = std::fs::read_dir(node.dir.path())
        .unwrap()
        .filter(|e| {
            let name = e.as_ref().unwrap().file_name();
            name.to_string_lossy().starts_with(".indomain-partial")
        })
        .count();
    assert_eq!(partials, 0);
}
