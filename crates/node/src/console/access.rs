//! Who may use the console: the operator token, the sessions it is
//! exchanged for, and the CSRF token of each session.
//!
//! - The token is 32 random bytes (hex) in a 0600 file beside the control
//!   socket ([`crate::config::console_token_file`]), created at the first
//!   start and replaced by `indomain node --new-console-token`
//!   ([`rotate`]). The running node notices a new token by the file's
//!   size, inode and modification time, and from then on honours only
//!   sessions opened with the new one.
//! - Logging in exchanges the token for a session: a random id in an
//!   HttpOnly, SameSite=Strict cookie (Secure behind TLS) named after the
//!   node, so two nodes' consoles on one host keep apart. Sessions live in
//!   memory only: a restart logs everyone out.
//! - Every form that changes anything carries the session's CSRF token,
//!   checked before the action; the login form carries one of its own
//!   (a double-submit cookie), so nobody can log an operator into a
//!   session of theirs.
//!
//! Tokens are compared by their SHA-256 digests, so the comparison's time
//! says nothing about the token.

use rand::Rng;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a session lasts without being used.
pub const IDLE: Duration = Duration::from_secs(12 * 3600);
/// The most sessions kept at once (the oldest goes first).
pub const MAX_SESSIONS: usize = 64;

/// 32 random bytes as hex.
pub fn random_hex() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    crate::hex::encode(&bytes)
}

fn digest(text: &str) -> [u8; 32] {
    Sha256::digest(text.trim().as_bytes()).into()
}

/// Writes a new operator token to `path` (0600, replacing any) and
/// returns it.
pub fn rotate(path: &Path) -> std::io::Result<String> {
    let token = random_hex();
    crate::private::write(path, format!("{token}\n").as_bytes())?;
    Ok(token)
}

/// Reads the token at `path`, creating one if there is none.
pub fn load_or_create(path: &Path) -> std::io::Result<String> {
    match std::fs::read_to_string(path) {
        Ok(text) if crate::hex::decode::<32>(text.trim()).is_some() => Ok(text.trim().to_string()),
        Ok(_) => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "{}: not a console token (64 hex digits); `indomain node --new-console-token` \
                 writes a new one",
                path.display()
            ),
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => rotate(path),
        Err(e) => Err(e),
    }
}

/// A logged-in operator's session.
#[derive(Debug, Clone)]
pub struct Session {
    /// The session's CSRF token, in every form it is shown.
    pub csrf: String,
    /// The digest of the operator token it was opened with.
    token: [u8; 32],
    used: Instant,
}

/// Identifies the token file's current contents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileStamp(u64, u64, i64, i64);

fn file_stamp(path: &Path) -> Option<FileStamp> {
    let m = std::fs::metadata(path).ok()?;
    Some(FileStamp(m.len(), m.ino(), m.mtime(), m.mtime_nsec()))
}

#[derive(Debug)]
struct Inner {
    token: [u8; 32],
    stamp: Option<FileStamp>,
    sessions: BTreeMap<String, Session>,
}

/// The token and the sessions.
#[derive(Debug)]
pub struct Access {
    path: PathBuf,
    inner: Mutex<Inner>,
}

/// Why a login failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginError {
    /// The token is not the operator's.
    WrongToken,
    /// The login form's own CSRF check failed.
    Forged,
}

impl Access {
    /// Access with the token in `path` (created if missing).
    pub fn open(path: &Path) -> std::io::Result<Access> {
        let token = load_or_create(path)?;
        Ok(Access {
            path: path.to_path_buf(),
            inner: Mutex::new(Inner {
                token: digest(&token),
                stamp: file_stamp(path),
                sessions: BTreeMap::new(),
            }),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        // A rotated token replaces the old one at once: re-read it when
        // the file changed. A file that cannot be read (being replaced)
        // keeps the token it had.
        let stamp = file_stamp(&self.path);
        if stamp != inner.stamp
            && let Ok(text) = std::fs::read_to_string(&self.path)
            && crate::hex::decode::<32>(text.trim()).is_some()
        {
            inner.token = digest(&text);
            inner.stamp = stamp;
            let token = inner.token;
            inner.sessions.retain(|_, s| s.token == token);
        }
        inner
    }

    /// Opens a session for `token` (with the login form's CSRF pair
    /// `form` = `cookie`); returns its id.
    pub fn login(&self, token: &str, form: &str, cookie: &str) -> Result<String, LoginError> {
        if form.is_empty() || digest(form) != digest(cookie) {
            return Err(LoginError::Forged);
        }
        let mut inner = self.lock();
        if digest(token) != inner.token {
            return Err(LoginError::WrongToken);
        }
        let now = Instant::now();
        inner
            .sessions
            .retain(|_, s| now.duration_since(s.used) < IDLE);
        while inner.sessions.len() >= MAX_SESSIONS {
            let oldest = inner
                .sessions
                .iter()
                .min_by_key(|(_, s)| s.used)
                .map(|(id, _)| id.clone());
            match oldest {
                Some(id) => inner.sessions.remove(&id),
                None => break,
            };
        }
        let id = random_hex();
        let token = inner.token;
        inner.sessions.insert(
            id.clone(),
            Session {
                csrf: random_hex(),
                token,
                used: now,
            },
        );
        Ok(id)
    }

    /// The live session of id `id`, if any (and marks it used).
    pub fn session(&self, id: &str) -> Option<Session> {
        let mut inner = self.lock();
        let token = inner.token;
        let now = Instant::now();
        let live = match inner.sessions.get_mut(id) {
            Some(s) if s.token == token && now.duration_since(s.used) < IDLE => {
                s.used = now;
                Some(s.clone())
            }
            _ => None,
        };
        if live.is_none() {
            inner.sessions.remove(id);
        }
        live
    }

    /// Ends session `id`.
    pub fn logout(&self, id: &str) {
        self.lock().sessions.remove(id);
    }
}

/// Whether `given` is the session's CSRF token.
pub fn csrf_ok(session: &Session, given: Option<&str>) -> bool {
    given.is_some_and(|g| !g.is_empty() && digest(g) == digest(&session.csrf))
}

/// The value of cookie `name` in a `Cookie` header.
pub fn cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|pair| {
        let (k, v) = pair.trim().split_once('=')?;
        (k == name).then_some(v)
    })
}
