//! End to end: real `indomain bin`, `indomain train --scorecard` and
//! `indomain predict` processes (the bank with the labels, the tax bureau
//! with features, the statistics office dealing) over QUIC on loopback;
//! the bank's IV ranking and points against its own binning file, a
//! binning file of another job refused, bad input named; and the same
//! three steps between two processes with no dealer (two-party
//! correlations), the files and summaries naming `two-party`.

use indomain_learn::scorecard::model::ScorecardFile;
use indomain_learn::woe::file::BinningFile;
use std::path::{Path, PathBuf};

mod common;
mod learn_common;

use learn_common::*;

/// The bank's `id,y,age,balance` and the tax bureau's
/// `id,income,sector,assets` (income empty on some rows, sector text), on
/// overlapping ids.
fn files(dir: &Path, n: u64) -> (PathBuf, PathBuf) {
    let mut bank = String::from("id,y,age,balance\n");
    let mut tax = String::from("id,income,sector,assets\n");
    for i in 0..n {
        let (a, b, inc, asset) = (noise(i, 1), noise(i, 2), noise(i, 3), noise(i, 4));
        let sector = ["farm", "trade", "tech"][(noise(i, 5) * 3.0) as usize];
        let z = 2.0 * a - 1.5 * inc + (b - 0.5) + if sector == "tech" { -0.7 } else { 0.2 };
        let y = u8::from(z + (noise(i, 9) - 0.5) * 2.0 > 0.3);
        if i % 11 != 0 {
            bank.push_str(&format!(
                "C{i:05},{y},{:.2},{:.2}\n",
                20.0 + 50.0 * a,
                1000.0 * b
            ));
        }
        if i % 13 != 0 {
            let income = if i % 17 == 0 {
                String::new()
            } else {
                format!("{:.1}", 100.0 * inc)
            };
            tax.push_str(&format!("C{i:05},{income},{sector},{:.2}\n", 10.0 * asset));
        }
    }
    let (b, t) = (dir.join("bank.csv"), dir.join("tax.csv"));
    std::fs::write(&b, bank).unwrap();
    std::fs::write(&t, tax).unwrap();
    (b, t)
}

fn bin_args(
    ps: &[Party],
    me: usize,
    input: Option<&Path>,
    output: Option<&Path>,
    extra: &[&str],
) -> Vec<String> {
    let mut a = base("bin", ps, me);
    a.extend(args(&["--label-holder", "bank"]));
    if ps.len() == 3 {
        a.extend(args(&["--dealer", "stats"]));
    }
    if !extra.contains(&"--bins") {
        a.extend(args(&["--bins", "5"]));
    }
    a.extend(args(extra));
    if me == 0 {
        a.extend(args(&["--label-column", "y"]));
    }
    if let Some(i) = input {
        a.extend(["--input".into(), i.display().to_string()]);
    }
    if let Some(o) = output {
        a.extend(["--output".into(), o.display().to_string()]);
    }
    a
}

fn card_args(
    ps: &[Party],
    me: usize,
    input: Option<&Path>,
    woe: Option<&Path>,
    model: Option<&Path>,
) -> Vec<String> {
    let mut a = base("train", ps, me);
    if ps.len() == 3 {
        a.extend(args(&["--dealer", "stats"]));
    }
    a.extend(args(&[
        "--label-holder",
        "bank",
        "--scorecard",
        "--min-iv",
        "0.01",
        "--epochs",
        "25",
        "--learning-rate",
        "1",
    ]));
    if me == 0 {
        a.extend(args(&["--label-column", "y"]));
    }
    for (flag, p) in [("--input", input), ("--woe", woe), ("--model", model)] {
        if let Some(p) = p {
            a.extend([flag.to_string(), p.display().to_string()]);
        }
    }
    a
}

fn bin_all(dir: &Path, ps: &[Party], bank: &Path, tax: &Path, tag: &str) -> (PathBuf, PathBuf) {
    let (b, t) = (
        dir.join(format!("bank.{tag}.json")),
        dir.join(format!("tax.{tag}.json")),
    );
    let mut running = vec![
        spawn(&bin_args(ps, 0, Some(bank), Some(&b), &[])),
        spawn(&bin_args(ps, 1, Some(tax), Some(&t), &[])),
    ];
    if ps.len() == 3 {
        running.push(spawn(&bin_args(ps, 2, None, None, &[])));
    }
    let outs = wait_all(running);
    assert_ok(&outs);
    assert!(
        stderr(&outs[0]).contains("IV ranking"),
        "{}",
        stderr(&outs[0])
    );
    (b, t)
}

#[test]
fn bin_train_a_scorecard_and_score_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let ps = parties(dir.path(), &["bank", "tax", "stats"]);
    let (bank, tax) = files(dir.path(), 400);
    let (bb, tb) = bin_all(dir.path(), &ps, &bank, &tax, "a");
    let lead = BinningFile::load(&bb).unwrap();
    let owner = BinningFile::load(&tb).unwrap();
    assert_eq!(lead.job_hash, owner.job_hash);
    // The bank knows every IV; the report ranks them.
    let report = std::fs::read_to_string(bb.with_extension("iv.csv")).unwrap();
    assert_eq!(report.lines().count(), 1 + 5, "{report}");
    let ranking = lead.iv_ranking();
    assert!(ranking.windows(2).all(|w| w[0].iv >= w[1].iv));
    let first = &ranking[0];
    assert!(
        report
            .lines()
            .nth(1)
            .unwrap()
            .starts_with(&format!("1,{},{},", first.party, first.feature))
    );
    // Charts: the bank draws its own and the bureau's features; the bureau
    // (default mode) none.
    assert!(bb.with_extension("age.svg").exists());
    assert!(bb.with_extension("tax_income.svg").exists());
    assert!(!tb.with_extension("income.svg").exists());
    assert!(
        owner
            .features
            .iter()
            .all(|f| f.woe.is_none() && f.events.is_none())
    );
    assert!(
        owner.features.iter().any(|f| f.bins.missing),
        "income has empty cells"
    );
    let text = std::fs::read_to_string(&tb).unwrap();
    assert!(text.contains("\"categorical\""), "sector is text");

    let (bm, tm) = (
        dir.path().join("bank.card.json"),
        dir.path().join("tax.card.json"),
    );
    let outs = wait_all(vec![
        spawn(&card_args(&ps, 0, Some(&bank), Some(&bb), Some(&bm))),
        spawn(&card_args(&ps, 1, Some(&tax), Some(&tb), Some(&tm))),
        spawn(&card_args(&ps, 2, None, None, None)),
    ]);
    assert_ok(&outs);
    let card = ScorecardFile::load(&bm).unwrap();
    let auc = card.evaluation.unwrap().auc;
    assert!(auc > 0.75, "AUC {auc}");
    let points = std::fs::read_to_string(bm.with_extension("points.csv")).unwrap();
    assert!(points.starts_with("party,feature,bin,woe,points\n"));
    assert!(points.contains("tax,income,bin 1,"), "{points}");
    assert!(!tm.with_extension("points.csv").exists());

    // Scoring new rows: the same customers.
    let out = dir.path().join("scores.csv");
    let psi = dir.path().join("tax.psi.csv");
    let mut p0 = base("predict", &ps, 0);
    p0.extend(args(&[
        "--dealer",
        "stats",
        "--model",
        bm.to_str().unwrap(),
        "--input",
        bank.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ]));
    let mut p1 = base("predict", &ps, 1);
    p1.extend(args(&[
        "--dealer",
        "stats",
        "--model",
        tm.to_str().unwrap(),
        "--input",
        tax.to_str().unwrap(),
        "--stability",
        psi.to_str().unwrap(),
    ]));
    let mut p2 = base("predict", &ps, 2);
    p2.extend(args(&[
        "--dealer",
        "stats",
        "--label-holder",
        "bank",
        "--scorecard",
    ]));
    let outs = wait_all(vec![spawn(&p0), spawn(&p1), spawn(&p2)]);
    assert_ok(&outs);
    let scores = std::fs::read_to_string(&out).unwrap();
    assert!(scores.starts_with("id,score,probability\n"));
    assert!(scores.lines().count() > 300);
    assert!(
        stderr(&outs[0]).contains("stability of (score)"),
        "{}",
        stderr(&outs[0])
    );
    let psi = std::fs::read_to_string(&psi).unwrap();
    assert!(psi.starts_with("party,feature,psi,reading\ntax,"), "{psi}");
}

#[test]
fn two_processes_bin_train_and_score_a_scorecard_without_a_dealer() {
    let dir = tempfile::tempdir().unwrap();
    let ps = parties(dir.path(), &["bank", "tax"]);
    let (bank, tax) = files(dir.path(), 400);
    let (bb, tb) = bin_all(dir.path(), &ps, &bank, &tax, "alone");
    for path in [&bb, &tb] {
        let file = BinningFile::load(path).unwrap();
        assert_eq!(file.correlations.as_deref(), Some("two-party"));
    }
    let (bm, tm) = (
        dir.path().join("bank.card.json"),
        dir.path().join("tax.card.json"),
    );
    let outs = wait_all(vec![
        spawn(&card_args(&ps, 0, Some(&bank), Some(&bb), Some(&bm))),
        spawn(&card_args(&ps, 1, Some(&tax), Some(&tb), Some(&tm))),
    ]);
    assert_ok(&outs);
    for (out, path) in outs.iter().zip([&bm, &tm]) {
        let card = ScorecardFile::load(path).unwrap();
        assert_eq!(card.correlations.as_deref(), Some("two-party"));
        assert!(
            stderr(out).contains("correlations: two-party"),
            "{}",
            stderr(out)
        );
    }
    let card = ScorecardFile::load(&bm).unwrap();
    let auc = card.evaluation.unwrap().auc;
    assert!(auc > 0.75, "AUC {auc}");
    // Scoring without a dealer too.
    let out = dir.path().join("scores.csv");
    let mut p0 = base("predict", &ps, 0);
    p0.extend(args(&[
        "--model",
        bm.to_str().unwrap(),
        "--input",
        bank.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ]));
    let mut p1 = base("predict", &ps, 1);
    p1.extend(args(&[
        "--model",
        tm.to_str().unwrap(),
        "--input",
        tax.to_str().unwrap(),
    ]));
    let outs = wait_all(vec![spawn(&p0), spawn(&p1)]);
    assert_ok(&outs);
    let scores = std::fs::read_to_string(&out).unwrap();
    assert!(scores.starts_with("id,score,probability\n"));
    assert!(scores.lines().count() > 300);
}

#[test]
fn a_binning_file_of_another_job_and_bad_input_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ps = parties(dir.path(), &["bank", "tax", "stats"]);
    let (bank, tax) = files(dir.path(), 200);
    let (bb, _) = bin_all(dir.path(), &ps, &bank, &tax, "a");
    let (_, tb2) = bin_all(dir.path(), &ps, &bank, &tax, "b");
    let (bm, tm) = (dir.path().join("b.json"), dir.path().join("t.json"));
    let outs = wait_all(vec![
        spawn(&card_args(&ps, 0, Some(&bank), Some(&bb), Some(&bm))),
        spawn(&card_args(&ps, 1, Some(&tax), Some(&tb2), Some(&tm))),
        spawn(&card_args(&ps, 2, None, None, None)),
    ]);
    assert!(outs.iter().all(|o| !o.status.success()));
    let own = stderr(&outs[1]);
    assert!(
        own.contains(&tb2.display().to_string()) && own.contains("binning file of job"),
        "{own}"
    );
    assert!(
        stderr(&outs[0]).contains("party tax refused"),
        "{}",
        stderr(&outs[0])
    );
    assert!(!bm.exists() && !tm.exists());

    // More categories than allowed, named with file and column.
    let err = wait_all(vec![
        spawn(&bin_args(
            &ps,
            0,
            Some(&bank),
            Some(&dir.path().join("x.json")),
            &["--max-categories", "2"],
        )),
        spawn(&bin_args(
            &ps,
            1,
            Some(&tax),
            Some(&dir.path().join("y.json")),
            &["--max-categories", "2"],
        )),
        spawn(&bin_args(&ps, 2, None, None, &["--max-categories", "2"])),
    ]);
    let tax_err = stderr(&err[1]);
    assert!(
        tax_err.contains("column \"sector\": 3 categories, more than the 2 allowed"),
        "{tax_err}"
    );
    assert!(
        stderr(&err[0]).contains("party tax refused"),
        "{}",
        stderr(&err[0])
    );
    // Strict mode refuses monotone merging before connecting.
    let e = refused(bin_args(
        &ps,
        0,
        Some(&bank),
        Some(&dir.path().join("z.json")),
        &["--mode", "strict", "--monotone"],
    ));
    assert!(e.contains("strict mode hides"), "{e}");
    // Too few rows for the bins.
    let small = dir.path().join("small");
    std::fs::create_dir_all(&small).unwrap();
    let (sb, st) = files(&small, 30);
    let outs = wait_all(vec![
        spawn(&bin_args(
            &ps,
            0,
            Some(&sb),
            Some(&small.join("x.json")),
            &["--bins", "40", "--min-rows", "5"],
        )),
        spawn(&bin_args(
            &ps,
            1,
            Some(&st),
            Some(&small.join("y.json")),
            &["--bins", "40", "--min-rows", "5"],
        )),
        spawn(&bin_args(
            &ps,
            2,
            None,
            None,
            &["--bins", "40", "--min-rows", "5"],
        )),
    ]);
    assert!(
        stderr(&outs[0]).contains("too few for 40 bins"),
        "{}",
        stderr(&outs[0])
    );
    assert!(!small.join("x.json").exists());
}
