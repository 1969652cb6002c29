//! Step 0 of training (see `train.rs`): the computing parties agree on
//! the row count, the parameters and every party's feature shapes before
//! any shared value is computed; every difference is an error naming the
//! peer.
//!
//! What each party learns: every other computing party's row count,
//! parameters (as words), number of features and bins per feature with
//! whether a missing bin is last — the shapes [`crate::tree`] says every
//! party learns — and nothing of any row, bin index or label.

use super::forest::FeatureShape;
use super::{BinnedFeatures, GbdtParams};
use crate::LearnError;
use indomain_net::PartySet;

/// Every rank's feature shapes, after checking rows and parameters.
pub(super) fn agree(
    parties: &mut PartySet,
    group: &[usize],
    own: &BinnedFeatures,
    params: &GbdtParams,
) -> Result<Vec<Vec<FeatureShape>>, LearnError> {
    let mut mine = vec![own.rows() as u64, own.features() as u64];
    mine.extend(params.words());
    let lens = vec![mine.len(); group.len()];
    let all = indomain_mpc::open::exchange(parties, group, mine.clone(), &lens)?;
    let mut counts = Vec::with_capacity(group.len());
    for (theirs, &index) in all.iter().zip(group) {
        let peer = || parties.name(index).to_string();
        if theirs[0] != mine[0] {
            return Err(LearnError::Disagreement {
                peer: peer(),
                what: format!("it has {} rows, this party {}", theirs[0], mine[0]),
            });
        }
        let mode = mine.len() - 1;
        if theirs[mode] != mine[mode] {
            let name = |w: u64| match w {
                0 => "with the instance space hidden",
                _ => "with the instance space leaked (--leak-instance-space)",
            };
            return Err(LearnError::Disagreement {
                peer: peer(),
                what: format!(
                    "it trains {}, this party {}",
                    name(theirs[mode]),
                    name(mine[mode])
                ),
            });
        }
        if theirs[2..] != mine[2..] {
            return Err(LearnError::Disagreement {
                peer: peer(),
                what: "its tree parameters differ".into(),
            });
        }
        if theirs[1] > 1 << 12 {
            return Err(LearnError::Disagreement {
                peer: peer(),
                what: format!("it announces {} features", theirs[1]),
            });
        }
        counts.push(theirs[1] as usize);
    }
    let words: Vec<u64> = own
        .shapes
        .iter()
        .flat_map(|s| [s.bins as u64, s.missing as u64])
        .collect();
    let lens: Vec<usize> = counts.iter().map(|c| 2 * c).collect();
    let all = indomain_mpc::open::exchange(parties, group, words, &lens)?;
    all.iter()
        .zip(group)
        .map(|(w, &index)| {
            w.chunks_exact(2)
                .map(|p| {
                    let shape = FeatureShape {
                        bins: p[0] as u16,
                        missing: p[1] == 1,
                    };
                    if p[0] == 0 || p[0] > 1 << 15 || p[1] > 1 || shape.value_bins() == 0 {
                        return Err(LearnError::Disagreement {
                            peer: parties.name(index).to_string(),
                            what: format!("a feature of {} bins (missing: {})", p[0], p[1]),
                        });
                    }
                    Ok(shape)
                })
                .collect()
        })
        .collect()
}
