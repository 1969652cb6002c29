//! Correlations drawn in batches ahead of need: a [`Correlations`] that
//! wraps another and serves element-wise items (Beaver triples, AND
//! triples, daBits, masks with their packed bits) from batches of at least
//! [`Batch`] sizes.
//!
//! A protocol with many small sequential steps (a comparison's AND levels,
//! a tournament's products) otherwise asks the source for every step: with
//! a dealer, a request and a reply before each opening, which doubles the
//! latency of every round. With batches, a step that fits the batch costs
//! its opening only. Every computing party runs the same code and asks for
//! the same sizes in the same order, so the batches stay aligned without a
//! message; a request larger than the batch is fetched as it is.
//!
//! What each party learns: the same items as from the wrapped source. What
//! it costs: at most one unused batch of each kind at the end.

use crate::MpcError;
use crate::correlations::{
    BinShape, BinSumMasks, Correlations, IndicatorId, MaskId, MaskLayout, RightTriplePlan,
};
use indomain_core::beaver::TripleShare;
use indomain_core::bits::{BitTripleShare, DaBitShare, PackedMaskedBitsShare, words};
use indomain_core::dealer::MaskedBitsShare;
use indomain_core::matrix_triple::RightTripleShare;
use indomain_core::ring::RingMatrix;
use indomain_core::trig::TrigMaskShare;
use indomain_core::truncate::TruncationPairShare;
use indomain_net::PartySet;
use ndarray::ArrayView2;
use std::collections::HashMap;

/// The smallest batch drawn of each kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Batch {
    /// Beaver triples (elements).
    pub triples: usize,
    /// AND triples (64-gate words).
    pub bit_words: usize,
    /// daBits and masks with packed bits (elements, in whole words).
    pub bits: usize,
}

impl Default for Batch {
    /// 2^15 triples, 2^12 words of AND gates, 2^14 daBits and masks: a
    /// few MiB of items at a time.
    fn default() -> Self {
        Self {
            triples: 1 << 15,
            bit_words: 1 << 12,
            bits: 1 << 14,
        }
    }
}

/// A [`Correlations`] serving element-wise items from batches.
pub struct Prefetch<C> {
    inner: C,
    batch: Batch,
    triples: (TripleShare, usize),
    bit_triples: (BitTripleShare, usize),
    dabits: (DaBitShare, usize),
    masked: HashMap<(u32, u32), (PackedMaskedBitsShare, usize, usize)>,
}

fn empty_triples() -> TripleShare {
    TripleShare {
        a: Vec::new(),
        b: Vec::new(),
        c: Vec::new(),
    }
}

impl<C: Correlations> Prefetch<C> {
    /// Wraps `inner` with the given batch sizes.
    pub fn new(inner: C, batch: Batch) -> Self {
        Self {
            inner,
            batch,
            triples: (empty_triples(), 0),
            bit_triples: (
                BitTripleShare {
                    a: Vec::new(),
                    b: Vec::new(),
                    c: Vec::new(),
                },
                0,
            ),
            dabits: (
                DaBitShare {
                    bools: Vec::new(),
                    arith: Vec::new(),
                },
                0,
            ),
            masked: HashMap::new(),
        }
    }

    /// The wrapped source.
    pub fn into_inner(self) -> C {
        self.inner
    }
}

fn slice3(a: &[u64], b: &[u64], c: &[u64], at: usize, len: usize) -> [Vec<u64>; 3] {
    [
        a[at..at + len].to_vec(),
        b[at..at + len].to_vec(),
        c[at..at + len].to_vec(),
    ]
}

impl<C: Correlations> Correlations for Prefetch<C> {
    fn triples(&mut self, parties: &mut PartySet, len: usize) -> Result<TripleShare, MpcError> {
        let (buf, used) = &mut self.triples;
        if buf.c.len() - *used < len {
            if len >= self.batch.triples {
                return self.inner.triples(parties, len);
            }
            *buf = self.inner.triples(parties, self.batch.triples)?;
            *used = 0;
        }
        let [a, b, c] = slice3(&buf.a, &buf.b, &buf.c, *used, len);
        *used += len;
        Ok(TripleShare { a, b, c })
    }

    fn bit_triples(
        &mut self,
        parties: &mut PartySet,
        words_: usize,
    ) -> Result<BitTripleShare, MpcError> {
        let (buf, used) = &mut self.bit_triples;
        if buf.c.len() - *used < words_ {
            if words_ >= self.batch.bit_words {
                return self.inner.bit_triples(parties, words_);
            }
            *buf = self.inner.bit_triples(parties, self.batch.bit_words)?;
            *used = 0;
        }
        let [a, b, c] = slice3(&buf.a, &buf.b, &buf.c, *used, words_);
        *used += words_;
        Ok(BitTripleShare { a, b, c })
    }

    fn dabits(&mut self, parties: &mut PartySet, len: usize) -> Result<DaBitShare, MpcError> {
        let w = words(len);
        let (buf, used) = &mut self.dabits;
        if buf.bools.len() - *used < w {
            if 64 * w >= self.batch.bits {
                return self.inner.dabits(parties, len);
            }
            *buf = self.inner.dabits(parties, self.batch.bits)?;
            *used = 0;
        }
        let out = DaBitShare {
            bools: buf.bools[*used..*used + w].to_vec(),
            arith: buf.arith[64 * *used..64 * *used + len].to_vec(),
        };
        *used += w;
        Ok(out)
    }

    fn packed_masked_bits(
        &mut self,
        parties: &mut PartySet,
        len: usize,
        low: u32,
        bits: u32,
    ) -> Result<PackedMaskedBitsShare, MpcError> {
        let w = words(len);
        let batch = self.batch.bits;
        if 64 * w >= batch {
            return self.inner.packed_masked_bits(parties, len, low, bits);
        }
        let fits = self
            .masked
            .get(&(low, bits))
            .is_some_and(|(_, used, total)| total - used >= w);
        if !fits {
            let fresh = self.inner.packed_masked_bits(parties, batch, low, bits)?;
            self.masked.insert((low, bits), (fresh, 0, words(batch)));
        }
        let (buf, used, total) = self
            .masked
            .get_mut(&(low, bits))
            .ok_or_else(|| MpcError::Usage("prefetched masks vanished".into()))?;
        let mut planes = Vec::with_capacity(bits as usize * w);
        for j in 0..bits as usize {
            planes.extend_from_slice(&buf.planes[j * *total + *used..j * *total + *used + w]);
        }
        let out = PackedMaskedBitsShare {
            r: buf.r[64 * *used..64 * *used + len].to_vec(),
            planes,
        };
        *used += w;
        Ok(out)
    }

    fn left_mask(
        &mut self,
        parties: &mut PartySet,
        rows: usize,
        layout: &MaskLayout,
    ) -> Result<(MaskId, RingMatrix), MpcError> {
        self.inner.left_mask(parties, rows, layout)
    }

    fn right_triple(
        &mut self,
        parties: &mut PartySet,
        mask: MaskId,
        cols: usize,
        transposed: bool,
    ) -> Result<RightTripleShare, MpcError> {
        self.inner.right_triple(parties, mask, cols, transposed)
    }

    fn right_triple_square(
        &mut self,
        parties: &mut PartySet,
        mask: MaskId,
    ) -> Result<(RightTripleShare, u64), MpcError> {
        self.inner.right_triple_square(parties, mask)
    }

    fn truncation_pairs(
        &mut self,
        parties: &mut PartySet,
        len: usize,
        shift: u32,
    ) -> Result<TruncationPairShare, MpcError> {
        self.inner.truncation_pairs(parties, len, shift)
    }

    fn masked_bits(
        &mut self,
        parties: &mut PartySet,
        len: usize,
        bits: u32,
    ) -> Result<MaskedBitsShare, MpcError> {
        self.inner.masked_bits(parties, len, bits)
    }

    fn trig_masks(
        &mut self,
        parties: &mut PartySet,
        len: usize,
        modulus_bits: u32,
        harmonics: usize,
        frac_bits: u32,
    ) -> Result<TrigMaskShare, MpcError> {
        self.inner
            .trig_masks(parties, len, modulus_bits, harmonics, frac_bits)
    }

    fn bin_indicators(
        &mut self,
        parties: &mut PartySet,
        owner: usize,
        shape: &BinShape,
        indices: Option<ArrayView2<'_, u16>>,
    ) -> Result<IndicatorId, MpcError> {
        self.inner.bin_indicators(parties, owner, shape, indices)
    }

    fn bin_sum_masks(
        &mut self,
        parties: &mut PartySet,
        id: IndicatorId,
        count: usize,
    ) -> Result<BinSumMasks, MpcError> {
        self.inner.bin_sum_masks(parties, id, count)
    }

    fn release_bin_indicators(
        &mut self,
        parties: &mut PartySet,
        id: IndicatorId,
    ) -> Result<(), MpcError> {
        self.inner.release_bin_indicators(parties, id)
    }

    fn plan_right_triples(&mut self, mask: MaskId, plan: RightTriplePlan) {
        self.inner.plan_right_triples(mask, plan)
    }

    fn finish(&mut self, parties: &mut PartySet) -> Result<(), MpcError> {
        self.inner.finish(parties)
    }
}
