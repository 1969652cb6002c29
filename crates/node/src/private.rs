//! Files that hold data or results, created private: mode 0600, in
//! directories of mode 0700, with no moment at which they exist with wider
//! permissions.
//!
//! A file is opened with its mode in the `open` call itself (so the umask
//! can only narrow it), and a file that already existed — from an older
//! version, or made by hand — is narrowed through its open descriptor
//! before anything is written to it. Rewrites go to a new private file
//! that is renamed into place. Directories this node creates are 0700; a
//! directory it owns for its data (results, the verification store) is
//! narrowed to 0700 when it already exists. Directories the operator names
//! for an output (the one an `--output` file goes into) are left as they
//! are: the file inside is private whatever they allow.

use std::fs::{File, OpenOptions, Permissions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// The mode of a private file.
pub const FILE_MODE: u32 = 0o600;
/// The mode of a private directory.
pub const DIR_MODE: u32 = 0o700;

/// Creates `dir` (and missing parents, each 0700) and makes `dir` itself
/// 0700 if it existed with another mode.
pub fn dir(dir: &Path) -> std::io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)?;
    let meta = std::fs::metadata(dir)?;
    if meta.permissions().mode() & 0o777 != DIR_MODE {
        std::fs::set_permissions(dir, Permissions::from_mode(DIR_MODE))?;
    }
    Ok(())
}

/// Narrows an open file to 0600 (a file that existed before with wider
/// permissions).
fn narrow(file: &File) -> std::io::Result<()> {
    if file.metadata()?.permissions().mode() & 0o777 != FILE_MODE {
        file.set_permissions(Permissions::from_mode(FILE_MODE))?;
    }
    Ok(())
}

/// Opens `path` for appending (and reading), creating it 0600.
pub fn append(path: &Path) -> std::io::Result<File> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .read(true)
        .mode(FILE_MODE)
        .open(path)?;
    narrow(&file)?;
    Ok(file)
}

/// Opens `path` for reading and writing, created 0600 and emptied.
pub fn create(path: &Path) -> std::io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .mode(FILE_MODE)
        .open(path)?;
    narrow(&file)?;
    Ok(file)
}

/// Writes `bytes` as the whole of `path`: into a new 0600 file beside it,
/// synced and renamed into place, so a reader sees the old contents or the
/// new ones, and never a wider mode.
pub fn write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    // tempfile creates its files 0600.
    let mut tmp = tempfile::Builder::new()
        .prefix(crate::output::PARTIAL_PREFIX)
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// The mode bits of `path` (for checks and tests).
pub fn mode(path: &Path) -> std::io::Result<u32> {
    Ok(std::fs::metadata(path)?.permissions().mode() & 0o777)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_and_directories_are_private_even_when_they_existed_wider() {
        let root = tempfile::tempdir().unwrap();
        let d = root.path().join("a/b");
        dir(&d).unwrap();
        assert_eq!(mode(&root.path().join("a")).unwrap(), DIR_MODE);
        assert_eq!(mode(&d).unwrap(), DIR_MODE);
        std::fs::set_permissions(&d, Permissions::from_mode(0o755)).unwrap();
        dir(&d).unwrap();
        assert_eq!(mode(&d).unwrap(), DIR_MODE);

        let f = d.join("log");
        std::fs::write(&f, "old\n").unwrap();
        std::fs::set_permissions(&f, Permissions::from_mode(0o644)).unwrap();
        let mut file = append(&f).unwrap();
        assert_eq!(mode(&f).unwrap(), FILE_MODE);
        file.write_all(b"new\n").unwrap();
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "old\nnew\n");

        std::fs::set_permissions(&f, Permissions::from_mode(0o666)).unwrap();
        create(&f).unwrap();
        assert_eq!(mode(&f).unwrap(), FILE_MODE);
        assert_eq!(std::fs::read(&f).unwrap(), b"");

        std::fs::set_permissions(&f, Permissions::from_mode(0o644)).unwrap();
        write(&f, b"whole").unwrap();
        assert_eq!(mode(&f).unwrap(), FILE_MODE);
        assert_eq!(std::fs::read(&f).unwrap(), b"whole");
        // Nothing else is left in the directory.
        assert_eq!(std::fs::read_dir(&d).unwrap().count(), 1);
    }
}
