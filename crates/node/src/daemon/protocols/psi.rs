//! A PSI job under the node (`psi-intersection`, `psi-cardinality`,
//! `psi-join`) between two nodes: the first party is the PSI receiver, the
//! second the sender. Each reads its key columns (with the row limit its
//! policy granted); a repeated key takes part once. The job runs as its
//! plan says ([`PsiPlan::job`]): the construction, who learns the result,
//! the peer-item limit, and `min_intersection`, which the protocol itself
//! enforces — below it the receiver sends no positions and no count.
//!
//! What each side learns: what the PSI mode reveals to it, which the job's
//! declared outputs decide (the plan refuses a spec whose outputs differ);
//! below `min_intersection`, only that the minimum was not met.

use super::{JobProtocol, JobRun, Produced, cell_text};
use crate::daemon::error::JobError;
use crate::plan::PsiPlan;
use indomain_psi::{Items, Mode, PsiError, Role, session};
use std::collections::HashSet;

impl JobProtocol for PsiPlan {
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
        progress.phase("reading data");
        let table = own.read(max_rows)?;
        let mut seen = HashSet::with_capacity(table.rows.len());
        let mut keys = Vec::with_capacity(table.rows.len());
        let mut items = Items::new();
        for row in &table.rows {
            let key: Vec<String> = row.iter().map(cell_text).collect();
            // A repeated key takes part once.
            if seen.insert(key.clone()) {
                items.push_columns(&key);
                keys.push(key);
            }
        }
        drop(seen);

        let psi = self.job(party.columns.len());
        let role = if me == 0 {
            Role::Receiver
        } else {
            Role::Sender
        };
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
            Role::Sender => session::sender(ch, &psi, &items, None, &mut rng, &mut report),
        };
        let outcome = ran.map_err(|e| psi_failed(&peer, e))?;
        let output = self.output();
        if !spec.receivers(output).contains(&me) {
            return Ok(Vec::new());
        }
        let size = outcome.intersection_size.ok_or_else(|| {
            JobError::protocol(
                format!("PSI with {peer}"),
                format!("it did not give this node the {output}"),
            )
        })?;
        let rendered = match (self.mode, &outcome.matched) {
            (Mode::Intersection, Some(matched)) => {
                let mut own = matched.clone();
                own.sort_unstable();
                rows_csv(&party.columns, own.iter().filter_map(|&i| keys.get(i)))
            }
            // This party's matching keys in the order common to both.
            (Mode::Join, Some(matched)) => {
                rows_csv(&party.columns, matched.iter().filter_map(|&i| keys.get(i)))
            }
            _ => Ok(format!("intersection_size\n{size}\n").into_bytes()),
        };
        let bytes = rendered.map_err(|e| JobError::Render {
            output,
            reason: e.to_string(),
        })?;
        Ok(vec![Produced {
            output,
            file: format!("{output}.csv"),
            bytes,
        }])
    }
}

/// A PSI run's error: below the minimum is [`JobError::BelowMinimum`].
pub(super) fn psi_failed(peer: &str, e: PsiError) -> JobError {
    match e {
        PsiError::BelowMinimum { minimum, .. } => JobError::BelowMinimum {
            parameter: "min_intersection",
            minimum,
            found: "the intersection".into(),
        },
        other => JobError::protocol(format!("PSI with {peer}"), other),
    }
}

/// Key rows as CSV under their column names.
fn rows_csv<'a>(
    columns: &[String],
    rows: impl Iterator<Item = &'a Vec<String>>,
) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(columns)?;
    for row in rows {
        w.write_record(row)?;
    }
    w.into_inner().map_err(|e| e.into_error().into())
}
