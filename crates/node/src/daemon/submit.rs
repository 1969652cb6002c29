//! The proposing side: a job the operator submits is checked against this
//! node's own datasets and peers, proposed to every other party at once,
//! and recorded with each peer's answer and signed receipt. The first
//! refusal refuses the job here and withdraws it at every party that
//! accepted (or accepts later); once every party accepted, the job runs.
//! The operator's request waits for all of that up to its `wait`, then
//! says where the job stands: running, refused, or still waiting for named
//! parties.

use super::Node;
use super::error::JobError;
use super::jobs::State;
use super::propose::{self, Answer, Hello};
use crate::audit::{Outcome, ReceiptOutcome};
use crate::bounds::{MAX_PEER_REASON, printable};
use crate::control::JobSummary;
use crate::jobspec::JobSpec;
use crate::state::JobKey;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

/// A peer's answer to a proposal, as the proposer judges it.
enum Verdict {
    Accepted { rule: String },
    Refused { rule: String, reason: String },
}

impl Node {
    /// Checks a job submitted by the operator, proposes it to the peers,
    /// and waits up to `wait` (or until every peer answered) to say how it
    /// stands.
    pub(super) fn submit(
        self: &Arc<Self>,
        mut spec: JobSpec,
        wait: Option<Duration>,
    ) -> Result<JobSummary, JobError> {
        if spec.id.is_empty() {
            spec.id = format!("job-{}", crate::hex::encode(&rand::random::<[u8; 8]>()));
        }
        let plan = spec.checked_plan().map_err(JobError::Spec)?;
        spec.check_known(&self.config.known())
            .map_err(JobError::Spec)?;
        self.check_scoring_parties(&spec, &plan)?;
        let me = self.config.name.clone();
        let key = JobKey::new(&me, &spec.id);
        let others: Vec<String> = spec
            .parties
            .iter()
            .map(|p| p.name.clone())
            .filter(|n| *n != me)
            .collect();
        let started = crate::time::now_millis();
        self.register(
            &key,
            (&spec, &plan),
            State::Proposed,
            String::new(),
            started,
        )?;
        // The operator's own DP release spends from this node's ledger
        // (`daemon/budget.rs`), before anything is proposed.
        let now_secs = crate::time::unix_secs(std::time::SystemTime::now());
        if let Err(refusal) = self.charge_own_budget(&key, &spec, now_secs) {
            let outcome = Outcome::Refused {
                rule: refusal.rule.clone(),
                reason: refusal.reason.clone(),
            };
            self.log(self.record(&spec, &me, started, outcome))?;
            self.set_state(&key, State::Refused, refusal.to_string());
            return Err(JobError::Refused(refusal));
        }
        self.phase(
            &key,
            &format!("waiting for the answers of {}", others.join(", ")),
        );
        self.log(self.record(&spec, &me, started, Outcome::Proposed))?;

        let node = Arc::clone(self);
        let (k, s) = (key.clone(), spec.clone());
        // The proposing thread drops `decided` once the job is no longer
        // waiting for answers (running, refused or failed).
        let (decided, waiting) = mpsc::channel::<()>();
        std::thread::spawn(move || node.propose_all(k, s, others, started, decided));
        // Wait until the answers are in (or the operator's patience ends).
        let _ = match wait {
            Some(w) => waiting.recv_timeout(w).map_err(|_| ()),
            None => waiting.recv().map_err(|_| ()),
        };
        self.summary(&key)
    }

    /// Proposes `spec` to every party in `others` at once and acts on the
    /// answers as they come.
    fn propose_all(
        self: Arc<Self>,
        key: JobKey,
        spec: JobSpec,
        others: Vec<String>,
        started: u64,
        decided: mpsc::Sender<()>,
    ) {
        let me = self.config.name.clone();
        let spec_json = spec.canonical_bytes();
        let (tx, rx) = mpsc::channel();
        for peer in &others {
            let (node, peer, json, tx) = (
                Arc::clone(&self),
                peer.clone(),
                spec_json.clone(),
                tx.clone(),
            );
            std::thread::spawn(move || {
                let answer = node.propose_to(&peer, json);
                let _ = tx.send((peer, answer));
            });
        }
        drop(tx);
        let mut accepted: Vec<String> = Vec::new();
        let mut pending: Vec<String> = others.clone();
        let mut refused_by: Option<String> = None;
        for (peer, answer) in rx {
            pending.retain(|p| *p != peer);
            let verdict = self.judge(&peer, (&key, &spec), answer);
            match verdict {
                Verdict::Accepted { rule } => {
                    if refused_by.is_some() {
                        self.withdraw(&key, &peer, refused_by.as_deref().unwrap_or_default());
                    } else {
                        accepted.push(format!("{peer} ({rule})"));
                        if !pending.is_empty() {
                            self.phase(
                                &key,
                                &format!("waiting for the answers of {}", pending.join(", ")),
                            );
                        }
                    }
                }
                Verdict::Refused { rule, reason } if refused_by.is_none() => {
                    refused_by = Some(peer.clone());
                    let outcome = Outcome::Refused {
                        rule: rule.clone(),
                        reason: reason.clone(),
                    };
                    if let Err(e) = self.log(self.record(&spec, &me, started, outcome)) {
                        tracing::warn!("job {key}: {e}");
                    }
                    self.set_state(&key, State::Refused, format!("{rule}: {reason}"));
                    // The operator hears now; the remaining answers only
                    // decide whom to withdraw the job from.
                    let _ = decided.send(());
                    // Every party that accepted hears at once.
                    for a in &accepted {
                        let name = a.split(' ').next().unwrap_or_default();
                        self.withdraw(&key, name, &peer);
                    }
                }
                Verdict::Refused { .. } => {}
            }
        }
        if refused_by.is_some() {
            return;
        }
        let rule = format!("accepted by {}", accepted.join(", "));
        if let Err(e) = self.log(self.record(
            &spec,
            &me,
            started,
            Outcome::Accepted { rule: rule.clone() },
        )) {
            self.set_state(&key, State::Failed, e.to_string());
            return;
        }
        let summary = self.set_state(&key, State::Running, rule);
        drop(decided);
        if summary.is_none_or(|s| s.state != State::Running) {
            // Cancelled meanwhile (or gone).
            return;
        }
        self.phase(&key, "starting");
        self.run_proposed(key, spec, started);
    }

    /// What `peer`'s answer means for the job; its receipt is checked and
    /// kept, and its text escaped and cut (a peer's words go into this
    /// node's log and listings).
    fn judge(
        &self,
        peer: &str,
        (key, spec): (&JobKey, &JobSpec),
        answer: Result<Answer, JobError>,
    ) -> Verdict {
        let text = |s: &str| printable(s, MAX_PEER_REASON);
        let spec_hash = spec.hash().to_string();
        match answer {
            Ok(Answer::Accept {
                spec_hash: theirs, ..
            }) if theirs != spec_hash => Verdict::Refused {
                rule: format!("peers.{peer}"),
                reason: format!(
                    "{peer} hashed the spec to {}, this node to {spec_hash}",
                    text(&theirs)
                ),
            },
            Ok(Answer::Accept { rule, receipt, .. }) => {
                match self.keep_receipt(peer, (key, spec), ReceiptOutcome::Accepted, receipt) {
                    Ok(()) => Verdict::Accepted { rule: text(&rule) },
                    Err(e) => Verdict::Refused {
                        rule: format!("peers.{peer}.audit_key"),
                        reason: text(&e.to_string()),
                    },
                }
            }
            Ok(Answer::Refuse {
                rule,
                reason,
                receipt,
            }) => {
                if let Some(receipt) = receipt
                    && let Err(e) =
                        self.keep_receipt(peer, (key, spec), ReceiptOutcome::Refused, receipt)
                {
                    tracing::warn!("{}", text(&e.to_string()));
                }
                Verdict::Refused {
                    rule: text(&rule),
                    reason: format!("{} (refused by {peer})", text(&reason)),
                }
            }
            Err(e) => Verdict::Refused {
                rule: format!("peers.{peer}"),
                reason: format!("could not propose to {peer}: {}", text(&e.to_string())),
            },
        }
    }

    /// Tells `peer`, which accepted job `key`, that it is withdrawn
    /// because `refused_by` refused it.
    fn withdraw(&self, key: &JobKey, peer: &str, refused_by: &str) {
        let hello = Hello::Withdraw {
            job_id: key.id.clone(),
            reason: format!("{refused_by} refused the job"),
        };
        if let Err(e) = self.tell(peer, &hello) {
            tracing::warn!("job {key}: withdrawing it at {peer}: {e}");
        }
    }

    fn propose_to(&self, peer: &str, spec_json: Vec<u8>) -> Result<Answer, JobError> {
        let mut channel = self.dial(peer)?;
        propose::propose(&mut channel, spec_json).map_err(|e| JobError::Peer {
            peer: peer.to_string(),
            reason: e.to_string(),
        })
    }
}
