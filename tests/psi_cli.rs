//! End to end: two real `indomain psi` processes on loopback over QUIC,
//! identities from `indomain keygen`, CSV in and out.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

mod common;

use common::{BIN, free_port, keygen};

struct Parties {
    dir: tempfile::TempDir,
    peer_a: String,
    peer_b: String,
}

impl Parties {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let peer_a = keygen("alice", &dir.path().join("alice"));
        let peer_b = keygen("bob", &dir.path().join("bob"));
        Self {
            dir,
            peer_a,
            peer_b,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    /// Runs alice (listening) and bob (connecting) with the `common`
    /// arguments and each side's own; returns both outputs.
    fn run(&self, common: &[&str], alice: &[&str], bob: &[&str]) -> (Output, Output) {
        let addr = format!("127.0.0.1:{}", free_port());
        let spawn = |name: &str, side: [&str; 2], peer: &str, own: &[&str]| {
            Command::new(BIN)
                .arg("psi")
                .arg("--identity")
                .arg(self.path(name))
                .args(side)
                .args(["--peer", peer, "--timeout", "30", "--quiet"])
                .args(common)
                .args(own)
                .current_dir(self.dir.path())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        };
        let a = spawn("alice", ["--listen", &addr], &self.peer_b, alice);
        std::thread::sleep(std::time::Duration::from_millis(300));
        let b = spawn("bob", ["--connect", &addr], &self.peer_a, bob);
        (a.wait_with_output().unwrap(), b.wait_with_output().unwrap())
    }
}

fn ok(o: &Output) -> String {
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "{err}");
    err
}

fn rows(path: &Path) -> Vec<Vec<String>> {
    let mut r = csv::Reader::from_path(path).unwrap();
    r.records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect()
}

/// Alice: ids 0..300 in messy case and spacing, plus 10 repeated rows, with
/// a region and an income; Bob: ids 200..450 with a region and a score.
fn data(p: &Parties) -> (PathBuf, PathBuf) {
    let mut a = String::from("id,region,income\n");
    for i in 0..300 {
        a += &format!(" ID{i} ,north,{}\n", i * 10);
    }
    for i in 0..10 {
        a += &format!("id{i},north,5\n");
    }
    let mut b = String::from("customer,region,score\n");
    for i in 200..450 {
        b += &format!("id{i},NORTH,{}\n", i % 7);
    }
    (p.write("alice.csv", &a), p.write("bob.csv", &b))
}

#[test]
fn intersection_and_join_match_the_plaintext_and_align() {
    let p = Parties::new();
    let (a, b) = data(&p);
    let (ra, rb) = p.run(
        &[
            "--mode",
            "intersection",
            "--reveal",
            "both",
            "--case-fold",
            "--duplicates",
            "first",
        ],
        &[
            "--input",
            a.to_str().unwrap(),
            "--key",
            "id,region",
            "--output",
            "ia.csv",
        ],
        &[
            "--input",
            b.to_str().unwrap(),
            "--key",
            "customer,region",
            "--output",
            "ib.csv",
        ],
    );
    let (ea, eb) = (ok(&ra), ok(&rb));
    assert!(
        ea.contains("matches: 100") && eb.contains("matches: 100"),
        "{ea}\n{eb}"
    );
    assert!(
        ea.contains("10 repeated rows dropped") && ea.contains("case-folded"),
        "{ea}"
    );
    assert!(
        ea.contains("bytes:") && ea.contains("peer items: 250"),
        "{ea}"
    );
    let want: HashSet<String> = (200..300).map(|i| format!("id{i}|north")).collect();
    for out in ["ia.csv", "ib.csv"] {
        let got: Vec<String> = rows(&p.path(out))
            .into_iter()
            .map(|r| r.join("|"))
            .collect();
        assert_eq!(got.len(), 100);
        assert_eq!(got.into_iter().collect::<HashSet<_>>(), want);
    }

    let (ra, rb) = p.run(
        &["--mode", "join", "--case-fold", "--duplicates", "first"],
        &[
            "--input",
            a.to_str().unwrap(),
            "--key",
            "id",
            "--output",
            "ja.csv",
        ],
        &[
            "--input",
            b.to_str().unwrap(),
            "--key",
            "customer",
            "--output",
            "jb.csv",
        ],
    );
    ok(&ra);
    ok(&rb);
    let (ja, jb) = (rows(&p.path("ja.csv")), rows(&p.path("jb.csv")));
    assert_eq!((ja.len(), jb.len()), (100, 100));
    for (x, y) in ja.iter().zip(&jb) {
        // The same key on the same row; whole rows as in each input.
        assert_eq!(x[0].trim().to_lowercase(), y[0]);
        let i: u32 = y[0][2..].parse().unwrap();
        assert_eq!(x[2], (i * 10).to_string());
        assert_eq!(y[2], (i % 7).to_string());
    }
}

#[test]
fn cardinality_and_intersection_sum_reveal_only_counts_and_the_sum() {
    let p = Parties::new();
    let (a, b) = data(&p);
    let (ra, rb) = p.run(
        &[
            "--mode",
            "intersection-sum",
            "--case-fold",
            "--duplicates",
            "first",
        ],
        &[
            "--input",
            a.to_str().unwrap(),
            "--key",
            "id",
            "--value",
            "income",
            "--output",
            "sa.csv",
        ],
        &[
            "--input",
            b.to_str().unwrap(),
            "--key",
            "customer",
            "--output",
            "sb.csv",
        ],
    );
    ok(&ra);
    ok(&rb);
    let want_sum: u32 = (200..300).map(|i| i * 10).sum();
    let row = |r: [&str; 4]| vec![r.map(String::from).to_vec()];
    assert_eq!(
        rows(&p.path("sa.csv")),
        row(["300", "250", "100", &want_sum.to_string()])
    );
    assert_eq!(rows(&p.path("sb.csv")), row(["250", "300", "100", ""]));

    let (ra, rb) = p.run(
        &[
            "--mode",
            "cardinality",
            "--reveal",
            "receiver",
            "--case-fold",
            "--duplicates",
            "first",
        ],
        &["--input", a.to_str().unwrap(), "--key", "id"],
        &[
            "--input",
            b.to_str().unwrap(),
            "--key",
            "customer",
            "--output",
            "cb.csv",
        ],
    );
    let ea = ok(&ra);
    ok(&rb);
    assert!(ea.contains("matches: not revealed"), "{ea}");
    assert_eq!(rows(&p.path("cb.csv")), row(["250", "300", "100", ""]));
}

#[test]
fn only_the_receiver_learns_the_intersection_unless_both_sides_ask() {
    let p = Parties::new();
    let (a, b) = data(&p);
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    let common = ["--case-fold", "--duplicates", "first"];
    // The default: bob (connecting, the receiver) writes the matches;
    // alice (the sender) gives no --output and learns none.
    let (ra, rb) = p.run(
        &common,
        &["--input", a, "--key", "id"],
        &["--input", b, "--key", "customer", "--output", "rb.csv"],
    );
    let (ea, eb) = (ok(&ra), ok(&rb));
    assert!(ea.contains("matches: not revealed"), "{ea}");
    assert!(eb.contains("matches: 100"), "{eb}");
    assert_eq!(rows(&p.path("rb.csv")).len(), 100);

    // A sender with --output under the default is refused before connecting.
    let out = Command::new(BIN)
        .args(["psi", "--identity"])
        .arg(p.path("alice"))
        .args(["--listen", "127.0.0.1:0", "--peer", &p.peer_b])
        .args(["--input", a, "--key", "id", "--output", "sa.csv"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("the sender learns no result with --reveal receiver")
            && err.contains("--reveal both"),
        "{err}"
    );
    assert!(!p.path("sa.csv").exists());

    // One side asking for both and the other not: both refuse at hello.
    let (ra, rb) = p.run(
        &common,
        &[
            "--input", a, "--key", "id", "--reveal", "both", "--output", "ma.csv",
        ],
        &["--input", b, "--key", "customer", "--output", "mb.csv"],
    );
    for (o, name) in [(&ra, "alice"), (&rb, "bob")] {
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{name}: {err}");
        assert!(err.contains("reveal"), "{name}: {err}");
    }
    assert!(!p.path("ma.csv").exists() && !p.path("mb.csv").exists());
}

#[test]
fn a_malformed_row_names_file_and_line_and_nothing_is_written() {
    let p = Parties::new();
    let a = p.write("a.csv", "id\nx1\nx2\n");
    let b = p.write("b.csv", "id,other\nx1,1\nx2\n");
    let (ra, rb) = p.run(
        &["--key", "id", "--reveal", "both"],
        &["--input", a.to_str().unwrap(), "--output", "oa.csv"],
        &["--input", b.to_str().unwrap(), "--output", "ob.csv"],
    );
    assert!(!ra.status.success() && !rb.status.success());
    let eb = String::from_utf8_lossy(&rb.stderr);
    assert!(eb.contains(&format!("{}:3", b.display())), "{eb}");
    let ea = String::from_utf8_lossy(&ra.stderr);
    assert!(ea.contains("bob"), "the error names the peer: {ea}");
    assert!(!p.path("oa.csv").exists() && !p.path("ob.csv").exists());
    let partial = std::fs::read_dir(p.dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .any(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(".indomain-partial")
        });
    assert!(!partial);
}

#[test]
fn empty_inputs_and_repeated_keys_follow_the_flags() {
    let p = Parties::new();
    let a = p.write("a.csv", "id\n");
    let b = p.write("b.csv", "id\nk\nk\n");
    let (ra, rb) = p.run(
        &["--key", "id", "--reveal", "both"],
        &["--input", a.to_str().unwrap(), "--output", "oa.csv"],
        &["--input", b.to_str().unwrap(), "--output", "ob.csv"],
    );
    assert!(!ra.status.success() && !rb.status.success());
    let eb = String::from_utf8_lossy(&rb.stderr);
    assert!(eb.contains("repeats the key of line 2"), "{eb}");
    let (ra, rb) = p.run(
        &[
            "--key",
            "id",
            "--duplicates",
            "first",
            "--mode",
            "cardinality",
            "--reveal",
            "both",
        ],
        &["--input", a.to_str().unwrap(), "--output", "oa.csv"],
        &["--input", b.to_str().unwrap(), "--output", "ob.csv"],
    );
    ok(&ra);
    ok(&rb);
    let want = vec![vec!["1".to_string(), "0".into(), "0".into(), String::new()]];
    assert_eq!(rows(&p.path("ob.csv")), want);
    let want = vec![vec!["0".to_string(), "1".into(), "0".into(), String::new()]];
    assert_eq!(rows(&p.path("oa.csv")), want);
    // The outputs exist now: a rerun is refused at once unless --force.
    let args = [
        "--key",
        "id",
        "--duplicates",
        "first",
        "--mode",
        "cardinality",
    ];
    let (ra, rb) = p.run(
        &[&args[..], &["--reveal", "both"]].concat(),
        &["--input", a.to_str().unwrap(), "--output", "oa.csv"],
        &["--input", b.to_str().unwrap(), "--output", "ob.csv"],
    );
    for r in [&ra, &rb] {
        let err = String::from_utf8_lossy(&r.stderr);
        assert!(!r.status.success() && err.contains("--force"), "{err}");
    }
    assert_eq!(rows(&p.path("oa.csv")), want);
    // By default only the receiver learns the result.
    let (ra, rb) = p.run(
        &[&args[..], &["--force"]].concat(),
        &["--input", a.to_str().unwrap()],
        &["--input", b.to_str().unwrap(), "--output", "ob.csv"],
    );
    ok(&ra);
    ok(&rb);
    let want = vec![vec!["1".to_string(), "0".into(), "0".into(), String::new()]];
    assert_eq!(rows(&p.path("ob.csv")), want);
}

#[test]
fn both_protocols_give_the_same_join_and_a_mismatch_is_refused() {
    let p = Parties::new();
    let (a, b) = data(&p);
    let mut outputs = Vec::new();
    for protocol in ["rr22", "ecdh"] {
        let (oa, ob) = (format!("{protocol}-a.csv"), format!("{protocol}-b.csv"));
        let (ra, rb) = p.run(
            &["--mode", "join", "--protocol", protocol, "--case-fold"],
            &[
                "--input",
                a.to_str().unwrap(),
                "--key",
                "id",
                "--duplicates",
                "first",
                "--output",
                &oa,
            ],
            &[
                "--input",
                b.to_str().unwrap(),
                "--key",
                "customer",
                "--output",
                &ob,
            ],
        );
        let (ea, eb) = (ok(&ra), ok(&rb));
        assert!(ea.contains(&format!("by {protocol}")), "{ea}");
        assert!(ea.contains("matches: 100") && eb.contains("matches: 100"));
        let (ja, jb) = (rows(&p.path(&oa)), rows(&p.path(&ob)));
        for (x, y) in ja.iter().zip(&jb) {
            assert_eq!(x[0].trim().to_lowercase(), y[0]);
        }
        let mut keys: Vec<String> = jb.into_iter().map(|r| r[0].clone()).collect();
        keys.sort();
        outputs.push(keys);
    }
    assert_eq!(outputs[0], outputs[1]);

    // The default is rr22 for join; a peer forcing ecdh is refused at hello.
    let (ra, rb) = p.run(
        &["--mode", "join"],
        &[
            "--input",
            a.to_str().unwrap(),
            "--key",
            "id",
            "--duplicates",
            "first",
            "--output",
            "x.csv",
        ],
        &[
            "--input",
            b.to_str().unwrap(),
            "--key",
            "customer",
            "--protocol",
            "ecdh",
            "--output",
            "y.csv",
        ],
    );
    assert!(!ra.status.success() && !rb.status.success());
    let eb = String::from_utf8_lossy(&rb.stderr);
    assert!(eb.contains("construction") && eb.contains("rr22"), "{eb}");

    // Modes rr22 cannot compute are refused before connecting.
    let out = Command::new(BIN)
        .args([
            "psi",
            "--mode",
            "cardinality",
            "--protocol",
            "rr22",
            "--identity",
        ])
        .arg(p.path("alice"))
        .args(["--listen", "127.0.0.1:0", "--peer", &p.peer_b, "--input"])
        .arg(&a)
        .args(["--key", "id", "--output", "c.csv"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--protocol rr22 cannot compute cardinality")
    );
}
