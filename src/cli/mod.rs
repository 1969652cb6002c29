//! Command-line interface: one subcommand per capability, one file each.

mod aggregate;
mod audit;
mod demo;
mod job;
mod keygen;
mod net_args;
mod node;
mod psi;

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
        Command::Node(a) => node::run(a),
        Command::Job(a) => job::run(a),
        Command::Audit(a) => audit::run(a),
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
