//! End to end: a real operator process (`indomain verify serve`) and real
//! client processes (`indomain verify query`) over QUIC on loopback, on
//! generated data, checked against the plaintext look-up.

mod common;

use common::{BIN, free_port, keygen};
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// Kills the operator when the test ends, however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Setup {
    dir: tempfile::TempDir,
    operator_fp: String,
    port: u16,
}

impl Setup {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn publish(&self, data: &Path, update: bool) -> Output {
        let mut cmd = Command::new(BIN);
        cmd.args([
            "verify",
            "publish",
            "--key",
            "id",
            "--attributes",
            "name,phone,city",
        ])
        .args(["--labels", "status", "--data"])
        .arg(data)
        .arg("--store")
        .arg(self.path("store"));
        if update {
            cmd.arg("--update");
        }
        cmd.output().unwrap()
    }

    fn serve(&self, clients: &[String], quota: u64, log: &str) -> Server {
        let mut cmd = Command::new(BIN);
        cmd.args(["verify", "serve", "--store"])
            .arg(self.path("store"))
            .arg("--identity")
            .arg(self.path("operator"))
            .args(["--listen", &format!("127.0.0.1:{}", self.port)])
            .args(["--quota", &quota.to_string()])
            .arg("--log")
            .arg(self.path(log))
            .stderr(Stdio::piped());
        for c in clients {
            cmd.args(["--peer", c]);
        }
        let mut child = cmd.spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let mut reader = BufReader::new(stderr);
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        assert!(line.contains("serving version"), "{line}");
        // Keep reading so the operator's later warnings have somewhere to go.
        std::thread::spawn(move || {
            for l in reader.lines().map_while(Result::ok) {
                eprintln!("operator: {l}");
            }
        });
        Server(child)
    }

    fn query(&self, client: &str, queries: &Path, out: &str) -> Child {
        Command::new(BIN)
            .args(["verify", "query", "--identity"])
            .arg(self.path(client))
            .args(["--connect", &format!("127.0.0.1:{}", self.port)])
            .args(["--peer", &self.operator_fp, "--timeout", "20"])
            .arg("--operator-key")
            .arg(self.path("store/signing.pub"))
            .arg("--queries")
            .arg(queries)
            .arg("--output")
            .arg(self.path(out))
            .arg("--cache")
            .arg(self.path(&format!("cache-{client}")))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }
}

fn ok(o: &Output) -> String {
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(o.status.success(), "{err}");
    err
}

/// id,name,phone,city,status for `n` people; `shift` changes some phones.
fn data(n: usize, shift: usize) -> String {
    let mut s = "id,name,phone,city,status\n".to_string();
    for i in 0..n {
        let phone = 13_800_000_000u64 + (i * 7 + if i % 10 == 0 { shift } else { 0 }) as u64;
        let status = ["valid", "revoked"][i % 2];
        s += &format!("1101{i:014},Name {i},{phone},City {},{status}\n", i % 9);
    }
    s
}

/// Queries: exact records, a wrong phone, partial claims, unknown keys.
fn queries(n: usize) -> String {
    let mut s = "key,name,phone,city\n".to_string();
    for i in 0..n {
        let phone = 13_800_000_000u64 + (i * 7) as u64;
        match i % 4 {
            0 => s += &format!("1101{i:014},Name {i},{phone},City {}\n", i % 9),
            1 => s += &format!("1101{i:014},Name {i},{},City {}\n", phone + 1, i % 9),
            2 => s += &format!("1101{i:014},Name {i},,\n"),
            _ => s += &format!("9999{i:014},Name {i},{phone},City {}\n", i % 9),
        }
    }
    s
}

/// The plaintext look-up: key -> the output row a correct client writes.
fn expected(data: &str, queries: &str) -> Vec<Vec<String>> {
    let records: HashMap<&str, Vec<&str>> = data
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0], f)
        })
        .collect();
    queries
        .lines()
        .skip(1)
        .map(|l| {
            let q: Vec<&str> = l.split(',').collect();
            let rec = records.get(q[0]);
            let mut row = vec![q[0].to_string()];
            let mut all = true;
            for j in 1..4 {
                let cell = if q[j].is_empty() {
                    all = false;
                    ""
                } else if rec.is_some_and(|r| r[j] == q[j]) {
                    "match"
                } else {
                    all = false;
                    "no-match"
                };
                row.push(cell.to_string());
            }
            row.push(if all {
                rec.unwrap()[4].to_string()
            } else {
                String::new()
            });
            row
        })
        .collect()
}

fn answers(path: &Path) -> (Vec<Vec<String>>, Vec<String>) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut rows = Vec::new();
    let mut versions = Vec::new();
    for l in text.lines().skip(1) {
        let mut f: Vec<String> = l.split(',').map(String::from).collect();
        versions.push(f.pop().unwrap());
        rows.push(f);
    }
    (rows, versions)
}

#[test]
fn operator_and_client_processes_agree_with_the_plaintext_lookup() {
    let dir = tempfile::tempdir().unwrap();
    let operator_fp = keygen("operator", &dir.path().join("operator"));
    let banks: Vec<String> = ["bank-a", "bank-b", "bank-c"]
        .iter()
        .map(|b| keygen(b, &dir.path().join(b)))
        .collect();
    keygen("mallory", &dir.path().join("mallory"));
    let s = Setup {
        dir,
        operator_fp,
        port: free_port(),
    };
    let v1 = data(300, 0);
    std::fs::write(s.path("data.csv"), &v1).unwrap();
    ok(&s.publish(&s.path("data.csv"), false));
    let q = queries(120);
    std::fs::write(s.path("q.csv"), &q).unwrap();
    let server = s.serve(&banks, 400, "usage.log");

    // Three client processes at once.
    let clients: Vec<Child> = ["bank-a", "bank-b", "bank-c"]
        .iter()
        .map(|b| s.query(b, &s.path("q.csv"), &format!("out-{b}.csv")))
        .collect();
    for c in clients {
        ok(&c.wait_with_output().unwrap());
    }
    let want = expected(&v1, &q);
    for b in ["bank-a", "bank-b", "bank-c"] {
        let (rows, versions) = answers(&s.path(&format!("out-{b}.csv")));
        assert_eq!(rows, want, "{b}");
        assert!(versions.iter().all(|v| v == "1.0"));
    }

    // A malformed query file names its line, before anything is sent.
    std::fs::write(s.path("bad.csv"), "key,name\n1,a\n,b\n").unwrap();
    let out = s
        .query("bank-a", &s.path("bad.csv"), "bad-out.csv")
        .wait_with_output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("line 3"), "{err}");

    // bank-a has used 30·3 + 30·3 + 30·1 + 30·3 = 300 of 400 evaluations:
    // a second full run is refused clearly.
    let out = s
        .query("bank-a", &s.path("q.csv"), "again.csv")
        .wait_with_output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("over quota"), "{err}");

    // An unknown certificate is refused at the handshake.
    let out = s
        .query("mallory", &s.path("q.csv"), "m.csv")
        .wait_with_output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("trust"), "{err}");
    let log = std::fs::read_to_string(s.path("usage.log")).unwrap();
    assert!(
        !log.contains("1101000") && !log.contains("Name "),
        "query content in the log"
    );
    drop(server);

    // An update: the operator publishes revision 1; bank-b brings its
    // cached table up to date with the delta, and bank-c's tampered cache
    // is not used (it fetches the whole table).
    let v2 = data(300, 3);
    std::fs::write(s.path("data2.csv"), &v2).unwrap();
    let err = ok(&s.publish(&s.path("data2.csv"), true));
    assert!(err.contains("30 records removed, 30 added"), "{err}");
    let cached = s.path("cache-bank-c/table.bin");
    let mut bytes = std::fs::read(&cached).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&cached, bytes).unwrap();
    // A new usage log starts the quotas afresh.
    let _server = s.serve(&banks, 400, "usage2.log");
    for (b, how) in [
        ("bank-b", "brought to 1.1 with 1 delta(s)"),
        ("bank-c", "cached table not used"),
    ] {
        let out = s
            .query(b, &s.path("q.csv"), "v2.csv")
            .wait_with_output()
            .unwrap();
        let err = ok(&out);
        assert!(err.contains(how), "{b}: {err}");
        let (rows, versions) = answers(&s.path("v2.csv"));
        assert_eq!(rows, expected(&v2, &q), "{b}");
        assert!(versions.iter().all(|v| v == "1.1"));
    }
    assert_ne!(expected(&v1, &q), expected(&v2, &q));
}
