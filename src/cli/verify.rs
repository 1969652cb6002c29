//! `indomain verify`: the private verification service. The operator
//! publishes signed versions of a dataset (`publish`) and serves OPRF
//! evaluations to pinned clients (`serve`); a client verifies records
//! against the published table (`query`).

mod publish;
mod query;
mod serve;
mod sqlite;
mod store;

use super::CliResult;

const AFTER_HELP: &str = "\
The operator runs `publish` for each dataset version (a fresh OPRF key) or
update (`--update`: a new revision under the same key, only changed records
evaluated), then `serve`. Clients are pinned by certificate fingerprint
(--peer NAME=sha256:..., from `indomain keygen`); an unlisted certificate is
refused at the TLS handshake. `publish` prints the operator's signing key,
which clients pass as --operator-key to check every table and answer.

Each OPRF evaluation a client asks for tests one guess of a (key,
attribute, value) entry, so `serve` limits them per client certificate
(--rate, --burst, --quota) and appends one line per request (client name
and counts, never query content) to the usage log. Quotas span versions and
restarts; they start from zero only with `serve --reset-usage`, and `serve`
refuses a missing or empty log once the store has recorded usage.

`publish` reads a CSV file (--data) or an SQLite database (--sqlite, with
--table or --query).";

/// Arguments of `indomain verify`.
#[derive(clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Operator: publish a new version (or, with --update, a new revision)
    /// of a dataset from CSV or SQLite for verification.
    Publish(publish::Args),
    /// Operator: serve OPRF evaluations for the current version to pinned
    /// clients over QUIC.
    Serve(serve::Args),
    /// Client: verify records from a CSV file against the operator.
    Query(query::Args),
}

pub fn run(args: Args) -> CliResult {
    match args.command {
        Command::Publish(a) => publish::run(a),
        Command::Serve(a) => serve::run(a),
        Command::Query(a) => query::run(a),
    }
}
