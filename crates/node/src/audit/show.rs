//! A readable one-paragraph form of each audit record, for `indomain audit
//! show`. Every field that a peer or a spec could have filled (ids,
//! purposes, reasons, rules, names) is escaped and cut
//! ([`crate::bounds::printable`]), so any record — an old one with a
//! megabyte of purpose included — prints as a few short lines. Outputs are
//! shown by commitment (the plain SHA-256 in version-1 records).

use super::record::{Event, Outcome, Record};
use crate::bounds::{MAX_SHOWN, printable};
use crate::dp_ledger::LedgerEvent;

/// Peer- or spec-supplied text, made safe to print.
fn t(text: &str) -> String {
    printable(text, MAX_SHOWN)
}

/// What an output hash is, by the record's version.
fn hash_kind(version: u32) -> &'static str {
    if version == 1 { "sha256" } else { "commitment" }
}

/// The record as text: number, time, and what happened.
pub fn describe(r: &Record) -> String {
    let when = format!(
        "{}.{:03}",
        crate::time::format(r.time_ms / 1000),
        r.time_ms % 1000
    );
    let what = match &r.event {
        Event::NodeStarted { node, config_hash } => {
            format!(
                "node {} started (configuration sha256 {})",
                t(node),
                short(config_hash)
            )
        }
        Event::Job(j) => {
            let outcome = match &j.outcome {
                Outcome::Proposed => "proposed".to_string(),
                Outcome::Accepted { rule } => format!("accepted under {}", t(rule)),
                Outcome::Refused { rule, reason } => {
                    format!("REFUSED by {}: {}", t(rule), t(reason))
                }
                Outcome::Completed => "completed".to_string(),
                Outcome::Failed { reason } => format!("FAILED: {}", t(reason)),
                Outcome::Cancelled { by } => format!("CANCELLED by {}", t(by)),
                Outcome::Withdrawn { by, reason } => {
                    format!("WITHDRAWN by {}: {}", t(by), t(reason))
                }
            };
            let columns: Vec<String> = j
                .columns
                .iter()
                .map(|c| format!("{} ({})", t(&c.column), c.grade))
                .collect();
            let params: Vec<String> = j
                .parameters
                .iter()
                .map(|(k, v)| format!("{}={}", t(k), t(&v.to_string())))
                .collect();
            let kind = hash_kind(r.version);
            let outputs: Vec<String> = j
                .outputs
                .iter()
                .map(|o| match &o.hash {
                    Some(h) => {
                        format!("{} -> {} ({kind} {})", t(&o.name), t(&o.receiver), short(h))
                    }
                    None => format!("{} -> {}", t(&o.name), t(&o.receiver)),
                })
                .collect();
            format!(
                "job {} {}: {outcome}\n    spec sha256 {}, proposed by {}, parties {}, purpose \"{}\"\n    \
                 dataset {} columns [{}]\n    parameters [{}]\n    outputs [{}]\n    \
                 {} bytes sent, {} received, {} ms",
                t(&j.job_id),
                j.protocol,
                short(&j.spec_hash),
                t(&j.proposer),
                t(&j.peers.join(", ")),
                t(&j.purpose),
                t(&j.dataset),
                columns.join(", "),
                params.join(", "),
                outputs.join(", "),
                j.bytes_sent,
                j.bytes_received,
                j.finished_ms.saturating_sub(j.started_ms),
            )
        }
        Event::Released {
            job_id,
            output,
            receiver,
            hash,
        } => {
            format!(
                "job {}: released {} to {} ({} {})",
                t(job_id),
                t(output),
                t(receiver),
                hash_kind(r.version),
                short(hash)
            )
        }
        Event::EgressRefused {
            job_id,
            output,
            receiver,
            reason,
        } => {
            format!(
                "job {}: EGRESS REFUSED {} to {}: {}",
                t(job_id),
                t(output),
                t(receiver),
                t(reason)
            )
        }
        Event::Budget { change } => match change {
            LedgerEvent::Reserved {
                job,
                accounts,
                month,
                rho,
            } => {
                let accounts: Vec<String> = accounts
                    .iter()
                    .map(|a| format!("{} for {}", t(&a.dataset), t(&a.receiver)))
                    .collect();
                format!(
                    "job {}: DP budget reserved, ρ = {rho:.6} in {month} on [{}]",
                    t(job),
                    accounts.join(", ")
                )
            }
            LedgerEvent::Released { job } => {
                format!("job {}: DP budget spent (result released)", t(job))
            }
            LedgerEvent::Refunded { job } => {
                format!("job {}: DP budget refunded (failed before release)", t(job))
            }
        },
        Event::Receipt(rc) => {
            let kind = hash_kind(rc.body.version);
            let outputs: Vec<String> = rc
                .body
                .outputs
                .iter()
                .map(|o| {
                    format!(
                        "{} -> {} ({kind} {})",
                        t(&o.name),
                        t(&o.receiver),
                        short(&o.hash)
                    )
                })
                .collect();
            let head = match &rc.body.audit_head {
                Some(h) => format!(", its log's head {}", short(h)),
                None => String::new(),
            };
            format!(
                "receipt from {} for job {}: {}, outputs [{}]{head}",
                t(&rc.signer),
                t(&rc.body.job_id),
                t(rc.body.outcome.as_str()),
                outputs.join(", ")
            )
        }
    };
    format!("#{} {when} {what}", r.seq)
}

/// The first 16 hex digits of a hash: enough to tell records apart by eye.
fn short(hash: &str) -> String {
    t(hash.get(..16).unwrap_or(hash))
}
