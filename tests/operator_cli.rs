//! End to end: the small things an operator meets first — printing a
//! node's fingerprint again, plain WARN lines in files, roles and party
//! lists that cannot work reported as such, and messages that name the
//! flags of the command in use.

use std::path::Path;
use std::process::{Command, Output, Stdio};

mod common;

use common::{BIN, free_port, keygen};

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs two `indomain psi` processes, `a` listening and `b` connecting.
fn psi_pair(dir: &Path, a: &[&str], b: &[&str]) -> (Output, Output) {
    std::fs::write(dir.join("in.csv"), "id\nx\ny\n").unwrap();
    let addr = format!("127.0.0.1:{}", free_port());
    let spawn = |args: &[&str], side: [&str; 2]| {
        Command::new(BIN)
            .args(["psi", "--key", "id", "--input", "in.csv", "--timeout", "5"])
            .args(["--quiet", side[0], side[1]])
            .args(args)
            .current_dir(dir)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let first = spawn(a, ["--listen", &addr]);
    let second = spawn(b, ["--connect", &addr]);
    (
        first.wait_with_output().unwrap(),
        second.wait_with_output().unwrap(),
    )
}

#[test]
fn fingerprint_prints_the_keygen_entry_again() {
    let dir = tempfile::tempdir().unwrap();
    let entry = keygen("bank-1", &dir.path().join("id"));
    let out = Command::new(BIN)
        .args(["fingerprint", "--identity"])
        .arg(dir.path().join("id"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), entry);
}

#[test]
fn warnings_written_to_a_file_have_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    let alice = keygen("alice", &dir.path().join("alice"));
    let bob = keygen("bob", &dir.path().join("bob"));
    let carol = keygen("carol", &dir.path().join("carol"));
    // Carol is not on alice's list: alice warns about the refusal.
    let (a, _) = psi_pair(
        dir.path(),
        &[
            "--identity",
            "alice",
            "--peer",
            &bob,
            "--output",
            "oa.csv",
            "--reveal",
            "both",
        ],
        &[
            "--identity",
            "carol",
            "--peer",
            &alice,
            "--output",
            "oc.csv",
            "--reveal",
            "both",
        ],
    );
    let err = stderr(&a);
    assert!(
        err.contains("WARN") && err.contains(carol.split('=').nth(1).unwrap()),
        "{err}"
    );
    assert!(!err.contains('\u{1b}'), "{err:?}");
}

#[test]
fn two_receivers_are_reported_as_both_receivers() {
    let dir = tempfile::tempdir().unwrap();
    let alice = keygen("alice", &dir.path().join("alice"));
    let bob = keygen("bob", &dir.path().join("bob"));
    let (a, b) = psi_pair(
        dir.path(),
        &[
            "--identity",
            "alice",
            "--peer",
            &bob,
            "--role",
            "receiver",
            "--output",
            "a.csv",
        ],
        &[
            "--identity",
            "bob",
            "--peer",
            &alice,
            "--role",
            "receiver",
            "--output",
            "b.csv",
        ],
    );
    for o in [&a, &b] {
        let err = stderr(o);
        assert!(!o.status.success());
        assert!(err.contains("ours receiver, theirs receiver"), "{err}");
    }
}

/// `indomain aggregate` as `me` of parties a and b, with `entries` as the
/// --party list.
fn aggregate(dir: &Path, me: &str, entries: &[String]) -> std::process::Child {
    std::fs::write(dir.join("in.csv"), "v\n1\n2\n").unwrap();
    let mut cmd = Command::new(BIN);
    cmd.args([
        "aggregate",
        "--identity",
        me,
        "--me",
        me,
        "--input",
        "in.csv",
    ])
    .args(["--stat", "sum", "--columns", "v", "--receivers", "a"])
    .args(["--min-group-size", "3", "--timeout", "5", "--quiet"])
    .arg("--open-counts-to-decider");
    if me == "a" {
        cmd.args(["--output", "out.csv"]);
    }
    for e in entries {
        cmd.args(["--party", e]);
    }
    cmd.current_dir(dir).stderr(Stdio::piped()).spawn().unwrap()
}

#[test]
fn a_party_list_giving_another_party_this_nodes_fingerprint_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let a = keygen("a", &dir.path().join("a"));
    let fingerprint = a.split_once('=').unwrap().1;
    let entries = [
        format!("{a}@127.0.0.1:{}", free_port()),
        format!("b={fingerprint}@127.0.0.1:{}", free_port()),
    ];
    let out = aggregate(dir.path(), "a", &entries)
        .wait_with_output()
        .unwrap();
    let err = stderr(&out);
    assert!(!out.status.success());
    assert!(err.contains("b has this node's own fingerprint"), "{err}");
}

#[test]
fn aggregate_messages_do_not_speak_of_a_peer_flag_it_does_not_have() {
    let dir = tempfile::tempdir().unwrap();
    let a = keygen("a", &dir.path().join("a"));
    let b = keygen("b", &dir.path().join("b"));
    let stranger = keygen("b", &dir.path().join("stranger"));
    let (pa, pb) = (free_port(), free_port());
    // a lists an old fingerprint for b: a refuses b's connection.
    let at_a = [
        format!("{a}@127.0.0.1:{pa}"),
        format!("{stranger}@127.0.0.1:{pb}"),
    ];
    let at_b = [format!("{a}@127.0.0.1:{pa}"), format!("{b}@127.0.0.1:{pb}")];
    let first = aggregate(dir.path(), "a", &at_a);
    let second = aggregate(dir.path(), "b", &at_b);
    for out in [
        first.wait_with_output().unwrap(),
        second.wait_with_output().unwrap(),
    ] {
        let err = stderr(&out);
        assert!(!out.status.success());
        assert!(!err.contains("--peer"), "{err}");
    }
}
