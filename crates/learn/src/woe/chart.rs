//! The chart of one feature's bins, as an SVG drawn at a party that may
//! see them: a bar per bin for its share of the rows, with the bin's bad
//! rate (events / rows) written on it where known, and the WOE as a line
//! on a second axis. Hand-written like [`crate::report`].

use std::fmt::Write;

/// The SVG for a feature named `title`: `labels` per bin, the bins'
/// `rows`, their bad rate if known and their WOE.
pub fn feature_svg(
    title: &str,
    labels: &[String],
    rows: &[u64],
    bad_rate: Option<&[f64]>,
    woe: &[f64],
    iv: f64,
) -> String {
    let bins = labels.len().max(1);
    let bar = 60.0;
    let (left, top, plot_h) = (60.0, 50.0, 260.0);
    let width = left * 2.0 + bar * bins as f64;
    let height = top + plot_h + 110.0;
    let total = rows.iter().sum::<u64>().max(1) as f64;
    let max_share = rows
        .iter()
        .map(|&r| r as f64 / total)
        .fold(0.0, f64::max)
        .max(1e-9);
    let (wmin, wmax) = woe
        .iter()
        .fold((0.0f64, 0.0f64), |(a, b), &w| (a.min(w), b.max(w)));
    let span = (wmax - wmin).max(1e-9);
    let woe_y = |w: f64| top + plot_h * (1.0 - (w - wmin) / span);
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="11">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{}" y="22" text-anchor="middle" font-size="14">{} — IV {iv:.4}</text>"#,
        width / 2.0,
        escape(title)
    );
    let _ = writeln!(
        s,
        r##"<text x="{left}" y="40" fill="#1f77b4">bars: share of rows{}</text><text x="{}" y="40" text-anchor="end" fill="#d62728">line: WOE</text>"##,
        if bad_rate.is_some() {
            " (bad rate on top)"
        } else {
            ""
        },
        width - left
    );
    let mut line = Vec::new();
    for (i, label) in labels.iter().enumerate() {
        let x = left + bar * i as f64;
        let share = rows.get(i).copied().unwrap_or(0) as f64 / total;
        let h = plot_h * share / max_share;
        let _ = writeln!(
            s,
            r##"<rect x="{}" y="{}" width="{}" height="{h}" fill="#1f77b4" opacity="0.6"/>"##,
            x + 6.0,
            top + plot_h - h,
            bar - 12.0
        );
        if let Some(rate) = bad_rate.and_then(|r| r.get(i)) {
            let _ = writeln!(
                s,
                r#"<text x="{}" y="{}" text-anchor="middle">{:.1}%</text>"#,
                x + bar / 2.0,
                top + plot_h - h - 4.0,
                rate * 100.0
            );
        }
        let _ = writeln!(
            s,
            r#"<text transform="translate({},{}) rotate(40)" font-size="10">{}</text>"#,
            x + 10.0,
            top + plot_h + 14.0,
            escape(label)
        );
        if let Some(&w) = woe.get(i) {
            line.push(format!("{:.1},{:.1}", x + bar / 2.0, woe_y(w)));
        }
    }
    let _ = writeln!(
        s,
        r##"<polyline points="{}" fill="none" stroke="#d62728" stroke-width="2"/>"##,
        line.join(" ")
    );
    let zero = woe_y(0.0);
    let _ = writeln!(
        s,
        r##"<line x1="{left}" x2="{}" y1="{zero}" y2="{zero}" stroke="#d62728" stroke-dasharray="3,3"/><text x="{}" y="{}" fill="#d62728">WOE 0</text>"##,
        width - left,
        width - left + 4.0,
        zero + 4.0
    );
    let _ = writeln!(s, "</svg>");
    s
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chart_names_its_bins_and_escapes_text() {
        let svg = feature_svg(
            "income <tax>",
            &["[-inf, 3)".into(), "missing".into()],
            &[30, 10],
            Some(&[0.1, 0.4]),
            &[-0.5, 0.9],
            0.21,
        );
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("income &lt;tax&gt; — IV 0.2100"));
        assert!(svg.contains("40.0%") && svg.contains("missing"));
        let without = feature_svg("x", &["a".into()], &[1], None, &[0.0], 0.0);
        assert!(!without.contains("bad rate"));
    }
}
