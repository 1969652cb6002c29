//! The README's main command, end to end: `indomain demo` starts real party
//! processes on loopback over QUIC with mutual TLS and checks every secure
//! result against the plaintext computation; it must report that all matched.

use std::process::Command;

#[test]
fn demo_runs_every_job_and_matches_plaintext() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_indomain"))
        .args(["demo", "--rows", "1500", "--workdir"])
        .arg(dir.path())
        .output()
        .expect("run indomain demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "demo failed:\n{stdout}\n{stderr}");
    assert!(
        stdout.contains("all 7 jobs matched the plaintext computation"),
        "{stdout}"
    );
    assert!(!stdout.contains("MISMATCH"), "{stdout}");
    // Every party's output landed, and no partial file was left behind.
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().any(|n| n == "income_by_region.csv"),
        "{names:?}"
    );
    assert!(
        !names.iter().any(|n| n.starts_with(".indomain-partial")),
        "{names:?}"
    );
}
