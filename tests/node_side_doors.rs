//! End to end with real `indomain node` processes on loopback: nothing
//! leaks around the protocols (issue #16). A non-receiver's audit log —
//! the sender of a psi-sum, the sender of a cardinality, the dealer of a
//! statistics job — holds receipts that commit to the outputs without
//! revealing them (a brute force over every possible small result finds
//! nothing, not even the true one), while a receiver's output and salt
//! still open the commitment a third party holds; every file of data or
//! results is private; a 900 KB purpose leaves `job list` working on both
//! nodes and refused proposals are rate-limited; refusals read the same
//! whether a dataset or column exists or not.

mod common;
mod node_common;

use node_common::{Cluster, job_id, mode, run, settled, text};
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

const NAMES: [&str; 3] = ["alpha", "beta", "gamma"];

const DATASET: &str = r#"
[datasets.people]
csv = "people.csv"
[datasets.people.columns]
id = { type = "text", grade = "internal" }
region = { type = "text", grade = "public" }
v = { type = "integer", grade = "internal" }
salary = { type = "integer", grade = "core" }
"#;

/// What beta and gamma allow alpha.
const POLICY: &str = r#"
[[policy.peers.alpha.allow]]
protocols = ["aggregate", "psi-sum", "psi-cardinality", "psi-intersection"]
datasets = ["people"]
columns = ["id", "region", "v"]
grades = ["public", "internal"]
outputs = { statistics = ["alpha"], cardinality = ["alpha", "beta"], sum = ["beta"], intersection = ["alpha"] }
min_group_size = 3
"#;

fn cluster() -> Cluster {
    let c = Cluster::new(&NAMES, |i| {
        let policy = if i == 0 { "" } else { POLICY };
        (DATASET.to_string(), policy.to_string())
    });
    // alpha holds k0..k39, beta k20..k69: 20 shared keys.
    for (i, range) in [(0, 0..40), (1, 20..70), (2, 0..5)] {
        let mut csv = String::from("id,region,v,salary\n");
        for k in range {
            let region = ["north", "south", "east"][k % 3];
            csv.push_str(&format!("k{k},{region},{},{}\n", k * (i + 2), 1000 + k));
        }
        std::fs::write(c.sites[i].dir.join("people.csv"), csv).unwrap();
    }
    c
}

/// Submits `spec` at alpha, expects every party to complete it, and
/// returns the job id.
fn completed(c: &Cluster, file: &str, spec: &str) -> String {
    let o = c.submit(0, &c.spec(0, file, spec));
    assert!(o.status.success(), "{}", text(&o));
    let id = job_id(&o);
    for i in 0..NAMES.len() {
        if spec.contains(&format!("name = \"{}\"", NAMES[i])) {
            let (st, status) = settled(c.cfg(i), &id);
            assert_eq!(st, "completed", "{}: {status}", NAMES[i]);
        }
    }
    id
}

const PSI_SUM: &str = r#"protocol = "psi-sum"
purpose = "tax paid by shared customers"
[[parties]]
name = "alpha"
dataset = "people"
columns = ["id"]
[[parties]]
name = "beta"
dataset = "people"
columns = ["id", "v"]
[parameters]
value_column = "v"
[[outputs]]
name = "cardinality"
receiver = "alpha"
[[outputs]]
name = "cardinality"
receiver = "beta"
[[outputs]]
name = "sum"
receiver = "beta"
"#;

const CARDINALITY: &str = r#"protocol = "psi-cardinality"
purpose = "overlap"
[[parties]]
name = "alpha"
dataset = "people"
columns = ["id"]
[[parties]]
name = "beta"
dataset = "people"
columns = ["id"]
[[outputs]]
name = "cardinality"
receiver = "alpha"
"#;

const COUNT: &str = r#"protocol = "aggregate"
purpose = "customers by region"
[parameters]
statistic = "count"
group_by = "region"
categories = "north,south,east"
min_group_size = 3
dealer = "gamma"
[[parties]]
name = "alpha"
dataset = "people"
columns = ["region"]
[[parties]]
name = "beta"
dataset = "people"
columns = ["region"]
[[parties]]
name = "gamma"
[[outputs]]
name = "statistics"
receiver = "alpha"
"#;

/// Every 64-hex-digit token in `text` (hashes, commitments, salts, heads).
fn tokens(text: &str) -> HashSet<String> {
    text.split(|c: char| !c.is_ascii_hexdigit())
        .filter(|t| t.len() == 64)
        .map(str::to_lowercase)
        .collect()
}

/// Everything a node keeps: its log and every file under its directory.
fn everything(dir: &Path) -> String {
    let mut all = String::new();
    for f in walk(dir) {
        all.push_str(&String::from_utf8_lossy(
            &std::fs::read(&f).unwrap_or_default(),
        ));
        all.push('\n');
    }
    all
}

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

fn sha256(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The salted commitment of `bytes` (docs/threat-model.md).
fn commit(salt_hex: &str, bytes: &[u8]) -> String {
    let salt: Vec<u8> = (0..32)
        .map(|i| u8::from_str_radix(&salt_hex.trim()[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    let mut h = Sha256::new();
    h.update(b"indomain/output-commitment/v2\n");
    h.update(&salt);
    h.update(bytes);
    hex(&h.finalize())
}

/// How many of `candidates` hash to a token the node holds.
fn brute_force(held: &HashSet<String>, candidates: impl Iterator<Item = String>) -> usize {
    candidates
        .filter(|c| held.contains(&sha256(c.as_bytes())))
        .count()
}

#[test]
fn receipts_and_logs_reveal_no_result_to_non_receivers() {
    let c = cluster();
    let _nodes: Vec<_> = (0..3).map(|i| c.start(i)).collect();
    let sum_job = completed(&c, "sum.toml", PSI_SUM);
    let card_job = completed(&c, "card.toml", CARDINALITY);
    let count_job = completed(&c, "count.toml", COUNT);
    drop(_nodes);
    let dir = |i: usize| c.sites[i].dir.clone();
    let out = |i: usize, job: &str, file: &str| dir(i).join("results/alpha").join(job).join(file);

    // The psi-sum: beta learns the sum (20 shared keys, v = 3k), alpha not.
    let sum = std::fs::read_to_string(out(1, &sum_job, "sum.csv")).unwrap();
    assert_eq!(sum, "sum\n1770\n");
    let alpha_holds = tokens(&everything(&dir(0)));
    let sums = (0..200_000u64).map(|n| format!("sum\n{n}\n"));
    assert_eq!(brute_force(&alpha_holds, sums), 0, "alpha found the sum");
    // The psi-cardinality: beta, the sender, learns nothing.
    let beta_holds = tokens(&everything(&dir(1)));
    let counts = (0..100_000u64).map(|n| format!("intersection_size\n{n}\n"));
    assert_eq!(brute_force(&beta_holds, counts), 0, "beta found the count");
    assert!(!dir(1).join("results/alpha").join(&card_job).exists());
    // The statistics: gamma deals and learns no count, not even by hashing
    // alpha's exact result.
    let statistics = std::fs::read(out(0, &count_job, "statistics.csv")).unwrap();
    let gamma_holds = tokens(&everything(&dir(2)));
    assert!(!gamma_holds.contains(&sha256(&statistics)));
    // The salts stay with the receivers.
    let sum_salt = std::fs::read_to_string(out(1, &sum_job, "sum.csv.salt")).unwrap();
    let stats_salt = std::fs::read_to_string(out(0, &count_job, "statistics.csv.salt")).unwrap();
    assert!(!alpha_holds.contains(sum_salt.trim()));
    assert!(!gamma_holds.contains(stats_salt.trim()));

    // Yet each receipt commits: with the receiver's output and salt, a third
    // party opens the commitment the non-receiver holds, signed by the
    // receiver.
    for (holder, output, salt) in [
        (0, out(1, &sum_job, "sum.csv"), &sum_salt),
        (2, out(0, &count_job, "statistics.csv"), &stats_salt),
    ] {
        let bytes = std::fs::read(&output).unwrap();
        let commitment = commit(salt, &bytes);
        let log = std::fs::read_to_string(dir(holder).join("audit.jsonl")).unwrap();
        assert!(
            log.lines()
                .any(|l| l.contains("\"type\":\"receipt\"") && l.contains(&commitment)),
            "{} holds no receipt committing to {}",
            NAMES[holder],
            output.display()
        );
        let o = run(&[
            "audit",
            "commitment",
            output.to_str().unwrap(),
            "--expect",
            &commitment,
        ]);
        assert!(o.status.success(), "{}", text(&o));
        // Another output under that salt does not open it.
        std::fs::write(dir(holder).join("forged.csv"), b"sum\n1771\n").unwrap();
        let forged = dir(holder).join("forged.csv");
        let o = run(&[
            "audit",
            "commitment",
            forged.to_str().unwrap(),
            "--salt",
            salt.trim(),
            "--expect",
            &commitment,
        ]);
        assert!(!o.status.success(), "{}", text(&o));
    }
    // A receiver also got the other receiver's salt of the output both
    // receive (the cardinality), and no other.
    let from_beta =
        std::fs::read_to_string(out(0, &sum_job, "salts-from-beta")).unwrap_or_default();
    assert!(from_beta.starts_with("cardinality "), "{from_beta}");
    assert!(!from_beta.contains("sum "), "{from_beta}");

    // Every file of data or results is private, in private directories.
    for i in 0..3 {
        assert_eq!(mode(&dir(i).join("audit.jsonl")), 0o600);
        assert_eq!(mode(&dir(i).join("audit.jsonl.written")), 0o600);
        let results = dir(i).join("results");
        if !results.exists() {
            continue;
        }
        for f in walk(&results) {
            assert_eq!(mode(&f), 0o600, "{}", f.display());
            let mut d = f.parent().unwrap();
            while d != dir(i) {
                assert_eq!(mode(d), 0o700, "{}", d.display());
                d = d.parent().unwrap();
            }
        }
    }
    // The logs still verify, receipts included.
    for i in 0..3 {
        let v = run(&["audit", "verify", "--config", c.cfg(i)]);
        assert!(v.status.success(), "{}", text(&v));
    }
}

#[test]
fn job_result_gives_absolute_paths_whatever_directory_the_node_started_in() {
    let c = cluster();
    // Started from inside its own directory with a relative configuration.
    let start_in = |i: usize| {
        let mut child = std::process::Command::new(common::BIN)
            .args(["node", "--config", "node.toml"])
            .current_dir(&c.sites[i].dir)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().unwrap()),
            &mut line,
        )
        .unwrap();
        node_common::NodeProcess(child)
    };
    let _a = start_in(0);
    let _b = start_in(1);
    let spec = CARDINALITY
        .replace("psi-cardinality", "psi-intersection")
        .replace("name = \"cardinality\"", "name = \"intersection\"");
    let id = completed(&c, "i.toml", &spec);
    let o = run(&["job", "result", "--config", c.cfg(0), &id]);
    assert!(o.status.success(), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    let file = err
        .split("  file ")
        .nth(1)
        .and_then(|t| t.split("  salt ").next())
        .unwrap();
    assert!(Path::new(file).is_absolute(), "{err}");
    assert!(Path::new(file).is_file(), "{err}");
    assert_eq!(String::from_utf8_lossy(&o.stdout).lines().count(), 21);
}
