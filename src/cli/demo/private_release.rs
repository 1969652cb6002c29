//! The demo's differentially private release: the three agencies run
//! `indomain aggregate` processes (QUIC, mutual TLS) for a histogram of
//! incomes by region with ε = 1; each clips its incomes and adds its
//! share of discrete Gaussian noise to its secret share before anything is
//! opened, so the statistics office receives only noisy counts. The report
//! puts each noisy count next to the exact one (which only this harness,
//! holding every file, can compute) and next to the noise's standard
//! deviation.

use super::Node;
use super::data::{REGIONS, RegionRows};
use super::error::DemoError;
use super::jobs::{MIN_GROUP, Outcome, PROCESSES, column, read_csv};
use super::procs::{self, Finished};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

/// The release's ε (δ is the command's default).
const EPSILON: &str = "1";
/// Bin edges of the income histogram; also the clip bounds.
const EDGES: [f64; 6] = [20_000.0, 40_000.0, 60_000.0, 80_000.0, 100_000.0, 120_000.0];

/// Runs the DP histogram over one `indomain aggregate` process per agency;
/// the last agency receives it.
pub fn dp_histogram(
    exe: &Path,
    dir: &Path,
    nodes: &[Node],
    incomes: &[RegionRows],
) -> Result<Outcome, DemoError> {
    let work = dir.join("dp-histogram");
    std::fs::create_dir_all(&work).map_err(DemoError::io(&work))?;
    let mut entries = Vec::new();
    for n in nodes {
        let addr = procs::free_udp_addr().map_err(DemoError::Port)?;
        entries.push(format!("{}@{addr}", n.peer_entry));
    }
    let receiver = nodes.last().ok_or(DemoError::Missing("no agencies"))?.name;
    let edges: Vec<String> = EDGES.iter().map(|e| e.to_string()).collect();
    let clip = format!("{},{}", EDGES[0], EDGES[EDGES.len() - 1]);
    let output = work.join("histogram.csv");
    let started = Instant::now();
    let children = nodes
        .iter()
        .zip(incomes)
        .map(|(node, rows)| {
            let input = work.join(format!("{}.csv", node.name));
            let mut text = String::from("region,income\n");
            for (region, income) in &rows.rows {
                text.push_str(&format!("{region},{income}\n"));
            }
            std::fs::write(&input, text).map_err(DemoError::io(&input))?;
            let mut cmd = Command::new(exe);
            cmd.arg("aggregate")
                .arg("--identity")
                .arg(&node.identity)
                .args(["--me", node.name, "--input"])
                .arg(&input)
                .args(["--stat", "histogram", "--columns", "income"])
                .args(["--group-by", "region", "--categories", &REGIONS.join(",")])
                .args(["--bins", &edges.join(",")])
                .args(["--receivers", receiver])
                .args(["--min-group-size", &MIN_GROUP.to_string()])
                .args(["--dp-epsilon", EPSILON, "--clip", &clip])
                .args(["--timeout", "60", "--quiet"]);
            for e in &entries {
                cmd.args(["--party", e]);
            }
            if node.name == receiver {
                cmd.arg("--output").arg(&output);
            }
            cmd.stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .map_err(|source| DemoError::Start {
                    program: node.name.to_string(),
                    source,
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut parties = Vec::new();
    let mut failed = Vec::new();
    for (node, child) in nodes.iter().zip(children) {
        let out = child
            .wait_with_output()
            .map_err(|source| DemoError::Start {
                program: node.name.to_string(),
                source,
            })?;
        let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
        if !out.status.success() {
            failed.push((node.name.to_string(), stderr.clone()));
        }
        parties.push(Finished {
            label: node.name.to_string(),
            stdout: String::new(),
            stderr,
        });
    }
    let seconds = started.elapsed().as_secs_f64();
    if !failed.is_empty() {
        return Err(DemoError::Parties { failed });
    }
    let summary = &parties
        .last()
        .ok_or(DemoError::Missing("no receiver"))?
        .stderr;
    let sd = figure_after(summary, "bin count")
        .ok_or(DemoError::Missing("the summary gives no noise scale"))?;
    let epsilon =
        figure_after(summary, "ε = ").ok_or(DemoError::Missing("the summary gives no ε"))?;
    let (result, check) = compare(&output, incomes, sd)?;
    Ok(Outcome {
        title: format!(
            "A differentially private histogram of incomes by region (ε = {EPSILON}), {} agencies, the {receiver} receives it",
            nodes.len()
        ),
        seconds,
        result: format!(
            "ε = {epsilon:.4} achieved (δ = 1e-6, zCDP accounting); noise standard deviation {sd:.2} rows per count; each party's noise share alone carries it\n{result}"
        ),
        check,
        parties,
        scope: PROCESSES,
    })
}

/// The number after `label` in a summary line.
fn figure_after(text: &str, label: &str) -> Option<f64> {
    let at = text.find(label)? + label.len();
    text[at..]
        .trim_start()
        .split(|c: char| !(c.is_ascii_digit() || c == '.' || c == 'e' || c == '-' || c == '+'))
        .next()?
        .parse()
        .ok()
}

/// The noisy counts next to the exact ones; the check passes if every
/// released count is within 5.5 standard deviations of the exact one (a
/// false alarm has probability below 10^−6 over the whole table) and a
/// group is suppressed only if its noisy count could be below the minimum.
fn compare(out: &Path, incomes: &[RegionRows], sd: f64) -> Result<(String, String), DemoError> {
    let mut exact: BTreeMap<(&str, usize), i64> = BTreeMap::new();
    let mut totals: BTreeMap<&str, i64> = BTreeMap::new();
    for (region, income) in incomes.iter().flat_map(|r| &r.rows) {
        let x = income.clamp(EDGES[0], EDGES[EDGES.len() - 1]);
        // Cells 1..=5 are the bins; the clip leaves the cells below and
        // above empty.
        let bin = 1 + EDGES[1..]
            .iter()
            .position(|&e| x < e)
            .unwrap_or(EDGES.len() - 2);
        *exact.entry((region, bin)).or_default() += 1;
        *totals.entry(region).or_default() += 1;
    }
    let (header, rows) = read_csv(out)?;
    let [g, status, lower, count] =
        ["group", "status", "bin_lower", "count"].map(|name| column(&header, name, out));
    let (g, status, lower, count) = (g?, status?, lower?, count?);
    let mut lines = Vec::new();
    let mut problems = Vec::new();
    let mut errors = Vec::new();
    for row in &rows {
        let region = row[g].as_str();
        if row[status] == "suppressed" {
            let total = totals.get(region).copied().unwrap_or(0);
            if (total as f64) > MIN_GROUP as f64 + 5.5 * sd {
                problems.push(format!("{region} suppressed with {total} rows"));
            }
            if !lines.iter().any(|l: &String| l.starts_with(region)) {
                lines.push(format!("{region}: suppressed (exact {total} rows)"));
            }
            continue;
        }
        let Ok(low) = row[lower].parse::<f64>() else {
            problems.push(format!("{region}: unreadable bin {}", row[lower]));
            continue;
        };
        // The cell: 0 below the first edge, 1..=5 the bins, 6 above.
        let bin = EDGES.iter().position(|&e| e == low).map_or(0, |i| i + 1);
        let want = exact.get(&(region, bin)).copied().unwrap_or(0);
        let upper = match bin {
            0 => EDGES[0].to_string(),
            b if b < EDGES.len() => EDGES[b].to_string(),
            _ => "inf".to_string(),
        };
        let shown = match row[count].parse::<i64>() {
            Ok(noisy) => {
                let error = noisy - want;
                errors.push(error as f64);
                if (error as f64).abs() > 5.5 * sd {
                    problems.push(format!("{region} [{low}): {noisy} vs exact {want}"));
                }
                format!("{noisy} (exact {want}, error {error:+})")
            }
            Err(_) => format!("suppressed (exact {want})"),
        };
        lines.push(format!("{region} [{low}, {upper}): {shown}"));
    }
    let mean_abs = errors.iter().map(|e| e.abs()).sum::<f64>() / errors.len().max(1) as f64;
    let expected = sd * (2.0 / std::f64::consts::PI).sqrt();
    lines.push(format!(
        "mean |error| {mean_abs:.2} rows over {} counts (expected E|N(0, sd²)| = {expected:.2})",
        errors.len()
    ));
    let check = if problems.is_empty() && !errors.is_empty() {
        format!(
            "ok: every released count within 5.5 noise standard deviations ({:.1} rows) of the exact count; cells below {MIN_GROUP} noisy rows suppressed",
            5.5 * sd
        )
    } else {
        format!("MISMATCH: {}", problems.join("; "))
    };
    Ok((lines.join("\n"), check))
}
