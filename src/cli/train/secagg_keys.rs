//! `--secagg-keys`: the table of every horizontal client's SecAgg identity
//! key, which turns on signed SecAgg rounds (signed keys and the
//! consistency check against a malicious server).
//!
//! Each client's key is its node's audit key, derived from its TLS
//! identity (`indomain audit key --identity DIR` prints it), so no new
//! secret is stored. The table must reach every party by a channel the
//! server does not control (like the party list); the clients never see
//! each other's certificates, so they cannot check each other's keys
//! through TLS.

use indomain_aggregate::secagg::Pki;
use indomain_aggregate::secagg::signing::SigningKey;
use indomain_node::NodeError;
use indomain_node::audit::key::{format_public_key, parse_public_key, signing_key};
use std::path::{Path, PathBuf};

/// Why the `--secagg-keys` table, or this client's key in it, is refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyTableError {
    /// The table file could not be read.
    #[error("--secagg-keys {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A line of the table is refused.
    #[error("--secagg-keys {}, line {line}: {problem}", path.display())]
    Line {
        /// The file.
        path: PathBuf,
        /// The line (from 1).
        line: usize,
        /// What is wrong with it.
        problem: LineProblem,
    },
    /// A client of the job has no key in the table.
    #[error("--secagg-keys {}: no key for {name}", path.display())]
    NoKey {
        /// The file.
        path: PathBuf,
        /// The client.
        name: String,
    },
    /// This node's identity has no signing key.
    #[error(transparent)]
    Identity(NodeError),
    /// The table's key for this client is not this identity's.
    #[error(
        "--secagg-keys lists a key for {name} that is not this identity's ({key}; `indomain audit key --identity {}` prints it)",
        identity.display()
    )]
    NotThisIdentity {
        /// This client.
        name: String,
        /// This identity's key.
        key: String,
        /// The identity directory.
        identity: PathBuf,
    },
}

/// What is wrong with one line of the key table.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LineProblem {
    /// It is not two words.
    #[error("expected NAME ed25519:<hex>")]
    Form,
    /// Its name is not a client of the job.
    #[error("{0:?} is not a client of this job")]
    NotAClient(String),
    /// A second line for the same client.
    #[error("a second key for {0}")]
    Repeated(String),
    /// Its key does not parse.
    #[error(transparent)]
    Key(NodeError),
}

/// The key table of a job, by client index.
pub struct KeyTable {
    /// Every client's key, in the order of the clients.
    pub pki: Pki,
    /// What every party must agree on (added to the job agreement).
    pub agreement: String,
}

/// Reads `NAME ed25519:<hex>` lines (blank lines and `#` comments
/// skipped) for exactly the clients `clients` (names).
pub fn load(path: &Path, clients: &[&str]) -> Result<KeyTable, KeyTableError> {
    let text = std::fs::read_to_string(path).map_err(|source| KeyTableError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let mut keys = vec![None; clients.len()];
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let at = |problem| KeyTableError::Line {
            path: path.to_path_buf(),
            line: i + 1,
            problem,
        };
        let mut words = line.split_whitespace();
        let (Some(name), Some(key), None) = (words.next(), words.next(), words.next()) else {
            return Err(at(LineProblem::Form));
        };
        let slot = clients
            .iter()
            .position(|&c| c == name)
            .ok_or_else(|| at(LineProblem::NotAClient(name.to_string())))?;
        if keys[slot].is_some() {
            return Err(at(LineProblem::Repeated(name.to_string())));
        }
        keys[slot] = Some(parse_public_key(key).map_err(|e| at(LineProblem::Key(e)))?);
    }
    let keys = keys
        .into_iter()
        .zip(clients)
        .map(|(k, name)| {
            k.ok_or_else(|| KeyTableError::NoKey {
                path: path.to_path_buf(),
                name: name.to_string(),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let agreement = keys
        .iter()
        .map(format_public_key)
        .collect::<Vec<_>>()
        .join(",");
    Ok(KeyTable {
        pki: Pki::new(keys),
        agreement,
    })
}

/// This client's signing key, checked against its entry in the table.
pub fn own_key(
    identity: &Path,
    table: &KeyTable,
    me: usize,
    name: &str,
) -> Result<SigningKey, KeyTableError> {
    let key = signing_key(identity).map_err(KeyTableError::Identity)?;
    if table.pki.key(me) != Some(&key.verifying_key()) {
        return Err(KeyTableError::NotThisIdentity {
            name: name.to_string(),
            key: format_public_key(&key.verifying_key()),
            identity: identity.to_path_buf(),
        });
    }
    Ok(key)
}
