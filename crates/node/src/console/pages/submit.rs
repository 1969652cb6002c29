//! Submitting a job from its spec (TOML, as `indomain job submit` reads
//! it): parsed and checked against this node's configuration exactly as
//! `job submit` does, before anything is proposed; a problem is shown at
//! its line. A valid spec goes to the node through the control socket's
//! request, and the browser is sent to the job's page.

use super::layout::{self, job_href};
use crate::console::Console;
use crate::console::http::Resp;
use crate::console::routes::Ctx;
use crate::control::{Request, Response};
use crate::error::NodeError;
use crate::jobspec::JobSpec;
use crate::state::JobKey;
use maud::html;
use std::path::Path;

/// What the form starts with.
const EXAMPLE: &str = r#"# A job spec, as `indomain job submit` reads it (docs/operations.md).
protocol = "psi-cardinality"
purpose = "customer overlap"

[[parties]]
name = "THIS-NODE"
dataset = "DATASET"
columns = ["id"]

[[parties]]
name = "PEER"
dataset = "THEIR-DATASET"
columns = ["id"]

[[outputs]]
name = "cardinality"
receiver = "THIS-NODE"
"#;

/// A problem with the spec, and its line.
struct Problem {
    line: Option<usize>,
    message: String,
}

fn render(
    console: &Console,
    ctx: &Ctx<'_>,
    text: &str,
    problem: Option<&Problem>,
    status: u16,
) -> Resp {
    let bad_line = problem.and_then(|p| p.line);
    let body = html! {
        @if let Some(p) = problem {
            div.error #spec-error {
                @if let Some(line) = p.line { "Line " (line) ": " }
                (p.message)
            }
            ol.spec-lines #spec-lines {
                @for (i, line) in text.lines().enumerate() {
                    li class=[(bad_line == Some(i + 1)).then_some("bad")] data-line=(i + 1) { code { (line) " " } }
                }
            }
        }
        form method="post" action="/submit" {
            input type="hidden" name="csrf" value=(ctx.csrf());
            label for="spec" { "Job spec (TOML)" }
            textarea #spec name="spec" rows="24" cols="90" spellcheck="false" { (text) }
            button #submit type="submit" { "Check and propose" }
        }
        p.hint { "The spec is checked here first (every field, the parties, this node's datasets and columns); only a valid spec is proposed to the other parties, who each check it against their own policy." }
    };
    let mut r = layout::page(console, ctx, "Submit a job", "/submit", body);
    r.status = status;
    r
}

/// `GET /submit`.
pub fn form(console: &Console, ctx: &Ctx<'_>) -> Resp {
    let name = &console.view().config().name;
    let text = EXAMPLE.replace("THIS-NODE", name);
    render(console, ctx, &text, None, 200)
}

/// `POST /submit`.
pub fn submit(console: &Console, ctx: &Ctx<'_>) -> Resp {
    let text = ctx
        .req
        .form("spec")
        .unwrap_or_default()
        .replace("\r\n", "\n");
    let config = console.view().config();
    let spec = match JobSpec::from_toml(Path::new("spec"), &text, Some(&config.known())) {
        Ok(spec) => spec,
        Err(e) => {
            let problem = match e {
                NodeError::JobSpec { at, reason } => Problem {
                    line: at.line,
                    message: reason,
                },
                other => Problem {
                    line: None,
                    message: other.to_string(),
                },
            };
            return render(console, ctx, &text, Some(&problem), 422);
        }
    };
    match console.view().control(Request::Submit {
        spec,
        wait_secs: None,
    }) {
        Response::Job(s) => Resp::redirect(&job_href(&JobKey::new(&s.proposer, &s.job_id))),
        Response::Error { message } => {
            let problem = Problem {
                line: None,
                message,
            };
            render(console, ctx, &text, Some(&problem), 422)
        }
        _ => render(
            console,
            ctx,
            &text,
            Some(&Problem {
                line: None,
                message: "the node gave an unexpected answer".into(),
            }),
            500,
        ),
    }
}
