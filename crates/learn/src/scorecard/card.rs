//! Assembling a party's scorecard file after training: the WOE shares
//! the training starts from, and the file with what this party may read.

use super::model::{CardFeature, ForeignCard, SCORECARD_FORMAT, ScorecardFile, ScorecardJob};
use super::points::Scale;
use crate::LearnError;
use crate::metrics;
use crate::model::{PartyRole, Rows};
use crate::stability::ScoreBands;
use crate::woe::Mode;
use crate::woe::file::BinningFile;
use indomain_core::FixedPoint;
use indomain_mpc::Shared;

/// What the training gave a party, whichever the mode.
pub(super) struct Trained {
    pub(super) intercept: Option<f64>,
    pub(super) own_weights: Vec<f64>,
    pub(super) all_weights: Option<Vec<f64>>,
    /// Points the label holder may read, in card order.
    pub(super) points: Option<Vec<f64>>,
    pub(super) points_shares: Option<Vec<u64>>,
    pub(super) sizes: Vec<Vec<usize>>,
    pub(super) test_scores: Option<Vec<f64>>,
    pub(super) train_scores: Option<Vec<f64>>,
    pub(super) loss: Vec<f64>,
}

/// This party's share of the WOE of every card bin (rank order): the
/// label holder holds every WOE it knows in the clear (the others zeros);
/// in the strict mode the owners' bins come from the binning job's shares.
pub(super) fn woe_shares(
    file: &BinningFile,
    kept: &[Vec<bool>],
    rank: usize,
    fp: FixedPoint,
    frac_bits: u32,
) -> Result<Shared, LearnError> {
    let mut out = Vec::new();
    // The label holder's own features.
    for (f, &k) in kept[0].iter().enumerate() {
        let bins = file.sizes[0][f];
        if !k {
            continue;
        }
        match (rank, file.features.get(f).and_then(|x| x.woe.as_ref())) {
            (0, Some(w)) => out.extend(fp.encode_slice(w)?),
            _ => out.extend(std::iter::repeat_n(0, bins)),
        }
    }
    let strict_shares = file.woe_shares.as_deref();
    if strict_shares.is_some() && file.job.settings.frac_bits != frac_bits {
        return Err(LearnError::Params(format!(
            "the strict binning job used {} fractional bits: train with --frac-bits {}",
            file.job.settings.frac_bits, file.job.settings.frac_bits
        )));
    }
    let mut at = 0;
    let mut foreign = file.foreign.iter();
    for (r, features) in kept.iter().enumerate().skip(1) {
        for (f, &k) in features.iter().enumerate() {
            let bins = file.sizes[r][f];
            let theirs = if rank == 0 { foreign.next() } else { None };
            if k {
                match (strict_shares, theirs.and_then(|t| t.woe.as_ref())) {
                    (Some(s), _) => out.extend_from_slice(&s[at..at + bins]),
                    (None, Some(w)) => out.extend(fp.encode_slice(w)?),
                    (None, None) => out.extend(std::iter::repeat_n(0, bins)),
                }
            }
            at += bins;
        }
    }
    Ok(Shared(out))
}

/// The party's scorecard file.
#[allow(clippy::too_many_arguments)]
pub(super) fn card_file(
    job: &ScorecardJob,
    file: &BinningFile,
    own_f: &[usize],
    kept: &[Vec<bool>],
    is_label: bool,
    t: Trained,
    evaluation: metrics::Classification,
    parts: &crate::data::Split,
    party: &str,
) -> ScorecardFile {
    let m = kept.iter().flatten().filter(|&&k| k).count();
    let scale: Scale = job.scale;
    let intercept = t.intercept.unwrap_or(0.0);
    // Points the label holder reads, per card feature in card order.
    let mut readable: Vec<Option<Vec<f64>>> = Vec::new();
    let kept_sizes: Vec<usize> = kept
        .iter()
        .enumerate()
        .flat_map(|(r, k)| {
            k.iter()
                .enumerate()
                .filter(|(_, k)| **k)
                .map(move |(f, _)| file.sizes[r][f])
        })
        .collect();
    if is_label {
        let weights = t
            .all_weights
            .clone()
            .unwrap_or_else(|| t.own_weights.clone());
        let mut at = 0;
        let own_count = kept[0].iter().filter(|&&k| k).count();
        // WOE of every card feature the label holder knows, card order.
        let mut woe: Vec<Option<Vec<f64>>> = own_f
            .iter()
            .map(|&f| file.features[f].woe.clone())
            .collect();
        let mut foreign = file.foreign.iter();
        for k in kept.iter().skip(1) {
            for &kf in k {
                let f = foreign.next();
                if kf {
                    woe.push(f.and_then(|f| f.woe.clone()));
                }
            }
        }
        for (j, &size) in kept_sizes.iter().enumerate() {
            let from_shares = t
                .points
                .as_ref()
                .and_then(|p| p.get(at..at + size))
                .map(<[f64]>::to_vec);
            let computed = match (weights.get(j), woe.get(j).cloned().flatten()) {
                (Some(&w), Some(wv)) if j < own_count || t.all_weights.is_some() => {
                    Some(scale.points(w, &wv, intercept, m))
                }
                _ => None,
            };
            readable.push(from_shares.or(computed));
            at += size;
        }
    }
    let label_weights = t
        .all_weights
        .clone()
        .unwrap_or_else(|| t.own_weights.clone());
    let features: Vec<CardFeature> = own_f
        .iter()
        .enumerate()
        .map(|(j, &f)| {
            let src = &file.features[f];
            let knows = is_label || job.mode == Mode::OwnerTransform;
            CardFeature {
                bins: src.bins.clone(),
                labels: src.labels.clone(),
                rows: src.rows.clone(),
                iv: src.iv,
                woe: if knows { src.woe.clone() } else { None },
                weight: if is_label {
                    label_weights.get(j).copied()
                } else if job.mode == Mode::OwnerTransform {
                    t.own_weights.get(j).copied()
                } else {
                    None
                },
                points: if is_label {
                    readable.get(j).cloned().flatten()
                } else {
                    None
                },
            }
        })
        .collect();
    let mut foreign = Vec::new();
    if is_label {
        let mut j = kept[0].iter().filter(|&&k| k).count();
        let mut src = file.foreign.iter();
        for k in kept.iter().skip(1) {
            for &kf in k {
                let f = src.next();
                if let (true, Some(f)) = (kf, f) {
                    foreign.push(ForeignCard {
                        party: f.party.clone(),
                        name: f.name.clone(),
                        bins: f.bins,
                        iv: f.iv,
                        woe: f.woe.clone(),
                        weight: t.all_weights.as_ref().and_then(|w| w.get(j).copied()),
                        points: readable.get(j).cloned().flatten(),
                    });
                    j += 1;
                }
            }
        }
    }
    let sizes = if t.sizes.is_empty() {
        kept.iter()
            .enumerate()
            .map(|(r, k)| {
                k.iter()
                    .enumerate()
                    .filter(|(_, k)| **k)
                    .map(|(f, _)| file.sizes[r][f])
                    .collect()
            })
            .collect()
    } else {
        t.sizes
    };
    let job = job.clone();
    let correlations = Some(crate::model::trust_record(&job.parties));
    ScorecardFile {
        format: SCORECARD_FORMAT,
        kind: "scorecard".into(),
        job_hash: job.hash(),
        job,
        party: party.to_string(),
        role: if is_label {
            PartyRole::Label
        } else {
            PartyRole::Feature
        },
        rows: Rows {
            train: parts.train.len(),
            test: parts.test.len(),
        },
        features,
        foreign,
        sizes,
        intercept: t.intercept,
        points_shares: t.points_shares,
        evaluation: Some(evaluation),
        score_bands: t.train_scores.as_deref().map(ScoreBands::fit),
        correlations,
        written_by: format!("indomain {}", env!("CARGO_PKG_VERSION")),
    }
}
