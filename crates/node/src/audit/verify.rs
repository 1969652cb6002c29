//! Checking an audit log: every line parses and is stored exactly as the
//! record it parses to would be written (so nothing was added to a record
//! that parsing would silently drop), numbers run from 0 without a gap,
//! each record names the previous one's hash, its own hash matches its
//! contents, the node's signature verifies, each stored receipt is signed
//! by the peer it names (with the key from the configuration) and agrees
//! with the job's spec hash, and the log reaches every head hash kept
//! elsewhere ([`Checks::heads`]). The first bad record is named.
//!
//! What the chain cannot show by itself: records cut off the end of the
//! log. A head hash saved outside the log (`audit_head_file`, `indomain
//! audit verify --head`) and the heads quoted in the receipts the node gave
//! its peers are the defence there (docs/threat-model.md). A last line
//! without its newline is a write torn by a crash: it is named, and only
//! `indomain audit repair` drops it.

use super::record::{Event, GENESIS, Record};
use crate::error::NodeError;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use std::collections::{BTreeMap, BTreeSet};
use std::io::BufRead;
use std::path::Path;

/// What a verified log holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The number of records.
    pub records: u64,
    /// The number of job records.
    pub jobs: u64,
    /// The number of receipts whose signatures were checked.
    pub receipts: u64,
    /// The number of receipts not checked (no peer keys were given).
    pub receipts_unchecked: u64,
    /// The hash of the last record.
    pub head: String,
}

/// How receipts stored in the log are checked.
#[derive(Debug, Clone, Copy)]
pub enum Receipts<'a> {
    /// Each must be signed by a peer in the map (an unknown signer fails).
    Against(&'a BTreeMap<String, VerifyingKey>),
    /// Receipts are counted, not checked (no peer keys at hand).
    Unchecked,
}

/// What to check beyond the chain and the node's own signatures.
#[derive(Debug, Clone, Copy)]
pub struct Checks<'a> {
    /// The receipts.
    pub receipts: Receipts<'a>,
    /// Head hashes kept outside the log: each must be the hash of one of
    /// its records, or records were cut off its end.
    pub heads: &'a [String],
}

/// Reads the log's records, checking only that each line parses (for
/// tests and tools that look at a log already verified).
pub fn read_records(path: &Path) -> Result<Vec<Record>, NodeError> {
    let mut records = Vec::new();
    for_each_line(path, &mut |i, line| {
        records.push(parse(path, i, line)?);
        Ok(())
    })?;
    Ok(records)
}

fn bad(path: &Path, record: u64, reason: String) -> NodeError {
    NodeError::Audit {
        path: path.to_path_buf(),
        record: Some(record),
        reason,
    }
}

fn parse(path: &Path, i: u64, line: &[u8]) -> Result<Record, NodeError> {
    serde_json::from_slice(line).map_err(|e| {
        bad(
            path,
            i,
            format!("line {}: not a record ({})", i + 1, e.classify_text()),
        )
    })
}

/// A short, input-free description of a JSON error.
trait Classify {
    fn classify_text(&self) -> String;
}

impl Classify for serde_json::Error {
    fn classify_text(&self) -> String {
        let what = match self.classify() {
            serde_json::error::Category::Io => "unreadable",
            serde_json::error::Category::Syntax => "not JSON",
            serde_json::error::Category::Data => "an unexpected field or value",
            serde_json::error::Category::Eof => "cut short",
        };
        format!("{what} at column {}", self.column())
    }
}

/// What is called with each line of the log and its number.
type LineVisitor<'a> = &'a mut dyn FnMut(u64, &[u8]) -> Result<(), NodeError>;

/// Calls `f` with each line of the log (without its newline), numbered
/// from 0. A last line without a newline is a torn write: an error that
/// says so and how to repair it.
fn for_each_line(path: &Path, f: LineVisitor<'_>) -> Result<(), NodeError> {
    let file = std::fs::File::open(path).map_err(|e| crate::error::io_error(path, e))?;
    let mut reader = std::io::BufReader::new(file);
    let mut line = Vec::new();
    let mut i = 0u64;
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| crate::error::io_error(path, e))?;
        if n == 0 {
            return Ok(());
        }
        if line.last() != Some(&b'\n') {
            return Err(bad(
                path,
                i,
                format!(
                    "the last line ({n} bytes, no newline) is torn, as a crash while writing \
                     leaves it; `indomain audit repair` drops it and names what it drops"
                ),
            ));
        }
        line.pop();
        f(i, &line)?;
        i += 1;
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
    let receipts = if check_receipts {
        Receipts::Against(peers)
    } else {
        Receipts::Unchecked
    };
    verify_log(
        path,
        key,
        Checks {
            receipts,
            heads: &[],
        },
        &mut |_| {},
    )
}

/// Verifies the log at `path`, signed by `key`, under `checks`, handing
/// each verified record to `visit` in order (the node rebuilds its state
/// from them in the same pass).
pub fn verify_log(
    path: &Path,
    key: &VerifyingKey,
    checks: Checks<'_>,
    visit: &mut dyn FnMut(&Record),
) -> Result<Verified, NodeError> {
    let mut head = GENESIS.to_string();
    // Job ids are unique per proposer: (proposer, id) -> spec hash.
    let mut spec_hashes: BTreeMap<(String, String), String> = BTreeMap::new();
    let mut wanted: BTreeSet<&str> = checks.heads.iter().map(String::as_str).collect();
    let (mut records, mut jobs, mut receipts, mut unchecked) = (0u64, 0, 0, 0);
    let mut canonical = Vec::new();
    for_each_line(path, &mut |i, line| {
        let fail = |reason: String| bad(path, i, reason);
        let r = parse(path, i, line)?;
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
        canonical.clear();
        // A record read back always serialises.
        serde_json::to_writer(&mut canonical, &r).unwrap_or_default();
        if canonical != line {
            return Err(fail(
                "its stored bytes are not the record's own (the record was altered: a field \
                 added, dropped or rewritten)"
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
                let key = (job.proposer.clone(), job.job_id.clone());
                if let Some(known) = spec_hashes.get(&key)
                    && *known != job.spec_hash
                {
                    return Err(fail(format!("job {} changes its spec hash", job.job_id)));
                }
                spec_hashes.insert(key, job.spec_hash.clone());
            }
            Event::Receipt(receipt) => {
                match checks.receipts {
                    Receipts::Against(peers) => {
                        let peer_key = peers.get(&receipt.signer).ok_or_else(|| {
                            fail(format!(
                                "receipt signed by {:?}, which is not a configured peer",
                                receipt.signer
                            ))
                        })?;
                        receipt.verify(peer_key).map_err(|e| fail(e.to_string()))?;
                        receipts += 1;
                    }
                    Receipts::Unchecked => unchecked += 1,
                }
                // The receipt names its job by id (and, since version 2,
                // proposer): one of the jobs it may name must have its hash.
                let body = &receipt.body;
                let mut named = spec_hashes.iter().filter(|((proposer, id), _)| {
                    *id == body.job_id && body.proposer.as_ref().is_none_or(|p| p == proposer)
                });
                let mut named_any = false;
                let agrees = named.any(|(_, hash)| {
                    named_any = true;
                    *hash == body.spec_hash
                });
                if named_any && !agrees {
                    return Err(fail(format!(
                        "receipt of {} for job {} quotes another spec hash than the job's",
                        receipt.signer, receipt.body.job_id
                    )));
                }
            }
            _ => {}
        }
        wanted.remove(r.hash.as_str());
        head = r.hash.clone();
        records += 1;
        visit(&r);
        Ok(())
    })?;
    if let Some(missing) = wanted.first() {
        return Err(NodeError::Audit {
            path: path.to_path_buf(),
            record: None,
            reason: format!(
                "the log does not reach head {missing}: records were cut off its end, or it is \
                 not the log that head was taken from ({records} records, head {head})"
            ),
        });
    }
    Ok(Verified {
        records,
        jobs,
        receipts,
        receipts_unchecked: unchecked,
        head,
    })
}
