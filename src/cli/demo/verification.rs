//! The demo's private verification job: the tax bureau publishes its
//! taxpayer registry (name, city, and a status label) from its SQLite
//! database and serves it with `indomain verify serve`; the bank checks
//! its customers' claims with `indomain verify query`, learning for each
//! claimed attribute only whether it matches, and the status only when
//! every claim matches. The harness checks each answer against the
//! plaintext look-up.

use super::Node;
use super::error::DemoError;
use super::jobs::{Outcome, PROCESSES, column, read_csv};
use super::procs::{self, Finished};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rusqlite::{Connection, params};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

const CITIES: [&str; 5] = ["Aden", "Brno", "Cork", "Dili", "Eger"];
const STATUS: [&str; 2] = ["in good standing", "in arrears"];

/// The operator's process, stopped when dropped.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A registry record: id, name, city, status.
type Record = [String; 4];

/// Registry of `n` taxpayers in `db` (table `registry`), and `n / 4`
/// claims of the bank's customers in `claims`: correct, with a wrong city,
/// with the name alone, or about someone not registered.
fn write_data(db: &Path, claims: &Path, n: usize, seed: u64) -> Result<Vec<Record>, DemoError> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5e5);
    let records: Vec<Record> = (0..n)
        .map(|i| {
            [
                format!("T{i:07}"),
                format!("Name {i}"),
                CITIES[rng.random_range(0..CITIES.len())].to_string(),
                STATUS[usize::from(rng.random_range(0..10) == 0)].to_string(),
            ]
        })
        .collect();
    let sql = |source| DemoError::SqliteFile {
        path: db.to_path_buf(),
        source,
    };
    let mut conn = Connection::open(db).map_err(sql)?;
    let tx = conn.transaction().map_err(sql)?;
    tx.execute(
        "CREATE TABLE registry (id TEXT NOT NULL, name TEXT NOT NULL, city TEXT NOT NULL, status TEXT NOT NULL)",
        [],
    )
    .map_err(sql)?;
    {
        let mut insert = tx
            .prepare("INSERT INTO registry VALUES (?1, ?2, ?3, ?4)")
            .map_err(sql)?;
        for r in &records {
            insert
                .execute(params![r[0], r[1], r[2], r[3]])
                .map_err(sql)?;
        }
    }
    tx.commit().map_err(sql)?;
    let mut text = String::from("key,name,city\n");
    for i in (0..n).step_by(4) {
        let [id, name, city, _] = &records[i];
        let line = match (i / 4) % 4 {
            0 => format!("{id},{name},{city}\n"),
            1 => format!("{id},{name},Nowhere\n"),
            2 => format!("{id},{name},\n"),
            _ => format!("X{i:07},{name},{city}\n"),
        };
        text.push_str(&line);
    }
    std::fs::write(claims, text).map_err(DemoError::io(claims))?;
    Ok(records)
}

/// What a correct client writes for each claim: key, per attribute
/// `match`, `no-match` or empty (not claimed), and the status when every
/// attribute is claimed and matches.
fn plaintext(records: &[Record], claims: &Path) -> Result<Vec<Vec<String>>, DemoError> {
    let by_id: HashMap<&str, &Record> = records.iter().map(|r| (r[0].as_str(), r)).collect();
    let (_, rows) = read_csv(claims)?;
    Ok(rows
        .iter()
        .map(|q| {
            let rec = by_id.get(q[0].as_str());
            let mut row = vec![q[0].clone()];
            let mut all = true;
            for j in 1..3 {
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
            row.push(match rec {
                Some(r) if all => r[3].clone(),
                _ => String::new(),
            });
            row
        })
        .collect())
}

/// Publishes, serves and queries the registry; checks every answer.
pub fn verification(
    exe: &Path,
    dir: &Path,
    operator: &Node,
    client: &Node,
    rows: usize,
    seed: u64,
) -> Result<Outcome, DemoError> {
    let db = dir.join("tax-registry.db");
    let claims = dir.join("bank_claims.csv");
    let store = dir.join("verify-store");
    let answers = dir.join("bank_answers.csv");
    let path = |p: &Path| p.to_string_lossy().into_owned();
    let records = write_data(&db, &claims, rows, seed)?;
    let start = Instant::now();
    let published = procs::run_one(
        exe,
        &[
            "verify",
            "publish",
            "--sqlite",
            &path(&db),
            "--table",
            "registry",
            "--key",
            "id",
            "--attributes",
            "name,city",
            "--labels",
            "status",
            "--store",
            &path(&store),
        ],
    )?;
    let addr = procs::free_udp_addr().map_err(DemoError::Port)?.to_string();
    let mut child = Command::new(exe)
        .args(["verify", "serve", "--store", &path(&store), "--identity"])
        .arg(&operator.identity)
        .args(["--listen", &addr, "--peer", &client.peer_entry])
        .args(["--quota", "1000000"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| DemoError::Start {
            program: "the operator".to_string(),
            source,
        })?;
    let stderr = child.stderr.take();
    let _server = Server(child);
    let mut reader = BufReader::new(stderr.ok_or(DemoError::Missing("the operator's stderr"))?);
    let mut serving = String::new();
    let _ = reader.read_line(&mut serving);
    if !serving.contains("serving version") {
        return Err(DemoError::Printed {
            command: "the operator (`indomain verify serve`)".to_string(),
            what: "serving line",
            output: serving,
        });
    }
    // Keep reading, so that the operator never writes into a closed pipe.
    std::thread::spawn(move || reader.read_to_end(&mut Vec::new()));
    let queried = Command::new(exe)
        .args(["verify", "query", "--identity"])
        .arg(&client.identity)
        .args(["--connect", &addr, "--peer", &operator.peer_entry])
        .args(["--timeout", "60", "--operator-key"])
        .arg(store.join("signing.pub"))
        .args(["--queries", &path(&claims), "--output", &path(&answers)])
        .output()
        .map_err(|source| DemoError::Start {
            program: "the client".to_string(),
            source,
        })?;
    let seconds = start.elapsed().as_secs_f64();
    let client_says = String::from_utf8_lossy(&queried.stderr).trim().to_string();
    if !queried.status.success() {
        return Err(DemoError::Command {
            command: "verify query".to_string(),
            stderr: client_says,
        });
    }

    let expected = plaintext(&records, &claims)?;
    let (header, rows) = read_csv(&answers)?;
    // The last column is the version answered; the ones before must equal
    // the plaintext look-up.
    let version = column(&header, "version", &answers)?;
    let got: Vec<Vec<String>> = rows.iter().map(|r| r[..version].to_vec()).collect();
    let matched = expected.iter().filter(|r| !r[3].is_empty()).count();
    let check = if got == expected {
        format!(
            "ok: all {} answers equal the plaintext look-up ({matched} claims fully matched, with their status)",
            expected.len()
        )
    } else {
        let wrong = got.iter().zip(&expected).filter(|(a, b)| a != b).count();
        format!(
            "MISMATCH: {wrong} of {} answers differ from the plaintext look-up ({} answers)",
            expected.len(),
            got.len()
        )
    };
    Ok(Outcome {
        title: format!(
            "Private verification: {} publishes a registry of {} taxpayers from SQLite and serves it; {} checks {} customers' claims",
            operator.name,
            records.len(),
            client.name,
            expected.len()
        ),
        seconds,
        result: format!(
            "{matched} claims give every attribute and match on all, so the bank also learns their status (the query counts claims that match on the attributes they give); for the others the bank learns only which attribute did not match; the operator learns only how many claims were checked\nanswers: {}",
            answers.display()
        ),
        check,
        parties: vec![
            Finished {
                label: format!("{} (publish)", operator.name),
                stdout: format!("published; operator signing key {}", published.trim()),
                stderr: serving.trim().to_string(),
            },
            Finished {
                label: format!("{} (query)", client.name),
                stdout: String::new(),
                stderr: client_says,
            },
        ],
        scope: PROCESSES,
    })
}
