//! The append-only audit log: one JSON record a line, each chained to the
//! one before by its hash and signed with the node's audit key. Opening a
//! log checks the whole chain and every signature first; a node does not
//! write onto a log that has been tampered with.
//!
//! The log is a private file (0600). Beside it, a marker
//! (`<log>.written`, [`marker_path`]) records that this node has written a
//! log there: a missing or empty log next to the marker is refused at
//! start instead of being taken as a fresh one. With a head file
//! (`audit_head_file` in `node.toml`, ideally on another disk or host) the
//! hash of the last record is written there after every record, and the
//! log must reach it at start, so records cut off the end are caught.

use super::record::{Event, GENESIS, RECORD_VERSION, Record, body_hash};
use super::verify::{Checks, Receipts, Verified, verify_log};
use crate::error::{NodeError, io_error};
use ed25519_dalek::{Signer, SigningKey};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// What is called with every record appended.
type Observer = Box<dyn FnMut(&Record) + Send>;

/// An open audit log, ready to append.
pub struct AuditLog {
    path: PathBuf,
    file: File,
    key: SigningKey,
    next_seq: u64,
    head: String,
    head_file: Option<PathBuf>,
    marked: bool,
    /// Called with every record appended (the node's state follows it).
    observer: Option<Observer>,
}

/// The marker beside `log` that says a log was written there.
pub fn marker_path(log: &Path) -> PathBuf {
    let mut p = log.as_os_str().to_owned();
    p.push(".written");
    PathBuf::from(p)
}

fn audit_error(path: &Path, reason: String) -> NodeError {
    NodeError::Audit {
        path: path.to_path_buf(),
        record: None,
        reason,
    }
}

impl AuditLog {
    /// Opens (or creates) the log at `path`, checks the records already in
    /// it against `key`'s public half, and positions after the last one.
    pub fn open(path: &Path, key: SigningKey) -> Result<AuditLog, NodeError> {
        AuditLog::open_with(path, key, None, &mut |_| {})
    }

    /// [`AuditLog::open`], also checking the log reaches the head saved in
    /// `head_file` (when that file exists) and keeping it up to date, and
    /// handing every verified record to `visit`.
    pub fn open_with(
        path: &Path,
        key: SigningKey,
        head_file: Option<&Path>,
        visit: &mut dyn FnMut(&Record),
    ) -> Result<AuditLog, NodeError> {
        let marker = marker_path(path);
        let size = std::fs::metadata(path).map(|m| m.len()).ok();
        if marker.exists() && size.unwrap_or(0) == 0 {
            let what = if size.is_none() { "missing" } else { "empty" };
            return Err(audit_error(
                path,
                format!(
                    "the log is {what}, but this node has written one here ({} says so): \
                     restore it from a copy; to begin a new log on purpose, remove that marker",
                    marker.display()
                ),
            ));
        }
        let file = crate::private::append(path).map_err(|e| io_error(path, e))?;
        let saved_head = match head_file {
            Some(f) if f.exists() => {
                let text = std::fs::read_to_string(f).map_err(|e| io_error(f, e))?;
                let head = text.trim().to_string();
                if crate::hex::decode::<32>(&head).is_none() {
                    return Err(audit_error(
                        f,
                        "the head file does not hold a 64-hex-digit hash".into(),
                    ));
                }
                vec![head]
            }
            _ => Vec::new(),
        };
        let checks = Checks {
            receipts: Receipts::Unchecked,
            heads: &saved_head,
        };
        let Verified { records, head, .. } = verify_log(path, &key.verifying_key(), checks, visit)?;
        let mut log = AuditLog {
            path: path.to_path_buf(),
            file,
            key,
            next_seq: records,
            head,
            head_file: head_file.map(Path::to_path_buf),
            marked: marker.exists(),
            observer: None,
        };
        if records > 0 {
            log.mark()?;
        }
        Ok(log)
    }

    /// Writes the marker (once) and the head file (each time).
    fn mark(&mut self) -> Result<(), NodeError> {
        if !self.marked {
            let marker = marker_path(&self.path);
            let note = format!(
                "indomain: this node keeps its audit log at {}; a missing or empty log here \
                 is refused at start\n",
                self.path.display()
            );
            crate::private::write(&marker, note.as_bytes()).map_err(|e| io_error(&marker, e))?;
            self.marked = true;
        }
        if let Some(f) = &self.head_file {
            crate::private::write(f, format!("{}\n", self.head).as_bytes())
                .map_err(|e| io_error(f, e))?;
        }
        Ok(())
    }

    /// Appends `event` as the next record (written and synced before this
    /// returns) and returns it.
    pub fn append(&mut self, event: Event) -> Result<Record, NodeError> {
        let time_ms = crate::time::now_millis();
        let hash = body_hash(RECORD_VERSION, self.next_seq, time_ms, &self.head, &event);
        let sig = self.key.sign(&hash);
        let record = Record {
            version: RECORD_VERSION,
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
        if let Some(observe) = self.observer.as_mut() {
            observe(&record);
        }
        self.mark()?;
        Ok(record)
    }

    /// Calls `observer` with every record appended from now on.
    pub fn observe(&mut self, observer: impl FnMut(&Record) + Send + 'static) {
        self.observer = Some(Box::new(observer));
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

/// What [`repair`] dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropped {
    /// The 0-based number of the line dropped (the record it would have been).
    pub line: u64,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// Drops a torn last line (one without its newline, as a crash while
/// writing leaves it) from the log at `path` and says what it dropped;
/// `None` if the log ends with a whole line. Nothing else is changed: a
/// log with any other fault is not repaired here.
pub fn repair(path: &Path) -> Result<Option<Dropped>, NodeError> {
    let bytes = std::fs::read(path).map_err(|e| io_error(path, e))?;
    if bytes.is_empty() || bytes.last() == Some(&b'\n') {
        return Ok(None);
    }
    let keep = bytes
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |at| at + 1);
    let line = bytes[..keep].iter().filter(|&&b| b == b'\n').count() as u64;
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| io_error(path, e))?;
    file.set_len(keep as u64)
        .and_then(|()| file.sync_all())
        .map_err(|e| io_error(path, e))?;
    Ok(Some(Dropped {
        line,
        bytes: bytes[keep..].to_vec(),
    }))
}
