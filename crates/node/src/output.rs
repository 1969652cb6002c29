//! Outputs that appear whole or not at all.
//!
//! A job writes its result into a temporary file beside the destination and
//! renames it into place only once the job has completed, so a failed job
//! leaves no partial output and never clobbers an earlier result.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use tempfile::NamedTempFile;

/// A file being written that becomes visible at `path` only on `commit`.
/// Dropping it without committing removes the temporary file.
pub struct AtomicOutput {
    path: PathBuf,
    writer: BufWriter<NamedTempFile>,
}

impl AtomicOutput {
    /// Starts an output that will land at `path`.
    pub fn create(path: &Path) -> std::io::Result<Self> {
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let tmp = tempfile::Builder::new()
            .prefix(".indomain-partial-")
            .tempfile_in(dir)?;
        Ok(Self {
            path: path.to_path_buf(),
            writer: BufWriter::new(tmp),
        })
    }

    /// Flushes, syncs and renames the file into place.
    pub fn commit(self) -> std::io::Result<()> {
        let tmp = self.writer.into_inner().map_err(|e| e.into_error())?;
        tmp.as_file().sync_all()?;
        tmp.persist(&self.path).map_err(|e| e.error)?;
        Ok(())
    }

    /// The destination path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Write for AtomicOutput {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.writer.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.writer.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_lands_until_commit() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out.csv");
        {
            let mut out = AtomicOutput::create(&dest).unwrap();
            out.write_all(b"half").unwrap();
            // dropped without commit: a failed job
        }
        assert!(!dest.exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        let mut out = AtomicOutput::create(&dest).unwrap();
        out.write_all(b"whole").unwrap();
        out.commit().unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"whole");
    }
}
