//! End to end: `indomain train --algorithm gbdt` with four processes (a
//! label holder, two feature holders, a dealer) over QUIC on loopback,
//! checked against the plaintext reference on the same aligned rows, bins
//! and split; `indomain predict` with the tree model files against
//! plaintext scoring; bad flags and model files refused;
//! `--leak-instance-space` recorded in the model files and a party without
//! it refused at agreement.

use indomain_learn::Task;
use indomain_learn::binning::{BinParams, RawTable, bin_table};
use indomain_learn::data::{CsvSpec, load_raw_csv, split};
use indomain_learn::tree::model::{AnyModel, NodeRecord, TreeModelFile, load_any};
use indomain_learn::tree::plain;
use indomain_learn::tree::{BinnedFeatures, GbdtParams, InstanceSpace, Node};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

mod common;
mod learn_common;

use learn_common::*;

/// bank: id,y,age,region (text, a rare category),balance (some empty);
/// tax: id,income,tax_paid; customs: id,imports (some empty),assets.
/// The label depends on columns of all three; ids overlap on 0..n.
fn files(dir: &Path, n: u64) -> Vec<PathBuf> {
    let feat = |i: u64, k: u64| noise(i, k) * 4.0 - 2.0;
    let mut bank = String::from("id,y,age,region,balance\n");
    let mut tax = String::from("id,income,tax_paid\n");
    let mut customs = String::from("id,imports,assets\n");
    for i in 0..n + 5 {
        let region = match i % 7 {
            0..=2 => "north",
            3 | 4 => "south",
            5 => "east",
            _ if i % 14 == 6 => "west",
            _ => "east",
        };
        let s = 1.4 * feat(i, 1) - 1.0 * feat(i, 3)
            + 0.9 * feat(i, 5)
            + if region == "south" { 0.8 } else { 0.0 };
        let y = u8::from(s + (noise(i, 9) - 0.5) * 1.5 > 0.0);
        let balance = if i % 9 == 0 {
            String::new()
        } else {
            format!("{:.3}", 1000.0 * feat(i, 2))
        };
        if i < n {
            bank.push_str(&format!(
                "C{i:05},{y},{:.3},{region},{balance}\n",
                30.0 + 10.0 * feat(i, 1)
            ));
        }
        if i >= 2 {
            tax.push_str(&format!("C{i:05},{:.3},{:.3}\n", feat(i, 3), feat(i, 4)));
        }
        let imports = if i % 11 == 3 {
            String::new()
        } else {
            format!("{:.3}", feat(i, 6))
        };
        customs.push_str(&format!(
            "C{i:05},{imports},{:.3}\n",
            50.0 + 5.0 * feat(i, 5)
        ));
    }
    let paths: Vec<PathBuf> = ["bank", "tax", "customs"]
        .iter()
        .map(|p| dir.join(format!("{p}.csv")))
        .collect();
    for (p, text) in paths.iter().zip([bank, tax, customs]) {
        std::fs::write(p, text).unwrap();
    }
    paths
}

const GBDT: &[&str] = &[
    "--algorithm",
    "gbdt",
    "--label-holder",
    "bank",
    "--dealer",
    "stats",
    "--trees",
    "3",
    "--max-depth",
    "3",
    "--bins",
    "8",
    "--seed",
    "4",
    "--no-contribution",
];

fn train_args(ps: &[Party], me: usize, input: Option<&Path>, model: Option<&Path>) -> Vec<String> {
    train_args_with(ps, me, input, model, None)
}

/// The job's flags, with one flag's value replaced.
fn train_args_with(
    ps: &[Party],
    me: usize,
    input: Option<&Path>,
    model: Option<&Path>,
    replace: Option<(&str, &str)>,
) -> Vec<String> {
    let mut a = base("train", ps, me);
    let mut flags = args(GBDT);
    if let Some((flag, value)) = replace {
        match flags.iter().position(|f| f == flag) {
            Some(i) => flags[i + 1] = value.to_string(),
            None => flags.extend([flag.to_string(), value.to_string()]),
        }
    }
    a.extend(flags);
    if me == 0 {
        a.extend(args(&["--label-column", "y"]));
    }
    if let Some(i) = input {
        a.extend(["--input".into(), i.display().to_string()]);
    }
    if let Some(m) = model {
        a.extend(["--model".into(), m.display().to_string()]);
    }
    a
}

fn tree_model(path: &Path) -> TreeModelFile {
    match load_any(path).unwrap() {
        AnyModel::Trees(m) => *m,
        AnyModel::Linear(_) => panic!("{} is a linear model", path.display()),
    }
}

/// The plaintext reference of the job: the rows every party holds, in id
/// order, split with the job's seed, each party's columns binned on the
/// training rows.
fn reference(inputs: &[PathBuf], params: &GbdtParams) -> (plain::PlainForest, Vec<BinnedFeatures>) {
    let tables: Vec<RawTable> = inputs
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
    let common: HashSet<&String> = tables[0]
        .ids
        .iter()
        .filter(|id| tables[1..].iter().all(|t| t.ids.contains(id)))
        .collect();
    let mut ids: Vec<&String> = common.into_iter().collect();
    ids.sort();
    let aligned: Vec<RawTable> = tables
        .iter()
        .map(|t| {
            let rows: Vec<usize> = ids
                .iter()
                .map(|id| t.ids.iter().position(|x| x == *id).unwrap())
                .collect();
            t.select(&rows)
        })
        .collect();
    let parts = split(ids.len(), 0.25, params.seed);
    let train: Vec<RawTable> = aligned.iter().map(|t| t.select(&parts.train)).collect();
    let bins: Vec<BinnedFeatures> = train
        .iter()
        .map(|t| {
            let b = bin_table(t, &BinParams::quantile(params.bins)).unwrap();
            BinnedFeatures::from_binned(&b, t.rows()).unwrap()
        })
        .collect();
    let y = train[0].y.clone().unwrap();
    (plain::train(&bins, &y, params).unwrap(), bins)
}

#[test]
fn four_processes_train_trees_as_the_plaintext_and_score_them() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = files(dir.path(), 400);
    let ps = parties(dir.path(), &["bank", "tax", "customs", "stats"]);
    let models: Vec<PathBuf> = (0..3)
        .map(|i| dir.path().join(format!("m{i}.json")))
        .collect();
    let outs = wait_all(vec![
        spawn(&train_args(&ps, 0, Some(&inputs[0]), Some(&models[0]))),
        spawn(&train_args(&ps, 1, Some(&inputs[1]), Some(&models[1]))),
        spawn(&train_args(&ps, 2, Some(&inputs[2]), Some(&models[2]))),
        spawn(&train_args(&ps, 3, None, None)),
    ]);
    assert_ok(&outs);
    let err = stderr(&outs[0]);
    assert!(
        err.contains("3 trees kept") && err.contains("held-out"),
        "{err}"
    );
    let files: Vec<TreeModelFile> = models.iter().map(|m| tree_model(m)).collect();
    let params = GbdtParams {
        trees: 3,
        max_depth: 3,
        bins: 8,
        seed: 4,
        ..Default::default()
    };
    assert_eq!(files[0].job.params, params);
    let (forest, _) = reference(&inputs, &params);
    // Every file holds the same structure; its own splits match the
    // plaintext's, and others' splits carry only their owner.
    let owners = ["bank", "tax", "customs"];
    for (rank, f) in files.iter().enumerate() {
        assert_eq!(f.trees.len(), forest.trees.len());
        for (records, tree) in f.trees.iter().zip(&forest.trees) {
            assert_eq!(records.len(), tree.nodes.len());
            for (r, n) in records.iter().zip(&tree.nodes) {
                match (r, n) {
                    (NodeRecord::Leaf(a), Node::Leaf { leaf }) => assert_eq!(a, leaf),
                    (
                        NodeRecord::Split(s),
                        Node::Split {
                            party,
                            threshold,
                            left,
                            right,
                        },
                    ) => {
                        assert_eq!((s.left, s.right), (*left, *right));
                        assert_eq!(s.party, owners[*party]);
                        match &s.own {
                            Some(o) => {
                                assert_eq!(*party, rank);
                                assert_eq!(
                                    (o.index, o.bin, o.missing_left),
                                    (threshold.feature, threshold.bin, threshold.missing_left)
                                );
                                assert!(o.gain.is_some());
                            }
                            None => assert_ne!(*party, rank),
                        }
                    }
                    other => panic!("{other:?}"),
                }
            }
        }
        assert_eq!(f.leaf_weights.is_some(), rank == 0);
    }
    let weights = files[0].leaf_weights.as_ref().unwrap();
    for (got, want) in weights.iter().zip(&forest.leaf_weights) {
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 2e-3, "{g} vs {w}");
        }
    }
    // Every party's features are split on somewhere, and the label holder's
    // text column and the columns with missing values are read as data.
    assert!(
        files
            .iter()
            .all(|f| f.importance.iter().any(|i| i.splits > 0))
    );
    assert!(dir.path().join("m0.svg").exists());

    // Joint scoring of every row with the four processes.
    let out = dir.path().join("scores.csv");
    let predict = |me: usize| {
        let mut a = base("predict", &ps, me);
        a.extend(args(&["--dealer", "stats"]));
        if me < 3 {
            a.extend([
                "--model".into(),
                models[me].display().to_string(),
                "--input".into(),
                inputs[me].display().to_string(),
            ]);
        } else {
            a.extend(args(&["--label-holder", "bank"]));
        }
        if me == 0 {
            a.extend(args(&["--label-column", "y"]));
            a.extend(["--output".into(), out.display().to_string()]);
        }
        a
    };
    let outs = wait_all((0..4).map(|me| spawn(&predict(me))).collect());
    assert_ok(&outs);
    let text = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "id,score,prediction");
    assert_eq!(lines.len() - 1, 398);
    // Plaintext scores of the same rows, with each party's model bins.
    let tables: Vec<RawTable> = inputs
        .iter()
        .zip(&files)
        .enumerate()
        .map(|(i, (p, f))| {
            let spec = CsvSpec {
                id_column: "id".into(),
                label_column: (i == 0).then(|| "y".to_string()),
                features: Some(f.features.iter().map(|b| b.name.clone()).collect()),
                task: Task::Logistic,
            };
            load_raw_csv(p, &spec, &[]).unwrap()
        })
        .collect();
    for line in &lines[1..] {
        let cells: Vec<&str> = line.split(',').collect();
        let id = cells[0];
        let score: f64 = cells[1].parse().unwrap();
        let parts: Vec<BinnedFeatures> = tables
            .iter()
            .zip(&files)
            .map(|(t, f)| {
                let row = t.ids.iter().position(|x| x == id).unwrap();
                let one = t.select(&[row]);
                let binned: Vec<_> = f
                    .features
                    .iter()
                    .zip(&one.columns)
                    .map(|(b, c)| indomain_learn::binning::Binned {
                        bins: b.clone(),
                        index: b.assign(c, &one.source, &one.lines).unwrap(),
                    })
                    .collect();
                BinnedFeatures::from_binned(&binned, 1).unwrap()
            })
            .collect();
        let want = plain::predict(&forest, &parts)[0];
        assert!((score - want).abs() < 3e-3, "{id}: {score} vs {want}");
    }
}

#[test]
fn bad_tree_flags_and_model_kinds_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = files(dir.path(), 40);
    let ps = parties(dir.path(), &["bank", "tax", "customs", "stats"]);
    let model = dir.path().join("m.json");
    for (flag, value, words) in [
        ("--max-depth", "0", "a depth of 0"),
        ("--max-depth", "11", "a depth of 11"),
        ("--bins", "1", "1 bins"),
        ("--lambda", "0", "lambda 0"),
        ("--subsample", "1.5", "a subsample of 1.5"),
    ] {
        let a = train_args_with(&ps, 1, Some(&inputs[1]), Some(&model), Some((flag, value)));
        let err = refused(a);
        assert!(err.contains(words), "{flag} {value}: {err}");
    }
    // A model file of a kind this build does not read, and a linear model
    // given a dealer.
    std::fs::write(&model, r#"{"format": 2, "kind": "neural-net"}"#).unwrap();
    let mut a = base("predict", &ps, 1);
    a.extend([
        "--model".into(),
        model.display().to_string(),
        "--input".into(),
        inputs[1].display().to_string(),
        "--dealer".into(),
        "stats".into(),
    ]);
    let err = refused(a);
    assert!(err.contains("kind") && err.contains("neural-net"), "{err}");
    let (_, tax_model, _, _) = model_pair(dir.path(), "n1");
    let mut a = base("predict", &ps, 1);
    a.extend([
        "--model".into(),
        tax_model.display().to_string(),
        "--input".into(),
        inputs[1].display().to_string(),
        "--dealer".into(),
        "stats".into(),
    ]);
    let err = refused(a);
    assert!(
        err.contains("linear model") && err.contains("drop --dealer"),
        "{err}"
    );
}

/// The job's flags for two processes and no dealer.
fn two_party_args(ps: &[Party], me: usize, input: &Path, model: &Path) -> Vec<String> {
    let mut a = train_args(ps, me, Some(input), Some(model));
    let at = a.iter().position(|f| f == "--dealer").unwrap();
    a.drain(at..at + 2);
    a
}

#[test]
fn two_processes_train_and_score_trees_without_a_dealer() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = files(dir.path(), 300);
    let ps = parties(dir.path(), &["bank", "tax"]);
    let models: Vec<PathBuf> = (0..2)
        .map(|i| dir.path().join(format!("m{i}.json")))
        .collect();
    let outs = wait_all(
        (0..2)
            .map(|i| spawn(&two_party_args(&ps, i, &inputs[i], &models[i])))
            .collect(),
    );
    assert_ok(&outs);
    let files: Vec<TreeModelFile> = models.iter().map(|m| tree_model(m)).collect();
    let params = GbdtParams {
        trees: 3,
        max_depth: 3,
        bins: 8,
        seed: 4,
        ..Default::default()
    };
    let (forest, _) = reference(&inputs[..2], &params);
    for f in &files {
        assert_eq!(f.trees.len(), forest.trees.len());
        for (records, tree) in f.trees.iter().zip(&forest.trees) {
            assert_eq!(records.len(), tree.nodes.len());
        }
    }
    let weights = files[0].leaf_weights.as_ref().unwrap();
    for (got, want) in weights.iter().zip(&forest.leaf_weights) {
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 2e-3, "{g} vs {w}");
        }
    }
    // A file without the mode (written before it existed) loads as hidden,
    // its job hash unchanged.
    let raw = std::fs::read_to_string(&models[0]).unwrap();
    let old = raw.replace("\n  \"instance_space\": \"hidden\",", "");
    assert_ne!(old, raw);
    let older = dir.path().join("older.json");
    std::fs::write(&older, old).unwrap();
    assert_eq!(tree_model(&older).instance_space, InstanceSpace::Hidden);
    // Joint scoring by the same two processes, no dealer.
    let out = dir.path().join("scores.csv");
    let predict = |me: usize| {
        let mut a = base("predict", &ps, me);
        a.extend([
            "--model".into(),
            models[me].display().to_string(),
            "--input".into(),
            inputs[me].display().to_string(),
        ]);
        if me == 0 {
            a.extend(args(&["--label-column", "y"]));
            a.extend(["--output".into(), out.display().to_string()]);
        }
        a
    };
    let outs = wait_all((0..2).map(|me| spawn(&predict(me))).collect());
    assert_ok(&outs);
    let text = std::fs::read_to_string(&out).unwrap();
    assert_eq!(text.lines().count() - 1, 298);
    // Three processes without a dealer are refused before any connection.
    let three = dir.path().join("three");
    std::fs::create_dir(&three).unwrap();
    let ps3 = parties(&three, &["bank", "tax", "customs"]);
    let err = refused(two_party_args(&ps3, 0, &inputs[0], &models[0]));
    assert!(err.contains("without --dealer"), "{err}");
}

#[test]
fn leak_instance_space_is_recorded_and_must_be_agreed_by_every_party() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = files(dir.path(), 300);
    let ps = parties(dir.path(), &["bank", "tax"]);
    let models: Vec<PathBuf> = (0..2)
        .map(|i| dir.path().join(format!("m{i}.json")))
        .collect();
    let leak = |i: usize| {
        let mut a = two_party_args(&ps, i, &inputs[i], &models[i]);
        a.push("--leak-instance-space".into());
        a
    };
    // Both parties pass the flag: the plaintext forest, recorded as leaked.
    let outs = wait_all((0..2).map(|i| spawn(&leak(i))).collect());
    assert_ok(&outs);
    let params = GbdtParams {
        trees: 3,
        max_depth: 3,
        bins: 8,
        seed: 4,
        instance_space: InstanceSpace::Leaked,
        ..Default::default()
    };
    let (forest, _) = reference(&inputs[..2], &params);
    let hidden_hash = {
        let mut hidden = tree_model(&models[0]).job;
        hidden.params.instance_space = InstanceSpace::Hidden;
        hidden.hash()
    };
    for m in &models {
        let f = tree_model(m);
        assert_eq!(f.instance_space, InstanceSpace::Leaked);
        assert_eq!(f.job.params, params);
        assert_ne!(f.job_hash, hidden_hash, "the mode is part of the job");
        assert_eq!(f.trees.len(), forest.trees.len());
        for (records, tree) in f.trees.iter().zip(&forest.trees) {
            assert_eq!(records.len(), tree.nodes.len());
        }
        let raw = std::fs::read_to_string(m).unwrap();
        assert!(raw.contains("\"instance_space\": \"leaked\""), "{raw}");
    }
    let weights = tree_model(&models[0]).leaf_weights.unwrap();
    for (got, want) in weights.iter().zip(&forest.leaf_weights) {
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 2e-3, "{g} vs {w}");
        }
    }
    // A file that claims another mode than its job is refused.
    let raw = std::fs::read_to_string(&models[1]).unwrap();
    let forged = dir.path().join("forged.json");
    let top = |mode: &str| format!("\n  \"instance_space\": \"{mode}\"");
    let changed = raw.replace(&top("leaked"), &top("hidden"));
    assert_ne!(changed, raw);
    std::fs::write(&forged, changed).unwrap();
    let Err(err) = load_any(&forged) else {
        panic!("a file claiming another mode than its job loaded")
    };
    let err = err.to_string();
    assert!(err.contains("instance space"), "{err}");

    // The feature holder leaves the flag out: both refuse at agreement,
    // naming the other party and the flag.
    let outs = wait_all(vec![
        spawn(&leak(0)),
        spawn(&two_party_args(&ps, 1, &inputs[1], &models[1])),
    ]);
    for (i, o) in outs.iter().enumerate() {
        assert!(!o.status.success(), "party {i} went on");
        let err = stderr(o);
        assert!(
            err.contains("--leak-instance-space") && err.contains(["tax", "bank"][i]),
            "party {i}: {err}"
        );
    }
}
