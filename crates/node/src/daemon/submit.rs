//! The proposing side: a job the operator submits is checked against this
//! node's own datasets and peers, proposed to every other party, and
//! recorded with each peer's answer and signed receipt.

use super::Node;
use super::jobs::State;
use super::propose::{self, Answer};
use crate::audit::{Event, Outcome, Receipt};
use crate::control::JobSummary;
use crate::jobspec::JobSpec;
use std::sync::Arc;

impl Node {
    /// Checks a job submitted by the operator and proposes it to the peers.
    pub(super) fn submit(self: &Arc<Self>, mut spec: JobSpec) -> Result<JobSummary, String> {
        if spec.id.is_empty() {
            spec.id = format!("job-{}", crate::hex::encode(&rand::random::<[u8; 8]>()));
        }
        spec.validate().map_err(|e| e.to_string())?;
        spec.check_known(&self.config.known())
            .map_err(|e| e.to_string())?;
        let me = &self.config.name;
        let others: Vec<&str> = spec
            .parties
            .iter()
            .map(|p| p.name.as_str())
            .filter(|n| n != me)
            .collect();
        let started = crate::time::now_millis();
        self.register(&spec, me, State::Proposed, String::new(), started)?;
        self.log(self.record(&spec, me, started, Outcome::Proposed))?;

        let spec_json = spec.canonical_bytes();
        let spec_hash = spec.hash().to_string();
        let mut accepted = Vec::new();
        for &peer in &others {
            let answer = self.propose_to(peer, spec_json.clone());
            let refusal = match answer {
                Ok(Answer::Accept {
                    spec_hash: theirs, ..
                }) if theirs != spec_hash => (
                    format!("peers.{peer}"),
                    format!("{peer} hashed the spec to {theirs}, this node to {spec_hash}"),
                ),
                Ok(Answer::Accept { rule, receipt, .. }) => {
                    match self.keep_receipt(peer, &spec, "accepted", receipt) {
                        Ok(()) => {
                            accepted.push(format!("{peer} ({rule})"));
                            continue;
                        }
                        Err(e) => (format!("peers.{peer}.audit_key"), e),
                    }
                }
                Ok(Answer::Refuse {
                    rule,
                    reason,
                    receipt,
                }) => {
                    if let Some(receipt) = receipt
                        && let Err(e) = self.keep_receipt(peer, &spec, "refused", receipt)
                    {
                        tracing::warn!("{e}");
                    }
                    (rule, format!("{reason} (refused by {peer})"))
                }
                Err(e) => (
                    format!("peers.{peer}"),
                    format!("could not propose to {peer}: {e}"),
                ),
            };
            let (rule, reason) = refusal;
            self.log(self.record(
                &spec,
                me,
                started,
                Outcome::Refused {
                    rule: rule.clone(),
                    reason: reason.clone(),
                },
            ))?;
            return self
                .set_state(&spec.id, State::Refused, format!("{rule}: {reason}"))
                .ok_or_else(|| "the job vanished".to_string());
        }
        let rule = format!("accepted by {}", accepted.join(", "));
        self.log(self.record(&spec, me, started, Outcome::Accepted { rule: rule.clone() }))?;
        let summary = self
            .set_state(&spec.id, State::Running, rule)
            .ok_or_else(|| "the job vanished".to_string())?;
        if summary.state == State::Cancelled.name() {
            return Ok(summary);
        }
        // The protocol runs on its own thread: `job status` follows it.
        if super::run_mesh::on_mesh(spec.protocol) {
            let node = Arc::clone(self);
            std::thread::spawn(move || node.run_mesh_proposed(spec, started));
            return Ok(summary);
        }
        match others.as_slice() {
            [peer] => {
                let (node, peer) = (Arc::clone(self), peer.to_string());
                std::thread::spawn(move || node.run_proposed(spec, peer, started));
            }
            _ => {
                let reason = format!(
                    "{} jobs take two parties, not {}",
                    spec.protocol,
                    spec.parties.len()
                );
                self.log(self.record(
                    &spec,
                    me,
                    started,
                    Outcome::Failed {
                        reason: reason.clone(),
                    },
                ))?;
                return self
                    .set_state(&spec.id, State::Failed, reason)
                    .ok_or_else(|| "the job vanished".to_string());
            }
        }
        Ok(summary)
    }

    /// Checks a peer's receipt for `spec` (signer, signature against the
    /// peer's audit key, job, spec hash, outcome) and stores it in the log.
    pub(super) fn keep_receipt(
        &self,
        peer: &str,
        spec: &JobSpec,
        outcome: &str,
        receipt: Receipt,
    ) -> Result<(), String> {
        let key = self
            .config
            .peers
            .get(peer)
            .map(|p| p.audit_key)
            .ok_or("not a configured peer")?;
        let body = &receipt.body;
        if receipt.signer != peer
            || body.job_id != spec.id
            || body.spec_hash != spec.hash().to_string()
            || body.outcome != outcome
        {
            return Err(format!(
                "{peer}'s receipt does not match the job and its answer"
            ));
        }
        receipt.verify(&key)?;
        self.log(Event::Receipt(receipt))
    }

    fn propose_to(&self, peer: &str, spec_json: Vec<u8>) -> Result<Answer, String> {
        let address = self
            .config
            .peers
            .get(peer)
            .map(|p| p.address)
            .ok_or("not a configured peer")?;
        let mut channel = self
            .endpoint
            .connect(address, peer)
            .map_err(|e| e.to_string())?;
        propose::propose(&mut channel, spec_json).map_err(|e| e.to_string())
    }
}
