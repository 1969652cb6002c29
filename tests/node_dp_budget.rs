//! End to end with two real `indomain node` processes on loopback: the
//! differential-privacy budget a data holder's policy sets (issue #22).
//! beta allows alpha statistics on its `people` only with DP, within
//! ε = 1, δ = 10^-6 a month per receiver. A job without DP, or one that
//! alone exceeds the month, is refused by policy; a job that fails before
//! anything is opened is refunded; a completed job spends; the next job
//! that the remainder cannot pay for is refused before any data is read,
//! the remaining budget named; a restart keeps the ledger (rebuilt from
//! the audit log), and the log records every change and verifies.

mod common;
mod node_common;

use node_common::{Cluster, run, settled, text};

const PEOPLE: &str = r#"
[datasets.people]
csv = "people.csv"
[datasets.people.columns]
id = { type = "text", grade = "internal" }
region = { type = "text", grade = "public" }
income = { type = "float", grade = "sensitive" }
"#;

/// What beta allows alpha: statistics to alpha, with DP, within a budget.
const POLICY: &str = r#"
[[policy.peers.alpha.allow]]
protocols = ["aggregate"]
datasets = ["people"]
grades = ["public", "internal", "sensitive"]
outputs = { statistics = ["alpha"] }
min_group_size = 3
dp = { epsilon = 1.0, delta = 1e-6, per = "month" }
"#;

/// A count by region at alpha and beta, released to alpha, with the
/// `extra` parameters.
fn spec(id: &str, extra: &str) -> String {
    let mut spec = format!(
        "id = \"{id}\"\nprotocol = \"aggregate\"\npurpose = \"counts\"\n\n[parameters]\nstatistic = \"count\"\nmin_group_size = 3\ngroup_by = \"region\"\n{extra}\n"
    );
    for name in ["alpha", "beta"] {
        spec.push_str(&format!(
            "\n[[parties]]\nname = \"{name}\"\ndataset = \"people\"\ncolumns = [\"region\", \"income\"]\n"
        ));
    }
    spec.push_str("\n[[outputs]]\nname = \"statistics\"\nreceiver = \"alpha\"\n");
    spec
}

/// beta's budget line for alpha, as `job budget` prints it.
fn budget(cfg: &str) -> String {
    let o = run(&["job", "budget", "--config", cfg]);
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8(o.stdout).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 1, "{out}");
    assert!(
        lines[0].starts_with("policy.peers.alpha.allow[0].dp  dataset people for alpha  ")
            && lines[0].contains(": ε = 1, δ = 0.000001"),
        "{out}"
    );
    lines[0].to_string()
}

/// The remaining ε `job budget` prints.
fn remaining_epsilon(line: &str) -> f64 {
    let (_, tail) = line.split_once("(ε = ").unwrap();
    tail.split_whitespace().next().unwrap().parse().unwrap()
}

#[test]
fn a_budget_is_spent_refused_when_exhausted_refunded_on_failure_and_kept_across_a_restart() {
    let cluster = Cluster::new(&["alpha", "beta"], |i| {
        let policy = if i == 1 { POLICY } else { "" };
        (PEOPLE.to_string(), policy.to_string())
    });
    for (i, site) in cluster.sites.iter().enumerate() {
        let mut csv = String::from("id,region,income\n");
        for k in 0..40 {
            let region = if k % 4 == 0 { "south" } else { "north" };
            csv.push_str(&format!("k{i}{k},{region},{}\n", 1000 + k));
        }
        std::fs::write(site.dir.join("people.csv"), csv).unwrap();
    }
    let _alpha = cluster.start(0);
    let beta = cluster.start(1);
    let (a, b) = (cluster.cfg(0), cluster.cfg(1));
    let full = budget(b);
    assert_eq!(remaining_epsilon(&full), 1.0, "{full}");
    let submit = |id: &str, extra: &str| {
        let path = cluster.spec(0, &format!("{id}.toml"), &spec(id, extra));
        cluster.submit(0, &path)
    };
    let refused = |id: &str, extra: &str, words: &[&str]| {
        let o = submit(id, extra);
        let t = text(&o);
        assert!(!o.status.success(), "{t}");
        for w in words {
            assert!(t.contains(w), "{w:?} not in {t}");
        }
        t
    };
    let categories = "categories = \"north,south\"";

    // Bad DP parameters are refused at alpha, on the spec's line.
    refused(
        "bad-epsilon",
        &format!("{categories}\ndp_epsilon = -1.0"),
        &["parameter dp_epsilon = -1: give a finite number above 0"],
    );
    // beta's rule requires DP, and refuses a job that alone exceeds the month.
    refused(
        "no-dp",
        &format!("{categories}\nopen_counts_to_decider = true"),
        &[
            "policy.peers.alpha.allow[0].dp",
            "requires differential privacy",
        ],
    );
    refused(
        "too-big",
        &format!("{categories}\ndp_epsilon = 1.5"),
        &[
            "policy.peers.alpha.allow[0].dp",
            "alone exceeds the monthly DP budget",
        ],
    );
    assert_eq!(budget(b), full);

    // A job that fails before anything is opened (a region the job does
    // not list) is refunded.
    let o = submit("fails", "categories = \"north\"\ndp_epsilon = 0.8");
    assert!(o.status.success(), "{}", text(&o));
    let (st, status) = settled(b, "fails");
    assert_eq!(st, "failed", "{status}");
    settled(a, "fails");
    assert_eq!(budget(b), full, "refunded");

    // A job that completes spends ρ(0.8): what remains cannot pay for
    // another such job.
    let o = submit("spends", &format!("{categories}\ndp_epsilon = 0.8"));
    assert!(o.status.success(), "{}", text(&o));
    let (st, status) = settled(a, "spends");
    assert_eq!(st, "completed", "{status}");
    assert_eq!(settled(b, "spends").0, "completed");
    let result = node_common::result(a, "spends");
    assert!(result.starts_with("group,status,count\n"), "{result}");
    let spent = budget(b);
    let left = remaining_epsilon(&spent);
    assert!(left > 0.0 && left < 0.8, "{spent}");
    let t = refused(
        "overspends",
        &format!("{categories}\ndp_epsilon = 0.8"),
        &[
            "policy.peers.alpha.allow[0].dp",
            "the DP budget of dataset people for alpha for ",
            "is exhausted for this job",
            &format!("remains (ε = {left:.4} at δ = 0.000001)"),
        ],
    );
    assert!(t.contains("refused by beta"), "{t}");
    // Refused before any data was read: nothing under results/ for it.
    assert!(
        !cluster.sites[1]
            .dir
            .join("results/alpha/overspends")
            .exists()
    );

    // A restart rebuilds the ledger from the audit log.
    drop(beta);
    let _beta = cluster.start(1);
    assert_eq!(budget(b), spent);
    refused(
        "overspends-again",
        &format!("{categories}\ndp_epsilon = 0.8"),
        &["is exhausted for this job"],
    );
    // A smaller job still fits.
    let small = format!("{categories}\ndp_epsilon = 0.1");
    assert!(submit("fits", &small).status.success());
    assert_eq!(settled(a, "fits").0, "completed");
    assert!(remaining_epsilon(&budget(b)) < left);

    let v = run(&["audit", "verify", "--config", b]);
    assert!(v.status.success(), "{}", text(&v));
    let shown = text(&run(&["audit", "show", "--config", b]));
    for line in [
        "job alpha/fails: DP budget reserved",
        "job alpha/fails: DP budget refunded (failed before release)",
        "job alpha/spends: DP budget reserved, ρ = ",
        "job alpha/spends: DP budget spent (result released)",
    ] {
        assert!(shown.contains(line), "{line:?} not in {shown}");
    }
    assert!(
        !shown.contains("job alpha/overspends: DP budget"),
        "{shown}"
    );
}
