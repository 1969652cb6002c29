//! The demo's credit-risk node jobs: the bank bins the tax bureau's
//! features against its default labels (`protocol = "binning"`, the
//! label-holder view: the bank learns each of the bureau's bins' WOE under
//! anonymous ids, the bureau its features' IV), then trains a WOE
//! scorecard on the binning job's files (`train`, `algorithm =
//! "scorecard"`); the statistics office deals. The harness, which
//! generated the files, checks the IV ranking against the plaintext IVs of
//! the same bins; the scorecard's held-out AUC and KS are shown next to
//! the node's logistic regression on the same held-out rows.

use super::error::DemoError;
use super::jobs::Outcome;
use super::node_jobs::{self, Sites};
use super::nodes::Site;
use indomain_learn::Task;
use indomain_learn::binning::{BinParams, RawTable, bin_table};
use indomain_learn::data::{CsvSpec, load_raw_csv, split};
use indomain_learn::metrics::Evaluation;
use indomain_learn::model::ModelFile;
use indomain_learn::scorecard::model::ScorecardFile;
use indomain_learn::woe::file::BinningFile;
use indomain_learn::woe::{bin_counts, woe_iv};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The purpose the risk policies allow.
pub const PURPOSE: &str = "credit risk";

/// The held-out AUC the scorecard must reach: it ranks the held-out rows
/// (it is not held to the logistic regression's: a scorecard is a fixed
/// 20 epochs of gradient descent on ten WOE bins a feature, which on the
/// demo's few hundred rows stays a few points below the raw columns' LR).
const MIN_AUC: f64 = 0.6;

/// The bank's and the tax bureau's parties, the dealer last; `label`: the
/// bank's columns include the label `default`.
pub(super) fn parties(sites: &Sites, label: bool) -> String {
    let (bank, tax, dealer) = (sites.bank.name, sites.tax.name, sites.stats.name);
    let label = if label { "\"default\", " } else { "" };
    format!(
        "\n[[parties]]\nname = \"{bank}\"\ndataset = \"credit\"\n\
         columns = [\"id\", {label}\"age\", \"balance\", \"card_utilisation\"]\n\n\
         [[parties]]\nname = \"{tax}\"\ndataset = \"credit\"\n\
         columns = [\"id\", \"income\", \"tax_arrears\", \"late_filings\"]\n\n\
         [[parties]]\nname = \"{dealer}\"\n"
    )
}

/// `[[outputs]]` tables, one per (output name, receiver).
pub(super) fn outputs(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(name, to)| format!("\n[[outputs]]\nname = \"{name}\"\nreceiver = \"{to}\"\n"))
        .collect()
}

/// The plaintext IV of every feature of both files on the binning job's
/// training rows (rows every party holds, in id order, split with
/// `seed`), ranked.
fn plaintext_ranking(
    files: &(PathBuf, PathBuf),
    seed: u64,
) -> Result<Vec<(String, f64)>, DemoError> {
    let read = |path: &Path, label: bool| {
        load_raw_csv(
            path,
            &CsvSpec {
                id_column: "id".into(),
                label_column: label.then(|| "default".to_string()),
                features: None,
                task: Task::Logistic,
            },
            &[],
        )
    };
    let tables = [read(&files.0, true)?, read(&files.1, false)?];
    let mut ids: Vec<&String> = tables[0]
        .ids
        .iter()
        .filter(|id| tables[1].ids.contains(id))
        .collect();
    ids.sort();
    let parts = split(ids.len(), 0.25, seed);
    let train = |t: &RawTable| {
        let rows: Vec<usize> = ids
            .iter()
            .filter_map(|id| t.ids.iter().position(|x| x == *id))
            .collect();
        t.select(&rows).select(&parts.train)
    };
    let train: Vec<RawTable> = tables.iter().map(train).collect();
    let y = train[0]
        .y
        .clone()
        .ok_or(DemoError::Missing("the bank's file has no labels"))?;
    let mut ranking = Vec::new();
    for t in &train {
        for b in bin_table(t, &BinParams::default())? {
            let (e, n) = bin_counts(&b.index.to_vec(), &y, b.bins.bins());
            ranking.push((b.bins.name.clone(), woe_iv(&e, &n).iv));
        }
    }
    ranking.sort_by(|a, b| b.1.total_cmp(&a.1));
    Ok(ranking)
}

/// The file `file` that job `id` (proposed by the bank) released to `site`.
fn released(site: &Site, bank: &Site, id: &str, file: &str) -> PathBuf {
    site.dir.join("results").join(bank.name).join(id).join(file)
}

/// Bins the tax bureau's features against the bank's labels, then trains
/// and evaluates a scorecard on them, as node jobs.
pub fn binning_and_scorecard(
    sites: &Sites,
    files: &(PathBuf, PathBuf),
    seed: u64,
) -> Result<Outcome, DemoError> {
    let (bank, tax, dealer) = (sites.bank, sites.tax, sites.stats);
    let vertical = format!(
        "label_holder = \"{}\"\ndealer = \"{}\"\nid_column = \"id\"\nlabel_column = \"default\"\n\
         min_group_size = {}\n",
        bank.name,
        dealer.name,
        super::training::MIN_ROWS
    );
    let binning = format!(
        "id = \"demo-binning\"\nprotocol = \"binning\"\npurpose = \"{PURPOSE}\"\n\n\
         [parameters]\n{vertical}seed = {seed}\n{}{}",
        parties(sites, true),
        outputs(&[
            ("binning", bank.name),
            ("binning", tax.name),
            ("iv", bank.name),
            ("iv", tax.name),
        ])
    );
    let (jobs, bin_seconds) = node_jobs::run_job(bank, &[tax, dealer], "binning.toml", &binning)?;
    let card = format!(
        "id = \"demo-scorecard\"\nprotocol = \"train\"\npurpose = \"{PURPOSE}\"\n\n\
         [parameters]\n{vertical}algorithm = \"scorecard\"\nbinning = \"demo-binning\"\n{}{}",
        parties(sites, true),
        outputs(&[
            ("model", bank.name),
            ("model", tax.name),
            ("metrics", bank.name),
            ("metrics", tax.name),
        ])
    );
    let (_, card_seconds) = node_jobs::run_job(bank, &[tax, dealer], "scorecard.toml", &card)?;

    // The IV ranking the bank learned, against the plaintext one.
    let at_bank = BinningFile::load(&released(bank, bank, "demo-binning", "binning.json"))?;
    let at_tax = BinningFile::load(&released(tax, bank, "demo-binning", "binning.json"))?;
    let got = at_bank.iv_ranking();
    let want = plaintext_ranking(files, seed)?;
    let same_ranking = got.len() == want.len()
        && got
            .iter()
            .zip(&want)
            .all(|(g, (name, iv))| g.feature == *name && (g.iv - iv).abs() < 1e-6);
    let tax_blind = at_tax
        .features
        .iter()
        .all(|f| f.woe.is_none() && f.events.is_none());
    let mut result = String::from("IV ranking at the bank:");
    for (i, l) in got.iter().enumerate() {
        write!(
            result,
            "\n  {}. {:<18} {:<16} IV {:.4}  {}",
            i + 1,
            l.party,
            l.feature,
            l.iv,
            indomain_learn::woe::file::strength(l.iv)
        )
        .ok();
    }

    // The scorecard's held-out AUC and KS, next to the node's logistic
    // regression on the same held-out rows (the same split and seed).
    let card = ScorecardFile::load(&released(bank, bank, "demo-scorecard", "model.json"))?;
    let (auc, ks) = card
        .evaluation
        .map_or((f64::NAN, f64::NAN), |e| (e.auc, e.ks));
    let lr = ModelFile::load(&released(bank, bank, "demo-credit", "model.json"))?;
    let Some(Evaluation::Classification(lr)) = lr.evaluation else {
        return Err(DemoError::Missing(
            "the logistic regression's metrics are not a classification's",
        ));
    };
    write!(
        result,
        "\nscorecard of {} features ({} mode): held-out AUC {auc:.4}, KS {ks:.4}; logistic regression on the raw columns AUC {:.4}, KS {:.4}",
        card.sizes.iter().map(Vec::len).sum::<usize>(),
        card.job.mode.name(),
        lr.auc,
        lr.ks
    )
    .ok();
    let readable = card.points_table().is_some();
    let ranks = auc >= MIN_AUC;
    let check = if same_ranking && tax_blind && ranks && readable {
        format!(
            "ok: the IV ranking equals the plaintext IVs of the same bins (within 1e-6); the tax bureau's binning file holds its IVs and no bin's WOE or counts; the bank reads the scorecard's points table; its held-out AUC is above {MIN_AUC}"
        )
    } else {
        format!(
            "MISMATCH: ranking equal {same_ranking} (plaintext {want:?}); tax bureau blind to WOE {tax_blind}; points table readable {readable}; scorecard AUC {auc:.4} (at least {MIN_AUC})"
        )
    };
    Ok(Outcome {
        title: format!(
            "Node jobs, WOE/IV binning and a scorecard: {} bins {}'s features against its default labels (it learns their bins' WOE under anonymous ids, {} only its IVs), then trains a scorecard on the binning; {} deals",
            bank.name, tax.name, tax.name, dealer.name
        ),
        seconds: bin_seconds + card_seconds,
        result,
        check,
        parties: node_jobs::party_lines(&[bank, tax, dealer], &jobs),
        scope: node_jobs::SCOPE,
    })
}
