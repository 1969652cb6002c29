//! Running an accepted job with a party set (aggregate, train, predict),
//! two parties or more.
//!
//! The proposer opens the job's links (`daemon/mesh.rs`); every party then
//! computes its side with the protocol crate's function on the job's
//! [`indomain_net::PartySet`], releases through its [`EgressGuard`] only the
//! outputs the job declares for it, writes them atomically under
//! `results/<job id>/` once everything is computed, and sends every other
//! party its signed receipt of the completed job, keeping theirs. A party
//! that fails closes every link of the job saying why, so the others fail
//! at once naming it; a failed job writes nothing.
//!
//! What each party learns: what the protocol reveals to it, and the
//! outputs the job declares for it.

use super::Node;
use super::mesh::Mesh;
use super::propose::RunReply;
use super::run::{Done, Failed};
use crate::audit::{OutputRecord, Receipt};
use crate::egress::EgressGuard;
use crate::jobspec::{JobSpec, Protocol};
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
        Protocol::Aggregate | Protocol::Train | Protocol::Predict
    )
}

impl Node {
    /// The proposer's side: opens every link and runs this node's part.
    pub(super) fn run_mesh_proposed(self: Arc<Self>, spec: JobSpec, started: u64) {
        let me = self.config.name.clone();
        let result = self
            .open_mesh(&spec, &me, None)
            .map_err(Failed::from)
            .and_then(|mesh| self.execute_mesh(&spec, mesh, None));
        self.links.forget(&spec.id);
        self.finish(&spec, &me, started, result);
    }

    /// Another party's side: `ch` is the proposer's [`super::propose::Hello::Run`].
    pub(super) fn run_mesh_answered(
        &self,
        mut ch: QuicChannel,
        spec: JobSpec,
        max_rows: Option<u64>,
        started: u64,
    ) {
        let proposer = ch.peer().to_string();
        let result = wire::send_msg(&mut ch, &RunReply::Ready)
            .map_err(|e| Failed::from(format!("starting the job with {proposer}: {e}")))
            .and_then(|()| {
                self.open_mesh(&spec, &proposer, Some(ch))
                    .map_err(Failed::from)
            })
            .and_then(|mesh| self.execute_mesh(&spec, mesh, max_rows));
        self.links.forget(&spec.id);
        self.finish(&spec, &proposer, started, result);
    }

    /// Runs this node's side on `mesh`, releases and writes its outputs and
    /// exchanges receipts.
    fn execute_mesh(
        &self,
        spec: &JobSpec,
        mut mesh: Mesh,
        max_rows: Option<u64>,
    ) -> Result<Done, Failed> {
        let me = self.config.name.clone();
        self.check_cancelled(&spec.id)?;
        let clock = Instant::now();
        let computed = match spec.protocol {
            Protocol::Aggregate => self.compute_aggregate(spec, &mut mesh.parties, max_rows),
            Protocol::Train => self.compute_train(spec, &mut mesh.parties, max_rows),
            Protocol::Predict => self.compute_predict(spec, &mut mesh.parties, max_rows),
            other => Err(format!("{other} jobs do not run under the node")),
        };
        let protocol = clock.elapsed();
        let mut guard = EgressGuard::new(spec, Arc::clone(&self.audit));
        let staged = computed.and_then(|produced| {
            let mut pending = Vec::new();
            for p in produced {
                guard
                    .release(p.output, &me, &p.bytes)
                    .map_err(|e| e.to_string())?;
                pending.push(self.stage(spec, &p.file, &p.bytes)?);
            }
            Ok(pending)
        });
        let pending = match staged {
            Ok(p) => p,
            Err(reason) => {
                // Tell every party at once, naming this node; a job stopped
                // by a cancel passes on who cancelled it.
                let why = match self.cancelled_by(&spec.id) {
                    Some(by) => super::cancel::reason(&by),
                    None => format!("job {} failed at {me}: {reason}", spec.id),
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
        if let Err(reason) = self.seal(&spec.id) {
            return Err(Failed {
                reason,
                bytes: mesh.parties.counters(),
            });
        }
        let mut files = Vec::new();
        for out in pending {
            let path = out.path().to_path_buf();
            if let Err(e) = out.commit() {
                let reason = format!("{}: {e}", path.display());
                mesh.stop(&format!("job {} failed at {me}: {reason}", spec.id));
                return Err(Failed {
                    reason,
                    bytes: mesh.parties.counters(),
                });
            }
            files.push(path);
        }
        let outputs = guard.outputs().to_vec();
        self.exchange_receipts_all(spec, &mut mesh.parties, &outputs);
        Ok(Done {
            outputs,
            files,
            bytes: mesh.parties.counters(),
            protocol,
        })
    }

    /// Sends every other party this node's signed receipt of the completed
    /// job, then keeps each party's. The job is complete either way; a
    /// missing or bad receipt is logged, not fatal.
    fn exchange_receipts_all(
        &self,
        spec: &JobSpec,
        parties: &mut PartySet,
        outputs: &[OutputRecord],
    ) {
        let mine = self.completion_receipt(spec, outputs);
        let others: Vec<usize> = parties.others().collect();
        for &i in &others {
            let sent = parties.channel(i).and_then(|ch| wire::send_msg(ch, &mine));
            if let Err(e) = sent {
                tracing::warn!("job {}: sending the receipt: {e}", spec.id);
            }
        }
        for &i in &others {
            let peer = parties.name(i).to_string();
            let kept = parties
                .channel(i)
                .and_then(wire::recv_msg::<Receipt>)
                .map_err(|e| e.to_string())
                .and_then(|receipt| self.keep_receipt(&peer, spec, "completed", receipt));
            if let Err(e) = kept {
                tracing::warn!(
                    "job {}: no valid completion receipt from {peer}: {e}",
                    spec.id
                );
            }
        }
    }
}
