//! The frame of every page (navigation, the node's name, the logout
//! form) and small helpers the pages share.

use crate::bounds::{MAX_SHOWN, printable};
use crate::console::Console;
use crate::console::http::{Resp, encode};
use crate::console::routes::Ctx;
use crate::state::JobKey;
use maud::{DOCTYPE, Markup, html};

/// The sections of the navigation: path and label.
const SECTIONS: [(&str, &str); 6] = [
    ("/", "Overview"),
    ("/jobs", "Jobs"),
    ("/submit", "Submit a job"),
    ("/audit", "Audit log"),
    ("/models", "Models"),
    ("/budgets", "DP budgets"),
];

/// A whole page titled `title` with `body`, `current` being the section's
/// path.
pub fn page(console: &Console, ctx: &Ctx<'_>, title: &str, current: &str, body: Markup) -> Resp {
    let name = &console.view().config().name;
    let verify = console.view().config().verify_store.is_some();
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { (title) " — " (name) " — indomain console" }
                link rel="stylesheet" href="/assets/console.css";
                script src="/assets/console.js" defer {}
            }
            body {
                header {
                    span.node { "indomain · " strong { (name) } }
                    nav {
                        @for (path, label) in SECTIONS {
                            a href=(path) class=[(path == current).then_some("current")] { (label) }
                        }
                        @if verify {
                            a href="/verify" class=[("/verify" == current).then_some("current")] { "Verification" }
                        }
                    }
                    form.logout method="post" action="/logout" {
                        input type="hidden" name="csrf" value=(ctx.csrf());
                        button type="submit" { "Log out" }
                    }
                }
                main {
                    h1 { (title) }
                    (body)
                }
            }
        }
    };
    Resp::html(markup)
}

/// A page saying why a request was refused (no navigation: it may be
/// shown without a session).
pub fn refused(status: u16, title: &str, text: &str) -> Resp {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { (title) }
                link rel="stylesheet" href="/assets/console.css";
            }
            body {
                main.refused {
                    h1 { (title) }
                    p { (text) }
                    p { a href="/" { "Back to the console" } }
                }
            }
        }
    };
    let mut r = Resp::html(markup);
    r.status = status;
    r
}

/// Unix milliseconds as `YYYY-MM-DD HH:MM:SS.mmm UTC`.
pub fn when(ms: u64) -> String {
    if ms == 0 {
        return String::new();
    }
    let t = crate::time::format(ms / 1000);
    format!(
        "{}.{:03} UTC",
        t.trim_end_matches('Z').replace('T', " "),
        ms % 1000
    )
}

/// A duration in milliseconds, readable.
pub fn duration(ms: u64) -> String {
    match ms {
        0..1000 => format!("{ms} ms"),
        1000..60_000 => format!("{:.1} s", ms as f64 / 1000.0),
        _ => format!("{} min {} s", ms / 60_000, ms / 1000 % 60),
    }
}

/// A byte count, readable.
pub fn bytes(n: u64) -> String {
    match n {
        0..1024 => format!("{n} B"),
        1024..1_048_576 => format!("{:.1} KiB", n as f64 / 1024.0),
        _ => format!("{:.1} MiB", n as f64 / 1_048_576.0),
    }
}

/// Text a peer or a spec supplied: escaped of control characters and cut
/// (maud escapes it for HTML).
pub fn t(text: &str) -> String {
    printable(text, MAX_SHOWN)
}

/// The path of job `key`'s page.
pub fn job_href(key: &JobKey) -> String {
    format!("/jobs/{}/{}", encode(&key.proposer), encode(&key.id))
}

/// The CSS class of a job state.
pub fn state_class(state: &str) -> &'static str {
    match state {
        "completed" => "state ok",
        "refused" | "failed" | "withdrawn" => "state bad",
        "cancelled" => "state off",
        _ => "state open",
    }
}

/// A job state as a coloured label.
pub fn state_label(state: &str) -> Markup {
    html! { span class=(state_class(state)) data-state=(state) { (state) } }
}
