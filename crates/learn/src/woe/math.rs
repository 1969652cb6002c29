//! WOE and IV in the clear: the label holder's own features, the default
//! mode's view of the owners' bins, and the tests' reference.
//!
//! For bin i of K with e_i events (label 1) and n_i non-events, with the
//! smoothing α = [`SMOOTHING`] added to every bin's events and non-events
//! (so that an empty bin has a finite WOE; Haldane–Anscombe's 1/2):
//!
//! - p_i = (e_i + α) / (E + Kα), q_i = (n_i + α) / (N + Kα), where E = Σ e_i
//!   and N = Σ n_i; both sum to 1 over the bins;
//! - WOE_i = ln(p_i / q_i);
//! - IV = Σ_i (p_i − q_i) · WOE_i (≥ 0).

/// What is added to every bin's events and non-events.
pub const SMOOTHING: f64 = 0.5;

/// The WOE of each bin and the feature's IV.
#[derive(Debug, Clone, PartialEq)]
pub struct WoeIv {
    /// WOE of each bin.
    pub woe: Vec<f64>,
    /// Information value of the feature.
    pub iv: f64,
}

/// WOE and IV from each bin's events and non-events (see the module
/// documentation for the smoothing).
pub fn woe_iv(events: &[u64], non_events: &[u64]) -> WoeIv {
    let k = events.len() as f64;
    let e_total = events.iter().sum::<u64>() as f64 + k * SMOOTHING;
    let n_total = non_events.iter().sum::<u64>() as f64 + k * SMOOTHING;
    let mut iv = 0.0;
    let woe = events
        .iter()
        .zip(non_events)
        .map(|(&e, &n)| {
            let p = (e as f64 + SMOOTHING) / e_total;
            let q = (n as f64 + SMOOTHING) / n_total;
            let w = (p / q).ln();
            iv += (p - q) * w;
            w
        })
        .collect();
    WoeIv { woe, iv }
}

/// Events and non-events per bin of a feature with `bins` bins, from each
/// row's bin and 0/1 label.
pub fn bin_counts(index: &[u16], labels: &[f64], bins: usize) -> (Vec<u64>, Vec<u64>) {
    let mut events = vec![0u64; bins];
    let mut non_events = vec![0u64; bins];
    for (&b, &y) in index.iter().zip(labels) {
        if y > 0.5 {
            events[b as usize] += 1;
        } else {
            non_events[b as usize] += 1;
        }
    }
    (events, non_events)
}

/// One step of merging value bins that lack events: among the value bins
/// whose flag is false (fewer than the minimum events or non-events), the
/// one with the fewest rows (the first on a tie) joins its neighbour with
/// fewer rows (the left one on a tie). `None` when every flag holds or
/// only one value bin is left. The owner runs this on its row counts and
/// the flags it is given, then the flags of the merged bins are computed
/// again.
pub fn merge_lacking(ok: &[bool], rows: &[u64]) -> Option<Vec<std::ops::Range<usize>>> {
    let n = ok.len();
    if n < 2 {
        return None;
    }
    let worst = (0..n).filter(|&i| !ok[i]).min_by_key(|&i| (rows[i], i))?;
    let with = match (worst.checked_sub(1), (worst + 1 < n).then_some(worst + 1)) {
        (Some(l), Some(r)) if rows[r] < rows[l] => r,
        (Some(l), _) => l,
        (None, Some(r)) => r,
        (None, None) => return None,
    };
    let lo = worst.min(with);
    Some(
        (0..n)
            .filter(|&i| i != lo + 1)
            .map(|i| if i == lo { lo..lo + 2 } else { i..i + 1 })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn woe_and_iv_by_hand() {
        // Two bins: 10/90 and 30/70 (E = 40, N = 160), smoothed by 1/2.
        let r = woe_iv(&[10, 30], &[90, 70]);
        let p: [f64; 2] = [10.5 / 41.0, 30.5 / 41.0];
        let q: [f64; 2] = [90.5 / 161.0, 70.5 / 161.0];
        for i in 0..2 {
            assert!((r.woe[i] - (p[i] / q[i]).ln()).abs() < 1e-12);
        }
        let iv: f64 = (0..2).map(|i| (p[i] - q[i]) * (p[i] / q[i]).ln()).sum();
        assert!((r.iv - iv).abs() < 1e-12);
        // A bin without events has a finite WOE.
        let z = woe_iv(&[0, 5], &[10, 10]);
        assert!(z.woe[0].is_finite() && z.woe[0] < 0.0 && z.iv > 0.0);
        // A feature unrelated to the label has IV 0.
        assert!(woe_iv(&[10, 10], &[30, 30]).iv.abs() < 1e-15);
    }

    #[test]
    fn counts_and_merging_bins_without_events() {
        let (e, n) = bin_counts(&[0, 1, 1, 2, 2, 2], &[1.0, 0.0, 1.0, 0.0, 0.0, 1.0], 3);
        assert_eq!((e, n), (vec![1, 1, 1], vec![0, 1, 2]));
        assert_eq!(merge_lacking(&[true, true, true], &[5, 5, 5]), None);
        assert_eq!(
            merge_lacking(&[true, false, true], &[5, 2, 3]),
            Some(vec![0..1, 1..3])
        );
        assert_eq!(
            merge_lacking(&[false, true, false], &[4, 9, 4]),
            Some(vec![0..2, 2..3])
        );
        assert_eq!(merge_lacking(&[false], &[4]), None);
    }
}
