//! `indomain audit verify | show | key`: check and read a node's audit log.

use super::CliResult;
use indomain_node::audit::key::{format_public_key, parse_public_key, signing_key};
use indomain_node::audit::show::describe;
use indomain_node::audit::verify::{read_records, verify_records};
use indomain_node::config::NodeConfig;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Arguments of `indomain audit`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Check the chain, every record's signature and every receipt; name
    /// the first bad record.
    Verify {
        /// The log (default: the configuration's `audit_log`).
        #[arg(long, value_name = "FILE")]
        log: Option<PathBuf>,
        /// The public audit key of the node that wrote the log, as
        /// `indomain audit key` printed it (default: derived from the
        /// configuration's identity).
        #[arg(long, value_name = "ed25519:HEX")]
        key: Option<String>,
        /// A node configuration: its peers' audit keys check the receipts.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Print the log readably.
    Show {
        /// The log (default: the configuration's `audit_log`).
        #[arg(long, value_name = "FILE", required_unless_present = "config")]
        log: Option<PathBuf>,
        /// A node configuration.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Print the public audit key of an identity, for peers' `audit_key`.
    Key {
        /// Directory with node.crt and node.key.
        #[arg(long, value_name = "DIR")]
        identity: PathBuf,
    },
}

pub fn run(args: Args) -> CliResult {
    match args.command {
        Command::Verify { log, key, config } => {
            let config = config.map(|c| NodeConfig::load(&c)).transpose()?;
            let log = log
                .or_else(|| config.as_ref().map(|c| c.audit_log.clone()))
                .ok_or("give --log or --config")?;
            let key = match (key, &config) {
                (Some(k), _) => parse_public_key(&k)?,
                (None, Some(c)) => signing_key(&c.identity)?.verifying_key(),
                (None, None) => return Err("give --key or --config".into()),
            };
            let peers: BTreeMap<_, _> = config
                .iter()
                .flat_map(|c| c.peers.values())
                .map(|p| (p.name.clone(), p.audit_key))
                .collect();
            let v = verify_records(&log, &key, &peers, true)?;
            println!(
                "{}: OK — {} records ({} job records, {} receipts), head {}",
                log.display(),
                v.records,
                v.jobs,
                v.receipts,
                v.head
            );
        }
        Command::Show { log, config } => {
            let log = match (log, config) {
                (Some(l), _) => l,
                (None, Some(c)) => NodeConfig::load(&c)?.audit_log,
                (None, None) => return Err("give --log or --config".into()),
            };
            for record in read_records(&log)? {
                println!("{}", describe(&record));
            }
        }
        Command::Key { identity } => println!(
            "{}",
            format_public_key(&signing_key(&identity)?.verifying_key())
        ),
    }
    Ok(())
}
