//! A secret-shared computation among the computing parties of a set:
//! inputs, openings, Beaver multiplication and truncation.
//!
//! A [`Session`] ties together the party set, the [`Roster`] (who computes,
//! in which rank order), the fixed-point codec and a [`Correlations`]
//! source. Every computing party calls the same methods in the same order.
//!
//! Parties are named by their index in the party set (see [`crate::roster`]).
//!
//! - [`Session::share_input`]: the owner keeps x − Σ PRG(s_j) and sends each
//!   other party a 16-byte seed s_j (seed compression): the others learn
//!   nothing but a seed.
//! - [`Session::open`] / [`Session::open_to`]: every computing party (or
//!   one) learns the value.
//! - [`Session::mul`]: element-wise product with Beaver triples
//!   (`indomain_core::beaver`); the parties learn d = x − a and e = y − b,
//!   uniformly random. The product carries 2f fractional bits. Products
//!   longer than [`MUL_CHUNK`] are multiplied piece by piece.
//! - [`Session::dot`]: the inner product x·y, as [`Session::mul`] then a
//!   local [`Shared::sum`] and one truncation.
//! - [`Session::truncate`]: divides by 2^shift. Two computing parties use
//!   SecureML local truncation (no message); more use the dealer's
//!   truncation pairs, opening x − r (uniformly random) to the leader. Both
//!   are exact up to one unit in the last place, except with probability
//!   |x| / 2^63 per element, x being the ring value truncated (see
//!   `indomain_core::truncate`): keep products small, e.g. with
//!   `indomain_core::Bounded` inputs.

use crate::MpcError;
use crate::correlations::Correlations;
use crate::error::core;
use crate::open;
use crate::roster::Roster;
use crate::shared::Shared;
use indomain_core::share::{share_from_seed, share_seeded};
use indomain_core::truncate::{TwoPartyRole, truncate_local};
use indomain_core::{FixedPoint, Seed};
use indomain_net::PartySet;
use rand::{CryptoRng, Rng};

/// The longest product [`Session::mul`] asks one triple batch for: longer
/// ones are cut into pieces of this many elements, multiplied one after
/// another (the same openings, one round each), so that a dealt item stays
/// within `DealerLimits::max_item_elements` (2^23) whatever the length.
pub const MUL_CHUNK: usize = 1 << 20;

/// A computation among the computing parties of a set.
pub struct Session<'a, C: Correlations> {
    parties: &'a mut PartySet,
    roster: Roster,
    fp: FixedPoint,
    corr: C,
}

impl<'a, C: Correlations> Session<'a, C> {
    /// A session over `parties` with `roster`, fixed-point codec `fp` and
    /// correlated randomness from `corr`.
    pub fn new(parties: &'a mut PartySet, roster: Roster, fp: FixedPoint, corr: C) -> Self {
        Self {
            parties,
            roster,
            fp,
            corr,
        }
    }

    /// This party's rank among the computing parties (see
    /// [`crate::roster`]): what [`Shared`]'s local operations take.
    pub fn rank(&self) -> usize {
        self.roster.rank()
    }

    /// Whether this party is the leader.
    pub fn is_leader(&self) -> bool {
        self.roster.is_leader()
    }

    /// The set index of the leader.
    pub fn leader(&self) -> usize {
        self.roster.leader()
    }

    /// The roster.
    pub fn roster(&self) -> &Roster {
        &self.roster
    }

    /// The fixed-point codec.
    pub fn fixed_point(&self) -> FixedPoint {
        self.fp
    }

    /// The party set (for byte counters and names).
    pub fn parties(&self) -> &PartySet {
        self.parties
    }

    /// The party set, for protocols that need no correlations (a
    /// [`crate::sum::sum_to`] among the computing parties).
    pub fn parties_mut(&mut self) -> &mut PartySet {
        self.parties
    }

    pub(crate) fn parts(&mut self) -> (&mut PartySet, &mut C, &Roster) {
        (self.parties, &mut self.corr, &self.roster)
    }

    /// Ends the session: tells the correlation source that no more items
    /// are needed, and returns it.
    pub fn finish(mut self) -> Result<C, MpcError> {
        self.corr.finish(self.parties)?;
        Ok(self.corr)
    }

    /// Secret-shares a vector of `len` ring elements held by the computing
    /// party of set index `owner`, which passes `Some(values)`; every other
    /// party passes `None`. Each non-owner receives a 16-byte seed.
    pub fn share_input<R: Rng + CryptoRng + ?Sized>(
        &mut self,
        owner: usize,
        values: Option<&[u64]>,
        len: usize,
        rng: &mut R,
    ) -> Result<Shared, MpcError> {
        let owner_rank = self.roster.rank_of(owner)?;
        if self.rank() == owner_rank {
            let values = values
                .ok_or_else(|| MpcError::Usage("the input owner must pass its values".into()))?;
            if values.len() != len {
                return Err(MpcError::Usage(format!(
                    "input of {} elements, announced {len}",
                    values.len()
                )));
            }
            let others: Vec<usize> = (0..self.roster.len())
                .filter(|&r| r != owner_rank)
                .collect();
            let sharing = share_seeded(values, others.len(), rng);
            for (&rank, seed) in others.iter().zip(&sharing.seeds) {
                let index = self.roster.index(rank)?;
                self.parties.channel(index)?.send(&seed.0)?;
            }
            return Ok(Shared(sharing.own));
        }
        let ch = self.parties.channel(owner)?;
        let frame = ch.recv()?;
        let seed: [u8; 16] = frame
            .as_slice()
            .try_into()
            .map_err(|_| MpcError::Malformed {
                peer: ch.peer().to_string(),
                phase: "input sharing",
                reason: format!("a seed must be 16 bytes, got {}", frame.len()),
            })?;
        Ok(Shared(share_from_seed(&Seed(seed), len)))
    }

    /// Opens `x` to every computing party.
    pub fn open(&mut self, x: &Shared) -> Result<Vec<u64>, MpcError> {
        Ok(open::open(
            self.parties,
            self.roster.computing(),
            x.as_slice(),
        )?)
    }

    /// Opens `x` to the computing party of set index `receiver` only: it
    /// gets `Some(value)`, the others `None`.
    pub fn open_to(&mut self, x: &Shared, receiver: usize) -> Result<Option<Vec<u64>>, MpcError> {
        self.roster.rank_of(receiver)?;
        Ok(open::open_to(
            self.parties,
            self.roster.computing(),
            receiver,
            x.as_slice(),
        )?)
    }

    /// The element-wise product x·y (Beaver), with 2f fractional bits.
    pub fn mul(&mut self, x: &Shared, y: &Shared) -> Result<Shared, MpcError> {
        if x.len() != y.len() {
            return Err(MpcError::Usage(format!(
                "multiplying vectors of {} and {} elements",
                x.len(),
                y.len()
            )));
        }
        if x.len() <= MUL_CHUNK {
            return Ok(Shared(self.mul_piece(x.as_slice(), y.as_slice())?));
        }
        let mut z = Vec::with_capacity(x.len());
        for (a, b) in x
            .as_slice()
            .chunks(MUL_CHUNK)
            .zip(y.as_slice().chunks(MUL_CHUNK))
        {
            z.extend(self.mul_piece(a, b)?);
        }
        Ok(Shared(z))
    }

    /// One Beaver multiplication of at most [`MUL_CHUNK`] elements.
    fn mul_piece(&mut self, x: &[u64], y: &[u64]) -> Result<Vec<u64>, MpcError> {
        let phase = "beaver multiplication";
        let len = x.len();
        let triple = self.corr.triples(self.parties, len)?;
        let masked = triple.mask(x, y).map_err(core(phase))?;
        let opened = self.open(&Shared(masked.concat()))?;
        let (d, e) = opened.split_at(len);
        triple.finish(d, e, self.is_leader()).map_err(core(phase))
    }

    /// The element-wise product x·y with f fractional bits: [`mul`](Self::mul)
    /// then [`truncate`](Self::truncate) by f.
    pub fn mul_fixed(&mut self, x: &Shared, y: &Shared) -> Result<Shared, MpcError> {
        let product = self.mul(x, y)?;
        self.truncate(product, self.fp.frac_bits())
    }

    /// The inner product Σ x_i·y_i of two shared fixed-point vectors of
    /// the same length, as a one-element share with f fractional bits:
    /// [`mul`](Self::mul), a local [`Shared::sum`], then one
    /// [`truncate`](Self::truncate) by f. Costs the Beaver openings of
    /// `len` products and one truncation; the parties learn what
    /// [`mul`](Self::mul) reveals (uniformly random values).
    pub fn dot(&mut self, x: &Shared, y: &Shared) -> Result<Shared, MpcError> {
        let products = self.mul(x, y)?;
        self.truncate(products.sum(), self.fp.frac_bits())
    }

    /// x / 2^shift (see the module documentation for the bound).
    pub fn truncate(&mut self, x: Shared, shift: u32) -> Result<Shared, MpcError> {
        let phase = "truncation";
        let mut x = x;
        if self.roster.len() == 2 {
            let role = if self.is_leader() {
                TwoPartyRole::First
            } else {
                TwoPartyRole::Second
            };
            truncate_local(&mut x.0, shift, role).map_err(core(phase))?;
            return Ok(x);
        }
        let pairs = self.corr.truncation_pairs(self.parties, x.len(), shift)?;
        let masked = Shared(pairs.mask(x.as_slice()).map_err(core(phase))?);
        let opened = self.open_to(&masked, self.leader())?;
        Ok(Shared(
            pairs.finish(opened.as_deref()).map_err(core(phase))?,
        ))
    }

    /// x · c element-wise for public reals c (one per element), with f
    /// fractional bits: every party multiplies by encode(c), then the
    /// product is truncated by f.
    pub fn mul_public_real(&mut self, x: Shared, c: &[f64]) -> Result<Shared, MpcError> {
        let encoded = self.fp.encode_slice(c).map_err(core("public constant"))?;
        let mut x = x;
        x.mul_public(&encoded)?;
        self.truncate(x, self.fp.frac_bits())
    }
}
