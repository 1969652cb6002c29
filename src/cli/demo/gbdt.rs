//! The demo's gradient-boosted trees: the bank (labels) and the tax bureau
//! (features) train a small vertical GBDT on the same generated credit
//! files as the node's logistic regression, as three `indomain train
//! --algorithm gbdt` processes over QUIC with the statistics office as
//! dealer. The instance space stays hidden: no party learns which rows
//! reach which node; each party's model file holds only its own
//! thresholds, the bank's the leaf weights and the held-out evaluation.
//! The harness, which generated both files, checks the held-out AUC
//! against the plaintext reference on the same aligned rows, split and
//! bins, and prints it next to the logistic regression's.

use super::Node;
use super::error::DemoError;
use super::jobs::{Outcome, PROCESSES};
use super::procs::{self, Finished};
use indomain_learn::Task;
use indomain_learn::binning::{BinParams, Binned, RawTable, bin_table};
use indomain_learn::data::{CsvSpec, load_raw_csv, split};
use indomain_learn::metrics::{Evaluation, auc};
use indomain_learn::model::ModelFile;
use indomain_learn::tree::model::{AnyModel, load_any};
use indomain_learn::tree::{BinnedFeatures, GbdtParams, plain};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// A small forest, so that the demo stays quick.
const TREES: usize = 4;
const MAX_DEPTH: usize = 3;
const BINS: usize = 8;
/// The largest AUC gap to the plaintext forest the demo accepts.
const AUC_TOLERANCE: f64 = 0.01;

fn params(seed: u64) -> GbdtParams {
    GbdtParams {
        trees: TREES,
        max_depth: MAX_DEPTH,
        bins: BINS,
        seed,
        ..Default::default()
    }
}

/// Trains the forest with one process per organisation (the bank, the tax
/// bureau, the statistics office as dealer) on `files`, the bank's and the
/// tax bureau's training files; `lr_model` is the bank's part of the
/// logistic regression the node job trained, for its AUC.
pub fn train(
    exe: &Path,
    dir: &Path,
    nodes: &[Node],
    files: &(PathBuf, PathBuf),
    lr_model: &Path,
    seed: u64,
) -> Result<Outcome, DemoError> {
    let [bank, tax, dealer] = nodes else {
        return Err(DemoError::Missing("the demo has three organisations"));
    };
    let work = dir.join("gbdt");
    std::fs::create_dir_all(&work).map_err(DemoError::io(&work))?;
    let mut entries = Vec::new();
    for n in nodes {
        let addr = procs::free_udp_addr().map_err(DemoError::Port)?;
        entries.push(format!("{}@{addr}", n.peer_entry));
    }
    let models = [bank, tax].map(|n| work.join(format!("{}-trees.json", n.name)));
    let seed_text = seed.to_string();
    let (trees, depth, bins) = (TREES.to_string(), MAX_DEPTH.to_string(), BINS.to_string());
    let started = Instant::now();
    let inputs = [Some(&files.0), Some(&files.1), None];
    let children = nodes
        .iter()
        .zip(inputs)
        .enumerate()
        .map(|(i, (node, input))| {
            let mut cmd = Command::new(exe);
            cmd.arg("train")
                .arg("--identity")
                .arg(&node.identity)
                .args(["--me", node.name, "--algorithm", "gbdt"])
                .args(["--label-holder", bank.name, "--dealer", dealer.name])
                .args(["--trees", &trees, "--max-depth", &depth, "--bins", &bins])
                .args(["--seed", &seed_text, "--no-contribution"])
                .args(["--timeout", "60", "--quiet"]);
            for e in &entries {
                cmd.args(["--party", e]);
            }
            if let Some(input) = input {
                cmd.arg("--input").arg(input).arg("--model").arg(&models[i]);
            }
            if i == 0 {
                cmd.args(["--label-column", "default"]);
            }
            cmd.stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .map_err(|source| DemoError::Start {
                    program: node.name.to_string(),
                    source,
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut parties = Vec::new();
    let mut failed = Vec::new();
    for (node, child) in nodes.iter().zip(children) {
        let out = child
            .wait_with_output()
            .map_err(|source| DemoError::Start {
                program: node.name.to_string(),
                source,
            })?;
        let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
        if !out.status.success() {
            failed.push((node.name.to_string(), stderr.clone()));
        }
        parties.push(Finished {
            label: node.name.to_string(),
            stdout: String::new(),
            stderr,
        });
    }
    let seconds = started.elapsed().as_secs_f64();
    if !failed.is_empty() {
        return Err(DemoError::Parties { failed });
    }
    let bank_model = match load_any(&models[0])? {
        AnyModel::Trees(m) => m,
        AnyModel::Linear(_) => {
            return Err(DemoError::Missing(
                "the bank's GBDT model file is a linear model",
            ));
        }
    };
    let Some(Evaluation::Classification(secure)) = &bank_model.evaluation else {
        return Err(DemoError::Missing(
            "the bank's GBDT model file has no classification metrics",
        ));
    };
    let clear = plaintext_auc(files, &params(seed))?;
    let lr = ModelFile::load(lr_model)
        .ok()
        .and_then(|m| match m.evaluation {
            Some(Evaluation::Classification(c)) => Some(c.auc),
            _ => None,
        })
        .ok_or_else(|| DemoError::File {
            path: lr_model.to_path_buf(),
            problem: "no logistic regression AUC",
        })?;
    let gap = (secure.auc - clear).abs();
    let check = if gap <= AUC_TOLERANCE && bank_model.trees_grown == TREES {
        format!(
            "ok: AUC within {AUC_TOLERANCE} of plaintext trees on the same rows, split and bins (gap {gap:.4})"
        )
    } else {
        format!(
            "MISMATCH: AUC gap {gap:.4} (tolerance {AUC_TOLERANCE}), {} trees grown of {TREES}",
            bank_model.trees_grown
        )
    };
    Ok(Outcome {
        title: format!(
            "Gradient-boosted trees, vertical: {} (labels) and {} (features) train {TREES} trees of depth {MAX_DEPTH} on {BINS} bins, {} deals; the instance space stays hidden",
            bank.name, tax.name, dealer.name
        ),
        seconds,
        result: format!(
            "GBDT held-out AUC {:.4} (plaintext trees {clear:.4}); logistic regression (node job above) {lr:.4}\n\
             KS {:.4}, accuracy {:.4}; {} training and {} held-out rows\n\
             model parts: {} and {}",
            secure.auc,
            secure.ks,
            secure.accuracy,
            bank_model.rows.train,
            bank_model.rows.test,
            models[0].display(),
            models[1].display()
        ),
        check,
        parties,
        scope: PROCESSES,
    })
}

/// The held-out AUC of plaintext trees: the rows both files hold, in id
/// order, split with the job's seed, each party's columns binned on the
/// training rows, as the secure training does.
fn plaintext_auc(files: &(PathBuf, PathBuf), params: &GbdtParams) -> Result<f64, DemoError> {
    let load = |path: &Path, label: Option<&str>| {
        let spec = CsvSpec {
            id_column: "id".into(),
            label_column: label.map(str::to_string),
            features: None,
            task: Task::Logistic,
        };
        load_raw_csv(path, &spec, &[])
    };
    let tables = [load(&files.0, Some("default"))?, load(&files.1, None)?];
    let theirs: HashSet<&String> = tables[1].ids.iter().collect();
    let mut ids: Vec<&String> = tables[0]
        .ids
        .iter()
        .filter(|id| theirs.contains(id))
        .collect();
    ids.sort();
    let aligned: Vec<RawTable> = tables
        .iter()
        .map(|t| {
            let at: std::collections::HashMap<&String, usize> =
                t.ids.iter().enumerate().map(|(i, id)| (id, i)).collect();
            let rows: Vec<usize> = ids.iter().map(|id| at[id]).collect();
            t.select(&rows)
        })
        .collect();
    let parts = split(ids.len(), 0.25, params.seed);
    let mut train = Vec::new();
    let mut test = Vec::new();
    for t in &aligned {
        let (tr, te) = (t.select(&parts.train), t.select(&parts.test));
        let binned = bin_table(&tr, &BinParams::quantile(params.bins))?;
        // The held-out rows in the training rows' bins.
        let held_out = binned
            .iter()
            .zip(&te.columns)
            .map(|(b, column)| {
                Ok(Binned {
                    bins: b.bins.clone(),
                    index: b.bins.assign(column, &te.source, &te.lines)?,
                })
            })
            .collect::<Result<Vec<_>, indomain_learn::LearnError>>()?;
        train.push(BinnedFeatures::from_binned(&binned, tr.rows())?);
        test.push(BinnedFeatures::from_binned(&held_out, te.rows())?);
    }
    let label = |t: &RawTable| {
        t.y.clone()
            .ok_or(DemoError::Missing("the bank's file has no labels"))
    };
    let y_train = label(&aligned[0].select(&parts.train))?;
    let y_test = label(&aligned[0].select(&parts.test))?;
    let forest = plain::train(&train, &y_train, params)?;
    Ok(auc(&plain::predict(&forest, &test), &y_test))
}
