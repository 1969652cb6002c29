//! Bucket files on disk for a bucketed PSI run: one streaming pass over
//! the input appends each row's record (its position, its key and what the
//! output needs of it) to its bucket, and each bucket is then read back
//! alone, so a party holds one bucket's rows at a time whatever the input
//! size.
//!
//! The buckets share one file beside the output, `OUT.indomain-spool` (one
//! file rather than one per bucket: 65536 buckets would not fit the
//! open-file limit; a fixed name, so that a run killed outright leaves at
//! most one, which the next run of the same command removes before it
//! reads anything), or, for a party without an output, `INPUT.indomain-spool`
//! in the directory it names (`--spool-dir`, by default beside its
//! input) — never the system's shared temporary directory. The file holds
//! every key (whole rows for a join): it is created 0600.
//! Each bucket's records gather in a small buffer that is appended to the
//! file as a chunk when full; the chunks of a bucket are listed in order, so
//! reading a bucket back is reading its chunks. Buffers share a budget of
//! [`BUFFER_BUDGET`] bytes. The file is removed when the spool is dropped,
//! whether the run succeeded or failed, and by the signal handler
//! ([`crate::output::remove_partials`]).

use crate::output;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// The suffix added to the output's path to name its spool file.
pub const SUFFIX: &str = ".indomain-spool";

/// Where the spool of the run writing `output` goes.
pub fn path_for(output: &Path) -> PathBuf {
    let mut p = output.as_os_str().to_owned();
    p.push(SUFFIX);
    PathBuf::from(p)
}

/// Where the spool of a run without an output goes: `INPUT.indomain-spool`
/// in `dir`, or beside `input` when no directory is named.
pub fn path_without_output(input: &Path, dir: Option<&Path>) -> PathBuf {
    let name = input
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_else(|| "input".into());
    let dir = dir
        .map(Path::to_path_buf)
        .unwrap_or_else(|| match input.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        });
    path_for(&dir.join(name))
}

/// What all bucket buffers may hold together while spooling.
pub const BUFFER_BUDGET: usize = 64 << 20;

/// One row as spooled: its position in the input, the byte offset of its
/// record (for messages naming a line), its encoded key and the rest the
/// output needs of it (the whole row for a join, else nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    /// The data row (0 = the first row after the header).
    pub row: u64,
    /// The byte offset of the row in the file.
    pub offset: u64,
    /// The encoded, normalised key.
    pub key: &'a [u8],
    /// What the output needs of the row.
    pub payload: &'a [u8],
}

impl<'a> Record<'a> {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.row.to_le_bytes());
        out.extend_from_slice(&self.offset.to_le_bytes());
        out.extend_from_slice(&(self.key.len() as u32).to_le_bytes());
        out.extend_from_slice(self.key);
        out.extend_from_slice(&(self.payload.len() as u32).to_le_bytes());
        out.extend_from_slice(self.payload);
    }

    /// Decodes the record at the start of `bytes`; returns it and the rest.
    fn decode(bytes: &'a [u8]) -> Option<(Self, &'a [u8])> {
        let (row, rest) = take_u64(bytes)?;
        let (offset, rest) = take_u64(rest)?;
        let (key, rest) = take_bytes(rest)?;
        let (payload, rest) = take_bytes(rest)?;
        Some((
            Record {
                row,
                offset,
                key,
                payload,
            },
            rest,
        ))
    }
}

fn take_u64(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let (head, rest) = bytes.split_at_checked(8)?;
    Some((u64::from_le_bytes(head.try_into().ok()?), rest))
}

fn take_bytes(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let (len, rest) = bytes.split_at_checked(4)?;
    let len = u32::from_le_bytes(len.try_into().ok()?) as usize;
    rest.split_at_checked(len)
}

/// The bucket files of one run.
pub struct Spool {
    file: File,
    path: PathBuf,
    buffers: Vec<Vec<u8>>,
    /// Per bucket, its chunks (offset, length) in the file, in order.
    chunks: Vec<Vec<(u64, u32)>>,
    len: u64,
    chunk: usize,
    read: AtomicU64,
}

impl Spool {
    /// An empty spool of `buckets` buckets at `path`, a private file
    /// (0600) replacing one a killed run left there.
    pub fn create(path: &Path, buckets: usize) -> std::io::Result<Self> {
        let file = crate::private::create(path).map_err(|e| {
            std::io::Error::new(e.kind(), format!("cannot spool to {}: {e}", path.display()))
        })?;
        let path = path.to_path_buf();
        output::track(&path);
        Ok(Self {
            file,
            path,
            buffers: vec![Vec::new(); buckets],
            chunks: vec![Vec::new(); buckets],
            len: 0,
            chunk: (BUFFER_BUDGET / buckets.max(1)).clamp(4 << 10, 1 << 20),
            read: AtomicU64::new(0),
        })
    }

    /// Where the bucket files are.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `record` to bucket `b`.
    pub fn push(&mut self, b: usize, record: &Record<'_>) -> std::io::Result<()> {
        let buffer = &mut self.buffers[b];
        record.encode(buffer);
        if buffer.len() >= self.chunk {
            self.flush(b)?;
        }
        Ok(())
    }

    fn flush(&mut self, b: usize) -> std::io::Result<()> {
        let buffer = &mut self.buffers[b];
        if buffer.is_empty() {
            return Ok(());
        }
        let len = u32::try_from(buffer.len()).map_err(std::io::Error::other)?;
        self.file.write_all(buffer)?;
        self.chunks[b].push((self.len, len));
        self.len += len as u64;
        buffer.clear();
        Ok(())
    }

    /// Writes out what the buffers still hold and frees them: the spool is
    /// complete and can be read.
    pub fn finish(&mut self) -> std::io::Result<()> {
        for b in 0..self.buffers.len() {
            self.flush(b)?;
        }
        self.buffers = Vec::new();
        self.file.flush()
    }

    /// The bytes of bucket `b`'s records, read back from the file alone.
    pub fn read(&self, b: usize) -> std::io::Result<Vec<u8>> {
        let chunks = self.chunks.get(b).map_or(&[][..], Vec::as_slice);
        let total: usize = chunks.iter().map(|&(_, l)| l as usize).sum();
        let mut bytes = vec![0u8; total];
        let mut at = 0;
        for &(offset, len) in chunks {
            let len = len as usize;
            self.file.read_exact_at(&mut bytes[at..at + len], offset)?;
            at += len;
        }
        self.read.fetch_add(total as u64, Ordering::Relaxed);
        Ok(bytes)
    }

    /// The bytes bucket `b` holds in the file.
    pub fn bucket_bytes(&self, b: usize) -> u64 {
        self.chunks
            .get(b)
            .map_or(0, |c| c.iter().map(|&(_, l)| l as u64).sum())
    }

    /// Bytes read back so far (all buckets).
    pub fn bytes_read(&self) -> u64 {
        self.read.load(Ordering::Relaxed)
    }

    /// The records of a bucket read by [`Spool::read`], in the order they
    /// were pushed, each with its offset in `bytes`.
    pub fn records(bytes: &[u8]) -> impl Iterator<Item = std::io::Result<(usize, Record<'_>)>> {
        let mut rest = bytes;
        std::iter::from_fn(move || {
            if rest.is_empty() {
                return None;
            }
            let at = bytes.len() - rest.len();
            match Record::decode(rest) {
                Some((r, tail)) => {
                    rest = tail;
                    Some(Ok((at, r)))
                }
                None => {
                    rest = &[];
                    Some(Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        "a spooled record is cut short",
                    )))
                }
            }
        })
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        output::untrack(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_read_back_alone_and_in_order_and_the_file_goes() {
        let dir = tempfile::tempdir().unwrap();
        let path = path_for(&dir.path().join("out.csv"));
        std::fs::write(&path, b"left by a killed run").unwrap();
        let mut spool = Spool::create(&path, 3).unwrap();
        // Small chunks, so that buckets interleave in the file.
        spool.chunk = 64;
        let keys: Vec<String> = (0..300).map(|i| format!("key{i}")).collect();
        for (i, key) in keys.iter().enumerate() {
            let record = Record {
                row: i as u64,
                offset: 10 * i as u64,
                key: key.as_bytes(),
                payload: if i % 2 == 0 { b"row" } else { b"" },
            };
            spool.push(i % 3, &record).unwrap();
        }
        spool.finish().unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), spool.len);
        for b in 0..3 {
            let before = spool.bytes_read();
            let bytes = spool.read(b).unwrap();
            // Only this bucket's bytes were read.
            assert_eq!(spool.bytes_read() - before, spool.bucket_bytes(b));
            let rows: Vec<u64> = Spool::records(&bytes).map(|r| r.unwrap().1.row).collect();
            let want: Vec<u64> = (0..300).filter(|i| i % 3 == b as u64).collect();
            assert_eq!(rows, want);
            for r in Spool::records(&bytes) {
                let (at, r) = r.unwrap();
                assert_eq!(Spool::records(&bytes[at..]).next().unwrap().unwrap().1, r);
                assert_eq!(r.key, keys[r.row as usize].as_bytes());
                assert_eq!(r.offset, 10 * r.row);
                assert_eq!(r.payload.len(), if r.row % 2 == 0 { 3 } else { 0 });
            }
        }
        assert!(spool.bucket_bytes(0) < spool.len);
        drop(spool);
        assert!(!path.exists());
    }

    #[test]
    fn a_spool_is_private_and_never_in_the_shared_temporary_directory() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("keys.csv");
        let path = path_without_output(&input, None);
        assert_eq!(path, dir.path().join("keys.csv.indomain-spool"));
        let elsewhere = dir.path().join("spools");
        assert_eq!(
            path_without_output(&input, Some(&elsewhere)),
            elsewhere.join("keys.csv.indomain-spool")
        );
        let spool = Spool::create(&path, 2).unwrap();
        assert_eq!(crate::private::mode(&path).unwrap(), 0o600);
        drop(spool);
        assert!(!path.exists());
    }

    #[test]
    fn a_cut_record_is_an_error() {
        let mut bytes = Vec::new();
        Record {
            row: 1,
            offset: 2,
            key: b"k",
            payload: b"p",
        }
        .encode(&mut bytes);
        bytes.pop();
        let got: Vec<_> = Spool::records(&bytes).collect();
        assert_eq!(got.len(), 1);
        assert!(got[0].is_err());
    }
}
