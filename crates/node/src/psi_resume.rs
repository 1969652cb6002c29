//! The resume file of a bucketed PSI run: the library's
//! [`buckets::State`] kept beside the output as `OUT.indomain-resume`,
//! replaced atomically after every completed bucket and removed once the
//! output is in place. A re-run of the same command finds it and continues
//! after the last bucket both parties completed.

use indomain_psi::PsiError;
use indomain_psi::buckets::State;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The suffix added to the output's path.
pub const SUFFIX: &str = ".indomain-resume";

/// Where the resume state of the run writing `output` is kept.
pub fn path_for(output: &Path) -> PathBuf {
    let mut p = output.as_os_str().to_owned();
    p.push(SUFFIX);
    PathBuf::from(p)
}

/// Reads the state at `path`, if there is one.
pub fn load(path: &Path) -> Result<Option<State>, PsiError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(refused(path, &e.to_string())),
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| refused(path, &format!("unreadable ({e})")))
}

/// Replaces the state at `path` by `state`, atomically (a crash leaves the
/// old state or the new one, never a mix).
pub fn save(path: &Path, state: &State) -> Result<(), PsiError> {
    let fail = |e: &dyn std::fmt::Display| refused(path, &format!("cannot write it: {e}"));
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".indomain-resume-")
        .tempfile_in(dir)
        .map_err(|e| fail(&e))?;
    serde_json::to_writer(std::io::BufWriter::new(&mut tmp), state).map_err(|e| fail(&e))?;
    tmp.flush().map_err(|e| fail(&e))?;
    tmp.as_file().sync_all().map_err(|e| fail(&e))?;
    tmp.persist(path).map_err(|e| fail(&e.error))?;
    Ok(())
}

fn refused(path: &Path, why: &str) -> PsiError {
    PsiError::Job(format!("resume state {}: {why}", path.display()))
}
