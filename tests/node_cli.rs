//! End to end with real `indomain node` processes on loopback: a job
//! inside policy is accepted by the peer and its PSI runs between the nodes
//! (`job result` equals the plaintext intersection), one outside policy is
//! refused with the rule named, four jobs submitted at once all complete, a
//! node killed mid-job makes its peer fail that job naming it (releasing
//! nothing) while serving the next one, both nodes record everything,
//! `audit verify` passes and catches tampering, and bad configuration is
//! named by file and line.

mod common;
mod node_common;

use common::BIN;
use node_common::{Site, job_id, run, settled, site, start, state, text};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

fn write_config(
    me: &Site,
    name: &str,
    peer: &Site,
    peer_name: &str,
    dataset: &str,
    policy: &str,
) -> PathBuf {
    std::fs::write(
        me.dir.join("people.csv"),
        "id,region,salary\na,north,10\nb,south,20\n",
    )
    .unwrap();
    let text = format!(
        r#"name = "{name}"
identity = "identity"
listen = "127.0.0.1:{port}"
audit_log = "audit.jsonl"
control_socket = "control.sock"

[peers.{peer_name}]
address = "127.0.0.1:{peer_port}"
fingerprint = "{fp}"
audit_key = "{key}"

[datasets.{dataset}]
csv = "people.csv"
[datasets.{dataset}.columns]
id = {{ type = "text", grade = "internal" }}
region = {{ type = "text", grade = "public" }}
salary = {{ type = "float", grade = "core" }}
{policy}"#,
        port = me.port,
        peer_port = peer.port,
        fp = peer.fingerprint,
        key = peer.audit_key,
    );
    let path = me.dir.join("node.toml");
    std::fs::write(&path, text).unwrap();
    path
}

const TAX_POLICY: &str = r#"
[[policy.peers.bank.allow]]
protocols = ["psi-intersection", "psi-cardinality"]
datasets = ["taxpayers"]
columns = ["id"]
grades = ["internal"]
outputs = { intersection = ["bank"], cardinality = ["bank", "tax"] }
min_intersection = 2
not_after = 2100-01-01T00:00:00Z

[[policy.peers.bank.allow]]
protocols = ["psi-join"]
datasets = ["taxpayers"]
grades = ["internal"]
outputs = { alignment = ["bank", "tax"] }
not_after = 2020-01-01T00:00:00Z
"#;

fn spec(dir: &Path, name: &str, tax_columns: &str, receiver: &str) -> String {
    let text = format!(
        r#"protocol = "psi-intersection"
purpose = "customer overlap"

[[parties]]
name = "bank"
dataset = "customers"
columns = ["id"]

[[parties]]
name = "tax"
dataset = "taxpayers"
columns = {tax_columns}

[parameters]
min_intersection = 2

[[outputs]]
name = "intersection"
receiver = "{receiver}"
"#
    );
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn nodes_propose_check_policy_and_audit() {
    let root = tempfile::tempdir().unwrap();
    let bank = site(root.path(), "bank");
    let tax = site(root.path(), "tax");
    let bank_config = write_config(&bank, "bank", &tax, "tax", "customers", "");
    let tax_config = write_config(&tax, "tax", &bank, "bank", "taxpayers", TAX_POLICY);
    let (bank_cfg, tax_cfg) = (bank_config.to_str().unwrap(), tax_config.to_str().unwrap());

    let bank_node = start(&bank_config);
    let tax_node = start(&tax_config);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(bank.dir.join("control.sock"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(
        mode & 0o777,
        0o600,
        "the control socket is the operator's only"
    );

    // Inside policy: accepted by tax under its first rule.
    let ok = run(&[
        "job",
        "submit",
        "--config",
        bank_cfg,
        &spec(root.path(), "ok.toml", "[\"id\"]", "bank"),
    ]);
    assert!(ok.status.success(), "{}", text(&ok));
    assert!(
        text(&ok).contains("accepted by tax (policy.peers.bank.allow[0])"),
        "{}",
        text(&ok)
    );
    let accepted = job_id(&ok);

    // A core-grade column: refused by tax with the rule named.
    let core = run(&[
        "job",
        "submit",
        "--config",
        bank_cfg,
        &spec(root.path(), "core.toml", "[\"id\", \"salary\"]", "bank"),
    ]);
    assert!(!core.status.success());
    assert!(
        text(&core).contains(
            "policy.peers.bank.allow[0].columns: the job names a dataset or column that this \
             node does not allow to the proposer"
        ) && !text(&core).contains("core"),
        "{}",
        text(&core)
    );
    // An output to a receiver the policy does not allow (the bank, the
    // PSI receiver, learns the intersection in any case).
    let to_tax = spec(root.path(), "to_tax.toml", "[\"id\"]", "bank");
    let mut text_to_tax = std::fs::read_to_string(&to_tax).unwrap();
    text_to_tax.push_str("\n[[outputs]]\nname = \"intersection\"\nreceiver = \"tax\"\n");
    std::fs::write(&to_tax, text_to_tax).unwrap();
    let to_tax = run(&["job", "submit", "--config", bank_cfg, &to_tax]);
    assert!(!to_tax.status.success());
    assert!(
        text(&to_tax)
            .contains("allow[0].outputs: output \"intersection\" may not be released to \"tax\""),
        "{}",
        text(&to_tax)
    );
    // A rule whose validity has ended.
    let join = spec(root.path(), "join.toml", "[\"id\"]", "bank");
    std::fs::write(
        &join,
        std::fs::read_to_string(&join)
            .unwrap()
            .replace("psi-intersection", "psi-join")
            .replace("\"intersection\"", "\"alignment\"")
            + "\n[[outputs]]\nname = \"alignment\"\nreceiver = \"tax\"\n",
    )
    .unwrap();
    let expired = run(&["job", "submit", "--config", bank_cfg, &join]);
    assert!(!expired.status.success());
    assert!(
        text(&expired).contains(
            "policy.peers.bank.allow[1].not_after: the rule expired at 2020-01-01T00:00:00Z"
        ),
        "{}",
        text(&expired)
    );
    // The bank side refuses, locally, a party it does not know.
    let stranger = spec(root.path(), "stranger.toml", "[\"id\"]", "bank");
    std::fs::write(
        &stranger,
        std::fs::read_to_string(&stranger)
            .unwrap()
            .replace("\"tax\"", "\"broker\""),
    )
    .unwrap();
    let unknown = run(&["job", "submit", "--config", bank_cfg, &stranger]);
    assert!(!unknown.status.success());
    let named = format!("{stranger}:10: party \"broker\" is not a configured peer");
    assert!(text(&unknown).contains(&named), "{}", text(&unknown));
    // Given only the socket, the node itself refuses it (without a line).
    let socket = bank.dir.join("control.sock");
    let unknown = run(&[
        "job",
        "submit",
        "--socket",
        socket.to_str().unwrap(),
        &stranger,
    ]);
    assert!(!unknown.status.success());
    assert!(
        text(&unknown).contains("party \"broker\" is not a configured peer"),
        "{}",
        text(&unknown)
    );

    // Four jobs submitted at once are each proposed, checked and accepted.
    let concurrent: Vec<Output> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|i| {
                let spec = spec(root.path(), &format!("at_once{i}.toml"), "[\"id\"]", "bank");
                s.spawn(move || run(&["job", "submit", "--config", bank_cfg, &spec]))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for o in &concurrent {
        assert!(
            o.status.success() && text(o).contains("accepted by tax"),
            "{}",
            text(o)
        );
    }

    // Every accepted job runs to completion on both nodes.
    for id in std::iter::once(accepted.clone()).chain(concurrent.iter().map(job_id)) {
        for cfg in [bank_cfg, tax_cfg] {
            let (st, status) = settled(cfg, &id);
            assert_eq!(st, "completed", "{status}");
        }
    }
    // Tax lists what it was asked, with who asked.
    let list = run(&["job", "list", "--config", tax_cfg]);
    let listed = text(&list);
    assert!(
        listed.contains(&format!(
            "{accepted}  psi-intersection  completed  proposed by bank"
        )),
        "{listed}"
    );
    assert_eq!(listed.matches("refused").count(), 3, "{listed}");
    // The bank, the declared receiver, gets the intersection (both sides
    // hold keys a and b); tax, not a receiver, gets no file.
    let result = run(&["job", "result", "--config", bank_cfg, &accepted]);
    assert!(result.status.success(), "{}", text(&result));
    assert_eq!(String::from_utf8_lossy(&result.stdout), "id\na\nb\n");
    assert!(
        text(&result).contains("intersection -> bank  commitment "),
        "{}",
        text(&result)
    );
    let result = run(&["job", "result", "--config", tax_cfg, &accepted]);
    assert!(result.status.success(), "{}", text(&result));
    assert!(result.stdout.is_empty(), "{}", text(&result));
    // A finished job cannot be cancelled.
    let again = run(&["job", "cancel", "--config", bank_cfg, &accepted]);
    assert!(
        !again.status.success() && text(&again).contains("already completed"),
        "{}",
        text(&again)
    );

    drop(bank_node);
    drop(tax_node);

    // Both logs verify, receipts and signatures included.
    for cfg in [bank_cfg, tax_cfg] {
        let v = run(&["audit", "verify", "--config", cfg]);
        assert!(v.status.success(), "{}", text(&v));
        assert!(text(&v).contains(": OK"), "{}", text(&v));
    }
    // The bank holds tax's signed receipts of its eight decisions and of
    // the five completed jobs.
    let v = run(&["audit", "verify", "--config", bank_cfg]);
    assert!(text(&v).contains("13 receipts"), "{}", text(&v));
    let shown = text(&run(&["audit", "show", "--config", bank_cfg]));
    assert!(
        shown.contains(&format!("receipt from tax for job {accepted}: accepted")),
        "{shown}"
    );
    assert!(
        shown.contains(&format!("receipt from tax for job {accepted}: completed")),
        "{shown}"
    );
    assert_eq!(shown.matches("receipt from tax").count(), 13, "{shown}");
    let show = run(&["audit", "show", "--config", tax_cfg]);
    let shown = text(&show);
    assert!(
        shown.contains("REFUSED by policy.peers.bank.allow[0].columns"),
        "{shown}"
    );
    assert!(shown.contains("salary (core)"), "{shown}");
    assert!(
        shown.contains(&format!(
            "job {accepted} psi-intersection: accepted under policy.peers.bank.allow[0]"
        )),
        "{shown}"
    );

    // Tampering with tax's log is caught, and the record is named.
    let log = tax.dir.join("audit.jsonl");
    let original = std::fs::read_to_string(&log).unwrap();
    std::fs::write(&log, original.replacen("\"salary\"", "\"region\"", 1)).unwrap();
    let v = run(&["audit", "verify", "--config", tax_cfg]);
    assert!(!v.status.success());
    assert!(
        text(&v).contains(": its contents do not match its hash"),
        "{}",
        text(&v)
    );
    // Verifying with the other node's key fails on the first record.
    std::fs::write(&log, &original).unwrap();
    let v = run(&[
        "audit",
        "verify",
        "--log",
        log.to_str().unwrap(),
        "--key",
        &bank.audit_key,
    ]);
    assert!(
        !v.status.success() && text(&v).contains("record 0"),
        "{}",
        text(&v)
    );
    // A node does not start on a tampered log.
    std::fs::write(&log, original.replacen("\"salary\"", "\"region\"", 1)).unwrap();
    let mut refused = Command::new(BIN)
        .args(["node", "--config", tax_cfg])
        .output()
        .unwrap();
    assert!(!refused.status.success(), "{}", text(&refused));
    assert!(
        text(&refused).contains("its contents do not match its hash"),
        "{}",
        text(&refused)
    );
    refused.stdout.clear();
}

#[test]
fn bad_configuration_is_named_by_file_and_line() {
    let root = tempfile::tempdir().unwrap();
    let bank = site(root.path(), "bank");
    let tax = site(root.path(), "tax");
    let config = write_config(&tax, "tax", &bank, "bank", "taxpayers", TAX_POLICY);
    let cfg = config.to_str().unwrap();
    let original = std::fs::read_to_string(&config).unwrap();
    let cases = [
        ("listen =", "listn =", ":3:", "listn"),
        (
            "[[policy.peers.bank.allow]]",
            "[[policy.peers.insurer.allow]]",
            ":19:",
            "unknown peer \"insurer\"",
        ),
        (
            "csv = \"people.csv\"",
            "csv = \"staff.csv\"",
            ":13:",
            "staff.csv does not exist",
        ),
        (
            "columns = [\"id\"]",
            "columns = [\"iban\"]",
            ":22:",
            "no column \"iban\"",
        ),
    ];
    for (from, to, line, what) in cases {
        std::fs::write(&config, original.replace(from, to)).unwrap();
        let o = run(&["node", "--config", cfg]);
        assert!(!o.status.success());
        let t = text(&o);
        assert!(
            t.contains(&format!("{cfg}{line}")) && t.contains(what),
            "{from} -> {to}: {t}"
        );
    }
    // A job spec with a typo, named by file and line, before any socket is used.
    std::fs::write(&config, &original).unwrap();
    let spec_path = spec(root.path(), "typo.toml", "[\"id\"]", "bank");
    std::fs::write(
        &spec_path,
        std::fs::read_to_string(&spec_path)
            .unwrap()
            .replace("receiver", "reciever"),
    )
    .unwrap();
    let o = run(&["job", "submit", "--socket", "/nonexistent.sock", &spec_path]);
    assert!(
        text(&o).contains(&format!("{spec_path}:19:")) && text(&o).contains("reciever"),
        "{}",
        text(&o)
    );
    // A dataset whose file lost a declared column is refused at start.
    std::fs::write(tax.dir.join("people.csv"), "id,region\na,north\n").unwrap();
    let o = run(&["node", "--config", cfg]);
    assert!(!o.status.success());
    assert!(text(&o).contains("dataset taxpayers, column \"salary\": declared in the configuration but not in the source"), "{}", text(&o));
}

/// Writes `ids` as the site's people.csv.
fn people(site: &Site, ids: impl Iterator<Item = u32>) {
    let mut csv = String::from("id,region,salary\n");
    for i in ids {
        csv.push_str(&format!("k{i},north,{i}\n"));
    }
    std::fs::write(site.dir.join("people.csv"), csv).unwrap();
}

#[test]
fn a_killed_peer_fails_the_job_and_the_node_serves_on() {
    let root = tempfile::tempdir().unwrap();
    let bank = site(root.path(), "bank");
    let tax = site(root.path(), "tax");
    let bank_config = write_config(&bank, "bank", &tax, "tax", "customers", "");
    let tax_config = write_config(&tax, "tax", &bank, "bank", "taxpayers", TAX_POLICY);
    let (bank_cfg, tax_cfg) = (bank_config.to_str().unwrap(), tax_config.to_str().unwrap());
    // Large enough that an ECDH cardinality job is still running when tax
    // is killed.
    people(&bank, 0..60_000);
    people(&tax, 30_000..90_000);
    let _bank_node = start(&bank_config);
    let tax_node = start(&tax_config);

    let card = spec(root.path(), "card.toml", "[\"id\"]", "bank");
    std::fs::write(
        &card,
        std::fs::read_to_string(&card)
            .unwrap()
            .replace("psi-intersection", "psi-cardinality")
            .replace("\"intersection\"", "\"cardinality\""),
    )
    .unwrap();
    let submitted = run(&["job", "submit", "--config", bank_cfg, &card]);
    assert!(submitted.status.success(), "{}", text(&submitted));
    let doomed = job_id(&submitted);
    // Kill tax once it runs its side.
    let mut running = false;
    for _ in 0..3000 {
        if state(tax_cfg, &doomed) == "running" {
            running = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(running, "tax never started the job");
    // Into the protocol proper (blinding 60 000 keys takes seconds here).
    std::thread::sleep(Duration::from_millis(1500));
    drop(tax_node);
    let (st, status) = settled(bank_cfg, &doomed);
    assert_eq!(st, "failed", "{status}");
    let reason = status.lines().nth(1).unwrap_or_default();
    assert!(reason.contains("tax"), "the error names the peer: {status}");
    // Noticed by the node's short QUIC idle timeout (keep-alives stopped
    // coming), not by a receive timeout.
    assert!(reason.contains("it is gone"), "{status}");
    // Nothing was released: no output file, no result.
    let results = bank.dir.join("results").join("bank").join(&doomed);
    let left = std::fs::read_dir(&results).map(|d| d.count()).unwrap_or(0);
    assert_eq!(left, 0, "files left in {}", results.display());
    let result = run(&["job", "result", "--config", bank_cfg, &doomed]);
    assert!(
        !result.status.success() && text(&result).contains("failed"),
        "{}",
        text(&result)
    );

    // Bank keeps serving: with tax back, the next job completes, and its
    // result is the plaintext intersection.
    let _tax_node = start(&tax_config);
    let next = run(&[
        "job",
        "submit",
        "--config",
        bank_cfg,
        &spec(root.path(), "next.toml", "[\"id\"]", "bank"),
    ]);
    assert!(next.status.success(), "{}", text(&next));
    let next = job_id(&next);
    let (st, status) = settled(bank_cfg, &next);
    assert_eq!(st, "completed", "{status}");
    let result = run(&["job", "result", "--config", bank_cfg, &next]);
    assert!(result.status.success(), "{}", text(&result));
    let mut expected = String::from("id\n");
    for i in 30_000..60_000 {
        expected.push_str(&format!("k{i}\n"));
    }
    let got = String::from_utf8_lossy(&result.stdout);
    let mut got_rows: Vec<&str> = got.lines().skip(1).collect();
    got_rows.sort_unstable();
    let mut want_rows: Vec<&str> = expected.lines().skip(1).collect();
    want_rows.sort_unstable();
    assert_eq!(got.lines().next(), Some("id"));
    assert_eq!(got_rows, want_rows);
    let (st, status) = settled(tax_cfg, &next);
    assert_eq!(st, "completed", "{status}");

    drop(_tax_node);
    drop(_bank_node);
    for cfg in [bank_cfg, tax_cfg] {
        let v = run(&["audit", "verify", "--config", cfg]);
        assert!(v.status.success(), "{}", text(&v));
    }
    let shown = text(&run(&["audit", "show", "--config", bank_cfg]));
    assert!(
        shown.contains(&format!("receipt from tax for job {next}: completed")),
        "{shown}"
    );
}
