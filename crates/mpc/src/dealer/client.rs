//! A computing party's side: [`DealerClient`], the [`Correlations`] source
//! that fetches every item from the dealer (the leader sends the
//! [`Request`]s) and checks each frame against the length it expects.
//!
//! What each party learns: a computing party learns its own shares of
//! uniformly random masks, nothing of the others'; the dealer learns only
//! the shapes the leader's requests carry.

use super::Request;
use crate::MpcError;
use crate::correlations::{
    BinShape, BinSumMasks, Correlations, IndicatorId, MaskId, MaskLayout, Permutations,
};
use crate::dealer_bins::{self, ClientIndicator};
use crate::roster::Roster;
use indomain_core::beaver::TripleShare;
use indomain_core::bits::{BitTripleShare, DaBitShare, PackedMaskedBitsShare, words};
use indomain_core::dealer::{DealtShare, MaskedBitsShare};
use indomain_core::matrix_triple::{LeftMaskShare, RightTripleShare};
use indomain_core::ring::RingMatrix;
use indomain_core::trig::TrigMaskShare;
use indomain_core::truncate::TruncationPairShare;
use indomain_net::PartySet;
use indomain_net::wire::send_msg;
use ndarray::ArrayView2;

/// A computing party's side of the dealer: implements [`Correlations`].
#[derive(Debug, Clone)]
pub struct DealerClient {
    roster: Roster,
    dealer: usize,
    masks: Vec<(usize, MaskLayout)>,
    /// Registered indicators (`None` once released).
    indicators: Vec<Option<ClientIndicator>>,
}

impl DealerClient {
    /// The client for a roster with a dealer.
    pub fn new(roster: &Roster) -> Result<Self, MpcError> {
        let dealer = roster
            .dealer()
            .ok_or_else(|| MpcError::Usage("the roster has no dealer".into()))?;
        Ok(Self {
            roster: roster.clone(),
            dealer,
            masks: Vec::new(),
            indicators: Vec::new(),
        })
    }

    /// Sends `request` (the leader only) and receives this party's item;
    /// the leader's carries a correction of `correction` elements.
    fn fetch(
        &self,
        parties: &mut PartySet,
        request: &Request,
        correction: Option<usize>,
        phase: &'static str,
    ) -> Result<DealtShare, MpcError> {
        let leader = self.roster.is_leader();
        let ch = parties.channel(self.dealer)?;
        if leader {
            send_msg(ch, request)?;
        }
        let frame = ch.recv()?;
        let expected = if leader { correction } else { None };
        DealtShare::from_bytes(&frame, expected).map_err(|e| MpcError::Malformed {
            peer: ch.peer().to_string(),
            phase,
            reason: e.to_string(),
        })
    }

    fn malformed(&self, parties: &PartySet, phase: &'static str, e: impl ToString) -> MpcError {
        MpcError::Malformed {
            peer: parties.name(self.dealer).to_string(),
            phase,
            reason: e.to_string(),
        }
    }
}

impl Correlations for DealerClient {
    fn triples(&mut self, parties: &mut PartySet, len: usize) -> Result<TripleShare, MpcError> {
        let phase = "beaver triples from the dealer";
        let dealt = self.fetch(
            parties,
            &Request::Triples { len: len as u64 },
            Some(len),
            phase,
        )?;
        TripleShare::from_dealt(&dealt, len).map_err(|e| self.malformed(parties, phase, e))
    }

    fn left_mask(
        &mut self,
        parties: &mut PartySet,
        rows: usize,
        layout: &MaskLayout,
    ) -> Result<(MaskId, RingMatrix), MpcError> {
        let phase = "left mask from the dealer";
        let (widths, own_cols) = match layout {
            MaskLayout::Shared { inner } => (Vec::new(), *inner),
            MaskLayout::Blocks { widths } => {
                if widths.len() != self.roster.len() {
                    return Err(MpcError::Usage(format!(
                        "{} block widths for {} computing parties",
                        widths.len(),
                        self.roster.len()
                    )));
                }
                (
                    widths.iter().map(|&w| w as u64).collect(),
                    widths[self.roster.rank()],
                )
            }
        };
        let request = Request::LeftMask {
            rows: rows as u64,
            inner: layout.inner() as u64,
            widths,
        };
        let dealt = self.fetch(parties, &request, None, phase)?;
        let share = LeftMaskShare::from_dealt(&dealt, rows, own_cols)
            .map_err(|e| self.malformed(parties, phase, e))?;
        let id = MaskId(self.masks.len() as u32);
        self.masks.push((rows, layout.clone()));
        Ok((id, share.u))
    }

    fn right_triple(
        &mut self,
        parties: &mut PartySet,
        mask: MaskId,
        cols: usize,
        transposed: bool,
    ) -> Result<RightTripleShare, MpcError> {
        let phase = "right triple from the dealer";
        let (rows, inner) = match self.masks.get(mask.0 as usize) {
            Some((rows, layout)) => (*rows, layout.inner()),
            None => return Err(MpcError::Usage(format!("no left mask {}", mask.0))),
        };
        let (rows, inner) = if transposed {
            (inner, rows)
        } else {
            (rows, inner)
        };
        let request = Request::RightTriple {
            mask: mask.0,
            cols: cols as u64,
            transposed,
        };
        let dealt = self.fetch(parties, &request, Some(rows * cols), phase)?;
        RightTripleShare::from_dealt(&dealt, rows, inner, cols)
            .map_err(|e| self.malformed(parties, phase, e))
    }

    fn right_triple_square(
        &mut self,
        parties: &mut PartySet,
        mask: MaskId,
    ) -> Result<(RightTripleShare, u64), MpcError> {
        let phase = "right triple with square from the dealer";
        let (rows, inner) = match self.masks.get(mask.0 as usize) {
            Some((rows, layout)) => (layout.inner(), *rows),
            None => return Err(MpcError::Usage(format!("no left mask {}", mask.0))),
        };
        let request = Request::RightTripleSquare { mask: mask.0 };
        let dealt = self.fetch(parties, &request, Some(rows + 1), phase)?;
        RightTripleShare::from_dealt_with_square(&dealt, rows, inner)
            .map_err(|e| self.malformed(parties, phase, e))
    }

    fn truncation_pairs(
        &mut self,
        parties: &mut PartySet,
        len: usize,
        shift: u32,
    ) -> Result<TruncationPairShare, MpcError> {
        let phase = "truncation pairs from the dealer";
        let request = Request::TruncationPairs {
            len: len as u64,
            shift,
        };
        let dealt = self.fetch(parties, &request, Some(len), phase)?;
        TruncationPairShare::from_dealt(&dealt, len, shift)
            .map_err(|e| self.malformed(parties, phase, e))
    }

    fn masked_bits(
        &mut self,
        parties: &mut PartySet,
        len: usize,
        bits: u32,
    ) -> Result<MaskedBitsShare, MpcError> {
        let phase = "masked bits from the dealer";
        if bits > 64 {
            return Err(MpcError::Usage(format!(
                "masks of {bits} bits (at most 64)"
            )));
        }
        let request = Request::MaskedBits {
            len: len as u64,
            bits,
        };
        let dealt = self.fetch(parties, &request, Some(len * bits as usize), phase)?;
        MaskedBitsShare::from_dealt(&dealt, len, bits)
            .map_err(|e| self.malformed(parties, phase, e))
    }

    fn bit_triples(
        &mut self,
        parties: &mut PartySet,
        words: usize,
    ) -> Result<BitTripleShare, MpcError> {
        let phase = "AND triples from the dealer";
        let request = Request::BitTriples {
            words: words as u64,
        };
        let dealt = self.fetch(parties, &request, Some(words), phase)?;
        BitTripleShare::from_dealt(&dealt, words).map_err(|e| self.malformed(parties, phase, e))
    }

    fn packed_masked_bits(
        &mut self,
        parties: &mut PartySet,
        len: usize,
        low: u32,
        bits: u32,
    ) -> Result<PackedMaskedBitsShare, MpcError> {
        let phase = "packed masked bits from the dealer";
        if bits == 0 || low as u64 + bits as u64 > 64 {
            return Err(MpcError::Usage(format!(
                "mask bits {low}..{} (at most 64)",
                low as u64 + bits as u64
            )));
        }
        let request = Request::PackedMaskedBits {
            len: len as u64,
            low,
            bits,
        };
        let planes = words(len) * bits as usize;
        let dealt = self.fetch(parties, &request, Some(planes), phase)?;
        PackedMaskedBitsShare::from_dealt(&dealt, len, low, bits)
            .map_err(|e| self.malformed(parties, phase, e))
    }

    fn dabits(&mut self, parties: &mut PartySet, len: usize) -> Result<DaBitShare, MpcError> {
        let phase = "daBits from the dealer";
        let request = Request::DaBits { len: len as u64 };
        let dealt = self.fetch(parties, &request, Some(len), phase)?;
        DaBitShare::from_dealt(&dealt, len).map_err(|e| self.malformed(parties, phase, e))
    }

    fn trig_masks(
        &mut self,
        parties: &mut PartySet,
        len: usize,
        modulus_bits: u32,
        harmonics: usize,
        frac_bits: u32,
    ) -> Result<TrigMaskShare, MpcError> {
        let phase = "trigonometric masks from the dealer";
        if harmonics == 0 || harmonics > u32::MAX as usize {
            return Err(MpcError::Usage(format!("{harmonics} harmonics")));
        }
        let request = Request::TrigMasks {
            len: len as u64,
            modulus_bits,
            harmonics: harmonics as u32,
            frac_bits,
        };
        let dealt = self.fetch(parties, &request, Some(2 * harmonics * len), phase)?;
        TrigMaskShare::from_dealt(&dealt, len, harmonics)
            .map_err(|e| self.malformed(parties, phase, e))
    }

    fn bin_indicators(
        &mut self,
        parties: &mut PartySet,
        owner: usize,
        shape: &BinShape,
        indices: Option<ArrayView2<'_, u16>>,
    ) -> Result<IndicatorId, MpcError> {
        self.roster.index(owner)?;
        if self.roster.is_leader() {
            let request = Request::BinIndicators {
                owner: owner as u32,
                rows: shape.rows as u64,
                bins: shape.bins.clone(),
                shared_permutation: shape.permutations == Permutations::Shared,
            };
            send_msg(parties.channel(self.dealer)?, &request)?;
        }
        let ind = dealer_bins::client_register(
            parties,
            &self.roster,
            self.dealer,
            owner,
            shape,
            indices,
        )?;
        self.indicators.push(Some(ind));
        Ok(IndicatorId(self.indicators.len() as u32 - 1))
    }

    fn bin_sum_masks(
        &mut self,
        parties: &mut PartySet,
        id: IndicatorId,
        count: usize,
    ) -> Result<BinSumMasks, MpcError> {
        let ind = self
            .indicators
            .get(id.0 as usize)
            .and_then(Option::as_ref)
            .ok_or_else(|| MpcError::Usage(format!("no bin indicators {}", id.0)))?;
        dealer_bins::check_count(ind, count)?;
        if self.roster.is_leader() {
            let request = Request::BinSumMasks {
                indicator: id.0,
                count: count as u64,
            };
            send_msg(parties.channel(self.dealer)?, &request)?;
        }
        dealer_bins::client_masks(parties, &self.roster, self.dealer, ind, count)
    }

    fn release_bin_indicators(
        &mut self,
        parties: &mut PartySet,
        id: IndicatorId,
    ) -> Result<(), MpcError> {
        self.indicators
            .get_mut(id.0 as usize)
            .and_then(Option::take)
            .ok_or_else(|| MpcError::Usage(format!("no bin indicators {} to release", id.0)))?;
        if self.roster.is_leader() {
            let request = Request::ReleaseBinIndicators { indicator: id.0 };
            send_msg(parties.channel(self.dealer)?, &request)?;
        }
        Ok(())
    }

    fn finish(&mut self, parties: &mut PartySet) -> Result<(), MpcError> {
        if self.roster.is_leader() {
            send_msg(parties.channel(self.dealer)?, &Request::Done)?;
        }
        Ok(())
    }
}
