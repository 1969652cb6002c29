//! Outputs that appear whole or not at all, and never in place of an input.
//!
//! A job writes its result into a temporary file beside the destination and
//! renames it into place only once the job has completed, so a failed job
//! leaves no partial output and never clobbers an earlier result. The
//! destination is checked before the job starts: it must not be one of the
//! job's inputs (compared as files — device and inode — so links and
//! relative paths do not hide it), and an existing file is replaced only
//! when the operator said so (`--force`). Every temporary file is listed in
//! a process-wide registry, so that a signal handler can remove them all
//! before the process exits ([`remove_partials`]).

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use tempfile::NamedTempFile;

/// Prefix of the temporary files outputs are written into.
pub const PARTIAL_PREFIX: &str = ".indomain-partial-";

/// The temporary files of the outputs being written by this process.
static PARTIALS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// A file being written that becomes visible at `path` only on `commit`.
/// Dropping it without committing removes the temporary file.
pub struct AtomicOutput {
    path: PathBuf,
    partial: PathBuf,
    replace: bool,
    writer: Option<BufWriter<NamedTempFile>>,
}

impl AtomicOutput {
    /// Starts an output that will land at `path`, after checking it with
    /// [`check_destination`]: refused if it is one of `inputs`, or if it
    /// exists and `replace` is false.
    pub fn create(path: &Path, inputs: &[&Path], replace: bool) -> std::io::Result<Self> {
        check_destination(path, inputs, replace)?;
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let tmp = tempfile::Builder::new()
            .prefix(PARTIAL_PREFIX)
            .tempfile_in(dir)
            .map_err(|e| {
                std::io::Error::new(
                    e.kind(),
                    format!("cannot write in directory {}: {e}", dir.display()),
                )
            })?;
        let partial = tmp.path().to_path_buf();
        track(&partial);
        Ok(Self {
            path: path.to_path_buf(),
            partial,
            replace,
            writer: Some(BufWriter::new(tmp)),
        })
    }

    /// Flushes, syncs and renames the file into place. Without `replace`,
    /// a file that appeared at the destination meanwhile is not replaced.
    pub fn commit(mut self) -> std::io::Result<()> {
        let Some(writer) = self.writer.take() else {
            return Ok(());
        };
        let tmp = writer.into_inner().map_err(|e| e.into_error())?;
        tmp.as_file().sync_all()?;
        if self.replace {
            tmp.persist(&self.path).map_err(|e| e.error)?;
        } else {
            tmp.persist_noclobber(&self.path).map_err(|e| e.error)?;
        }
        Ok(())
    }

    /// The destination path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn writer(&mut self) -> std::io::Result<&mut BufWriter<NamedTempFile>> {
        self.writer
            .as_mut()
            .ok_or_else(|| std::io::Error::other("output already committed"))
    }
}

impl Drop for AtomicOutput {
    fn drop(&mut self) {
        // The temporary file itself goes with `writer` (unless committed).
        untrack(&self.partial);
    }
}

impl Write for AtomicOutput {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.writer()?.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.writer()?.flush()
    }
}

/// Lists a temporary file of this process for [`remove_partials`].
pub(crate) fn track(path: &Path) {
    if let Ok(mut list) = PARTIALS.lock() {
        list.push(path.to_path_buf());
    }
}

/// Takes a file off the list of [`track`] (it is gone or kept).
pub(crate) fn untrack(path: &Path) {
    if let Ok(mut list) = PARTIALS.lock() {
        list.retain(|p| p != path);
    }
}

/// Removes the temporary file of every output still being written, and
/// says how many there were. For a signal handler about to exit the
/// process: the outputs are abandoned.
pub fn remove_partials() -> usize {
    // A handler must not wait on a lock a stopped thread may hold.
    match PARTIALS.try_lock() {
        Ok(list) => {
            for path in list.iter() {
                let _ = std::fs::remove_file(path);
            }
            list.len()
        }
        Err(_) => 0,
    }
}

/// Refuses `output` if it is the same file as one of `inputs` (whatever the
/// path says: links, `..`, relative or absolute), or if it exists and
/// `replace` is false. A destination that does not exist yet is accepted
/// here; whether its directory is writable shows when the output is
/// created.
pub fn check_destination(output: &Path, inputs: &[&Path], replace: bool) -> std::io::Result<()> {
    let Ok(meta) = std::fs::metadata(output) else {
        return Ok(());
    };
    for input in inputs {
        if std::fs::metadata(input).is_ok_and(|m| same_file(&meta, &m, output, input)) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                format!(
                    "is the input file {}; write the result to another file",
                    input.display()
                ),
            ));
        }
    }
    if meta.is_dir() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::IsADirectory,
            "is a directory; give a file name",
        ));
    }
    if !replace {
        return Err(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            "already exists; pass --force to replace it",
        ));
    }
    Ok(())
}

#[cfg(unix)]
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata, _: &Path, _: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    (a.dev(), a.ino()) == (b.dev(), b.ino())
}

#[cfg(not(unix))]
fn same_file(_: &std::fs::Metadata, _: &std::fs::Metadata, a: &Path, b: &Path) -> bool {
    matches!((a.canonicalize(), b.canonicalize()), (Ok(a), Ok(b)) if a == b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_lands_until_commit() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out.csv");
        {
            let mut out = AtomicOutput::create(&dest, &[], false).unwrap();
            out.write_all(b"half").unwrap();
            // dropped without commit: a failed job
        }
        assert!(!dest.exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        let mut out = AtomicOutput::create(&dest, &[], false).unwrap();
        out.write_all(b"whole").unwrap();
        out.commit().unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"whole");
    }

    #[test]
    fn inputs_and_existing_files_are_protected() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.csv");
        std::fs::write(&input, "x").unwrap();
        let alias = dir.path().join(".").join("in.csv");
        let err = AtomicOutput::create(&alias, &[&input], true).err().unwrap();
        assert!(err.to_string().contains("is the input"), "{err}");
        let err = AtomicOutput::create(&input, &[], false).err().unwrap();
        assert!(err.to_string().contains("--force"), "{err}");
        let mut out = AtomicOutput::create(&input, &[], true).unwrap();
        out.write_all(b"y").unwrap();
        out.commit().unwrap();
        assert_eq!(std::fs::read(&input).unwrap(), b"y");
    }

    #[test]
    fn a_file_appearing_meanwhile_is_not_replaced_without_force() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out.csv");
        let out = AtomicOutput::create(&dest, &[], false).unwrap();
        std::fs::write(&dest, "other").unwrap();
        assert!(out.commit().is_err());
        assert_eq!(std::fs::read(&dest).unwrap(), b"other");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
