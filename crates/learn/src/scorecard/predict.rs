//! Joint scoring of new rows with a scorecard, at one party: the cards
//! checked to be of one job, rows aligned by PSI join, each party's rows
//! binned by its own card, the scores to the label holder only, and the
//! population stability index of every party's features (at its owner)
//! and of the score (at the label holder).

use super::model::ScorecardFile;
use super::score;
use crate::align::{Roles, align};
use crate::binning::{BinIndex, RawTable};
use crate::model::PartyRole;
use crate::woe::Mode;
use crate::{LearnError, agree, vertical};
use indomain_mpc::Shared;
use indomain_net::PartySet;
use indomain_net::wire::{recv_msg, send_msg};
use ndarray::Array2;
use rand::{CryptoRng, Rng};

/// What a party ends joint scorecard scoring with.
#[derive(Debug, Clone, Default)]
pub struct Predicted {
    /// The ids of the scored rows (every data party's, in the common
    /// order) and, at the label holder, their scores.
    pub ids: Vec<String>,
    /// The scores, at the label holder.
    pub scores: Option<Vec<f64>>,
    /// The stability index of each of this party's card features between
    /// its training rows and these rows.
    pub stability: Vec<(String, f64)>,
    /// The stability index of the score, at the label holder.
    pub score_stability: Option<f64>,
}

/// Scores new rows with a scorecard: every data party passes its
/// scorecard file and rows (the card's features, raw), the dealer neither.
/// The label holder's hash of the card's job is checked by every party;
/// rows are aligned by PSI join; only the label holder learns the scores.
/// Each owner computes its features' stability index alone; the label
/// holder the score's.
pub fn predict<R: Rng + CryptoRng + ?Sized>(
    parties: &mut PartySet,
    roles: &Roles,
    card: Option<(&ScorecardFile, &str)>,
    table: Result<Option<&RawTable>, LearnError>,
    rng: &mut R,
) -> Result<Predicted, LearnError> {
    roles.check(parties.len())?;
    let me = parties.me();
    let is_label = me == roles.label;
    let mut order = Ok(());
    if let Some((c, name)) = card {
        // The data parties in the card's rank order: the label holder, then
        // the feature holders in set order, by name.
        let data: Vec<&str> = std::iter::once(roles.label)
            .chain(roles.features.iter().copied())
            .map(|i| parties.name(i))
            .collect();
        let label = c.job.parties.iter().filter(|p| p.role == PartyRole::Label);
        let owners = c
            .job
            .parties
            .iter()
            .filter(|p| p.role == PartyRole::Feature);
        let trained: Vec<&str> = label.chain(owners).map(|p| p.name.as_str()).collect();
        if data != trained {
            order = Err(LearnError::Model {
                file: name.to_string(),
                reason: format!(
                    "its job's data parties are {}, this job's {}: give the same parties and roles",
                    trained.join(", "),
                    data.join(", ")
                ),
            });
        }
    }
    let hash = if is_label {
        let (c, _) =
            card.ok_or_else(|| LearnError::Params("the label holder needs its scorecard".into()))?;
        for i in parties.others().collect::<Vec<_>>() {
            send_msg(parties.channel(i)?, &(c.job_hash.clone(), c.job.mode))?;
        }
        (c.job_hash.clone(), c.job.mode)
    } else {
        recv_msg::<(String, Mode)>(parties.channel(roles.label)?)?
    };
    let same = order.and(match card {
        Some((c, name)) if c.job_hash != hash.0 => Err(LearnError::Model {
            file: name.to_string(),
            reason: format!(
                "it is the scorecard of job {}, the label holder's is of job {}; give every party its scorecard of the same job",
                c.job_hash, hash.0
            ),
        }),
        None if roles.dealer != Some(me) => Err(LearnError::Params(
            "a data party needs its scorecard".into(),
        )),
        _ => Ok(()),
    });
    agree::all_ready(parties, same)?;
    let table = agree::all_ready(
        parties,
        table.and_then(|t| {
            if let (Some(t), Some((c, _))) = (t, card) {
                let names: Vec<String> = c.features.iter().map(|f| f.bins.name.clone()).collect();
                crate::data::check_features(&names, &t.feature_names, &t.source)?;
            }
            Ok(t)
        }),
    )?;
    let ids: &[String] = table.map_or(&[], |t| &t.ids);
    let (_, rows) = align(parties, roles, ids, 1, rng)?;
    let mut out = Predicted::default();
    let binned = table
        .zip(rows.as_ref())
        .zip(card)
        .map(|((t, rows), (c, _))| {
            let aligned = t.select(rows);
            c.features
                .iter()
                .zip(&aligned.columns)
                .map(|(f, col)| f.bins.assign(col, &t.source, &aligned.lines))
                .collect::<Result<Vec<BinIndex>, _>>()
                .map(|idx| (idx, aligned.ids))
        })
        .transpose();
    let binned = agree::all_ready(parties, binned)?;
    let Some(((index, ids), (card, _))) = binned.zip(card) else {
        // The dealer deals for the scoring (default and strict modes).
        if hash.1 != Mode::OwnerTransform {
            score::score(parties, roles, &[], &[], &[], &Shared::default(), 16, rng)?;
        } else {
            let empty = Array2::zeros((0, 0));
            vertical::predict(
                parties,
                roles,
                roles.label,
                empty.view(),
                &[],
                None,
                16,
                rng,
            )?;
        }
        return Ok(out);
    };
    let frac_bits = card.job.params.frac_bits;
    let sizes: Vec<usize> = card.features.iter().map(|f| f.bins.bins()).collect();
    let scores = match card.job.mode {
        Mode::OwnerTransform => {
            let x = Array2::from_shape_fn((ids.len(), index.len()), |(r, j)| {
                card.features[j]
                    .woe
                    .as_ref()
                    .map_or(0.0, |w| w[index[j].get(r)])
            });
            let weights: Vec<f64> = card
                .features
                .iter()
                .map(|f| f.weight.unwrap_or(0.0))
                .collect();
            let z = vertical::predict(
                parties,
                roles,
                roles.label,
                x.view(),
                &weights,
                card.intercept,
                frac_bits,
                rng,
            )?;
            z.map(|z| z.iter().map(|&z| card.job.scale.score(z)).collect())
        }
        _ => {
            let shares = Shared(card.points_shares.clone().unwrap_or_default());
            score::score(
                parties,
                roles,
                &index,
                &sizes,
                &card.sizes,
                &shares,
                frac_bits,
                rng,
            )?
        }
    };
    out.stability = card
        .features
        .iter()
        .zip(&index)
        .map(|(f, i)| {
            (
                f.bins.name.clone(),
                crate::stability::index(&f.rows, &i.counts(f.bins.bins())),
            )
        })
        .collect();
    out.score_stability = scores
        .as_ref()
        .zip(card.score_bands.as_ref())
        .map(|(s, b)| b.index(s));
    out.scores = scores;
    out.ids = ids;
    Ok(out)
}
