//! The jobs list: every job this node knows (this run's live table and the
//! history rebuilt from the audit log), newest first, with filters, paged;
//! its rows are a fragment the page's script fetches again every second,
//! so states and progress change without a reload.

use super::layout::{self, job_href, state_label, t, when};
use crate::console::http::{Resp, encode};
use crate::console::routes::Ctx;
use crate::console::{Console, NodeView};
use crate::control::{JobSummary, Request, Response};
use crate::state::JobKey;
use maud::{Markup, html};

/// Jobs on one page.
pub const PER_PAGE: usize = 50;

/// The states the filter offers.
const STATES: [&str; 8] = [
    "open",
    "running",
    "completed",
    "refused",
    "failed",
    "cancelled",
    "withdrawn",
    "proposed",
];

/// The protocols the filter suggests (any protocol name may be typed).
const PROTOCOLS: [&str; 7] = [
    "psi-intersection",
    "psi-cardinality",
    "psi-sum",
    "psi-join",
    "aggregate",
    "train",
    "predict",
];

/// What the list shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// A state, or `open` (proposed, accepted or running); empty: all.
    pub state: String,
    /// A protocol; empty: all.
    pub protocol: String,
    /// Text the id, proposer or purpose contains (any case).
    pub text: String,
    /// The page, from 0.
    pub page: usize,
}

impl Filter {
    /// The filter a request's query asks for.
    pub fn of(ctx: &Ctx<'_>) -> Filter {
        let q = |name| ctx.req.query(name).unwrap_or_default().trim().to_string();
        Filter {
            state: q("state"),
            protocol: q("protocol"),
            text: q("q"),
            page: q("page").parse().unwrap_or(0),
        }
    }

    /// The filter as a query string (without the page unless `page`).
    pub fn query(&self, page: Option<usize>) -> String {
        let mut q = format!(
            "state={}&protocol={}&q={}",
            encode(&self.state),
            encode(&self.protocol),
            encode(&self.text)
        );
        if let Some(p) = page {
            q.push_str(&format!("&page={p}"));
        }
        q
    }

    fn admits(&self, s: &JobSummary, purpose: &str) -> bool {
        let state_ok = match self.state.as_str() {
            "" => true,
            "open" => matches!(s.state.as_str(), "proposed" | "accepted" | "running"),
            st => s.state == st,
        };
        let text = self.text.to_lowercase();
        state_ok
            && (self.protocol.is_empty() || s.protocol == self.protocol)
            && (text.is_empty()
                || s.job_id.to_lowercase().contains(&text)
                || s.proposer.to_lowercase().contains(&text)
                || purpose.to_lowercase().contains(&text))
    }
}

/// One row of the list.
#[derive(Debug, Clone)]
pub struct Row {
    /// The job.
    pub key: JobKey,
    /// Its state, detail, phase and progress, as `job list` has them.
    pub summary: JobSummary,
    /// Its purpose.
    pub purpose: String,
    /// Its parties.
    pub parties: Vec<String>,
    /// When it started here (Unix milliseconds; 0 if unknown).
    pub started_ms: u64,
}

/// The rows of `filter`'s page, newest first, and how many jobs match.
pub fn collect(view: &dyn NodeView, filter: &Filter) -> (Vec<Row>, usize) {
    let summaries = match view.control(Request::List) {
        Response::Jobs { jobs } => jobs,
        _ => Vec::new(),
    };
    let skip = filter.page * PER_PAGE;
    let mut rows = Vec::with_capacity(PER_PAGE);
    let mut matched = 0;
    view.read_state(&mut |state| {
        let history = state.history();
        for s in summaries.iter().rev() {
            let key = JobKey::new(&s.proposer, &s.job_id);
            let job = history.job(&key);
            let purpose = job.map_or("", |j| j.purpose.as_str());
            if !filter.admits(s, purpose) {
                continue;
            }
            if matched >= skip && rows.len() < PER_PAGE {
                rows.push(Row {
                    key,
                    summary: s.clone(),
                    purpose: purpose.to_string(),
                    parties: job.map(|j| j.parties.clone()).unwrap_or_default(),
                    started_ms: job.map_or(0, |j| j.started_ms),
                });
            }
            matched += 1;
        }
    });
    (rows, matched)
}

/// The rows as table rows.
pub fn render_rows(rows: &[Row]) -> Markup {
    html! {
        @if rows.is_empty() {
            tr { td colspan="7" { "No job matches." } }
        }
        @for r in rows {
            tr data-job=(r.key) {
                td { a href=(job_href(&r.key)) { (t(&r.key.id)) } }
                td { (t(&r.key.proposer)) }
                td { (r.summary.protocol) }
                td { (t(&r.purpose)) }
                td { (t(&r.parties.join(", "))) }
                td.state-cell { (state_label(r.summary.state.name())) }
                td {
                    @if !r.summary.phase.is_empty() {
                        (t(&r.summary.phase))
                        @if !r.summary.progress.is_empty() { " · " (t(&r.summary.progress)) }
                    } @else {
                        (r.summary.detail)
                    }
                }
                td { (when(r.started_ms)) }
            }
        }
    }
}

/// `GET /jobs`.
pub fn page(console: &Console, ctx: &Ctx<'_>) -> Resp {
    let filter = Filter::of(ctx);
    let (rows, matched) = collect(console.view(), &filter);
    let pages = matched.div_ceil(PER_PAGE).max(1);
    let body = html! {
        form.filters method="get" action="/jobs" {
            label { "State " select name="state" {
                option value="" selected[filter.state.is_empty()] { "any" }
                @for s in STATES { option value=(s) selected[filter.state == s] { (s) } }
            } }
            label { "Protocol " input type="text" name="protocol" value=(filter.protocol) list="protocols" placeholder="any"; }
            datalist #protocols {
                @for p in PROTOCOLS { option value=(p) {} }
            }
            label { "Text " input type="search" name="q" value=(filter.text) placeholder="id, proposer or purpose"; }
            button type="submit" { "Filter" }
        }
        p.count { (matched) " jobs · page " (filter.page + 1) " of " (pages) }
        table.jobs {
            thead { tr { th { "Job" } th { "Proposer" } th { "Protocol" } th { "Purpose" } th { "Parties" } th { "State" } th { "Now / detail" } th { "Started" } } }
            tbody #job-rows data-live=(format!("/jobs/rows?{}", filter.query(Some(filter.page)))) {
                (render_rows(&rows))
            }
        }
        nav.pages {
            @if filter.page > 0 { a href=(format!("/jobs?{}", filter.query(Some(filter.page - 1)))) { "← newer" } }
            @if filter.page + 1 < pages { a href=(format!("/jobs?{}", filter.query(Some(filter.page + 1)))) { "older →" } }
        }
    };
    layout::page(console, ctx, "Jobs", "/jobs", body)
}

/// `GET /jobs/rows`: the rows alone, for the page's script.
pub fn rows(console: &Console, ctx: &Ctx<'_>) -> Resp {
    let (rows, _) = collect(console.view(), &Filter::of(ctx));
    Resp::html(render_rows(&rows))
}
