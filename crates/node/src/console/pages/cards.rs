//! The binning reports and scorecards this node holds, beside its models:
//! files of kind `binning` (written by `indomain bin`,
//! [`indomain_learn::woe::file::BinningFile`]) and `scorecard` (by
//! `indomain train --scorecard`,
//! [`indomain_learn::scorecard::model::ScorecardFile`]) under
//! `results/<dir>/<dir>/` beside the audit log. A binning report shows the
//! IV ranking this party learned and, for every feature whose WOE it may
//! see, the WOE/IV chart the engine draws
//! ([`indomain_learn::woe::chart::feature_svg`]); a scorecard its points
//! table (what this party may read of it) and held-out metrics. Only this
//! node's own files are read: a peer's part of a card is never here.

use super::layout::{self, t};
use crate::console::Console;
use crate::console::http::{Resp, encode};
use crate::console::routes::Ctx;
use crate::state::JobKey;
use indomain_learn::scorecard::model::ScorecardFile;
use indomain_learn::woe::chart::feature_svg;
use indomain_learn::woe::file::{BinningFile, strength};
use maud::{Markup, PreEscaped, html};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The largest binning or scorecard file read.
const MAX_CARD_BYTES: u64 = 64 << 20;

/// What a file under `results/` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A binning file (IV report, WOE per bin).
    Binning,
    /// A scorecard model file.
    Scorecard,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Binning => "binning report",
            Kind::Scorecard => "scorecard",
        }
    }
}

/// One such file: the directory's job key, its name, its kind.
pub struct Card {
    /// `results/<proposer>/<id>/` as a job key.
    pub key: JobKey,
    /// The file's name.
    pub file: String,
    /// Its path.
    pub path: PathBuf,
    /// Its kind.
    pub kind: Kind,
}

impl Card {
    fn href(&self) -> String {
        format!(
            "/models/{}/{}/{}",
            encode(&self.key.proposer),
            encode(&self.key.id),
            encode(&self.file)
        )
    }
}

/// The `kind` a JSON file says it is, if it is small enough to read.
fn kind_of(path: &Path) -> Option<Kind> {
    #[derive(Deserialize)]
    struct Head {
        kind: Option<String>,
    }
    if std::fs::metadata(path).ok()?.len() > MAX_CARD_BYTES {
        return None;
    }
    let text = std::fs::read(path).ok()?;
    match serde_json::from_slice::<Head>(&text).ok()?.kind.as_deref() {
        Some("binning") => Some(Kind::Binning),
        Some("scorecard") => Some(Kind::Scorecard),
        _ => None,
    }
}

/// Every binning and scorecard file under `results/<a>/<b>/`.
pub fn cards(results: &Path) -> Vec<Card> {
    let entries = |p: &Path| {
        let mut v: Vec<(String, PathBuf, bool)> = std::fs::read_dir(p)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let dir = e.file_type().ok()?.is_dir();
                Some((e.file_name().into_string().ok()?, e.path(), dir))
            })
            .collect();
        v.sort();
        v
    };
    let mut found = Vec::new();
    for (proposer, p, dir) in entries(results) {
        if !dir {
            continue;
        }
        for (id, j, dir) in entries(&p) {
            if !dir {
                continue;
            }
            for (file, path, dir) in entries(&j) {
                if dir || !file.ends_with(".json") || file == "model.json" {
                    continue;
                }
                if let Some(kind) = kind_of(&path) {
                    found.push(Card {
                        key: JobKey::new(&proposer, &id),
                        file,
                        path,
                        kind,
                    });
                }
            }
        }
    }
    found
}

/// The list's section of binning reports and scorecards.
pub fn list(results: &Path) -> Markup {
    let found = cards(results);
    html! {
        section #cards {
            h2 { "Binning reports and scorecards" }
            @if found.is_empty() {
                p { "None: " code { "indomain bin" } " and " code { "indomain train --scorecard" } " write them; kept under " code { "results/<dir>/<dir>/" } " beside the audit log, they show here." }
            } @else {
                table {
                    thead { tr { th { "File" } th { "Kind" } th { "Directory" } } }
                    tbody {
                        @for c in &found {
                            tr data-kind=(c.kind.name()) {
                                td { a href=(c.href()) { (t(&c.file)) } }
                                td { (c.kind.name()) }
                                td { (t(&c.key.to_string())) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A binning report: the IV ranking and the WOE/IV charts.
pub fn binning(b: &BinningFile) -> Markup {
    // The features whose WOE this party may see (its own, and at the
    // label holder the owners' where the mode lets it), drawn as
    // `indomain bin` draws them.
    let charts: Vec<(String, f64, String)> = b
        .features
        .iter()
        .filter_map(|f| {
            let woe = f.woe.as_ref()?;
            let rate = f.events.as_ref().map(|e| {
                e.iter()
                    .zip(&f.rows)
                    .map(|(&e, &r)| if r == 0 { 0.0 } else { e as f64 / r as f64 })
                    .collect::<Vec<f64>>()
            });
            let svg = feature_svg(&f.bins.name, &f.labels, &f.rows, rate.as_deref(), woe, f.iv);
            Some((f.bins.name.clone(), f.iv, svg))
        })
        .chain(b.foreign.iter().filter_map(|f| {
            // An owner's feature as the label holder knows it: anonymous
            // bins, in the owner's order.
            let (woe, e, n) = (f.woe.as_ref()?, f.events.as_ref()?, f.non_events.as_ref()?);
            let rows: Vec<u64> = e.iter().zip(n).map(|(a, b)| a + b).collect();
            let rate: Vec<f64> = e
                .iter()
                .zip(&rows)
                .map(|(&e, &r)| if r == 0 { 0.0 } else { e as f64 / r as f64 })
                .collect();
            let labels: Vec<String> = (1..=f.bins).map(|i| format!("bin {i}")).collect();
            let title = format!("{}: {}", f.party, f.name);
            let svg = feature_svg(&title, &labels, &rows, Some(&rate), woe, f.iv);
            Some((title, f.iv, svg))
        }))
        .collect();
    html! {
        section #iv-ranking {
            h2 { "IV ranking" }
            p.hint { "Every feature whose IV " (t(&b.party)) " learned in this binning job (" (b.mode().name()) " mode), highest first." }
            table {
                thead { tr { th { "#" } th { "Party" } th { "Feature" } th { "IV" } th { "Reading" } } }
                tbody {
                    @for (i, l) in b.iv_ranking().iter().enumerate() {
                        tr data-feature=(t(&l.feature)) {
                            td { (i + 1) }
                            td { (t(&l.party)) }
                            td { (t(&l.feature)) }
                            td.iv { (format!("{:.4}", l.iv)) }
                            td { (strength(l.iv)) }
                        }
                    }
                }
            }
        }
        section #woe-charts {
            h2 { "WOE and IV per feature" }
            @if charts.is_empty() { p { "This party may not see the WOE of any feature in this mode: no chart." } }
            @for (name, iv, svg) in &charts {
                figure.woe {
                    // Drawn by the engine (learn::woe::chart), every label escaped there.
                    (PreEscaped(svg))
                    figcaption { (t(name)) ": share of rows per bin, bad rate, WOE; IV " (format!("{iv:.4}")) }
                }
            }
        }
    }
}

/// A scorecard: its points table and held-out metrics.
pub fn scorecard(s: &ScorecardFile) -> Markup {
    let rows = s.points_rows();
    let scale = &s.job.scale;
    html! {
        section #points {
            h2 { "Points table" }
            p.hint { "Base score " (scale.base_score) " at odds " (scale.base_odds) ":1, " (scale.pdo) " points to double the odds; what " (t(&s.party)) " may read of the card (" (s.job.mode.name()) " mode)." }
            @if rows.is_empty() {
                p { "This party may read no points of this card (its share of them is kept for joint scoring)." }
            } @else {
                table {
                    thead { tr { th { "Party" } th { "Feature" } th { "Bin" } th { "WOE" } th { "Points" } } }
                    tbody {
                        @for r in &rows {
                            tr { td { (t(&r.party)) } td { (t(&r.feature)) } td { (t(&r.bin)) } td { (format!("{:.4}", r.woe)) } td.points { (format!("{:.2}", r.points)) } }
                        }
                    }
                }
            }
            @if let Some(b) = s.intercept { p { "Intercept " (format!("{b:.6}")) } }
        }
        @if let Some(e) = &s.evaluation {
            section {
                h2 { "Held-out evaluation" }
                p.metrics {
                    span.metric { "AUC " strong.auc { (format!("{:.4}", e.auc)) } }
                    span.metric { "KS " strong { (format!("{:.4}", e.ks)) } }
                }
            }
        }
    }
}

/// `GET /models/{proposer}/{id}/{file}`.
pub fn page(console: &Console, ctx: &Ctx<'_>) -> Resp {
    let [proposer, id, file] = ctx.params.as_slice() else {
        return layout::refused(404, "No such file", "");
    };
    let key = JobKey::new(proposer, id);
    let results = super::models::results_dir(console);
    let Some(card) = cards(&results)
        .into_iter()
        .find(|c| c.key == key && &c.file == file)
    else {
        return layout::refused(
            404,
            "No such file",
            "This node holds no binning report or scorecard of that name there.",
        );
    };
    let (title, body) = match card.kind {
        Kind::Binning => match BinningFile::load(&card.path) {
            Ok(b) => (
                format!("Binning report {} — {}", t(file), t(&b.party)),
                facts(
                    &card,
                    &b.job_hash,
                    &b.party,
                    b.rows.train,
                    b.rows.test,
                    &b.written_by,
                    binning(&b),
                ),
            ),
            Err(e) => {
                return layout::refused(500, "The binning file cannot be read", &t(&e.to_string()));
            }
        },
        Kind::Scorecard => match ScorecardFile::load(&card.path) {
            Ok(s) => (
                format!("Scorecard {} — {}", t(file), t(&s.party)),
                facts(
                    &card,
                    &s.job_hash,
                    &s.party,
                    s.rows.train,
                    s.rows.test,
                    &s.written_by,
                    scorecard(&s),
                ),
            ),
            Err(e) => {
                return layout::refused(
                    500,
                    "The scorecard file cannot be read",
                    &t(&e.to_string()),
                );
            }
        },
    };
    layout::page(console, ctx, &title, "/models", body)
}

fn facts(
    card: &Card,
    job_hash: &str,
    party: &str,
    train: usize,
    test: usize,
    written_by: &str,
    body: Markup,
) -> Markup {
    html! {
        (body)
        section {
            h2 { "Where it came from" }
            table.facts {
                tr { th { "Job hash" } td.mono { (t(job_hash)) } }
                tr { th { "Party" } td { (t(party)) } }
                tr { th { "Rows" } td { (train) " binned or trained on, " (test) " held out" } }
                tr { th { "File" } td.mono { (card.path.display()) } }
                tr { th { "Written by" } td { (t(written_by)) } }
            }
        }
    }
}
