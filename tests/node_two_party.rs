//! End to end with real `indomain node` processes on loopback: vertical
//! training with two parties and no dealer under the node (issue #21).
//! bank (label holder) and tax (feature holder) train with
//! `correlations = "two-party"` while op, the dealer of the comparison
//! job, is not even running; the same job on the same data and seed with
//! op dealing gives the same model (the same fixed-point training, up to
//! the last bits of the probabilistic truncation). tax's policy requires
//! two-party correlations for credit jobs, so a dealer job of that
//! purpose is refused naming the rule's `dealers`; the model file and the
//! audit record carry the choice. Trees, WOE/IV binning, a scorecard on
//! the binning files and tree scoring run the same way without a dealer,
//! each equal to the same job dealt by op, and a policy that requires
//! two-party refuses a dealer trees job.

mod common;
mod node_common;

use node_common::{Cluster, run, settled, text};

const BANK: &str = r#"
[datasets.loans]
csv = "loans.csv"
[datasets.loans.columns]
id = { type = "text", grade = "internal" }
y = { type = "integer", grade = "sensitive" }
x1 = { type = "float", grade = "sensitive" }
"#;

const TAX: &str = r#"
[datasets.filings]
csv = "filings.csv"
[datasets.filings.columns]
id = { type = "text", grade = "internal" }
x2 = { type = "float", grade = "sensitive" }
x3 = { type = "float", grade = "sensitive" }
"#;

/// tax: credit jobs only without a dealer; benchmark jobs with op dealing.
const TAX_POLICY: &str = r#"
[[policy.peers.bank.allow]]
protocols = ["train"]
purposes = ["credit"]
datasets = ["filings"]
grades = ["internal", "sensitive"]
outputs = { model = ["bank", "tax"], metrics = ["bank"] }
dealers = ["two-party"]

[[policy.peers.bank.allow]]
protocols = ["train"]
purposes = ["benchmark"]
datasets = ["filings"]
grades = ["internal", "sensitive"]
outputs = { model = ["bank", "tax"], metrics = ["bank"] }
dealers = ["op"]
"#;

const OP_POLICY: &str = r#"
[[policy.peers.bank.allow]]
protocols = ["train"]
datasets = []
grades = ["public"]
outputs = { model = ["bank", "tax"], metrics = ["bank"] }
"#;

/// The training job, with a dealer (`Some("op")`) or two-party.
fn spec(id: &str, purpose: &str, dealer: Option<&str>) -> String {
    let correlations = match dealer {
        Some(d) => format!("dealer = \"{d}\""),
        None => "correlations = \"two-party\"".into(),
    };
    let mut spec = format!(
        r#"id = "{id}"
protocol = "train"
purpose = "{purpose}"

[parameters]
label_holder = "bank"
{correlations}
id_column = "id"
label_column = "y"
sigmoid = "clamped"
optimizer = "gradient-descent"
learning_rate = 0.5
epochs = 8
convergence = false
seed = 7

[[parties]]
name = "bank"
dataset = "loans"
columns = ["id", "y", "x1"]

[[parties]]
name = "tax"
dataset = "filings"
columns = ["id", "x2", "x3"]
"#
    );
    if let Some(d) = dealer {
        spec.push_str(&format!("\n[[parties]]\nname = \"{d}\"\n"));
    }
    for name in ["bank", "tax"] {
        spec.push_str(&format!(
            "\n[[outputs]]\nname = \"model\"\nreceiver = \"{name}\"\n"
        ));
    }
    spec.push_str("\n[[outputs]]\nname = \"metrics\"\nreceiver = \"bank\"\n");
    spec
}

fn model(cluster: &Cluster, i: usize, id: &str) -> serde_json::Value {
    let path = cluster.sites[i]
        .dir
        .join(format!("results/bank/{id}/model.json"));
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

fn weights(model: &serde_json::Value) -> Vec<f64> {
    let mut w: Vec<f64> = model["weights"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    if let Some(b) = model["intercept"].as_f64() {
        w.push(b);
    }
    w
}

#[test]
fn two_parties_train_without_a_dealer_and_match_the_dealer_job() {
    let cluster = Cluster::new(&["bank", "tax", "op"], |i| match i {
        0 => (BANK.to_string(), String::new()),
        1 => (TAX.to_string(), TAX_POLICY.to_string()),
        _ => (String::new(), OP_POLICY.to_string()),
    });
    let (mut loans, mut filings) = (String::from("id,y,x1\n"), String::from("id,x2,x3\n"));
    for k in 0..120 {
        let x1 = ((k * 37) % 29) as f64 / 14.0 - 1.0;
        let x2 = ((k * 17) % 23) as f64 / 11.0 - 1.0;
        let x3 = ((k * 13) % 19) as f64 / 9.0 - 1.0;
        let y = u8::from(x1 - 0.8 * x2 + 0.3 * x3 > 0.1);
        loans.push_str(&format!("c{k},{y},{x1}\n"));
        filings.push_str(&format!("c{k},{x2},{x3}\n"));
    }
    std::fs::write(cluster.sites[0].dir.join("loans.csv"), loans).unwrap();
    std::fs::write(cluster.sites[1].dir.join("filings.csv"), filings).unwrap();
    let (b, t) = (cluster.cfg(0), cluster.cfg(1));
    let bank = cluster.start(0);
    let tax = cluster.start(1);

    // Two parties, no third process running.
    let path = cluster.spec(0, "alone.toml", &spec("alone", "credit", None));
    let o = cluster.submit(0, &path);
    assert!(o.status.success(), "{}", text(&o));
    for cfg in [b, t] {
        let (st, status) = settled(cfg, "alone");
        assert_eq!(st, "completed", "{cfg}: {status}");
    }
    let alone = [model(&cluster, 0, "alone"), model(&cluster, 1, "alone")];
    for m in &alone {
        assert_eq!(m["correlations"], "two-party", "{m}");
        assert!(weights(m).iter().all(|w| w.is_finite()));
    }
    let auc = alone[0]["evaluation"]["Classification"]["auc"]
        .as_f64()
        .unwrap();
    assert!(auc > 0.8, "{}", alone[0]["evaluation"]);
    let shown = text(&run(&["audit", "show", "--config", t]));
    assert!(shown.contains("correlations=\"two-party\""), "{shown}");

    // tax requires two-party correlations for credit jobs.
    let _op = cluster.start(2);
    let path = cluster.spec(0, "dealt.toml", &spec("dealt", "credit", Some("op")));
    let o = cluster.submit(0, &path);
    let refusal = text(&o);
    assert!(!o.status.success(), "{refusal}");
    assert!(
        refusal.contains("policy.peers.bank.allow[0].dealers")
            && refusal.contains("dealer op, which the rule does not approve"),
        "{refusal}"
    );

    // The same job with op dealing: the same model at both data parties.
    let path = cluster.spec(0, "bench.toml", &spec("bench", "benchmark", Some("op")));
    let o = cluster.submit(0, &path);
    assert!(o.status.success(), "{}", text(&o));
    for cfg in [b, t, cluster.cfg(2)] {
        let (st, status) = settled(cfg, "bench");
        assert_eq!(st, "completed", "{cfg}: {status}");
    }
    for (i, two_party) in alone.iter().enumerate() {
        let dealt = model(&cluster, i, "bench");
        assert_eq!(dealt["correlations"], "dealer op");
        let (w2, wd) = (weights(two_party), weights(&dealt));
        assert_eq!(w2.len(), wd.len());
        for (a, d) in w2.iter().zip(&wd) {
            assert!((a - d).abs() < 1e-3, "two-party {w2:?} vs dealer {wd:?}");
        }
    }
    drop((bank, tax));
}

#[test]
fn the_two_party_example_spec_plans_without_a_dealer() {
    use indomain_node::plan::{Correlations, JobPlan};
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/node/train_two_party.toml");
    let spec = indomain_node::jobspec::JobSpec::load(&path, None).unwrap();
    let plan = spec.plan().unwrap();
    assert!(matches!(plan, JobPlan::Train(_)));
    assert_eq!(plan.leaks().correlations, Correlations::TwoParty);
}

/// bank's and tax's policies for the credit-risk jobs: `credit` without a
/// dealer only, `benchmark` with op dealing.
const CREDIT_POLICY: &str = r#"
[[policy.peers.bank.allow]]
protocols = ["train", "binning", "predict"]
purposes = ["credit"]
datasets = DATASETS
grades = ["internal", "sensitive"]
outputs = { model = ["bank", "tax"], metrics = ["bank", "tax"], binning = ["bank", "tax"], predictions = ["bank"] }
dealers = ["two-party"]

[[policy.peers.bank.allow]]
protocols = ["train", "binning"]
purposes = ["benchmark"]
datasets = DATASETS
grades = ["internal", "sensitive"]
outputs = { model = ["bank", "tax"], metrics = ["bank", "tax"], binning = ["bank", "tax"] }
dealers = ["op"]
"#;

/// A vertical job between bank and tax, dealt by op (`dealer`) or
/// two-party; every data party receives `outputs`.
fn credit_spec(id: &str, protocol: &str, params: &str, dealer: bool, outputs: &[&str]) -> String {
    let (purpose, source) = match dealer {
        true => ("benchmark", "dealer = \"op\""),
        false => ("credit", "correlations = \"two-party\""),
    };
    let mut spec = format!(
        "id = \"{id}\"\nprotocol = \"{protocol}\"\npurpose = \"{purpose}\"\n\n[parameters]\nlabel_holder = \"bank\"\n{source}\nid_column = \"id\"\nlabel_column = \"y\"\n{params}\n[[parties]]\nname = \"bank\"\ndataset = \"loans\"\ncolumns = [\"id\", \"y\", \"x1\"]\n\n[[parties]]\nname = \"tax\"\ndataset = \"filings\"\ncolumns = [\"id\", \"x2\", \"x3\"]\n"
    );
    if dealer {
        spec.push_str("\n[[parties]]\nname = \"op\"\n");
    }
    for name in ["bank", "tax"] {
        for output in outputs {
            spec.push_str(&format!(
                "\n[[outputs]]\nname = \"{output}\"\nreceiver = \"{name}\"\n"
            ));
        }
    }
    spec
}

fn released(cluster: &Cluster, i: usize, id: &str, file: &str) -> serde_json::Value {
    let path = cluster.sites[i]
        .dir
        .join(format!("results/bank/{id}/{file}"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap()
}

fn numbers(v: &serde_json::Value) -> Vec<f64> {
    match v {
        serde_json::Value::Number(n) => vec![n.as_f64().unwrap()],
        serde_json::Value::Array(a) => a.iter().flat_map(numbers).collect(),
        _ => Vec::new(),
    }
}

/// A tree model file's trees without the gains, and the gains.
fn splits(trees: &serde_json::Value) -> (serde_json::Value, Vec<f64>) {
    let mut trees = trees.clone();
    let mut gains = Vec::new();
    for node in trees
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .flat_map(|t| t.as_array_mut().unwrap())
    {
        if let Some(own) = node
            .pointer_mut("/split/own")
            .and_then(|o| o.as_object_mut())
        {
            gains.extend(own.remove("gain").and_then(|g| g.as_f64()));
        }
    }
    (trees, gains)
}

#[test]
fn trees_binning_and_a_scorecard_run_without_a_dealer_as_the_dealer_jobs() {
    let datasets = ["[\"loans\"]", "[\"filings\"]", "[]"];
    let cluster = Cluster::new(&["bank", "tax", "op"], |i| {
        let data = [BANK, TAX, ""][i].to_string();
        let policy = match i {
            0 => String::new(),
            _ => CREDIT_POLICY.replace("DATASETS", datasets[i]),
        };
        (data, policy)
    });
    let (mut loans, mut filings) = (String::from("id,y,x1\n"), String::from("id,x2,x3\n"));
    for k in 0..240 {
        let x1 = ((k * 37) % 29) as f64 / 14.0 - 1.0;
        let x2 = ((k * 17) % 23) as f64 / 11.0 - 1.0;
        let x3 = ((k * 13) % 19) as f64 / 9.0 - 1.0;
        let y = u8::from(x1 - 0.8 * x2 + 0.3 * x3 + 0.2 * ((k * 7) % 5) as f64 > 0.5);
        loans.push_str(&format!("c{k},{y},{x1}\n"));
        filings.push_str(&format!("c{k},{x2},{x3}\n"));
    }
    std::fs::write(cluster.sites[0].dir.join("loans.csv"), loans).unwrap();
    std::fs::write(cluster.sites[1].dir.join("filings.csv"), filings).unwrap();
    let _running: Vec<_> = (0..3).map(|i| cluster.start(i)).collect();
    let submit = |name: &str, spec: &str, parties: usize| {
        let path = cluster.spec(0, &format!("{name}.toml"), spec);
        let o = cluster.submit(0, &path);
        assert!(o.status.success(), "{name}: {}", text(&o));
        for i in 0..parties {
            let (st, status) = settled(cluster.cfg(i), name);
            assert_eq!(st, "completed", "{name} at {i}: {status}");
        }
    };
    let models = ["model", "metrics"];

    // Trees: two-party, then the same job dealt by op.
    let trees = "algorithm = \"gbdt\"\ntrees = 2\nmax_depth = 2\nbins = 6\nseed = 3\n";
    submit(
        "trees-alone",
        &credit_spec("trees-alone", "train", trees, false, &models),
        2,
    );
    submit(
        "trees-dealt",
        &credit_spec("trees-dealt", "train", trees, true, &models),
        3,
    );
    for i in 0..2 {
        let (alone, dealt) = (
            released(&cluster, i, "trees-alone", "model.json"),
            released(&cluster, i, "trees-dealt", "model.json"),
        );
        assert_eq!(alone["correlations"], "two-party");
        assert_eq!(dealt["correlations"], "dealer op");
        // The same splits; the gains opened to their owner within the
        // truncations' last bits.
        let (sa, ga) = splits(&alone["trees"]);
        let (sd, gd) = splits(&dealt["trees"]);
        assert_eq!(sa, sd, "the same splits at {i}");
        for (a, d) in ga.iter().zip(&gd) {
            assert!((a - d).abs() < 1e-2, "gains {ga:?} vs {gd:?}");
        }
        let (wa, wd) = (
            numbers(&alone["leaf_weights"]),
            numbers(&dealt["leaf_weights"]),
        );
        assert_eq!(wa.len(), wd.len());
        for (a, d) in wa.iter().zip(&wd) {
            assert!((a - d).abs() < 2e-3, "leaf weights {wa:?} vs {wd:?}");
        }
    }
    // tax requires two-party correlations for credit jobs: a dealer trees
    // job of that purpose is refused, naming the rule.
    let refused = credit_spec("trees-refused", "train", trees, true, &models)
        .replace("purpose = \"benchmark\"", "purpose = \"credit\"");
    let o = cluster.submit(0, &cluster.spec(0, "refused.toml", &refused));
    let refusal = text(&o);
    assert!(!o.status.success(), "{refusal}");
    assert!(
        refusal.contains("policy.peers.bank.allow[0].dealers")
            && refusal.contains("dealer op, which the rule does not approve"),
        "{refusal}"
    );

    // Binning: the same IVs either way (the counts are opened exactly).
    let bins = "bins = 4\nseed = 2\n";
    submit(
        "bins-alone",
        &credit_spec("bins-alone", "binning", bins, false, &["binning"]),
        2,
    );
    submit(
        "bins-dealt",
        &credit_spec("bins-dealt", "binning", bins, true, &["binning"]),
        3,
    );
    for i in 0..2 {
        let (alone, dealt) = (
            released(&cluster, i, "bins-alone", "binning.json"),
            released(&cluster, i, "bins-dealt", "binning.json"),
        );
        assert_eq!(alone["correlations"], "two-party");
        assert_eq!(dealt["correlations"], "dealer op");
        let iv = |f: &serde_json::Value| -> Vec<f64> {
            f["features"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x["iv"].as_f64().unwrap())
                .collect()
        };
        let (a, d) = (iv(&alone), iv(&dealt));
        assert_eq!(a.len(), d.len());
        for (x, y) in a.iter().zip(&d) {
            assert!((x - y).abs() < 1e-9, "IVs {a:?} vs {d:?}");
        }
    }

    // A scorecard on each binning job's files.
    let card = |binning: &str| {
        format!("algorithm = \"scorecard\"\nbinning = \"{binning}\"\nmin_iv = 0.0\n")
    };
    submit(
        "card-alone",
        &credit_spec("card-alone", "train", &card("bins-alone"), false, &models),
        2,
    );
    submit(
        "card-dealt",
        &credit_spec("card-dealt", "train", &card("bins-dealt"), true, &models),
        3,
    );
    let (alone, dealt) = (
        released(&cluster, 0, "card-alone", "model.json"),
        released(&cluster, 0, "card-dealt", "model.json"),
    );
    assert_eq!(alone["correlations"], "two-party");
    assert_eq!(dealt["correlations"], "dealer op");
    let (ia, id) = (
        alone["intercept"].as_f64().unwrap(),
        dealt["intercept"].as_f64().unwrap(),
    );
    assert!((ia - id).abs() < 1e-3, "intercept {ia} vs {id}");
    let points = |c: &serde_json::Value| -> Vec<f64> {
        ["features", "foreign"]
            .iter()
            .flat_map(|k| {
                c[k].as_array()
                    .unwrap()
                    .iter()
                    .flat_map(|f| numbers(&f["points"]))
            })
            .collect()
    };
    let (pa, pd) = (points(&alone), points(&dealt));
    assert!(!pa.is_empty() && pa.len() == pd.len(), "{pa:?} vs {pd:?}");
    for (x, y) in pa.iter().zip(&pd) {
        assert!((x - y).abs() < 0.05, "points {pa:?} vs {pd:?}");
    }
    let tax_card = released(&cluster, 1, "card-alone", "model.json");
    assert_eq!(tax_card["correlations"], "two-party");

    // Scoring with the two-party trees, no dealer either.
    let predict = "id = \"score-alone\"\nprotocol = \"predict\"\npurpose = \"credit\"\n\n[parameters]\nmodel = \"trees-alone\"\nalgorithm = \"gbdt\"\ncorrelations = \"two-party\"\nlabel_holder = \"bank\"\n\n[[parties]]\nname = \"bank\"\ndataset = \"loans\"\ncolumns = [\"id\", \"x1\"]\n\n[[parties]]\nname = \"tax\"\ndataset = \"filings\"\ncolumns = [\"id\", \"x2\", \"x3\"]\n\n[[outputs]]\nname = \"predictions\"\nreceiver = \"bank\"\n";
    submit("score-alone", predict, 2);
    let scores = std::fs::read_to_string(
        cluster.sites[0]
            .dir
            .join("results/bank/score-alone/predictions.csv"),
    )
    .unwrap();
    assert!(scores.starts_with("id,score,prediction\n"), "{scores}");
    assert_eq!(scores.lines().count(), 241);

    // tax's audit log names the choice.
    let shown = text(&run(&["audit", "show", "--config", cluster.cfg(1)]));
    assert!(shown.contains("correlations=\"two-party\""), "{shown}");
}
