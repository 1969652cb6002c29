//! A readable one-paragraph form of each audit record, for `indomain audit
//! show`.

use super::record::{Event, Outcome, Record};

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
                "node {node} started (configuration sha256 {})",
                short(config_hash)
            )
        }
        Event::Job(j) => {
            let outcome = match &j.outcome {
                Outcome::Proposed => "proposed".to_string(),
                Outcome::Accepted { rule } => format!("accepted under {rule}"),
                Outcome::Refused { rule, reason } => format!("REFUSED by {rule}: {reason}"),
                Outcome::Completed => "completed".to_string(),
                Outcome::Failed { reason } => format!("FAILED: {reason}"),
                Outcome::Cancelled { by } => format!("CANCELLED by {by}"),
            };
            let columns: Vec<String> = j
                .columns
                .iter()
                .map(|c| format!("{} ({})", c.column, c.grade))
                .collect();
            let params: Vec<String> = j
                .parameters
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            let outputs: Vec<String> = j
                .outputs
                .iter()
                .map(|o| match &o.hash {
                    Some(h) => format!("{} -> {} (sha256 {})", o.name, o.receiver, short(h)),
                    None => format!("{} -> {}", o.name, o.receiver),
                })
                .collect();
            format!(
                "job {} {}: {outcome}\n    spec sha256 {}, proposed by {}, parties {}, purpose {:?}\n    \
                 dataset {} columns [{}]\n    parameters [{}]\n    outputs [{}]\n    \
                 {} bytes sent, {} received, {} ms",
                j.job_id,
                j.protocol,
                short(&j.spec_hash),
                j.proposer,
                j.peers.join(", "),
                j.purpose,
                j.dataset,
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
                "job {job_id}: released {output} to {receiver} (sha256 {})",
                short(hash)
            )
        }
        Event::EgressRefused {
            job_id,
            output,
            receiver,
            reason,
        } => {
            format!("job {job_id}: EGRESS REFUSED {output} to {receiver}: {reason}")
        }
        Event::Receipt(rc) => {
            let outputs: Vec<String> = rc
                .body
                .outputs
                .iter()
                .map(|o| format!("{} -> {} (sha256 {})", o.name, o.receiver, short(&o.hash)))
                .collect();
            format!(
                "receipt from {} for job {}: {}, outputs [{}]",
                rc.signer,
                rc.body.job_id,
                rc.body.outcome,
                outputs.join(", ")
            )
        }
    };
    format!("#{} {when} {what}", r.seq)
}

/// The first 16 hex digits of a hash: enough to tell records apart by eye.
fn short(hash: &str) -> &str {
    hash.get(..16).unwrap_or(hash)
}
