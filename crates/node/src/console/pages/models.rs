//! The model files this node holds (the `model` outputs of training jobs
//! it received, under `results/<proposer>/<id>/model.json` beside its
//! audit log): each one's metrics, the ROC, KS and loss plots the engine
//! draws ([`indomain_learn::report::svg`]), the contribution report, its
//! features with their weights and standardisation, and the job it came
//! from. Only this node's own part of a model is ever here.

use super::layout::{self, job_href, t};
use crate::console::Console;
use crate::console::http::Resp;
use crate::console::routes::Ctx;
use crate::state::JobKey;
use indomain_learn::metrics::Evaluation;
use indomain_learn::model::ModelFile;
use maud::{Markup, PreEscaped, html};
use std::path::PathBuf;

/// The largest model file read.
const MAX_MODEL_BYTES: u64 = 64 << 20;

fn results_dir(console: &Console) -> PathBuf {
    let log = &console.view().config().audit_log;
    log.parent()
        .unwrap_or(std::path::Path::new("."))
        .join("results")
}

/// Every `results/<proposer>/<id>/model.json`, by job.
fn model_files(console: &Console) -> Vec<(JobKey, PathBuf)> {
    let mut found = Vec::new();
    let dirs = |p: &std::path::Path| {
        std::fs::read_dir(p)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|e| Some((e.file_name().into_string().ok()?, e.path())))
            .collect::<Vec<_>>()
    };
    for (proposer, p) in dirs(&results_dir(console)) {
        for (id, j) in dirs(&p) {
            let file = j.join("model.json");
            if file.is_file() {
                found.push((JobKey::new(&proposer, &id), file));
            }
        }
    }
    found.sort();
    found
}

fn load(path: &std::path::Path) -> Result<ModelFile, Unshown> {
    let size = std::fs::metadata(path).map_err(Unshown::Io)?.len();
    if size > MAX_MODEL_BYTES {
        return Err(Unshown::TooLarge(size));
    }
    let bytes = std::fs::read(path).map_err(Unshown::Io)?;
    serde_json::from_slice(&bytes).map_err(Unshown::NotAModel)
}

/// Why a model file is not shown.
#[derive(Debug, thiserror::Error)]
enum Unshown {
    /// It could not be read.
    #[error("{0}")]
    Io(std::io::Error),
    /// It is larger than the console shows.
    #[error("{0} bytes: too large to show")]
    TooLarge(u64),
    /// It is not a model file.
    #[error("not a model file: {0}")]
    NotAModel(serde_json::Error),
}

fn metrics(e: &Option<Evaluation>) -> Markup {
    html! {
        @match e {
            Some(Evaluation::Classification(c)) => {
                span.metric { "AUC " strong.auc { (format!("{:.4}", c.auc)) } }
                span.metric { "KS " strong { (format!("{:.4}", c.ks)) } }
                span.metric { "accuracy " strong { (format!("{:.4}", c.accuracy)) } }
                span.metric { "log-loss " strong { (format!("{:.4}", c.log_loss)) } }
            }
            Some(Evaluation::Regression(r)) => {
                span.metric { "RMSE " strong { (format!("{:.4}", r.rmse)) } }
                span.metric { "R² " strong { (format!("{:.4}", r.r2)) } }
            }
            None => { "no held-out metrics in this file" }
        }
    }
}

/// `GET /models`.
pub fn list(console: &Console, ctx: &Ctx<'_>) -> Resp {
    let files = model_files(console);
    let body = html! {
        @if files.is_empty() { p { "This node holds no model file yet: a training job that releases a " code { "model" } " to this node writes one." } }
        table.models {
            thead { tr { th { "Job" } th { "Role" } th { "Features" } th { "Held-out metrics" } th { "Rows (train / test)" } } }
            tbody {
                @for (key, path) in &files {
                    @match load(path) {
                        Ok(m) => tr {
                            td { a href=(format!("/models/{}/{}", crate::console::http::encode(&key.proposer), crate::console::http::encode(&key.id))) { (t(&key.to_string())) } }
                            td { (format!("{:?}", m.role).to_lowercase()) }
                            td { (m.features.len()) }
                            td { (metrics(&m.evaluation)) }
                            td { (m.rows.train) " / " (m.rows.test) }
                        },
                        Err(e) => tr.bad { td { (t(&key.to_string())) } td colspan="4" { (t(&e.to_string())) } },
                    }
                }
            }
        }
    };
    layout::page(console, ctx, "Models", "/models", body)
}

/// `GET /models/{proposer}/{id}`.
pub fn page(console: &Console, ctx: &Ctx<'_>) -> Resp {
    let [proposer, id] = ctx.params.as_slice() else {
        return layout::refused(404, "No such model", "");
    };
    let key = JobKey::new(proposer, id);
    let Some((_, path)) = model_files(console).into_iter().find(|(k, _)| *k == key) else {
        return layout::refused(
            404,
            "No such model",
            "This node holds no model file of that job.",
        );
    };
    let m = match load(&path) {
        Ok(m) => m,
        Err(e) => return layout::refused(500, "The model file cannot be read", &t(&e.to_string())),
    };
    let title = format!("{} — job {}", m.party, key);
    let plots = !m.roc.is_empty() || !m.loss_per_epoch.is_empty();
    let body = html! {
        section {
            h2 { "Held-out evaluation" }
            p.metrics { (metrics(&m.evaluation)) }
            @if plots {
                figure #plots {
                    // Drawn by the engine (learn::report), every label escaped there.
                    (PreEscaped(indomain_learn::report::svg(&t(&title), &m.roc, &m.loss_per_epoch, &m.validation_loss_per_epoch, m.calibration.as_ref())))
                    figcaption { @if m.roc.is_empty() { "No ROC curve in this file (only the label holder's file has one)." } @else if m.calibration.is_some() { "ROC, KS, loss per epoch and the reliability curve (held-out rows by decile)." } @else { "ROC, KS and loss per epoch." } }
                }
            }
        }
        @if let Some(c) = &m.contribution {
            section #contribution {
                h2 { "Contribution report" }
                table {
                    thead { tr { th { "Model" } th { "Feature holders" } th { "AUC" } th { "KS" } } }
                    tbody {
                        tr { td { "joint" } td { (t(&c.joint.feature_holders.join(", "))) } td { (format!("{:.4}", c.joint.scores.auc)) } td { (format!("{:.4}", c.joint.scores.ks)) } }
                        tr { td { (t(&c.label_holder)) " alone" } td { "—" } td { (format!("{:.4}", c.label_only.scores.auc)) } td { (format!("{:.4}", c.label_only.scores.ks)) } }
                        @for l in &c.leave_one_out {
                            tr { td { "without " (t(&l.left_out)) } td { (t(&l.entry.feature_holders.join(", "))) } td { (format!("{:.4}", l.entry.scores.auc)) } td { (format!("{:.4}", l.entry.scores.ks)) } }
                        }
                    }
                }
            }
        }
        section #weights {
            h2 { "This party's features and weights" }
            table {
                thead { tr { th { "Feature" } th { "Weight" } th { "Mean" } th { "Std" } } }
                tbody {
                    @for (i, f) in m.features.iter().enumerate() {
                        tr {
                            td { (t(f)) }
                            td { (format!("{:.6}", m.weights.get(i).copied().unwrap_or(f64::NAN))) }
                            td { (m.standardizer.as_ref().and_then(|s| s.mean.get(i)).map(|v| format!("{v:.4}")).unwrap_or_default()) }
                            td { (m.standardizer.as_ref().and_then(|s| s.std.get(i)).map(|v| format!("{v:.4}")).unwrap_or_default()) }
                        }
                    }
                    @if let Some(b) = m.intercept { tr { td { "(intercept)" } td { (format!("{b:.6}")) } td {} td {} } }
                }
            }
        }
        section {
            h2 { "Where it came from" }
            table.facts {
                tr { th { "Job" } td { a href=(job_href(&key)) { (t(&key.to_string())) } } }
                tr { th { "Training job hash" } td.mono { (t(&m.job_hash)) } }
                tr { th { "Role" } td { (format!("{:?}", m.role).to_lowercase()) } }
                tr { th { "Parties" } td { @for p in &m.job.parties { (t(&p.name)) " (" (format!("{:?}", p.role).to_lowercase()) ") " } } }
                tr { th { "Rows" } td { (m.rows.train) " trained on, " (m.rows.test) " held out" } }
                tr { th { "File" } td.mono { (path.display()) } }
                tr { th { "Written by" } td { (t(&m.written_by)) } }
            }
        }
    };
    layout::page(
        console,
        ctx,
        &format!("Model of job {}", t(&key.to_string())),
        "/models",
        body,
    )
}
