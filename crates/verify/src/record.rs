//! Records, and what is derived from their OPRF outputs.
//!
//! Every (key, attribute, value) entry is one OPRF input, domain-separated
//! and length-prefixed so that no two distinct entries share an input. From
//! the output F of an entry come its tag (what the table lists) and, from
//! the outputs of all attributes of a record together, the index and the
//! AES-GCM key of the record's sealed label: a label opens only for a client
//! that holds every verifiable attribute of the record.

use crate::VerifyError;
use crate::oprf::Output;
use sha2::{Digest, Sha512};

/// Bytes of a tag in the table. A false match needs a 96-bit collision
/// with one of the table's tags: at most rows · 2^-96 a lookup.
pub const TAG_BYTES: usize = 12;

/// A tag: the first [`TAG_BYTES`] of a hash of an OPRF output.
pub type Tag = [u8; TAG_BYTES];

/// The longest key, attribute name, value or label accepted (bytes), so
/// that every OPRF input stays far below RFC 9497's 65535-byte bound.
pub const MAX_FIELD: usize = 1024;

const ENTRY_DOMAIN: &[u8] = b"indomain/verify/v1/entry";
const TAG_DOMAIN: &[u8] = b"indomain/verify/v1/tag";
const LABEL_INDEX_DOMAIN: &[u8] = b"indomain/verify/v1/label-index";
const LABEL_KEY_DOMAIN: &[u8] = b"indomain/verify/v1/label-key";

/// One record of the operator's dataset: its key, one value per verifiable
/// attribute, and one value per label column (in the dataset's order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The record's key (e.g. an ID number).
    pub key: String,
    /// One value per verifiable attribute.
    pub values: Vec<String>,
    /// One value per label column (may be empty when there are none).
    pub labels: Vec<String>,
}

/// What a client asks about one record: a key and claimed values for some
/// of the verifiable attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// The key.
    pub key: String,
    /// (attribute, claimed value) pairs.
    pub claims: Vec<(String, String)>,
}

/// The OPRF input of one (key, attribute, value) entry.
pub fn entry_input(key: &str, attribute: &str, value: &str) -> Result<Vec<u8>, VerifyError> {
    let mut out =
        Vec::with_capacity(ENTRY_DOMAIN.len() + 6 + key.len() + attribute.len() + value.len());
    out.extend_from_slice(ENTRY_DOMAIN);
    for (what, field) in [("key", key), ("attribute", attribute), ("value", value)] {
        if field.len() > MAX_FIELD {
            return Err(VerifyError::Input(format!(
                "a {what} of {} bytes is longer than {MAX_FIELD}",
                field.len()
            )));
        }
        out.extend_from_slice(&(field.len() as u16).to_be_bytes());
        out.extend_from_slice(field.as_bytes());
    }
    Ok(out)
}

fn hash(domain: &[u8], outputs: &[&Output]) -> [u8; 64] {
    let mut h = Sha512::new();
    h.update(domain);
    for o in outputs {
        h.update(o);
    }
    h.finalize().into()
}

/// The tag of an entry with output `f`.
pub fn tag(f: &Output) -> Tag {
    let h = hash(TAG_DOMAIN, &[f]);
    h[..TAG_BYTES].try_into().expect("64 > TAG_BYTES")
}

/// Where a record's sealed label is listed, from the outputs of all its
/// attributes (in the dataset's attribute order).
pub fn label_index(outputs: &[&Output]) -> Tag {
    let h = hash(LABEL_INDEX_DOMAIN, outputs);
    h[..TAG_BYTES].try_into().expect("64 > TAG_BYTES")
}

/// The AES-256-GCM key of a record's sealed label.
pub fn label_key(outputs: &[&Output]) -> [u8; 32] {
    let h = hash(LABEL_KEY_DOMAIN, outputs);
    h[..32].try_into().expect("64 > 32")
}

/// A record's labels as one plaintext: each label length-prefixed (u16),
/// zero-padded to `width` so every sealed label has the same size.
pub fn encode_labels(labels: &[String], width: usize) -> Result<Vec<u8>, VerifyError> {
    let mut out = Vec::with_capacity(width);
    for l in labels {
        if l.len() > MAX_FIELD {
            return Err(VerifyError::Input(format!(
                "a label of {} bytes is longer than {MAX_FIELD}",
                l.len()
            )));
        }
        out.extend_from_slice(&(l.len() as u16).to_be_bytes());
        out.extend_from_slice(l.as_bytes());
    }
    if out.len() > width {
        return Err(VerifyError::Input(format!(
            "labels of {} bytes do not fit the width {width}",
            out.len()
        )));
    }
    out.resize(width, 0);
    Ok(out)
}

/// The encoded length of a record's labels (before padding).
pub fn labels_len(labels: &[String]) -> usize {
    labels.iter().map(|l| 2 + l.len()).sum()
}

/// Decodes `count` labels from a padded plaintext.
pub fn decode_labels(plain: &[u8], count: usize) -> Option<Vec<String>> {
    let mut rest = plain;
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let (len, tail) = rest.split_first_chunk::<2>()?;
        let len = u16::from_be_bytes(*len) as usize;
        let (label, tail) = tail.split_at_checked(len)?;
        out.push(String::from_utf8(label.to_vec()).ok()?);
        rest = tail;
    }
    rest.iter().all(|&b| b == 0).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_unambiguous() {
        let a = entry_input("ab", "c", "d").unwrap();
        let b = entry_input("a", "bc", "d").unwrap();
        assert_ne!(a, b);
        assert!(entry_input(&"x".repeat(MAX_FIELD + 1), "a", "v").is_err());
    }

    #[test]
    fn labels_round_trip_and_padding_is_checked() {
        let labels = vec!["valid".to_string(), String::new(), "类别".to_string()];
        let plain = encode_labels(&labels, 40).unwrap();
        assert_eq!(plain.len(), 40);
        assert_eq!(decode_labels(&plain, 3).unwrap(), labels);
        let mut bad = plain.clone();
        bad[39] = 1;
        assert!(decode_labels(&bad, 3).is_none());
        assert!(decode_labels(&plain[..5], 3).is_none());
        assert!(encode_labels(&labels, 5).is_err());
    }
}
