//! `indomain demo`: every capability end to end, with real party processes
//! on loopback over QUIC with mutual TLS, on generated data, and a report
//! that checks each secure result against the plaintext computation.

mod data;
mod jobs;
mod procs;
mod training;

use super::CliResult;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Arguments of `indomain demo`.
#[derive(clap::Args)]
pub struct Args {
    /// Directory for the demo's identities, inputs and outputs. Default: a
    /// fresh temporary directory, removed at the end unless --keep is given.
    #[arg(long, value_name = "DIR")]
    workdir: Option<PathBuf>,
    /// Keep the working directory (with every party's input and output).
    #[arg(long)]
    keep: bool,
    /// Rows per agency in the PSI jobs.
    #[arg(long, default_value_t = 20_000, value_name = "N")]
    rows: usize,
    /// Seed for the generated data (the protocols' own randomness always
    /// comes from the operating system).
    #[arg(long, default_value_t = 7)]
    seed: u64,
}

/// The agencies of the demo, each a node with its own identity.
const AGENCIES: [&str; 3] = ["bank", "tax-bureau", "statistics-office"];

/// One node of the demo: its identity directory and its `--peer` entry.
struct Node {
    name: &'static str,
    identity: PathBuf,
    peer_entry: String,
}

pub fn run(args: Args) -> CliResult {
    let exe = std::env::current_exe()?;
    let tmp;
    let dir: &Path = match &args.workdir {
        Some(d) => {
            std::fs::create_dir_all(d)?;
            d
        }
        None => {
            tmp = tempfile::Builder::new()
                .prefix("indomain-demo-")
                .tempdir()?;
            tmp.path()
        }
    };
    let started = Instant::now();
    println!("indomain demo — raw data stays in its domain; only results leave a node");
    println!("working directory: {}", dir.display());
    println!();

    println!("## Nodes");
    let nodes = AGENCIES
        .iter()
        .map(|name| make_node(&exe, dir, name))
        .collect::<Result<Vec<_>, _>>()?;
    for n in &nodes {
        println!("  {:<18} {}", n.name, n.peer_entry);
    }
    println!();

    let psi = data::psi_data(dir, args.rows, 0.4, args.seed)?;
    let incomes = data::region_data(dir, &AGENCIES, args.rows / 4, args.seed)?;
    let setup = jobs::PsiSetup {
        exe: &exe,
        dir,
        bank: &nodes[0],
        tax: &nodes[1],
        psi: &psi,
    };
    type Job<'a> = Box<dyn Fn() -> Result<jobs::Outcome, String> + 'a>;
    let all: Vec<Job> = vec![
        Box::new(|| jobs::intersection(&setup)),
        Box::new(|| jobs::cardinality(&setup)),
        Box::new(|| jobs::intersection_sum(&setup)),
        Box::new(|| jobs::join(&setup)),
        Box::new(|| jobs::statistics(&exe, dir, &nodes, &incomes)),
        Box::new(jobs::secure_aggregation),
        Box::new(|| training::vertical_training(&exe, dir, &nodes, args.rows / 4, args.seed)),
    ];
    let mut failed = 0;
    for (i, job) in all.iter().enumerate() {
        match job() {
            Ok(outcome) => {
                report(i + 1, &outcome);
                failed += usize::from(!outcome.passed());
            }
            Err(e) => {
                println!("## {}. failed\n{}\n", i + 1, procs::indent(&e));
                failed += 1;
            }
        }
    }

    println!("total time: {:.1} s", started.elapsed().as_secs_f64());
    if args.keep && args.workdir.is_none() {
        let kept = tmp_keep(dir)?;
        println!("kept: {}", kept.display());
    }
    if failed > 0 {
        return Err(format!(
            "{failed} of {} jobs failed or did not match the plaintext",
            all.len()
        )
        .into());
    }
    println!("all {} jobs matched the plaintext computation", all.len());
    Ok(())
}

fn report(n: usize, o: &jobs::Outcome) {
    println!("## {n}. {}", o.title);
    println!("  result: {}", o.result.replace('\n', "\n          "));
    println!("  check:  {}", o.check);
    let scope = if o.parties.is_empty() {
        "in this process"
    } else {
        "processes started, connected, computed, exited"
    };
    println!("  time:   {:.2} s ({scope})", o.seconds);
    for p in &o.parties {
        println!("  [{}]", p.label);
        for text in [p.stdout.trim(), p.stderr.trim()] {
            if !text.is_empty() {
                println!("{}", procs::indent(text));
            }
        }
    }
    println!();
}

fn make_node(exe: &Path, dir: &Path, name: &'static str) -> Result<Node, String> {
    let identity = dir.join(format!("{name}.id"));
    let out = procs::run_one(
        exe,
        &[
            "keygen",
            "--name",
            name,
            "--out",
            &identity.to_string_lossy(),
            "--force",
        ],
    )?;
    let peer_entry = out
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix(&format!("{name}="))
                .map(|fp| format!("{name}={fp}"))
        })
        .ok_or_else(|| format!("keygen for {name} printed no fingerprint:\n{out}"))?;
    Ok(Node {
        name,
        identity,
        peer_entry,
    })
}

fn tmp_keep(dir: &Path) -> std::io::Result<PathBuf> {
    let kept = std::env::temp_dir().join(format!("indomain-demo-kept-{}", std::process::id()));
    std::fs::rename(dir, &kept)?;
    Ok(kept)
}
