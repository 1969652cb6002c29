//! The demo's vertical training job: the bank holds default labels and
//! account features, the tax bureau income features of partly the same
//! people, the statistics office deals correlated randomness. They train
//! one credit model with `indomain train`; the harness, which generated
//! every file, checks the held-out AUC against the same model trained in
//! plaintext on the joined files.

use super::Node;
use super::jobs::Outcome;
use super::procs::{self, PartyCmd};
use indomain_learn::data::{CsvSpec, load_csv};
use indomain_learn::metrics::Evaluation;
use indomain_learn::model::ModelFile;
use indomain_learn::{Task, TrainParams, reference};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Epochs and learning rate of the demo's model.
const EPOCHS: usize = 20;
const LEARNING_RATE: f64 = 0.5;
/// The largest AUC gap to the plaintext model the demo accepts.
const AUC_TOLERANCE: f64 = 0.01;

/// Writes the bank's and the tax bureau's training files: `rows` each,
/// 80% of them shared. Returns their paths.
fn write_files(dir: &Path, rows: usize, seed: u64) -> std::io::Result<(PathBuf, PathBuf)> {
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
        epochs: EPOCHS,
        learning_rate: LEARNING_RATE,
        seed,
        ..TrainParams::default()
    }
}

/// Trains the credit model over QUIC (bank, tax bureau, statistics office
/// as dealer) and compares it with plaintext training.
pub fn vertical_training(
    exe: &Path,
    dir: &Path,
    nodes: &[Node],
    rows: usize,
    seed: u64,
) -> Result<Outcome, String> {
    let [bank, tax, stats] = nodes else {
        return Err("the training job needs three nodes".into());
    };
    let (bank_csv, tax_csv) = write_files(dir, rows, seed).map_err(|e| e.to_string())?;
    let models = [dir.join("bank_model.json"), dir.join("tax_model.json")];
    let addrs = nodes
        .iter()
        .map(|_| procs::free_udp_addr().map(|a| a.to_string()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    let party_list: Vec<String> = nodes
        .iter()
        .zip(&addrs)
        .flat_map(|(n, a)| ["--party".to_string(), format!("{}@{a}", n.peer_entry)])
        .collect();
    let cmd = |n: &Node, extra: Vec<String>| {
        let mut args: Vec<String> = [
            "train",
            "--quiet",
            "--identity",
            &n.identity.to_string_lossy(),
            "--me",
            n.name,
            "--label-holder",
            bank.name,
            "--dealer",
            stats.name,
            "--epochs",
            &EPOCHS.to_string(),
            "--learning-rate",
            &LEARNING_RATE.to_string(),
            "--seed",
            &seed.to_string(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend(party_list.iter().cloned());
        args.extend(extra);
        PartyCmd::new(n.name, args)
    };
    let path = |p: &Path| p.to_string_lossy().into_owned();
    let cmds = vec![
        cmd(
            bank,
            vec![
                "--input".into(),
                path(&bank_csv),
                "--label-column".into(),
                "default".into(),
                "--model".into(),
                path(&models[0]),
            ],
        ),
        cmd(
            tax,
            vec![
                "--input".into(),
                path(&tax_csv),
                "--model".into(),
                path(&models[1]),
            ],
        ),
        cmd(stats, Vec::new()),
    ];
    let start = Instant::now();
    let parties = procs::run_parties(exe, cmds, Duration::from_secs(600))?;
    let seconds = start.elapsed().as_secs_f64();

    let bank_model = ModelFile::load(&models[0]).map_err(|e| e.to_string())?;
    let tax_model = ModelFile::load(&models[1]).map_err(|e| e.to_string())?;
    let spec = |label: Option<&str>| CsvSpec {
        id_column: "id".into(),
        label_column: label.map(str::to_string),
        features: None,
        task: Task::Logistic,
    };
    let b = load_csv(&bank_csv, &spec(Some("default"))).map_err(|e| e.to_string())?;
    let t = load_csv(&tax_csv, &spec(None)).map_err(|e| e.to_string())?;
    let plain =
        reference::vertical(&[&b, &t], 0.25, &params(seed), None).map_err(|e| e.to_string())?;
    let (Some(Evaluation::Classification(secure)), Evaluation::Classification(clear)) =
        (bank_model.evaluation, plain.evaluation)
    else {
        return Err("the bank's model file has no classification metrics".into());
    };
    let gap = (secure.auc - clear.auc).abs();
    let mut result = format!(
        "held-out AUC {:.4} (plaintext {:.4}), KS {:.4}, accuracy {:.4}; {} shared rows, {} held out",
        secure.auc, clear.auc, secure.ks, secure.accuracy, plain.shared_rows, bank_model.rows.test
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
        "\nmodel files: {} (with {}), {}",
        models[0].display(),
        models[0].with_extension("svg").display(),
        models[1].display()
    )
    .ok();
    let same_job = bank_model.job_hash == tax_model.job_hash;
    let check = if gap <= AUC_TOLERANCE && same_job {
        format!(
            "ok: AUC within {AUC_TOLERANCE} of plaintext training on the joined files (gap {gap:.4}); both model files carry job {}",
            &bank_model.job_hash[..19]
        )
    } else {
        format!("MISMATCH: AUC gap {gap:.4} (tolerance {AUC_TOLERANCE}), same job: {same_job}")
    };
    Ok(Outcome {
        title: format!(
            "Vertical training: {} (labels) and {} train a credit model, {} deals randomness",
            bank.name, tax.name, stats.name
        ),
        seconds,
        result,
        check,
        parties,
        scope: super::jobs::PROCESSES,
    })
}
