//! The demo's gradient-boosted trees, as a node job beside the logistic
//! regression: the bank (labels) proposes a `train` job with `algorithm =
//! "gbdt"` on the same credit datasets as the node's logistic regression,
//! the tax bureau adds its features and the statistics office deals. The
//! instance space stays hidden: no party learns which rows reach which
//! node; each party's model part holds only its own thresholds, the
//! bank's also the leaf weights.
//!
//! The harness, which generated both files, checks the secure forest
//! against plaintext on the same aligned rows, split and bins: every
//! split is a best candidate of its node and every leaf weight the
//! plaintext one ([`super::gbdt_replay`]), and the held-out AUC the bank
//! learned is that of plaintext scoring with the secure forest. It prints
//! both models' held-out AUCs next to plaintext training on the same rows
//! (for the trees, `learn::tree::plain` on the same bins), and names any
//! near-tie of two gains that the secure comparison decided the other way
//! than the plaintext reference: the forests differ from that node on,
//! and so may their AUCs.

use super::error::DemoError;
use super::gbdt_replay::GAIN_RESOLUTION;
use super::jobs::Outcome;
use super::node_jobs::{self, Sites};
use indomain_learn::Task;
use indomain_learn::binning::{BinParams, Binned, RawTable, bin_table};
use indomain_learn::data::{CsvSpec, load_raw_csv, split};
use indomain_learn::metrics::{Evaluation, auc};
use indomain_learn::model::ModelFile;
use indomain_learn::tree::model::{AnyModel, TreeModelFile, load_any};
use indomain_learn::tree::plain::PlainForest;
use indomain_learn::tree::{BinnedFeatures, GbdtParams, plain};
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// A small forest, so that the demo stays quick.
const TREES: usize = 4;
const MAX_DEPTH: usize = 3;
const BINS: usize = 8;
/// The largest gap between a secure leaf weight and the plaintext one:
/// the secure training computes in fixed point (16 fractional bits) with
/// an approximate sigmoid and division, the reference in f64.
const LEAF_TOLERANCE: f64 = 2e-3;
/// The largest gap between the held-out AUC the bank learned and that of
/// plaintext scoring with the secure forest: joint scoring is exact in the
/// ring but for the encoding of the leaf weights (2^-17 each), so only
/// scores that close could change order.
const AUC_TOLERANCE: f64 = 1e-3;
/// The job's id, and so its directory among the results.
const JOB: &str = "demo-trees";

fn params(seed: u64) -> GbdtParams {
    GbdtParams {
        trees: TREES,
        max_depth: MAX_DEPTH,
        bins: BINS,
        seed,
        ..Default::default()
    }
}

/// The tree job's spec: the logistic regression's parties and columns;
/// each data party gets its model part and the metrics.
fn spec(sites: &Sites, seed: u64) -> String {
    let (bank, tax, dealer) = (sites.bank.name, sites.tax.name, sites.stats.name);
    let min_rows = super::training::MIN_ROWS;
    format!(
        "id = \"{JOB}\"\nprotocol = \"train\"\npurpose = \"credit model\"\n\n\
         [parameters]\nalgorithm = \"gbdt\"\nlabel_holder = \"{bank}\"\ndealer = \"{dealer}\"\n\
         id_column = \"id\"\nlabel_column = \"default\"\ntask = \"logistic\"\n\
         trees = {TREES}\nmax_depth = {MAX_DEPTH}\nbins = {BINS}\nseed = {seed}\n\
         min_group_size = {min_rows}\n{}{}",
        super::risk::parties(sites, true),
        super::risk::outputs(&[
            ("model", bank),
            ("model", tax),
            ("metrics", bank),
            ("metrics", tax),
        ])
    )
}

fn tree_model(path: &Path) -> Result<TreeModelFile, DemoError> {
    match load_any(path)? {
        AnyModel::Trees(m) => Ok(*m),
        AnyModel::Linear(_) => Err(DemoError::File {
            path: path.to_path_buf(),
            problem: "a linear model, not trees",
        }),
    }
}

/// Trains the forest as a node job beside the logistic regression (job
/// `demo-credit`, which must have run) and compares both with plaintext
/// training on `files`, the bank's and the tax bureau's training files.
pub fn node_training(
    sites: &Sites,
    files: &(PathBuf, PathBuf),
    seed: u64,
) -> Result<Outcome, DemoError> {
    let (bank, tax, dealer) = (sites.bank, sites.tax, sites.stats);
    let (jobs, seconds) =
        node_jobs::run_job(bank, &[tax, dealer], "trees.toml", &spec(sites, seed))?;
    let released = |site: &super::nodes::Site, job: &str| {
        site.dir
            .join("results")
            .join(bank.name)
            .join(job)
            .join("model.json")
    };
    let parts = [
        tree_model(&released(bank, JOB))?,
        tree_model(&released(tax, JOB))?,
    ];
    let dealer_files = dealer.result_files(JOB)?.len();
    let Some(Evaluation::Classification(secure)) = parts[0].evaluation else {
        return Err(DemoError::Missing(
            "the bank's tree model has no classification metrics",
        ));
    };

    let reference = plaintext(files, &params(seed))?;
    let clear_auc = auc(
        &plain::predict(&reference.forest, &reference.test),
        &reference.y_test,
    );
    let replay =
        super::gbdt_replay::replay(&parts, &reference.train, &reference.y_train, &params(seed))?;
    let rescored = auc(
        &super::gbdt_replay::margins(&replay.forest, &parts[0], &reference.test)?,
        &reference.y_test,
    );
    let same_forest = replay.forest == reference.forest.trees;

    let lr = ModelFile::load(&released(bank, "demo-credit"))?;
    let Some(Evaluation::Classification(lr_secure)) = lr.evaluation else {
        return Err(DemoError::Missing(
            "the logistic regression's metrics are not a classification's",
        ));
    };
    let lr_clear = super::training::plaintext(files, seed)?;
    let Evaluation::Classification(lr_clear) = lr_clear.evaluation else {
        return Err(DemoError::Missing(
            "the plaintext logistic regression is not a classification",
        ));
    };

    let splits: Vec<String> = parts
        .iter()
        .map(|p| {
            let n: usize = p.importance.iter().map(|i| i.splits).sum();
            format!("{} {n}", p.party)
        })
        .collect();
    let mut result = format!(
        "{:<37}  secure   plaintext\n  {:<35}  {:.4}   {:.4}\n  {:<35}  {:.4}   {:.4} (same bins)",
        format!("held-out AUC, the same {} rows", parts[0].rows.test),
        "logistic regression (demo-credit)",
        lr_secure.auc,
        lr_clear.auc,
        format!("GBDT, {TREES} trees of depth {MAX_DEPTH}, {BINS} bins"),
        secure.auc,
        clear_auc
    );
    write!(
        result,
        "\nforest: {} trees, splits by party: {}; {}",
        parts[0].trees.len(),
        splits.join(", "),
        if same_forest {
            "the plaintext reference grows the same forest".to_string()
        } else {
            "the plaintext reference's forest differs (near-ties below)".to_string()
        }
    )
    .ok();
    for tie in &replay.near_ties {
        write!(
            result,
            "\nnear-tie at tree {}, node {}: the secure forest's split scores {:.5}, the reference's {:.5} (relative gap {:.1e}, under the secure comparison's resolution {GAIN_RESOLUTION})",
            tie.at.0,
            tie.at.1,
            tie.scores.0,
            tie.scores.1,
            (tie.scores.1 - tie.scores.0) / tie.scores.1.abs().max(1.0)
        )
        .ok();
    }
    write!(
        result,
        "\nGBDT KS {:.4}, accuracy {:.4}; model parts: {} and {}",
        secure.ks,
        secure.accuracy,
        released(bank, JOB).display(),
        released(tax, JOB).display()
    )
    .ok();
    let gap = (secure.auc - rescored).abs();
    let same_job = parts[0].job_hash == parts[1].job_hash;
    let blind = parts[1].leaf_weights.is_none();
    let check = if replay.wrong.is_empty()
        && replay.leaf_gap <= LEAF_TOLERANCE
        && gap <= AUC_TOLERANCE
        && same_job
        && blind
        && dealer_files == 0
    {
        format!(
            "ok: replayed in plaintext on the same rows, split and bins, every split is a best candidate of its node (within {GAIN_RESOLUTION} of the best score; opened gains within {:.1e} of plaintext) and every leaf weight within {LEAF_TOLERANCE} (largest gap {:.1e}); the held-out AUC is plaintext scoring's with this forest within {AUC_TOLERANCE} (gap {gap:.1e}); both model parts carry one job, the tax bureau's no leaf weight; the dealer received nothing",
            replay.gain_gap, replay.leaf_gap
        )
    } else {
        format!(
            "MISMATCH: {}; leaf weights gap {:.1e} (tolerance {LEAF_TOLERANCE}); AUC {:.4} against plaintext scoring's {rescored:.4} (tolerance {AUC_TOLERANCE}); same job: {same_job}, tax bureau without leaf weights: {blind}, files at the dealer: {dealer_files}",
            if replay.wrong.is_empty() {
                "every split a best candidate".to_string()
            } else {
                replay.wrong.join("; ")
            },
            replay.leaf_gap,
            secure.auc
        )
    };
    Ok(Outcome {
        title: format!(
            "Node job, gradient-boosted trees beside the logistic regression: {} (labels) proposes a GBDT on the same credit datasets with {}'s features, {} deals; the instance space stays hidden",
            bank.name, tax.name, dealer.name
        ),
        seconds,
        result,
        check,
        parties: node_jobs::party_lines(&[bank, tax, dealer], &jobs),
        scope: node_jobs::SCOPE,
    })
}

/// The plaintext forest and the rows it is trained and scored on.
struct Reference {
    forest: PlainForest,
    train: Vec<BinnedFeatures>,
    y_train: Vec<f64>,
    test: Vec<BinnedFeatures>,
    y_test: Vec<f64>,
}

/// Plaintext trees as the tree job trains them: the rows both files
/// hold, in id order, split with the job's seed, each party's columns
/// binned on the training rows.
fn plaintext(files: &(PathBuf, PathBuf), params: &GbdtParams) -> Result<Reference, DemoError> {
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
            let at: HashMap<&String, usize> =
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
    Ok(Reference {
        forest,
        train,
        y_train,
        test,
        y_test,
    })
}
