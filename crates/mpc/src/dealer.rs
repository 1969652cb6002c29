//! The dealer as a [`Correlations`] source: a party of the set that holds
//! no data, sees no shares, and deals seed-compressed items with
//! `indomain_core::dealer`.
//!
//! Protocol: for every item, the leader sends the dealer a [`Request`] (a
//! shape, never a value); the dealer deals it and sends every computing
//! party, in rank order, its `DealtShare` as one frame (16 bytes, plus the
//! explicit product share for the leader). The other computing parties do
//! not send requests: they run the same code and know which item comes
//! next, and every frame is checked against the length they expect. A
//! [`Request::Done`] ends the dealer's loop.
//!
//! What each party learns: the dealer learns the shapes and the number of
//! items, nothing of any value; a computing party learns its own shares of
//! uniformly random masks. Security assumes the dealer colludes with no
//! computing party (see docs/threat-model.md): it knows every mask.
//!
//! The dealer keeps every left mask it dealt (to deal right triples
//! against it), so it bounds what a request may cost: [`DealerLimits`].
//!
//! Bin-sum masks ([`Request::BinIndicators`], [`Request::BinSumMasks`])
//! travel differently: registration sends the owner one seed, and each
//! mask sends every other party a seed and the owner its corrections as
//! several frames (`crate::dealer_bins` describes them).

use crate::MpcError;
use crate::correlations::{
    BinShape, BinSumMasks, Correlations, IndicatorId, MaskId, MaskLayout, Permutations,
};
use crate::dealer_bins::{self, ClientIndicator, ServerIndicator};
use crate::error::core;
use crate::roster::{LEADER, Roster};
use indomain_core::beaver::TripleShare;
use indomain_core::bits::{BitTripleShare, DaBitShare, PackedMaskedBitsShare, words};
use indomain_core::dealer::{Dealer, DealtShare, LeftMask, MaskedBitsShare};
use indomain_core::matrix_triple::{LeftMaskShare, RightTripleShare};
use indomain_core::ring::RingMatrix;
use indomain_core::trig::TrigMaskShare;
use indomain_core::truncate::TruncationPairShare;
use indomain_net::PartySet;
use indomain_net::wire::{recv_msg, send_msg};
use ndarray::ArrayView2;
use rand::{CryptoRng, Rng};
use serde::{Deserialize, Serialize};

/// What the leader asks the dealer for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// `len` Beaver triples.
    Triples {
        /// Number of triples.
        len: u64,
    },
    /// A left mask of `rows` rows; `widths` empty for a shared mask of
    /// `inner` columns, otherwise one block width per computing party.
    LeftMask {
        /// Rows of U.
        rows: u64,
        /// Columns of U.
        inner: u64,
        /// Block widths in rank order (empty: shared layout).
        widths: Vec<u64>,
    },
    /// A right triple against a mask dealt earlier.
    RightTriple {
        /// The mask, by request order.
        mask: u32,
        /// Columns of V.
        cols: u64,
        /// Against Uᵀ instead of U.
        transposed: bool,
    },
    /// A one-column right triple against Uᵀ with shares of ‖V‖².
    RightTripleSquare {
        /// The mask, by request order.
        mask: u32,
    },
    /// `len` truncation pairs for a shift of `shift` bits.
    TruncationPairs {
        /// Number of pairs.
        len: u64,
        /// Bits shifted.
        shift: u32,
    },
    /// `len` masks with their low `bits` bits.
    MaskedBits {
        /// Number of masks.
        len: u64,
        /// Bits of each mask (at most 64).
        bits: u32,
    },
    /// AND triples for `words` packed words.
    BitTriples {
        /// Words of 64 gates.
        words: u64,
    },
    /// `len` masks with XOR shares of their bits low..low + bits, packed.
    PackedMaskedBits {
        /// Number of masks.
        len: u64,
        /// The lowest bit dealt.
        low: u32,
        /// Bits dealt (low + bits ≤ 64).
        bits: u32,
    },
    /// `len` bits shared both as packed XOR shares and in the ring.
    DaBits {
        /// Number of bits.
        len: u64,
    },
    /// `len` masks with shares of their first `harmonics` cosines and
    /// sines for the modulus 2^`modulus_bits`.
    TrigMasks {
        /// Number of masks.
        len: u64,
        /// The modulus of the angle, in bits (1 to 64).
        modulus_bits: u32,
        /// Harmonics (at least 1).
        harmonics: u32,
        /// Fractional bits of the values.
        frac_bits: u32,
    },
    /// No more requests.
    Done,
    /// Registers the bin indices of the computing party of rank `owner`
    /// (a shape: the dealer learns no bin).
    BinIndicators {
        /// The owner's rank.
        owner: u32,
        /// Rows.
        rows: u64,
        /// Bins of each feature.
        bins: Vec<u16>,
        /// One permutation for all features ([`Permutations::Shared`]).
        shared_permutation: bool,
    },
    /// `count` bin-sum masks for indicators registered earlier.
    BinSumMasks {
        /// The indicators, by registration order.
        indicator: u32,
        /// Number of masks.
        count: u64,
    },
    /// Forgets indicators registered earlier: no more masks for them.
    ReleaseBinIndicators {
        /// The indicators, by registration order.
        indicator: u32,
    },
}

/// What a dealer accepts: requests above these are refused, so that no
/// request can make it allocate without bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DealerLimits {
    /// Elements of one dealt item (a product share travels as one frame:
    /// 2^23 elements is 64 MiB, the default frame limit).
    pub max_item_elements: usize,
    /// Elements of all left masks kept together.
    pub max_mask_elements: usize,
}

impl Default for DealerLimits {
    fn default() -> Self {
        Self {
            max_item_elements: 1 << 23,
            max_mask_elements: 1 << 28,
        }
    }
}

/// What a dealer did, for progress reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DealerReport {
    /// Items dealt.
    pub items: u64,
}

fn too_big(peer: &str, what: &str, got: u128, max: usize) -> MpcError {
    MpcError::Refused {
        peer: peer.to_string(),
        reason: format!("{what} of {got} elements exceeds the limit of {max}"),
    }
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
    let dealer = Dealer::new(computing.len()).map_err(core("dealer setup"))?;
    let leader = computing[LEADER];
    let leader_name = parties.name(leader).to_string();
    let mut masks: Vec<LeftMask> = Vec::new();
    // Released indicators leave `None`: ids stay registration order.
    let mut indicators: Vec<Option<ServerIndicator>> = Vec::new();
    let mut kept = 0usize;
    let mut report = DealerReport::default();
    let check = |what: &str, elements: u128, max: usize| {
        if elements > max as u128 {
            Err(too_big(&leader_name, what, elements, max))
        } else {
            Ok(elements as usize)
        }
    };
    loop {
        let request: Request = recv_msg(parties.channel(leader)?)?;
        let shares = match request {
            Request::Done => return Ok(report),
            Request::BinIndicators {
                owner,
                rows,
                bins,
                shared_permutation,
            } => {
                let room = (limits.max_mask_elements as u128).saturating_sub(kept as u128);
                let indicator = dealer_bins::register(
                    parties,
                    computing,
                    &leader_name,
                    owner,
                    rows,
                    &bins,
                    shared_permutation,
                    room,
                    rng,
                )?;
                kept += indicator.kept() as usize;
                indicators.push(Some(indicator));
                report.items += 1;
                continue;
            }
            Request::BinSumMasks { indicator, count } => {
                let Some(Some(ind)) = indicators.get(indicator as usize) else {
                    return Err(MpcError::Refused {
                        peer: leader_name,
                        reason: format!("no bin indicators {indicator}"),
                    });
                };
                dealer_bins::deal_masks(parties, ind, count, limits, &leader_name, rng)?;
                report.items += 1;
                continue;
            }
            Request::ReleaseBinIndicators { indicator } => {
                let Some(ind) = indicators
                    .get_mut(indicator as usize)
                    .and_then(Option::take)
                else {
                    return Err(MpcError::Refused {
                        peer: leader_name,
                        reason: format!("no bin indicators {indicator} to release"),
                    });
                };
                kept -= ind.kept() as usize;
                continue;
            }
            Request::Triples { len } => {
                let len = check("triples", 3 * len as u128, limits.max_item_elements)? / 3;
                dealer.triples(len, rng)
            }
            Request::LeftMask {
                rows,
                inner,
                widths,
            } => {
                let elements = check(
                    "left masks",
                    rows as u128 * inner as u128 + kept as u128,
                    limits.max_mask_elements,
                )?;
                let (rows, inner) = (rows as usize, inner as usize);
                let (mask, shares) = if widths.is_empty() {
                    dealer.left_mask(rows, inner, rng)
                } else {
                    // Checked: widths that wrap around must not pass for
                    // the mask's columns.
                    let refuse = |reason: String| MpcError::Refused {
                        peer: leader_name.clone(),
                        reason,
                    };
                    let widths = widths
                        .iter()
                        .map(|&w| usize::try_from(w))
                        .collect::<Result<Vec<usize>, _>>()
                        .map_err(|_| refuse("a block width does not fit this machine".into()))?;
                    let columns = indomain_core::dealer::block_columns(rows, &widths)
                        .map_err(|e| refuse(e.to_string()))?;
                    if columns != inner {
                        return Err(refuse(
                            "block widths do not add up to the mask's columns".into(),
                        ));
                    }
                    dealer
                        .left_mask_blocks(rows, &widths, rng)
                        .map_err(core("dealing a left mask"))?
                };
                kept = elements;
                masks.push(mask);
                shares
            }
            Request::RightTriple {
                mask,
                cols,
                transposed,
            } => {
                let Some(left) = masks.get(mask as usize) else {
                    return Err(MpcError::Refused {
                        peer: leader_name,
                        reason: format!("no left mask {mask}"),
                    });
                };
                let (rows, inner) = left.dim();
                let (rows, inner) = if transposed {
                    (inner, rows)
                } else {
                    (rows, inner)
                };
                let cols = cols as u128;
                check(
                    "right triple",
                    (rows as u128 + inner as u128) * cols,
                    limits.max_item_elements,
                )?;
                if transposed {
                    dealer.right_triple_transposed(left, cols as usize, rng)
                } else {
                    dealer.right_triple(left, cols as usize, rng)
                }
            }
            Request::RightTripleSquare { mask } => {
                let Some(left) = masks.get(mask as usize) else {
                    return Err(MpcError::Refused {
                        peer: leader_name,
                        reason: format!("no left mask {mask}"),
                    });
                };
                let (rows, inner) = left.dim();
                check(
                    "right triple",
                    rows as u128 + inner as u128 + 1,
                    limits.max_item_elements,
                )?;
                dealer.right_triple_transposed_square(left, rng)
            }
            Request::TruncationPairs { len, shift } => {
                let len = check(
                    "truncation pairs",
                    2 * len as u128,
                    limits.max_item_elements,
                )? / 2;
                dealer
                    .truncation_pairs(len, shift, rng)
                    .map_err(core("dealing truncation pairs"))?
            }
            Request::MaskedBits { len, bits } => {
                let len = check(
                    "masked bits",
                    len as u128 * (u128::from(bits) + 1),
                    limits.max_item_elements,
                )? / (bits as usize).saturating_add(1);
                dealer
                    .masked_bits(len, bits, rng)
                    .map_err(|e| MpcError::Refused {
                        peer: leader_name.clone(),
                        reason: e.to_string(),
                    })?
            }
            Request::BitTriples { words } => {
                let words = check("AND triples", 3 * words as u128, limits.max_item_elements)? / 3;
                dealer.bit_triples(words, rng)
            }
            Request::PackedMaskedBits { len, low, bits } => {
                let planes = (len as u128).div_ceil(64) * bits as u128;
                check(
                    "packed masked bits",
                    len as u128 + planes,
                    limits.max_item_elements,
                )?;
                dealer
                    .packed_masked_bits(len as usize, low, bits, rng)
                    .map_err(|e| MpcError::Refused {
                        peer: leader_name.clone(),
                        reason: e.to_string(),
                    })?
            }
            Request::DaBits { len } => {
                let len = check("daBits", 2 * len as u128, limits.max_item_elements)? / 2;
                dealer.dabits(len, rng)
            }
            Request::TrigMasks {
                len,
                modulus_bits,
                harmonics,
                frac_bits,
            } => {
                check(
                    "trigonometric masks",
                    len as u128 * (2 * harmonics as u128 + 1),
                    limits.max_item_elements,
                )?;
                dealer
                    .trig_masks(
                        len as usize,
                        modulus_bits,
                        harmonics as usize,
                        frac_bits,
                        rng,
                    )
                    .map_err(|e| MpcError::Refused {
                        peer: leader_name.clone(),
                        reason: e.to_string(),
                    })?
            }
        };
        for (share, &party) in shares.iter().zip(computing) {
            parties.channel(party)?.send(&share.to_bytes())?;
        }
        report.items += 1;
    }
}

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
