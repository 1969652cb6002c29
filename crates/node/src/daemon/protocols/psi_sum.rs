//! A psi-sum job under the node: ECDH intersection-sum between two nodes.
//! The first party is the receiver (its columns are the key); the second
//! is the sender, whose columns are the key and the `value_column` (a
//! non-negative integer per key). The receiver learns the number of
//! matching keys; the sender learns it and the sum of its values over the
//! matches. Outputs: `cardinality` for both parties, and `sum` for the
//! sender only (the plan refuses any other declaration). A repeated key is
//! an error (its value would be ambiguous). `min_intersection` travels
//! into the protocol ([`PsiSumPlan::job`]): below it the receiver sends no
//! count and no encrypted sum, so the sender decrypts nothing.
//!
//! What each party learns: the other's set size, the number of matches,
//! and at the sender the sum; never which keys match; below
//! `min_intersection`, only that the minimum was not met.

use super::psi::psi_failed;
use super::{JobProtocol, JobRun, Produced, at, cell_number, cell_text};
use crate::daemon::error::JobError;
use crate::plan::PsiSumPlan;
use indomain_psi::{Items, Role, session};
use std::collections::HashSet;

impl JobProtocol for PsiSumPlan {
    fn run(&self, job: JobRun<'_>) -> Result<Vec<Produced>, JobError> {
        let JobRun {
            spec,
            parties,
            max_rows,
            progress,
            own,
        } = job;
        let me = parties.me();
        let party = &spec.parties[me];
        let role = if me == 0 {
            Role::Receiver
        } else {
            Role::Sender
        };
        progress.phase("reading data");
        let table = own.read(max_rows)?;
        let value_at = match role {
            Role::Sender => Some(
                table
                    .columns
                    .iter()
                    .position(|c| *c == self.value_column)
                    .ok_or_else(|| {
                        JobError::Job(format!(
                            "{} does not list value_column {:?}",
                            party.name, self.value_column
                        ))
                    })?,
            ),
            Role::Receiver => None,
        };
        let key_at: Vec<usize> = (0..table.columns.len())
            .filter(|&i| Some(i) != value_at)
            .collect();
        let mut seen = HashSet::with_capacity(table.rows.len());
        let mut items = Items::new();
        let mut values = Vec::with_capacity(table.rows.len());
        for (r, row) in table.rows.iter().enumerate() {
            let key: Vec<String> = key_at.iter().map(|&i| cell_text(&row[i])).collect();
            if !seen.insert(key.clone()) {
                return Err(JobError::Data {
                    at: format!("dataset {:?}, row {}", party.dataset, r + 1),
                    reason: format!("key {key:?} repeats an earlier row"),
                });
            }
            items.push_columns(&key);
            if let Some(v) = value_at {
                let place = || at(&party.dataset, r, &self.value_column);
                let x = cell_number(&row[v], place)?;
                if x < 0.0 || x.fract() != 0.0 || x >= u64::MAX as f64 {
                    return Err(JobError::Data {
                        at: place(),
                        reason: format!("{x} is not a non-negative integer"),
                    });
                }
                values.push(x as u64);
            }
        }
        drop(seen);

        let psi = self.job();
        let peer = parties.name(1 - me).to_string();
        let ch = parties
            .channel(1 - me)
            .map_err(|e| JobError::protocol(format!("PSI with {peer}"), e))?;
        let mut rng = rand::rng();
        progress.phase("running the protocol");
        let mut report =
            |p: session::Progress| progress.count(p.done as u64, p.total as u64, "keys");
        let ran = match role {
            Role::Receiver => session::receiver(ch, &psi, &items, &mut rng, &mut report),
            Role::Sender => session::sender(ch, &psi, &items, Some(&values), &mut rng, &mut report),
        };
        let outcome = ran.map_err(|e| psi_failed(&peer, e))?;
        let missing = |what: &str| {
            JobError::protocol(
                format!("PSI with {peer}"),
                format!("it did not give this node the {what}"),
            )
        };
        let size = outcome
            .intersection_size
            .ok_or_else(|| missing("cardinality"))?;
        let mut produced = vec![Produced {
            output: "cardinality",
            file: "cardinality.csv".into(),
            bytes: format!("intersection_size\n{size}\n").into_bytes(),
        }];
        if role == Role::Sender {
            let sum = outcome.sum.ok_or_else(|| missing("sum"))?;
            produced.push(Produced {
                output: "sum",
                file: "sum.csv".into(),
                bytes: format!("sum\n{sum}\n").into_bytes(),
            });
        }
        Ok(produced)
    }
}
