//! The demo's vertical training job: the bank holds default labels and
//! account features, the tax bureau income features of partly the same
//! people, the statistics office deals correlated randomness. They train
//! one credit model as a node job with the converging defaults; the
//! harness, which generated every file, checks the held-out AUC, log-loss
//! and expected calibration error against the converged model trained in
//! plaintext on the joined files.

use super::error::DemoError;
use super::jobs::Outcome;
use super::node_jobs::{self, Sites};
use super::nodes::Site;
use indomain_learn::calibration::{Calibration, DECILES};
use indomain_learn::data::{CsvSpec, load_csv};
use indomain_learn::metrics::Evaluation;
use indomain_learn::model::ModelFile;
use indomain_learn::{Task, TrainParams, reference};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The largest AUC gap to the plaintext model the demo accepts.
const AUC_TOLERANCE: f64 = 0.01;
/// The largest log-loss gap.
const LOG_LOSS_TOLERANCE: f64 = 0.01;
/// The largest gap in expected calibration error.
const ECE_TOLERANCE: f64 = 0.02;

/// Writes the bank's and the tax bureau's training files: `rows` each,
/// 80% of them shared. Returns their paths.
pub fn write_files(dir: &Path, rows: usize, seed: u64) -> std::io::Result<(PathBuf, PathBuf)> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x7ea1);
    let shared = rows * 4 / 5;
    let mut bank = String::from("id,default,age,balance,card_utilisation\n");
    let mut tax = String::from("id,income,tax_arrears,late_filings\n");
    for i in 0..rows + (rows - shared) {
        let age: f64 = rng.random_range(20.0..70.0);
        let balance: f64 = rng.random_range(-2_000.0..30_000.0);
        let util: f64 = rng.random_range(0.0..1.0);
        let income: f64 = rng.random_range(15_000.0..120_000.0);
        let arrears: f64 = rng.random_range(0.0..5_000.0);
        let late: f64 = f64::from(rng.random_range(0u32..6));
        // Default risk rises with card utilisation, arrears and late
        // filings, falls with income and balance.
        let z = -0.6 + 2.0 * (util - 0.5) - (balance - 14_000.0) / 12_000.0
            + (arrears - 2_500.0) / 1_500.0
            + 0.4 * (late - 2.5)
            - (income - 67_000.0) / 40_000.0
            - 0.01 * (age - 45.0);
        let p = 1.0 / (1.0 + (-z).exp());
        let default = u8::from(rng.random_range(0.0..1.0) < p);
        let id = format!("P{i:07}");
        // Ids 0..rows are the bank's; ids rows-shared.. are the bureau's.
        if i < rows {
            writeln!(bank, "{id},{default},{age:.1},{balance:.2},{util:.4}").ok();
        }
        if i >= rows - shared {
            writeln!(tax, "{id},{income:.2},{arrears:.2},{late}").ok();
        }
    }
    let (b, t) = (dir.join("bank_training.csv"), dir.join("tax_training.csv"));
    std::fs::write(&b, bank)?;
    std::fs::write(&t, tax)?;
    Ok((b, t))
}

fn params(seed: u64) -> TrainParams {
    TrainParams {
        seed,
        ..TrainParams::default()
    }
}

/// The training job's spec: the bank (labels) proposes, the tax bureau
/// adds its features, the statistics office deals; each data party gets
/// its own model part, the bank the held-out metrics.
fn spec(sites: &Sites, seed: u64) -> String {
    let (bank, tax, dealer) = (sites.bank.name, sites.tax.name, sites.stats.name);
    format!(
        "id = \"demo-credit\"\nprotocol = \"train\"\npurpose = \"credit model\"\n\n\
         [parameters]\nlabel_holder = \"{bank}\"\ndealer = \"{dealer}\"\n\
         id_column = \"id\"\nlabel_column = \"default\"\ntask = \"logistic\"\n\
         seed = {seed}\n\
         min_group_size = {MIN_ROWS}\ncontribution = true\n{}{}",
        super::risk::parties(sites, true),
        super::risk::outputs(&[("model", bank), ("model", tax), ("metrics", bank)])
    )
}

/// The fewest shared rows the training policies allow.
pub const MIN_ROWS: usize = 20;

/// The converged model trained in plaintext on the joined files (the
/// rows both hold, in id order, split 75/25 with `seed`).
pub fn plaintext(files: &(PathBuf, PathBuf), seed: u64) -> Result<reference::Reference, DemoError> {
    let csv_spec = |label: Option<&str>| CsvSpec {
        id_column: "id".into(),
        label_column: label.map(str::to_string),
        features: None,
        task: Task::Logistic,
    };
    let b = load_csv(&files.0, &csv_spec(Some("default")))?;
    let t = load_csv(&files.1, &csv_spec(None))?;
    Ok(reference::vertical(&[&b, &t], 0.25, &params(seed), None)?)
}

/// Trains the credit model as a node job (bank, tax bureau, statistics
/// office as dealer) and compares it with plaintext training on `files`,
/// the bank's and the tax bureau's training files.
pub fn node_training(
    sites: &Sites,
    files: &(PathBuf, PathBuf),
    seed: u64,
) -> Result<Outcome, DemoError> {
    let (bank, tax, dealer) = (sites.bank, sites.tax, sites.stats);
    let (jobs, seconds) =
        node_jobs::run_job(bank, &[tax, dealer], "credit.toml", &spec(sites, seed))?;
    let model = |site: &Site| {
        site.dir
            .join("results")
            .join(bank.name)
            .join("demo-credit/model.json")
    };
    let bank_model = ModelFile::load(&model(bank))?;
    let tax_model = ModelFile::load(&model(tax))?;
    let dealer_files = dealer.result_files("demo-credit")?.len();

    let plain = plaintext(files, seed)?;
    let (Some(Evaluation::Classification(secure)), Evaluation::Classification(clear)) =
        (bank_model.evaluation, plain.evaluation)
    else {
        return Err(DemoError::Missing(
            "the bank's model file has no classification metrics",
        ));
    };
    let gap = (secure.auc - clear.auc).abs();
    let loss_gap = (secure.log_loss - clear.log_loss).abs();
    let clear_ece = Calibration::of(&plain.test_outputs, &plain.test_labels, DECILES).ece;
    let secure_ece = bank_model
        .calibration
        .as_ref()
        .map_or(f64::NAN, |c| c.held_out.ece);
    let ece_gap = (secure_ece - clear_ece).abs();
    let converged = bank_model.training.is_some_and(|t| t.converged);
    let epochs = bank_model.training.map_or(0, |t| t.epochs);
    let mut result = format!(
        "held-out AUC {:.4} (plaintext {:.4}), log-loss {:.4} ({:.4}), ECE {:.4} ({:.4}), KS {:.4}, accuracy {:.4}; {} shared rows, {} held out; {}",
        secure.auc,
        clear.auc,
        secure.log_loss,
        clear.log_loss,
        secure_ece,
        clear_ece,
        secure.ks,
        secure.accuracy,
        plain.shared_rows,
        bank_model.rows.test,
        if converged {
            format!("converged after {epochs} epochs")
        } else {
            format!("NOT converged in {epochs} epochs")
        }
    );
    if let Some(c) = &bank_model.contribution {
        write!(
            result,
            "\ncontribution: bank's columns alone AUC {:.4}; with the tax bureau's {:.4} (+{:.4})",
            c.label_only.scores.auc,
            c.joint.scores.auc,
            c.joint_gain()
        )
        .ok();
    }
    write!(
        result,
        "\nmodel parts: {} and {}",
        model(bank).display(),
        model(tax).display()
    )
    .ok();
    let same_job = bank_model.job_hash == tax_model.job_hash;
    let close = gap <= AUC_TOLERANCE && loss_gap <= LOG_LOSS_TOLERANCE && ece_gap <= ECE_TOLERANCE;
    let check = if close && converged && same_job && dealer_files == 0 {
        format!(
            "ok: converged; AUC, log-loss and ECE within {AUC_TOLERANCE}, {LOG_LOSS_TOLERANCE}, {ECE_TOLERANCE} of the converged plaintext model on the joined files (gaps {gap:.4}, {loss_gap:.4}, {ece_gap:.4}); both model parts carry one job; the dealer received nothing"
        )
    } else {
        format!(
            "MISMATCH: converged {converged}; gaps AUC {gap:.4}, log-loss {loss_gap:.4}, ECE {ece_gap:.4} (tolerances {AUC_TOLERANCE}, {LOG_LOSS_TOLERANCE}, {ECE_TOLERANCE}), same job: {same_job}, files at the dealer: {dealer_files}"
        )
    };
    Ok(Outcome {
        title: format!(
            "Node job, vertical training: {} (labels) proposes a credit model with {}'s features; {} deals randomness; {} and {} accept under their policies",
            bank.name, tax.name, dealer.name, tax.name, dealer.name
        ),
        seconds,
        result,
        check,
        parties: node_jobs::party_lines(&[bank, tax, dealer], &jobs),
        scope: node_jobs::SCOPE,
    })
}
