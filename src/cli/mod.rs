//! Command-line interface: one subcommand per capability, one file each.

mod aggregate;
mod demo;
mod keygen;
mod net_args;
mod predict;
mod psi;
mod train;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// The error type of every subcommand: anything displayable, printed with
/// its chain of causes.
pub type CliResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

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
    /// Private set intersection with one peer (intersection, cardinality,
    /// intersection-sum or aligned join).
    Psi(psi::Args),
    /// N-party secure statistics (sum, count, mean, variance, histogram)
    /// over numeric CSV columns.
    Aggregate(aggregate::Args),
    /// One party of a joint training job: vertical (label holder, feature
    /// holders, dealer) or horizontal (FedAvg clients and server).
    Train(train::Args),
    /// Score rows jointly with the model files of a vertical training job;
    /// only the label holder learns the scores.
    Predict(predict::Args),
    /// Run every capability end to end: real party processes on loopback
    /// over QUIC, on generated data, with a readable report.
    Demo(demo::Args),
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("INDOMAIN_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match cli.command {
        Command::Keygen(a) => keygen::run(a),
        Command::Psi(a) => psi::run(a),
        Command::Aggregate(a) => aggregate::run(a),
        Command::Train(a) => train::run(a),
        Command::Predict(a) => predict::run(a),
        Command::Demo(a) => demo::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            let mut source = e.source();
            while let Some(cause) = source {
                eprintln!("  caused by: {cause}");
                source = cause.source();
            }
            ExitCode::FAILURE
        }
    }
}
