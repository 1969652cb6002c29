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
use indomain_node::audit::key::{format_public_key, parse_public_key, signing_key};
use std::path::Path;

/// The key table of a job, by client index.
pub struct KeyTable {
    /// Every client's key, in the order of the clients.
    pub pki: Pki,
    /// What every party must agree on (added to the job agreement).
    pub agreement: String,
}

/// Reads `NAME ed25519:<hex>` lines (blank lines and `#` comments
/// skipped) for exactly the clients `clients` (names).
pub fn load(path: &Path, clients: &[&str]) -> Result<KeyTable, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("--secagg-keys {}: {e}", path.display()))?;
    let mut keys = vec![None; clients.len()];
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let at = || format!("--secagg-keys {}, line {}", path.display(), i + 1);
        let mut words = line.split_whitespace();
        let (Some(name), Some(key), None) = (words.next(), words.next(), words.next()) else {
            return Err(format!("{}: expected NAME ed25519:<hex>", at()));
        };
        let slot = clients
            .iter()
            .position(|&c| c == name)
            .ok_or_else(|| format!("{}: {name:?} is not a client of this job", at()))?;
        if keys[slot].is_some() {
            return Err(format!("{}: a second key for {name}", at()));
        }
        keys[slot] = Some(parse_public_key(key).map_err(|e| format!("{}: {e}", at()))?);
    }
    let keys = keys
        .into_iter()
        .zip(clients)
        .map(|(k, name)| {
            k.ok_or_else(|| format!("--secagg-keys {}: no key for {name}", path.display()))
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
) -> Result<SigningKey, String> {
    let key = signing_key(identity).map_err(|e| e.to_string())?;
    if table.pki.key(me) != Some(&key.verifying_key()) {
        return Err(format!(
            "--secagg-keys lists a key for {name} that is not this identity's ({}; `indomain audit key --identity {}` prints it)",
            format_public_key(&key.verifying_key()),
            identity.display()
        ));
    }
    Ok(key)
}
