//! End to end with three real `indomain node` processes on loopback:
//! horizontal training with distributed differential privacy under the
//! node (issue #22). alpha and beta each hold rows of the same columns;
//! hub is the FedAvg server and reads no data. beta allows alpha's
//! training on its `people` only with DP, within ε = 1.2 a month per
//! receiver; alpha's own policy gives beta and hub budgets of ε = 3 on
//! alpha's `people`, which alpha's own jobs are charged (the operator
//! pays too).
//!
//! A job that fails before its rounds is refunded; a job at ε = 1 trains; every model file records ε, δ and the clipping
//! norm; beta's budget and alpha's own are spent; a second job at ε = 1
//! is refused by beta before any data is read, the remaining budget
//! named, and alpha's reservation for it is refunded.

mod common;
mod node_common;

use node_common::{Cluster, run, settled, text};

const PEOPLE: &str = r#"
[datasets.people]
csv = "people.csv"
[datasets.people.columns]
id = { type = "text", grade = "internal" }
x1 = { type = "float", grade = "sensitive" }
x2 = { type = "float", grade = "sensitive" }
y = { type = "integer", grade = "sensitive" }
"#;

/// A rule of the data holders: `peer` may train on `people` with DP.
fn dp_rule(peer: &str, epsilon: f64) -> String {
    format!(
        r#"
[[policy.peers.{peer}.allow]]
protocols = ["train"]
datasets = ["people"]
grades = ["internal", "sensitive"]
outputs = {{ model = ["alpha", "beta", "hub"], metrics = ["alpha", "beta"] }}
dp = {{ epsilon = {epsilon}, delta = 1e-6, per = "month" }}
"#
    )
}

/// hub's rule: alpha may run training jobs with it as the server.
const HUB: &str = r#"
[[policy.peers.alpha.allow]]
protocols = ["train"]
datasets = []
grades = ["public"]
outputs = { model = ["alpha", "beta", "hub"], metrics = ["alpha", "beta"] }
"#;

fn spec(id: &str, epsilon: f64, min_rows: usize) -> String {
    let mut spec = format!(
        r#"id = "{id}"
protocol = "train"
purpose = "churn model"

[parameters]
mode = "horizontal"
server = "hub"
label_column = "y"
id_column = "id"
rounds = 3
epochs = 5
dp_epsilon = {epsilon}
clip_norm = 0.5
min_rows = {min_rows}
"#
    );
    for name in ["alpha", "beta"] {
        spec.push_str(&format!(
            "\n[[parties]]\nname = \"{name}\"\ndataset = \"people\"\ncolumns = [\"id\", \"y\", \"x1\", \"x2\"]\n"
        ));
    }
    spec.push_str("\n[[parties]]\nname = \"hub\"\n");
    for name in ["alpha", "beta", "hub"] {
        spec.push_str(&format!(
            "\n[[outputs]]\nname = \"model\"\nreceiver = \"{name}\"\n"
        ));
    }
    spec.push_str("\n[[outputs]]\nname = \"metrics\"\nreceiver = \"alpha\"\n");
    spec
}

/// The `job budget` line of `rule` for `receiver`, at the node of `cfg`.
fn budget(cfg: &str, rule: &str, receiver: &str) -> String {
    let o = run(&["job", "budget", "--config", cfg]);
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8(o.stdout).unwrap();
    out.lines()
        .find(|l| l.starts_with(&format!("{rule}  dataset people for {receiver}  ")))
        .unwrap_or_else(|| panic!("no line of {rule} for {receiver} in {out}"))
        .to_string()
}

/// The remaining ε a `job budget` line shows.
fn remaining_epsilon(line: &str) -> f64 {
    let (_, tail) = line.split_once("(ε = ").unwrap();
    tail.split_whitespace().next().unwrap().parse().unwrap()
}

#[test]
fn a_horizontal_dp_job_trains_records_its_guarantee_and_spends_every_data_holders_budget() {
    let cluster = Cluster::new(&["alpha", "beta", "hub"], |i| match i {
        0 => (
            PEOPLE.to_string(),
            format!("{}{}", dp_rule("beta", 3.0), dp_rule("hub", 3.0)),
        ),
        1 => (PEOPLE.to_string(), dp_rule("alpha", 1.2)),
        _ => (String::new(), HUB.to_string()),
    });
    for (i, site) in cluster.sites.iter().take(2).enumerate() {
        let mut csv = String::from("id,x1,x2,y\n");
        for k in 0..60 {
            let x1 = ((k * 37 + i * 11) % 29) as f64 / 14.0 - 1.0;
            let x2 = ((k * 17 + i * 5) % 23) as f64 / 11.0 - 1.0;
            let y = u8::from(x1 - 0.5 * x2 > 0.0);
            csv.push_str(&format!("r{i}-{k},{x1},{x2},{y}\n"));
        }
        std::fs::write(site.dir.join("people.csv"), csv).unwrap();
    }
    let _nodes: Vec<_> = (0..3).map(|i| cluster.start(i)).collect();
    let (a, b, h) = (cluster.cfg(0), cluster.cfg(1), cluster.cfg(2));
    let beta_rule = "policy.peers.alpha.allow[0].dp";
    let full = remaining_epsilon(&budget(b, beta_rule, "alpha"));
    assert_eq!(full, 1.2);
    let own_beta = "policy.peers.beta.allow[0].dp";
    let own_hub = "policy.peers.hub.allow[0].dp";
    assert_eq!(remaining_epsilon(&budget(a, own_beta, "beta")), 3.0);
    assert_eq!(remaining_epsilon(&budget(a, own_hub, "hub")), 3.0);

    let submit = |id: &str, epsilon: f64, min_rows: usize| {
        let path = cluster.spec(0, &format!("{id}.toml"), &spec(id, epsilon, min_rows));
        cluster.submit(0, &path)
    };
    // A job that fails before its rounds (every client has fewer training
    // rows than it asks) is refunded at both data holders.
    let o = submit("fed-0", 1.0, 1000);
    assert!(o.status.success(), "{}", text(&o));
    for cfg in [a, b, h] {
        let (st, status) = settled(cfg, "fed-0");
        assert_eq!(st, "failed", "{cfg}: {status}");
    }
    assert_eq!(remaining_epsilon(&budget(b, beta_rule, "alpha")), full);
    assert_eq!(remaining_epsilon(&budget(a, own_beta, "beta")), 3.0);
    let o = submit("fed-1", 1.0, 20);
    assert!(o.status.success(), "{}", text(&o));
    for cfg in [a, b, h] {
        let (st, status) = settled(cfg, "fed-1");
        assert_eq!(st, "completed", "{cfg}: {status}");
    }
    // Every party's model file records the guarantee it was trained under.
    for (i, name) in ["alpha", "beta", "hub"].iter().enumerate() {
        let path = cluster.sites[i].dir.join("results/alpha/fed-1/model.json");
        let model: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let dp = &model["job"]["horizontal"]["dp"];
        assert_eq!(dp["epsilon"], 1.0, "{name}: {model}");
        assert_eq!(dp["delta"], 1e-6, "{name}: {model}");
        assert_eq!(dp["clip_norm"], 0.5, "{name}: {model}");
        assert_eq!(model["job"]["mode"], "horizontal");
        let weights = model["weights"].as_array().unwrap();
        assert_eq!(weights.len(), 2, "{name}: {model}");
        assert!(weights.iter().all(|w| w.as_f64().unwrap().is_finite()));
    }
    assert!(
        cluster.sites[0]
            .dir
            .join("results/alpha/fed-1/metrics.json")
            .exists()
    );
    assert!(
        !cluster.sites[1]
            .dir
            .join("results/alpha/fed-1/metrics.json")
            .exists()
    );

    // beta's budget is spent, and so is alpha's own for both receivers.
    let left = remaining_epsilon(&budget(b, beta_rule, "alpha"));
    assert!(left > 0.0 && left < 1.0, "{left}");
    let own = remaining_epsilon(&budget(a, own_beta, "beta"));
    assert!(own > 0.0 && own < 3.0, "{own}");
    assert_eq!(remaining_epsilon(&budget(a, own_hub, "hub")), own);

    // A second job at ε = 1 fits alpha's own budgets but not beta's: beta
    // refuses it before any data is read, naming what remains, and alpha
    // is refunded.
    let o = submit("fed-2", 1.0, 20);
    let t = text(&o);
    assert!(!o.status.success(), "{t}");
    for words in [
        beta_rule,
        "the DP budget of dataset people for alpha for ",
        "is exhausted for this job",
        &format!("remains (ε = {left:.4} at δ = 0.000001)"),
        "refused by beta",
    ] {
        assert!(t.contains(words), "{words:?} not in {t}");
    }
    assert!(!cluster.sites[1].dir.join("results/alpha/fed-2").exists());
    assert_eq!(remaining_epsilon(&budget(a, own_beta, "beta")), own);
    assert_eq!(remaining_epsilon(&budget(b, beta_rule, "alpha")), left);

    let shown = text(&run(&["audit", "show", "--config", a]));
    for line in [
        "job alpha/fed-1: DP budget reserved, ρ = ",
        "job alpha/fed-1: DP budget spent (result released)",
        "job alpha/fed-2: DP budget refunded (failed before release)",
    ] {
        assert!(shown.contains(line), "{line:?} not in {shown}");
    }
    for cfg in [a, b, h] {
        let v = run(&["audit", "verify", "--config", cfg]);
        assert!(v.status.success(), "{}", text(&v));
    }
}

#[test]
fn an_operators_own_dp_job_that_its_budget_cannot_pay_for_is_refused_at_submission() {
    // alpha's own budget for beta is ε = 0.5: a job at ε = 1 is refused by
    // alpha itself before anything is proposed, naming its rule.
    let cluster = Cluster::new(&["alpha", "beta", "hub"], |i| match i {
        0 => (PEOPLE.to_string(), dp_rule("beta", 0.5)),
        1 => (PEOPLE.to_string(), dp_rule("alpha", 1.5)),
        _ => (String::new(), HUB.to_string()),
    });
    std::fs::write(cluster.sites[0].dir.join("people.csv"), "id,x1,x2,y\n").unwrap();
    let _alpha = cluster.start(0);
    let path = cluster.spec(0, "own.toml", &spec("own", 1.0, 20));
    let o = cluster.submit(0, &path);
    let t = text(&o);
    assert!(!o.status.success(), "{t}");
    assert!(
        t.contains("policy.peers.beta.allow[0].dp")
            && t.contains("alone exceeds the monthly DP budget"),
        "{t}"
    );
    let (st, _) = settled(cluster.cfg(0), "own");
    assert_eq!(st, "refused");
    assert_eq!(
        remaining_epsilon(&budget(
            cluster.cfg(0),
            "policy.peers.beta.allow[0].dp",
            "beta"
        )),
        0.5
    );
}

#[test]
fn the_horizontal_example_spec_plans_as_a_private_fedavg_job() {
    use indomain_node::plan::JobPlan;
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/node/train_horizontal.toml");
    let spec = indomain_node::jobspec::JobSpec::load(&path, None).unwrap();
    let Ok(JobPlan::Horizontal(plan)) = spec.plan() else {
        panic!("{path:?} is not a horizontal training job");
    };
    assert_eq!(plan.fedavg.dp.map(|d| d.epsilon), Some(1.0));
    assert!(plan.dp_rho.is_some_and(|r| r > 0.0));
}
