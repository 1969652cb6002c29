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
//!
//! [`Correlations`]: crate::correlations::Correlations

mod client;
mod serve;

pub use client::DealerClient;
pub use serve::{serve, serve_ordered};

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
        /// One permutation for all features
        /// ([`Permutations::Shared`](crate::correlations::Permutations::Shared)).
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
