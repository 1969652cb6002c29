//! The answering side: a peer's proposal is checked against this node's
//! policy and rate limits before any data is read, recorded, and answered
//! with the decision and this node's signed receipt of it.

use super::jobs::State;
use super::propose::{Answer, Hello};
use super::{Node, lock};
use crate::audit::{Outcome, Receipt, ReceiptBody};
use crate::jobspec::JobSpec;
use crate::policy;
use indomain_net::quic::QuicChannel;
use indomain_net::{Channel, wire};
use std::sync::Arc;
use std::time::SystemTime;

impl Node {
    /// Routes a channel a peer opened by its first message: a proposal is
    /// answered (policy first, before any data is read); a run request goes
    /// to its accepted job.
    pub(super) fn serve_channel(self: Arc<Self>, mut channel: QuicChannel) {
        let peer = channel.peer().to_string();
        let answer = match wire::recv_msg::<Hello>(&mut channel) {
            Ok(Hello::Propose { spec_json }) => Arc::clone(&self).decide(&peer, &spec_json),
            Ok(Hello::Run { job_id, spec_hash }) => {
                return self.run_answered(channel, job_id, spec_hash);
            }
            Ok(Hello::Link { job_id, spec_hash }) => {
                return self.link_arrived(channel, job_id, spec_hash);
            }
            Ok(Hello::Cancel { job_id }) => return self.cancel_from_peer(&peer, &job_id),
            Err(e) => {
                tracing::warn!("proposal from {peer}: {e}");
                return;
            }
        };
        if let Err(e) = wire::send_msg(&mut channel, &answer) {
            tracing::warn!("answering {peer}: {e}");
        }
    }

    fn decide(self: Arc<Self>, peer: &str, spec_json: &[u8]) -> Answer {
        let refuse = |rule: &str, reason: String| Answer::Refuse {
            rule: rule.to_string(),
            reason,
            receipt: None,
        };
        let spec: JobSpec = match serde_json::from_slice(spec_json) {
            Ok(s) => s,
            Err(e) => return refuse("job", format!("malformed job spec: {e}")),
        };
        if let Err(e) = spec.validate() {
            return refuse("job", e.to_string());
        }
        if spec.id.is_empty() {
            return refuse("job", "the job has no id".into());
        }
        let now = SystemTime::now();
        let started = crate::time::now_millis();
        let decision = policy::check(&self.config.policy, peer, &spec, now)
            .and_then(|grant| lock(&self.limiter).admit(&grant, now).map(|()| grant));
        let spec_hash = spec.hash().to_string();
        let receipt = |outcome: &str| {
            let body = ReceiptBody {
                job_id: spec.id.clone(),
                spec_hash: spec_hash.clone(),
                outcome: outcome.to_string(),
                outputs: Vec::new(),
            };
            Receipt::sign(body, &self.config.name, &self.key)
        };
        let max_rows = decision.as_ref().ok().and_then(|g| g.max_rows);
        let (state, outcome, answer) = match decision {
            Ok(grant) => {
                let rule = format!("policy.peers.{peer}.allow[{}]", grant.rule);
                (
                    State::Accepted,
                    Outcome::Accepted { rule: rule.clone() },
                    Answer::Accept {
                        rule,
                        spec_hash: spec_hash.clone(),
                        receipt: receipt("accepted"),
                    },
                )
            }
            Err(refusal) => (
                State::Refused,
                Outcome::Refused {
                    rule: refusal.rule.clone(),
                    reason: refusal.reason.clone(),
                },
                Answer::Refuse {
                    rule: refusal.rule,
                    reason: refusal.reason,
                    receipt: Some(receipt("refused")),
                },
            ),
        };
        let detail = match &answer {
            Answer::Accept { rule, .. } => rule.clone(),
            Answer::Refuse { rule, reason, .. } => format!("{rule}: {reason}"),
        };
        if let Err(e) = self.register(&spec, peer, state, detail, started) {
            return refuse("job", e);
        }
        if let Some(job) = lock(&self.jobs).get_mut(&spec.id) {
            job.max_rows = max_rows;
        }
        if let Err(e) = self.log(self.record(&spec, peer, started, outcome)) {
            // Nothing is agreed to without its audit record.
            self.set_state(&spec.id, State::Failed, e.clone());
            return refuse("audit", e);
        }
        // On acceptance the job waits for the proposer's `Hello::Run`, but
        // not forever: a proposer that died meanwhile never sends it.
        if matches!(answer, Answer::Accept { .. }) {
            let job_id = spec.id.clone();
            std::thread::spawn(move || self.start_deadline(&job_id));
        }
        answer
    }

    /// Fails the accepted job `job_id` if its proposer has not started it
    /// within the configured start timeout.
    fn start_deadline(&self, job_id: &str) {
        let timeout = self.config.start_timeout;
        std::thread::sleep(timeout);
        let expired = {
            let mut jobs = lock(&self.jobs);
            match jobs.get_mut(job_id) {
                Some(job) if job.state == State::Accepted => {
                    job.state = State::Failed;
                    job.detail = format!(
                        "the proposer {} did not start the job within {} s of its acceptance \
                         (start_timeout_secs); it may have stopped",
                        job.proposer,
                        timeout.as_secs()
                    );
                    Some((
                        job.spec.clone(),
                        job.proposer.clone(),
                        job.started_ms,
                        job.detail.clone(),
                    ))
                }
                _ => None,
            }
        };
        let Some((spec, proposer, started, reason)) = expired else {
            return;
        };
        tracing::warn!("job {job_id}: {reason}");
        if let Err(e) = self.log(self.record(&spec, &proposer, started, Outcome::Failed { reason }))
        {
            tracing::warn!("job {job_id}: {e}");
        }
    }
}
