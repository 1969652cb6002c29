//! Command-line interface: one subcommand per capability, one file each.

mod aggregate;
mod arg_error;
mod audit;
mod bin;
mod demo;
mod job;
mod keygen;
mod net_args;
mod node;
mod predict;
mod psi;
mod stop;
mod train;
mod verify;

use clap::{Parser, Subcommand};
use indomain_net::text::escape_and_cut;
use std::io::IsTerminal;
use std::process::ExitCode;

/// The error type of every subcommand: anything displayable, printed with
/// its chain of causes.
pub type CliResult = StepResult<()>;

/// What one step of a subcommand returns: its value, or the error that
/// ends the subcommand (see [`CliResult`]).
pub type StepResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// indomain — privacy-preserving computation between party nodes.
///
/// Raw data stays in its domain: each organisation runs a node next to its
/// own data, nodes talk over QUIC with mutual TLS, and only results leave a
/// node. Every party of a job is one process; give each the same job
/// parameters and its own identity, input and peers.
#[derive(Parser)]
#[command(name = "indomain", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create this node's certificate and private key, and print the
    /// fingerprint that peers put in their configuration.
    Keygen(keygen::Args),
    /// Print this node's NAME=sha256:<fingerprint> entry again (what peers
    /// pass as --peer, or before @HOST:PORT in --party).
    Fingerprint(keygen::FingerprintArgs),
    /// Private set intersection with one peer (intersection, cardinality,
    /// intersection-sum or aligned join).
    Psi(psi::Args),
    /// N-party secure statistics (sum, count, mean, variance, histogram)
    /// over numeric CSV columns.
    Aggregate(aggregate::Args),
    /// One party of a joint training job: vertical (label holder, feature
    /// holders, dealer) or horizontal (FedAvg clients and server).
    Train(Box<train::Args>),
    /// One party of a WOE/IV binning job (label holder, feature owners,
    /// dealer): local binning, every feature's WOE and IV, a binning file
    /// per party for a scorecard's training.
    Bin(bin::Args),
    /// Score rows jointly with the model files of a vertical training job;
    /// only the label holder learns the scores.
    Predict(predict::Args),
    /// Run this organisation's party node: datasets, policy, audit log,
    /// a control socket for the operator and a QUIC address for peers.
    Node(node::Args),
    /// Submit, list, inspect and cancel jobs on the local node.
    Job(job::Args),
    /// Verify and read a node's audit log; print a node's audit key.
    Audit(audit::Args),
    /// Run every capability end to end: real party processes on loopback
    /// over QUIC, on generated data, with a readable report.
    Demo(demo::Args),
    /// Private verification: an operator answers "does this record
    /// match?" per attribute without learning the query.
    Verify(verify::Args),
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("INDOMAIN_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    if let Err(e) = stop::install() {
        eprintln!("error: cannot watch for SIGINT and SIGTERM: {e}");
        return ExitCode::FAILURE;
    }
    let result = match cli.command {
        Command::Keygen(a) => keygen::run(a),
        Command::Fingerprint(a) => keygen::fingerprint(a),
        Command::Psi(a) => psi::run(a),
        Command::Aggregate(a) => aggregate::run(a),
        Command::Train(a) => train::run(*a),
        Command::Bin(a) => bin::run(a),
        Command::Predict(a) => predict::run(a),
        Command::Node(a) => node::run(a),
        Command::Job(a) => job::run(a),
        Command::Audit(a) => audit::run(a),
        Command::Demo(a) => demo::run(a),
        Command::Verify(a) => verify::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) if stop::interrupted() => stop::wait_for_exit(),
        Err(e) => {
            // Errors may quote a peer (a key spec, an abort reason): print
            // them escaped and cut, never raw onto an operator's terminal.
            let mut said = e.to_string();
            eprintln!("error: {}", printable(&said));
            let mut source = e.source();
            while let Some(cause) = source {
                // An error that quotes its cause (`FILE: reason`) has said it.
                let text = cause.to_string();
                if !said.ends_with(&text) {
                    eprintln!("  caused by: {}", printable(&text));
                }
                said = text;
                source = cause.source();
            }
            ExitCode::FAILURE
        }
    }
}

/// The longest line of an error message printed whole.
const MAX_ERROR_LINE: usize = 2000;

/// An error message with control characters escaped and overlong lines
/// cut (a peer's text inside it could otherwise be anything up to 1 MiB).
fn printable(message: &str) -> String {
    message
        .lines()
        .map(|line| escape_and_cut(line, MAX_ERROR_LINE))
        .collect::<Vec<_>>()
        .join("\n  ")
}
