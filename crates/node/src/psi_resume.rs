//! The resume file of a bucketed PSI run, kept beside the output as
//! `OUT.indomain-resume` and removed once the output is in place. It is
//! append-only: a header line (the job, role, peer, a digest of this
//! party's input, the bucket key and the peer's bucket sizes — the
//! library's [`Header`]), then one line per completed bucket (its number,
//! its match count and the positions of its matches in the bucket), each
//! written whole and synced before the next bucket starts. A re-run of the
//! same command finds it and continues after the last bucket both parties
//! completed.
//!
//! A crash can leave the last line cut short: a line without its newline
//! is ignored (and cut off before anything is appended). A complete line
//! that does not parse, or a bucket out of sequence, makes the file
//! unreadable: the run is refused rather than guessed at.

use indomain_psi::PsiError;
use indomain_psi::buckets::{Header, Resume};
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The suffix added to the output's path.
pub const SUFFIX: &str = ".indomain-resume";

/// The format named in the header line.
const FORMAT: &str = "indomain-psi-buckets/1";

/// Where the resume state of the run writing `output` is kept.
pub fn path_for(output: &Path) -> PathBuf {
    let mut p = output.as_os_str().to_owned();
    p.push(SUFFIX);
    PathBuf::from(p)
}

#[derive(Serialize, Deserialize)]
struct HeaderLine {
    format: String,
    header: Header,
}

/// One completed bucket, as a line of the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketLine {
    /// The bucket's number.
    pub bucket: u64,
    /// Its matches, if this party learns them.
    pub intersection_size: Option<u64>,
    /// The positions of its matches in the bucket's keys, in the order
    /// common to both parties, if this party learns them.
    pub matched: Option<Vec<u32>>,
}

/// A resume file as found: its header and where each completed bucket's
/// line is (the lines themselves are read one at a time, on demand).
#[derive(Debug)]
pub struct Found {
    path: PathBuf,
    header: Header,
    header_end: u64,
    /// (start, end) of each complete bucket line, in bucket order.
    lines: Vec<(u64, u64)>,
}

impl Found {
    /// What the library needs to resume.
    pub fn resume(&self) -> Resume {
        Resume {
            header: self.header.clone(),
            done: self.lines.len(),
        }
    }

    /// The line of completed bucket `b`.
    pub fn bucket(&self, b: usize) -> Result<BucketLine, PsiError> {
        let &(start, end) = self
            .lines
            .get(b)
            .ok_or_else(|| refused(&self.path, &format!("bucket {b} is not in it")))?;
        let file = File::open(&self.path).map_err(|e| refused(&self.path, &e.to_string()))?;
        let mut bytes = vec![0u8; (end - start) as usize];
        file.read_exact_at(&mut bytes, start)
            .map_err(|e| refused(&self.path, &e.to_string()))?;
        serde_json::from_slice(&bytes)
            .map_err(|e| refused(&self.path, &format!("unreadable bucket {b} ({e})")))
    }
}

/// Reads the resume file at `path`, if there is one.
pub fn load(path: &Path) -> Result<Option<Found>, PsiError> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(refused(path, &e.to_string())),
    };
    let mut reader = BufReader::new(file);
    let mut line = Vec::new();
    let mut at = 0u64;
    let mut next = |line: &mut Vec<u8>| -> Result<Option<(u64, u64)>, PsiError> {
        line.clear();
        let n = reader
            .read_until(b'\n', line)
            .map_err(|e| refused(path, &e.to_string()))?;
        let start = at;
        at += n as u64;
        // A line without its newline was cut by a crash: ignored.
        if n == 0 || line.last() != Some(&b'\n') {
            return Ok(None);
        }
        line.pop();
        Ok(Some((start, start + line.len() as u64)))
    };
    let Some((_, header_end)) = next(&mut line)? else {
        // Not even the header was written whole: nothing to resume.
        return Ok(None);
    };
    let head: HeaderLine = serde_json::from_slice(&line)
        .map_err(|e| refused(path, &format!("unreadable header ({e})")))?;
    if head.format != FORMAT {
        return Err(refused(
            path,
            &format!("format {:?}, expected {FORMAT:?}", head.format),
        ));
    }
    let mut lines = Vec::new();
    while let Some(span) = next(&mut line)? {
        let entry: BucketLine = serde_json::from_slice(&line)
            .map_err(|e| refused(path, &format!("unreadable line {} ({e})", lines.len() + 2)))?;
        if entry.bucket != lines.len() as u64 {
            return Err(refused(
                path,
                &format!(
                    "line {} is bucket {}, expected {}",
                    lines.len() + 2,
                    entry.bucket,
                    lines.len()
                ),
            ));
        }
        lines.push(span);
    }
    Ok(Some(Found {
        path: path.to_path_buf(),
        header: head.header,
        header_end: header_end + 1,
        lines,
    }))
}

/// The resume file being appended to.
pub struct Log {
    path: PathBuf,
    file: File,
}

impl Log {
    /// Starts the file at `path` for a run with `header`: a new file if
    /// `found` is `None`, else the found one cut after its first `first`
    /// buckets (the peer completed no more; a torn line goes too).
    pub fn begin(
        path: &Path,
        header: &Header,
        found: Option<&Found>,
        first: usize,
    ) -> Result<Self, PsiError> {
        let fail = |e: &dyn std::fmt::Display| refused(path, &format!("cannot write it: {e}"));
        // Matched positions: a private file (0600), narrowed if it was not.
        let mut file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(found.is_none())
            .mode(crate::private::FILE_MODE)
            .open(path)
            .map_err(|e| fail(&e))?;
        file.set_permissions(std::fs::Permissions::from_mode(crate::private::FILE_MODE))
            .map_err(|e| fail(&e))?;
        match found {
            Some(found) => {
                let end = match first {
                    0 => found.header_end,
                    n => found.lines[n - 1].1 + 1,
                };
                file.set_len(end).map_err(|e| fail(&e))?;
                file.seek(SeekFrom::Start(end)).map_err(|e| fail(&e))?;
            }
            None => {
                let line = HeaderLine {
                    format: FORMAT.into(),
                    header: header.clone(),
                };
                let mut bytes = serde_json::to_vec(&line).map_err(|e| fail(&e))?;
                bytes.push(b'\n');
                file.write_all(&bytes).map_err(|e| fail(&e))?;
            }
        }
        file.sync_data().map_err(|e| fail(&e))?;
        Ok(Self {
            path: path.to_path_buf(),
            file,
        })
    }

    /// Appends the line of a completed bucket, synced before returning.
    pub fn append(&mut self, line: &BucketLine) -> Result<(), PsiError> {
        let fail =
            |e: &dyn std::fmt::Display| refused(&self.path, &format!("cannot write it: {e}"));
        let mut bytes = serde_json::to_vec(line).map_err(|e| fail(&e))?;
        bytes.push(b'\n');
        self.file.write_all(&bytes).map_err(|e| fail(&e))?;
        self.file.sync_data().map_err(|e| fail(&e))
    }
}

fn refused(path: &Path, why: &str) -> PsiError {
    PsiError::Job(format!("resume state {}: {why}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use indomain_psi::{Job, Mode, Role};

    fn header() -> Header {
        Header {
            job: Job::new(Mode::Intersection),
            role: Role::Receiver,
            peer: "alice".into(),
            input: [7; 32],
            key: [9; 16],
            peer_sizes: vec![3, 4, 5],
        }
    }

    fn line(b: u64) -> BucketLine {
        BucketLine {
            bucket: b,
            intersection_size: Some(b + 1),
            matched: Some((0..b as u32 + 1).collect()),
        }
    }

    #[test]
    fn lines_are_appended_and_read_back_and_a_torn_last_line_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let path = path_for(&dir.path().join("out.csv"));
        assert!(load(&path).unwrap().is_none());
        let mut log = Log::begin(&path, &header(), None, 0).unwrap();
        log.append(&line(0)).unwrap();
        log.append(&line(1)).unwrap();
        drop(log);
        // A crash in the middle of the third line.
        let mut torn = serde_json::to_vec(&line(2)).unwrap();
        torn.truncate(torn.len() / 2);
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(&torn).unwrap();
        drop(file);

        let found = load(&path).unwrap().unwrap();
        let resume = found.resume();
        assert_eq!((resume.done, resume.header), (2, header()));
        assert_eq!(found.bucket(1).unwrap(), line(1));
        assert!(found.bucket(2).is_err());

        // Resumed after bucket 1: the torn line goes, the new one follows.
        let mut log = Log::begin(&path, &header(), Some(&found), 2).unwrap();
        log.append(&line(2)).unwrap();
        drop(log);
        let found = load(&path).unwrap().unwrap();
        assert_eq!(found.resume().done, 3);
        assert_eq!(found.bucket(2).unwrap(), line(2));

        // The peer completed only one bucket: the file is cut after it.
        Log::begin(&path, &header(), Some(&found), 1).unwrap();
        assert_eq!(load(&path).unwrap().unwrap().resume().done, 1);
        Log::begin(&path, &header(), Some(&found), 0).unwrap();
        assert_eq!(load(&path).unwrap().unwrap().resume().done, 0);
    }

    #[test]
    fn a_garbled_line_or_a_bucket_out_of_sequence_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.csv.indomain-resume");
        let mut log = Log::begin(&path, &header(), None, 0).unwrap();
        log.append(&line(0)).unwrap();
        log.append(&line(2)).unwrap();
        drop(log);
        let e = load(&path).unwrap_err().to_string();
        assert!(e.contains("bucket 2, expected 1"), "{e}");

        let mut log = Log::begin(&path, &header(), None, 0).unwrap();
        log.append(&line(0)).unwrap();
        drop(log);
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(b"{\"bucket\":1,\n").unwrap();
        drop(file);
        let e = load(&path).unwrap_err().to_string();
        assert!(e.contains("unreadable line 3"), "{e}");

        std::fs::write(&path, b"{\"not\":\"a header\"}\n").unwrap();
        let e = load(&path).unwrap_err().to_string();
        assert!(e.contains("unreadable header"), "{e}");
    }
}
