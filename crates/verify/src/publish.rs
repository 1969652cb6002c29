//! The operator's offline step: evaluate F_k over every (key, attribute,
//! value) entry of a dataset version, seal the allowed labels, and sign a
//! commitment to the resulting table. Incremental updates within a version
//! evaluate only the records that changed and give a [`Delta`].
//!
//! The operator learns nothing here (it is its own data); what it publishes
//! reveals only the row count, column names and label width (see
//! [`crate::table`]).

use crate::VerifyError;
use crate::commit::{Commitment, SignedCommitment};
use crate::oprf::{OprfKey, Output};
use crate::record::{self, Record, Tag};
use crate::table::{Delta, SEAL_OVERHEAD, Sealed, Table, table_hash};
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use ed25519_dalek::SigningKey;
use rand::Rng;
use rayon::prelude::*;
use std::collections::HashSet;

/// A dataset version as the operator registers it.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// The verifiable attributes.
    pub attributes: Vec<String>,
    /// The label columns that may be returned (empty: no labels).
    pub label_columns: Vec<String>,
    /// The records; keys must be unique.
    pub records: Vec<Record>,
}

/// A published table: its bytes and the signed commitment to them.
#[derive(Debug, Clone)]
pub struct Published {
    /// The table.
    pub table: Table,
    /// Its canonical bytes.
    pub bytes: Vec<u8>,
    /// The signed commitment.
    pub commitment: SignedCommitment,
}

/// Who publishes: the service name, the version's OPRF key and the
/// operator's signing key.
pub struct Publisher<'a> {
    /// The service name put in commitments.
    pub service: &'a str,
    /// The version's OPRF key.
    pub key: &'a OprfKey,
    /// The operator's ed25519 key.
    pub signer: &'a SigningKey,
    /// The publication time put in commitments (Unix seconds).
    pub now: u64,
}

/// What the entries of some records give: per attribute their tags, and
/// their sealed labels (both sorted).
struct Entries {
    tags: Vec<Vec<Tag>>,
    sealed: Sealed,
}

impl Publisher<'_> {
    /// Publishes revision 0 of version `version` of `dataset`.
    pub fn publish(&self, dataset: &Dataset, version: u64) -> Result<Published, VerifyError> {
        check_columns(dataset)?;
        let mut keys = HashSet::with_capacity(dataset.records.len());
        for (i, r) in dataset.records.iter().enumerate() {
            if !keys.insert(r.key.as_str()) {
                return Err(VerifyError::Input(format!(
                    "record {} repeats the key of an earlier record",
                    i + 1
                )));
            }
        }
        let label_width = dataset
            .records
            .iter()
            .map(|r| record::labels_len(&r.labels))
            .max()
            .unwrap_or(0);
        let label_width = u32::try_from(label_width)
            .map_err(|_| VerifyError::Input("labels are too long".into()))?;
        let entries = self.entries(dataset, &dataset.records, version, label_width)?;
        let table = Table {
            version,
            revision: 0,
            rows: dataset.records.len() as u64,
            attributes: dataset.attributes.clone(),
            label_columns: dataset.label_columns.clone(),
            label_width,
            tags: entries.tags,
            sealed: entries.sealed,
        };
        self.finish(table, Vec::new())
    }

    /// The next revision of `previous` (same version and OPRF key): the
    /// `removed` records leave, the `added` ones join. Only those are
    /// evaluated. The labels of added records must fit the version's label
    /// width; otherwise publish a new version.
    pub fn update(
        &self,
        previous: &Published,
        removed: &[Record],
        added: &[Record],
    ) -> Result<(Delta, Published), VerifyError> {
        let old = &previous.table;
        let dataset = Dataset {
            attributes: old.attributes.clone(),
            label_columns: old.label_columns.clone(),
            records: Vec::new(),
        };
        let rm = self.entries(&dataset, removed, old.version, old.label_width)?;
        let add = self.entries(&dataset, added, old.version, old.label_width)?;
        let rows = (old.rows + added.len() as u64)
            .checked_sub(removed.len() as u64)
            .ok_or_else(|| VerifyError::Input("more records removed than published".into()))?;
        let delta = Delta {
            version: old.version,
            from_revision: old.revision,
            to_revision: old.revision + 1,
            rows,
            removed: rm.tags,
            added: add.tags,
            removed_labels: rm.sealed.index,
            added_labels: add.sealed,
        };
        let table = old.apply(&delta).map_err(|_| {
            VerifyError::Input(
                "the update does not apply: a removed record is not published or an added one \
                 already is"
                    .into(),
            )
        })?;
        let published = self.finish(table, table_hash(&previous.bytes).to_vec())?;
        Ok((delta, published))
    }

    fn finish(&self, table: Table, previous_hash: Vec<u8>) -> Result<Published, VerifyError> {
        let bytes = table.encode();
        let commitment = Commitment {
            service: self.service.to_string(),
            version: table.version,
            revision: table.revision,
            rows: table.rows,
            attributes: table.attributes.clone(),
            label_columns: table.label_columns.clone(),
            table_len: bytes.len() as u64,
            table_hash: table_hash(&bytes).to_vec(),
            previous_hash,
            published_at: self.now,
        };
        let commitment = SignedCommitment::sign(commitment, self.signer)?;
        Ok(Published {
            table,
            bytes,
            commitment,
        })
    }

    /// Evaluates and seals the entries of `records`.
    fn entries(
        &self,
        dataset: &Dataset,
        records: &[Record],
        version: u64,
        label_width: u32,
    ) -> Result<Entries, VerifyError> {
        let a = dataset.attributes.len();
        let mut inputs = Vec::with_capacity(records.len() * a);
        for (i, r) in records.iter().enumerate() {
            if r.values.len() != a || r.labels.len() != dataset.label_columns.len() {
                return Err(VerifyError::Input(format!(
                    "record {} has {} values and {} labels, the dataset {a} and {}",
                    i + 1,
                    r.values.len(),
                    r.labels.len(),
                    dataset.label_columns.len()
                )));
            }
            for (attr, value) in dataset.attributes.iter().zip(&r.values) {
                inputs.push(record::entry_input(&r.key, attr, value)?);
            }
        }
        let outputs = self.key.evaluate_batch(inputs.len(), |i| &inputs[i])?;
        let mut tags: Vec<Vec<Tag>> = (0..a)
            .map(|j| outputs.iter().skip(j).step_by(a).map(record::tag).collect())
            .collect();
        for (attr, t) in dataset.attributes.iter().zip(&mut tags) {
            t.par_sort_unstable();
            if t.windows(2).any(|w| w[0] == w[1]) {
                return Err(VerifyError::Input(format!(
                    "two entries of attribute {attr} share a tag; republish with a new key"
                )));
            }
        }
        let sealed = if dataset.label_columns.is_empty() {
            Sealed::default()
        } else {
            seal_all(records, &outputs, a, version, label_width)?
        };
        Ok(Entries { tags, sealed })
    }
}

fn check_columns(dataset: &Dataset) -> Result<(), VerifyError> {
    if dataset.attributes.is_empty() {
        return Err(VerifyError::Input("no verifiable attribute".into()));
    }
    let mut names = HashSet::new();
    for c in dataset.attributes.iter().chain(&dataset.label_columns) {
        if !names.insert(c) {
            return Err(VerifyError::Input(format!("column {c} is named twice")));
        }
    }
    Ok(())
}

/// Seals every record's labels under the key derived from the outputs of
/// all its attributes, sorted by label index.
fn seal_all(
    records: &[Record],
    outputs: &[Output],
    a: usize,
    version: u64,
    label_width: u32,
) -> Result<Sealed, VerifyError> {
    let stride = label_width as usize + SEAL_OVERHEAD;
    let mut sealed: Vec<(Tag, Vec<u8>)> = records
        .par_iter()
        .zip(outputs.par_chunks(a))
        .map(|(r, outs)| {
            let outs: Vec<&Output> = outs.iter().collect();
            let index = record::label_index(&outs);
            let plain = record::encode_labels(&r.labels, label_width as usize)?;
            let sealed = seal(&record::label_key(&outs), version, &index, &plain)?;
            debug_assert_eq!(sealed.len(), stride);
            Ok((index, sealed))
        })
        .collect::<Result<_, VerifyError>>()?;
    sealed.par_sort_unstable_by(|x, y| x.0.cmp(&y.0));
    if sealed.windows(2).any(|w| w[0].0 == w[1].0) {
        return Err(VerifyError::Input("two records share a label index".into()));
    }
    let mut out = Sealed {
        index: Vec::with_capacity(sealed.len()),
        data: Vec::with_capacity(sealed.len() * stride),
    };
    for (index, s) in sealed {
        out.index.push(index);
        out.data.extend_from_slice(&s);
    }
    Ok(out)
}

/// The additional data bound into a sealed label: its version and index,
/// so a ciphertext cannot be moved to another slot or version.
fn aad(version: u64, index: &Tag) -> Vec<u8> {
    [
        b"indomain/verify/v1/label".as_slice(),
        &version.to_le_bytes(),
        index,
    ]
    .concat()
}

/// nonce || AES-256-GCM(key, nonce, plain, aad). The nonce is random: a
/// record whose labels change in an update keeps its key.
fn seal(key: &[u8; 32], version: u64, index: &Tag, plain: &[u8]) -> Result<Vec<u8>, VerifyError> {
    let cipher = Aes256Gcm::new_from_slice(key).expect("32-byte key");
    let mut nonce = [0u8; 12];
    rand::rng().fill_bytes(&mut nonce);
    let aad = aad(version, index);
    let ct = cipher
        .encrypt(
            &Nonce::from(nonce),
            Payload {
                msg: plain,
                aad: &aad,
            },
        )
        .map_err(|_| VerifyError::Input("AES-GCM sealing failed".into()))?;
    Ok([nonce.as_slice(), &ct].concat())
}

/// Opens a sealed label; `None` if it does not authenticate.
pub fn open(key: &[u8; 32], version: u64, index: &Tag, sealed: &[u8]) -> Option<Vec<u8>> {
    let (nonce, ct) = sealed.split_first_chunk::<12>()?;
    let cipher = Aes256Gcm::new_from_slice(key).ok()?;
    let aad = aad(version, index);
    cipher
        .decrypt(&Nonce::from(*nonce), Payload { msg: ct, aad: &aad })
        .ok()
}
