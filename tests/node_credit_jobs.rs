//! End to end with three real `indomain node` processes on loopback over
//! QUIC: the credit-risk job types — gradient-boosted trees (`train` with
//! `algorithm = "gbdt"`, then `predict` with the tree model parts), WOE/IV
//! binning (`protocol = "binning"`) and a scorecard (`train` with
//! `algorithm = "scorecard"` on the binning job's files, then `predict`).
//! alpha holds the labels (bank), beta features (tax), gamma deals.
//!
//! The trees equal the plaintext reference of the learn crate on the same
//! aligned rows, split and bins (same splits, leaf weights within 2e-3),
//! their held-out AUC equals the plaintext forest's within 0.01 and the
//! joint scores the plaintext scores within 3e-3; the binning's IV ranking
//! equals the plaintext one (IVs within 1e-9: the default mode opens the
//! counts to the label holder), and the owner learns no bin's WOE; an
//! owner-transform binning job is refused by beta's policy, the rule named
//! in its audit log and in alpha's status; the scorecard trains and scores.
//! A tree job with the instance space leaked is refused by a rule without
//! `leak_instance_space` (the node keeps serving) and, allowed, trains the
//! plaintext forest and is recorded as leaked.

mod common;
mod learn_common;
mod node_common;

use indomain_learn::Task;
use indomain_learn::binning::{BinParams, RawTable, bin_table};
use indomain_learn::data::{CsvSpec, load_raw_csv, split};
use indomain_learn::tree::model::{AnyModel, NodeRecord, TreeModelFile, load_any};
use indomain_learn::tree::{BinnedFeatures, GbdtParams, InstanceSpace, Node, plain};
use indomain_learn::woe::file::BinningFile;
use indomain_learn::woe::{bin_counts, woe_iv};
use learn_common::vertical_files;
use node_common::{Cluster, NodeProcess, accounts, run, settled, submit, text};
use std::path::{Path, PathBuf};

const NAMES: [&str; 3] = ["alpha", "beta", "gamma"];

/// What beta and gamma allow alpha to propose (no `binning_modes`: the
/// label-holder view and strict, not the owner transform).
const POLICY: &str = r#"
[[policy.peers.alpha.allow]]
protocols = ["train", "predict", "binning"]
datasets = DATASETS
grades = ["internal", "sensitive"]
outputs = { model = ["alpha", "beta"], metrics = ["alpha", "beta"], predictions = ["alpha"], binning = ["alpha", "beta"], iv = ["alpha", "beta"] }
"#;

struct Nodes {
    cluster: Cluster,
    bank: PathBuf,
    tax: PathBuf,
    _running: Vec<NodeProcess>,
}

impl Nodes {
    /// Three running nodes with `rows` generated rows at alpha and beta.
    fn start(rows: u64) -> Nodes {
        Self::start_with(rows, "")
    }

    /// The same, with `extra` added to beta's and gamma's rule for alpha.
    fn start_with(rows: u64, extra: &str) -> Nodes {
        let cluster = Cluster::new(&NAMES, |i| {
            let datasets = match i {
                0 => accounts("bank.csv", &["y", "age", "balance"]),
                1 => accounts("tax.csv", &["income", "tax_paid", "assets"]),
                _ => String::new(),
            };
            let policy = match i {
                0 => String::new(),
                1 => POLICY.replace("DATASETS", "[\"accounts\"]") + extra,
                _ => POLICY.replace("DATASETS", "[]") + extra,
            };
            (datasets, policy)
        });
        let (bank, tax) = vertical_files(cluster.root.path(), rows, 0);
        let (bank_at, tax_at) = (
            cluster.sites[0].dir.join("bank.csv"),
            cluster.sites[1].dir.join("tax.csv"),
        );
        std::fs::copy(&bank, &bank_at).unwrap();
        std::fs::copy(&tax, &tax_at).unwrap();
        let running = (0..3).map(|i| cluster.start(i)).collect();
        Nodes {
            cluster,
            bank: bank_at,
            tax: tax_at,
            _running: running,
        }
    }

    fn cfg(&self, i: usize) -> &str {
        self.cluster.cfg(i)
    }

    fn submit(&self, name: &str, spec: &str) -> String {
        submit(self.cfg(0), &self.cluster.spec(0, name, spec))
    }

    /// Waits until job `id` settles at the first `parties` nodes and
    /// asserts it completed.
    fn completed(&self, id: &str, parties: usize) {
        for (i, name) in NAMES.iter().enumerate().take(parties) {
            let (st, status) = settled(self.cfg(i), id);
            assert_eq!(st, "completed", "{name}: {status}");
        }
    }

    /// The file `file` job `id` released to node `i`.
    fn released(&self, i: usize, id: &str, file: &str) -> PathBuf {
        self.cluster.sites[i]
            .dir
            .join("results")
            .join("alpha")
            .join(id)
            .join(file)
    }
}

/// A spec among alpha (bank: label), beta (tax) and gamma (the dealer).
fn spec(protocol: &str, parameters: &str, outputs: &[(&str, &str)], label: bool) -> String {
    let mut text = format!(
        "protocol = \"{protocol}\"\npurpose = \"credit risk\"\n\n[parameters]\n{parameters}\n"
    );
    let bank = if label {
        r#"["id", "y", "age", "balance"]"#
    } else {
        r#"["id", "age", "balance"]"#
    };
    text.push_str(&format!(
        "\n[[parties]]\nname = \"alpha\"\ndataset = \"accounts\"\ncolumns = {bank}\n\n[[parties]]\nname = \"beta\"\ndataset = \"accounts\"\ncolumns = [\"id\", \"income\", \"tax_paid\", \"assets\"]\n\n[[parties]]\nname = \"gamma\"\n"
    ));
    for (name, receiver) in outputs {
        text.push_str(&format!(
            "\n[[outputs]]\nname = \"{name}\"\nreceiver = \"{receiver}\"\n"
        ));
    }
    text
}

const VERTICAL: &str =
    "label_holder = \"alpha\"\ndealer = \"gamma\"\nid_column = \"id\"\nlabel_column = \"y\"\n";

/// Every data party's model and metrics.
const MODELS: &[(&str, &str)] = &[
    ("model", "alpha"),
    ("model", "beta"),
    ("metrics", "alpha"),
    ("metrics", "beta"),
];

/// The files' rows every party holds, in id order (as the PSI join orders
/// them), split with `seed`: (training, held-out) tables per party.
fn aligned(files: &[&Path], seed: u64) -> (Vec<RawTable>, Vec<RawTable>) {
    let tables: Vec<RawTable> = files
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let spec = CsvSpec {
                id_column: "id".into(),
                label_column: (i == 0).then(|| "y".to_string()),
                features: None,
                task: Task::Logistic,
            };
            load_raw_csv(p, &spec, &[]).unwrap()
        })
        .collect();
    let mut ids: Vec<&String> = tables[0]
        .ids
        .iter()
        .filter(|id| tables[1..].iter().all(|t| t.ids.contains(id)))
        .collect();
    ids.sort();
    let parts = split(ids.len(), 0.25, seed);
    let rows = |t: &RawTable| -> RawTable {
        let at: Vec<usize> = ids
            .iter()
            .map(|id| t.ids.iter().position(|x| x == *id).unwrap())
            .collect();
        t.select(&at)
    };
    let all: Vec<RawTable> = tables.iter().map(rows).collect();
    (
        all.iter().map(|t| t.select(&parts.train)).collect(),
        all.iter().map(|t| t.select(&parts.test)).collect(),
    )
}

/// Each of `tables` binned by its own quantiles, `bins` a feature.
fn quantile_bins(tables: &[RawTable], bins: usize) -> Vec<BinnedFeatures> {
    tables
        .iter()
        .map(|t| {
            let b = bin_table(t, &BinParams::quantile(bins)).unwrap();
            BinnedFeatures::from_binned(&b, t.rows()).unwrap()
        })
        .collect()
}

/// `t` binned by `bins` of a model file.
fn binned_by(t: &RawTable, model: &TreeModelFile) -> BinnedFeatures {
    let binned: Vec<_> = model
        .features
        .iter()
        .zip(&t.columns)
        .map(|(b, c)| indomain_learn::binning::Binned {
            bins: b.clone(),
            index: b.assign(c, &t.source, &t.lines).unwrap(),
        })
        .collect();
    BinnedFeatures::from_binned(&binned, t.rows()).unwrap()
}

fn tree_model(path: &Path) -> TreeModelFile {
    match load_any(path).unwrap() {
        AnyModel::Trees(m) => *m,
        AnyModel::Linear(_) => panic!("{} is a linear model", path.display()),
    }
}

#[test]
fn trees_train_and_score_under_the_node_as_the_plaintext_forest() {
    let nodes = Nodes::start(300);
    let params = "algorithm = \"gbdt\"\ntrees = 3\nmax_depth = 3\nbins = 8\nseed = 4\n";
    let id = nodes.submit(
        "gbdt.toml",
        &spec("train", &format!("{VERTICAL}{params}"), MODELS, true),
    );
    nodes.completed(&id, 3);
    assert!(
        !nodes.released(2, &id, "").exists(),
        "the dealer receives nothing"
    );
    let files: Vec<TreeModelFile> = (0..2)
        .map(|i| tree_model(&nodes.released(i, &id, "model.json")))
        .collect();
    let want = GbdtParams {
        trees: 3,
        max_depth: 3,
        bins: 8,
        seed: 4,
        ..Default::default()
    };
    assert_eq!(files[0].job.params, want);
    assert_eq!(files[0].job_hash, files[1].job_hash);

    // The plaintext forest on the same rows, split and bins.
    let (train, test) = aligned(&[&nodes.bank, &nodes.tax], 4);
    let bins = quantile_bins(&train, 8);
    let forest = plain::train(&bins, train[0].y.as_ref().unwrap(), &want).unwrap();
    for (rank, f) in files.iter().enumerate() {
        assert_eq!(f.trees.len(), forest.trees.len());
        for (records, tree) in f.trees.iter().zip(&forest.trees) {
            for (r, n) in records.iter().zip(&tree.nodes) {
                match (r, n) {
                    (NodeRecord::Leaf(a), Node::Leaf { leaf }) => assert_eq!(a, leaf),
                    (
                        NodeRecord::Split(s),
                        Node::Split {
                            party, threshold, ..
                        },
                    ) => {
                        assert_eq!(s.party, NAMES[*party]);
                        if let Some(o) = &s.own {
                            assert_eq!(*party, rank);
                            assert_eq!((o.index, o.bin), (threshold.feature, threshold.bin));
                        }
                    }
                    other => panic!("{other:?}"),
                }
            }
        }
    }
    let weights = files[0].leaf_weights.as_ref().unwrap();
    for (got, want) in weights.iter().zip(&forest.leaf_weights) {
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 2e-3, "{g} vs {w}");
        }
    }
    assert!(
        files[1].leaf_weights.is_none(),
        "beta learns no leaf weight"
    );

    // The held-out AUC in the metrics equals the plaintext forest's.
    let y_test = test[0].y.clone().unwrap();
    let parts: Vec<BinnedFeatures> = test
        .iter()
        .zip(&files)
        .map(|(t, f)| binned_by(t, f))
        .collect();
    let plain_auc = indomain_learn::metrics::auc(&plain::predict(&forest, &parts), &y_test);
    for i in 0..2 {
        let metrics: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(nodes.released(i, &id, "metrics.json")).unwrap(),
        )
        .unwrap();
        let auc = metrics["evaluation"]["Classification"]["auc"]
            .as_f64()
            .unwrap_or_else(|| panic!("{metrics}"));
        assert!((auc - plain_auc).abs() < 0.01, "{auc} vs {plain_auc}");
        assert_eq!(metrics["trees_kept"], 3);
    }

    // Scoring every shared row with the model parts and the dealer.
    let predict = spec(
        "predict",
        &format!(
            "model = \"{id}\"\nalgorithm = \"gbdt\"\ndealer = \"gamma\"\nlabel_holder = \"alpha\"\n"
        ),
        &[("predictions", "alpha")],
        false,
    );
    let pid = nodes.submit("predict.toml", &predict);
    nodes.completed(&pid, 3);
    let scores = std::fs::read_to_string(nodes.released(0, &pid, "predictions.csv")).unwrap();
    let lines: Vec<&str> = scores.lines().collect();
    assert_eq!(lines[0], "id,score,prediction");
    assert_eq!(lines.len(), 301, "every shared row is scored");
    let all: Vec<RawTable> = [&nodes.bank, &nodes.tax]
        .iter()
        .zip(&files)
        .map(|(p, f)| {
            let spec = CsvSpec {
                id_column: "id".into(),
                label_column: None,
                features: Some(f.features.iter().map(|b| b.name.clone()).collect()),
                task: Task::Logistic,
            };
            load_raw_csv(p, &spec, &[]).unwrap()
        })
        .collect();
    for line in &lines[1..] {
        let cells: Vec<&str> = line.split(',').collect();
        let parts: Vec<BinnedFeatures> = all
            .iter()
            .zip(&files)
            .map(|(t, f)| {
                let row = t.ids.iter().position(|x| x == cells[0]).unwrap();
                binned_by(&t.select(&[row]), f)
            })
            .collect();
        let want = plain::predict(&forest, &parts)[0];
        let got: f64 = cells[1].parse().unwrap();
        assert!((got - want).abs() < 3e-3, "{line}: {want}");
    }
    assert!(!nodes.released(1, &pid, "predictions.csv").exists());
}

#[test]
fn binning_ranks_as_the_plaintext_its_leak_modes_answer_to_policy_and_a_scorecard_trains() {
    let nodes = Nodes::start(240);
    let ivs = [
        ("binning", "alpha"),
        ("binning", "beta"),
        ("iv", "alpha"),
        ("iv", "beta"),
    ];
    let params = format!("{VERTICAL}bins = 5\nseed = 2\n");
    let id = nodes.submit("binning.toml", &spec("binning", &params, &ivs, true));
    nodes.completed(&id, 3);

    // The plaintext IVs of every feature on the same training rows.
    let (train, _) = aligned(&[&nodes.bank, &nodes.tax], 2);
    let y = train[0].y.clone().unwrap();
    let mut want: Vec<(String, f64)> = Vec::new();
    for t in &train {
        let params = BinParams {
            method: indomain_learn::binning::Method::Quantile { bins: 5 },
            ..BinParams::default()
        };
        for b in bin_table(t, &params).unwrap() {
            let (e, n) = bin_counts(&b.index.to_vec(), &y, b.bins.bins());
            want.push((b.bins.name.clone(), woe_iv(&e, &n).iv));
        }
    }
    want.sort_by(|a, b| b.1.total_cmp(&a.1));
    let report = std::fs::read_to_string(nodes.released(0, &id, "iv.csv")).unwrap();
    let got: Vec<(String, f64)> = report
        .lines()
        .skip(1)
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            (c[2].to_string(), c[3].parse().unwrap())
        })
        .collect();
    assert_eq!(got.len(), 5, "{report}");
    for ((g, gv), (w, wv)) in got.iter().zip(&want) {
        assert_eq!(g, w, "{report}");
        assert!((gv - wv).abs() < 1e-6, "{g}: {gv} vs {wv}");
    }
    // The owner learns its features' IVs, never a bin's WOE or counts.
    let beta = BinningFile::load(&nodes.released(1, &id, "binning.json")).unwrap();
    assert_eq!(beta.features.len(), 3);
    for f in &beta.features {
        assert!(f.woe.is_none() && f.events.is_none(), "{:?}", f.bins.name);
    }
    let beta_report = std::fs::read_to_string(nodes.released(1, &id, "iv.csv")).unwrap();
    assert_eq!(beta_report.lines().count(), 4, "{beta_report}");
    assert!(!beta_report.contains(",age,"), "{beta_report}");

    // The owner transform is refused by beta's rule, which its audit log
    // and alpha's status name.
    let owner = nodes.cluster.spec(
        0,
        "owner.toml",
        &spec(
            "binning",
            &format!("{params}mode = \"owner-transform\"\n"),
            &ivs[..2],
            true,
        ),
    );
    let refused = nodes.cluster.submit(0, &owner);
    assert!(!refused.status.success(), "{}", text(&refused));
    let rule = "policy.peers.alpha.allow[0].binning_modes";
    assert!(
        text(&refused).contains(rule) && text(&refused).contains("owner-transform"),
        "{}",
        text(&refused)
    );
    // beta records the refusal (its answer may reach alpha first).
    let mut audit = String::new();
    for _ in 0..100 {
        audit = text(&run(&["audit", "show", "--config", nodes.cfg(1)]));
        if audit.contains(rule) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(audit.contains(rule), "{audit}");

    // A scorecard on the binning job's files, then scoring with it.
    let card = nodes.submit(
        "scorecard.toml",
        &spec(
            "train",
            &format!("{VERTICAL}algorithm = \"scorecard\"\nbinning = \"{id}\"\nmin_iv = 0.0\n"),
            MODELS,
            true,
        ),
    );
    nodes.completed(&card, 3);
    let metrics: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(nodes.released(0, &card, "metrics.json")).unwrap(),
    )
    .unwrap();
    let auc = metrics["evaluation"]["auc"].as_f64().unwrap();
    assert!(auc > 0.7, "{metrics}");
    assert_eq!(metrics["mode"], "default");
    let scoring = spec(
        "predict",
        &format!(
            "model = \"{card}\"\nalgorithm = \"scorecard\"\ndealer = \"gamma\"\nlabel_holder = \"alpha\"\n"
        ),
        &[("predictions", "alpha")],
        false,
    );
    let pid = nodes.submit("score.toml", &scoring);
    nodes.completed(&pid, 3);
    let scores = std::fs::read_to_string(nodes.released(0, &pid, "predictions.csv")).unwrap();
    assert!(scores.starts_with("id,score,probability\n"), "{scores}");
    assert_eq!(scores.lines().count(), 241);
}

/// beta's audit log once it names `needle` (its answer may reach alpha
/// before its log is written).
fn audit_naming(nodes: &Nodes, i: usize, needle: &str) -> String {
    let mut audit = String::new();
    for _ in 0..100 {
        audit = text(&run(&["audit", "show", "--config", nodes.cfg(i)]));
        if audit.contains(needle) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    audit
}

#[test]
fn a_leaked_instance_space_needs_the_policy_and_is_recorded() {
    let leaked = "algorithm = \"gbdt\"\ntrees = 2\nmax_depth = 3\nbins = 8\nseed = 4\nleak_instance_space = true\n";
    // Refused where the rule does not allow it, naming the rule; the
    // nodes keep serving: a hidden tree job then completes.
    let nodes = Nodes::start(200);
    let job = nodes.cluster.spec(
        0,
        "leaked.toml",
        &spec("train", &format!("{VERTICAL}{leaked}"), MODELS, true),
    );
    let refused = nodes.cluster.submit(0, &job);
    assert!(!refused.status.success(), "{}", text(&refused));
    let rule = "policy.peers.alpha.allow[0].leak_instance_space";
    assert!(text(&refused).contains(rule), "{}", text(&refused));
    let audit = audit_naming(&nodes, 1, rule);
    assert!(audit.contains(rule), "{audit}");
    let hidden = leaked
        .replace("leak_instance_space = true\n", "trees = 1\n")
        .replace("trees = 2\n", "");
    let id = nodes.submit(
        "hidden.toml",
        &spec("train", &format!("{VERTICAL}{hidden}"), MODELS, true),
    );
    nodes.completed(&id, 3);
    let model = tree_model(&nodes.released(0, &id, "model.json"));
    assert_eq!(model.instance_space, InstanceSpace::Hidden);
    drop(nodes);

    // Allowed: the job runs, the model files and metrics say "leaked", the
    // forest is the plaintext one and beta's audit record names the mode.
    let nodes = Nodes::start_with(200, "leak_instance_space = true\n");
    let id = nodes.submit(
        "leaked.toml",
        &spec("train", &format!("{VERTICAL}{leaked}"), MODELS, true),
    );
    nodes.completed(&id, 3);
    let want = GbdtParams {
        trees: 2,
        max_depth: 3,
        bins: 8,
        seed: 4,
        instance_space: InstanceSpace::Leaked,
        ..Default::default()
    };
    let (train, _) = aligned(&[&nodes.bank, &nodes.tax], 4);
    let bins = quantile_bins(&train, 8);
    let forest = plain::train(&bins, train[0].y.as_ref().unwrap(), &want).unwrap();
    for i in 0..2 {
        let file = nodes.released(i, &id, "model.json");
        let model = tree_model(&file);
        assert_eq!(model.instance_space, InstanceSpace::Leaked);
        assert_eq!(model.job.params, want);
        assert_eq!(model.trees.len(), forest.trees.len());
        let raw = std::fs::read_to_string(&file).unwrap();
        assert!(raw.contains("\"instance_space\": \"leaked\""), "{raw}");
        let metrics: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(nodes.released(i, &id, "metrics.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(metrics["instance_space"], "leaked", "{metrics}");
    }
    let weights = tree_model(&nodes.released(0, &id, "model.json"))
        .leaf_weights
        .unwrap();
    for (got, want) in weights.iter().zip(&forest.leaf_weights) {
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 2e-3, "{g} vs {w}");
        }
    }
    for i in 1..3 {
        let audit = audit_naming(&nodes, i, "leak_instance_space");
        assert!(
            audit.contains(&id) && audit.contains("leak_instance_space"),
            "{audit}"
        );
    }
}
