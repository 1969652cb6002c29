//! Node identities: a self-signed certificate and its private key, the
//! certificate's SHA-256 fingerprint, and the `NAME=sha256:<hex>` entries
//! that tell a node which peers to trust.
//!
//! Nothing here touches the network. A node's certificate is public (its
//! fingerprint is what peers pin); its private key never leaves `node.key`.

use crate::NetError;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};
use std::fmt;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// File name of the certificate inside an identity directory.
pub const CERT_FILE: &str = "node.crt";
/// File name of the private key inside an identity directory.
pub const KEY_FILE: &str = "node.key";

/// The longest node name accepted.
const MAX_NAME_LEN: usize = 64;

/// A node's certificate (self-signed, made with rcgen) and private key.
pub struct Identity {
    name: String,
    cert: CertificateDer<'static>,
    cert_pem: String,
    key_pem: String,
}

impl Identity {
    /// Creates a fresh ECDSA P-256 key and a self-signed certificate that
    /// names the node. `name` may use ASCII letters, digits, `-`, `_` and
    /// `.` (at most 64), because it appears in `NAME=sha256:...` entries.
    pub fn generate(name: &str) -> Result<Identity, NetError> {
        check_name(name)?;
        let generated =
            rcgen::generate_simple_self_signed(vec![name.to_string()]).map_err(|e| {
                NetError::Config(format!("cannot create a certificate for {name}: {e}"))
            })?;
        Ok(Identity {
            name: name.to_string(),
            cert: generated.cert.der().clone(),
            cert_pem: generated.cert.pem(),
            key_pem: generated.signing_key.serialize_pem(),
        })
    }

    /// Writes `dir/node.crt` and `dir/node.key` (PEM; the key readable by
    /// its owner only), creating `dir` if needed and replacing an identity
    /// already there. Each file is written beside its destination and
    /// renamed into place, so a reader never sees half a file.
    pub fn save(&self, dir: &Path) -> Result<(), NetError> {
        fs::create_dir_all(dir).map_err(|e| identity_error(dir, e))?;
        write_file(&dir.join(KEY_FILE), self.key_pem.as_bytes(), 0o600)?;
        write_file(&dir.join(CERT_FILE), self.cert_pem.as_bytes(), 0o644)
    }

    /// Reads an identity written by [`Identity::save`] and checks that the
    /// key belongs to the certificate.
    pub fn load(dir: &Path) -> Result<Identity, NetError> {
        let cert_path = dir.join(CERT_FILE);
        let key_path = dir.join(KEY_FILE);
        if !dir.is_dir() {
            return Err(NetError::Identity {
                path: dir.display().to_string(),
                reason: "no such directory; run `indomain keygen`".into(),
            });
        }
        let cert_pem = read_file(&cert_path)?;
        let key_pem = read_file(&key_path)?;
        let cert = CertificateDer::from_pem_slice(&cert_pem)
            .map_err(|e| pem_error(&cert_path, "certificate", e))?;
        let key = PrivateKeyDer::from_pem_slice(&key_pem)
            .map_err(|e| pem_error(&key_path, "private key", e))?;
        refuse_if_open_to_others(&key_path)?;
        let name = name_in_certificate(&cert).ok_or_else(|| NetError::Identity {
            path: cert_path.display().to_string(),
            reason: "the certificate names no node (no DNS subject alternative name)".into(),
        })?;
        check_keys_match(&cert, key).map_err(|reason| NetError::Identity {
            path: key_path.display().to_string(),
            reason,
        })?;
        Ok(Identity {
            name,
            cert,
            cert_pem: utf8(cert_pem, &cert_path)?,
            key_pem: utf8(key_pem, &key_path)?,
        })
    }

    /// The node's name, as written in its certificate.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The SHA-256 fingerprint of the certificate, which peers pin.
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint::of(&self.cert)
    }

    /// This node's `--peer` entry for other nodes: `NAME=sha256:<hex>`.
    pub fn trusted_entry(&self) -> TrustedPeer {
        TrustedPeer {
            name: self.name.clone(),
            fingerprint: self.fingerprint(),
        }
    }

    pub(crate) fn certificate(&self) -> CertificateDer<'static> {
        self.cert.clone()
    }

    pub(crate) fn private_key(&self) -> Result<PrivateKeyDer<'static>, NetError> {
        PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes())
            .map_err(|e| NetError::Config(format!("private key of {}: {e}", self.name)))
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the key.
        f.debug_struct("Identity")
            .field("name", &self.name)
            .field("fingerprint", &self.fingerprint())
            .finish_non_exhaustive()
    }
}

/// The SHA-256 of a certificate's DER encoding.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint(pub [u8; 32]);

impl Fingerprint {
    /// The fingerprint of a DER-encoded certificate.
    pub fn of(cert_der: &[u8]) -> Fingerprint {
        Fingerprint(Sha256::digest(cert_der).into())
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("sha256:")?;
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for Fingerprint {
    type Err = NetError;

    /// Parses `sha256:` followed by 64 hex digits (either case).
    fn from_str(s: &str) -> Result<Self, NetError> {
        let bad = |why: &str| {
            NetError::Config(format!(
                "fingerprint {s:?}: {why}; expected sha256:<64 hex digits>"
            ))
        };
        let hex = s
            .strip_prefix("sha256:")
            .ok_or_else(|| bad("missing the sha256: prefix"))?;
        if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad("not hex"));
        }
        if hex.len() != 64 {
            return Err(bad(&format!("{} hex digits", hex.len())));
        }
        let mut out = [0u8; 32];
        for (byte, pair) in out.iter_mut().zip(hex.as_bytes().chunks_exact(2)) {
            let digits = std::str::from_utf8(pair).map_err(|_| bad("not hex"))?;
            *byte = u8::from_str_radix(digits, 16).map_err(|_| bad("not hex"))?;
        }
        Ok(Fingerprint(out))
    }
}

/// A peer this node accepts: its name and its certificate's fingerprint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedPeer {
    /// The name the peer is known by (in logs, errors and party lists).
    pub name: String,
    /// The SHA-256 fingerprint of its certificate.
    pub fingerprint: Fingerprint,
}

impl fmt::Display for TrustedPeer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.name, self.fingerprint)
    }
}

impl FromStr for TrustedPeer {
    type Err = NetError;

    /// Parses `NAME=sha256:<64 hex digits>`, as `indomain keygen` prints it.
    fn from_str(s: &str) -> Result<Self, NetError> {
        let (name, fingerprint) = s.split_once('=').ok_or_else(|| {
            NetError::Config(format!(
                "peer {s:?}: expected NAME=sha256:<64 hex digits>, as `indomain keygen` prints it"
            ))
        })?;
        check_name(name)?;
        Ok(TrustedPeer {
            name: name.to_string(),
            fingerprint: fingerprint.parse()?,
        })
    }
}

/// Refuses names that could not round-trip through `NAME=sha256:...` or a
/// certificate's DNS name.
pub(crate) fn check_name(name: &str) -> Result<(), NetError> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if name.is_empty() || name.len() > MAX_NAME_LEN || !name.chars().all(ok_char) {
        return Err(NetError::Config(format!(
            "node name {name:?}: use 1 to {MAX_NAME_LEN} ASCII letters, digits, '-', '_' or '.'"
        )));
    }
    Ok(())
}

fn name_in_certificate(cert: &CertificateDer<'_>) -> Option<String> {
    let parsed = webpki::EndEntityCert::try_from(cert).ok()?;
    let name = parsed.valid_dns_names().next()?.to_string();
    check_name(&name).ok()?;
    Some(name)
}

fn check_keys_match(
    cert: &CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
) -> Result<(), String> {
    let provider = rustls::crypto::ring::default_provider();
    let signing_key = provider
        .key_provider
        .load_private_key(key)
        .map_err(|e| format!("unusable private key: {e}"))?;
    rustls::sign::CertifiedKey::new(vec![cert.clone()], signing_key)
        .keys_match()
        .map_err(|_| format!("this key does not belong to {CERT_FILE}"))
}

fn write_file(path: &Path, contents: &[u8], mode: u32) -> Result<(), NetError> {
    let tmp = temp_beside(path);
    let result = (|| {
        let _ = fs::remove_file(&tmp);
        let mut options = fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
        #[cfg(not(unix))]
        let _ = mode;
        let mut file = options.open(&tmp)?;
        file.write_all(contents)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(|e| identity_error(path, e))
}

fn temp_beside(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

fn read_file(path: &Path) -> Result<Vec<u8>, NetError> {
    fs::read(path).map_err(|e| {
        let reason = if e.kind() == std::io::ErrorKind::NotFound {
            "no such file; run `indomain keygen`".to_string()
        } else {
            e.to_string()
        };
        NetError::Identity {
            path: path.display().to_string(),
            reason,
        }
    })
}

/// Refuses a private key that users other than its owner may read or
/// write, as ssh does: anyone who can read it can impersonate the node.
fn refuse_if_open_to_others(key_path: &Path) -> Result<(), NetError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(key_path)
            .map_err(|e| identity_error(key_path, e))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(NetError::Identity {
                path: key_path.display().to_string(),
                reason: format!(
                    "the private key is open to other users (mode {:03o}); run chmod 600 on it",
                    mode & 0o777
                ),
            });
        }
    }
    #[cfg(not(unix))]
    let _ = key_path;
    Ok(())
}

fn utf8(bytes: Vec<u8>, path: &Path) -> Result<String, NetError> {
    String::from_utf8(bytes).map_err(|_| NetError::Identity {
        path: path.display().to_string(),
        reason: "not a PEM text file".into(),
    })
}

fn identity_error(path: &Path, e: std::io::Error) -> NetError {
    NetError::Identity {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

fn pem_error(path: &Path, what: &str, e: rustls::pki_types::pem::Error) -> NetError {
    NetError::Identity {
        path: path.display().to_string(),
        reason: format!("no PEM {what} found ({e})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_round_trips_through_files() {
        let dir = tempfile::tempdir().unwrap();
        let id = Identity::generate("bank-1").unwrap();
        id.save(dir.path()).unwrap();
        let loaded = Identity::load(dir.path()).unwrap();
        assert_eq!(loaded.name(), "bank-1");
        assert_eq!(loaded.fingerprint(), id.fingerprint());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.path().join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_key_from_another_identity_is_refused() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        Identity::generate("a").unwrap().save(a.path()).unwrap();
        Identity::generate("b").unwrap().save(b.path()).unwrap();
        fs::copy(b.path().join(KEY_FILE), a.path().join(KEY_FILE)).unwrap();
        let err = Identity::load(a.path()).unwrap_err();
        assert!(
            matches!(&err, NetError::Identity { reason, .. } if reason.contains("does not belong")),
            "{err}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_key_open_to_other_users_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        Identity::generate("a").unwrap().save(dir.path()).unwrap();
        let key = dir.path().join(KEY_FILE);
        for mode in [0o640, 0o604, 0o620, 0o602] {
            fs::set_permissions(&key, fs::Permissions::from_mode(mode)).unwrap();
            let err = Identity::load(dir.path()).unwrap_err().to_string();
            assert!(err.contains("chmod 600"), "{mode:o}: {err}");
        }
        fs::set_permissions(&key, fs::Permissions::from_mode(0o400)).unwrap();
        assert!(Identity::load(dir.path()).is_ok());
    }

    #[test]
    fn missing_identity_says_how_to_make_one() {
        let dir = tempfile::tempdir().unwrap();
        let err = Identity::load(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains(CERT_FILE) && err.contains("indomain keygen"),
            "{err}"
        );
    }

    #[test]
    fn fingerprints_and_peer_entries_round_trip() {
        let id = Identity::generate("tax.bureau").unwrap();
        let entry = id.trusted_entry().to_string();
        assert!(entry.starts_with("tax.bureau=sha256:"));
        assert_eq!(entry.len(), "tax.bureau=sha256:".len() + 64);
        let parsed: TrustedPeer = entry.parse().unwrap();
        assert_eq!(parsed, id.trusted_entry());
        let upper = format!("tax.bureau=sha256:{}", entry[18..].to_uppercase());
        assert_eq!(upper.parse::<TrustedPeer>().unwrap(), parsed);
    }

    #[test]
    fn malformed_peer_entries_are_errors() {
        let good = "0".repeat(64);
        for bad in [
            String::new(),
            "alice".into(),
            format!("alice={good}"),
            format!("alice=sha256:{}", &good[..63]),
            format!("alice=sha256:{}g", &good[..63]),
            format!("=sha256:{good}"),
            format!("al ice=sha256:{good}"),
            format!("alice=sha256:{}é", &good[..62]),
            format!("alice=sha256:+f{}", &good[..62]),
        ] {
            assert!(bad.parse::<TrustedPeer>().is_err(), "{bad:?} parsed");
        }
    }
}
