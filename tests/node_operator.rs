//! End to end with real `indomain node` processes: what the operator is
//! told is what happens (issue #16). `job submit` waits for every party's
//! answer and says whether the job runs, was refused (and then withdrawn at
//! every party at once) or still waits for named parties; `job status`
//! shows a running job's phase and progress; a node stopped by a signal
//! says what it stopped.

mod common;
mod node_common;

use node_common::{Cluster, job_id, run, settled, state, text};
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const NAMES: [&str; 3] = ["alpha", "beta", "gamma"];

const DATASET: &str = r#"
[datasets.people]
csv = "people.csv"
[datasets.people.columns]
id = { type = "text", grade = "internal" }
"#;

/// beta allows alpha statistics and PSI; gamma allows alpha nothing.
const BETA_POLICY: &str = r#"
[[policy.peers.alpha.allow]]
protocols = ["aggregate", "psi-intersection", "psi-cardinality"]
datasets = ["people"]
grades = ["internal"]
outputs = { statistics = ["alpha"], intersection = ["alpha"], cardinality = ["alpha"] }
min_group_size = 3
open_counts_to_decider = true
"#;

fn cluster(keys: usize) -> Cluster {
    let c = Cluster::new(&NAMES, |i| {
        let policy = if i == 1 { BETA_POLICY } else { "" };
        (DATASET.to_string(), policy.to_string())
    });
    for (i, site) in c.sites.iter().enumerate() {
        let mut csv = String::from("id\n");
        for k in 0..keys {
            csv.push_str(&format!("k{}\n", k + i * keys / 2));
        }
        std::fs::write(site.dir.join("people.csv"), csv).unwrap();
    }
    c
}

fn psi(protocol: &str, output: &str) -> String {
    format!(
        r#"protocol = "{protocol}"
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
name = "{output}"
receiver = "alpha"
"#
    )
}

const COUNT: &str = r#"protocol = "aggregate"
purpose = "how many"
[parameters]
statistic = "count"
min_group_size = 3
open_counts_to_decider = true
[[parties]]
name = "alpha"
dataset = "people"
columns = ["id"]
[[parties]]
name = "beta"
dataset = "people"
columns = ["id"]
[[parties]]
name = "gamma"
dataset = "people"
columns = ["id"]
[[outputs]]
name = "statistics"
receiver = "alpha"
"#;

#[test]
fn submit_says_where_the_job_stands_and_one_refusal_withdraws_it_everywhere() {
    let c = cluster(10);
    let _alpha = c.start(0);
    let beta = c.start(1);
    let _gamma = c.start(2);

    // gamma refuses; beta, which accepted, has the job withdrawn at once
    // (not left "accepted" until its start deadline).
    let o = c.submit(0, &c.spec(0, "count.toml", COUNT));
    assert!(!o.status.success());
    assert!(text(&o).contains("(refused by gamma)"), "{}", text(&o));
    let id = job_id(&o);
    let (st, status) = settled(c.cfg(1), &id);
    assert_eq!(st, "withdrawn", "{status}");
    assert!(
        status.contains("withdrawn by alpha: gamma refused the job"),
        "{status}"
    );
    // beta hears which party refused, not gamma's rule.
    assert!(!status.contains("policy.peers"), "{status}");
    let shown = text(&run(&["audit", "show", "--config", c.cfg(1)]));
    assert!(shown.contains("WITHDRAWN by alpha"), "{shown}");

    // beta is down: the submission says the job is pending and on whom.
    drop(beta);
    let spec = c.spec(0, "p.toml", &psi("psi-intersection", "intersection"));
    let o = run(&[
        "job",
        "submit",
        "--config",
        c.cfg(0),
        spec.to_str().unwrap(),
        "--timeout",
        "1",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("is pending") && text(&o).contains("waiting for the answers of beta"),
        "{}",
        text(&o)
    );
    let id = job_id(&o);
    assert_eq!(state(c.cfg(0), &id), "proposed");
    // beta comes back: the job runs, as the message said it would.
    let _beta = c.start(1);
    let (st, status) = settled(c.cfg(0), &id);
    assert_eq!(st, "completed", "{status}");
}

#[test]
fn status_shows_phase_and_progress_and_a_stopped_node_says_what_it_stopped() {
    let c = cluster(60_000);
    let _alpha = c.start(0);
    // beta with its stderr captured, to read what it says when stopped.
    let start = |i: usize| {
        let mut child = Command::new(common::BIN)
            .args(["node", "--config", c.cfg(i)])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().unwrap()),
            &mut line,
        )
        .unwrap();
        assert!(line.contains("ready"), "{line}");
        child
    };
    let stop = |mut child: std::process::Child| {
        let pid = child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        child.wait().unwrap();
        let mut err = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        err
    };

    // Idle: it says so.
    let said = stop(start(1));
    assert!(
        said.contains("interrupted by SIGTERM; the node was idle"),
        "{said}"
    );
    assert!(!said.contains("peers were told"), "{said}");

    // A long job shows its phase and how far it got.
    let beta = start(1);
    let o = c.submit(
        0,
        &c.spec(0, "card.toml", &psi("psi-cardinality", "cardinality")),
    );
    assert!(o.status.success(), "{}", text(&o));
    let id = job_id(&o);
    let deadline = Instant::now() + Duration::from_secs(120);
    let progress = loop {
        let status = text(&run(&["job", "status", "--config", c.cfg(0), &id]));
        if let Some(line) = status
            .lines()
            .find(|l| l.contains("now: running the protocol ("))
        {
            break line.to_string();
        }
        assert!(
            !status.contains("completed"),
            "finished before any progress: {status}"
        );
        assert!(Instant::now() < deadline, "{status}");
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(progress.contains("keys)"), "{progress}");
    // Stopped mid-job: beta says it stopped that job and told its peer;
    // alpha fails the job at once, naming beta.
    let said = stop(beta);
    assert!(
        said.contains("1 running job(s) stopped; their peers were told"),
        "{said}"
    );
    let (st, status) = settled(c.cfg(0), &id);
    assert_eq!(st, "failed", "{status}");
    assert!(status.contains("beta"), "{status}");
}
