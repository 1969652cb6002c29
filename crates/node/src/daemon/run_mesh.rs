//! Running an accepted job with a party set (aggregate, train, predict),
//! two parties or more.
//!
//! The proposer opens the job's links (`daemon/mesh.rs`); every party then
//! computes its side with the protocol crate's function on the job's
//! [`indomain_net::PartySet`], releases through its [`EgressGuard`] only the
//! outputs the job declares for it, writes them atomically under
//! `results/<proposer>/<id>/` once everything is computed, and sends every
//! other party its signed receipt of the completed job (with the salts of
//! the outputs that party also receives), keeping theirs. A party that
//! fails closes every link of the job saying that it failed — never why,
//! since its reason may quote its data — so the others fail at once naming
//! it; a failed job writes nothing.
//!
//! What each party learns: what the protocol reveals to it, and the
//! outputs the job declares for it; of other parties' outputs, that they
//! exist (their receipts' salted commitments).

use super::Node;
use super::mesh::Mesh;
use super::propose::RunReply;
use super::run::{Done, Failed, commit_all};
use crate::audit::{CompletionReceipt, OutputRecord, Salt};
use crate::egress::EgressGuard;
use crate::jobspec::{JobSpec, Protocol};
use crate::plan::{JobPlan, ModelKind};
use crate::state::JobKey;
use indomain_net::quic::QuicChannel;
use indomain_net::{Channel, PartySet, wire};
use std::sync::Arc;
use std::time::Instant;

/// An output this node computed for itself, before the egress guard.
pub(super) struct Produced {
    /// The output's name in the job.
    pub output: &'static str,
    /// Its file name under `results/<job id>/`.
    pub file: String,
    /// Its contents.
    pub bytes: Vec<u8>,
}

/// Whether jobs of `protocol` run over a party set.
pub(super) fn on_mesh(protocol: Protocol) -> bool {
    matches!(
        protocol,
        Protocol::Aggregate | Protocol::Train | Protocol::Predict | Protocol::Binning
    )
}

impl Node {
    /// The proposer's side: opens every link and runs this node's part.
    pub(super) fn run_mesh_proposed(self: Arc<Self>, key: JobKey, spec: JobSpec, started: u64) {
        self.phase(&key, "opening the links");
        let result = self
            .open_mesh(&key, &spec, None)
            .map_err(Failed::from)
            .and_then(|mesh| self.execute_mesh(&key, &spec, mesh, None));
        self.links.forget(&key);
        self.finish(&key, &spec, started, result);
    }

    /// Another party's side: `ch` is the proposer's [`super::propose::Hello::Run`].
    pub(super) fn run_mesh_answered(
        &self,
        mut ch: QuicChannel,
        key: JobKey,
        spec: JobSpec,
        max_rows: Option<u64>,
        started: u64,
    ) {
        let proposer = ch.peer().to_string();
        self.phase(&key, "opening the links");
        let result = wire::send_msg(&mut ch, &RunReply::Ready)
            .map_err(|e| Failed::from(format!("starting the job with {proposer}: {e}")))
            .and_then(|()| self.open_mesh(&key, &spec, Some(ch)).map_err(Failed::from))
            .and_then(|mesh| self.execute_mesh(&key, &spec, mesh, max_rows));
        self.links.forget(&key);
        self.finish(&key, &spec, started, result);
    }

    /// Runs this node's side on `mesh`, releases and writes its outputs and
    /// exchanges receipts.
    fn execute_mesh(
        &self,
        key: &JobKey,
        spec: &JobSpec,
        mut mesh: Mesh,
        max_rows: Option<u64>,
    ) -> Result<Done, Failed> {
        let me = self.config.name.clone();
        self.check_cancelled(key)?;
        self.phase(key, "running the protocol");
        let clock = Instant::now();
        let parties = &mut mesh.parties;
        let computed = match spec.plan() {
            Err(e) => Err(e.to_string()),
            Ok(JobPlan::Aggregate(_)) => self.compute_aggregate(key, spec, parties, max_rows),
            Ok(JobPlan::Train(_)) => self.compute_train(spec, parties, max_rows),
            Ok(JobPlan::Trees(p)) => self.compute_trees(key, spec, &p, parties, max_rows),
            Ok(JobPlan::Scorecard(p)) => self.compute_scorecard(spec, &p, parties, max_rows),
            Ok(JobPlan::Binning(p)) => self.compute_binning(key, spec, &p, parties, max_rows),
            Ok(JobPlan::Predict(p)) => match p.kind {
                ModelKind::Linear => self.compute_predict(spec, parties, max_rows),
                ModelKind::Trees => self.compute_predict_trees(spec, &p, parties, max_rows),
                ModelKind::Scorecard => self.compute_predict_scorecard(spec, &p, parties, max_rows),
            },
            Ok(_) => Err(format!("{} jobs do not run on a party set", spec.protocol)),
        };
        let protocol = clock.elapsed();
        let mut guard = EgressGuard::new(spec, Arc::clone(&self.audit));
        let staged = computed.and_then(|produced| {
            let mut pending = Vec::new();
            for p in produced {
                let released = guard
                    .release(p.output, &me, &p.bytes)
                    .map_err(|e| e.to_string())?;
                pending.extend(self.stage(key, &p.file, &p.bytes, &released.salt)?);
            }
            Ok(pending)
        });
        let pending = match staged {
            Ok(p) => p,
            Err(reason) => {
                // Tell every party at once, naming this node but not its
                // reason (which may quote its data); a job stopped by a
                // cancel passes on who cancelled it.
                let why = match self.cancelled_by(key) {
                    Some(by) => super::cancel::reason(&by),
                    None => failed_at(key, &me, &mesh.lost()),
                };
                mesh.stop(&why);
                return Err(Failed {
                    reason,
                    bytes: mesh.parties.counters(),
                });
            }
        };
        // Everything is computed and released: only now do the files
        // appear, and the job can no longer be cancelled.
        if let Err(reason) = self.seal(key) {
            return Err(Failed {
                reason,
                bytes: mesh.parties.counters(),
            });
        }
        self.phase(key, "writing outputs");
        let (files, salts) = match commit_all(pending) {
            Ok(written) => written,
            Err(reason) => {
                mesh.stop(&failed_at(key, &me, &[]));
                return Err(Failed {
                    reason,
                    bytes: mesh.parties.counters(),
                });
            }
        };
        let outputs = guard.outputs().to_vec();
        self.phase(key, "exchanging receipts");
        self.exchange_receipts_all(key, spec, &mut mesh.parties, (&outputs, guard.salts()));
        Ok(Done {
            outputs,
            files,
            salts,
            bytes: mesh.parties.counters(),
            protocol,
        })
    }

    /// Sends every other party this node's signed receipt of the completed
    /// job, then keeps each party's. The job is complete either way; a
    /// missing or bad receipt is logged, not fatal.
    fn exchange_receipts_all(
        &self,
        key: &JobKey,
        spec: &JobSpec,
        parties: &mut PartySet,
        (outputs, salts): (&[OutputRecord], &[(String, Salt)]),
    ) {
        let mine = self.completion_receipt(key, spec, outputs);
        let others: Vec<usize> = parties.others().collect();
        for &i in &others {
            let sent = self.completion_for(spec, parties.name(i), &mine, salts);
            let sent = parties.channel(i).and_then(|ch| wire::send_msg(ch, &sent));
            if let Err(e) = sent {
                tracing::warn!("job {key}: sending the receipt: {e}");
            }
        }
        for &i in &others {
            let peer = parties.name(i).to_string();
            let kept = parties
                .channel(i)
                .and_then(wire::recv_msg::<CompletionReceipt>)
                .map_err(|e| e.to_string())
                .and_then(|c| self.keep_completion(&peer, (key, spec), c));
            if let Err(e) = kept {
                tracing::warn!("job {key}: no valid completion receipt from {peer}: {e}");
            }
        }
    }
}

/// What a party that failed tells the others: that it failed, and which
/// parties' links it lost (party names are no secret of the job), never
/// its reason, which may quote its data.
fn failed_at(key: &JobKey, me: &str, lost: &[&str]) -> String {
    if lost.is_empty() {
        format!(
            "job {} failed at {me} (its operator has the reason)",
            key.id
        )
    } else {
        format!(
            "job {} failed at {me}: it lost its link to {}",
            key.id,
            lost.join(", ")
        )
    }
}
