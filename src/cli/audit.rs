//! `indomain audit verify | show | repair | key | commitment`: check, read
//! and mend a node's audit log.

use super::CliResult;
use super::job::Out;
use indomain_node::audit::commitment::Salt;
use indomain_node::audit::key::{format_public_key, parse_public_key, signing_key};
use indomain_node::audit::log::repair;
use indomain_node::audit::show::describe;
use indomain_node::audit::verify::{Checks, Receipts, verify_log};
use indomain_node::bounds::printable;
use indomain_node::config::NodeConfig;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Arguments of `indomain audit`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

/// Which log, and the key that signed it.
#[derive(clap::Args)]
struct Which {
    /// The log (default: the configuration's `audit_log`).
    #[arg(long, value_name = "FILE")]
    log: Option<PathBuf>,
    /// The public audit key of the node that wrote the log, as `indomain
    /// audit key` printed it (default: derived from the configuration's
    /// identity).
    #[arg(long, value_name = "ed25519:HEX")]
    key: Option<String>,
    /// A node configuration: its log, its key, and its peers' audit keys
    /// (which check the receipts; without it receipts are counted, not
    /// checked).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Check the chain, every record's stored bytes and signature, every
    /// receipt, and that the log reaches each --head; name the first bad
    /// record.
    Verify {
        #[command(flatten)]
        which: Which,
        /// A head hash kept elsewhere (`audit_head_file`, a peer's copy of
        /// a receipt, an earlier `audit verify`): the log must reach it,
        /// or records were cut off its end. May be repeated.
        #[arg(long, value_name = "HASH")]
        head: Vec<String>,
    },
    /// Verify the log, then print it readably (peer text escaped and cut).
    Show {
        #[command(flatten)]
        which: Which,
    },
    /// Drop a torn last line (a record a crash left half-written), saying
    /// what was dropped; anything else wrong with the log is left to
    /// `verify` to name.
    Repair {
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
    /// Print the commitment of an output file under its salt (the file
    /// beside it ending in `.salt`, or 64 hex digits), to compare with the
    /// commitment a signed receipt quotes for it.
    Commitment {
        /// The output file.
        file: PathBuf,
        /// Its salt: a salt file, or 64 hex digits (default: FILE.salt).
        #[arg(long, value_name = "FILE|HEX")]
        salt: Option<String>,
        /// Exit with status 1 unless the commitment is this one.
        #[arg(long, value_name = "HEX")]
        expect: Option<String>,
    },
}

/// The log, its key and the peers' keys that `which` names.
type Target = (
    PathBuf,
    ed25519_dalek::VerifyingKey,
    Option<BTreeMap<String, ed25519_dalek::VerifyingKey>>,
);

impl Which {
    fn resolve(self) -> Result<Target, Box<dyn std::error::Error + Send + Sync>> {
        let config = self.config.map(|c| NodeConfig::load(&c)).transpose()?;
        let log = self
            .log
            .or_else(|| config.as_ref().map(|c| c.audit_log.clone()))
            .ok_or("give --log or --config")?;
        let key = match (self.key, &config) {
            (Some(k), _) => parse_public_key(&k)?,
            (None, Some(c)) => signing_key(&c.identity)?.verifying_key(),
            (None, None) => return Err("give --key (the log's audit key) or --config".into()),
        };
        let peers = config.map(|c| {
            c.peers
                .values()
                .map(|p| (p.name.clone(), p.audit_key))
                .collect()
        });
        Ok((log, key, peers))
    }
}

pub fn run(args: Args) -> CliResult {
    match args.command {
        Command::Verify { which, head } => {
            let (log, key, peers) = which.resolve()?;
            let receipts = match &peers {
                Some(p) => Receipts::Against(p),
                None => Receipts::Unchecked,
            };
            let checks = Checks {
                receipts,
                heads: &head,
            };
            let v = verify_log(&log, &key, checks, &mut |_| {})?;
            let unchecked = if v.receipts_unchecked > 0 {
                format!(
                    ", {} receipts not checked (give --config for the peers' keys)",
                    v.receipts_unchecked
                )
            } else {
                String::new()
            };
            let heads = if head.is_empty() {
                String::new()
            } else {
                format!(", reaches every --head ({})", head.len())
            };
            println!(
                "{}: OK — {} records ({} job records, {} receipts{unchecked}){heads}, head {}",
                log.display(),
                v.records,
                v.jobs,
                v.receipts,
                v.head
            );
        }
        Command::Show { which } => {
            let (log, key, peers) = which.resolve()?;
            let receipts = match &peers {
                Some(p) => Receipts::Against(p),
                None => Receipts::Unchecked,
            };
            let checks = Checks {
                receipts,
                heads: &[],
            };
            // Print only what verified: the records before a bad one, then
            // the error.
            let mut out = Out::new();
            let mut failed = None;
            let verified = verify_log(&log, &key, checks, &mut |r| {
                if failed.is_none()
                    && let Err(e) = out.line(&describe(r))
                {
                    failed = Some(e);
                }
            });
            if let Some(e) = failed {
                return Err(e.into());
            }
            verified?;
        }
        Command::Repair { log, config } => {
            let log = match (log, config) {
                (Some(l), _) => l,
                (None, Some(c)) => NodeConfig::load(&c)?.audit_log,
                (None, None) => return Err("give --log or --config".into()),
            };
            match repair(&log)? {
                None => println!(
                    "{}: the last line is whole; nothing to repair (`audit verify` checks the rest)",
                    log.display()
                ),
                Some(d) => println!(
                    "{}: dropped the torn last line (line {}, {} bytes): {}",
                    log.display(),
                    d.line + 1,
                    d.bytes.len(),
                    printable(&String::from_utf8_lossy(&d.bytes), 400)
                ),
            }
        }
        Command::Key { identity } => println!(
            "{}",
            format_public_key(&signing_key(&identity)?.verifying_key())
        ),
        Command::Commitment { file, salt, expect } => {
            let salt = read_salt(&file, salt.as_deref())?;
            let bytes = std::fs::read(&file).map_err(|e| format!("{}: {e}", file.display()))?;
            let commitment = salt.commit(&bytes);
            println!("{commitment}");
            if let Some(expected) = expect
                && !commitment.eq_ignore_ascii_case(expected.trim())
            {
                return Err(format!(
                    "{}: its commitment is not {}",
                    file.display(),
                    printable(&expected, 80)
                )
                .into());
            }
        }
    }
    Ok(())
}

/// The salt of output `file`: given as hex, in a salt file, or in
/// `FILE.salt`.
fn read_salt(file: &Path, given: Option<&str>) -> Result<Salt, SaltError> {
    if let Some(s) = given.and_then(Salt::from_hex) {
        return Ok(s);
    }
    let path = match given {
        Some(p) => PathBuf::from(p),
        None => {
            let mut p = file.as_os_str().to_owned();
            p.push(indomain_node::audit::commitment::SALT_SUFFIX);
            PathBuf::from(p)
        }
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(source) => return Err(SaltError::Read { path, source }),
    };
    Salt::from_hex(&text).ok_or(SaltError::NotHex { path })
}

/// Why the salt of an output's commitment could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
enum SaltError {
    /// The salt file could not be read.
    #[error("{}: {source}", path.display())]
    Read {
        /// The salt file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The salt file does not hold 64 hex digits.
    #[error("{}: not 64 hex digits", path.display())]
    NotHex {
        /// The salt file.
        path: PathBuf,
    },
}
