//! `indomain demo`: every capability end to end on generated data, with a
//! report that checks each secure result against the plaintext computation.
//!
//! Part 1 runs three real `indomain node` processes on loopback (QUIC with
//! mutual TLS), each over an SQLite database of its own with a policy, and
//! submits jobs to them through their control sockets: PSI intersection,
//! cardinality, intersection-sum and join, secure statistics, statistics
//! with differential privacy spending from a data holder's monthly budget
//! (and a second release refused once it is spent), vertical training of
//! a logistic regression and of gradient-boosted trees on the same data
//! (both AUCs next to plaintext), WOE/IV binning and a scorecard, and one
//! job the policy refuses; then `audit verify` checks every node's log.
//! Part 2 runs what is not a node job: the
//! private verification service (an operator process and a client process), a
//! differentially private histogram (one `indomain aggregate` process per
//! agency) and SecAgg+ with dropouts in one process.

mod data;
mod dp_budget;
mod error;
mod gbdt;
mod gbdt_replay;
mod jobs;
mod node_jobs;
mod nodes;
mod private_release;
mod procs;
mod risk;
mod setup;
mod training;
mod verification;

use super::CliResult;
use error::DemoError;
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
    /// Leave the three nodes and the bank's operator console running when
    /// the demo is done, until Ctrl-C (the working directory is then
    /// removed unless --keep or --workdir).
    #[arg(long)]
    console: bool,
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

    let psi = data::psi_data(args.rows, 0.4, args.seed);
    let incomes = data::region_data(&AGENCIES, args.rows / 4, args.seed);

    println!("# Part 1: party nodes");
    println!();
    let sites = nodes
        .iter()
        .map(|n| nodes::Site::new(&exe, dir, n))
        .collect::<Result<Vec<_>, _>>()?;
    let [bank, tax, stats] = sites.as_slice() else {
        return Err("the demo has three organisations".into());
    };
    let roles = node_jobs::Sites { bank, tax, stats };
    let training_files = training::write_files(dir, args.rows / 4, args.seed)?;
    setup::write_databases(&roles, &psi, &incomes, &training_files)?;
    for site in &sites {
        site.write_config(
            &sites,
            &setup::datasets(site, &roles),
            &setup::policy(site, &roles),
        )?;
    }
    bank.enable_console()?;
    let mut outcomes = Runner::default();
    let kept_nodes = {
        let (running, ready) = nodes::start(&exe, &sites)?;
        println!("## Nodes started");
        for line in &ready {
            println!("  {line}");
        }
        println!();
        print_console(&ready[0])?;
        outcomes.run("PSI intersection as a node job", || {
            node_jobs::intersection(&roles, &psi)
        });
        outcomes.run("PSI cardinality as a node job", || {
            node_jobs::cardinality(&roles, &psi)
        });
        outcomes.run("PSI intersection-sum as a node job", || {
            node_jobs::intersection_sum(&roles, &psi)
        });
        outcomes.run("PSI join as a node job", || node_jobs::join(&roles, &psi));
        outcomes.run("Secure statistics as a node job", || {
            node_jobs::statistics(&roles, &incomes)
        });
        outcomes.run(
            "Statistics with differential privacy, under a budget",
            || dp_budget::spend(&roles, &incomes),
        );
        outcomes.run("A job refused for an exhausted DP budget", || {
            dp_budget::refused(&roles)
        });
        outcomes.run("Vertical training as a node job", || {
            training::node_training(&roles, &training_files, args.seed)
        });
        outcomes.run(
            "Gradient-boosted trees beside the logistic regression, as a node job",
            || gbdt::node_training(&roles, &training_files, args.seed),
        );
        outcomes.run("WOE/IV binning and a scorecard as node jobs", || {
            risk::binning_and_scorecard(&roles, &training_files, args.seed)
        });
        outcomes.run("A job outside policy", || node_jobs::refused(&roles));
        if args.console {
            Some(running)
        } else {
            drop(running);
            println!("(nodes stopped)");
            println!();
            None
        }
    };
    outcomes.run("Audit trail", || Ok(node_jobs::audit(&exe, &sites)));

    println!("# Part 2: a service and library use, outside the node");
    println!();
    outcomes.run("Private verification", || {
        verification::verification(&exe, dir, &nodes[1], &nodes[0], args.rows / 5, args.seed)
    });
    outcomes.run("Differentially private statistics", || {
        private_release::dp_histogram(&exe, dir, &nodes, &incomes)
    });
    outcomes.run("Secure aggregation", jobs::secure_aggregation);

    println!("total time: {:.1} s", started.elapsed().as_secs_f64());
    if args.keep && args.workdir.is_none() {
        // With --console the nodes still use the directory: it stays
        // where it is (the process ends at Ctrl-C without removing it).
        let kept = if args.console {
            dir.to_path_buf()
        } else {
            tmp_keep(dir)?
        };
        println!("kept: {}", kept.display());
    }
    if let Some(running) = kept_nodes {
        // Failed jobs too are there to look at in the console.
        if outcomes.failed > 0 {
            println!(
                "{} of {} jobs failed or did not match the plaintext",
                outcomes.failed, outcomes.count
            );
        }
        let remove = (!args.keep && args.workdir.is_none()).then(|| dir.to_path_buf());
        wait_for_ctrl_c(running, remove);
    }
    if outcomes.failed > 0 {
        return Err(format!(
            "{} of {} jobs failed or did not match the plaintext",
            outcomes.failed, outcomes.count
        )
        .into());
    }
    println!(
        "all {} jobs matched the plaintext computation",
        outcomes.count
    );
    Ok(())
}

/// Prints the bank's console address (from its node's ready line) and its
/// operator token.
fn print_console(ready: &str) -> Result<(), DemoError> {
    let after = ready
        .split(", console ")
        .nth(1)
        .ok_or(DemoError::Missing("the bank's node started no console"))?;
    let url = after.split_whitespace().next().unwrap_or_default();
    let token_file = after
        .split("(token in ")
        .nth(1)
        .and_then(|t| t.strip_suffix(')'))
        .unwrap_or_default();
    let token = std::fs::read_to_string(token_file).map_err(DemoError::io(token_file))?;
    println!("## Operator console of the bank's node");
    println!("  open {url} and log in with the token {}", token.trim());
    println!("  (the token file is {token_file}; `demo --console` keeps it running)");
    println!();
    Ok(())
}

/// The nodes `demo --console` leaves running, and the directory to remove,
/// for the Ctrl-C handler.
static KEPT: std::sync::Mutex<Option<(nodes::Running, Option<PathBuf>)>> =
    std::sync::Mutex::new(None);

/// Leaves the nodes and the console running until Ctrl-C, then stops them
/// and removes the working directory (unless it is kept).
fn wait_for_ctrl_c(running: nodes::Running, remove: Option<PathBuf>) -> ! {
    if let Ok(mut kept) = KEPT.lock() {
        *kept = Some((running, remove));
    }
    super::stop::on_signal(|_| {
        if let Some((running, remove)) = KEPT.lock().ok().and_then(|mut k| k.take()) {
            drop(running);
            if let Some(dir) = remove {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
        "the demo's nodes and console were stopped".to_string()
    });
    println!("The nodes and the bank's console keep running: press Ctrl-C to stop them.");
    super::stop::wait_for_exit()
}

/// Runs the demo's jobs one after the other and reports each.
#[derive(Default)]
struct Runner {
    count: usize,
    failed: usize,
}

impl Runner {
    fn run(&mut self, heading: &str, job: impl FnOnce() -> Result<jobs::Outcome, DemoError>) {
        self.count += 1;
        println!("## {}. {heading}", self.count);
        match job() {
            Ok(outcome) => {
                report(&outcome);
                self.failed += usize::from(!outcome.passed());
            }
            Err(e) => {
                println!("  failed:\n{}\n", procs::indent(&e.to_string()));
                self.failed += 1;
            }
        }
    }
}

fn report(o: &jobs::Outcome) {
    println!("  what:   {}", o.title);
    println!("  result: {}", o.result.replace('\n', "\n          "));
    println!("  check:  {}", o.check);
    println!("  time:   {:.2} s ({})", o.seconds, o.scope);
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

fn make_node(exe: &Path, dir: &Path, name: &'static str) -> Result<Node, DemoError> {
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
        .ok_or_else(|| DemoError::Printed {
            command: format!("keygen for {name}"),
            what: "fingerprint",
            output: out.clone(),
        })?;
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
