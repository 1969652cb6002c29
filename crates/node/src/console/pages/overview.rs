//! The overview: this node's identity and audit key, its peers (address,
//! fingerprint, when last heard from, whether it answers a handshake now
//! ([`crate::console::reach`]), whether a job with it runs now),
//! its datasets with their columns and grades (never a row), and the
//! policy rules in force, with what each allows to leak beyond the
//! outputs (dealers, counts opened to a decider, contribution re-runs,
//! size limits).

use super::layout::{self, when};
use crate::console::Console;
use crate::console::http::Resp;
use crate::console::routes::Ctx;
use crate::control::{Request, Response};
use crate::dataset::{Select, Source};
use crate::policy::Rule;
use crate::policy::leak::{DealerChoice, LeakRules, TWO_PARTY};
use crate::state::JobKey;
use maud::{Markup, html};
use std::collections::BTreeSet;

/// `GET /`.
pub fn page(console: &Console, ctx: &Ctx<'_>) -> Resp {
    let view = console.view();
    let config = view.config();
    let running = running_peers(console);
    let body = html! {
        section {
            h2 { "This node" }
            table.facts {
                tr { th { "Name" } td #node-name { (config.name) } }
                tr { th { "Certificate fingerprint" } td.mono { (view.fingerprint()) } }
                tr { th { "Audit key" } td.mono #audit-key { (crate::audit::key::format_public_key(&view.audit_key())) } }
                tr { th { "QUIC address" } td { (config.listen) } }
                tr { th { "Audit log" } td.mono { (config.audit_log.display()) } }
            }
        }
        section {
            h2 { "Peers" }
            p.hint { "Last heard: the latest record in this node's audit log that the peer caused (a proposal, a decision, a receipt, a cancellation). Reachable now: whether the peer answered a QUIC handshake with mutual TLS (its certificate the configured one) at the time shown; checked again every few seconds while this page is open." }
            div #peers-live data-live="/peers/live" { (peers_table(console, &running)) }
        }
        section {
            h2 { "Datasets" }
            @for (name, ds) in &config.datasets {
                h3 { (name) " " small { (source(&ds.source)) } }
                table.columns {
                    thead { tr { th { "Column" } th { "Type" } th { "Grade" } } }
                    tbody {
                        @for (column, def) in &ds.columns {
                            tr { td { (column) } td { (format!("{:?}", def.kind).to_lowercase()) } td { (def.grade) } }
                        }
                    }
                }
            }
        }
        section {
            h2 { "Policy in force" }
            @if config.policy.peers.is_empty() {
                p { "No peer may run anything here." }
            }
            @for (peer, pp) in &config.policy.peers {
                h3 { "Peer " (peer) }
                @if pp.allow.is_empty() { p { "No rule: every proposal is refused." } }
                ol start="0" {
                    @for (i, rule) in pp.allow.iter().enumerate() {
                        li { code { "policy.peers." (peer) ".allow[" (i) "]" } (rule_facts(rule)) }
                    }
                }
            }
        }
    };
    layout::page(console, ctx, "Overview", "/", body)
}

/// `GET /peers/live`: the peers' table, refreshed by the page's script
/// (the probes' results change without a reload).
pub fn peers_live(console: &Console, _ctx: &Ctx<'_>) -> Resp {
    Resp::html(peers_table(console, &running_peers(console)))
}

/// The peers with a job running now.
fn running_peers(console: &Console) -> BTreeSet<String> {
    let view = console.view();
    let mut running = BTreeSet::new();
    if let Response::Jobs { jobs } = view.control(Request::List) {
        let open: Vec<_> = jobs.iter().filter(|j| j.state == "running").collect();
        if !open.is_empty() {
            view.read_state(&mut |s| {
                for j in &open {
                    if let Some(h) = s.history().job(&JobKey::new(&j.proposer, &j.job_id)) {
                        running.extend(h.parties.iter().cloned());
                    }
                }
            });
        }
    }
    running
}

fn peers_table(console: &Console, running: &BTreeSet<String>) -> Markup {
    let config = console.view().config();
    let heard = console.feed.last_heard();
    let probes = console.view().reach().map(|r| r.view());
    html! {
        table #peers {
            thead { tr { th { "Peer" } th { "Address" } th { "Fingerprint" } th { "Audit key" } th { "Last heard" } th { "Reachable now" } th { "Jobs" } } }
            tbody {
                @for (name, peer) in &config.peers {
                    tr data-peer=(name) {
                        td { (name) }
                        td { (peer.address) }
                        td.mono { (peer.fingerprint) }
                        td.mono { (crate::audit::key::format_public_key(&peer.audit_key)) }
                        td { (heard.get(name).map(|&ms| when(ms)).unwrap_or_else(|| "never".into())) }
                        td.reach {
                            @match probes.as_ref().map(|p| p.get(name)) {
                                Some(Some(p)) if p.reachable => { span.state.ok data-reach="reachable" { "reachable" } br; span.hint { "checked " (when(p.checked_ms)) } },
                                Some(Some(p)) => { span.state.bad data-reach="unreachable" { "unreachable" } br; span.hint { "checked " (when(p.checked_ms)) ": " (layout::t(&p.detail)) } },
                                Some(None) => { span.state.off data-reach="checking" { "checking…" } },
                                None => { span.state.off data-reach="off" { "not probed" } },
                            }
                        }
                        td { @if running.contains(name) { span.state.ok { "linked (job running)" } } @else { span.state.off { "idle" } } }
                    }
                }
            }
        }
    }
}

/// Where a dataset's rows come from, without secrets (a PostgreSQL
/// connection string may hold a password: only the table or query shows).
fn source(source: &Source) -> String {
    let select = |s: &Select| match s {
        Select::Table(t) => format!("table {t}"),
        Select::Query(_) => "a query".to_string(),
    };
    match source {
        Source::Csv(path) => format!("CSV {}", path.display()),
        Source::Sqlite { path, select: s } => format!("SQLite {} ({})", path.display(), select(s)),
        Source::Postgres { select: s, .. } => format!("PostgreSQL ({})", select(s)),
    }
}

fn list<T: std::fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(T::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn rule_facts(rule: &Rule) -> Markup {
    html! {
        dl.rule {
            dt { "protocols" } dd { (list(&rule.protocols)) }
            dt { "datasets" } dd { (list(&rule.datasets)) }
            dt { "columns" } dd { (rule.columns.as_ref().map_or("any of the allowed grades".to_string(), |c| list(c))) }
            dt { "grades" } dd { (list(&rule.grades)) }
            @if let Some(p) = &rule.purposes { dt { "purposes" } dd { (list(p)) } }
            dt { "outputs" } dd {
                @if rule.outputs.is_empty() { "none" }
                @for (o, rs) in &rule.outputs { (o) " → " (list(rs)) "; " }
            }
            @if let Some(v) = rule.min_group_size { dt { "min_group_size" } dd { (v) } }
            @if let Some(v) = rule.min_intersection { dt { "min_intersection" } dd { (v) } }
            @if let Some(v) = rule.max_rows { dt { "max_rows" } dd { (v) } }
            @if let Some(v) = rule.max_jobs_per_hour { dt { "max_jobs_per_hour" } dd { (v) } }
            @if let Some(v) = rule.not_before { dt { "not_before" } dd { (crate::time::format(v)) } }
            @if let Some(v) = rule.not_after { dt { "not_after" } dd { (crate::time::format(v)) } }
            (leak_facts(&rule.leaks))
        }
    }
}

/// What the rule allows to leak beyond the outputs (`policy::leak`), with
/// the defaults spelled out so an operator sees what an absent key means.
fn leak_facts(leaks: &LeakRules) -> Markup {
    let dealers = leaks.dealers.as_ref().map_or_else(
        || "any party".to_string(),
        |d| {
            let names: Vec<&str> = d
                .iter()
                .map(|choice| match choice {
                    DealerChoice::Party(name) => name.as_str(),
                    DealerChoice::TwoParty => TWO_PARTY,
                })
                .collect();
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        },
    );
    let binning_modes: Vec<&str> = leaks.binning_modes.iter().map(|m| m.name()).collect();
    let binning_modes = binning_modes.join(", ");
    let limits = [
        ("max_categories", leaks.max_categories),
        ("max_bins", leaks.max_bins),
        ("max_epochs", leaks.max_epochs),
        ("max_items", leaks.max_items),
    ];
    html! {
        dt { "dealers" } dd.leak { (dealers) }
        dt { "open_counts_to_decider" } dd.leak { (leaks.open_counts_to_decider) }
        dt { "contribution" } dd.leak { (leaks.contribution) }
        dt { "leak_instance_space" } dd.leak { (leaks.leak_instance_space) }
        dt { "binning_modes" } dd.leak { (binning_modes) }
        dt { "shared_permutation" } dd.leak { (leaks.shared_permutation) }
        @for (key, limit) in limits {
            @if let Some(v) = limit { dt { (key) } dd.leak { (v) } }
        }
    }
}
