//! End to end with three real `indomain node` processes on loopback over
//! QUIC with mutual TLS: what a party's own node knows ends a job with a
//! reason the other parties can read, and the nodes serve on.
//!
//! - A PSI job that reads more rows than beta's policy allows (`max_rows`)
//!   fails at the proposer too, saying that beta's policy lets the job read
//!   at most that many rows, not that a connection closed.
//! - A scoring job whose parties are not its model's data parties is
//!   refused before anyone accepts it: by the proposer's node at submit when
//!   the proposer holds a part of the model, and by a peer's node, from its
//!   own model part, when the proposer (the scoring dealer) holds none.
//! - After each refusal or failure the next job completes.
//!
//! A cancel that reaches a node before its job's proposal is honoured (the
//! proposal is refused): that ordering is a race between two messages of
//! two different nodes, which processes cannot arrange deterministically,
//! so `daemon::cancel`'s unit test `a_cancel_before_its_proposal_is_kept_for_the_proposal_of_its_parties`
//! checks it.

mod common;
mod learn_common;
mod node_common;

use learn_common::vertical_files;
use node_common::{Cluster, NodeProcess, accounts, run, settled, submit, text};

const NAMES: [&str; 3] = ["alpha", "beta", "gamma"];

/// Rows of each training file; beta's PSI rule reads at most [`MAX_ROWS`].
const ROWS: u64 = 120;
const MAX_ROWS: u64 = 50;

/// What beta and gamma allow alpha (training, scoring, and a PSI overlap
/// that may read at most [`MAX_ROWS`] rows) and beta allows gamma
/// (scoring, to beta).
fn policy(datasets: &str, to_gamma: bool) -> String {
    let alpha = format!(
        r#"
[[policy.peers.alpha.allow]]
protocols = ["train", "predict"]
purposes = ["credit risk"]
datasets = {datasets}
grades = ["internal", "sensitive"]
outputs = {{ model = ["alpha", "beta"], metrics = ["alpha", "beta"], predictions = ["alpha"] }}

[[policy.peers.alpha.allow]]
protocols = ["psi-intersection"]
purposes = ["overlap"]
datasets = {datasets}
grades = ["internal"]
outputs = {{ intersection = ["alpha"] }}
max_rows = {MAX_ROWS}
"#
    );
    let gamma = format!(
        r#"
[[policy.peers.gamma.allow]]
protocols = ["predict"]
purposes = ["credit risk"]
datasets = {datasets}
grades = ["internal", "sensitive"]
outputs = {{ predictions = ["beta"] }}
"#
    );
    if to_gamma { alpha + &gamma } else { alpha }
}

/// The three nodes, running, with alpha's (labels) and beta's training
/// files.
fn nodes() -> (Cluster, Vec<NodeProcess>) {
    let cluster = Cluster::new(&NAMES, |i| match i {
        0 => (
            accounts("bank.csv", &["y", "age", "balance"]),
            String::new(),
        ),
        1 => (
            accounts("tax.csv", &["income", "tax_paid", "assets"]),
            policy("[\"accounts\"]", true),
        ),
        _ => (String::new(), policy("[]", false)),
    });
    let (bank, tax) = vertical_files(cluster.root.path(), ROWS, 0);
    std::fs::copy(&bank, cluster.sites[0].dir.join("bank.csv")).unwrap();
    std::fs::copy(&tax, cluster.sites[1].dir.join("tax.csv")).unwrap();
    let running = (0..3).map(|i| cluster.start(i)).collect();
    (cluster, running)
}

/// A spec: `parties` are (name, columns), an empty list for a party
/// without data.
fn spec(
    protocol: &str,
    purpose: &str,
    parameters: &str,
    parties: &[(&str, &str)],
    outputs: &[(&str, &str)],
) -> String {
    let mut text = format!(
        "protocol = \"{protocol}\"\npurpose = \"{purpose}\"\n\n[parameters]\n{parameters}\n"
    );
    for (name, columns) in parties {
        text.push_str(&format!("\n[[parties]]\nname = \"{name}\"\n"));
        if !columns.is_empty() {
            text.push_str(&format!("dataset = \"accounts\"\ncolumns = {columns}\n"));
        }
    }
    for (name, receiver) in outputs {
        text.push_str(&format!(
            "\n[[outputs]]\nname = \"{name}\"\nreceiver = \"{receiver}\"\n"
        ));
    }
    text
}

const BANK: &str = r#"["id", "y", "age", "balance"]"#;
const BANK_FEATURES: &str = r#"["id", "age", "balance"]"#;
const TAX: &str = r#"["id", "income", "tax_paid", "assets"]"#;

/// Waits until job `id` settles at node `i` and returns its state and
/// status text.
fn at(cluster: &Cluster, i: usize, id: &str) -> (String, String) {
    settled(cluster.cfg(i), id)
}

/// Submits `text` at node `i` and waits until it completes at the nodes
/// `parties`.
fn completes(cluster: &Cluster, i: usize, file: &str, text: &str, parties: &[usize]) -> String {
    let id = submit(cluster.cfg(i), &cluster.spec(i, file, text));
    for &p in parties {
        let (st, status) = at(cluster, p, &id);
        assert_eq!(st, "completed", "{}: {status}", NAMES[p]);
    }
    id
}

#[test]
fn a_party_over_its_row_limit_tells_the_proposer_why_and_both_serve_on() {
    let (cluster, _running) = nodes();
    let overlap = spec(
        "psi-intersection",
        "overlap",
        "",
        &[("alpha", r#"["id"]"#), ("beta", r#"["id"]"#)],
        &[("intersection", "alpha")],
    );
    let id = submit(cluster.cfg(0), &cluster.spec(0, "overlap.toml", &overlap));
    let (st, status) = at(&cluster, 0, &id);
    assert_eq!(st, "failed", "{status}");
    let why = format!("its policy lets the job read at most {MAX_ROWS} rows");
    assert!(status.contains(&why), "alpha's status: {status}");
    assert!(status.contains("beta"), "names the party: {status}");
    assert!(!status.contains("connection closed"), "{status}");
    let (st, status) = at(&cluster, 1, &id);
    assert_eq!(st, "failed", "{status}");
    assert!(
        status.contains(&format!("{MAX_ROWS}")),
        "beta's status: {status}"
    );
    // Nothing was released at alpha.
    assert!(
        !cluster.sites[0]
            .dir
            .join("results")
            .join("alpha")
            .join(&id)
            .join("intersection.csv")
            .exists()
    );
    // Both serve on: a training job between all three completes.
    let train = spec(
        "train",
        "credit risk",
        "label_holder = \"alpha\"\ndealer = \"gamma\"\nid_column = \"id\"\nlabel_column = \"y\"\nepochs = 3\nconvergence = false\n",
        &[("alpha", BANK), ("beta", TAX), ("gamma", "")],
        &[("model", "alpha"), ("model", "beta"), ("metrics", "alpha")],
    );
    completes(&cluster, 0, "train.toml", &train, &[0, 1, 2]);
}

#[test]
fn a_scoring_job_with_other_parties_than_its_model_is_refused_before_acceptance() {
    let (cluster, _running) = nodes();
    let trees = spec(
        "train",
        "credit risk",
        "label_holder = \"alpha\"\ndealer = \"gamma\"\nid_column = \"id\"\nlabel_column = \"y\"\nalgorithm = \"gbdt\"\ntrees = 2\nmax_depth = 2\nbins = 4\n",
        &[("alpha", BANK), ("beta", TAX), ("gamma", "")],
        &[
            ("model", "alpha"),
            ("model", "beta"),
            ("metrics", "alpha"),
            ("metrics", "beta"),
        ],
    );
    let model = completes(&cluster, 0, "trees.toml", &trees, &[0, 1, 2]);
    let predict = |label: &str, parties: &[(&str, &str)]| {
        spec(
            "predict",
            "credit risk",
            &format!(
                "model = \"{model}\"\nalgorithm = \"gbdt\"\ndealer = \"gamma\"\nlabel_holder = \"{label}\"\n"
            ),
            parties,
            &[("predictions", label)],
        )
    };
    let bound = "scores with its data parties (alpha, beta), not with";

    // alpha holds a model part: its own node refuses the job at submit,
    // before proposing it.
    let alone = predict("alpha", &[("alpha", BANK_FEATURES), ("gamma", "")]);
    let o = cluster.submit(0, &cluster.spec(0, "alone.toml", &alone));
    assert!(!o.status.success(), "{}", text(&o));
    assert!(text(&o).contains(bound), "{}", text(&o));

    // gamma, the scoring dealer, holds none: beta's node refuses the job
    // from its own model part, before accepting it.
    let without_alpha = predict("beta", &[("beta", TAX), ("gamma", "")]);
    let o = cluster.submit(2, &cluster.spec(2, "without-alpha.toml", &without_alpha));
    let id = node_common::job_id(&o);
    assert!(!id.is_empty(), "{}", text(&o));
    let (st, status) = at(&cluster, 2, &id);
    assert_eq!(st, "refused", "{status}");
    assert!(status.contains(bound), "gamma's status: {status}");
    let at_beta = run(&["job", "status", "--config", cluster.cfg(1), &id]);
    let at_beta = text(&at_beta);
    assert!(at_beta.contains("refused"), "beta's status: {at_beta}");
    assert!(at_beta.contains(bound), "beta's status: {at_beta}");
    assert!(
        !cluster.sites[1]
            .dir
            .join("results")
            .join("gamma")
            .join(&id)
            .exists(),
        "beta released nothing"
    );

    // The nodes serve on: the model's own parties score with it.
    let scoring = predict(
        "alpha",
        &[("alpha", BANK_FEATURES), ("beta", TAX), ("gamma", "")],
    );
    completes(&cluster, 0, "scoring.toml", &scoring, &[0, 1, 2]);
}
