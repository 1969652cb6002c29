//! The dealer's side: [`serve`] and [`serve_ordered`] answer the leader's
//! [`Request`]s until [`Request::Done`], dealing every item with
//! `indomain_core::dealer` and refusing any request above the
//! [`DealerLimits`].
//!
//! What each party learns: the dealer learns the shapes and the number of
//! items the leader asks for, nothing of any value; each computing party
//! receives only its own share of every item (uniformly random masks).

use super::{DealerLimits, DealerReport, Request};
use crate::MpcError;
use crate::dealer_bins::{self, ServerIndicator};
use crate::error::core;
use crate::roster::{LEADER, Roster};
use indomain_core::dealer::{Dealer, DealtShare, LeftMask};
use indomain_net::PartySet;
use indomain_net::wire::recv_msg;
use rand::{CryptoRng, Rng};

fn too_big(peer: &str, what: &str, got: u128, max: usize) -> MpcError {
    MpcError::Refused {
        peer: peer.to_string(),
        reason: format!("{what} of {got} elements exceeds the limit of {max}"),
    }
}

/// The left mask of request number `mask`; `peer` names the requester.
fn dealt_mask<'m>(masks: &'m [LeftMask], peer: &str, mask: u32) -> Result<&'m LeftMask, MpcError> {
    masks.get(mask as usize).ok_or_else(|| MpcError::Refused {
        peer: peer.to_string(),
        reason: format!("no left mask {mask}"),
    })
}

/// Runs the dealer (this party) until the leader says [`Request::Done`],
/// for every other party of the set in set order: the computing parties of
/// [`Roster::new`]`(parties, Some(dealer))` at the others.
pub fn serve<R: Rng + CryptoRng + ?Sized>(
    parties: &mut PartySet,
    limits: DealerLimits,
    rng: &mut R,
) -> Result<DealerReport, MpcError> {
    let computing = Roster::computing_of(parties.len(), Some(parties.me()));
    serve_ordered(parties, &computing, limits, rng)
}

/// [`serve`] for computing parties ranked in another order: `computing`
/// lists their set indices in rank order, as the others pass it to
/// [`Roster::ordered`].
pub fn serve_ordered<R: Rng + CryptoRng + ?Sized>(
    parties: &mut PartySet,
    computing: &[usize],
    limits: DealerLimits,
    rng: &mut R,
) -> Result<DealerReport, MpcError> {
    if computing.is_empty() || computing.contains(&parties.me()) {
        return Err(MpcError::Usage(
            "the dealer serves a non-empty list of other parties".into(),
        ));
    }
    let leader = computing[LEADER];
    let mut server = Server::new(computing, parties.name(leader), limits, rng)?;
    let mut report = DealerReport::default();
    loop {
        let request: Request = recv_msg(parties.channel(leader)?)?;
        let shares = match request {
            Request::Done => return Ok(report),
            // The bin family sends its own frames (`crate::dealer_bins`).
            Request::BinIndicators {
                owner,
                rows,
                bins,
                shared_permutation,
            } => {
                server.register_bins(parties, owner, rows, &bins, shared_permutation)?;
                report.items += 1;
                continue;
            }
            Request::BinSumMasks { indicator, count } => {
                server.bin_sum_masks(parties, indicator, count)?;
                report.items += 1;
                continue;
            }
            // Releasing deals nothing: not an item.
            Request::ReleaseBinIndicators { indicator } => {
                server.release_bins(indicator)?;
                continue;
            }
            Request::Triples { len } => server.triples(len)?,
            Request::LeftMask {
                rows,
                inner,
                widths,
            } => server.left_mask(rows, inner, &widths)?,
            Request::RightTriple {
                mask,
                cols,
                transposed,
            } => server.right_triple(mask, cols, transposed)?,
            Request::RightTripleSquare { mask } => server.right_triple_square(mask)?,
            Request::TruncationPairs { len, shift } => server.truncation_pairs(len, shift)?,
            Request::MaskedBits { len, bits } => server.masked_bits(len, bits)?,
            Request::BitTriples { words } => server.bit_triples(words)?,
            Request::PackedMaskedBits { len, low, bits } => {
                server.packed_masked_bits(len, low, bits)?
            }
            Request::DaBits { len } => server.dabits(len)?,
            Request::TrigMasks {
                len,
                modulus_bits,
                harmonics,
                frac_bits,
            } => server.trig_masks(len, modulus_bits, harmonics, frac_bits)?,
        };
        for (share, &party) in shares.iter().zip(computing) {
            parties.channel(party)?.send(&share.to_bytes())?;
        }
        report.items += 1;
    }
}

/// What the dealer keeps between the leader's requests, with one method
/// per request kind: a size check against the [`DealerLimits`], then a
/// deal. The dealing methods return one share per computing party, in rank
/// order, for [`serve_ordered`] to send; the bin family's send their own
/// frames.
struct Server<'a, R: ?Sized> {
    /// The computing parties' set indices, in rank order.
    computing: &'a [usize],
    /// The leader's name, for refusals.
    leader_name: String,
    limits: DealerLimits,
    dealer: Dealer,
    /// Every left mask dealt, by request order: right triples refer to them.
    masks: Vec<LeftMask>,
    /// Released indicators leave `None`: ids stay registration order.
    indicators: Vec<Option<ServerIndicator>>,
    /// Elements kept for left masks and indicators, against
    /// [`DealerLimits::max_mask_elements`].
    kept: usize,
    /// Draws every seed dealt.
    rng: &'a mut R,
}

impl<'a, R: Rng + CryptoRng + ?Sized> Server<'a, R> {
    fn new(
        computing: &'a [usize],
        leader_name: &str,
        limits: DealerLimits,
        rng: &'a mut R,
    ) -> Result<Self, MpcError> {
        Ok(Self {
            computing,
            leader_name: leader_name.to_string(),
            limits,
            dealer: Dealer::new(computing.len()).map_err(core("dealer setup"))?,
            masks: Vec::new(),
            indicators: Vec::new(),
            kept: 0,
            rng,
        })
    }

    fn refuse(&self, reason: String) -> MpcError {
        MpcError::Refused {
            peer: self.leader_name.clone(),
            reason,
        }
    }

    /// `elements` as a `usize`, if at most `max`.
    fn check(&self, what: &str, elements: u128, max: usize) -> Result<usize, MpcError> {
        if elements > max as u128 {
            Err(too_big(&self.leader_name, what, elements, max))
        } else {
            Ok(elements as usize)
        }
    }

    fn register_bins(
        &mut self,
        parties: &mut PartySet,
        owner: u32,
        rows: u64,
        bins: &[u16],
        shared_permutation: bool,
    ) -> Result<(), MpcError> {
        let room = (self.limits.max_mask_elements as u128).saturating_sub(self.kept as u128);
        let indicator = dealer_bins::register(
            parties,
            self.computing,
            &self.leader_name,
            owner,
            rows,
            bins,
            shared_permutation,
            room,
            self.rng,
        )?;
        self.kept += indicator.kept() as usize;
        self.indicators.push(Some(indicator));
        Ok(())
    }

    fn bin_sum_masks(
        &mut self,
        parties: &mut PartySet,
        indicator: u32,
        count: u64,
    ) -> Result<(), MpcError> {
        let Some(Some(ind)) = self.indicators.get(indicator as usize) else {
            return Err(self.refuse(format!("no bin indicators {indicator}")));
        };
        dealer_bins::deal_masks(
            parties,
            ind,
            count,
            self.limits,
            &self.leader_name,
            self.rng,
        )
    }

    fn release_bins(&mut self, indicator: u32) -> Result<(), MpcError> {
        let Some(ind) = self
            .indicators
            .get_mut(indicator as usize)
            .and_then(Option::take)
        else {
            return Err(self.refuse(format!("no bin indicators {indicator} to release")));
        };
        self.kept -= ind.kept() as usize;
        Ok(())
    }

    fn triples(&mut self, len: u64) -> Result<Vec<DealtShare>, MpcError> {
        let len = self.check("triples", 3 * len as u128, self.limits.max_item_elements)? / 3;
        Ok(self.dealer.triples(len, self.rng))
    }

    fn left_mask(
        &mut self,
        rows: u64,
        inner: u64,
        widths: &[u64],
    ) -> Result<Vec<DealtShare>, MpcError> {
        let elements = self.check(
            "left masks",
            rows as u128 * inner as u128 + self.kept as u128,
            self.limits.max_mask_elements,
        )?;
        let (rows, inner) = (rows as usize, inner as usize);
        let (mask, shares) = if widths.is_empty() {
            self.dealer.left_mask(rows, inner, self.rng)
        } else {
            // Checked: widths that wrap around must not pass for
            // the mask's columns.
            let widths = widths
                .iter()
                .map(|&w| usize::try_from(w))
                .collect::<Result<Vec<usize>, _>>()
                .map_err(|_| self.refuse("a block width does not fit this machine".into()))?;
            let columns = indomain_core::dealer::block_columns(rows, &widths)
                .map_err(|e| self.refuse(e.to_string()))?;
            if columns != inner {
                return Err(self.refuse("block widths do not add up to the mask's columns".into()));
            }
            self.dealer
                .left_mask_blocks(rows, &widths, self.rng)
                .map_err(core("dealing a left mask"))?
        };
        self.kept = elements;
        self.masks.push(mask);
        Ok(shares)
    }

    fn right_triple(
        &mut self,
        mask: u32,
        cols: u64,
        transposed: bool,
    ) -> Result<Vec<DealtShare>, MpcError> {
        let left = dealt_mask(&self.masks, &self.leader_name, mask)?;
        let (rows, inner) = left.dim();
        let (rows, inner) = if transposed {
            (inner, rows)
        } else {
            (rows, inner)
        };
        let cols = cols as u128;
        self.check(
            "right triple",
            (rows as u128 + inner as u128) * cols,
            self.limits.max_item_elements,
        )?;
        Ok(if transposed {
            self.dealer
                .right_triple_transposed(left, cols as usize, self.rng)
        } else {
            self.dealer.right_triple(left, cols as usize, self.rng)
        })
    }

    fn right_triple_square(&mut self, mask: u32) -> Result<Vec<DealtShare>, MpcError> {
        let left = dealt_mask(&self.masks, &self.leader_name, mask)?;
        let (rows, inner) = left.dim();
        self.check(
            "right triple",
            rows as u128 + inner as u128 + 1,
            self.limits.max_item_elements,
        )?;
        Ok(self.dealer.right_triple_transposed_square(left, self.rng))
    }

    fn truncation_pairs(&mut self, len: u64, shift: u32) -> Result<Vec<DealtShare>, MpcError> {
        let len = self.check(
            "truncation pairs",
            2 * len as u128,
            self.limits.max_item_elements,
        )? / 2;
        self.dealer
            .truncation_pairs(len, shift, self.rng)
            .map_err(core("dealing truncation pairs"))
    }

    fn masked_bits(&mut self, len: u64, bits: u32) -> Result<Vec<DealtShare>, MpcError> {
        let len = self.check(
            "masked bits",
            len as u128 * (u128::from(bits) + 1),
            self.limits.max_item_elements,
        )? / (bits as usize).saturating_add(1);
        self.dealer
            .masked_bits(len, bits, self.rng)
            .map_err(|e| self.refuse(e.to_string()))
    }

    fn bit_triples(&mut self, words: u64) -> Result<Vec<DealtShare>, MpcError> {
        let words = self.check(
            "AND triples",
            3 * words as u128,
            self.limits.max_item_elements,
        )? / 3;
        Ok(self.dealer.bit_triples(words, self.rng))
    }

    fn packed_masked_bits(
        &mut self,
        len: u64,
        low: u32,
        bits: u32,
    ) -> Result<Vec<DealtShare>, MpcError> {
        let planes = (len as u128).div_ceil(64) * bits as u128;
        self.check(
            "packed masked bits",
            len as u128 + planes,
            self.limits.max_item_elements,
        )?;
        self.dealer
            .packed_masked_bits(len as usize, low, bits, self.rng)
            .map_err(|e| self.refuse(e.to_string()))
    }

    fn dabits(&mut self, len: u64) -> Result<Vec<DealtShare>, MpcError> {
        let len = self.check("daBits", 2 * len as u128, self.limits.max_item_elements)? / 2;
        Ok(self.dealer.dabits(len, self.rng))
    }

    fn trig_masks(
        &mut self,
        len: u64,
        modulus_bits: u32,
        harmonics: u32,
        frac_bits: u32,
    ) -> Result<Vec<DealtShare>, MpcError> {
        self.check(
            "trigonometric masks",
            len as u128 * (2 * harmonics as u128 + 1),
            self.limits.max_item_elements,
        )?;
        self.dealer
            .trig_masks(
                len as usize,
                modulus_bits,
                harmonics as usize,
                frac_bits,
                self.rng,
            )
            .map_err(|e| self.refuse(e.to_string()))
    }
}
