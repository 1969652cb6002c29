//! The client's side, free of I/O: check a fetched table against the
//! operator's signed commitment, blind the entries of the queried records,
//! and turn the operator's evaluations into answers.
//!
//! What the client learns: per queried (key, attribute, claimed value)
//! whether the operator's record has that value, the record's labels when
//! every verifiable attribute matched, the row count and column names of
//! the table, and the signed version. It learns nothing about records it
//! did not ask about: without the OPRF key their tags are pseudo-random.

use crate::VerifyError;
use crate::commit::SignedCommitment;
use crate::oprf::{Blind, ELEMENT_BYTES, Output};
use crate::publish::open;
use crate::record::{self, Query};
use crate::table::{Delta, Table};
use ed25519_dalek::VerifyingKey;
use rayon::prelude::*;
use std::collections::HashSet;

/// The answer about one queried record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// Per claimed attribute, in the query's order: does the value match?
    pub matches: Vec<(String, bool)>,
    /// The record's labels (column, value), when the query claimed every
    /// verifiable attribute, all matched, and the operator returns labels.
    pub labels: Option<Vec<(String, String)>>,
    /// The dataset version the answer comes from.
    pub version: u64,
    /// Its revision.
    pub revision: u64,
}

/// A verified table, ready to answer queries.
#[derive(Debug, Clone)]
pub struct Verifier {
    table: Table,
    commitment: SignedCommitment,
    operator: VerifyingKey,
}

/// Blinded queries waiting for the operator's evaluations.
pub struct Pending {
    /// Per query: (attribute index, OPRF input, blind) for each claim.
    items: Vec<Vec<(usize, Vec<u8>, Blind)>>,
    /// The claimed attributes' names, per query.
    names: Vec<Vec<String>>,
}

impl Pending {
    /// How many OPRF evaluations the queries need.
    pub fn evaluations(&self) -> usize {
        self.items.iter().map(Vec::len).sum()
    }
}

impl Verifier {
    /// Checks `table` against the signed `commitment` under the operator's
    /// key (signature, length, hash, and that the table's header says what
    /// the commitment says).
    pub fn new(
        operator: VerifyingKey,
        commitment: SignedCommitment,
        table: &[u8],
    ) -> Result<Verifier, VerifyError> {
        commitment.verify_table(&operator, table)?;
        let t = Table::decode(table)?;
        let c = &commitment.commitment;
        if (t.version, t.revision, t.rows) != (c.version, c.revision, c.rows)
            || t.attributes != c.attributes
            || t.label_columns != c.label_columns
        {
            return Err(VerifyError::Tampered(
                "the table's header differs from the signed commitment".into(),
            ));
        }
        Ok(Verifier {
            table: t,
            commitment,
            operator,
        })
    }

    /// The signed commitment of the table held.
    pub fn commitment(&self) -> &SignedCommitment {
        &self.commitment
    }

    /// The table held.
    pub fn table(&self) -> &Table {
        &self.table
    }

    /// Fails with [`VerifyError::Stale`] unless `current` (what the
    /// operator serves now, signature checked) is the version held.
    pub fn check_current(&self, current: &SignedCommitment) -> Result<(), VerifyError> {
        let now = current.verify(&self.operator)?;
        let have = &self.commitment.commitment;
        if now.table_hash != have.table_hash {
            return Err(VerifyError::Stale {
                have: have.version,
                have_revision: have.revision,
                current: now.version,
                current_revision: now.revision,
            });
        }
        Ok(())
    }

    /// Moves to the next revision with a delta and its signed commitment,
    /// which must chain to the table held.
    pub fn apply(&self, delta: &[u8], next: SignedCommitment) -> Result<Verifier, VerifyError> {
        let c = next.verify(&self.operator)?;
        if c.previous_hash != self.commitment.commitment.table_hash {
            return Err(VerifyError::Tampered(
                "the new commitment does not chain to the table held".into(),
            ));
        }
        let delta = Delta::decode(delta, self.table.stride())?;
        let bytes = self.table.apply(&delta)?.encode();
        Verifier::new(self.operator, next, &bytes)
    }

    /// Blinds the entries of `queries`. A query that claims an attribute the
    /// table does not have, or one attribute twice, is an error naming it
    /// (1-based).
    pub fn prepare(&self, queries: &[Query]) -> Result<(Pending, Vec<u8>), VerifyError> {
        let mut specs = Vec::with_capacity(queries.len());
        for (i, q) in queries.iter().enumerate() {
            let mut seen = HashSet::new();
            let mut spec = Vec::with_capacity(q.claims.len());
            for (attr, value) in &q.claims {
                let j = self.table.attribute(attr).ok_or_else(|| {
                    VerifyError::Input(format!(
                        "query {}: attribute {attr} is not verifiable here (the table has {})",
                        i + 1,
                        self.table.attributes.join(", ")
                    ))
                })?;
                if !seen.insert(j) {
                    return Err(VerifyError::Input(format!(
                        "query {}: attribute {attr} is claimed twice",
                        i + 1
                    )));
                }
                let input = record::entry_input(&q.key, attr, value)
                    .map_err(|e| VerifyError::Input(format!("query {}: {e}", i + 1)))?;
                spec.push((j, input));
            }
            specs.push(spec);
        }
        let items: Vec<Vec<(usize, Vec<u8>, Blind)>> = specs
            .into_par_iter()
            .map(|spec| {
                spec.into_iter()
                    .map(|(j, input)| (j, input, Blind::random(&mut rand::rng())))
                    .collect()
            })
            .collect();
        let blinded: Vec<[u8; ELEMENT_BYTES]> = items
            .par_iter()
            .flatten()
            .map(|(_, input, blind)| blind.blind(input))
            .collect::<Result<_, _>>()?;
        let names = queries
            .iter()
            .map(|q| q.claims.iter().map(|(a, _)| a.clone()).collect())
            .collect();
        Ok((Pending { items, names }, blinded.concat()))
    }

    /// Turns the operator's evaluations (one 32-byte element per blinded
    /// entry, in order) into answers. `peer` names the operator in errors.
    pub fn finish(
        &self,
        pending: Pending,
        evaluated: &[u8],
        peer: &str,
    ) -> Result<Vec<Answer>, VerifyError> {
        let n = pending.evaluations();
        if evaluated.len() != n * ELEMENT_BYTES {
            return Err(VerifyError::protocol(
                peer,
                crate::Phase::Evaluate,
                format!("{} bytes of evaluations for {n} entries", evaluated.len()),
            ));
        }
        let mut offsets = Vec::with_capacity(pending.items.len());
        let mut at = 0;
        for items in &pending.items {
            offsets.push(at);
            at += items.len();
        }
        pending
            .items
            .par_iter()
            .zip(pending.names.par_iter())
            .zip(offsets.par_iter())
            .map(|((items, names), &first)| {
                let outputs = items
                    .iter()
                    .enumerate()
                    .map(|(k, (_, input, blind))| {
                        let at = (first + k) * ELEMENT_BYTES;
                        blind.finalize(input, &evaluated[at..at + ELEMENT_BYTES])
                    })
                    .collect::<Option<Vec<Output>>>()
                    .ok_or_else(|| {
                        VerifyError::protocol(
                            peer,
                            crate::Phase::Evaluate,
                            "an evaluation is not a valid group element",
                        )
                    })?;
                Ok(self.answer(items, names, &outputs))
            })
            .collect()
    }

    fn answer(
        &self,
        items: &[(usize, Vec<u8>, Blind)],
        names: &[String],
        outputs: &[Output],
    ) -> Answer {
        let matches: Vec<(String, bool)> = items
            .iter()
            .zip(names)
            .zip(outputs)
            .map(|(((j, _, _), name), f)| (name.clone(), self.table.contains(*j, &record::tag(f))))
            .collect();
        let all = self.table.attributes.len();
        let labels = (!self.table.label_columns.is_empty()
            && items.len() == all
            && matches.iter().all(|(_, m)| *m))
        .then(|| {
            let mut ordered: Vec<&Output> = vec![&outputs[0]; all];
            for ((j, _, _), f) in items.iter().zip(outputs) {
                ordered[*j] = f;
            }
            let index = record::label_index(&ordered);
            let sealed = self.table.sealed_label(&index)?;
            let plain = open(
                &record::label_key(&ordered),
                self.table.version,
                &index,
                sealed,
            )?;
            let values = record::decode_labels(&plain, self.table.label_columns.len())?;
            Some(
                self.table
                    .label_columns
                    .iter()
                    .cloned()
                    .zip(values)
                    .collect(),
            )
        })
        .flatten();
        Answer {
            matches,
            labels,
            version: self.table.version,
            revision: self.table.revision,
        }
    }
}
