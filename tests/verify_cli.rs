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
    /// The operator's store directory, under `dir`.
    store: String,
}

impl Setup {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn publish(&self, data: &Path, update: bool) -> Output {
        self.publish_from(&["--data".as_ref(), data.as_os_str()], update)
    }

    /// Publishes from the source given by `source` (e.g. `--data FILE`).
    fn publish_from(&self, source: &[&std::ffi::OsStr], update: bool) -> Output {
        let mut cmd = Command::new(BIN);
        cmd.args([
            "verify",
            "publish",
            "--key",
            "id",
            "--attributes",
            "name,phone,city",
        ])
        .args(["--labels", "status"])
        .args(source)
        .arg("--store")
        .arg(self.path(&self.store));
        if update {
            cmd.arg("--update");
        }
        cmd.output().unwrap()
    }

    fn serve(&self, clients: &[String], quota: u64, log: &str) -> Server {
        self.serve_with(clients, quota, log, &[])
    }

    /// The operator's command line, without extra arguments.
    fn serve_cmd(&self, clients: &[String], quota: u64, log: &str) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.args(["verify", "serve", "--store"])
            .arg(self.path(&self.store))
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
        cmd
    }

    fn serve_with(&self, clients: &[String], quota: u64, log: &str, extra: &[&str]) -> Server {
        let mut child = self
            .serve_cmd(clients, quota, log)
            .args(extra)
            .spawn()
            .unwrap();
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
        self.query_with(client, queries, out, &[])
    }

    fn query_with(&self, client: &str, queries: &Path, out: &str, extra: &[&str]) -> Child {
        Command::new(BIN)
            .args(["verify", "query", "--identity"])
            .arg(self.path(client))
            .args(["--connect", &format!("127.0.0.1:{}", self.port)])
            .args(["--peer", &self.operator_fp, "--timeout", "20"])
            .arg("--operator-key")
            .arg(self.path(&self.store).join("signing.pub"))
            .arg("--queries")
            .arg(queries)
            .arg("--output")
            .arg(self.path(out))
            .arg("--cache")
            .arg(self.path(&format!("cache-{}-{client}", self.store)))
            .args(extra)
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
        store: "store".into(),
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
    // a second full run, four records a request, is refused clearly once
    // the quota is spent — and the answers the operator did give (and
    // charged for) are written, the rest named.
    let out = s
        .query_with(
            "bank-a",
            &s.path("q.csv"),
            "again.csv",
            &["--records-per-request", "4"],
        )
        .wait_with_output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("over quota"), "{err}");
    assert!(err.contains("40 of 120 records were answered"), "{err}");
    assert!(
        err.contains("left unanswered, by key: 110100000000000040"),
        "{err}"
    );
    let (rows, _) = answers(&s.path("again.csv"));
    assert_eq!(rows, want[..40].to_vec());
    // Answers, the usage log and the whole store are private.
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    for f in ["again.csv", "out-bank-a.csv", "usage.log"] {
        assert_eq!(mode(&s.path(f)), 0o600, "{f}");
    }
    let store = s.path(&s.store);
    assert_eq!(mode(&store), 0o700);
    assert_eq!(mode(&store.join("v1")), 0o700);
    for entry in walk(&store) {
        assert_eq!(mode(&entry), 0o600, "{}", entry.display());
    }

    // An unknown certificate is refused at the handshake.
    let out = s
        .query("mallory", &s.path("q.csv"), "m.csv")
        .wait_with_output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("list this node's fingerprint"),
        "{err}"
    );
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
    let cached = s.path("cache-store-bank-c/table.bin");
    let mut bytes = std::fs::read(&cached).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&cached, bytes).unwrap();
    // A missing usage log would reset every quota: refused unless the
    // operator asks for it explicitly.
    let out = s.serve_cmd(&banks, 400, "usage2.log").output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("--reset-usage") && err.contains("usage.log"),
        "{err}"
    );
    let _server = s.serve_with(&banks, 400, "usage2.log", &["--reset-usage"]);
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

/// The rows of `data` (as made by [`data`]) in table `people` of a new
/// SQLite database, phones as INTEGER.
fn sqlite_db(path: &Path, data: &str) {
    let mut conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(
        "CREATE TABLE people (id TEXT, name TEXT, phone INTEGER, city TEXT, status TEXT);
         CREATE TABLE twice (id TEXT, name TEXT, phone INTEGER, city TEXT, status TEXT);
         INSERT INTO twice VALUES ('1', 'a', 1, 'c', 'valid'), ('1', 'b', 2, 'c', 'valid');",
    )
    .unwrap();
    let tx = conn.transaction().unwrap();
    for l in data.lines().skip(1) {
        let f: Vec<&str> = l.split(',').collect();
        let phone: i64 = f[2].parse().unwrap();
        tx.execute(
            "INSERT INTO people VALUES (?1, ?2, ?3, ?4, ?5)",
            rusqlite::params![f[0], f[1], phone, f[3], f[4]],
        )
        .unwrap();
    }
    tx.commit().unwrap();
}

#[test]
fn publishing_from_sqlite_answers_as_from_the_equivalent_csv() {
    let dir = tempfile::tempdir().unwrap();
    let operator_fp = keygen("operator", &dir.path().join("operator"));
    let bank = keygen("bank-a", &dir.path().join("bank-a"));
    let mut s = Setup {
        dir,
        operator_fp,
        port: free_port(),
        store: "csv".into(),
    };
    let d = data(200, 0);
    std::fs::write(s.path("data.csv"), &d).unwrap();
    let db = s.path("people.db");
    sqlite_db(&db, &d);
    let q = queries(80);
    std::fs::write(s.path("q.csv"), &q).unwrap();
    let want = expected(&d, &q);

    let csv = s.path("data.csv");
    let table = [db.as_os_str(), "--table".as_ref(), "people".as_ref()];
    let query = [
        db.as_os_str(),
        "--query".as_ref(),
        // Columns in another order, and a filter that keeps every row.
        "SELECT status, city, phone, name, id FROM people WHERE id LIKE '1101%'".as_ref(),
    ];
    let sources: [(&str, Vec<&std::ffi::OsStr>); 3] = [
        ("csv", vec!["--data".as_ref(), csv.as_os_str()]),
        ("table", [&["--sqlite".as_ref()][..], &table].concat()),
        ("query", [&["--sqlite".as_ref()][..], &query].concat()),
    ];
    let mut all = Vec::new();
    for (store, source) in &sources {
        s.store = store.to_string();
        let err = ok(&s.publish_from(source, false));
        assert!(err.contains("200 records"), "{store}: {err}");
        let _server = s.serve(std::slice::from_ref(&bank), 1000, "usage.log");
        let out = format!("out-{store}.csv");
        ok(&s
            .query("bank-a", &s.path("q.csv"), &out)
            .wait_with_output()
            .unwrap());
        let (rows, versions) = answers(&s.path(&out));
        assert_eq!(rows, want, "{store}");
        assert!(versions.iter().all(|v| v == "1.0"));
        all.push(rows);
    }
    assert_eq!(all[0], all[1]);
    assert_eq!(all[0], all[2]);

    // Bad sources: each error names the database and the table or query
    // (and the row, for a bad row).
    s.store = "bad".into();
    let db_name = db.display().to_string();
    let cases: [(&[&str], &[&str]); 5] = [
        (&["--table", "nope"], &["table nope", "no such table"]),
        (
            &["--query", "SELEC id FROM people"],
            &["query \"SELEC", "syntax error"],
        ),
        (
            &["--query", "SELECT id, name FROM people"],
            &["no column named phone"],
        ),
        (&["--table", "twice"], &["table twice", "row 2", "repeats"]),
        (&[], &["exactly one of --table or --query"]),
    ];
    for (args, wants) in cases {
        let mut source = vec!["--sqlite".as_ref(), db.as_os_str()];
        source.extend(args.iter().map(std::ffi::OsStr::new));
        let out = s.publish_from(&source, false);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?}");
        for w in wants {
            assert!(err.contains(w), "{args:?}: {err}");
        }
        if !args.is_empty() {
            assert!(err.contains(&db_name), "{args:?}: {err}");
        }
    }
    let missing = s.path("missing.db");
    let out = s.publish_from(
        &[
            "--sqlite".as_ref(),
            missing.as_os_str(),
            "--table".as_ref(),
            "people".as_ref(),
        ],
        false,
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("cannot open"),
        "{err}"
    );
    assert!(!missing.exists(), "a missing database was created");
}

/// Every file under `dir`, recursively.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}
