//! The public shape of a WOE job: how many features each computing party
//! bins and how many bins each has. Every computing party announces its
//! own and checks the others' announcements; nothing else about a bin is
//! public.

use crate::LearnError;
use indomain_mpc::open;
use indomain_net::PartySet;

/// The most features a party may announce.
pub const MAX_FEATURES: usize = 1 << 16;

/// The most bins a feature may announce (a categorical feature's 65,535
/// categories plus the missing-value bin).
pub const MAX_FEATURE_BINS: usize = 1 << 16;

/// Bins of every feature of every computing party, in rank order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// `sizes[rank][feature]` = bins of that feature.
    pub sizes: Vec<Vec<usize>>,
}

impl Layout {
    /// Every party announces `own` (its features' bin counts) to the
    /// computing parties `group` (set indices, rank order) and gets every
    /// rank's; a count of features or bins out of range is an error naming
    /// the peer.
    pub fn agree(
        parties: &mut PartySet,
        group: &[usize],
        own: &[usize],
    ) -> Result<Self, LearnError> {
        let counts = open::exchange(
            parties,
            group,
            vec![own.len() as u64],
            &vec![1; group.len()],
        )?;
        let me = parties.me();
        let lens: Vec<usize> = counts
            .iter()
            .zip(group)
            .map(|(c, &i)| {
                let n = if i == me { own.len() as u64 } else { c[0] };
                if n as usize > MAX_FEATURES {
                    return Err(LearnError::Protocol {
                        peer: parties.name(i).to_string(),
                        phase: "announcing bins",
                        reason: format!("announces {n} features (at most {MAX_FEATURES})"),
                    });
                }
                Ok(n as usize)
            })
            .collect::<Result<_, _>>()?;
        let mine: Vec<u64> = own.iter().map(|&b| b as u64).collect();
        let all = open::exchange(parties, group, mine, &lens)?;
        let sizes = all
            .into_iter()
            .zip(group)
            .map(|(theirs, &i)| {
                if i == me {
                    return Ok(own.to_vec());
                }
                theirs
                    .into_iter()
                    .map(|b| {
                        if b == 0 || b as usize > MAX_FEATURE_BINS {
                            return Err(LearnError::Protocol {
                                peer: parties.name(i).to_string(),
                                phase: "announcing bins",
                                reason: format!(
                                    "announces a feature of {b} bins (1 to {MAX_FEATURE_BINS})"
                                ),
                            });
                        }
                        Ok(b as usize)
                    })
                    .collect()
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { sizes })
    }

    /// Bins of all features of all ranks.
    pub fn total_bins(&self) -> usize {
        self.sizes.iter().flatten().sum()
    }

    /// Features of all ranks.
    pub fn total_features(&self) -> usize {
        self.sizes.iter().map(Vec::len).sum()
    }

    /// Bins of all features of `rank`.
    pub fn rank_bins(&self, rank: usize) -> usize {
        self.sizes[rank].iter().sum()
    }

    /// The first bin of `rank`'s features in the all-ranks order.
    pub fn bin_offset(&self, rank: usize) -> usize {
        self.sizes[..rank].iter().flatten().sum()
    }

    /// The first feature of `rank` in the all-ranks order.
    pub fn feature_offset(&self, rank: usize) -> usize {
        self.sizes[..rank].iter().map(Vec::len).sum()
    }

    /// For every bin in the all-ranks order, the feature it belongs to (in
    /// the all-ranks order).
    pub fn feature_of_bin(&self) -> Vec<usize> {
        self.sizes
            .iter()
            .flatten()
            .enumerate()
            .flat_map(|(f, &k)| std::iter::repeat_n(f, k))
            .collect()
    }
}
