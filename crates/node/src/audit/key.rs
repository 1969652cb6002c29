//! The node's audit key: an ed25519 key that signs its audit records and
//! the receipts it gives peers.
//!
//! It is derived from the node's TLS identity rather than stored in a file
//! of its own: the seed is SHA-256 over a domain tag and the contents of
//! `node.key` (whitespace removed), so the audit key exists exactly as long
//! as the identity does, is as well protected (the same 0600 file), and
//! changes when `indomain keygen --force` replaces the identity. The TLS key
//! is ECDSA P-256 and cannot sign ed25519 itself; the derivation is one-way,
//! so the audit key reveals nothing about the TLS key. Peers learn the
//! public half as `ed25519:<hex>` (`indomain audit key`).

use crate::error::NodeError;
use ed25519_dalek::{SigningKey, VerifyingKey};
use indomain_net::quic::KEY_FILE;
use sha2::{Digest, Sha256};
use std::path::Path;

const DERIVE_DOMAIN: &[u8] = b"indomain/audit-key/v1\n";

/// The audit signing key of the identity in directory `identity`.
pub fn signing_key(identity: &Path) -> Result<SigningKey, NodeError> {
    let path = identity.join(KEY_FILE);
    let pem = std::fs::read(&path).map_err(|e| crate::error::io_error(&path, e))?;
    if !pem.windows(11).any(|w| w == b"PRIVATE KEY") {
        return Err(NodeError::Key(format!(
            "{}: not a PEM private key",
            path.display()
        )));
    }
    Ok(derive(&pem))
}

/// The key derived from the bytes of a private-key file.
fn derive(pem: &[u8]) -> SigningKey {
    let mut h = Sha256::new();
    h.update(DERIVE_DOMAIN);
    for &b in pem.iter().filter(|b| !b.is_ascii_whitespace()) {
        h.update([b]);
    }
    SigningKey::from_bytes(&h.finalize().into())
}

/// `ed25519:<64 hex digits>`.
pub fn format_public_key(key: &VerifyingKey) -> String {
    format!("ed25519:{}", crate::hex::encode(key.as_bytes()))
}

/// Parses `ed25519:<64 hex digits>`.
pub fn parse_public_key(s: &str) -> Result<VerifyingKey, NodeError> {
    let bad = |why: &str| NodeError::Key(format!("{s:?}: {why}; expected ed25519:<64 hex digits>"));
    let hex = s
        .strip_prefix("ed25519:")
        .ok_or_else(|| bad("missing the ed25519: prefix"))?;
    let bytes = crate::hex::decode::<32>(hex).ok_or_else(|| bad("not 64 hex digits"))?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| bad("not a valid ed25519 public key"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derivation_is_stable_and_ignores_line_breaks() {
        let a = derive(b"-----BEGIN PRIVATE KEY-----\nabc\ndef\n-----END PRIVATE KEY-----\n");
        let b = derive(b"-----BEGIN PRIVATE KEY-----\r\nabcdef\r\n-----END PRIVATE KEY-----");
        let c = derive(b"-----BEGIN PRIVATE KEY-----\nabcdeg\n-----END PRIVATE KEY-----\n");
        assert_eq!(a.to_bytes(), b.to_bytes());
        assert_ne!(a.to_bytes(), c.to_bytes());
    }

    #[test]
    fn public_keys_round_trip() {
        let key = derive(b"x").verifying_key();
        let text = format_public_key(&key);
        assert_eq!(parse_public_key(&text).unwrap(), key);
        assert!(parse_public_key(&text[8..]).is_err());
        assert!(parse_public_key("ed25519:00").is_err());
    }

    #[test]
    fn identity_key_file_is_required() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(signing_key(dir.path()), Err(NodeError::Io { .. })));
        std::fs::write(dir.path().join(KEY_FILE), "not a key").unwrap();
        assert!(matches!(signing_key(dir.path()), Err(NodeError::Key(_))));
    }
}
