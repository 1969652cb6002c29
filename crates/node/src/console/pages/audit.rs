//! The audit log, newest first and paged, under the verdict of `audit
//! verify` (kept current by [`crate::console::feed`], never recomputed by
//! a page view unless the file changed behind the node's back); a tampered
//! log names its first bad record in red. Receipts appear as records, each
//! linked to its job, whose page lists the job's receipts together.

use super::layout::{self, job_href, t};
use crate::audit::show::describe;
use crate::audit::{Event, Record};
use crate::console::Console;
use crate::console::feed::Verdict;
use crate::console::http::Resp;
use crate::console::routes::Ctx;
use crate::state::JobKey;
use maud::html;

/// Records on one page.
pub const PER_PAGE: u64 = 50;

fn job_of(r: &Record) -> Option<JobKey> {
    match &r.event {
        Event::Job(j) => Some(JobKey::new(&j.proposer, &j.job_id)),
        Event::Receipt(rc) => rc
            .body
            .proposer
            .as_ref()
            .map(|p| JobKey::new(p, &rc.body.job_id)),
        _ => None,
    }
}

/// `GET /audit`.
pub fn page(console: &Console, ctx: &Ctx<'_>) -> Resp {
    let view = console.view();
    let peers = view
        .config()
        .peers
        .iter()
        .map(|(n, p)| (n.clone(), p.audit_key))
        .collect();
    let verdict = console.feed.verdict(&view.audit_key(), &peers);
    let page: u64 = ctx
        .req
        .query("page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let (records, pages) = console.feed.page(page, PER_PAGE);
    let body = html! {
        @match &verdict {
            Verdict::Verified { records, head } => {
                div.verdict.ok #verdict data-verdict="verified" {
                    strong { "Verified: " } (records) " records; every record follows the one before, matches its hash and carries this node's signature. Head "
                    code { (head) }
                }
            }
            Verdict::Tampered { record, reason } => {
                div.verdict.bad #verdict data-verdict="tampered" data-first-bad=[record.map(|r| r.to_string())] {
                    strong { "The log does not verify" }
                    @if let Some(r) = record { " — first bad record: " a href=(format!("/audit?page={}", (console.feed.len().saturating_sub(r + 1)) / PER_PAGE)) { strong #first-bad { "#" (r) } } }
                    ": " (t(reason))
                }
            }
        }
        p.count { "Page " (page + 1) " of " (pages) ", newest first" }
        table.audit {
            thead { tr { th { "#" } th { "Record" } th { "Job" } } }
            tbody {
                @for s in &records {
                    tr.bad[s.problem.is_some()] data-seq=(s.seq) {
                        td { (s.seq) }
                        td {
                            @if let Some(p) = &s.problem { strong.problem { (p) } br; }
                            @if let Some(r) = &s.record { pre { (describe(r)) } } @else { "(the line is not a record)" }
                        }
                        td { @if let Some(k) = s.record.as_ref().and_then(job_of) { a href=(job_href(&k)) { (t(&k.to_string())) } } }
                    }
                }
            }
        }
        nav.pages {
            @if page > 0 { a href=(format!("/audit?page={}", page - 1)) { "← newer" } }
            @if page + 1 < pages { a href=(format!("/audit?page={}", page + 1)) { "older →" } }
        }
    };
    layout::page(console, ctx, "Audit log", "/audit", body)
}
