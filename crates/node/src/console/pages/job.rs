//! One job's page: its spec as this node holds it (hash, protocol,
//! purpose, parties, this node's dataset and columns, parameters, declared
//! outputs), and — in a fragment the page's script fetches again while the
//! job is open — its state, each party's decision with the rule that made
//! it, the job's records in this node's audit log with their time and
//! bytes (its phases), the outputs with their commitments, the receipts
//! the other parties signed (so two operators compare the same signed
//! outcome), the failure reason, and the cancel button.

use super::layout::{self, bytes, duration, job_href, state_label, t, when};
use crate::audit::{Event, Outcome, Record};
use crate::console::Console;
use crate::console::http::Resp;
use crate::console::routes::Ctx;
use crate::control::{JobSummary, Request, Response};
use crate::dp_ledger::LedgerEvent;
use crate::state::{JobHistory, JobKey};
use maud::{Markup, html};

/// What the page shows of a job.
struct Seen {
    key: JobKey,
    history: Option<JobHistory>,
    live: Option<JobSummary>,
}

fn seen(console: &Console, ctx: &Ctx<'_>) -> Option<Seen> {
    let [proposer, id] = ctx.params.as_slice() else {
        return None;
    };
    let key = JobKey::new(proposer, id);
    let mut history = None;
    console
        .view()
        .read_state(&mut |s| history = s.history().job(&key).cloned());
    let live = match console.view().control(Request::Status {
        job_id: key.to_string(),
    }) {
        Response::Job(s) => Some(s),
        _ => None,
    };
    (history.is_some() || live.is_some()).then_some(Seen { key, history, live })
}

fn not_found() -> Resp {
    layout::refused(
        404,
        "No such job",
        "This node knows no job of that proposer and id.",
    )
}

/// `GET /jobs/{proposer}/{id}`.
pub fn page(console: &Console, ctx: &Ctx<'_>) -> Resp {
    let Some(job) = seen(console, ctx) else {
        return not_found();
    };
    let live_url = format!("{}/live", job_href(&job.key));
    let body = html! {
        @if let Some(h) = &job.history { (spec(h)) }
        @else if let Some(l) = &job.live {
            section { h2 { "Spec" } p { "spec sha256 " code { (l.spec_hash) } } }
        }
        div #job-live data-live=(live_url) {
            (live_part(console, ctx, &job))
        }
    };
    layout::page(
        console,
        ctx,
        &format!("Job {}", t(&job.key.to_string())),
        "/jobs",
        body,
    )
}

/// `GET /jobs/{proposer}/{id}/live`: the part of the page that changes.
pub fn live(console: &Console, ctx: &Ctx<'_>) -> Resp {
    match seen(console, ctx) {
        Some(job) => Resp::html(live_part(console, ctx, &job)),
        None => Resp::text(404, "no such job"),
    }
}

/// `POST /jobs/{proposer}/{id}/cancel`: `job cancel`, through the control
/// socket's path.
pub fn cancel(console: &Console, ctx: &Ctx<'_>) -> Resp {
    let Some(job) = seen(console, ctx) else {
        return not_found();
    };
    match console.view().control(Request::Cancel {
        job_id: job.key.to_string(),
    }) {
        Response::Error { message } => {
            layout::refused(409, "The job was not cancelled", &layout::t(&message))
        }
        _ => Resp::redirect(&job_href(&job.key)),
    }
}

fn spec(h: &JobHistory) -> Markup {
    html! {
        section #spec {
            h2 { "Spec" }
            table.facts {
                tr { th { "Spec sha256" } td.mono #spec-hash { (h.spec_hash) } }
                tr { th { "Protocol" } td { (h.protocol) } }
                tr { th { "Purpose" } td { (t(&h.purpose)) } }
                tr { th { "Proposer" } td { (t(&h.key.proposer)) } }
                tr { th { "Parties" } td #parties { (t(&h.parties.join(", "))) } }
                @if !h.dataset.is_empty() {
                    tr { th { "This node's dataset" } td { (t(&h.dataset)) } }
                    tr { th { "Its columns read" } td {
                        @for c in &h.columns { span.column { (t(&c.column)) " (" (c.grade) ")" } " " }
                    } }
                }
                tr { th { "Parameters" } td {
                    @if h.parameters.is_empty() { "none" }
                    @for (k, v) in &h.parameters { code { (t(k)) " = " (t(&v.to_string())) } " " }
                } }
                tr { th { "Declared outputs" } td {
                    @for o in &h.outputs { span.output { (t(&o.name)) " → " (t(&o.receiver)) } " " }
                } }
            }
        }
    }
}

fn live_part(console: &Console, ctx: &Ctx<'_>, job: &Seen) -> Markup {
    let state = job
        .live
        .as_ref()
        .map(|l| l.state)
        .or_else(|| {
            job.history
                .as_ref()
                .map(|h| crate::control::JobState::of(&h.outcome))
        })
        .map_or("", |s| s.name());
    let open = matches!(state, "proposed" | "accepted" | "running");
    let records = console.feed.read(&console.feed.job_records(&job.key));
    html! {
        section #status data-final=[(!open).then_some("1")] {
            h2 { "State" }
            p.big #job-state { (state_label(state)) }
            @if let Some(l) = &job.live {
                @if !l.phase.is_empty() { p #job-phase { "Now: " (t(&l.phase)) @if !l.progress.is_empty() { " · " (t(&l.progress)) } } }
                @if !l.detail.is_empty() { p #job-detail class=[(!open && state != "completed").then_some("error")] { (l.detail) } }
            }
            @if let Some(h) = &job.history { (reason(&h.outcome)) }
            @if open {
                form #cancel-form method="post" action=(format!("{}/cancel", job_href(&job.key))) {
                    input type="hidden" name="csrf" value=(ctx.csrf());
                    button #cancel type="submit" { "Cancel this job" }
                }
            }
        }
        @if let Some(h) = &job.history {
            (decisions(h))
            section #phases {
                h2 { "Phases (this node's audit records)" }
                p.hint { "Started " (when(h.started_ms)) "; " (duration(h.finished_ms.saturating_sub(h.started_ms))) " to its latest state; " (bytes(h.bytes_sent)) " sent, " (bytes(h.bytes_received)) " received." }
                table {
                    thead { tr { th { "#" } th { "Time" } th { "Record" } th { "Bytes sent / received" } } }
                    tbody {
                        @for s in &records {
                            tr class=[s.problem.as_ref().map(|_| "bad")] {
                                td { (s.seq) }
                                td { (s.record.as_ref().map(|r| when(r.time_ms)).unwrap_or_default()) }
                                td { (s.record.as_ref().map(event_text).unwrap_or_default()) @if let Some(p) = &s.problem { " — " (p) } }
                                td { (s.record.as_ref().and_then(bytes_of).unwrap_or_default()) }
                            }
                        }
                    }
                }
            }
            section #outputs {
                h2 { "Outputs" }
                table {
                    thead { tr { th { "Output" } th { "Receiver" } th { "Commitment" } } }
                    tbody {
                        @for o in &h.outputs {
                            tr { td { (t(&o.name)) } td { (t(&o.receiver)) } td.mono { (o.hash.as_deref().map(t).unwrap_or_else(|| "not released".into())) } }
                        }
                    }
                }
            }
            section #receipts {
                h2 { "Receipts signed by the other parties" }
                @if h.receipts.is_empty() { p { "None kept." } }
                table {
                    thead { tr { th { "Signer" } th { "Outcome" } th { "Outputs (commitments)" } th { "Its audit head" } th { "Record" } } }
                    tbody {
                        @for r in &h.receipts {
                            tr data-signer=(t(&r.signer)) {
                                td { (t(&r.signer)) }
                                td.receipt-outcome { (state_label(&t(r.outcome.as_str()))) }
                                td.mono { @for o in &r.outputs { (t(&o.name)) " → " (t(&o.receiver)) ": " (t(&o.hash)) br; } }
                                td.mono { (r.audit_head.as_deref().map(t).unwrap_or_default()) }
                                td { "#" (r.seq) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn decisions(h: &JobHistory) -> Markup {
    html! {
        section #decisions {
            h2 { "Decisions" }
            @if h.decisions.is_empty() { p { "No decision recorded yet." } }
            table {
                thead { tr { th { "Party" } th { "Decision" } th { "Rule" } th { "Reason" } th { "Recorded" } } }
                tbody {
                    @for d in &h.decisions {
                        tr data-party=(t(&d.party)) {
                            td { (t(&d.party)) }
                            td { @if d.accepted { span.state.ok { "accepted" } } @else { span.state.bad { "refused" } } }
                            td.rule { code { (t(&d.rule)) } }
                            td { (d.reason.as_deref().map(t).unwrap_or_default()) }
                            td { (when(d.time_ms)) }
                        }
                    }
                }
            }
        }
    }
}

fn reason(outcome: &Outcome) -> Markup {
    html! {
        @match outcome {
            Outcome::Refused { rule, reason } => p.error #failure { "Refused under " code { (t(rule)) } ": " (t(reason)) },
            Outcome::Failed { reason } => p.error #failure { "Failed: " (t(reason)) },
            Outcome::Cancelled { by } => p #failure { "Cancelled by " (t(by)) "; nothing was released." },
            Outcome::Withdrawn { by, reason } => p.error #failure { "Withdrawn by " (t(by)) ": " (t(reason)) },
            _ => {}
        }
    }
}

/// One record about a job, in words.
fn event_text(r: &Record) -> String {
    match &r.event {
        Event::Job(j) => match &j.outcome {
            Outcome::Proposed => "proposed".into(),
            Outcome::Accepted { rule } => format!("accepted under {}", t(rule)),
            Outcome::Refused { rule, reason } => {
                format!("refused under {}: {}", t(rule), t(reason))
            }
            Outcome::Completed => "completed; outputs released".into(),
            Outcome::Failed { reason } => format!("failed: {}", t(reason)),
            Outcome::Cancelled { by } => format!("cancelled by {}", t(by)),
            Outcome::Withdrawn { by, reason } => format!("withdrawn by {}: {}", t(by), t(reason)),
        },
        Event::Released {
            output, receiver, ..
        } => format!("released {} to {}", t(output), t(receiver)),
        Event::EgressRefused {
            output,
            receiver,
            reason,
            ..
        } => format!(
            "egress refused: {} to {}: {}",
            t(output),
            t(receiver),
            t(reason)
        ),
        Event::Receipt(rc) => format!(
            "receipt from {}: {}",
            t(&rc.signer),
            t(rc.body.outcome.as_str())
        ),
        Event::Budget { change } => match change {
            LedgerEvent::Reserved { month, rho, .. } => {
                format!("DP budget reserved: ρ = {rho:.6} in {month}")
            }
            LedgerEvent::Released { .. } => "DP budget spent".into(),
            LedgerEvent::Refunded { .. } => "DP budget refunded".into(),
        },
        Event::NodeStarted { .. } => "node started".into(),
    }
}

fn bytes_of(r: &Record) -> Option<String> {
    match &r.event {
        Event::Job(j) if j.bytes_sent + j.bytes_received > 0 => Some(format!(
            "{} / {}",
            bytes(j.bytes_sent),
            bytes(j.bytes_received)
        )),
        _ => None,
    }
}
