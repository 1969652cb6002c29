//! Joint scorecard scoring: a row's score is the sum of its bins' points;
//! the points of a feature's bins are shared (or known to the label holder
//! alone), its bins known to its owner alone, and only the label holder
//! learns the scores.
//!
//! Construction: as in training ([`super::train`]), each party's one-hot
//! bin indicators are opened under a mask (one chunk of rows at a time)
//! and multiplied by the shared points: score = I · p, exact (I is
//! integer), then opened to the label holder.
//!
//! What each party learns: the row count and every party's bins per
//! feature (checked against the training's), masked values (uniformly
//! random); the label holder learns the scores. When the label holder
//! also knows the points of an owner's bins (the default mode), a score
//! tells it the sum of that owner's points on the row, and with a single
//! owner feature that is the row's bin under its anonymous id: what the
//! score itself reveals, as it does for any model whose points it can
//! read.

use super::train::one_hot;
use crate::LearnError;
use crate::align::Roles;
use crate::binning::BinIndex;
use crate::woe::layout::Layout;
use indomain_core::FixedPoint;
use indomain_mpc::dealer::{self, DealerLimits};
use indomain_mpc::{Roster, Session, Shared};
use indomain_net::PartySet;
use rand::{CryptoRng, Rng};

/// The label holder's rank: first of the computing parties.
const LEAD: usize = 0;

/// Scores rows jointly; returns the scores at the label holder and `None`
/// elsewhere (`roles` by set index: with a dealer, or two-party with one
/// feature holder and none). Every computing party passes its own features' bins of the
/// same rows, their sizes, the sizes of every party's features in
/// training (to check against), and its share of every bin's points.
#[allow(clippy::too_many_arguments)]
pub fn score<R: Rng + CryptoRng + ?Sized>(
    parties: &mut PartySet,
    roles: &Roles,
    bins: &[BinIndex],
    sizes: &[usize],
    trained_sizes: &[Vec<usize>],
    points: &Shared,
    frac_bits: u32,
    rng: &mut R,
) -> Result<Option<Vec<f64>>, LearnError> {
    let (label, dealer_index, computing) =
        super::train::parties_of(parties, roles, "scoring with a scorecard")?;
    if Some(parties.me()) == dealer_index {
        dealer::serve_ordered(parties, &computing, DealerLimits::default(), rng)?;
        return Ok(None);
    }
    let roster = Roster::ordered(parties, computing.clone(), dealer_index)?;
    let rank = roster.rank();
    let layout = Layout::agree(parties, &computing, sizes)?;
    if layout.sizes != trained_sizes {
        return Err(LearnError::Input(
            "the parties' bins differ from the scorecard's: give every party the model of the same job".into(),
        ));
    }
    if points.len() != layout.total_bins() {
        return Err(LearnError::Input(format!(
            "a points share of {} bins, the scorecard has {}",
            points.len(),
            layout.total_bins()
        )));
    }
    let rows = bins.first().map_or(0, BinIndex::len);
    if bins.iter().any(|b| b.len() != rows) {
        return Err(LearnError::Input(
            "every feature must bin the same rows".into(),
        ));
    }
    let all = indomain_mpc::open::exchange(
        parties,
        &computing,
        vec![if sizes.is_empty() {
            u64::MAX
        } else {
            rows as u64
        }],
        &vec![1; computing.len()],
    )?;
    let mut agreed = (!sizes.is_empty()).then_some(rows);
    for (theirs, &i) in all.iter().zip(&computing) {
        if i == parties.me() || theirs[0] == u64::MAX {
            continue;
        }
        match agreed {
            Some(r) if r as u64 != theirs[0] => {
                return Err(LearnError::Disagreement {
                    peer: parties.name(i).to_string(),
                    what: format!("it scores {} rows, this party {r}", theirs[0]),
                });
            }
            _ => agreed = Some(theirs[0] as usize),
        }
    }
    let rows = agreed.unwrap_or(0);
    let fp = FixedPoint::new(frac_bits)?;
    let client = roles.correlations(&roster, "scoring with a scorecard")?;
    let mut s = Session::new(parties, roster, fp, client);
    // The intercept column of training is not used: the points hold it.
    let widths: Vec<usize> = (0..computing.len()).map(|r| layout.rank_bins(r)).collect();
    let cols: usize = widths.iter().sum::<usize>().max(1);
    let chunk_rows = ((1usize << 23) / cols).clamp(1, 1 << 16);
    let mut scores = Vec::with_capacity(if rank == LEAD { rows } else { 0 });
    for start in (0..rows).step_by(chunk_rows) {
        let end = (start + chunk_rows).min(rows);
        let block = one_hot(bins, sizes, start..end, false);
        let matrix = s.fix_matrix(block.view(), &widths)?;
        let z = s.fixed_times(&matrix, points)?;
        if let Some(v) = s.open_to(&z, label)? {
            scores.extend(fp.decode_slice(&v));
        }
    }
    s.finish()?;
    Ok((rank == LEAD).then_some(scores))
}
