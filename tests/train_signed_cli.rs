//! End to end: horizontal training with `--secagg-keys` runs signed SecAgg
//! rounds between real `indomain train` processes and gives the same model
//! as unsigned rounds; a table whose entry does not match a client's
//! identity is refused before the network.

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;
mod learn_common;

use learn_common::*;

/// Client c's rows `id,y,f1,f2`.
fn client_file(dir: &Path, c: u64) -> PathBuf {
    let mut text = String::from("id,y,f1,f2\n");
    for i in 0..(70 + 20 * c) {
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

/// The line `indomain audit key` prints for a party's identity.
fn audit_key(p: &Party) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_indomain"))
        .args(["audit", "key", "--identity"])
        .arg(&p.identity)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn job_args(
    ps: &[Party],
    i: usize,
    files: &[PathBuf],
    model: &Path,
    keys: Option<&Path>,
) -> Vec<String> {
    let mut a = base("train", ps, i);
    a.extend(args(&[
        "--mode",
        "horizontal",
        "--server",
        "server",
        "--features",
        "f1,f2",
        "--rounds",
        "2",
        "--epochs",
        "2",
        "--seed",
        "5",
    ]));
    a.extend(["--model".into(), model.display().to_string()]);
    if i > 0 {
        a.extend([
            "--input".into(),
            files[i - 1].display().to_string(),
            "--label-column".into(),
            "y".into(),
        ]);
    }
    if let Some(k) = keys {
        a.extend(["--secagg-keys".into(), k.display().to_string()]);
    }
    a
}

#[test]
fn signed_horizontal_training_gives_the_unsigned_model() {
    let dir = tempfile::tempdir().unwrap();
    let ps = parties(dir.path(), &["server", "c0", "c1", "c2"]);
    let files: Vec<PathBuf> = (0..3).map(|c| client_file(dir.path(), c)).collect();
    let table = dir.path().join("secagg-keys.txt");
    let lines: Vec<String> = ps[1..]
        .iter()
        .map(|p| format!("{} {}", p.name, audit_key(p)))
        .collect();
    std::fs::write(&table, format!("# clients\n{}\n", lines.join("\n"))).unwrap();
    let mut weights = Vec::new();
    for keys in [Some(table.as_path()), None] {
        let models: Vec<PathBuf> = (0..4)
            .map(|i| dir.path().join(format!("m{i}-{}.json", keys.is_some())))
            .collect();
        let children = (0..4)
            .map(|i| spawn(&job_args(&ps, i, &files, &models[i], keys)))
            .collect();
        let outs = wait_all(children);
        assert_ok(&outs);
        let mode = if keys.is_some() {
            "(signed SecAgg)"
        } else {
            "(unsigned SecAgg)"
        };
        assert!(stderr(&outs[0]).contains(mode), "{}", stderr(&outs[0]));
        let server = indomain_learn::model::ModelFile::load(&models[0]).unwrap();
        weights.push((server.weights, server.intercept));
    }
    // Fixed-point sums are exact, so both modes give the same model.
    assert_eq!(weights[0], weights[1]);

    // A table that gives c0 the key of c1 is refused by c0 before it
    // connects to anyone, naming the key it expected.
    let swapped = dir.path().join("swapped.txt");
    std::fs::write(
        &swapped,
        format!(
            "c0 {}\nc1 {}\nc2 {}\n",
            audit_key(&ps[2]),
            audit_key(&ps[2]),
            audit_key(&ps[3])
        ),
    )
    .unwrap();
    let model = dir.path().join("never.json");
    let err = refused(job_args(&ps, 1, &files, &model, Some(&swapped)));
    assert!(
        err.contains("not this identity's") && err.contains(&audit_key(&ps[1])),
        "{err}"
    );
    // An unknown name or a missing client is refused too.
    std::fs::write(
        &swapped,
        format!("c0 {}\nc9 {}\n", audit_key(&ps[1]), audit_key(&ps[2])),
    )
    .unwrap();
    let err = refused(job_args(&ps, 0, &files, &model, Some(&swapped)));
    assert!(err.contains("\"c9\" is not a client"), "{err}");
    assert!(!model.exists());
}
