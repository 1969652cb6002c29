//! Checking an audit log: every line parses, numbers run from 0 without a
//! gap, each record names the previous one's hash, its own hash matches its
//! contents, the node's signature verifies, and each stored receipt is
//! signed by the peer it names (with the key from the configuration) and
//! agrees with the job's spec hash. The first bad record is named.
//!
//! What the chain cannot show by itself: records cut off the end of the
//! log. The peers' receipts and copies of the head hash kept elsewhere are
//! the defence there (docs/threat-model.md).

use super::record::{Event, GENESIS, Record};
use crate::error::NodeError;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::Path;

/// What a verified log holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The number of records.
    pub records: u64,
    /// The number of job records.
    pub jobs: u64,
    /// The number of receipts checked.
    pub receipts: u64,
    /// The hash of the last record.
    pub head: String,
}

/// Reads the log's records, checking only that each line parses.
pub fn read_records(path: &Path) -> Result<Vec<Record>, NodeError> {
    let file = std::fs::File::open(path).map_err(|e| crate::error::io_error(path, e))?;
    let mut records = Vec::new();
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| crate::error::io_error(path, e))?;
        let record = serde_json::from_str(&line)
            .map_err(|e| bad(path, i as u64, format!("line {}: {e}", i + 1)))?;
        records.push(record);
    }
    Ok(records)
}

fn bad(path: &Path, record: u64, reason: String) -> NodeError {
    NodeError::Audit {
        path: path.to_path_buf(),
        record: Some(record),
        reason,
    }
}

/// Verifies the log at `path`, signed by `key`, whose receipts come from
/// `peers`. With `check_receipts` false, receipts are not checked (a node
/// opening its own log may not know every past peer's key).
pub fn verify_records(
    path: &Path,
    key: &VerifyingKey,
    peers: &BTreeMap<String, VerifyingKey>,
    check_receipts: bool,
) -> Result<Verified, NodeError> {
    let records = read_records(path)?;
    let mut head = GENESIS.to_string();
    let mut spec_hashes: BTreeMap<String, String> = BTreeMap::new();
    let (mut jobs, mut receipts) = (0, 0);
    for (i, r) in records.iter().enumerate() {
        let i = i as u64;
        let fail = |reason: String| bad(path, i, reason);
        if r.seq != i {
            return Err(fail(format!(
                "sequence number {} where {i} was expected (a record was removed, inserted or moved)",
                r.seq
            )));
        }
        if r.prev != head {
            return Err(fail(
                "does not follow the previous record (a record was removed, inserted or moved)"
                    .into(),
            ));
        }
        let hash = crate::hex::encode(&r.compute_hash());
        if r.hash != hash {
            return Err(fail(
                "its contents do not match its hash (the record was altered)".into(),
            ));
        }
        let sig = crate::hex::decode::<64>(&r.sig)
            .ok_or_else(|| fail("the signature is not 128 hex digits".into()))?;
        let hash_bytes = crate::hex::decode::<32>(&r.hash).unwrap_or_default();
        key.verify(&hash_bytes, &Signature::from_bytes(&sig))
            .map_err(|_| {
                fail("the node's signature does not verify (wrong key or forged record)".into())
            })?;
        match &r.event {
            Event::Job(job) => {
                jobs += 1;
                if let Some(known) = spec_hashes.get(&job.job_id)
                    && *known != job.spec_hash
                {
                    return Err(fail(format!("job {} changes its spec hash", job.job_id)));
                }
                spec_hashes.insert(job.job_id.clone(), job.spec_hash.clone());
            }
            Event::Receipt(receipt) if check_receipts => {
                let peer_key = peers.get(&receipt.signer).ok_or_else(|| {
                    fail(format!(
                        "receipt signed by {:?}, which is not a configured peer",
                        receipt.signer
                    ))
                })?;
                receipt.verify(peer_key).map_err(fail)?;
                if let Some(known) = spec_hashes.get(&receipt.body.job_id)
                    && *known != receipt.body.spec_hash
                {
                    return Err(fail(format!(
                        "receipt of {} for job {} quotes another spec hash than the job's",
                        receipt.signer, receipt.body.job_id
                    )));
                }
                receipts += 1;
            }
            _ => {}
        }
        head = r.hash.clone();
    }
    Ok(Verified {
        records: records.len() as u64,
        jobs,
        receipts,
        head,
    })
}
