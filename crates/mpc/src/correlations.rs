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
//! random; see `indomain_core::dealer` for the dealer's view. Bin-sum masks
//! are the one item tied to a party's data: the owner's bins are
//! registered once ([`Correlations::bin_indicators`]) and every mask is
//! then a fresh random vector with shares of its per-bin sums; see
//! [`crate::bins`] for what the registration reveals.

use crate::MpcError;
use indomain_core::beaver::TripleShare;
use indomain_core::bits::{BitTripleShare, DaBitShare, PackedMaskedBitsShare};
use indomain_core::dealer::MaskedBitsShare;
use indomain_core::matrix_triple::RightTripleShare;
use indomain_core::ring::RingMatrix;
use indomain_core::trig::TrigMaskShare;
use indomain_core::truncate::TruncationPairShare;
use indomain_net::PartySet;
use ndarray::ArrayView2;

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

/// A bin-indicator matrix registered with a correlation source, named by
/// the order of registration (the same at every party).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndicatorId(pub u32);

/// Which of an owner's features share a permutation when bin-sum masks
/// are dealt (see [`crate::bins`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Permutations {
    /// One permutation per feature: the other computing parties learn
    /// nothing of the owner's bins. The dealer sends the owner one
    /// correction of about n·17/16 elements per feature and mask.
    #[default]
    PerFeature,
    /// One permutation for all the owner's features: one correction per
    /// mask instead of one per feature, but the other computing parties
    /// learn how the owner's features' blocks co-occur (the owner's joint
    /// bin structure, with rows and bin labels hidden).
    Shared,
}

/// The public shape of one owner's bin indices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinShape {
    /// Rows.
    pub rows: usize,
    /// The number of bins of each feature (indices run from 0 to bins − 1).
    pub bins: Vec<u16>,
    /// Which features share a permutation.
    pub permutations: Permutations,
}

/// A batch of bin-sum masks for one registered indicator matrix B (the
/// owner's features side by side): `count` fresh random vectors a_k of
/// `rows` elements, each held additively by the parties other than the
/// owner (the owner's part is zero), and shares of B_fᵀ·a_k for every
/// feature f.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BinSumMasks {
    /// This party's part of every a_k, `count × rows` (empty at the owner).
    pub mask: Vec<u64>,
    /// This party's share of every B_fᵀ·a_k, `count × Σ bins`, features
    /// side by side in each mask.
    pub sums: Vec<u64>,
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
    /// a default that refuses, for sources without them.
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

    /// Registers the bin indices held in the clear by the party of rank
    /// `owner` (rows × features, `Some` at the owner only; every party
    /// passes the same `shape`), for later [`bin_sum_masks`](Self::bin_sum_masks).
    /// A source that does not provide bin-sum masks refuses.
    fn bin_indicators(
        &mut self,
        parties: &mut PartySet,
        owner: usize,
        shape: &BinShape,
        indices: Option<ArrayView2<'_, u16>>,
    ) -> Result<IndicatorId, MpcError> {
        let _ = (parties, owner, shape, indices);
        Err(MpcError::Usage(
            "this correlation source does not provide bin-sum masks".into(),
        ))
    }

    /// `count` bin-sum masks for the indicators registered as `id`.
    fn bin_sum_masks(
        &mut self,
        parties: &mut PartySet,
        id: IndicatorId,
        count: usize,
    ) -> Result<BinSumMasks, MpcError> {
        let _ = (parties, id, count);
        Err(MpcError::Usage(
            "this correlation source does not provide bin-sum masks".into(),
        ))
    }

    /// Forgets the indicators registered as `id`: no more masks will be
    /// asked for them, and the source may drop what it keeps for them (a
    /// protocol that registers many short-lived indicator matrices, such
    /// as trees with the instance space leaked, keeps its memory and the
    /// dealer's room bounded). A source without bin-sum masks has none to
    /// forget.
    fn release_bin_indicators(
        &mut self,
        parties: &mut PartySet,
        id: IndicatorId,
    ) -> Result<(), MpcError> {
        let _ = (parties, id);
        Ok(())
    }

    /// Announces how many one-column right triples the job will ask for
    /// against mask `mask` ([`RightTriplePlan`]), so that a source may
    /// generate them in batches ahead of need; the requests themselves do
    /// not change. Every computing party announces the same plan at the
    /// same point. The two-party generator uses it (one round of messages
    /// for a batch, both parties computing at once); the dealer ignores
    /// it, the default.
    fn plan_right_triples(&mut self, mask: MaskId, plan: RightTriplePlan) {
        let _ = (mask, plan);
    }

    /// Tells the source that no more items will be asked for.
    fn finish(&mut self, parties: &mut PartySet) -> Result<(), MpcError>;
}

/// The one-column right triples a job will ask for against one mask.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RightTriplePlan {
    /// Calls of [`Correlations::right_triple`] with one column, not
    /// transposed (X·y).
    pub forward: usize,
    /// Calls of [`Correlations::right_triple_square`] (Xᵀ·y with Σ y²).
    pub squares: usize,
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

    fn bin_indicators(
        &mut self,
        parties: &mut PartySet,
        owner: usize,
        shape: &BinShape,
        indices: Option<ArrayView2<'_, u16>>,
    ) -> Result<IndicatorId, MpcError> {
        (**self).bin_indicators(parties, owner, shape, indices)
    }

    fn bin_sum_masks(
        &mut self,
        parties: &mut PartySet,
        id: IndicatorId,
        count: usize,
    ) -> Result<BinSumMasks, MpcError> {
        (**self).bin_sum_masks(parties, id, count)
    }

    fn release_bin_indicators(
        &mut self,
        parties: &mut PartySet,
        id: IndicatorId,
    ) -> Result<(), MpcError> {
        (**self).release_bin_indicators(parties, id)
    }

    fn plan_right_triples(&mut self, mask: MaskId, plan: RightTriplePlan) {
        (**self).plan_right_triples(mask, plan)
    }

    fn finish(&mut self, parties: &mut PartySet) -> Result<(), MpcError> {
        (**self).finish(parties)
    }
}
