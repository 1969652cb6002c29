//! The published table of one dataset version: per verifiable attribute the
//! sorted tags of its entries, and the sealed labels sorted by their index.
//!
//! Its canonical encoding is what the signed commitment hashes, so a client
//! holding the bytes and the commitment can check both. Tags are sorted (not
//! in record order) so that the table does not link the entries of one
//! record across attributes. Without the OPRF key a tag is a pseudo-random
//! string: the table reveals the number of records, the attribute and label
//! column names and the padded label width, nothing else.
//!
//! A [`Delta`] moves a table from one revision to the next within a version
//! (same OPRF key): the tags and labels removed and added.

use crate::VerifyError;
use crate::codec::{Reader, Writer};
use crate::record::Tag;
use sha2::{Digest, Sha512};

const TABLE_MAGIC: &[u8; 8] = b"IDVTBL01";
const DELTA_MAGIC: &[u8; 8] = b"IDVDLT01";

/// Bytes a sealed label adds to its plaintext: the 12-byte AES-GCM nonce
/// and the 16-byte authentication tag.
pub const SEAL_OVERHEAD: usize = 28;

/// Sealed labels, sorted by index, in one flat buffer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Sealed {
    /// The label indexes, strictly ascending.
    pub index: Vec<Tag>,
    /// The ciphertexts, `stride` bytes each, in index order.
    pub data: Vec<u8>,
}

/// A published table; see the module documentation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    /// The dataset version (a fresh OPRF key each).
    pub version: u64,
    /// The revision within the version (incremental updates).
    pub revision: u64,
    /// The number of records.
    pub rows: u64,
    /// The verifiable attributes, in the order of [`Table::tags`].
    pub attributes: Vec<String>,
    /// The label columns (empty if labels are not returned).
    pub label_columns: Vec<String>,
    /// The padded plaintext width of a record's labels.
    pub label_width: u32,
    /// Per attribute, the sorted tags of its entries.
    pub tags: Vec<Vec<Tag>>,
    /// The sealed labels.
    pub sealed: Sealed,
}

impl Table {
    /// Bytes of one sealed label.
    pub fn stride(&self) -> usize {
        self.label_width as usize + SEAL_OVERHEAD
    }

    /// The canonical encoding.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.bytes(TABLE_MAGIC);
        w.u64(self.version);
        w.u64(self.revision);
        w.u64(self.rows);
        w.strs(&self.attributes);
        w.strs(&self.label_columns);
        w.u32(self.label_width);
        for tags in &self.tags {
            w.tags(tags);
        }
        w.tags(&self.sealed.index);
        w.bytes(&self.sealed.data);
        w.0
    }

    /// Decodes and checks a table: sorted unique tags, one tag list per
    /// attribute, one ciphertext per label index.
    pub fn decode(bytes: &[u8]) -> Result<Table, VerifyError> {
        let mut r = Reader::new(bytes, "table");
        if r.take(8)? != TABLE_MAGIC {
            return Err(VerifyError::Table(
                "not an indomain verification table".into(),
            ));
        }
        let (version, revision, rows) = (r.u64()?, r.u64()?, r.u64()?);
        let attributes = r.strs()?;
        let label_columns = r.strs()?;
        let label_width = r.u32()?;
        let tags = attributes
            .iter()
            .map(|_| r.sorted_tags())
            .collect::<Result<Vec<_>, _>>()?;
        let index = r.sorted_tags()?;
        let stride = label_width as usize + SEAL_OVERHEAD;
        let len = index
            .len()
            .checked_mul(stride)
            .ok_or_else(|| VerifyError::Table("label sizes overflow".into()))?;
        let data = r.take(len)?.to_vec();
        r.finish()?;
        if label_columns.is_empty() && !index.is_empty() {
            return Err(VerifyError::Table("labels without label columns".into()));
        }
        Ok(Table {
            version,
            revision,
            rows,
            attributes,
            label_columns,
            label_width,
            tags,
            sealed: Sealed { index, data },
        })
    }

    /// Whether attribute number `attribute` has an entry with this tag.
    pub fn contains(&self, attribute: usize, tag: &Tag) -> bool {
        self.tags
            .get(attribute)
            .is_some_and(|t| t.binary_search(tag).is_ok())
    }

    /// The sealed label listed under `index`, if any.
    pub fn sealed_label(&self, index: &Tag) -> Option<&[u8]> {
        let i = self.sealed.index.binary_search(index).ok()?;
        self.sealed
            .data
            .get(i * self.stride()..(i + 1) * self.stride())
    }

    /// The position of an attribute by name.
    pub fn attribute(&self, name: &str) -> Option<usize> {
        self.attributes.iter().position(|a| a == name)
    }

    /// Applies a delta to this table, giving the next revision.
    pub fn apply(&self, delta: &Delta) -> Result<Table, VerifyError> {
        let mismatch =
            |what: String| VerifyError::Tampered(format!("delta does not apply: {what}"));
        if delta.version != self.version || delta.from_revision != self.revision {
            return Err(mismatch(format!(
                "it goes from {}.{}, the table is {}.{}",
                delta.version, delta.from_revision, self.version, self.revision
            )));
        }
        if delta.removed.len() != self.tags.len() || delta.added.len() != self.tags.len() {
            return Err(mismatch("its attribute count differs".into()));
        }
        let tags = self
            .tags
            .iter()
            .zip(delta.removed.iter().zip(&delta.added))
            .map(|(old, (rm, add))| merge(old, rm, add).ok_or_else(|| mismatch("tags".into())))
            .collect::<Result<Vec<_>, _>>()?;
        let stride = self.stride();
        let index = merge(
            &self.sealed.index,
            &delta.removed_labels,
            &delta.added_labels.index,
        )
        .ok_or_else(|| mismatch("label indexes".into()))?;
        let mut data = Vec::with_capacity(index.len() * stride);
        for i in &index {
            let sealed = self
                .sealed_label(i)
                .filter(|_| delta.removed_labels.binary_search(i).is_err())
                .or_else(|| {
                    let j = delta.added_labels.index.binary_search(i).ok()?;
                    delta.added_labels.data.get(j * stride..(j + 1) * stride)
                })
                .ok_or_else(|| mismatch("a label has no ciphertext".into()))?;
            data.extend_from_slice(sealed);
        }
        Ok(Table {
            version: self.version,
            revision: delta.to_revision,
            rows: delta.rows,
            attributes: self.attributes.clone(),
            label_columns: self.label_columns.clone(),
            label_width: self.label_width,
            tags,
            sealed: Sealed { index, data },
        })
    }
}

/// `old` minus `removed` plus `added`, all sorted; `None` if a removed tag
/// is absent or an added one already present.
fn merge(old: &[Tag], removed: &[Tag], added: &[Tag]) -> Option<Vec<Tag>> {
    let mut kept = Vec::with_capacity(old.len() + added.len());
    let mut rm = removed.iter().peekable();
    for t in old {
        if rm.peek() == Some(&t) {
            rm.next();
        } else {
            kept.push(*t);
        }
    }
    if rm.next().is_some() {
        return None;
    }
    let mut out = Vec::with_capacity(kept.len() + added.len());
    let (mut i, mut j) = (0, 0);
    while i < kept.len() || j < added.len() {
        match (kept.get(i), added.get(j)) {
            (Some(a), Some(b)) if a == b => return None,
            (Some(a), Some(b)) if a < b => {
                out.push(*a);
                i += 1;
            }
            (Some(a), None) => {
                out.push(*a);
                i += 1;
            }
            (_, Some(b)) => {
                out.push(*b);
                j += 1;
            }
            (None, None) => break,
        }
    }
    Some(out)
}

/// SHA-512 of a table's canonical bytes (what the commitment signs).
pub fn table_hash(bytes: &[u8]) -> [u8; 64] {
    Sha512::digest(bytes).into()
}

/// The change from one revision of a version's table to the next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delta {
    /// The dataset version.
    pub version: u64,
    /// The revision it applies to.
    pub from_revision: u64,
    /// The revision it gives.
    pub to_revision: u64,
    /// The record count after it.
    pub rows: u64,
    /// Per attribute, tags removed (sorted).
    pub removed: Vec<Vec<Tag>>,
    /// Per attribute, tags added (sorted).
    pub added: Vec<Vec<Tag>>,
    /// Label indexes removed (sorted).
    pub removed_labels: Vec<Tag>,
    /// Labels added.
    pub added_labels: Sealed,
}

impl Delta {
    /// The binary encoding (`stride` is the table's sealed-label size).
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.bytes(DELTA_MAGIC);
        for v in [
            self.version,
            self.from_revision,
            self.to_revision,
            self.rows,
        ] {
            w.u64(v);
        }
        w.u32(self.removed.len() as u32);
        for (rm, add) in self.removed.iter().zip(&self.added) {
            w.tags(rm);
            w.tags(add);
        }
        w.tags(&self.removed_labels);
        w.tags(&self.added_labels.index);
        w.bytes(&self.added_labels.data);
        w.0
    }

    /// Decodes a delta for a table whose sealed labels are `stride` bytes.
    pub fn decode(bytes: &[u8], stride: usize) -> Result<Delta, VerifyError> {
        let mut r = Reader::new(bytes, "delta");
        if r.take(8)? != DELTA_MAGIC {
            return Err(VerifyError::Table(
                "not an indomain verification delta".into(),
            ));
        }
        let (version, from_revision, to_revision, rows) = (r.u64()?, r.u64()?, r.u64()?, r.u64()?);
        let attributes = r.u32()? as usize;
        if attributes > 1024 {
            return Err(VerifyError::Table(format!(
                "delta: {attributes} attributes"
            )));
        }
        let (mut removed, mut added) = (Vec::new(), Vec::new());
        for _ in 0..attributes {
            removed.push(r.sorted_tags()?);
            added.push(r.sorted_tags()?);
        }
        let removed_labels = r.sorted_tags()?;
        let index = r.sorted_tags()?;
        let len = index
            .len()
            .checked_mul(stride)
            .ok_or_else(|| VerifyError::Table("delta: label sizes overflow".into()))?;
        let data = r.take(len)?.to_vec();
        r.finish()?;
        Ok(Delta {
            version,
            from_revision,
            to_revision,
            rows,
            removed,
            added,
            removed_labels,
            added_labels: Sealed { index, data },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::TAG_BYTES;

    fn t(b: u8) -> Tag {
        [b; TAG_BYTES]
    }

    #[test]
    fn merge_removes_and_adds_and_refuses_inconsistent_deltas() {
        assert_eq!(
            merge(&[t(1), t(3)], &[t(1)], &[t(2), t(4)]),
            Some(vec![t(2), t(3), t(4)])
        );
        assert_eq!(merge(&[t(1)], &[t(2)], &[]), None);
        assert_eq!(merge(&[t(1)], &[], &[t(1)]), None);
    }

    #[test]
    fn tables_round_trip_and_reject_unsorted_tags() {
        let table = Table {
            version: 3,
            revision: 1,
            rows: 2,
            attributes: vec!["name".into()],
            label_columns: vec!["status".into()],
            label_width: 4,
            tags: vec![vec![t(1), t(2)]],
            sealed: Sealed {
                index: vec![t(5)],
                data: vec![7; 4 + SEAL_OVERHEAD],
            },
        };
        let bytes = table.encode();
        assert_eq!(Table::decode(&bytes).unwrap(), table);
        let mut unsorted = table.clone();
        unsorted.tags[0].reverse();
        assert!(Table::decode(&unsorted.encode()).is_err());
        for cut in 0..bytes.len() {
            assert!(Table::decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
    }
}
