//! Vertical training between a label holder and one or more feature
//! holders, with a dealer, every party on its own thread in one process:
//! PSI join, split, secure training with the converging defaults, joint
//! scoring, the calibration report — next to the converged plaintext
//! model (Newton on the exact loss, same L2) on the joined files.
//!
//!     cargo run --release --example vertical_train -- LABEL.csv FEATURES.csv... [--dump DIR]
//!     cargo run --release --example vertical_train -- --generate ROWS [--dump DIR]
//!
//! LABEL.csv has columns id,y,features…; each FEATURES.csv id,features…
//! (the FATE vertical splits in this layout are what docs/benchmarks.md
//! uses). `--generate ROWS` makes a three-party set with a known model (13
//! features, 5 + 4 + 4) in a temporary directory. `--dump DIR` writes the
//! joined, standardised training and held-out rows (train.csv, test.csv:
//! y then the features, label holder's first) and the secure model's
//! held-out scores (scores.csv), for a check with another library.

use indomain::learn::align::Roles;
use indomain::learn::calibration::{Calibration, DECILES};
use indomain::learn::data::{CsvSpec, Table, load_csv};
use indomain::learn::metrics::{self, Evaluation};
use indomain::learn::model::{JobParty, JobSpec, PartyRole};
use indomain::learn::pipeline::{self, VerticalJob};
use indomain::learn::{Task, TrainParams, plain, reference, secure};
use indomain::net::memory::mesh;
use indomain::rand;
use indomain::rand::rngs::StdRng;
use indomain::rand::{RngExt, SeedableRng};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

type Error = Box<dyn std::error::Error>;

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dump = args
        .iter()
        .position(|a| a == "--dump")
        .and_then(|i| args.get(i + 1))
        .map(PathBuf::from);
    let generated = tempfile_dir()?;
    let files: Vec<PathBuf> = match args.iter().position(|a| a == "--generate") {
        Some(i) => {
            let rows = args.get(i + 1).ok_or("--generate ROWS")?.parse()?;
            generate(&generated, rows)?
        }
        None => args
            .iter()
            .take_while(|a| !a.starts_with("--"))
            .map(PathBuf::from)
            .collect(),
    };
    if files.len() < 2 {
        return Err(
            "usage: vertical_train LABEL.csv FEATURES.csv... [--dump DIR] | --generate ROWS".into(),
        );
    }
    let spec = |label: bool| CsvSpec {
        id_column: "id".into(),
        label_column: label.then(|| "y".into()),
        features: None,
        task: Task::Logistic,
    };
    let tables: Vec<Table> = files
        .iter()
        .enumerate()
        .map(|(i, f)| load_csv(f, &spec(i == 0)))
        .collect::<Result<_, _>>()?;
    let params = TrainParams::default();
    let mut names: Vec<String> = vec!["label".into()];
    names.extend((1..tables.len()).map(|i| format!("holder{i}")));
    names.push("dealer".into());
    let n = names.len();
    let job = VerticalJob {
        spec: JobSpec {
            mode: "vertical".into(),
            parties: names
                .iter()
                .enumerate()
                .map(|(i, name)| JobParty {
                    name: name.clone(),
                    role: match i {
                        0 => PartyRole::Label,
                        i if i == n - 1 => PartyRole::Dealer,
                        _ => PartyRole::Feature,
                    },
                })
                .collect(),
            id_column: "id".into(),
            test_fraction: 0.25,
            params: params.clone(),
            horizontal: None,
            nonce: String::new(),
        },
        roles: Roles::new(n, 0, Some(n - 1))?,
        min_rows: 20,
        contribution: false,
    };
    let start = Instant::now();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let sets = mesh(&refs);
    let outcomes = std::thread::scope(|s| {
        let handles: Vec<_> = sets
            .into_iter()
            .enumerate()
            .map(|(i, mut set)| {
                let (job, table) = (&job, tables.get(i));
                s.spawn(move || {
                    let mut trainer = secure::Trainer::new(job.spec.params.frac_bits);
                    pipeline::run(
                        &mut set,
                        job,
                        Ok(table),
                        &mut trainer,
                        &mut rand::rng(),
                        &mut |_| {},
                    )
                    .map_err(|e| e.to_string())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().map_err(|_| "a party panicked".to_string())?)
            .collect::<Result<Vec<_>, _>>()
    })?;
    let seconds = start.elapsed().as_secs_f64();
    let label = &outcomes[0];
    let model = label
        .model
        .as_ref()
        .ok_or("the label holder has no model")?;
    let Some(Evaluation::Classification(secure_eval)) = model.evaluation else {
        return Err("no metrics".into());
    };
    let calibration = model.calibration.as_ref().ok_or("no calibration report")?;
    let end = model.training.ok_or("no training summary")?;

    // The converged plaintext model: on the rows the secure training
    // trained on (the training split less its validation rows), and on
    // the whole training split (what scikit-learn would be given).
    let table_refs: Vec<&Table> = tables.iter().collect();
    let same_rows = reference::vertical(&table_refs, 0.25, &params, None)?;
    let all_rows = TrainParams {
        convergence: None,
        ..params.clone()
    };
    let whole = reference::vertical(&table_refs, 0.25, &all_rows, None)?;
    let secure_scores: Vec<f64> = plain::scores(
        same_rows.test_x.view(),
        &outcomes
            .iter()
            .filter_map(|o| o.model.as_ref())
            .flat_map(|m| m.weights.clone())
            .collect::<Vec<_>>(),
        model.intercept.unwrap_or(0.0),
    );
    let y = &same_rows.test_labels;
    let describe = |p: &[f64]| {
        let c = metrics::classification(p, y);
        let cal = Calibration::of(p, y, DECILES);
        (c, cal)
    };
    let (same_eval, same_cal) = describe(&same_rows.test_outputs);
    let (whole_eval, whole_cal) = describe(&whole.test_outputs);
    let validation = params
        .validation_fraction()
        .map_or(0, |f| (f * model.rows.train as f64).ceil() as usize);
    println!(
        "{} shared rows ({} train, of which the secure run holds out {} for validation; {} test), {} features, L2 {}",
        label.shared_rows,
        model.rows.train,
        validation,
        model.rows.test,
        tables.iter().map(|t| t.feature_names.len()).sum::<usize>(),
        params.l2
    );
    println!(
        "secure: {} after {} epochs; plaintext Newton: {} steps",
        if end.converged {
            "converged"
        } else {
            "NOT converged"
        },
        end.epochs,
        whole.fit.best_epoch
    );
    let mut table = String::from("| | AUC | KS | log-loss | ECE |\n|---|---|---|---|---|\n");
    for (what, e, ece) in [
        ("secure (defaults)", secure_eval, calibration.held_out.ece),
        ("plaintext, same rows as secure", same_eval, same_cal.ece),
        ("plaintext, whole training split", whole_eval, whole_cal.ece),
    ] {
        writeln!(
            table,
            "| {what} | {:.4} | {:.4} | {:.4} | {:.4} |",
            e.auc, e.ks, e.log_loss, ece
        )?;
    }
    print!("{table}");
    println!(
        "secure − plaintext (whole split): AUC {:+.4}, log-loss {:+.4}, ECE {:+.4}",
        secure_eval.auc - whole_eval.auc,
        secure_eval.log_loss - whole_eval.log_loss,
        calibration.held_out.ece - whole_cal.ece
    );
    println!(
        "\n| decile | rows | secure: predicted / observed | plaintext (whole split): predicted / observed |\n|---|---|---|---|"
    );
    for (k, (s, p)) in calibration
        .held_out
        .bins
        .iter()
        .zip(&whole_cal.bins)
        .enumerate()
    {
        println!(
            "| {} | {} | {:.4} / {:.4} | {:.4} / {:.4} |",
            k + 1,
            s.rows,
            s.predicted,
            s.observed,
            p.predicted,
            p.observed
        );
    }
    let p = label.seconds;
    println!(
        "\none process, in-memory links: {seconds:.2} s (align {:.2}, train {:.2}, evaluate {:.2})",
        p.align, p.train, p.evaluate
    );
    if let Some(dir) = dump {
        std::fs::create_dir_all(&dir)?;
        write_rows(
            &dir.join("test.csv"),
            &same_rows.test_x,
            &same_rows.test_labels,
        )?;
        write_rows(&dir.join("train.csv"), &whole.train_x, &whole.train_labels)?;
        let scores: String = secure_scores.iter().map(|s| format!("{s}\n")).collect();
        std::fs::write(dir.join("scores.csv"), format!("score\n{scores}"))?;
        println!("rows written to {}", dir.display());
    }
    Ok(())
}

fn write_rows(path: &Path, x: &indomain::ndarray::Array2<f64>, y: &[f64]) -> Result<(), Error> {
    let mut out = String::from("y");
    for j in 0..x.ncols() {
        write!(out, ",x{j}")?;
    }
    out.push('\n');
    for (row, label) in x.rows().into_iter().zip(y) {
        write!(out, "{label}")?;
        for v in row {
            write!(out, ",{v}")?;
        }
        out.push('\n');
    }
    std::fs::write(path, out)?;
    Ok(())
}

fn tempfile_dir() -> Result<PathBuf, Error> {
    let dir = std::env::temp_dir().join(format!("indomain-vertical-train-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Three files from a known model: 13 correlated features (5 at the label
/// holder, 4 and 4 at two feature holders), a logistic label.
fn generate(dir: &Path, rows: usize) -> Result<Vec<PathBuf>, Error> {
    let mut rng = StdRng::seed_from_u64(18);
    let beta: [f64; 13] = [
        0.9, -0.6, 0.4, 0.0, 0.25, -0.8, 0.5, 0.3, -0.2, 0.7, -0.4, 0.15, 0.6,
    ];
    let widths = [5, 4, 4];
    let mut text: Vec<String> = vec![
        format!(
            "id,y,{}\n",
            (0..5)
                .map(|j| format!("a{j}"))
                .collect::<Vec<_>>()
                .join(",")
        ),
        format!(
            "id,{}\n",
            (0..4)
                .map(|j| format!("b{j}"))
                .collect::<Vec<_>>()
                .join(",")
        ),
        format!(
            "id,{}\n",
            (0..4)
                .map(|j| format!("c{j}"))
                .collect::<Vec<_>>()
                .join(",")
        ),
    ];
    for i in 0..rows {
        let common: f64 = rng.random_range(-1.0..1.0);
        let x: Vec<f64> = (0..13)
            .map(|j| rng.random_range(-1.5..1.5) + if j % 3 == 0 { common } else { 0.0 })
            .collect();
        let z: f64 = -1.2 + x.iter().zip(&beta).map(|(a, b)| a * b).sum::<f64>();
        let y = u8::from(rng.random::<f64>() < 1.0 / (1.0 + (-z).exp()));
        let mut at = 0;
        for (p, &w) in widths.iter().enumerate() {
            let cells: Vec<String> = x[at..at + w].iter().map(|v| format!("{v:.5}")).collect();
            if p == 0 {
                writeln!(text[p], "r{i:06},{y},{}", cells.join(","))?;
            } else {
                writeln!(text[p], "r{i:06},{}", cells.join(","))?;
            }
            at += w;
        }
    }
    let names = ["label.csv", "holder1.csv", "holder2.csv"];
    names
        .iter()
        .zip(text)
        .map(|(n, t)| {
            let path = dir.join(n);
            std::fs::write(&path, t)?;
            Ok(path)
        })
        .collect()
}
