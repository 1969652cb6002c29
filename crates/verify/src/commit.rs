//! The operator's signed commitment to a published table: version,
//! revision, row count, attribute and label columns, and the SHA-512 of
//! the table's bytes, signed with the operator's ed25519 key.
//!
//! Every answer names the version it came from, and the client checks the
//! signature and the table hash before it uses a table, so a tampered table
//! or commitment is detected, and a stale one is recognised by comparing
//! with the commitment the operator serves now.

use crate::VerifyError;
use crate::table::table_hash;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

/// Domain separation of the signed bytes.
const SIGN_DOMAIN: &[u8] = b"indomain/verify/v1/commitment\0";

/// What the operator signs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commitment {
    /// The operator's service name.
    pub service: String,
    /// The dataset version.
    pub version: u64,
    /// The revision within the version.
    pub revision: u64,
    /// The number of records.
    pub rows: u64,
    /// The verifiable attributes.
    pub attributes: Vec<String>,
    /// The label columns.
    pub label_columns: Vec<String>,
    /// The table's length in bytes.
    pub table_len: u64,
    /// SHA-512 of the table's bytes.
    pub table_hash: Vec<u8>,
    /// SHA-512 of the previous revision's table (empty for revision 0), so
    /// that revisions form a chain.
    pub previous_hash: Vec<u8>,
    /// When it was published (Unix seconds).
    pub published_at: u64,
}

/// A commitment with the operator's ed25519 signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedCommitment {
    /// The commitment.
    pub commitment: Commitment,
    /// The 64-byte signature over the domain and the commitment's encoding.
    pub signature: Vec<u8>,
}

fn signed_bytes(c: &Commitment) -> Result<Vec<u8>, VerifyError> {
    let body = bincode::serde::encode_to_vec(c, bincode::config::standard())
        .map_err(|e| VerifyError::Input(format!("cannot encode the commitment: {e}")))?;
    Ok([SIGN_DOMAIN, &body].concat())
}

impl SignedCommitment {
    /// Signs `commitment` with `key`.
    pub fn sign(commitment: Commitment, key: &SigningKey) -> Result<Self, VerifyError> {
        let signature = key.sign(&signed_bytes(&commitment)?).to_bytes().to_vec();
        Ok(Self {
            commitment,
            signature,
        })
    }

    /// Checks the signature against the operator's public key.
    pub fn verify(&self, operator: &VerifyingKey) -> Result<&Commitment, VerifyError> {
        let bytes: [u8; 64] = self
            .signature
            .as_slice()
            .try_into()
            .map_err(|_| VerifyError::Tampered("the signature is not 64 bytes".into()))?;
        operator
            .verify_strict(
                &signed_bytes(&self.commitment)?,
                &Signature::from_bytes(&bytes),
            )
            .map_err(|_| {
                VerifyError::Tampered(format!(
                    "the signature on version {}.{} does not verify under the operator's key",
                    self.commitment.version, self.commitment.revision
                ))
            })?;
        Ok(&self.commitment)
    }

    /// Checks the signature and that `table` is the table committed to.
    pub fn verify_table(&self, operator: &VerifyingKey, table: &[u8]) -> Result<(), VerifyError> {
        let c = self.verify(operator)?;
        if c.table_len != table.len() as u64 || c.table_hash != table_hash(table) {
            return Err(VerifyError::Tampered(format!(
                "the table ({} bytes) is not the one version {}.{} commits to ({} bytes)",
                table.len(),
                c.version,
                c.revision,
                c.table_len
            )));
        }
        Ok(())
    }
}

/// The operator's public key as hex (what clients are configured with).
pub fn public_key_hex(key: &VerifyingKey) -> String {
    key.to_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses an operator public key from 64 hex digits.
pub fn parse_public_key(hex: &str) -> Result<VerifyingKey, VerifyError> {
    let bytes = parse_hex::<32>(hex.trim())
        .ok_or_else(|| VerifyError::Input("an operator key is 64 hex digits".into()))?;
    VerifyingKey::from_bytes(&bytes)
        .map_err(|e| VerifyError::Input(format!("not an ed25519 public key: {e}")))
}

/// Parses exactly `N` bytes of hex.
pub fn parse_hex<const N: usize>(hex: &str) -> Option<[u8; N]> {
    if hex.len() != 2 * N || !hex.is_ascii() {
        return None;
    }
    let mut out = [0u8; N];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_and_table_hashes_are_checked() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let table = b"table bytes".to_vec();
        let c = Commitment {
            service: "op".into(),
            version: 1,
            revision: 0,
            rows: 1,
            attributes: vec!["a".into()],
            label_columns: vec![],
            table_len: table.len() as u64,
            table_hash: table_hash(&table).to_vec(),
            previous_hash: vec![],
            published_at: 0,
        };
        let signed = SignedCommitment::sign(c, &key).unwrap();
        signed.verify_table(&key.verifying_key(), &table).unwrap();
        assert!(
            signed
                .verify_table(&key.verifying_key(), b"table bytez")
                .is_err()
        );
        let other = SigningKey::from_bytes(&[8; 32]).verifying_key();
        assert!(signed.verify(&other).is_err());
        let mut forged = signed.clone();
        forged.commitment.rows = 2;
        assert!(forged.verify(&key.verifying_key()).is_err());
        let hex = public_key_hex(&key.verifying_key());
        assert_eq!(parse_public_key(&hex).unwrap(), key.verifying_key());
    }
}
