//! End to end with real `indomain node` processes: what a node knows
//! survives a restart (the hourly count, the job ids each proposer used,
//! the job history), and its audit log cannot be cut, emptied, torn or
//! padded quietly (issue #16).

mod common;
mod node_common;

use indomain_net::Limits;
use indomain_net::quic::{Endpoint, Identity, TrustedPeer};
use indomain_node::daemon::propose::{Answer, propose};
use indomain_node::jobspec::JobSpec;
use node_common::{Cluster, run, settled, text};
use std::path::Path;

const NAMES: [&str; 3] = ["alpha", "beta", "gamma"];

const DATASET: &str = r#"
[datasets.people]
csv = "people.csv"
[datasets.people.columns]
id = { type = "text", grade = "internal" }
"#;

/// What beta allows alpha: two cardinality jobs an hour, intersections
/// without limit. gamma may run nothing at beta.
const POLICY: &str = r#"
[[policy.peers.alpha.allow]]
protocols = ["psi-cardinality"]
datasets = ["people"]
grades = ["internal"]
outputs = { cardinality = ["alpha"] }
max_jobs_per_hour = 2

[[policy.peers.alpha.allow]]
protocols = ["psi-intersection"]
datasets = ["people"]
grades = ["internal"]
outputs = { intersection = ["alpha", "gamma"] }
"#;

fn cluster() -> Cluster {
    let c = Cluster::new(&NAMES, |i| {
        let policy = if i == 1 { POLICY } else { "" };
        (DATASET.to_string(), policy.to_string())
    });
    for site in &c.sites {
        std::fs::write(site.dir.join("people.csv"), "id\na\nb\nc\n").unwrap();
    }
    c
}

fn spec(id: &str, protocol: &str, proposer: &str) -> String {
    let output = if protocol == "psi-cardinality" {
        "cardinality"
    } else {
        "intersection"
    };
    format!(
        r#"id = "{id}"
protocol = "{protocol}"
purpose = "overlap"
[[parties]]
name = "{proposer}"
dataset = "people"
columns = ["id"]
[[parties]]
name = "beta"
dataset = "people"
columns = ["id"]
[[outputs]]
name = "{output}"
receiver = "{proposer}"
"#
    )
}

/// A proposal straight onto the link from node `from` to beta.
fn propose_to_beta(c: &Cluster, from: usize, spec: &JobSpec) -> Answer {
    let identity = Identity::load(&c.sites[from].dir.join("identity")).unwrap();
    let trusted = vec![TrustedPeer {
        name: "beta".into(),
        fingerprint: c.sites[1].fingerprint.parse().unwrap(),
    }];
    let any = "127.0.0.1:0".parse().unwrap();
    let endpoint = Endpoint::bind(&identity, any, trusted, Limits::default()).unwrap();
    let to = format!("127.0.0.1:{}", c.sites[1].port).parse().unwrap();
    let mut ch = endpoint.connect(to, "beta").unwrap();
    propose(&mut ch, spec.canonical_bytes()).unwrap()
}

#[test]
fn a_restart_keeps_the_hourly_count_the_job_ids_and_the_history() {
    let c = cluster();
    let alpha = c.start(0);
    let beta = c.start(1);
    let _gamma = c.start(2);
    for id in ["j1", "j2"] {
        let o = c.submit(
            0,
            &c.spec(
                0,
                &format!("{id}.toml"),
                &spec(id, "psi-cardinality", "alpha"),
            ),
        );
        assert!(o.status.success(), "{}", text(&o));
        assert_eq!(settled(c.cfg(1), id).0, "completed");
    }
    // gamma's refused proposal does not take an id alpha needs.
    let o = c.submit(
        2,
        &c.spec(2, "g.toml", &spec("shared", "psi-intersection", "gamma")),
    );
    assert!(
        !o.status.success() && text(&o).contains("no entry for peer"),
        "{}",
        text(&o)
    );

    // beta restarts: it still counts alpha's two jobs of this hour.
    drop(beta);
    let beta = c.start(1);
    let o = c.submit(
        0,
        &c.spec(0, "j3.toml", &spec("j3", "psi-cardinality", "alpha")),
    );
    assert!(!o.status.success());
    assert!(
        text(&o).contains("policy.peers.alpha.allow[0].max_jobs_per_hour: 2 jobs in the last hour"),
        "{}",
        text(&o)
    );
    // A reused id is refused at the proposal, before any data is read:
    // beta's data is gone, and the refusal is about the id.
    std::fs::remove_file(c.sites[1].dir.join("people.csv")).unwrap();
    let reused = JobSpec::from_toml(
        Path::new("j1.toml"),
        &spec("j1", "psi-intersection", "alpha"),
        None,
    )
    .unwrap();
    match propose_to_beta(&c, 0, &reused) {
        Answer::Refuse { rule, reason, .. } => {
            assert_eq!(rule, "job");
            assert!(
                reason.contains("job id j1 was already used by alpha"),
                "{reason}"
            );
        }
        other => panic!("{other:?}"),
    }
    std::fs::write(c.sites[1].dir.join("people.csv"), "id\na\nb\nc\n").unwrap();
    // The id gamma's refused proposal used is alpha's to take.
    let o = c.submit(
        0,
        &c.spec(0, "s.toml", &spec("shared", "psi-intersection", "alpha")),
    );
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(settled(c.cfg(1), "alpha/shared").0, "completed");
    // beta's history lists the jobs of its earlier run, and names both
    // `shared` jobs by proposer.
    let list = text(&run(&["job", "list", "--config", c.cfg(1)]));
    for id in [
        "j1  psi-cardinality  completed  proposed by alpha",
        "j2  psi-cardinality  completed",
    ] {
        assert!(list.contains(id), "{list}");
    }
    let o = run(&["job", "status", "--config", c.cfg(1), "shared"]);
    assert!(
        text(&o).contains("several proposers") && text(&o).contains("gamma/shared"),
        "{}",
        text(&o)
    );

    // alpha restarts: its own ids stay taken, its history listed.
    drop(alpha);
    let _alpha = c.start(0);
    let o = c.submit(
        0,
        &c.spec(0, "j1b.toml", &spec("j1", "psi-intersection", "alpha")),
    );
    assert!(
        !o.status.success() && text(&o).contains("already used"),
        "{}",
        text(&o)
    );
    let list = text(&run(&["job", "list", "--config", c.cfg(0)]));
    assert!(list.contains("j1  psi-cardinality  completed"), "{list}");
    let result = run(&["job", "result", "--config", c.cfg(0), "j1"]);
    assert!(result.status.success(), "{}", text(&result));
    assert_eq!(
        String::from_utf8_lossy(&result.stdout),
        "intersection_size\n3\n"
    );

    // Ids that are no names of results directories are refused, at the
    // submitting node and at the peer.
    for bad in [".", "..", ".hidden"] {
        let o = c.submit(
            0,
            &c.spec(0, "dot.toml", &spec(bad, "psi-intersection", "alpha")),
        );
        assert!(
            !o.status.success() && text(&o).contains("do not begin with '.'"),
            "{}",
            text(&o)
        );
        let mut raw = reused.clone();
        raw.id = bad.to_string();
        match propose_to_beta(&c, 0, &raw) {
            Answer::Refuse { reason, .. } => assert!(reason.contains("'.'"), "{reason}"),
            other => panic!("{other:?}"),
        }
    }
    drop(beta);
}

/// The log's lines.
fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn write_lines(path: &Path, lines: &[String]) {
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

/// `indomain node` run to its refusal: its output.
fn refused_start(cfg: &str) -> String {
    let o = run(&["node", "--config", cfg]);
    assert!(!o.status.success(), "{}", text(&o));
    text(&o)
}

#[test]
fn an_audit_log_cannot_be_cut_emptied_torn_or_padded_quietly() {
    let c = cluster();
    // beta keeps its head in a file outside its directory.
    let head_file = c.root.path().join("elsewhere").join("beta.head");
    std::fs::create_dir_all(head_file.parent().unwrap()).unwrap();
    let config = std::fs::read_to_string(&c.configs[1]).unwrap().replacen(
        "control_socket = \"control.sock\"\n",
        &format!(
            "control_socket = \"control.sock\"\naudit_head_file = \"{}\"\n",
            head_file.display()
        ),
        1,
    );
    std::fs::write(&c.configs[1], config).unwrap();
    let (alpha, beta) = (c.start(0), c.start(1));
    let o = c.submit(
        0,
        &c.spec(0, "j.toml", &spec("j", "psi-intersection", "alpha")),
    );
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(settled(c.cfg(1), "j").0, "completed");
    assert_eq!(settled(c.cfg(0), "j").0, "completed");
    drop((alpha, beta));

    let log = c.sites[1].dir.join("audit.jsonl");
    let whole = lines(&log);
    let head = std::fs::read_to_string(&head_file)
        .unwrap()
        .trim()
        .to_string();
    let v = run(&["audit", "verify", "--config", c.cfg(1), "--head", &head]);
    assert!(v.status.success(), "{}", text(&v));
    assert!(text(&v).contains(&format!("head {head}")), "{}", text(&v));
    // alpha holds beta's heads, in the receipts beta signed.
    let alpha_log = std::fs::read_to_string(c.sites[0].dir.join("audit.jsonl")).unwrap();
    let quoted: Vec<String> = alpha_log
        .lines()
        .filter(|l| l.contains("\"signer\":\"beta\""))
        .filter_map(|l| l.split("\"audit_head\":\"").nth(1))
        .map(|t| t[..64].to_string())
        .collect();
    assert_eq!(quoted.len(), 2, "beta's accept and completion receipts");

    // Cut the last records: the chain alone cannot tell ...
    let at = whole
        .iter()
        .position(|l| l.contains(&format!("\"hash\":\"{}\"", quoted[1])))
        .unwrap();
    write_lines(&log, &whole[..at]);
    let v = run(&["audit", "verify", "--config", c.cfg(1)]);
    assert!(v.status.success(), "{}", text(&v));
    // ... a head kept elsewhere can: the head file, or a peer's receipt.
    for h in [&head, &quoted[1]] {
        let v = run(&["audit", "verify", "--config", c.cfg(1), "--head", h]);
        assert!(!v.status.success());
        assert!(
            text(&v).contains(&format!("does not reach head {h}")),
            "{}",
            text(&v)
        );
    }
    assert!(refused_start(c.cfg(1)).contains("does not reach head"));

    // Emptied or removed, while the marker says beta wrote a log there.
    write_lines(&log, &whole);
    std::fs::write(&log, "").unwrap();
    assert!(refused_start(c.cfg(1)).contains("the log is empty, but this node has written one"));
    std::fs::remove_file(&log).unwrap();
    assert!(refused_start(c.cfg(1)).contains("the log is missing"));

    // A torn last line: named, with the way out; `audit repair` drops it
    // and says what it dropped; the node starts again.
    write_lines(&log, &whole);
    let mut torn = std::fs::read(&log).unwrap();
    torn.extend_from_slice(b"{\"version\":2,\"seq\":99,\"time");
    std::fs::write(&log, &torn).unwrap();
    let refusal = refused_start(c.cfg(1));
    assert!(
        refusal.contains("torn") && refusal.contains("audit repair"),
        "{refusal}"
    );
    let o = run(&["audit", "repair", "--config", c.cfg(1)]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("dropped the torn last line") && text(&o).contains("\"seq\":99"),
        "{}",
        text(&o)
    );
    assert_eq!(lines(&log), whole);
    drop(c.start(1));

    // A field added inside a record's event: caught, though parsing would
    // drop it; `audit show` prints only what verified before it.
    let whole = lines(&log);
    let mut padded = whole.clone();
    padded[2] = padded[2].replacen("\"event\":{", "\"event\":{\"note\":\"quietly added\",", 1);
    write_lines(&log, &padded);
    let v = run(&["audit", "verify", "--config", c.cfg(1)]);
    assert!(
        !v.status.success() && text(&v).contains("record 2"),
        "{}",
        text(&v)
    );
    let show = run(&["audit", "show", "--config", c.cfg(1)]);
    assert!(!show.status.success());
    let shown = String::from_utf8_lossy(&show.stdout);
    assert!(shown.contains("#1 ") && !shown.contains("#2 "), "{shown}");
    write_lines(&log, &whole);

    // Verified with only the log and its key: receipts are counted, not
    // failed for want of the peers' keys.
    let v = run(&[
        "audit",
        "verify",
        "--log",
        log.to_str().unwrap(),
        "--key",
        &c.sites[1].audit_key,
    ]);
    assert!(v.status.success(), "{}", text(&v));
    assert!(text(&v).contains("receipts not checked"), "{}", text(&v));
}
