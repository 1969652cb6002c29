//! Running an accepted job: one executor for every protocol.
//!
//! Once every party accepted, the proposer opens the job's links
//! (`daemon/mesh.rs`: one to every other party with [`Hello::Run`], which
//! also starts the job there; the other parties link among themselves),
//! so every job — two parties or more — runs over its [`PartySet`]. Each
//! party then computes its side with the job's protocol
//! (`daemon/protocols/`, dispatched once from the job's plan), and the
//! executor does the rest once for all of them: it releases through its
//! [`EgressGuard`] only the outputs the job declares for this node, stages
//! them, seals the job against cancels once everything is computed,
//! writes them atomically under `results/<proposer>/<id>/` (0700; files
//! 0600, each with its salt file), records the outcome with bytes, output
//! commitments and timing, and sends every other party its signed receipt
//! of the completed job (with the salts of the outputs that party also
//! receives), keeping theirs (`daemon/receipts.rs`).
//!
//! A party that fails closes every link of the job saying that it failed
//! — never why, since its reason may quote its data, unless the reason is
//! a limit of its policy ([`JobError::shared`]) — so the others fail at
//! once naming it; a failed job writes nothing.
//!
//! What each party learns: what the protocol reveals to it, and the
//! outputs the job declares for it; of other parties' outputs, that they
//! exist (their receipts' salted commitments).

use super::error::JobError;
use super::jobs::State;
use super::mesh::Mesh;
use super::propose::{Hello, RunReply};
use super::protocols::{JobRun, Produced, protocol_of};
use super::{Node, lock};
use crate::audit::{Event, Outcome, OutputRecord};
use crate::egress::EgressGuard;
use crate::jobspec::JobSpec;
use crate::output::AtomicOutput;
use crate::plan::JobPlan;
use crate::state::JobKey;
use indomain_net::quic::QuicChannel;
use indomain_net::{Channel, Counters, wire};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What a completed run leaves.
struct Done {
    outputs: Vec<OutputRecord>,
    files: Vec<PathBuf>,
    salts: Vec<PathBuf>,
    bytes: Counters,
    /// The protocol's own time, from its first message to its outcome.
    protocol: Duration,
}

/// A failed run: why, and the bytes moved before it failed.
struct Failed {
    error: JobError,
    bytes: Counters,
}

impl From<JobError> for Failed {
    fn from(error: JobError) -> Self {
        Failed {
            error,
            bytes: Counters::default(),
        }
    }
}

impl Node {
    /// The proposer's side: opens every link (which starts the job at the
    /// other parties) and runs this node's part.
    pub(super) fn run_proposed(self: Arc<Self>, key: JobKey, spec: JobSpec, started: u64) {
        self.phase(&key, "opening the links");
        let result = self
            .check_cancelled(&key)
            .and_then(|()| self.plan_of(&key))
            .and_then(|plan| Ok((plan, self.open_mesh(&key, &spec, None)?)))
            .map_err(Failed::from)
            .and_then(|(plan, mesh)| self.execute(&key, (&spec, &plan), mesh, None));
        self.links.forget(&key);
        self.finish(&key, &spec, started, result);
    }

    /// Another party's side: `ch` came with [`Hello::Run`] for `job_id`
    /// from the job's proposer.
    pub(super) fn run_answered(&self, mut ch: QuicChannel, job_id: String, spec_hash: String) {
        let peer = ch.peer().to_string();
        // The channel's authenticated peer is the proposer whose job it runs.
        let key = JobKey::new(&peer, &job_id);
        let (spec, plan, max_rows, started) = match self.claim(&key, &spec_hash) {
            Ok(claimed) => claimed,
            Err(e) => {
                tracing::warn!("run request from {peer}: {e}");
                let reason = e.to_string();
                let _ = wire::send_msg(&mut ch, &RunReply::Refuse { reason });
                return;
            }
        };
        self.watch(&key, &ch);
        self.phase(&key, "opening the links");
        let result = wire::send_msg(&mut ch, &RunReply::Ready)
            .map_err(|e| JobError::Peer {
                peer: peer.clone(),
                reason: format!("starting the job: {e}"),
            })
            .and_then(|()| self.open_mesh(&key, &spec, Some(ch)))
            .map_err(Failed::from)
            .and_then(|mesh| self.execute(&key, (&spec, &plan), mesh, max_rows));
        self.links.forget(&key);
        self.finish(&key, &spec, started, result);
    }

    /// Starts the accepted job `key` with spec hash `spec_hash`: its spec,
    /// plan, row limit and start time.
    fn claim(
        &self,
        key: &JobKey,
        spec_hash: &str,
    ) -> Result<(JobSpec, JobPlan, Option<u64>, u64), JobError> {
        let mut jobs = lock(&self.jobs);
        let job = jobs.get_mut(key).ok_or_else(|| {
            JobError::Unknown(format!(
                "no job {} was accepted from {}",
                crate::bounds::printable(&key.id, 80),
                key.proposer
            ))
        })?;
        if job.spec_hash != spec_hash {
            return Err(JobError::Unknown(format!(
                "job {key} was not accepted with spec hash {}",
                crate::bounds::printable(spec_hash, 80)
            )));
        }
        if !job.transition(State::Running, String::new()) || job.state() != State::Running {
            return Err(JobError::Unknown(format!("job {key} is {}", job.state())));
        }
        job.progress.phase("starting");
        Ok((
            job.spec.clone(),
            job.plan.clone(),
            job.max_rows,
            job.started_ms,
        ))
    }

    /// The plan of the live job `key`, built when it was checked.
    fn plan_of(&self, key: &JobKey) -> Result<JobPlan, JobError> {
        lock(&self.jobs)
            .get(key)
            .map(|j| j.plan.clone())
            .ok_or_else(|| JobError::Unknown(format!("no job {key} on this node")))
    }

    /// Runs this node's side on `mesh` with the job's protocol, releases
    /// and writes its outputs and exchanges receipts.
    fn execute(
        &self,
        key: &JobKey,
        (spec, plan): (&JobSpec, &JobPlan),
        mut mesh: Mesh,
        max_rows: Option<u64>,
    ) -> Result<Done, Failed> {
        let me = self.config.name.clone();
        let own = self.own(key, &spec.parties[mesh.parties.me()]);
        let report = self.reporter(key);
        let clock = Instant::now();
        let computed = self.check_cancelled(key).and_then(|()| {
            protocol_of(plan).run(JobRun {
                spec,
                parties: &mut mesh.parties,
                max_rows,
                progress: &report,
                own: &own,
            })
        });
        let protocol = clock.elapsed();
        let mut guard = EgressGuard::new(spec, Arc::clone(&self.audit));
        let staged = computed.and_then(|produced| self.release(key, &mut guard, produced));
        let pending = match staged {
            Ok(p) => p,
            Err(error) => {
                // Tell every party at once, naming this node but not its
                // reason (unless it quotes nothing of its data); a job
                // stopped by a cancel passes on who cancelled it.
                let why = match self.cancelled_by(key) {
                    Some(by) => super::cancel::reason(&by),
                    None => failed_at(key, &me, &mesh.lost(), error.shared()),
                };
                mesh.stop(&why);
                return Err(Failed {
                    error,
                    bytes: mesh.parties.counters(),
                });
            }
        };
        // Everything is computed and released: only now do the files
        // appear, and the job can no longer be cancelled.
        let committed = self.seal(key).and_then(|()| {
            self.phase(key, "writing outputs");
            commit_all(pending).inspect_err(|_| mesh.stop(&failed_at(key, &me, &[], None)))
        });
        let (files, salts) = committed.map_err(|error| Failed {
            error,
            bytes: mesh.parties.counters(),
        })?;
        let outputs = guard.outputs().to_vec();
        self.phase(key, "exchanging receipts");
        self.exchange_receipts(key, spec, &mut mesh.parties, (&outputs, guard.salts()));
        Ok(Done {
            outputs,
            files,
            salts,
            bytes: mesh.parties.counters(),
            protocol,
        })
    }

    /// Releases each produced output through `guard` and stages its file.
    fn release(
        &self,
        key: &JobKey,
        guard: &mut EgressGuard,
        produced: Vec<Produced>,
    ) -> Result<Vec<AtomicOutput>, JobError> {
        let me = self.config.name.as_str();
        let mut pending = Vec::new();
        for p in produced {
            let released = guard.release(p.output, me, &p.bytes)?;
            pending.extend(self.stage(key, &p.file, &p.bytes, &released.salt)?);
        }
        Ok(pending)
    }

    /// Starts the output file `file` and its salt file, under
    /// `results/<proposer>/<id>/` (0700) beside the audit log, both 0600.
    fn stage(
        &self,
        key: &JobKey,
        file: &str,
        bytes: &[u8],
        salt: &crate::audit::Salt,
    ) -> Result<[AtomicOutput; 2], JobError> {
        use std::io::Write;
        let dir = self.results_dir(key);
        crate::private::dir(&dir).map_err(|source| JobError::Output {
            path: dir.clone(),
            source,
        })?;
        let write = |name: &str, bytes: &[u8]| {
            let path = dir.join(name);
            let mut out =
                AtomicOutput::create(&path, &[], false).map_err(|source| JobError::Output {
                    path: path.clone(),
                    source,
                })?;
            out.write_all(bytes)
                .map_err(|source| JobError::Output { path, source })?;
            Ok::<_, JobError>(out)
        };
        let salt_file = format!("{file}{}", crate::audit::commitment::SALT_SUFFIX);
        Ok([
            write(file, bytes)?,
            write(&salt_file, format!("{}\n", salt.to_hex()).as_bytes())?,
        ])
    }

    /// Records the run's outcome and sets the job's final state.
    fn finish(&self, key: &JobKey, spec: &JobSpec, started: u64, result: Result<Done, Failed>) {
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
                tracing::info!("job {key} cancelled by {by}: {}", f.error);
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
                let reason = f.error.to_string();
                tracing::warn!("job {key} failed: {reason}");
                (
                    Outcome::Failed {
                        reason: reason.clone(),
                    },
                    State::Failed,
                    reason,
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
            Err(e) => (State::Failed, e.to_string()),
        };
        let mut jobs = lock(&self.jobs);
        if let Some(job) = jobs.get_mut(key) {
            job.transition(state, detail);
            job.outputs = outputs;
            job.files = files;
            job.salts = salts;
        }
    }

    /// Opens a channel to the configured peer `peer`: every connection
    /// this node makes to another goes through here.
    pub(super) fn dial(&self, peer: &str) -> Result<QuicChannel, JobError> {
        let address = self
            .config
            .peers
            .get(peer)
            .map(|p| p.address)
            .ok_or_else(|| JobError::Peer {
                peer: peer.to_string(),
                reason: "not a configured peer".into(),
            })?;
        self.endpoint
            .connect(address, peer)
            .map_err(|e| JobError::Peer {
                peer: peer.to_string(),
                reason: format!("opening a channel: {e}"),
            })
    }

    /// Dials `peer`, sends `hello` and waits for it to be ready.
    pub(super) fn start_link(&self, peer: &str, hello: &Hello) -> Result<QuicChannel, JobError> {
        let mut ch = self.dial(peer)?;
        let starting = |e: &dyn std::fmt::Display| JobError::Peer {
            peer: peer.to_string(),
            reason: format!("starting the job: {e}"),
        };
        wire::send_msg(&mut ch, hello).map_err(|e| starting(&e))?;
        match wire::recv_msg::<RunReply>(&mut ch) {
            Ok(RunReply::Ready) => Ok(ch),
            Ok(RunReply::Refuse { reason }) => Err(JobError::Peer {
                peer: peer.to_string(),
                reason: format!(
                    "would not run the job: {}",
                    crate::bounds::printable(&reason, crate::bounds::MAX_PEER_REASON)
                ),
            }),
            Err(e) => Err(starting(&e)),
        }
    }
}

/// Makes every staged file appear; returns the outputs' files and their
/// salt files (staged in pairs by [`Node::stage`]).
fn commit_all(pending: Vec<AtomicOutput>) -> Result<(Vec<PathBuf>, Vec<PathBuf>), JobError> {
    let (mut files, mut salts) = (Vec::new(), Vec::new());
    for (i, out) in pending.into_iter().enumerate() {
        let path = out.path().to_path_buf();
        out.commit().map_err(|source| JobError::Output {
            path: path.clone(),
            source,
        })?;
        if i % 2 == 0 {
            files.push(path);
        } else {
            salts.push(path);
        }
    }
    Ok((files, salts))
}

/// What a party that failed tells the others: that it failed, which
/// parties' links it lost (party names are no secret of the job), and a
/// reason only when it quotes none of its data (`shared`).
fn failed_at(key: &JobKey, me: &str, lost: &[&str], shared: Option<String>) -> String {
    match (shared, lost) {
        (Some(why), _) => format!("job {} failed at {me}: {why}", key.id),
        (None, []) => format!(
            "job {} failed at {me} (its operator has the reason)",
            key.id
        ),
        (None, lost) => format!(
            "job {} failed at {me}: it lost its link to {}",
            key.id,
            lost.join(", ")
        ),
    }
}
