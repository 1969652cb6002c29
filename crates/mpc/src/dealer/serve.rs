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
use indomain_core::dealer::{Dealer, LeftMask};
use indomain_net::PartySet;
use indomain_net::wire::recv_msg;
use rand::{CryptoRng, Rng};

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
