//! A psi-sum job under the node: ECDH intersection-sum between two nodes.
//! The first party is the receiver (its columns are the key); the second
//! is the sender, whose columns are the key and the `value_column` (a
//! non-negative integer per key). The receiver learns the number of
//! matching keys; the sender learns it and the sum of its values over the
//! matches. Outputs: `cardinality`, which the job must declare for both
//! parties (both learn it), and `sum`, for the sender only. A repeated key
//! is an error (its value would be ambiguous); `min_intersection` is
//! enforced on both sides.
//!
//! What each party learns: the other's set size, the number of matches,
//! and at the sender the sum; never which keys match.

use super::Node;
use super::run::{Done, Failed, Staged, moved_since};
use super::run_aggregate::{cell_number, cell_text};
use crate::egress::EgressGuard;
use crate::jobspec::JobSpec;
use crate::state::JobKey;
use indomain_net::Channel;
use indomain_net::quic::QuicChannel;
use indomain_psi::{Construction, Items, Job, Mode, Role, session};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

impl Node {
    /// Reads this node's keys (and values at the sender), runs the
    /// intersection-sum with `peer` on `ch`, releases and writes this
    /// node's outputs, and exchanges receipts.
    pub(super) fn execute_psi_sum(
        &self,
        key: &JobKey,
        spec: &JobSpec,
        peer: &str,
        ch: &mut QuicChannel,
        max_rows: Option<u64>,
    ) -> Result<Done, Failed> {
        let me = self.config.name.as_str();
        let (first, second) = match spec.parties.as_slice() {
            [a, b] => (a.name.as_str(), b.name.as_str()),
            _ => return Err("a PSI job has exactly two parties".to_string().into()),
        };
        let declared = |output: &str, to: &str| {
            spec.outputs
                .iter()
                .any(|o| o.name == output && o.receiver == to)
        };
        if !declared("cardinality", first) || !declared("cardinality", second) {
            return Err(format!(
                "both parties learn the cardinality of a psi-sum: the job must declare it for {first} and {second}"
            )
            .into());
        }
        if !declared("sum", second) || declared("sum", first) {
            return Err(format!(
                "the sender ({second}) learns the sum and {first} never does: declare output \"sum\" for {second} only"
            )
            .into());
        }
        self.check_cancelled(key)?;
        self.phase(key, "reading data");
        let value_column = spec
            .text_param("value_column")
            .ok_or_else(|| "a psi-sum job names the sender's value_column".to_string())?;
        let party = spec
            .party(me)
            .ok_or_else(|| format!("{me} is not a party of the job"))?;
        let role = if me == first {
            Role::Receiver
        } else {
            Role::Sender
        };
        let dataset = self
            .config
            .datasets
            .get(&party.dataset)
            .ok_or_else(|| format!("no dataset {:?} on this node", party.dataset))?;
        let table = dataset
            .read(&party.columns, max_rows)
            .map_err(|e| e.to_string())?;
        let value_at = match role {
            Role::Sender => Some(
                table
                    .columns
                    .iter()
                    .position(|c| c == value_column)
                    .ok_or_else(|| {
                        format!("{second} does not list value_column {value_column:?}")
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
                return Err(format!(
                    "dataset {:?}, row {}: key {key:?} repeats an earlier row",
                    party.dataset,
                    r + 1
                )
                .into());
            }
            items.push_columns(&key);
            if let Some(v) = value_at {
                let x = cell_number(&row[v]).map_err(|e| {
                    format!(
                        "dataset {:?}, row {}, column {value_column:?}: {e}",
                        party.dataset,
                        r + 1
                    )
                })?;
                if x < 0.0 || x.fract() != 0.0 || x >= u64::MAX as f64 {
                    return Err(format!(
                        "dataset {:?}, row {}, column {value_column:?}: {x} is not a non-negative integer",
                        party.dataset,
                        r + 1
                    )
                    .into());
                }
                values.push(x as u64);
            }
        }
        drop(seen);

        let mut job = Job::new(Mode::IntersectionSum);
        job.construction = Construction::Ecdh;
        job.key_spec = format!("node dataset cells as text, {} column(s)", key_at.len());
        let before = ch.counters();
        let moved = |ch: &QuicChannel| moved_since(before, ch);
        let mut rng = rand::rng();
        self.phase(key, "running the protocol");
        let progress = self.progress(key);
        let mut report =
            |p: session::Progress| progress.count(p.done as u64, p.total as u64, "keys");
        let clock = Instant::now();
        let ran = match role {
            Role::Receiver => session::receiver(ch, &job, &items, &mut rng, &mut report),
            Role::Sender => session::sender(ch, &job, &items, Some(&values), &mut rng, &mut report),
        };
        let protocol = clock.elapsed();
        let fail = |reason: String, ch: &QuicChannel| Failed {
            reason,
            bytes: moved(ch),
        };
        let outcome = ran.map_err(|e| fail(format!("the protocol with {peer} failed: {e}"), ch))?;
        let size = outcome.intersection_size.ok_or_else(|| {
            fail(
                "the protocol did not give this node the cardinality".into(),
                ch,
            )
        })?;
        if let Some(min) = spec.int_param("min_intersection")
            && (size as i64) < min
        {
            return Err(fail(
                format!(
                    "the intersection has {size} keys, fewer than min_intersection = {min}: nothing released"
                ),
                ch,
            ));
        }
        let mut released = vec![("cardinality", format!("intersection_size\n{size}\n"))];
        if role == Role::Sender {
            let sum = outcome
                .sum
                .ok_or_else(|| fail("the protocol did not give the sender the sum".into(), ch))?;
            released.push(("sum", format!("sum\n{sum}\n")));
        }
        let mut guard = EgressGuard::new(spec, Arc::clone(&self.audit));
        let mut pending = Vec::new();
        for (output, text) in &released {
            let r = guard
                .release(output, me, text.as_bytes())
                .map_err(|e| fail(e.to_string(), ch))?;
            pending.extend(
                self.stage(key, &format!("{output}.csv"), text.as_bytes(), &r.salt)
                    .map_err(|e| fail(e, ch))?,
            );
        }
        let staged = Staged {
            guard: &guard,
            pending,
            protocol,
            before,
        };
        self.publish(key, spec, peer, ch, staged)
    }
}
