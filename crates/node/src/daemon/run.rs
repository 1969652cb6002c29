//! Running an accepted job's protocol under the node.
//!
//! Once every party accepted, the proposer opens one more channel to the
//! peer on the nodes' QUIC endpoints and sends [`Hello::Run`] with the job
//! id and spec hash; the peer's accept loop routes the channel to that job
//! (it must be accepted, from that proposer, with the same spec hash), so
//! one endpoint carries many jobs at once. Each side then reads its key
//! columns through its dataset reader (with the row limit its policy
//! granted), runs the PSI, releases through its [`EgressGuard`] only the
//! outputs the job declares for it, writes them atomically (0600, under
//! `results/<proposer>/<id>/`, 0700, each with its salt file), records the
//! outcome with bytes, output commitments and timing, and the two exchange
//! signed receipts of the completed job — each with the salts of the
//! outputs the other also receives, and no other.
//!
//! What each side learns: what the PSI mode reveals to it, which the job's
//! declared outputs decide (an output the job does not declare for a party
//! is never revealed to it, nor is anything about it but its existence
//! through the other's receipt); a failed job releases nothing.

use super::jobs::State;
use super::propose::{Hello, RunReply};
use super::{Node, lock};
use crate::audit::{
    CompletionReceipt, Event, Outcome, OutputHash, OutputRecord, OutputSalt, Receipt, ReceiptBody,
    Salt,
};
use crate::dataset::Cell;
use crate::egress::EgressGuard;
use crate::jobspec::{JobSpec, Protocol};
use crate::output::AtomicOutput;
use crate::state::JobKey;
use indomain_net::quic::QuicChannel;
use indomain_net::{Channel, Counters, wire};
use indomain_psi::{Construction, Items, Mode, Reveal, Role, session};
use std::collections::HashSet;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What a completed run leaves.
pub(super) struct Done {
    pub outputs: Vec<OutputRecord>,
    pub files: Vec<PathBuf>,
    pub salts: Vec<PathBuf>,
    pub bytes: Counters,
    /// The protocol's own time, from its first message to its outcome.
    pub protocol: Duration,
}

/// A two-party job's released outputs, staged and waiting to appear.
pub(super) struct Staged<'a> {
    /// The egress guard that released them.
    pub guard: &'a EgressGuard,
    /// The staged output files.
    pub pending: Vec<AtomicOutput>,
    /// The protocol's own time.
    pub protocol: Duration,
    /// The link's counters before the protocol, to count its bytes.
    pub before: Counters,
}

/// The bytes `ch` moved since its counters read `before`.
pub(super) fn moved_since(before: Counters, ch: &QuicChannel) -> Counters {
    let after = ch.counters();
    Counters {
        sent: after.sent - before.sent,
        received: after.received - before.received,
    }
}

/// A failed run: why, and the bytes moved before it failed.
pub(super) struct Failed {
    pub reason: String,
    pub bytes: Counters,
}

impl From<String> for Failed {
    fn from(reason: String) -> Self {
        Failed {
            reason,
            bytes: Counters::default(),
        }
    }
}

impl Node {
    /// The proposer's side: opens the job's channel to `peer`, has the peer
    /// start its side, and runs this node's.
    pub(super) fn run_proposed(
        self: Arc<Self>,
        key: JobKey,
        spec: JobSpec,
        peer: String,
        started: u64,
    ) {
        let result = (|| {
            self.check_cancelled(&key)?;
            let address = self
                .config
                .peers
                .get(&peer)
                .map(|p| p.address)
                .ok_or_else(|| format!("{peer} is not a configured peer"))?;
            let mut ch = self
                .endpoint
                .connect(address, &peer)
                .map_err(|e| format!("opening the job's channel to {peer}: {e}"))?;
            self.watch(&key, &ch);
            let hello = Hello::Run {
                job_id: spec.id.clone(),
                spec_hash: spec.hash().to_string(),
            };
            wire::send_msg(&mut ch, &hello)
                .map_err(|e| format!("starting the job with {peer}: {e}"))?;
            match wire::recv_msg::<RunReply>(&mut ch) {
                Ok(RunReply::Ready) => {}
                Ok(RunReply::Refuse { reason }) => {
                    return Err(format!("{peer} would not run the job: {reason}").into());
                }
                Err(e) => return Err(format!("starting the job with {peer}: {e}").into()),
            }
            self.execute(&key, &spec, &peer, &mut ch, None)
        })();
        self.finish(&key, &spec, started, result);
    }

    /// The answering side: `ch` came with [`Hello::Run`] for `job_id`.
    pub(super) fn run_answered(&self, mut ch: QuicChannel, job_id: String, spec_hash: String) {
        let peer = ch.peer().to_string();
        // The channel's authenticated peer is the proposer whose job it runs.
        let key = JobKey::new(&peer, &job_id);
        let claimed = {
            let mut jobs = lock(&self.jobs);
            match jobs.get_mut(&key) {
                Some(job) if job.spec_hash == spec_hash && job.state == State::Accepted => {
                    job.state = State::Running;
                    job.progress.phase("starting");
                    Ok((job.spec.clone(), job.max_rows, job.started_ms))
                }
                Some(job) if job.spec_hash != spec_hash => Err(format!(
                    "job {key} was not accepted with spec hash {}",
                    crate::bounds::printable(&spec_hash, 80)
                )),
                Some(job) => Err(format!("job {key} is {}", job.summary().state)),
                None => Err(format!(
                    "no job {} was accepted from {peer}",
                    crate::bounds::printable(&key.to_string(), 80)
                )),
            }
        };
        let (spec, max_rows, started) = match claimed {
            Ok(c) => c,
            Err(reason) => {
                tracing::warn!("run request from {peer}: {reason}");
                let _ = wire::send_msg(&mut ch, &RunReply::Refuse { reason });
                return;
            }
        };
        self.watch(&key, &ch);
        if super::run_mesh::on_mesh(spec.protocol) {
            return self.run_mesh_answered(ch, key, spec, max_rows, started);
        }
        let result = match wire::send_msg(&mut ch, &RunReply::Ready) {
            Ok(()) => self.execute(&key, &spec, &peer, &mut ch, max_rows),
            Err(e) => Err(format!("starting the job with {peer}: {e}").into()),
        };
        self.finish(&key, &spec, started, result);
    }

    /// Reads this node's keys, runs the PSI with `peer` on `ch`, releases
    /// and writes this node's declared outputs, and exchanges receipts.
    fn execute(
        &self,
        key: &JobKey,
        spec: &JobSpec,
        peer: &str,
        ch: &mut QuicChannel,
        max_rows: Option<u64>,
    ) -> Result<Done, Failed> {
        let me = self.config.name.as_str();
        let (mode, construction) = match spec.protocol {
            Protocol::PsiIntersection => (Mode::Intersection, Construction::Rr22),
            Protocol::PsiCardinality => (Mode::Cardinality, Construction::Ecdh),
            Protocol::PsiJoin => (Mode::Join, Construction::Rr22),
            Protocol::PsiSum => return self.execute_psi_sum(key, spec, peer, ch, max_rows),
            other => return Err(format!("{other} jobs do not run on one channel").into()),
        };
        let output = spec.protocol.outputs()[0];
        let receivers: Vec<&str> = spec
            .outputs
            .iter()
            .filter(|o| o.name == output)
            .map(|o| o.receiver.as_str())
            .collect();
        let (first, second) = match spec.parties.as_slice() {
            [a, b] => (a.name.as_str(), b.name.as_str()),
            _ => return Err("a PSI job has exactly two parties".to_string().into()),
        };
        // The first party is the PSI receiver, which always learns the
        // result: a job that does not declare it so would leak.
        if !receivers.contains(&first) {
            return Err(format!(
                "the first party ({first}) is the PSI receiver and learns the {output}: the job must declare it as a receiver of {output:?}"
            )
            .into());
        }
        // A join always reveals the alignment to both parties.
        if mode == Mode::Join && !receivers.contains(&second) {
            return Err(format!(
                "a join reveals the {output} to both parties: the job must declare {second} as a receiver of {output:?} too"
            )
            .into());
        }
        let reveal = if receivers.contains(&second) {
            Reveal::Both
        } else {
            Reveal::Receiver
        };
        let party = spec
            .party(me)
            .ok_or_else(|| format!("{me} is not a party of the job"))?;
        self.check_cancelled(key)?;
        self.phase(key, "reading data");
        let dataset = self
            .config
            .datasets
            .get(&party.dataset)
            .ok_or_else(|| format!("no dataset {:?} on this node", party.dataset))?;
        let table = dataset
            .read(&party.columns, max_rows)
            .map_err(|e| e.to_string())?;
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

        let mut job = indomain_psi::Job::new(mode);
        job.construction = construction;
        job.reveal = reveal;
        // Column names differ between the parties; the cell encoding must not.
        job.key_spec = format!(
            "node dataset cells as text, {} column(s)",
            party.columns.len()
        );
        let role = if me == first {
            Role::Receiver
        } else {
            Role::Sender
        };
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
            Role::Sender => session::sender(ch, &job, &items, None, &mut rng, &mut report),
        };
        let protocol = clock.elapsed();
        let outcome = ran.map_err(|e| Failed {
            reason: format!("the protocol with {peer} failed: {e}"),
            bytes: moved(ch),
        })?;
        let fail = |reason: String, ch: &QuicChannel| Failed {
            reason,
            bytes: moved(ch),
        };

        let mut guard = EgressGuard::new(spec, Arc::clone(&self.audit));
        let mut pending = Vec::new();
        if receivers.contains(&me) {
            let size = outcome.intersection_size.ok_or_else(|| {
                fail(
                    format!("the protocol did not give this node the {output}"),
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
            let bytes = match (mode, &outcome.matched) {
                (Mode::Intersection, Some(matched)) => {
                    let mut own = matched.clone();
                    own.sort_unstable();
                    intersection_csv(&party.columns, own.iter().filter_map(|&i| keys.get(i)))
                }
                // This party's matching keys in the order common to both.
                (Mode::Join, Some(matched)) => {
                    intersection_csv(&party.columns, matched.iter().filter_map(|&i| keys.get(i)))
                }
                _ => Ok(format!("intersection_size\n{size}\n").into_bytes()),
            }
            .map_err(|e| fail(format!("rendering the {output}: {e}"), ch))?;
            let released = guard
                .release(output, me, &bytes)
                .map_err(|e| fail(e.to_string(), ch))?;
            pending.extend(
                self.stage(key, &format!("{output}.csv"), &bytes, &released.salt)
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

    /// Ends a two-party job once every output is released and staged:
    /// seals the job against cancels, makes the staged files appear, and
    /// exchanges completion receipts with `peer`.
    pub(super) fn publish(
        &self,
        key: &JobKey,
        spec: &JobSpec,
        peer: &str,
        ch: &mut QuicChannel,
        staged: Staged,
    ) -> Result<Done, Failed> {
        let Staged {
            guard,
            pending,
            protocol,
            before,
        } = staged;
        let moved = |ch: &QuicChannel| moved_since(before, ch);
        let fail = |reason: String, ch: &QuicChannel| Failed {
            reason,
            bytes: moved(ch),
        };
        // Everything is computed and released: only now do the files
        // appear, and the job can no longer be cancelled.
        self.seal(key).map_err(|e| fail(e, ch))?;
        self.phase(key, "writing outputs");
        let (files, salts) = commit_all(pending).map_err(|e| fail(e, ch))?;
        let outputs = guard.outputs().to_vec();
        self.phase(key, "exchanging receipts");
        self.exchange_receipts(key, spec, peer, ch, (&outputs, guard.salts()));
        Ok(Done {
            outputs,
            files,
            salts,
            bytes: moved(ch),
            protocol,
        })
    }

    /// Starts the output file `file` and its salt file, under
    /// `results/<proposer>/<id>/` (0700) beside the audit log, both 0600.
    pub(super) fn stage(
        &self,
        key: &JobKey,
        file: &str,
        bytes: &[u8],
        salt: &Salt,
    ) -> Result<[AtomicOutput; 2], String> {
        let dir = self.results_dir(key);
        crate::private::dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let write = |name: &str, bytes: &[u8]| {
            let path = dir.join(name);
            let mut out = AtomicOutput::create(&path, &[], false)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            out.write_all(bytes)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            Ok::<_, String>(out)
        };
        let salt_file = format!("{file}{}", crate::audit::commitment::SALT_SUFFIX);
        Ok([
            write(file, bytes)?,
            write(&salt_file, format!("{}\n", salt.to_hex()).as_bytes())?,
        ])
    }

    /// This node's signed receipt that job `key` completed with `outputs`,
    /// quoting its audit log's head now.
    pub(super) fn completion_receipt(
        &self,
        key: &JobKey,
        spec: &JobSpec,
        outputs: &[OutputRecord],
    ) -> Receipt {
        let outputs = outputs
            .iter()
            .filter_map(|o| {
                Some(OutputHash {
                    name: o.name.clone(),
                    receiver: o.receiver.clone(),
                    hash: o.hash.clone()?,
                })
            })
            .collect();
        let body = ReceiptBody::new(
            (&key.proposer, &key.id),
            &spec.hash().to_string(),
            "completed",
            outputs,
            &self.audit_head(),
        );
        Receipt::sign(body, &self.config.name, &self.key)
    }

    /// What this node sends `peer` at the end of the job: its receipt and
    /// the salts of the outputs `peer` also receives.
    pub(super) fn completion_for(
        &self,
        spec: &JobSpec,
        peer: &str,
        receipt: &Receipt,
        salts: &[(String, Salt)],
    ) -> CompletionReceipt {
        let salts = salts
            .iter()
            .filter(|(name, _)| {
                spec.outputs
                    .iter()
                    .any(|o| o.name == *name && o.receiver == peer)
            })
            .map(|(name, salt)| OutputSalt {
                name: name.clone(),
                salt: salt.to_hex(),
            })
            .collect();
        CompletionReceipt {
            receipt: receipt.clone(),
            salts,
        }
    }

    /// Sends this node's signed receipt of the completed job (with the
    /// salts `peer` may have) and keeps the peer's. The job is complete
    /// either way; a missing or bad receipt is logged, not fatal.
    pub(super) fn exchange_receipts(
        &self,
        key: &JobKey,
        spec: &JobSpec,
        peer: &str,
        ch: &mut QuicChannel,
        (outputs, salts): (&[OutputRecord], &[(String, Salt)]),
    ) {
        let mine = self.completion_receipt(key, spec, outputs);
        let sent = self.completion_for(spec, peer, &mine, salts);
        let theirs =
            wire::send_msg(ch, &sent).and_then(|()| wire::recv_msg::<CompletionReceipt>(ch));
        let kept = match theirs {
            Ok(c) => self.keep_completion(peer, (key, spec), c),
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = kept {
            tracing::warn!("job {key}: no valid completion receipt from {peer}: {e}");
        }
    }

    /// Keeps `peer`'s completion receipt, and the salts it gave (of outputs
    /// this node also receives) beside this node's outputs.
    pub(super) fn keep_completion(
        &self,
        peer: &str,
        (key, spec): (&JobKey, &JobSpec),
        completion: CompletionReceipt,
    ) -> Result<(), String> {
        let CompletionReceipt { receipt, salts } = completion;
        let me = self.config.name.as_str();
        for s in &salts {
            let mine = spec
                .outputs
                .iter()
                .any(|o| o.name == s.name && o.receiver == me);
            if !mine || s.salt().is_none() {
                return Err(format!("{peer} sent a salt this node has no use for"));
            }
        }
        self.keep_receipt(peer, (key, spec), "completed", receipt)?;
        if !salts.is_empty() {
            let lines: String = salts
                .iter()
                .map(|s| format!("{} {}\n", s.name, s.salt))
                .collect();
            let path = self.results_dir(key).join(format!("salts-from-{peer}"));
            crate::private::write(&path, lines.as_bytes())
                .map_err(|e| format!("{}: {e}", path.display()))?;
        }
        Ok(())
    }

    /// Records the run's outcome and sets the job's final state.
    pub(super) fn finish(
        &self,
        key: &JobKey,
        spec: &JobSpec,
        started: u64,
        result: Result<Done, Failed>,
    ) {
        let (outcome, state, detail, bytes, outputs, (files, salts)) = match result {
            Ok(done) => {
                let detail = format!(
                    "protocol {:.2} ms; {} bytes sent, {} received",
                    done.protocol.as_secs_f64() * 1e3,
                    done.bytes.sent,
                    done.bytes.received
                );
                (
                    Outcome::Completed,
                    State::Completed,
                    detail,
                    done.bytes,
                    done.outputs,
                    (done.files, done.salts),
                )
            }
            Err(f) if let Some(by) = self.cancelled_by(key) => {
                tracing::info!("job {key} cancelled by {by}: {}", f.reason);
                (
                    Outcome::Cancelled { by: by.clone() },
                    State::Cancelled,
                    format!("cancelled by {by}; nothing released"),
                    f.bytes,
                    Vec::new(),
                    Default::default(),
                )
            }
            Err(f) => {
                tracing::warn!("job {key} failed: {}", f.reason);
                (
                    Outcome::Failed {
                        reason: f.reason.clone(),
                    },
                    State::Failed,
                    f.reason,
                    f.bytes,
                    Vec::new(),
                    Default::default(),
                )
            }
        };
        let mut event = self.record(spec, &key.proposer, started, outcome);
        if let Event::Job(record) = &mut event {
            record.bytes_sent = bytes.sent;
            record.bytes_received = bytes.received;
            if !outputs.is_empty() {
                record.outputs = outputs.clone();
            }
        }
        let (state, detail) = match self.log(event) {
            Ok(()) => (state, detail),
            Err(e) => (State::Failed, format!("the audit log failed: {e}")),
        };
        let mut jobs = lock(&self.jobs);
        if let Some(job) = jobs.get_mut(key) {
            job.progress.end();
            job.state = state;
            job.detail = detail;
            job.outputs = outputs;
            job.files = files;
            job.salts = salts;
        }
    }
}

/// Makes every staged file appear; returns the outputs' files and their
/// salt files (staged in pairs by [`Node::stage`]).
pub(super) fn commit_all(
    pending: Vec<AtomicOutput>,
) -> Result<(Vec<PathBuf>, Vec<PathBuf>), String> {
    let (mut files, mut salts) = (Vec::new(), Vec::new());
    for (i, out) in pending.into_iter().enumerate() {
        let path = out.path().to_path_buf();
        out.commit()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if i % 2 == 0 {
            files.push(path);
        } else {
            salts.push(path);
        }
    }
    Ok((files, salts))
}

/// A cell as the text both parties hash: integers in decimal, floats in
/// Rust's shortest round-trip form.
fn cell_text(cell: &Cell) -> String {
    match cell {
        Cell::Text(s) => s.clone(),
        Cell::Int(i) => i.to_string(),
        Cell::Float(x) => x.to_string(),
    }
}

fn intersection_csv<'a>(
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
