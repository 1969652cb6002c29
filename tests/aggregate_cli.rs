//! End to end: real `indomain aggregate` processes, one per party, over
//! QUIC on loopback, with identities from `indomain keygen`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

mod common;

use common::{BIN, free_port};
const REGIONS: [&str; 3] = ["north", "south", "islands"];

/// One input row: region, income, age.
type Row = (String, f64, f64);

struct Party {
    name: &'static str,
    identity: PathBuf,
    entry: String,
}

fn keygen(dir: &Path, name: &'static str) -> Party {
    let identity = dir.join(format!("{name}-id"));
    let trusted = common::keygen(name, &identity);
    Party {
        name,
        identity,
        entry: format!("{trusted}@127.0.0.1:{}", free_port()),
    }
}

/// Rows `region,income,age` for one party; "islands" only at party 0 (two
/// rows), so a minimum group size of 5 suppresses it.
fn write_input(path: &Path, party: u64) -> Vec<Row> {
    let rows: Vec<Row> = (0..40u64)
        .map(|i| {
            let region = if party == 0 && i < 2 {
                2
            } else {
                ((i * 7 + party) % 2) as usize
            };
            let income = ((i * 7919 + party * 104_729) % 100_000) as f64 / 8.0 - 3000.0;
            let age = 18.0 + ((i * 31 + party * 17) % 60) as f64;
            (REGIONS[region].to_string(), income, age)
        })
        .collect();
    let mut text = String::from("id,region,income,age\n");
    for (i, (r, inc, age)) in rows.iter().enumerate() {
        text.push_str(&format!("{i},{r},{inc},{age}\n"));
    }
    std::fs::write(path, text).unwrap();
    rows
}

fn spawn(
    parties: &[Party],
    me: usize,
    input: Option<&Path>,
    output: Option<&Path>,
    extra: &[&str],
) -> Child {
    let mut cmd = Command::new(BIN);
    cmd.arg("aggregate")
        .arg("--identity")
        .arg(&parties[me].identity)
        .args(["--me", parties[me].name]);
    if let Some(input) = input {
        cmd.arg("--input").arg(input);
    }
    cmd.args([
        "--receivers",
        "a,c",
        "--min-group-size",
        "5",
        "--timeout",
        "20",
        "--quiet",
    ])
    .args(extra);
    for p in parties {
        cmd.args(["--party", &p.entry]);
    }
    if let Some(out) = output {
        cmd.arg("--output").arg(out);
    }
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn run_job(
    dir: &Path,
    parties: &[Party],
    inputs: &[PathBuf],
    extra: &[&str],
) -> (Vec<Output>, Vec<PathBuf>) {
    let outputs: Vec<PathBuf> = (0..3).map(|i| dir.join(format!("out-{i}.csv"))).collect();
    // A fourth party is the dealer: no input, no output.
    let children: Vec<Child> = (0..parties.len())
        .map(|i| {
            let out = (i == 0 || i == 2).then(|| outputs[i].as_path());
            spawn(parties, i, inputs.get(i).map(PathBuf::as_path), out, extra)
        })
        .collect();
    let done = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    (done, outputs)
}

fn setup() -> (tempfile::TempDir, Vec<Party>, Vec<PathBuf>, Vec<Vec<Row>>) {
    let dir = tempfile::tempdir().unwrap();
    let parties: Vec<Party> = ["a", "b", "c"]
        .into_iter()
        .map(|n| keygen(dir.path(), n))
        .collect();
    let inputs: Vec<PathBuf> = (0..3)
        .map(|i| dir.path().join(format!("in-{i}.csv")))
        .collect();
    let rows = inputs
        .iter()
        .enumerate()
        .map(|(i, p)| write_input(p, i as u64))
        .collect();
    (dir, parties, inputs, rows)
}

#[test]
fn three_processes_and_a_dealer_compute_grouped_variances_and_suppress_small_groups() {
    let (dir, mut parties, inputs, rows) = setup();
    parties.push(keygen(dir.path(), "d"));
    let (done, outputs) = run_job(
        dir.path(),
        &parties,
        &inputs,
        &[
            "--dealer",
            "d",
            "--stat",
            "variance",
            "--columns",
            "income,age",
            "--group-by",
            "region",
            "--categories",
            "north,south,islands",
            "--max-abs",
            "20000",
            "--frac-bits",
            "12",
        ],
    );
    for (i, out) in done.iter().enumerate() {
        assert!(
            out.status.success(),
            "party {i}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(String::from_utf8_lossy(&done[1].stderr).contains("not a result receiver"));
    assert!(String::from_utf8_lossy(&done[3].stderr).contains("(dealer)"));
    assert!(!outputs[1].exists());
    // Plaintext reference over the pooled rows.
    let mut pooled: BTreeMap<&str, Vec<(f64, f64)>> = BTreeMap::new();
    for (r, inc, age) in rows.iter().flatten() {
        pooled.entry(r.as_str()).or_default().push((*inc, *age));
    }
    let text = std::fs::read_to_string(&outputs[0]).unwrap();
    assert_eq!(text, std::fs::read_to_string(&outputs[2]).unwrap());
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("group,status,column,count,sum,sum_squares,mean,variance")
    );
    let mut seen = 0;
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        if cells[0] == "islands" {
            assert_eq!(cells[1..], ["suppressed", "", "", "", "", "", ""]);
            continue;
        }
        let values: Vec<f64> = pooled[cells[0]]
            .iter()
            .map(|(inc, age)| if cells[2] == "income" { *inc } else { *age })
            .collect();
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
        assert_eq!(cells[3].parse::<usize>().unwrap(), values.len());
        let got_mean: f64 = cells[6].parse().unwrap();
        let got_var: f64 = cells[7].parse().unwrap();
        assert!((got_mean - mean).abs() < 1e-3, "{line}: mean {mean}");
        assert!(
            (got_var - var).abs() < 1e-6 * var + 1e-2,
            "{line}: variance {var}"
        );
        seen += 1;
    }
    assert_eq!(seen, 4);
}

#[test]
fn a_bad_cell_names_file_line_and_column_and_the_others_stop_naming_the_party() {
    let (dir, parties, inputs, _) = setup();
    let text = std::fs::read_to_string(&inputs[1]).unwrap();
    // Line 5 (the fourth data row) gets a non-numeric age.
    let bad: String = text
        .lines()
        .enumerate()
        .map(|(i, l)| match (i, l.rsplit_once(',')) {
            (4, Some((head, _))) => format!("{head},twelve\n"),
            _ => format!("{l}\n"),
        })
        .collect();
    std::fs::write(&inputs[1], bad).unwrap();
    let (done, outputs) = run_job(
        dir.path(),
        &parties,
        &inputs,
        &[
            "--open-counts-to-decider",
            "--stat",
            "sum",
            "--columns",
            "income,age",
        ],
    );
    let err_b = String::from_utf8_lossy(&done[1].stderr);
    assert!(!done[1].status.success());
    let place = format!("{}:5:4: column \"age\"", inputs[1].display());
    assert!(
        err_b.contains(&place) && err_b.contains("twelve"),
        "{err_b}"
    );
    for i in [0, 2] {
        let err = String::from_utf8_lossy(&done[i].stderr);
        assert!(!done[i].status.success(), "party {i} succeeded");
        // b refuses its own input before the network: the others name it
        // as the party that never came.
        assert!(
            err.contains("b did not connect") || err.contains("connection to b at"),
            "party {i}: {err}"
        );
        assert!(!outputs[i].exists(), "party {i} released a result");
    }
}

#[test]
fn help_describes_the_output_format_it_refers_to() {
    let out = Command::new(BIN)
        .args(["aggregate", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(!help.contains("see above"), "{help}");
    assert!(
        help.contains("OUT.csv (long format")
            && help.contains("group,status,column,count,sum,mean"),
        "{help}"
    );
}

#[test]
fn without_a_dealer_the_job_is_refused_unless_the_decider_may_see_counts() {
    let (dir, parties, inputs, _) = setup();
    let out = spawn(
        &parties,
        0,
        Some(&inputs[0]),
        Some(&dir.path().join("out.csv")),
        &["--stat", "count"],
    )
    .wait_with_output()
    .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("--dealer NAME") && err.contains("--open-counts-to-decider"),
        "{err}"
    );
    // The dealer may be neither a receiver nor hold data.
    let mut with_d = parties;
    with_d.push(keygen(dir.path(), "d"));
    let out = spawn(
        &with_d,
        3,
        Some(&inputs[0]),
        None,
        &["--stat", "count", "--dealer", "d"],
    )
    .wait_with_output()
    .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("holds no data: drop --input"), "{err}");
}

#[test]
fn histogram_cells_with_a_dealer_are_released_or_suppressed_by_comparison() {
    let (dir, mut parties, inputs, rows) = setup();
    parties.push(keygen(dir.path(), "d"));
    let (done, outputs) = run_job(
        dir.path(),
        &parties,
        &inputs,
        &[
            "--dealer",
            "d",
            "--stat",
            "histogram",
            "--columns",
            "age",
            "--bins",
            "18,30,70,77",
        ],
    );
    for (i, out) in done.iter().enumerate() {
        assert!(
            out.status.success(),
            "party {i}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Per cell, per party: the rows of each age bin.
    let edges = [18.0, 30.0, 70.0, 77.0];
    let cell = |x: f64| match edges.iter().position(|&e| x < e) {
        Some(i) => i,
        None if x <= 77.0 => 3,
        None => 4,
    };
    let mut counts = [[0u64; 3]; 5];
    for (p, party_rows) in rows.iter().enumerate() {
        for (_, _, age) in party_rows {
            counts[cell(*age)][p] += 1;
        }
    }
    let text = std::fs::read_to_string(&outputs[0]).unwrap();
    assert_eq!(text, std::fs::read_to_string(&outputs[2]).unwrap());
    let got: Vec<String> = text
        .lines()
        .skip(1)
        .map(|l| l.rsplit(',').next().unwrap().to_string())
        .collect();
    assert_eq!(got.len(), 5, "{text}");
    let mut suppressed = 0;
    for (i, g) in got.iter().enumerate() {
        let total: u64 = counts[i].iter().sum();
        // Receivers a and c: the other parties' rows must reach 5.
        let passes = [0, 2].iter().all(|&r| total - counts[i][r] >= 5);
        if g == "suppressed" {
            suppressed += 1;
        } else {
            assert!(passes, "cell {i} released: {text}");
            assert_eq!(g.parse::<u64>().unwrap(), total, "{text}");
        }
    }
    // Below 18 and above 77 are empty; two cells hidden, never one.
    assert!(suppressed >= 2, "{text}");
}

#[test]
fn two_processes_compare_counts_over_quic_without_a_dealer() {
    let dir = tempfile::tempdir().unwrap();
    // Two data parties, both receivers: "a" (with the two island rows) and "c".
    let parties: Vec<Party> = ["a", "c"]
        .into_iter()
        .map(|n| keygen(dir.path(), n))
        .collect();
    let inputs: Vec<PathBuf> = (0..2)
        .map(|i| dir.path().join(format!("in-{i}.csv")))
        .collect();
    let rows: Vec<Vec<Row>> = inputs
        .iter()
        .enumerate()
        .map(|(i, p)| write_input(p, 2 * i as u64))
        .collect();
    let outputs: Vec<PathBuf> = (0..2)
        .map(|i| dir.path().join(format!("out-{i}.csv")))
        .collect();
    let extra = [
        "--stat",
        "count",
        "--group-by",
        "region",
        "--categories",
        "north,south,islands",
    ];
    let children: Vec<Child> = (0..2)
        .map(|i| spawn(&parties, i, Some(&inputs[i]), Some(&outputs[i]), &extra))
        .collect();
    let done: Vec<Output> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    for (i, out) in done.iter().enumerate() {
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "party {i}: {err}");
        assert!(err.contains("correlations: two-party"), "{err}");
    }
    let text = std::fs::read_to_string(&outputs[0]).unwrap();
    assert_eq!(text, std::fs::read_to_string(&outputs[1]).unwrap());
    let mut pooled: BTreeMap<&str, usize> = BTreeMap::new();
    for (r, _, _) in rows.iter().flatten() {
        *pooled.entry(r.as_str()).or_default() += 1;
    }
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("group,status,count"));
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        if cells[0] == "islands" {
            // Only a's two rows: c's view of the others has 2 < 5 rows.
            assert_eq!(cells[1..], ["suppressed", ""], "{line}");
        } else {
            assert_eq!(
                cells[2].parse::<usize>().unwrap(),
                pooled[cells[0]],
                "{line}"
            );
        }
    }
}
