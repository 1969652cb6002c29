//! End to end: real `indomain train` processes, one per party, over QUIC
//! on loopback, checked against plaintext training on the same rows (and
//! the trained model files used by `indomain predict`); every bad input
//! stops every party before training.

use indomain_learn::data::{self, CsvSpec};
use indomain_learn::horizontal::{FedAvgParams, plain_fedavg};
use indomain_learn::model::ModelFile;
use indomain_learn::{Task, TrainParams};
use std::path::{Path, PathBuf};

mod common;
mod learn_common;

use learn_common::*;

#[test]
fn bad_cells_stop_every_party_naming_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let (bank, tax) = vertical_files(dir.path(), 30, 0);
    let text = std::fs::read_to_string(&bank).unwrap();
    let cases = [
        ("C00003,2", "line 5, column y", "label 2 is not 0 or 1"),
        (
            "C00003,1,abc",
            "line 5, column age",
            "\"abc\" is not a number",
        ),
        ("C00003,1,", "line 5, column age", "empty cell"),
        (
            "C00003,1,NaN",
            "line 5, column age",
            "\"NaN\" is not a finite number",
        ),
        (
            "C00003,1,inf",
            "line 5, column age",
            "\"inf\" is not a finite number",
        ),
    ];
    for (k, (prefix, place, reason)) in cases.into_iter().enumerate() {
        let bad: String = text
            .lines()
            .enumerate()
            .map(|(i, l)| {
                if i == 4 {
                    // Replace the first cells, keep the rest of the row.
                    let mut row: Vec<String> = l.split(',').map(str::to_string).collect();
                    for (c, f) in prefix.split(',').enumerate() {
                        row[c] = f.to_string();
                    }
                    format!("{}\n", row.join(","))
                } else {
                    format!("{l}\n")
                }
            })
            .collect();
        let case = dir.path().join(format!("case{k}"));
        std::fs::create_dir_all(&case).unwrap();
        let path = case.join("bad.csv");
        std::fs::write(&path, bad).unwrap();
        let ps = parties(&case, &["bank", "tax", "stats"]);
        let model = case.join("m.json");
        let outs = wait_all(vec![
            spawn(&vertical_args(&ps, 0, Some(&path), Some(&model))),
            spawn(&vertical_args(
                &ps,
                1,
                Some(&tax),
                Some(&case.join("t.json")),
            )),
            spawn(&vertical_args(&ps, 2, None, None)),
        ]);
        let own = stderr(&outs[0]);
        assert!(!outs[0].status.success());
        let full = format!("{}, {place}: {reason}", path.display());
        assert!(own.contains(&full), "{own} lacks {full}");
        for o in &outs[1..] {
            let err = stderr(o);
            assert!(!o.status.success());
            assert!(
                err.contains("party bank refused the job") && err.contains(place),
                "{err}"
            );
            // The others learn where, not the cell's value.
            assert!(!err.contains(reason), "{err}");
        }
        assert!(!model.exists());
    }
}

#[test]
fn a_constant_column_or_too_few_shared_rows_stop_every_party() {
    let dir = tempfile::tempdir().unwrap();
    let ps = parties(dir.path(), &["bank", "tax", "stats"]);
    // Only 10 ids in common: below --min-rows 20.
    let (bank, tax) = vertical_files(dir.path(), 40, 30);
    let models: Vec<PathBuf> = (0..2)
        .map(|i| dir.path().join(format!("m{i}.json")))
        .collect();
    let outs = wait_all(vec![
        spawn(&vertical_args(&ps, 0, Some(&bank), Some(&models[0]))),
        spawn(&vertical_args(&ps, 1, Some(&tax), Some(&models[1]))),
        spawn(&vertical_args(&ps, 2, None, None)),
    ]);
    // Every party stops before the join reveals a row.
    for o in &outs {
        assert!(!o.status.success());
        let err = stderr(o);
        assert!(
            err.contains("nothing revealed") && err.contains("20"),
            "{err}"
        );
    }
    // A constant column at the tax bureau.
    let (bank, tax) = vertical_files(dir.path(), 60, 0);
    let text = std::fs::read_to_string(&tax).unwrap();
    let constant: String = text
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i == 0 {
                format!("{l}\n")
            } else {
                let (head, _) = l.rsplit_once(',').unwrap();
                format!("{head},7\n")
            }
        })
        .collect();
    std::fs::write(&tax, constant).unwrap();
    let second = dir.path().join("second");
    std::fs::create_dir_all(&second).unwrap();
    let ps = parties(&second, &["bank", "tax", "stats"]);
    let outs = wait_all(vec![
        spawn(&vertical_args(&ps, 0, Some(&bank), Some(&models[0]))),
        spawn(&vertical_args(&ps, 1, Some(&tax), Some(&models[1]))),
        spawn(&vertical_args(&ps, 2, None, None)),
    ]);
    assert!(
        stderr(&outs[1]).contains("column \"assets\" is constant"),
        "{}",
        stderr(&outs[1])
    );
    for i in [0, 2] {
        let err = stderr(&outs[i]);
        assert!(!outs[i].status.success());
        assert!(
            err.contains("party tax refused") && err.contains("constant"),
            "{err}"
        );
    }
    assert!(!models[0].exists() && !models[1].exists());
}

/// Client c's rows `id,y,f1,f2` (different sizes).
fn client_file(dir: &Path, c: u64) -> PathBuf {
    let mut text = String::from("id,y,f1,f2\n");
    for i in 0..(80 + 30 * c) {
        let (a, b) = (
            noise(i, c * 10 + 1) * 2.0 - 1.0,
            noise(i, c * 10 + 2) * 2.0 - 1.0,
        );
        let y = u8::from(a - 0.6 * b + (noise(i, c * 10 + 3) - 0.5) > 0.0);
        text.push_str(&format!("c{c}-{i},{y},{a:.5},{b:.5}\n"));
    }
    let path = dir.join(format!("client{c}.csv"));
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs a horizontal job: the server and one client per file.
fn horizontal_job(
    ps: &[Party],
    files: &[PathBuf],
    models: &[PathBuf],
) -> Vec<std::process::Output> {
    let common = args(&[
        "--mode",
        "horizontal",
        "--server",
        "server",
        "--features",
        "f1,f2",
        "--rounds",
        "3",
        "--epochs",
        "2",
        "--seed",
        "5",
    ]);
    let children = (0..=files.len())
        .map(|i| {
            let mut a = base("train", ps, i);
            a.extend(common.clone());
            a.extend(["--model".into(), models[i].display().to_string()]);
            if i > 0 {
                a.extend([
                    "--input".into(),
                    files[i - 1].display().to_string(),
                    "--label-column".into(),
                    "y".into(),
                ]);
            }
            spawn(&a)
        })
        .collect();
    wait_all(children)
}

#[test]
fn a_bad_cell_at_one_client_stops_the_server_and_every_client() {
    let dir = tempfile::tempdir().unwrap();
    let ps = parties(dir.path(), &["server", "c0", "c1", "c2"]);
    let files: Vec<PathBuf> = (0..3).map(|c| client_file(dir.path(), c)).collect();
    let text = std::fs::read_to_string(&files[1]).unwrap();
    let bad: String = text
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i == 2 {
                format!("{},x\n", l.rsplit_once(',').unwrap().0)
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    std::fs::write(&files[1], bad).unwrap();
    let models: Vec<PathBuf> = (0..4)
        .map(|i| dir.path().join(format!("h{i}.json")))
        .collect();
    let outs = horizontal_job(&ps, &files, &models);
    let own = stderr(&outs[2]);
    assert!(
        own.contains("line 3, column f2: \"x\" is not a number"),
        "{own}"
    );
    for i in [0, 1, 3] {
        let err = stderr(&outs[i]);
        assert!(!outs[i].status.success());
        assert!(
            err.contains("party c1 refused the job") && err.contains("line 3, column f2"),
            "{i}: {err}"
        );
    }
    assert!(models.iter().all(|m| !m.exists()));
}

#[test]
fn horizontal_fedavg_over_quic_matches_plaintext_fedavg() {
    let dir = tempfile::tempdir().unwrap();
    let ps = parties(dir.path(), &["server", "c0", "c1", "c2"]);
    let files: Vec<PathBuf> = (0..3).map(|c| client_file(dir.path(), c)).collect();
    let models: Vec<PathBuf> = (0..4)
        .map(|i| dir.path().join(format!("h{i}.json")))
        .collect();
    let outs = horizontal_job(&ps, &files, &models);
    assert_ok(&outs);
    // Every party counts the bytes it moved (a small job is not "0.00 MB"),
    // and standardised columns draw no warning.
    for o in &outs {
        let err = stderr(o);
        let sent: u64 = err
            .split("sent ")
            .nth(1)
            .and_then(|t| t.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        assert!(sent > 0 && err.contains(" bytes, received "), "{err}");
        assert!(!err.contains("warning"), "{err}");
    }
    let server = ModelFile::load(&models[0]).unwrap();
    // The oracle: plaintext FedAvg on each client's training split.
    let tables: Vec<_> = files
        .iter()
        .map(|f| {
            let t = data::load_csv(
                f,
                &CsvSpec {
                    id_column: "id".into(),
                    label_column: Some("y".into()),
                    features: Some(vec!["f1".into(), "f2".into()]),
                    task: Task::Logistic,
                },
            )
            .unwrap();
            t.select(&data::split(t.rows(), 0.25, 5).train)
        })
        .collect();
    let params = FedAvgParams {
        clients: 3,
        features: 2,
        rounds: 3,
        // What the CLI's horizontal mode trains with: 2 local epochs of
        // gradient descent at 0.5 and the default L2.
        local: TrainParams {
            seed: 5,
            l2: TrainParams::default().l2,
            ..TrainParams::gradient_descent(2, 0.5)
        },
        frac_bits: 20,
        max_abs: 1e9,
        dp: None,
    };
    let ys: Vec<Vec<f64>> = tables.iter().map(|t| t.y.clone().unwrap()).collect();
    let views: Vec<_> = tables
        .iter()
        .zip(&ys)
        .map(|(t, y)| (t.x.view(), y.as_slice()))
        .collect();
    let want = plain_fedavg(&views, &params, &vec![vec![0, 1, 2]; 3]).unwrap();
    for (g, w) in server.weights.iter().zip(&want.weights) {
        assert!(
            (g - w).abs() < 1e-4,
            "{:?} vs {:?}",
            server.weights,
            want.weights
        );
    }
    assert!((server.intercept.unwrap() - want.intercept).abs() < 1e-4);
    for m in &models[1..] {
        let client = ModelFile::load(m).unwrap();
        assert_eq!(client.weights, server.weights);
        assert_eq!(client.job_hash, server.job_hash);
        assert!(client.evaluation.is_some());
        // Each client's own calibration report and figure.
        let report = client.calibration.as_ref().expect("a calibration report");
        assert_eq!(report.held_out.bins.len(), 10);
        assert!(m.with_extension("svg").exists());
    }
}

#[test]
fn vertical_training_over_quic_matches_plaintext_and_its_models_score_jointly() {
    use indomain_learn::reference;
    let dir = tempfile::tempdir().unwrap();
    let ps = parties(dir.path(), &["bank", "tax", "stats"]);
    let (bank_csv, tax_csv) = vertical_files(dir.path(), 300, 20);
    let models: Vec<PathBuf> = (0..2)
        .map(|i| dir.path().join(format!("v{i}.json")))
        .collect();
    // Every party gives the same options: the job hash covers them.
    let recalibrate = |mut a: Vec<String>| {
        a.extend(["--recalibrate".into(), "isotonic".into()]);
        a
    };
    let mut bank_args = recalibrate(vertical_args(&ps, 0, Some(&bank_csv), Some(&models[0])));
    bank_args.retain(|a| a != "--quiet");
    let outs = wait_all(vec![
        spawn(&bank_args),
        spawn(&recalibrate(vertical_args(
            &ps,
            1,
            Some(&tax_csv),
            Some(&models[1]),
        ))),
        spawn(&recalibrate(vertical_args(&ps, 2, None, None))),
    ]);
    assert_ok(&outs);
    let summary = stderr(&outs[0]);
    for needle in [
        "280 shared rows",
        "sent",
        "received",
        "converged after",
        "held-out (70 rows): AUC",
        "held-out calibration: expected calibration error",
        "after Isotonic recalibration",
        "contribution: joint AUC",
    ] {
        assert!(summary.contains(needle), "{needle} not in {summary}");
    }
    let bank = ModelFile::load(&models[0]).unwrap();
    let tax = ModelFile::load(&models[1]).unwrap();
    assert!(models[0].with_extension("svg").exists());
    assert!(!models[1].with_extension("svg").exists());
    assert_eq!(bank.job_hash, tax.job_hash);
    assert_eq!(bank.contribution, tax.contribution);
    assert_eq!(bank.features, ["age", "balance"]);
    assert_eq!(tax.features, ["income", "tax_paid", "assets"]);
    // The plaintext reference on the joined files, same split: the
    // converged optimum.
    let spec = |label: bool| CsvSpec {
        id_column: "id".into(),
        label_column: label.then(|| "y".into()),
        features: None,
        task: Task::Logistic,
    };
    let b = data::load_csv(&bank_csv, &spec(true)).unwrap();
    let t = data::load_csv(&tax_csv, &spec(false)).unwrap();
    let params = TrainParams {
        seed: 3,
        ..TrainParams::default()
    };
    let want = reference::vertical(&[&b, &t], 0.25, &params, None).unwrap();
    let close = |g: f64, w: f64| (g - w).abs() < 2e-3 + 0.01 * w.abs();
    for (got, want) in [
        (&bank.weights, &want.weights[0]),
        (&tax.weights, &want.weights[1]),
    ] {
        for (g, w) in got.iter().zip(want) {
            assert!(close(*g, *w), "{got:?} vs {want:?}");
        }
    }
    assert!(close(bank.intercept.unwrap(), want.fit.intercept));
    // The label holder's file holds the calibration report and the map;
    // the feature holder's neither.
    let map = bank.recalibration.clone().expect("the isotonic map");
    assert!(bank.calibration.as_ref().unwrap().recalibrated.is_some());
    assert!(tax.calibration.is_none() && tax.recalibration.is_none());

    // Joint scoring with the trained model files.
    let out = dir.path().join("scores.csv");
    let ps2 = parties(&dir.path().join("p2").tap_mkdir(), &["bank", "tax"]);
    let outs = wait_all(vec![
        spawn(&predict_args(&ps2, 0, &models[0], &bank_csv, Some(&out))),
        spawn(&predict_args(&ps2, 1, &models[1], &tax_csv, None)),
    ]);
    assert_ok(&outs);
    let text = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(lines.len(), 280);
    let sb = bank.standardizer.as_ref().unwrap();
    let st = tax.standardizer.as_ref().unwrap();
    for line in lines.iter().step_by(17) {
        let cells: Vec<&str> = line.split(',').collect();
        let bi = b.ids.iter().position(|i| i == cells[0]).unwrap();
        let ti = t.ids.iter().position(|i| i == cells[0]).unwrap();
        let part = |x: Vec<f64>, s: &data::Standardizer, w: &[f64]| -> f64 {
            x.iter()
                .enumerate()
                .map(|(j, v)| (v - s.mean[j]) / s.std[j] * w[j])
                .sum()
        };
        let want = part(b.x.row(bi).to_vec(), sb, &bank.weights)
            + bank.intercept.unwrap()
            + part(t.x.row(ti).to_vec(), st, &tax.weights);
        let got: f64 = cells[1].parse().unwrap();
        assert!((got - want).abs() < 1e-3, "{line}: {want}");
        // The prediction is the recalibrated probability of the score.
        let p: f64 = cells[2].parse().unwrap();
        assert_eq!(p, map.apply(got), "{line}");
    }
}

#[test]
fn a_horizontal_client_with_unscaled_columns_is_warned() {
    let dir = tempfile::tempdir().unwrap();
    let ps = parties(dir.path(), &["server", "c0", "c1", "c2"]);
    let files: Vec<PathBuf> = (0..3).map(|c| client_file(dir.path(), c)).collect();
    // c1's f2 is in raw units: around 5000, spread 1000.
    let text = std::fs::read_to_string(&files[1]).unwrap();
    let raw: String = text
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i == 0 {
                format!("{l}\n")
            } else {
                let (head, f2) = l.rsplit_once(',').unwrap();
                let v: f64 = f2.parse().unwrap();
                format!("{head},{:.3}\n", 5000.0 + 1000.0 * v)
            }
        })
        .collect();
    std::fs::write(&files[1], raw).unwrap();
    let models: Vec<PathBuf> = (0..4)
        .map(|i| dir.path().join(format!("u{i}.json")))
        .collect();
    let outs = horizontal_job(&ps, &files, &models);
    assert_ok(&outs);
    let warned = stderr(&outs[2]);
    assert!(
        warned.contains("warning: column f2: ") && warned.contains("standardise it"),
        "{warned}"
    );
    assert!(!warned.contains("column f1"), "{warned}");
    // Only c1 hears about its own columns.
    for i in [0, 1, 3] {
        assert!(
            !stderr(&outs[i]).contains("warning"),
            "{}",
            stderr(&outs[i])
        );
    }
}

#[test]
fn two_processes_train_over_quic_without_a_dealer() {
    use indomain_learn::reference;
    use indomain_mpc::sigmoid::sigmoid_approx;
    let dir = tempfile::tempdir().unwrap();
    let ps = parties(dir.path(), &["bank", "tax"]);
    let (bank_csv, tax_csv) = vertical_files(dir.path(), 120, 20);
    let models: Vec<PathBuf> = (0..2)
        .map(|i| dir.path().join(format!("m{i}.json")))
        .collect();
    // The same job as with a dealer, with --dealer left out.
    let without_dealer = |me: usize, input: &Path, model: &Path| {
        let mut a = vertical_args(&ps, me, Some(input), Some(model));
        let at = a.iter().position(|x| x == "--dealer").unwrap();
        a.drain(at..at + 2);
        a
    };
    // SecureML's gradient descent with σ̃, as before #18.
    let no_dealer = |me: usize, input: &Path, model: &Path| {
        let mut a = without_dealer(me, input, model);
        a.retain(|x| x != "--quiet");
        a.push("--no-contribution".into());
        a.extend(
            [
                "--sigmoid",
                "linear",
                "--optimizer",
                "gradient-descent",
                "--fixed-epochs",
                "--epochs",
                "10",
                "--learning-rate",
                "0.5",
                "--l2",
                "0",
            ]
            .map(String::from),
        );
        a
    };
    let outs = wait_all(vec![
        spawn(&no_dealer(0, &bank_csv, &models[0])),
        spawn(&no_dealer(1, &tax_csv, &models[1])),
    ]);
    assert_ok(&outs);
    for o in &outs {
        assert!(
            stderr(o).contains("correlations: two-party"),
            "{}",
            stderr(o)
        );
    }
    let bank = ModelFile::load(&models[0]).unwrap();
    let tax = ModelFile::load(&models[1]).unwrap();
    // The trust record travels in both model files.
    assert_eq!(bank.correlations.as_deref(), Some("two-party"));
    assert_eq!(tax.correlations.as_deref(), Some("two-party"));
    let spec = |label: bool| CsvSpec {
        id_column: "id".into(),
        label_column: label.then(|| "y".into()),
        features: None,
        task: Task::Logistic,
    };
    let b = data::load_csv(&bank_csv, &spec(true)).unwrap();
    let t = data::load_csv(&tax_csv, &spec(false)).unwrap();
    let params = TrainParams {
        seed: 3,
        ..TrainParams::gradient_descent(10, 0.5)
    };
    let want = reference::vertical(&[&b, &t], 0.25, &params, Some(sigmoid_approx)).unwrap();
    for (got, want) in [
        (&bank.weights, &want.weights[0]),
        (&tax.weights, &want.weights[1]),
    ] {
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 2e-3, "{got:?} vs {want:?}");
        }
    }
    // Three parties and no dealer are refused before connecting.
    let ps3 = parties(
        &dir.path().join("three").tap_mkdir(),
        &["bank", "tax", "stats"],
    );
    let mut three = vertical_args(&ps3, 0, Some(&bank_csv), Some(&models[0]));
    let at = three.iter().position(|x| x == "--dealer").unwrap();
    three.drain(at..at + 2);
    assert!(refused(three).contains("exactly two parties"));
}
