//! Who computes, in which order, and who deals.
//!
//! The parties of a [`PartySet`] are numbered by set index. Of them, the
//! **computing parties** hold shares; each has a **rank**: its position
//! among the computing parties in set order. Rank [`LEADER`] (0) is the one
//! party that adds public constants to its share, takes the first role in
//! two-party truncation, receives the values opened for truncation, and
//! receives the dealer's explicit correction shares: it is
//! `indomain_core::dealer::CORRECTION_PARTY` under the one name used in
//! this crate. The dealer, if there is one, is a party of the set that
//! holds no rank and no share.

use crate::MpcError;
use indomain_net::PartySet;

/// The rank of the leader: the dealer's correction party.
pub const LEADER: usize = indomain_core::dealer::CORRECTION_PARTY;

/// The computing parties of a set (by set index, in rank order), the
/// dealer's set index, and this party's rank.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Roster {
    computing: Vec<usize>,
    dealer: Option<usize>,
    rank: usize,
}

impl Roster {
    /// Every party of `parties` but `dealer` computes, in set order. Fails
    /// for the dealer itself, or with fewer than two computing parties.
    pub fn new(parties: &PartySet, dealer: Option<usize>) -> Result<Self, MpcError> {
        Self::ordered(parties, Self::computing_of(parties.len(), dealer), dealer)
    }

    /// The computing parties are `computing` (set indices), ranked in that
    /// order: `computing[0]` is the leader. Every party (and the dealer)
    /// must use the same order.
    pub fn ordered(
        parties: &PartySet,
        computing: Vec<usize>,
        dealer: Option<usize>,
    ) -> Result<Self, MpcError> {
        let n = parties.len();
        let mut seen = vec![false; n];
        for &i in computing.iter().chain(dealer.iter()) {
            if i >= n || std::mem::replace(&mut seen[i], true) {
                return Err(MpcError::Usage(format!(
                    "party {i} is outside a set of {n} parties or listed twice"
                )));
            }
        }
        if computing.len() < 2 {
            return Err(MpcError::Usage(format!(
                "a computation needs at least 2 computing parties, got {}",
                computing.len()
            )));
        }
        let rank = computing
            .iter()
            .position(|&i| i == parties.me())
            .ok_or_else(|| MpcError::Usage("the dealer has no rank".into()))?;
        Ok(Self {
            computing,
            dealer,
            rank,
        })
    }

    /// The set indices of the computing parties of a set of `n` parties
    /// with the given dealer, in rank order.
    pub fn computing_of(n: usize, dealer: Option<usize>) -> Vec<usize> {
        (0..n).filter(|&i| Some(i) != dealer).collect()
    }

    /// This party's rank.
    pub fn rank(&self) -> usize {
        self.rank
    }

    /// Whether this party is the leader.
    pub fn is_leader(&self) -> bool {
        self.rank == LEADER
    }

    /// The number of computing parties.
    pub fn len(&self) -> usize {
        self.computing.len()
    }

    /// Always false: a roster has at least two computing parties.
    pub fn is_empty(&self) -> bool {
        self.computing.is_empty()
    }

    /// The set indices of the computing parties, in rank order.
    pub fn computing(&self) -> &[usize] {
        &self.computing
    }

    /// The set index of the party of rank `rank`.
    pub fn index(&self, rank: usize) -> Result<usize, MpcError> {
        self.computing
            .get(rank)
            .copied()
            .ok_or_else(|| MpcError::Usage(format!("no computing party has rank {rank}")))
    }

    /// The dealer's set index, if there is a dealer.
    pub fn dealer(&self) -> Option<usize> {
        self.dealer
    }
}
