//! End to end: real `indomain predict` processes scoring jointly over QUIC
//! with the model files of one job, against plaintext scoring; model files
//! of another job and inputs with other columns are refused.

use indomain_learn::Task;
use indomain_learn::data::{self, CsvSpec};
use indomain_learn::model::ModelFile;

mod common;
mod learn_common;

use learn_common::*;

#[test]
fn joint_scoring_over_quic_equals_plaintext_scoring() {
    let dir = tempfile::tempdir().unwrap();
    let ps = parties(dir.path(), &["bank", "tax"]);
    let (bank_csv, tax_csv) = vertical_files(dir.path(), 50, 10);
    let (bm, tm, bank, tax) = model_pair(dir.path(), "a");
    let out = dir.path().join("scores.csv");
    let outs = wait_all(vec![
        spawn(&predict_args(&ps, 0, &bm, &bank_csv, Some(&out))),
        spawn(&predict_args(&ps, 1, &tm, &tax_csv, None)),
    ]);
    assert_ok(&outs);
    let spec = |label: bool| CsvSpec {
        id_column: "id".into(),
        label_column: label.then(|| "y".into()),
        features: None,
        task: Task::Logistic,
    };
    let b = data::load_csv(&bank_csv, &spec(true)).unwrap();
    let t = data::load_csv(&tax_csv, &spec(false)).unwrap();
    let text = std::fs::read_to_string(&out).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("id,score,prediction"));
    let mut rows = 0;
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        let (bi, ti) = (
            b.ids.iter().position(|i| i == cells[0]).unwrap(),
            t.ids.iter().position(|i| i == cells[0]).unwrap(),
        );
        let partial = |m: &ModelFile, x: Vec<f64>| -> f64 {
            let s = m.standardizer.as_ref().unwrap();
            x.iter()
                .enumerate()
                .map(|(j, v)| (v - s.mean[j]) / s.std[j] * m.weights[j])
                .sum::<f64>()
        };
        let want = partial(&bank, b.x.row(bi).to_vec()) + 0.1 + partial(&tax, t.x.row(ti).to_vec());
        let got: f64 = cells[1].parse().unwrap();
        assert!((got - want).abs() < 1e-4, "{line}: {want}");
        let p: f64 = cells[2].parse().unwrap();
        assert!((p - 1.0 / (1.0 + (-want).exp())).abs() < 1e-4);
        rows += 1;
    }
    assert_eq!(rows, 40);
}

#[test]
fn predict_refuses_another_jobs_model_and_other_columns() {
    let dir = tempfile::tempdir().unwrap();
    let ps = parties(dir.path(), &["bank", "tax"]);
    let (bank_csv, tax_csv) = vertical_files(dir.path(), 30, 0);
    let (bm, _, _, _) = model_pair(dir.path(), "a");
    let (_, tm_other, _, _) = model_pair(dir.path(), "b");
    let out = dir.path().join("scores.csv");
    let outs = wait_all(vec![
        spawn(&predict_args(&ps, 0, &bm, &bank_csv, Some(&out))),
        spawn(&predict_args(&ps, 1, &tm_other, &tax_csv, None)),
    ]);
    for (o, peer) in outs.iter().zip(["tax", "bank"]) {
        let err = stderr(o);
        assert!(!o.status.success());
        assert!(
            err.contains("another training job") && err.contains(peer),
            "{err}"
        );
    }
    assert!(!out.exists());
    // A file whose columns differ from the model's.
    let text = std::fs::read_to_string(&tax_csv).unwrap();
    let renamed = text.replacen("tax_paid", "vat_paid", 1);
    let other = dir.path().join("tax-renamed.csv");
    std::fs::write(&other, renamed).unwrap();
    let (_, tm, _, _) = model_pair(dir.path(), "a");
    let err = refused(predict_args(&ps, 1, &tm, &other, None));
    assert!(
        err.contains("tax-renamed.csv") && err.contains("differ from the model's"),
        "{err}"
    );
}
