//! Who computes, in which order, and who deals.
//!
//! **Parties are named by set index** everywhere in this crate (and in
//! `indomain-aggregate` and `indomain-learn`): the position of a party in
//! its [`PartySet`], the `me` that `indomain::local::run` hands each party.
//! [`Session::share_input`](crate::Session::share_input) takes the owner's
//! set index, [`Session::open_to`](crate::Session::open_to) the receiver's,
//! [`Roster::new`] the dealer's, [`crate::dealer::serve`] serves every other
//! party of the set.
//!
//! Of the parties, the **computing parties** hold shares; each also has a
//! **rank**: its position among the computing parties (in set order for
//! [`Roster::new`], in the given order for [`Roster::ordered`]). Ranks are
//! the layer's internal order — block widths of a shared matrix are listed
//! by rank, and [`Shared`](crate::Shared)'s local operations take this
//! party's own rank. Rank 0 is the **leader** ([`Roster::leader`] gives its
//! set index): the one party that adds public constants to its share, takes
//! the first role in two-party truncation, receives the values opened for
//! truncation, and receives the dealer's explicit correction shares (it is
//! `indomain_core::dealer::CORRECTION_PARTY`). The dealer, if there is one,
//! is a party of the set that holds no rank and no share.

use crate::MpcError;
use indomain_net::PartySet;

/// The rank of the leader: the dealer's correction party. A rank, not a
/// set index: outside this crate the leader is named by
/// [`Roster::leader`].
pub(crate) const LEADER: usize = indomain_core::dealer::CORRECTION_PARTY;

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

    /// The set index of the leader (rank 0).
    pub fn leader(&self) -> usize {
        self.computing[LEADER]
    }

    /// The rank of the computing party of set index `party`; an error for
    /// the dealer or a party that does not compute.
    pub fn rank_of(&self, party: usize) -> Result<usize, MpcError> {
        self.computing
            .iter()
            .position(|&i| i == party)
            .ok_or_else(|| MpcError::Usage(format!("party {party} is not a computing party")))
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
