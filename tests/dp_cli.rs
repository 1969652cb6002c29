//! End to end with differential privacy: real `indomain aggregate` and
//! `indomain train --mode horizontal` processes over QUIC on loopback
//! release noisy results that state their ε; every bad DP input is
//! refused before any data is read; every model file of a DP training
//! records ε, δ and the clipping norm.

use indomain_learn::model::ModelFile;
use std::path::{Path, PathBuf};

mod common;
mod learn_common;

use learn_common::*;

/// Rows `id,region,age,income` for one aggregate party: 60 rows, ages 18
/// to 77, incomes −500 to 12 000 (beyond the clip bounds used below).
fn aggregate_input(dir: &Path, party: u64) -> (PathBuf, Vec<(usize, f64, f64)>) {
    let rows: Vec<(usize, f64, f64)> = (0..60u64)
        .map(|i| {
            let region = ((i * 7 + party) % 2) as usize;
            let age = 18.0 + ((i * 31 + party * 17) % 60) as f64;
            let income = ((i * 7919 + party * 104_729) % 12_500) as f64 - 500.0;
            (region, age, income)
        })
        .collect();
    let mut text = String::from("id,region,age,income\n");
    for (i, (r, age, inc)) in rows.iter().enumerate() {
        text.push_str(&format!("{i},{},{age},{inc}\n", ["north", "south"][*r]));
    }
    let path = dir.join(format!("in-{party}.csv"));
    std::fs::write(&path, text).unwrap();
    (path, rows)
}

/// `indomain aggregate` for party `me` of `ps` (receivers a and c).
fn aggregate_args(
    ps: &[Party],
    me: usize,
    input: Option<&Path>,
    out: Option<&Path>,
) -> Vec<String> {
    let mut a = base("aggregate", ps, me);
    a.extend(args(&[
        "--receivers",
        "a,c",
        "--min-group-size",
        "5",
        "--group-by",
        "region",
        "--categories",
        "north,south",
    ]));
    if let Some(input) = input {
        a.extend(["--input".into(), input.display().to_string()]);
    }
    if let Some(out) = out {
        a.extend(["--output".into(), out.display().to_string()]);
    }
    a
}

/// The number after `label` in a summary line.
fn figure_after(text: &str, label: &str) -> f64 {
    let at = text
        .find(label)
        .unwrap_or_else(|| panic!("no {label:?} in {text}"))
        + label.len();
    text[at..]
        .trim_start()
        .split(|c: char| !(c.is_ascii_digit() || c == '.' || c == 'e' || c == '-' || c == '+'))
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no figure after {label:?} in {text}"))
}

#[test]
fn a_dp_histogram_over_three_processes_is_noisy_and_states_its_epsilon() {
    let dir = tempfile::tempdir().unwrap();
    let ps = parties(dir.path(), &["a", "b", "c"]);
    let inputs: Vec<_> = (0..3).map(|p| aggregate_input(dir.path(), p)).collect();
    let outputs: Vec<PathBuf> = (0..3)
        .map(|i| dir.path().join(format!("out-{i}.csv")))
        .collect();
    let dp = args(&[
        "--stat",
        "histogram",
        "--columns",
        "age",
        "--bins",
        "18,38,58,78",
        "--dp-epsilon",
        "4",
        "--clip",
        "18,78",
    ]);
    let children = (0..3)
        .map(|i| {
            let out = (i != 1).then(|| outputs[i].as_path());
            let mut a = aggregate_args(&ps, i, Some(&inputs[i].0), out);
            a.extend(dp.clone());
            spawn(&a)
        })
        .collect();
    let outs = wait_all(children);
    assert_ok(&outs);
    let summary = stderr(&outs[0]);
    assert!(summary.contains("differential privacy: ε = "), "{summary}");
    let epsilon = figure_after(&summary, "ε = ");
    assert!(epsilon > 3.0 && epsilon <= 4.0, "{summary}");
    let sd = figure_after(&summary, "bin count");
    assert!(sd > 0.5 && sd < 100.0, "{summary}");
    assert!(stderr(&outs[1]).contains("learns no result"));
    let text = std::fs::read_to_string(&outputs[0]).unwrap();
    assert_eq!(text, std::fs::read_to_string(&outputs[2]).unwrap());
    // Exact counts per (region, bin); every released cell within 6 sd.
    let mut exact = [[0i64; 5]; 2];
    for (_, rows) in &inputs {
        for &(r, age, _) in rows {
            let bin = if age < 38.0 {
                1
            } else if age < 58.0 {
                2
            } else {
                3
            };
            exact[r][bin] += 1;
        }
    }
    let mut released = 0;
    let mut differs = 0;
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        // group,status,column,bin_lower,bin_upper,count
        if f[1] != "released" || f[5] == "suppressed" {
            continue;
        }
        let region = usize::from(f[0] == "south");
        let bin = match f[3] {
            "-inf" => 0,
            "18" => 1,
            "38" => 2,
            "58" => 3,
            _ => 4,
        };
        let got: i64 = f[5].parse().unwrap();
        assert!(
            ((got - exact[region][bin]) as f64).abs() <= 6.0 * sd,
            "{line}: exact {}",
            exact[region][bin]
        );
        released += 1;
        differs += usize::from(got != exact[region][bin]);
    }
    assert!(released >= 6, "{text}");
    assert!(differs > 0, "no noise in {text}");
}

#[test]
fn a_dp_mean_with_a_dealer_clips_and_compares_noisy_counts() {
    let dir = tempfile::tempdir().unwrap();
    let ps = parties(dir.path(), &["a", "b", "c", "d"]);
    let inputs: Vec<_> = (0..3).map(|p| aggregate_input(dir.path(), p)).collect();
    let outputs: Vec<PathBuf> = (0..3)
        .map(|i| dir.path().join(format!("out-{i}.csv")))
        .collect();
    let dp = args(&[
        "--stat",
        "mean",
        "--columns",
        "income",
        "--dealer",
        "d",
        "--dp-epsilon",
        "8",
        "--clip",
        "0,10000",
        "--max-abs",
        "20000",
    ]);
    let children = (0..4)
        .map(|i| {
            let input = inputs.get(i).map(|(p, _)| p.as_path());
            let out = (i == 0 || i == 2).then(|| outputs[i].as_path());
            let mut a = aggregate_args(&ps, i, input, out);
            a.extend(dp.clone());
            spawn(&a)
        })
        .collect();
    let outs = wait_all(children);
    assert_ok(&outs);
    let summary = stderr(&outs[0]);
    let sum_sd = figure_after(&summary, "sum");
    let count_sd = figure_after(&summary, "count");
    let text = std::fs::read_to_string(&outputs[0]).unwrap();
    for line in text.lines().skip(1) {
        // group,status,column,count,sum,mean
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f[1], "released", "{text}");
        let region = usize::from(f[0] == "south");
        let clipped: Vec<f64> = inputs
            .iter()
            .flat_map(|(_, rows)| rows.iter())
            .filter(|r| r.0 == region)
            .map(|r| r.2.clamp(0.0, 10_000.0))
            .collect();
        let (count, sum): (f64, f64) = (f[3].parse().unwrap(), f[4].parse().unwrap());
        assert!(
            (count - clipped.len() as f64).abs() <= 6.0 * count_sd,
            "{line}"
        );
        assert!(
            (sum - clipped.iter().sum::<f64>()).abs() <= 6.0 * sum_sd,
            "{line}"
        );
    }
}

/// One aggregate party whose input does not exist: a refusal that names
/// no file was made before any data was read.
fn refused_aggregate(extra: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let ps = parties(dir.path(), &["a", "b", "c"]);
    let missing = dir.path().join("missing.csv");
    let mut a = aggregate_args(&ps, 0, Some(&missing), Some(&dir.path().join("out.csv")));
    a.extend(args(extra));
    let err = refused(a);
    assert!(!err.contains("missing.csv"), "{err}");
    err
}

#[test]
fn bad_dp_input_is_refused_before_any_data_is_read() {
    let sum = ["--stat", "sum", "--columns", "income"];
    let with = |more: &[&'static str]| -> Vec<&'static str> {
        sum.iter().copied().chain(more.iter().copied()).collect()
    };
    for epsilon in ["0", "-1", "NaN", "inf"] {
        let err = refused_aggregate(&with(&["--dp-epsilon", epsilon, "--clip", "0,10"]));
        assert!(err.contains("--dp-epsilon"), "{epsilon}: {err}");
    }
    let err = refused_aggregate(&with(&["--dp-epsilon", "1"]));
    assert!(err.contains("needs --clip LO,HI"), "{err}");
    let err = refused_aggregate(&with(&["--dp-epsilon", "1", "--clip", "0,2e9"]));
    assert!(err.contains("declared range"), "{err}");
    let err = refused_aggregate(&with(&["--dp-epsilon", "1", "--clip", "5,1"]));
    assert!(err.contains("LO < HI"), "{err}");
    let err = refused_aggregate(&with(&["--dp-epsilon", "1", "--clip", "5"]));
    assert!(err.contains("two bounds"), "{err}");
    let err = refused_aggregate(&with(&[
        "--dp-epsilon",
        "1",
        "--clip",
        "0,9",
        "--dp-delta",
        "1.5",
    ]));
    assert!(err.contains("delta"), "{err}");
    let err = refused_aggregate(&with(&[
        "--dp-epsilon",
        "1",
        "--clip",
        "0,9",
        "--dp-coalition",
        "3",
    ]));
    assert!(err.contains("coalition"), "{err}");
    let err = refused_aggregate(&with(&[
        "--dp-epsilon",
        "1",
        "--clip",
        "0,9",
        "--open-counts-to-decider",
    ]));
    assert!(err.contains("drop it"), "{err}");
    let err = refused_aggregate(&["--stat", "count", "--dp-epsilon", "1", "--clip", "0,9"]);
    assert!(err.contains("drop --clip"), "{err}");
    let err = refused_aggregate(&with(&["--clip", "0,9"]));
    assert!(err.contains("--dp-epsilon"), "{err}");

    // Training: the same before any row is read.
    let dir = tempfile::tempdir().unwrap();
    let ps = parties(dir.path(), &["server", "c0", "c1"]);
    let train = |more: &[&str]| {
        let mut a = base("train", &ps, 1);
        a.extend(args(&[
            "--mode",
            "horizontal",
            "--server",
            "server",
            "--features",
            "f1,f2",
            "--label-column",
            "y",
            "--input",
            "missing.csv",
            "--model",
            "m.json",
        ]));
        a.extend(args(more));
        let err = refused(a);
        assert!(!err.contains("missing.csv"), "{err}");
        err
    };
    for epsilon in ["0", "-2", "NaN", "inf"] {
        let err = train(&["--dp-epsilon", epsilon, "--clip-norm", "1"]);
        assert!(err.contains("epsilon"), "{epsilon}: {err}");
    }
    assert!(train(&["--dp-epsilon", "1"]).contains("needs --clip-norm"));
    assert!(train(&["--dp-epsilon", "1", "--clip-norm", "0"]).contains("clipping norm"));
    assert!(
        train(&[
            "--dp-epsilon",
            "1",
            "--clip-norm",
            "1",
            "--dp-coalition",
            "2"
        ])
        .contains("coalition")
    );
    assert!(train(&["--clip-norm", "1"]).contains("--dp-epsilon"));
    // Vertical training has no DP.
    let mut a = base("train", &ps, 1);
    a.extend(args(&[
        "--label-holder",
        "c0",
        "--dealer",
        "server",
        "--input",
        "missing.csv",
        "--model",
        "m.json",
        "--dp-epsilon",
        "1",
    ]));
    assert!(refused(a).contains("horizontal training only"));
}

/// Client c's rows `id,y,f1,f2`.
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

#[test]
fn horizontal_training_with_dp_records_epsilon_delta_and_clip_in_every_model_file() {
    let dir = tempfile::tempdir().unwrap();
    let ps = parties(dir.path(), &["server", "c0", "c1", "c2"]);
    let files: Vec<PathBuf> = (0..3).map(|c| client_file(dir.path(), c)).collect();
    let models: Vec<PathBuf> = (0..4)
        .map(|i| dir.path().join(format!("h{i}.json")))
        .collect();
    let children = (0..4)
        .map(|i| {
            let mut a = base("train", &ps, i);
            a.extend(args(&[
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
                "--dp-epsilon",
                "8",
                "--dp-delta",
                "1e-5",
                "--clip-norm",
                "0.5",
            ]));
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
    let outs = wait_all(children);
    assert_ok(&outs);
    let summary = stderr(&outs[0]);
    assert!(summary.contains("differential privacy: ε = "), "{summary}");
    assert!(figure_after(&summary, "ε = ") <= 8.0, "{summary}");
    let server = ModelFile::load(&models[0]).unwrap();
    for m in &models {
        let file = ModelFile::load(m).unwrap();
        let dp = file.job.horizontal.as_ref().unwrap().dp.unwrap();
        assert_eq!(
            (dp.epsilon, dp.delta, dp.clip_norm, dp.coalition),
            (8.0, 1e-5, 0.5, 0)
        );
        assert_eq!(file.job_hash, server.job_hash);
        assert_eq!(file.weights, server.weights);
    }
    // The JSON says so in words a reader finds.
    let json = std::fs::read_to_string(&models[1]).unwrap();
    assert!(
        json.contains("\"clip_norm\": 0.5") && json.contains("\"epsilon\": 8.0"),
        "{json}"
    );
}
