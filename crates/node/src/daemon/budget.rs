//! The differential-privacy budgets of this node's data (issue #22): the
//! daemon side of [`crate::dp_ledger`].
//!
//! - **Reserve at acceptance**: a job a peer proposes under a rule with
//!   `dp = { … }` reserves its release's ρ on every account (this node's
//!   dataset, each receiver of the job's outputs other than this node) for
//!   the current UTC month, under the audit log's lock, before the
//!   acceptance is recorded and before any data is read. A job the
//!   month's remainder cannot pay for is refused under the rule's `dp`
//!   key, the remaining budget named.
//! - **Settle at the end**: when the job's final record is written, its
//!   reservation is released (spent) if the job completed or its protocol
//!   reached the opening of any noisy value (a receiver may have it), and
//!   refunded otherwise (it failed, was withdrawn or cancelled before).
//! - **Restart**: the ledger is rebuilt from the log ([`crate::state`]);
//!   a reservation the log leaves open is settled as spent at start
//!   (whether its result went out is not known).
//!
//! - **The operator's own jobs** are charged too, at submission, before
//!   anything is proposed: a job this node's operator submits that
//!   releases with DP from this node's dataset reserves its ρ on the same
//!   accounts a peer's job would — (this node's dataset, each receiver of
//!   the job's outputs other than this node) — each under the budget this
//!   node's policy gives that receiver: the `dp` of the first of the
//!   receiver's `allow` rules that lists the job's protocol and the
//!   dataset. So what a peer learns about a dataset in a month is bounded
//!   whoever proposed the jobs that told it. A receiver without such a
//!   rule is not charged (the operator may release its own data to it);
//!   this node as a receiver is not charged (it holds the data). A refusal
//!   names the receiver's rule and what remains, and is recorded.
//!
//! Every change is an [`Event::Budget`] record of the audit log.

use super::{Node, lock};
use crate::audit::{AuditLog, Event};
use crate::control::BudgetLine;
use crate::dp_ledger::{Account, LedgerEvent, Month};
use crate::jobspec::JobSpec;
use crate::policy::{Grant, Refusal};
use crate::state::JobKey;
use std::collections::BTreeSet;

impl Node {
    /// Reserves the DP budget a granted job spends, if its rule has one:
    /// the change to log, or the refusal naming what remains.
    pub(super) fn reserve_budget(
        &self,
        key: &JobKey,
        spec: &JobSpec,
        grant: &Grant,
        now_secs: u64,
    ) -> Result<Option<LedgerEvent>, Refusal> {
        let Some(budget) = grant.dp else {
            return Ok(None);
        };
        let refuse = |reason: String| Refusal {
            rule: format!("policy.peers.{}.allow[{}].dp", grant.peer, grant.rule),
            reason,
        };
        // The policy refused a job without DP under this rule already.
        let rho = spec
            .plan()
            .ok()
            .and_then(|p| p.leaks().dp_rho)
            .ok_or_else(|| refuse("the rule requires differential privacy".into()))?;
        let accounts = self.accounts(spec);
        let month = Month::of_unix_secs(now_secs);
        // On a copy: the real ledger changes when the record is appended.
        let mut ledger = lock(&self.state).ledger().clone();
        ledger
            .reserve(&key.to_string(), &accounts, month, rho, &budget)
            .map(Some)
            .map_err(|r| refuse(r.to_string()))
    }

    /// Reserves the DP budget a job of this node's own operator spends
    /// (see the module's doc) and records the reservation, or refuses it
    /// naming the receiver's rule and what remains. Nothing is reserved
    /// for a job without DP, at the dealer or server, or for receivers
    /// without a budget.
    pub(super) fn charge_own_budget(
        &self,
        key: &JobKey,
        spec: &JobSpec,
        now_secs: u64,
    ) -> Result<(), Refusal> {
        let Some(rho) = spec.plan().ok().and_then(|p| p.leaks().dp_rho) else {
            return Ok(());
        };
        let me = &self.config.name;
        let Some(mine) = spec.party(me).filter(|p| !spec.is_dealer(&p.name)) else {
            return Ok(());
        };
        let mut charged = Vec::new();
        for account in self.accounts(spec) {
            let rules = self.config.policy.peers.get(&account.receiver);
            let found = rules.and_then(|r| {
                r.allow.iter().enumerate().find_map(|(i, rule)| {
                    let covers = rule.protocols.contains(&spec.protocol)
                        && rule.datasets.contains(&mine.dataset);
                    rule.dp.filter(|_| covers).map(|budget| (i, budget))
                })
            });
            if let Some((i, budget)) = found {
                let rule = format!("policy.peers.{}.allow[{i}].dp", account.receiver);
                charged.push((rule, account, budget));
            }
        }
        if charged.is_empty() {
            return Ok(());
        }
        let month = Month::of_unix_secs(now_secs);
        let job = key.to_string();
        let mut audit = lock(&self.audit);
        // On a copy, account by account so that a refusal names its rule:
        // the real ledger changes when the record is appended.
        let ledger = lock(&self.state).ledger().clone();
        for (rule, account, budget) in &charged {
            let alone = [(account.clone(), *budget)];
            if let Err(r) = ledger.clone().reserve_each(&job, &alone, month, rho) {
                return Err(Refusal {
                    rule: rule.clone(),
                    reason: r.to_string(),
                });
            }
        }
        let each: Vec<_> = charged.into_iter().map(|(_, a, b)| (a, b)).collect();
        let change = ledger
            .clone()
            .reserve_each(&job, &each, month, rho)
            .map_err(|r| Refusal {
                rule: "policy".into(),
                reason: r.to_string(),
            })?;
        audit
            .append(Event::Budget { change })
            .map(drop)
            .map_err(|e| Refusal {
                rule: "audit".into(),
                reason: e.to_string(),
            })
    }

    /// The accounts a job of `spec` charges: this node's dataset for each
    /// receiver of an output other than this node.
    fn accounts(&self, spec: &JobSpec) -> Vec<Account> {
        let me = &self.config.name;
        let Some(mine) = spec.party(me) else {
            return Vec::new();
        };
        let receivers: BTreeSet<&str> = spec
            .outputs
            .iter()
            .map(|o| o.receiver.as_str())
            .filter(|r| *r != me)
            .collect();
        receivers
            .into_iter()
            .map(|r| Account {
                dataset: mine.dataset.clone(),
                receiver: r.to_string(),
            })
            .collect()
    }

    /// Notes that job `key`'s protocol began opening noisy values: from
    /// now on its budget stays spent whatever happens.
    pub(super) fn mark_opened(&self, key: &JobKey) {
        if let Some(job) = lock(&self.jobs).get_mut(key) {
            job.opened = true;
        }
    }

    /// Settles job `key`'s reservation, if it holds one, as its final
    /// record was just appended: spent if it `completed` or opened
    /// anything, refunded otherwise.
    pub(super) fn settle_budget(&self, audit: &mut AuditLog, key: &JobKey, completed: bool) {
        let job = key.to_string();
        if !lock(&self.state).ledger().holds(&job) {
            return;
        }
        let opened = lock(&self.jobs).get(key).is_some_and(|j| j.opened);
        let change = if completed || opened {
            LedgerEvent::Released { job }
        } else {
            LedgerEvent::Refunded { job }
        };
        if let Err(e) = audit.append(Event::Budget { change }) {
            tracing::warn!("job {key}: recording its DP budget: {e}");
        }
    }

    /// Every budget of this node's policy with what remains of it this
    /// month, per rule, dataset and receiver.
    pub(super) fn budgets(&self, now_secs: u64) -> Vec<BudgetLine> {
        let month = Month::of_unix_secs(now_secs);
        let me = &self.config.name;
        let state = lock(&self.state);
        let mut lines = Vec::new();
        for (peer, rules) in &self.config.policy.peers {
            for (i, rule) in rules.allow.iter().enumerate() {
                let Some(budget) = rule.dp else { continue };
                let receivers: BTreeSet<&String> = rule
                    .outputs
                    .values()
                    .flatten()
                    .filter(|r| *r != me)
                    .collect();
                for dataset in &rule.datasets {
                    for receiver in &receivers {
                        let account = Account {
                            dataset: dataset.clone(),
                            receiver: receiver.to_string(),
                        };
                        let left = state.ledger().remaining(&account, month, &budget);
                        lines.push(BudgetLine {
                            rule: format!("policy.peers.{peer}.allow[{i}].dp"),
                            dataset: dataset.clone(),
                            receiver: receiver.to_string(),
                            month: month.to_string(),
                            epsilon: budget.epsilon,
                            delta: budget.delta,
                            rho: budget.rho(),
                            remaining_rho: left.rho,
                            remaining_epsilon: left.epsilon,
                        });
                    }
                }
            }
        }
        lines
    }
}
