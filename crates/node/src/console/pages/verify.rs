//! The verification service this node's organisation operates, when
//! `node.toml` names its store (`verify_store`, the directory `indomain
//! verify serve` serves): the versions published and their revisions, the
//! one being served, and each client's use against its quota (replayed
//! from the store's usage log the way the service itself counts it).

use super::layout::{self, t};
use crate::console::Console;
use crate::console::http::Resp;
use crate::console::routes::Ctx;
use maud::html;
use std::path::Path;

/// The largest usage log read whole.
const MAX_USAGE_LOG: u64 = 256 << 20;

/// Each published version and its revisions, from `v<V>/table-<R>.bin`.
fn versions(store: &Path) -> Vec<(u64, Vec<u64>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(store).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let Some(v) = name.strip_prefix('v').and_then(|v| v.parse::<u64>().ok()) else {
            continue;
        };
        let mut revisions: Vec<u64> = std::fs::read_dir(entry.path())
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|f| {
                let n = f.file_name().to_string_lossy().to_string();
                n.strip_prefix("table-")?.strip_suffix(".bin")?.parse().ok()
            })
            .collect();
        revisions.sort_unstable();
        out.push((v, revisions));
    }
    out.sort();
    out
}

/// `GET /verify`.
pub fn page(console: &Console, ctx: &Ctx<'_>) -> Resp {
    let config = console.view().config();
    let Some(store) = &config.verify_store else {
        return layout::refused(
            404,
            "No verification service",
            "node.toml names no verification store (verify_store).",
        );
    };
    let current = std::fs::read_to_string(store.join("current"))
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let log = store.join("usage.log");
    let usage_text = match std::fs::metadata(&log) {
        Ok(m) if m.len() <= MAX_USAGE_LOG => std::fs::read_to_string(&log).unwrap_or_default(),
        _ => String::new(),
    };
    let mut usage: Vec<(String, u64)> = indomain_verify::service::replay_usage(usage_text.lines())
        .into_iter()
        .collect();
    usage.sort();
    let quota = config.verify_quota;
    let body = html! {
        section {
            h2 { "Store" }
            table.facts {
                tr { th { "Directory" } td.mono { (store.display()) } }
                tr { th { "Served now" } td #verify-current { @if current.is_empty() { "nothing published" } @else { "version " (t(&current)) } } }
            }
        }
        section {
            h2 { "Published versions" }
            table {
                thead { tr { th { "Version" } th { "Revisions" } } }
                tbody {
                    @for (v, rs) in versions(store) {
                        tr { td { (v) } td { (rs.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")) } }
                    }
                }
            }
        }
        section {
            h2 { "Usage against quota" }
            p.hint { "Evaluations served to each client since the last reset, from " code { "usage.log" } "; the quota is " (quota) " (verify_quota in node.toml, as given to " code { "verify serve --quota" } ")." }
            table #usage {
                thead { tr { th { "Client" } th { "Used" } th { "Left" } th { "Share of quota" } } }
                tbody {
                    @if usage.is_empty() { tr { td colspan="4" { "No client has been served." } } }
                    @for (client, used) in &usage {
                        tr {
                            td { (t(client)) }
                            td { (used) }
                            td { (quota.saturating_sub(*used)) }
                            td { (format!("{:.1} %", *used as f64 * 100.0 / quota.max(1) as f64)) }
                        }
                    }
                }
            }
        }
    };
    layout::page(console, ctx, "Verification service", "/verify", body)
}
