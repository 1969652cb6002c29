//! The append-only audit log: one JSON record a line, each chained to the
//! one before by its hash and signed with the node's audit key. Opening a
//! log checks the whole chain and every signature first; a node does not
//! write onto a log that has been tampered with.

use super::record::{Event, GENESIS, Record, body_hash};
use super::verify::{Verified, verify_records};
use crate::error::{NodeError, io_error};
use ed25519_dalek::{Signer, SigningKey};
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// An open audit log, ready to append.
pub struct AuditLog {
    path: PathBuf,
    file: File,
    key: SigningKey,
    next_seq: u64,
    head: String,
}

impl AuditLog {
    /// Opens (or creates) the log at `path`, checks the records already in
    /// it against `key`'s public half, and positions after the last one.
    pub fn open(path: &Path, key: SigningKey) -> Result<AuditLog, NodeError> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .open(path)
            .map_err(|e| io_error(path, e))?;
        let Verified { records, head, .. } =
            verify_records(path, &key.verifying_key(), &BTreeMap::new(), false)?;
        Ok(AuditLog {
            path: path.to_path_buf(),
            file,
            key,
            next_seq: records,
            head,
        })
    }

    /// Appends `event` as the next record (written and synced before this
    /// returns) and returns it.
    pub fn append(&mut self, event: Event) -> Result<Record, NodeError> {
        let time_ms = crate::time::now_millis();
        let hash = body_hash(self.next_seq, time_ms, &self.head, &event);
        let sig = self.key.sign(&hash);
        let record = Record {
            seq: self.next_seq,
            time_ms,
            prev: self.head.clone(),
            event,
            hash: crate::hex::encode(&hash),
            sig: crate::hex::encode(&sig.to_bytes()),
        };
        let mut line = serde_json::to_vec(&record).map_err(|e| NodeError::Audit {
            path: self.path.clone(),
            record: Some(record.seq),
            reason: e.to_string(),
        })?;
        line.push(b'\n');
        self.file
            .write_all(&line)
            .and_then(|()| self.file.sync_data())
            .map_err(|e| io_error(&self.path, e))?;
        self.next_seq += 1;
        self.head = record.hash.clone();
        Ok(record)
    }

    /// The number of records in the log.
    pub fn len(&self) -> u64 {
        self.next_seq
    }

    /// Whether the log has no record yet.
    pub fn is_empty(&self) -> bool {
        self.next_seq == 0
    }

    /// The hash of the last record (the chain's head).
    pub fn head(&self) -> &str {
        if self.next_seq == 0 {
            GENESIS
        } else {
            &self.head
        }
    }

    /// The log's file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}
