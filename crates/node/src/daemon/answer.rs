//! The answering side: a peer's proposal is checked — its size, its id
//! (unused by that peer here, in this run or by the log), this node's
//! policy, rate limits and DP budget — before any data is read, recorded, and
//! answered with the decision and this node's signed receipt of it.
//!
//! A refusal quotes nothing of the spec back. A peer whose proposals were
//! refused `max_refused_per_minute` times in the last minute is turned
//! away unrecorded until the minute has passed, so refused proposals cannot
//! grow the audit log or the job table without bound.

use super::jobs::State;
use super::propose::{Answer, Hello};
use super::{Node, lock};
use crate::audit::{Outcome, Receipt, ReceiptBody, ReceiptOutcome};
use crate::bounds::MAX_SPEC_BYTES;
use crate::jobspec::JobSpec;
use crate::policy;
use crate::state::JobKey;
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
            Ok(Hello::Link {
                proposer,
                job_id,
                spec_hash,
            }) => {
                return self.link_arrived(channel, JobKey::new(&proposer, &job_id), spec_hash);
            }
            Ok(Hello::Cancel { proposer, job_id }) => {
                return self.cancel_from_peer(&peer, &JobKey::new(&proposer, &job_id));
            }
            Ok(Hello::Withdraw { job_id, reason }) => {
                return self.withdrawn_by(&peer, &job_id, &reason);
            }
            // The console's reachability probe closes before any hello.
            Err(e) if channel.stopper().stopped_by_peer().is_some() => {
                tracing::debug!("{peer}: {e}");
                return;
            }
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
        let now = SystemTime::now();
        let now_secs = crate::time::unix_secs(now);
        let limit = self.config.max_refused_per_minute;
        if lock(&self.state).refused_last_minute(peer, now_secs) >= limit as usize {
            tracing::warn!("{peer}: proposal turned away unread ({limit} refused this minute)");
            return refuse(
                "max_refused_per_minute",
                format!(
                    "{limit} proposals of {peer} were refused in the last minute; try again later"
                ),
            );
        }
        if spec_json.len() > MAX_SPEC_BYTES {
            return refuse(
                "job",
                format!(
                    "the spec is {} bytes, more than the {MAX_SPEC_BYTES} allowed",
                    spec_json.len()
                ),
            );
        }
        let spec: JobSpec = match serde_json::from_slice(spec_json) {
            Ok(s) => s,
            Err(e) => {
                return refuse(
                    "job",
                    format!("malformed job spec (at column {})", e.column()),
                );
            }
        };
        let plan = match spec.checked_plan() {
            Ok(plan) => plan,
            Err(e) => return refuse("job", e.to_string()),
        };
        if spec.id.is_empty() {
            return refuse("job", "the job has no id".into());
        }
        let key = JobKey::new(peer, &spec.id);
        if lock(&self.state).id_in_use(&key) || lock(&self.jobs).contains_key(&key) {
            return refuse("job", super::reused(&key));
        }
        let parties: Vec<&str> = spec.parties.iter().map(|p| p.name.as_str()).collect();
        if let Some(by) = self.early_cancels.take(&key, &parties) {
            return refuse(
                "job",
                format!("{by} cancelled the job before its proposal arrived"),
            );
        }
        let started = crate::time::now_millis();
        let spec_hash = spec.hash().to_string();
        // Under the audit log's lock until the decision is recorded, so
        // that two proposals cannot both take the last slot of a rule's
        // hourly limit (lock order: audit log, jobs, state).
        let mut audit = lock(&self.audit);
        let decision = policy::check(&self.config.policy, peer, &spec, now).and_then(|grant| {
            let admitted = lock(&self.state).admitted_last_hour(peer, grant.rule, now_secs);
            policy::rate_limit(&grant, admitted).map(|()| grant)
        });
        // What only this node's own files can tell, for a job the policy
        // admits: a scoring job's parties against its model part's.
        let decision = decision.and_then(|grant| {
            self.check_scoring_parties(&spec, &plan)
                .map_err(|e| policy::Refusal {
                    rule: "job".into(),
                    reason: e.to_string(),
                })
                .map(|()| grant)
        });
        // The DP budget, last: only a job every other check admits
        // reserves it (recorded below, with the decision).
        let mut reserved = None;
        let decision = decision.and_then(|grant| {
            reserved = self.reserve_budget(&key, &spec, &grant, now_secs)?;
            Ok(grant)
        });
        let head = audit.head().to_string();
        let receipt = |outcome: ReceiptOutcome, rule: &str| {
            let body = ReceiptBody::new((peer, &spec.id), &spec_hash, outcome, Vec::new(), &head)
                .with_rule(rule);
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
                        rule: rule.clone(),
                        spec_hash: spec_hash.clone(),
                        receipt: receipt(ReceiptOutcome::Accepted, &rule),
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
                    receipt: Some(receipt(ReceiptOutcome::Refused, &refusal.rule)),
                    rule: refusal.rule,
                    reason: refusal.reason,
                },
            ),
        };
        let detail = match &answer {
            Answer::Accept { rule, .. } => rule.clone(),
            Answer::Refuse { rule, reason, .. } => format!("{rule}: {reason}"),
        };
        if let Err(e) = self.register(&key, (&spec, &plan), state, detail, started) {
            return refuse("job", e.to_string());
        }
        if let Some(job) = lock(&self.jobs).get_mut(&key) {
            job.max_rows = max_rows;
        }
        let budget = reserved.map(|change| audit.append(crate::audit::Event::Budget { change }));
        if let Some(Err(e)) = budget {
            self.set_state(&key, State::Failed, e.to_string());
            return refuse("audit", e.to_string());
        }
        if let Err(e) = audit.append(self.record(&spec, peer, started, outcome)) {
            // Nothing is agreed to without its audit record.
            self.set_state(&key, State::Failed, e.to_string());
            return refuse("audit", e.to_string());
        }
        drop(audit);
        // On acceptance the job waits for the proposer's `Hello::Run`, but
        // not forever: a proposer that died meanwhile never sends it.
        if matches!(answer, Answer::Accept { .. }) {
            std::thread::spawn(move || self.start_deadline(&key));
        }
        answer
    }

    /// Fails the accepted job `key` if its proposer has not started it
    /// within the configured start timeout.
    fn start_deadline(&self, key: &JobKey) {
        let timeout = self.config.start_timeout;
        std::thread::sleep(timeout);
        let expired = {
            let mut jobs = lock(&self.jobs);
            match jobs.get_mut(key) {
                Some(job) if job.state() == State::Accepted => {
                    let reason = format!(
                        "the proposer {} did not start the job within {} s of its acceptance \
                         (start_timeout_secs); it may have stopped",
                        key.proposer,
                        timeout.as_secs()
                    );
                    job.transition(State::Failed, reason.clone());
                    Some((job.spec.clone(), job.started_ms, reason))
                }
                _ => None,
            }
        };
        let Some((spec, started, reason)) = expired else {
            return;
        };
        tracing::warn!("job {key}: {reason}");
        let outcome = Outcome::Failed { reason };
        if let Err(e) = self.log(self.record(&spec, &key.proposer, started, outcome)) {
            tracing::warn!("job {key}: {e}");
        }
    }
}
