//! The evaluation figure written beside the label holder's model: the ROC
//! curve, the KS curves (TPR and FPR against the share of rows above the
//! threshold), the loss per epoch and — for a classifier with a
//! calibration report — the reliability curve (observed rate against mean
//! predicted probability by decile, with the diagonal of perfect
//! calibration, and the recalibrated curve if there is one), as one
//! hand-written SVG (a plotting library would be a large dependency for
//! four line charts).

use crate::calibration::{Calibration, CalibrationReport};
use crate::metrics::RocPoint;
use std::fmt::Write;

const PANEL: f64 = 300.0;
const MARGIN: f64 = 40.0;

/// The SVG document for `roc` (from [`crate::metrics::roc`]), the
/// training (and, with a validation split, validation) loss per epoch and,
/// if given, the reliability curve of `calibration`.
pub fn svg(
    title: &str,
    roc: &[RocPoint],
    train_loss: &[f64],
    validation_loss: &[f64],
    calibration: Option<&CalibrationReport>,
) -> String {
    let panels = if calibration.is_some() { 4.0 } else { 3.0 };
    let width = panels * (PANEL + 2.0 * MARGIN);
    let height = PANEL + 2.0 * MARGIN + 30.0;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{}" y="20" text-anchor="middle" font-size="15">{}</text>"#,
        width / 2.0,
        escape(title)
    );
    let auc_ks = |p: &[RocPoint]| p.iter().map(|q| q.tpr - q.fpr).fold(0.0, f64::max);
    // ROC
    let roc_xy: Vec<(f64, f64)> = roc.iter().map(|p| (p.fpr, p.tpr)).collect();
    panel(
        &mut s,
        0,
        "ROC",
        "false-positive rate",
        "true-positive rate",
        (1.0, 1.0),
        &[
            (&[(0.0, 0.0), (1.0, 1.0)], "#bbbbbb", "chance"),
            (&roc_xy, "#1f77b4", "model"),
        ],
    );
    // KS
    let tpr: Vec<(f64, f64)> = roc.iter().map(|p| (p.depth, p.tpr)).collect();
    let fpr: Vec<(f64, f64)> = roc.iter().map(|p| (p.depth, p.fpr)).collect();
    panel(
        &mut s,
        1,
        &format!("KS = {:.3}", auc_ks(roc)),
        "share of rows above threshold",
        "cumulative share",
        (1.0, 1.0),
        &[(&tpr, "#1f77b4", "TPR"), (&fpr, "#d62728", "FPR")],
    );
    // Loss
    let points = |l: &[f64]| -> Vec<(f64, f64)> {
        l.iter()
            .enumerate()
            .map(|(i, v)| ((i + 1) as f64, *v))
            .collect()
    };
    let top = train_loss
        .iter()
        .chain(validation_loss)
        .copied()
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max)
        .max(1e-9);
    let epochs = train_loss.len().max(validation_loss.len()).max(1) as f64;
    panel(
        &mut s,
        2,
        "loss per epoch",
        "epoch",
        "loss",
        (epochs, top),
        &[
            (&points(train_loss), "#1f77b4", "training"),
            (&points(validation_loss), "#ff7f0e", "validation"),
        ],
    );
    if let Some(c) = calibration {
        let curve = |c: &Calibration| -> Vec<(f64, f64)> {
            c.bins.iter().map(|b| (b.predicted, b.observed)).collect()
        };
        let model = curve(&c.held_out);
        let recalibrated = c.recalibrated.as_ref().map(|r| curve(&r.held_out));
        let model_label = format!("model, ECE {:.4}", c.held_out.ece);
        let recal_label = c.recalibrated.as_ref().map_or(String::new(), |r| {
            format!("recalibrated, ECE {:.4}", r.held_out.ece)
        });
        let mut series: Vec<Series> = vec![
            (&[(0.0, 0.0), (1.0, 1.0)], "#bbbbbb", "perfect"),
            (&model, "#1f77b4", &model_label),
        ];
        if let Some(r) = &recalibrated {
            series.push((r, "#2ca02c", &recal_label));
        }
        panel(
            &mut s,
            3,
            "reliability by decile",
            "mean predicted probability",
            "observed rate",
            (1.0, 1.0),
            &series,
        );
    }
    s.push_str("</svg>\n");
    s
}

/// Points, colour and legend label of one line.
type Series<'a> = (&'a [(f64, f64)], &'a str, &'a str);

/// One panel at column `col` with axes from 0 to `max` and its series.
fn panel(
    s: &mut String,
    col: usize,
    title: &str,
    xl: &str,
    yl: &str,
    max: (f64, f64),
    series: &[Series],
) {
    let x0 = col as f64 * (PANEL + 2.0 * MARGIN) + MARGIN;
    let y0 = 30.0 + MARGIN;
    let _ = writeln!(
        s,
        r#"<g><rect x="{x0}" y="{y0}" width="{PANEL}" height="{PANEL}" fill="none" stroke="black"/>"#
    );
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
        x0 + PANEL / 2.0,
        y0 - 8.0,
        escape(title)
    );
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
        x0 + PANEL / 2.0,
        y0 + PANEL + 28.0,
        escape(xl)
    );
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle" transform="rotate(-90 {} {})">{}</text>"#,
        x0 - 26.0,
        y0 + PANEL / 2.0,
        x0 - 26.0,
        y0 + PANEL / 2.0,
        escape(yl)
    );
    for (label, x, anchor) in [("0", x0, "start"), (&fmt_tick(max.0), x0 + PANEL, "end")] {
        let _ = writeln!(
            s,
            r#"<text x="{x}" y="{}" text-anchor="{anchor}">{label}</text>"#,
            y0 + PANEL + 14.0
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="end">{}</text>"#,
        x0 - 4.0,
        y0 + 10.0,
        fmt_tick(max.1)
    );
    for (k, (points, colour, label)) in series.iter().enumerate() {
        if points.is_empty() {
            continue;
        }
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" fill="{colour}">{}</text>"#,
            x0 + 8.0,
            y0 + 16.0 + 14.0 * k as f64,
            escape(label)
        );
        let path: Vec<String> = points
            .iter()
            .map(|(x, y)| {
                format!(
                    "{:.1},{:.1}",
                    x0 + (x / max.0).clamp(0.0, 1.0) * PANEL,
                    y0 + PANEL - (y / max.1).clamp(0.0, 1.0) * PANEL
                )
            })
            .collect();
        let _ = writeln!(
            s,
            r#"<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{}"/>"#,
            path.join(" ")
        );
    }
    s.push_str("</g>\n");
}

fn fmt_tick(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.3}")
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::roc;

    #[test]
    fn draws_three_panels_with_every_series() {
        let r = roc(&[0.1, 0.4, 0.35, 0.8], &[0.0, 0.0, 1.0, 1.0]);
        let doc = svg(
            "bank <model>",
            &r,
            &[0.7, 0.6, 0.55],
            &[0.72, 0.65, 0.6],
            None,
        );
        assert!(doc.starts_with("<svg") && doc.trim_end().ends_with("</svg>"));
        // diagonal + ROC, TPR + FPR, train + validation loss
        assert_eq!(doc.matches("<polyline").count(), 6);
        assert!(doc.contains("bank &lt;model&gt;"));
        assert!(doc.contains("KS = 0.500"));
        // With a calibration report: a fourth panel, diagonal + curve.
        let report = CalibrationReport::new(&[-1.0, 0.5, 0.2, 2.0], &[0.0, 0.0, 1.0, 1.0], None);
        let doc = svg("m", &r, &[0.7], &[], Some(&report));
        assert_eq!(doc.matches("<polyline").count(), 7);
        assert!(doc.contains("reliability by decile") && doc.contains("ECE"));
    }
}
