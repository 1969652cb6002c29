//! Correlated randomness, behind one trait.
//!
//! Every multiplication of the layer consumes items that are random but
//! correlated across the computing parties: Beaver triples, left masks and
//! right triples for matrix products, truncation pairs, masks with their
//! bits for comparisons (as ring elements, or packed 64 to a word with
//! packed AND triples and daBits), masks with their sines and cosines for
//! Fourier series. Training code asks
//! a [`Correlations`] for them and never knows where they come from. The
//! first implementation is [`DealerClient`](crate::dealer::DealerClient): a
//! dealer party that holds no data and sees no shares deals them with seed
//! compression. An implementation that generates them between the
//! computing parties themselves is [`TwoParty`](crate::twoparty::TwoParty)
//! (correlated OT, two computing parties and no dealer): it gets the same
//! [`PartySet`] and returns the same share types, so training code does not
//! change.
//!
//! What each party learns from an item: its own shares, which are uniformly
//! random; see `indomain_core::dealer` for the dealer's view.

use crate::MpcError;
use indomain_core::beaver::TripleShare;
use indomain_core::bits::{BitTripleShare, DaBitShare, PackedMaskedBitsShare};
use indomain_core::dealer::MaskedBitsShare;
use indomain_core::matrix_triple::RightTripleShare;
use indomain_core::ring::RingMatrix;
use indomain_core::trig::TrigMaskShare;
use indomain_core::truncate::TruncationPairShare;
use indomain_net::PartySet;

/// A left mask, named by the order in which it was requested (the same at
/// every party).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaskId(pub u32);

/// How a left mask U (rows × inner) is shared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MaskLayout {
    /// Every party holds an additive share of all of U (SecureML).
    Shared {
        /// Columns of U.
        inner: usize,
    },
    /// Column block k (`widths[k]` columns, blocks side by side in rank
    /// order) is known to the party of rank k alone: for a matrix whose
    /// block k that party holds in the clear.
    Blocks {
        /// Columns of each rank's block.
        widths: Vec<usize>,
    },
}

impl MaskLayout {
    /// The number of columns of U.
    pub fn inner(&self) -> usize {
        match self {
            MaskLayout::Shared { inner } => *inner,
            MaskLayout::Blocks { widths } => widths.iter().sum(),
        }
    }
}

/// A source of correlated randomness for the computing parties. Every
/// computing party calls the same methods with the same arguments in the
/// same order.
pub trait Correlations {
    /// `len` element-wise Beaver triples.
    fn triples(&mut self, parties: &mut PartySet, len: usize) -> Result<TripleShare, MpcError>;

    /// A left mask U of `rows` rows laid out as `layout`. Returns its name
    /// and this party's share: rows × inner for [`MaskLayout::Shared`],
    /// rows × `widths[rank]` (its own block) for [`MaskLayout::Blocks`].
    fn left_mask(
        &mut self,
        parties: &mut PartySet,
        rows: usize,
        layout: &MaskLayout,
    ) -> Result<(MaskId, RingMatrix), MpcError>;

    /// A right triple (V, W = U·V) against mask `mask` with `cols` columns;
    /// with `transposed`, (V, W = Uᵀ·V) instead.
    fn right_triple(
        &mut self,
        parties: &mut PartySet,
        mask: MaskId,
        cols: usize,
        transposed: bool,
    ) -> Result<RightTripleShare, MpcError>;

    /// A one-column right triple against Uᵀ for mask `mask`, with this
    /// party's share of ‖V‖²: lets Xᵀ·y also give Σ y_i² from the same
    /// opening of y − V.
    fn right_triple_square(
        &mut self,
        parties: &mut PartySet,
        mask: MaskId,
    ) -> Result<(RightTripleShare, u64), MpcError>;

    /// `len` truncation pairs (r, r >> `shift`).
    fn truncation_pairs(
        &mut self,
        parties: &mut PartySet,
        len: usize,
        shift: u32,
    ) -> Result<TruncationPairShare, MpcError>;

    /// `len` masks r uniform in Z_2^64 with shares of their low `bits`
    /// bits (0 or 1 in the ring, bit-major): what [`crate::compare`]
    /// consumes.
    fn masked_bits(
        &mut self,
        parties: &mut PartySet,
        len: usize,
        bits: u32,
    ) -> Result<MaskedBitsShare, MpcError>;

    /// AND triples for `words` packed words (64 gates a word), XOR-shared:
    /// what [`crate::bits`] consumes. This and the three items below have
    /// a default that refuses, for sources without them (the two-party
    /// generator today).
    fn bit_triples(
        &mut self,
        parties: &mut PartySet,
        words: usize,
    ) -> Result<BitTripleShare, MpcError> {
        let _ = (parties, words);
        Err(MpcError::Usage(
            "this correlation source does not provide packed AND triples".into(),
        ))
    }

    /// `len` masks r uniform in Z_2^64 (additive shares) with XOR shares of
    /// their bits `low`..`low` + `bits`, packed plane by plane: what
    /// [`crate::compare_bits`] consumes.
    fn packed_masked_bits(
        &mut self,
        parties: &mut PartySet,
        len: usize,
        low: u32,
        bits: u32,
    ) -> Result<PackedMaskedBitsShare, MpcError> {
        let _ = (parties, len, low, bits);
        Err(MpcError::Usage(
            "this correlation source does not provide packed masked bits".into(),
        ))
    }

    /// `len` random bits shared both as packed XOR shares and additively
    /// in the ring: what converts boolean shares to arithmetic ones.
    fn dabits(&mut self, parties: &mut PartySet, len: usize) -> Result<DaBitShare, MpcError> {
        let _ = (parties, len);
        Err(MpcError::Usage(
            "this correlation source does not provide daBits".into(),
        ))
    }

    /// `len` masks r uniform in Z_2^64 with shares of cos(m·φ_r) and
    /// sin(m·φ_r), m = 1..=`harmonics`, φ_r = 2π·(r mod 2^`modulus_bits`) /
    /// 2^`modulus_bits`, encoded with `frac_bits` fractional bits: what
    /// [`crate::fourier`] consumes.
    fn trig_masks(
        &mut self,
        parties: &mut PartySet,
        len: usize,
        modulus_bits: u32,
        harmonics: usize,
        frac_bits: u32,
    ) -> Result<TrigMaskShare, MpcError> {
        let _ = (parties, len, modulus_bits, harmonics, frac_bits);
        Err(MpcError::Usage(
            "this correlation source does not provide trigonometric masks".into(),
        ))
    }

    /// Tells the source that no more items will be asked for.
    fn finish(&mut self, parties: &mut PartySet) -> Result<(), MpcError>;
}

/// A boxed source is a source: code that picks the dealer or the two-party
/// generator at run time holds a `Box<dyn Correlations>`.
impl<C: Correlations + ?Sized> Correlations for Box<C> {
    fn triples(&mut self, parties: &mut PartySet, len: usize) -> Result<TripleShare, MpcError> {
        (**self).triples(parties, len)
    }

    fn left_mask(
        &mut self,
        parties: &mut PartySet,
        rows: usize,
        layout: &MaskLayout,
    ) -> Result<(MaskId, RingMatrix), MpcError> {
        (**self).left_mask(parties, rows, layout)
    }

    fn right_triple(
        &mut self,
        parties: &mut PartySet,
        mask: MaskId,
        cols: usize,
        transposed: bool,
    ) -> Result<RightTripleShare, MpcError> {
        (**self).right_triple(parties, mask, cols, transposed)
    }

    fn right_triple_square(
        &mut self,
        parties: &mut PartySet,
        mask: MaskId,
    ) -> Result<(RightTripleShare, u64), MpcError> {
        (**self).right_triple_square(parties, mask)
    }

    fn truncation_pairs(
        &mut self,
        parties: &mut PartySet,
        len: usize,
        shift: u32,
    ) -> Result<TruncationPairShare, MpcError> {
        (**self).truncation_pairs(parties, len, shift)
    }

    fn masked_bits(
        &mut self,
        parties: &mut PartySet,
        len: usize,
        bits: u32,
    ) -> Result<MaskedBitsShare, MpcError> {
        (**self).masked_bits(parties, len, bits)
    }

    fn bit_triples(
        &mut self,
        parties: &mut PartySet,
        words: usize,
    ) -> Result<BitTripleShare, MpcError> {
        (**self).bit_triples(parties, words)
    }

    fn packed_masked_bits(
        &mut self,
        parties: &mut PartySet,
        len: usize,
        low: u32,
        bits: u32,
    ) -> Result<PackedMaskedBitsShare, MpcError> {
        (**self).packed_masked_bits(parties, len, low, bits)
    }

    fn dabits(&mut self, parties: &mut PartySet, len: usize) -> Result<DaBitShare, MpcError> {
        (**self).dabits(parties, len)
    }

    fn trig_masks(
        &mut self,
        parties: &mut PartySet,
        len: usize,
        modulus_bits: u32,
        harmonics: usize,
        frac_bits: u32,
    ) -> Result<TrigMaskShare, MpcError> {
        (**self).trig_masks(parties, len, modulus_bits, harmonics, frac_bits)
    }

    fn finish(&mut self, parties: &mut PartySet) -> Result<(), MpcError> {
        (**self).finish(parties)
    }
}
