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

use indomain_net::Limits;
use indomain_net::quic::{Endpoint, Identity, TrustedPeer};
use indomain_node::daemon::propose::{Answer, propose};
use indomain_node::jobspec::JobSpec;
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

[datasets.payroll]
csv = "people.csv"
[datasets.payroll.columns]
id = { type = "text", grade = "internal" }
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
    for (i, name) in NAMES.iter().enumerate() {
        if spec.contains(&format!("name = \"{name}\"")) {
            let (st, status) = settled(c.cfg(i), &id);
            assert_eq!(st, "completed", "{name}: {status}");
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

/// A proposal as a misbehaving peer sends it: straight onto the QUIC link
/// from node `from`'s identity to node `to`, whatever the bytes hold.
fn propose_raw(c: &Cluster, from: usize, to: usize, spec_json: Vec<u8>) -> Answer {
    let identity = Identity::load(&c.sites[from].dir.join("identity")).unwrap();
    let trusted = vec![TrustedPeer {
        name: NAMES[to].into(),
        fingerprint: c.sites[to].fingerprint.parse().unwrap(),
    }];
    let any = "127.0.0.1:0".parse().unwrap();
    let endpoint = Endpoint::bind(&identity, any, trusted, Limits::default()).unwrap();
    let to_addr = format!("127.0.0.1:{}", c.sites[to].port).parse().unwrap();
    let mut ch = endpoint.connect(to_addr, NAMES[to]).unwrap();
    propose(&mut ch, spec_json).unwrap()
}

/// The refusal's rule and reason.
fn refused(answer: Answer) -> (String, String) {
    match answer {
        Answer::Refuse { rule, reason, .. } => (rule, reason),
        other => panic!("{other:?}"),
    }
}

/// A cardinality job of alpha with beta, as a spec value.
fn card_spec(id: &str, purpose: &str, beta_columns: &[&str]) -> JobSpec {
    let text = CARDINALITY
        .replace(
            "purpose = \"overlap\"",
            &format!("id = \"{id}\"\npurpose = \"{purpose}\""),
        )
        .replacen(
            "name = \"beta\"\ndataset = \"people\"\ncolumns = [\"id\"]",
            &format!("name = \"beta\"\ndataset = \"people\"\ncolumns = {beta_columns:?}"),
            1,
        );
    JobSpec::from_toml(Path::new("spec.toml"), &text, None).unwrap()
}

/// `indomain ARGS | reader that closes its input at once`, through bash
/// with pipefail: the status is the command's.
fn into_closed_pipe(args: &str) -> std::process::Output {
    std::process::Command::new("bash")
        .args([
            "-c",
            &format!(
                "set -o pipefail; '{}' {args} | (exec <&-; sleep 0.3)",
                common::BIN
            ),
        ])
        .output()
        .unwrap()
}

#[test]
fn peer_text_is_bounded_refusals_are_rate_limited_and_listings_survive() {
    let c = cluster();
    let _alpha = c.start(0);
    let _beta = c.start(1);
    let beta_log = c.sites[1].dir.join("audit.jsonl");
    let log_len = || std::fs::metadata(&beta_log).unwrap().len();
    let before = log_len();

    // A 900 KB purpose straight from a peer: refused before parsing, the
    // refusal quoting none of it, nothing recorded.
    let huge = card_spec("huge", "x", &["id"]);
    let mut huge = huge;
    huge.purpose = "p".repeat(900 << 10);
    let (rule, reason) = refused(propose_raw(&c, 0, 1, huge.canonical_bytes()));
    assert_eq!(rule, "job");
    assert!(reason.len() < 200 && !reason.contains("ppp"), "{reason}");
    // Under the spec's size bound, a purpose over its own bound.
    let mut long = card_spec("long", "x", &["id"]);
    long.purpose = "q".repeat(5000);
    let (_, reason) = refused(propose_raw(&c, 0, 1, long.canonical_bytes()));
    assert!(
        reason.contains("the purpose is 5000 bytes") && !reason.contains("qqq"),
        "{reason}"
    );
    // Garbage is refused without being echoed.
    let (_, reason) = refused(propose_raw(&c, 0, 1, b"{\"id\":\"\\u001b[2Jevil".to_vec()));
    assert!(
        !reason.contains("evil") && !reason.contains('\u{1b}'),
        "{reason}"
    );
    assert_eq!(
        log_len(),
        before,
        "nothing recorded for unreadable proposals"
    );

    // Ten refusals by policy in a minute are recorded; the rest are turned
    // away unread and unrecorded.
    for i in 0..12 {
        let spec = card_spec(&format!("core{i}"), "overlap", &["id", "salary"]);
        let (rule, _) = refused(propose_raw(&c, 0, 1, spec.canonical_bytes()));
        if i < 10 {
            assert!(rule.ends_with(".columns"), "{i}: {rule}");
        } else {
            assert_eq!(rule, "max_refused_per_minute", "{i}");
        }
    }
    let shown = text(&run(&["audit", "show", "--config", c.cfg(1)]));
    assert_eq!(shown.matches("REFUSED by").count(), 10, "{shown}");
    assert!(shown.len() < 40_000, "{} bytes", shown.len());

    // The operator's own 900 KB purpose is refused, naming the file.
    let spec = c.spec(
        0,
        "huge.toml",
        &CARDINALITY.replace("overlap", &"o".repeat(900 << 10)),
    );
    let o = c.submit(0, &spec);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("huge.toml: the purpose is 921600 bytes") && text(&o).len() < 2000,
        "{}",
        text(&o).len()
    );

    // Both nodes still list their jobs, and `audit show` reads every record.
    for i in [0, 1] {
        let list = run(&["job", "list", "--config", c.cfg(i)]);
        assert!(list.status.success(), "{}", text(&list));
        assert!(text(&list).len() < 20_000);
    }
    assert!(text(&run(&["job", "list", "--config", c.cfg(1)])).contains("core9"));

    // A reader that goes away is no error (no panic on a broken pipe).
    let cfg = c.cfg(0);
    let ok = c.spec(0, "ok.toml", CARDINALITY);
    for args in [
        format!("job list --config '{cfg}'"),
        format!("job submit --config '{cfg}' '{}'", ok.display()),
        format!("audit show --config '{cfg}'"),
    ] {
        let o = into_closed_pipe(&args);
        assert!(
            o.status.success() && !text(&o).contains("panicked"),
            "{args}: {}",
            text(&o)
        );
    }
}

#[test]
fn refusals_read_the_same_whether_data_exists_or_not() {
    let c = cluster();
    let _alpha = c.start(0);
    let _beta = c.start(1);
    // beta's dataset `people` has a core column `salary` and no column
    // `bonus`.
    let refusal = |file: &str, dataset: &str, columns: &str| {
        let spec = CARDINALITY.replacen(
            "name = \"beta\"\ndataset = \"people\"\ncolumns = [\"id\"]",
            &format!("name = \"beta\"\ndataset = \"{dataset}\"\ncolumns = {columns}"),
            1,
        );
        let o = c.submit(0, &c.spec(0, file, &spec));
        assert!(!o.status.success(), "{}", text(&o));
        // The job's line names its id and hash; the refusal is the rest.
        String::from_utf8_lossy(&o.stderr).replace(&job_id(&o), "ID")
    };
    let existing = refusal("a.toml", "people", "[\"id\", \"salary\"]");
    let missing = refusal("b.toml", "people", "[\"id\", \"bonus\"]");
    assert_eq!(existing.as_bytes(), missing.as_bytes());
    assert!(
        existing.contains("policy.peers.alpha.allow[0].columns"),
        "{existing}"
    );
    assert!(
        !existing.contains("core") && !existing.contains("salary"),
        "{existing}"
    );
    // `payroll` exists at beta but no rule allows it; `nosuch` does not.
    let existing = refusal("c.toml", "payroll", "[\"id\"]");
    let missing = refusal("d.toml", "nosuch", "[\"id\"]");
    assert_eq!(existing.as_bytes(), missing.as_bytes());
    assert!(
        existing.contains("policy.peers.alpha.allow[0].datasets"),
        "{existing}"
    );
}
