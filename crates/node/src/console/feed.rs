//! The console's view of the audit log: where each record starts in the
//! file, its hash, which records belong to which job, when each peer was
//! last heard from, and the verdict of `audit verify` — all kept current
//! by the node as it verifies the log at start and as it appends, so no
//! page rescans the log.
//!
//! The verdict starts as the node's own: it refuses to start on a log
//! that does not verify, so a running node's log verified at start, and
//! every record appended since was written by it. What the node did not
//! write is noticed by the file's size, inode and modification time
//! ([`Stamp`]): when they are not what the node's last write left, the
//! next page view verifies the whole log again (once per change) and, if
//! it was tampered with, names the first bad record. A change made between
//! two of the node's own writes that keeps the file's size is not seen by
//! the stamp; the records a page shows are each checked against the hash
//! the verification gave them ([`AuditFeed::page`]), and `indomain audit
//! verify` remains the complete check.

use crate::audit::verify::{Checks, Receipts, verify_log};
use crate::audit::{Event, Record};
use crate::error::NodeError;
use crate::state::JobKey;
use ed25519_dalek::VerifyingKey;
use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

/// What the file looked like after the node's last write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    len: u64,
    inode: u64,
    modified_ns: i128,
}

impl Stamp {
    fn of(path: &Path) -> Option<Stamp> {
        let m = std::fs::metadata(path).ok()?;
        Some(Stamp {
            len: m.len(),
            inode: m.ino(),
            modified_ns: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
        })
    }
}

/// The verdict on the whole log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every record verified: the chain, each hash and the node's
    /// signature.
    Verified {
        /// Records in the log.
        records: u64,
        /// The hash of the last one.
        head: String,
    },
    /// The log does not verify.
    Tampered {
        /// The first bad record, when one can be named (a cut end names
        /// none).
        record: Option<u64>,
        /// Why, as `audit verify` says it.
        reason: String,
    },
}

/// One record's place in the file.
#[derive(Debug, Clone, Copy)]
struct Entry {
    offset: u64,
    time_ms: u64,
    /// Its hash as verified; `None` past the first bad record.
    hash: Option<[u8; 32]>,
}

/// One record as a page shows it.
#[derive(Debug, Clone)]
pub struct Shown {
    /// Its number.
    pub seq: u64,
    /// The record, when its line parses.
    pub record: Option<Record>,
    /// What is wrong with it, if anything: it is the first bad record, it
    /// does not match its verified hash, or it comes after the first bad
    /// record and was not verified.
    pub problem: Option<String>,
}

#[derive(Debug, Default)]
struct Inner {
    entries: Vec<Entry>,
    /// The byte length the node's records reach.
    end: u64,
    stamp: Option<Stamp>,
    /// A write not made by the node was noticed: verify again.
    dirty: bool,
    verdict: Option<Verdict>,
    last_heard: BTreeMap<String, u64>,
    jobs: HashMap<JobKey, Vec<u64>>,
    /// The latest job key of each id (receipts of version 1 and release
    /// records name a job by id only).
    by_id: HashMap<String, JobKey>,
}

/// The console's index of the audit log.
#[derive(Debug)]
pub struct AuditFeed {
    path: PathBuf,
    inner: Mutex<Inner>,
}

impl AuditFeed {
    /// An empty index of the log at `path`.
    pub fn new(path: &Path) -> AuditFeed {
        AuditFeed {
            path: path.to_path_buf(),
            inner: Mutex::new(Inner::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Folds in a record the node verified (at start, in log order).
    pub fn verified(&self, record: &Record) {
        self.lock().push(record);
    }

    /// Folds in a record the node has just appended (written and synced).
    pub fn appended(&self, record: &Record) {
        let mut inner = self.lock();
        inner.push(record);
        let stamp = Stamp::of(&self.path);
        // The file must be as long as the node's records: otherwise
        // someone else wrote to it.
        if stamp.is_none_or(|s| s.len != inner.end) {
            inner.dirty = true;
        }
        inner.stamp = stamp;
        if let Some(Verdict::Verified { records, head }) = &mut inner.verdict {
            *records = record.seq + 1;
            head.clone_from(&record.hash);
        }
    }

    /// Marks the end of the node's start verification: the log verified
    /// as it stands.
    pub fn start_verified(&self) {
        let mut inner = self.lock();
        inner.stamp = Stamp::of(&self.path);
        let records = inner.entries.len() as u64;
        let head = inner
            .entries
            .last()
            .and_then(|e| e.hash)
            .map(|h| crate::hex::encode(&h))
            .unwrap_or_else(|| crate::audit::record::GENESIS.to_string());
        inner.verdict = Some(Verdict::Verified { records, head });
    }

    /// The verdict, verifying the whole log again first if the file was
    /// changed by anyone but the node (with `key` and the peers' keys for
    /// the receipts, as `audit verify --config` does).
    pub fn verdict(&self, key: &VerifyingKey, peers: &BTreeMap<String, VerifyingKey>) -> Verdict {
        let mut inner = self.lock();
        let now = Stamp::of(&self.path);
        if inner.verdict.is_none() || inner.dirty || now != inner.stamp {
            inner.reverify(&self.path, key, peers);
            inner.stamp = now;
            inner.dirty = false;
        }
        inner.verdict.clone().unwrap_or_else(|| Verdict::Tampered {
            record: None,
            reason: "not verified".into(),
        })
    }

    /// The number of records indexed.
    pub fn len(&self) -> u64 {
        self.lock().entries.len() as u64
    }

    /// Whether no record is indexed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// When each peer (or this node's own operator) was last heard from in
    /// the log: a proposal, a decision, a receipt, a cancellation.
    pub fn last_heard(&self) -> BTreeMap<String, u64> {
        self.lock().last_heard.clone()
    }

    /// The numbers of the records about job `key`, in log order.
    pub fn job_records(&self, key: &JobKey) -> Vec<u64> {
        self.lock().jobs.get(key).cloned().unwrap_or_default()
    }

    /// The records numbered `seqs`, read from the file and each checked
    /// against the hash its verification gave it.
    pub fn read(&self, seqs: &[u64]) -> Vec<Shown> {
        let inner = self.lock();
        let bad = match &inner.verdict {
            Some(Verdict::Tampered { record, .. }) => *record,
            _ => None,
        };
        let mut file = std::fs::File::open(&self.path).ok();
        seqs.iter()
            .filter(|&&s| (s as usize) < inner.entries.len())
            .map(|&seq| {
                let bytes = file.as_mut().and_then(|f| read_line_at(f, &inner, seq));
                shown(seq, bytes, inner.entries[seq as usize], bad)
            })
            .collect()
    }

    /// Page `page` (from 0) of `per_page` records, newest first, and the
    /// number of pages.
    pub fn page(&self, page: u64, per_page: u64) -> (Vec<Shown>, u64) {
        let n = self.len();
        let pages = n.div_ceil(per_page.max(1)).max(1);
        let top = n.saturating_sub(page * per_page);
        let bottom = top.saturating_sub(per_page);
        let seqs: Vec<u64> = (bottom..top).rev().collect();
        (self.read(&seqs), pages)
    }

    /// When record `seq` was written (Unix milliseconds).
    pub fn time_of(&self, seq: u64) -> Option<u64> {
        self.lock().entries.get(seq as usize).map(|e| e.time_ms)
    }
}

impl Inner {
    fn push(&mut self, r: &Record) {
        // The stored line is the record's own JSON (verification checks
        // it, and the node writes exactly that), and a newline.
        let len = serde_json::to_vec(r).map_or(0, |v| v.len() as u64) + 1;
        self.entries.push(Entry {
            offset: self.end,
            time_ms: r.time_ms,
            hash: crate::hex::decode::<32>(&r.hash),
        });
        self.end += len;
        self.note_event(r);
    }

    fn note_event(&mut self, r: &Record) {
        let key = match &r.event {
            Event::Job(j) => {
                let key = JobKey::new(&j.proposer, &j.job_id);
                self.by_id.insert(j.job_id.clone(), key.clone());
                self.last_heard.insert(j.proposer.clone(), r.time_ms);
                if let crate::audit::Outcome::Cancelled { by }
                | crate::audit::Outcome::Withdrawn { by, .. } = &j.outcome
                {
                    self.last_heard.insert(by.clone(), r.time_ms);
                }
                Some(key)
            }
            Event::Receipt(rc) => {
                self.last_heard.insert(rc.signer.clone(), r.time_ms);
                match &rc.body.proposer {
                    Some(p) => Some(JobKey::new(p, &rc.body.job_id)),
                    None => self.by_id.get(&rc.body.job_id).cloned(),
                }
            }
            Event::Released { job_id, .. } | Event::EgressRefused { job_id, .. } => {
                self.by_id.get(job_id).cloned()
            }
            // The node's ledger names jobs `proposer/id`.
            Event::Budget { change } => JobKey::parse(change.job()),
            Event::NodeStarted { .. } => None,
        };
        if let Some(key) = key {
            self.jobs.entry(key).or_default().push(r.seq);
        }
    }

    /// Verifies the whole log again and re-indexes it; past a bad record,
    /// the lines are indexed unverified, so the pages still show them.
    fn reverify(
        &mut self,
        path: &Path,
        key: &VerifyingKey,
        peers: &BTreeMap<String, VerifyingKey>,
    ) {
        let mut fresh = Inner::default();
        let checks = Checks {
            receipts: Receipts::Against(peers),
            heads: &[],
        };
        let result = verify_log(path, key, checks, &mut |r| fresh.push(r));
        fresh.verdict = Some(match result {
            Ok(v) => Verdict::Verified {
                records: v.records,
                head: v.head,
            },
            Err(NodeError::Audit { record, reason, .. }) => {
                fresh.index_rest(path);
                Verdict::Tampered { record, reason }
            }
            Err(e) => Verdict::Tampered {
                record: None,
                reason: e.to_string(),
            },
        });
        *self = fresh;
    }

    /// Indexes the lines after the verified ones, unverified.
    fn index_rest(&mut self, path: &Path) {
        let Ok(mut file) = std::fs::File::open(path) else {
            return;
        };
        if file.seek(SeekFrom::Start(self.end)).is_err() {
            return;
        }
        let mut reader = std::io::BufReader::new(file);
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    let time_ms =
                        serde_json::from_slice::<Record>(trim(&line)).map_or(0, |r| r.time_ms);
                    self.entries.push(Entry {
                        offset: self.end,
                        time_ms,
                        hash: None,
                    });
                    self.end += n as u64;
                }
            }
        }
    }
}

fn trim(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\n").unwrap_or(line)
}

/// The bytes of record `seq`'s line, without its newline.
fn read_line_at(file: &mut std::fs::File, inner: &Inner, seq: u64) -> Option<Vec<u8>> {
    let start = inner.entries[seq as usize].offset;
    let stop = inner
        .entries
        .get(seq as usize + 1)
        .map_or(inner.end, |e| e.offset);
    // A line is bounded by what the node wrote; a tampered file may hold
    // anything, so no more than 4 MiB of it is read for one record.
    let len = stop.saturating_sub(start).min(4 << 20);
    file.seek(SeekFrom::Start(start)).ok()?;
    let mut bytes = vec![0; len as usize];
    file.read_exact(&mut bytes).ok()?;
    Some(trim(&bytes).to_vec())
}

fn shown(seq: u64, bytes: Option<Vec<u8>>, entry: Entry, bad: Option<u64>) -> Shown {
    let record = bytes
        .as_deref()
        .and_then(|b| serde_json::from_slice::<Record>(b).ok());
    let problem = if bad == Some(seq) {
        Some("the first bad record: the log does not verify from here on".to_string())
    } else if bad.is_some_and(|b| seq > b) || entry.hash.is_none() {
        Some("after the first bad record: not verified".to_string())
    } else {
        match (&record, bytes.as_deref()) {
            (None, _) => Some("the line is not a record".to_string()),
            (Some(r), Some(b)) => {
                let canonical = serde_json::to_vec(r).unwrap_or_default();
                let hash = crate::hex::decode::<32>(&r.hash);
                (canonical != b
                    || hash != entry.hash
                    || r.compute_hash() != entry.hash.unwrap_or_default())
                .then(|| "changed since it was verified".to_string())
            }
            (Some(_), None) => Some("unreadable".to_string()),
        }
    };
    Shown {
        seq,
        record,
        problem,
    }
}
