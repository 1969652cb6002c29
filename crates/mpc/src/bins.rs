//! Per-bin sums over a party's private bins: the histogram kernel of
//! gradient-boosted trees and of WOE/IV binning.
//!
//! A party (the **owner**) holds, in the clear, a bin index per row and
//! feature: for feature f a one-hot matrix B_f of rows × bins_f. For shared
//! vectors v_1 … v_K (gradients of a node, the labels, …) the computing
//! parties get shares of B_fᵀ·v_k for every feature: the sum of v_k over
//! the rows of each bin.
//!
//! **Online** ([`Session::bin_sums`]): every other party j sends the owner
//! its share of each v_k minus a fresh mask a_kj (one round, n elements per
//! vector); the owner adds its own share, sums the masked vectors per bin
//! (n·F additions per vector) and adds its share of B_fᵀ·a_k; the others
//! keep their shares of B_fᵀ·a_k. Correct because
//! B_fᵀ·v = B_fᵀ·(v − a) + B_fᵀ·a.
//!
//! **Offline**: the shares of B_fᵀ·a_k are bin-sum masks from the
//! [`Correlations`] source ([`Correlations::bin_sum_masks`]), against the
//! owner's bins registered once ([`Session::fix_bins`]). They do not
//! depend on the vectors and can be drawn ahead of them. With the dealer
//! (`crate::dealer_bins`) a mask costs, per feature, one dealt vector of
//! about n·17/16 elements to the owner and n·17/16 AES-expanded elements
//! at every other party, and nothing dense: no step costs rows × bins.
//!
//! What each party learns: the owner, the masked vectors v_k − a_k
//! (uniformly random); the others, what registration sends them (uniformly
//! random given the public block sizes, see `crate::dealer_bins`, except
//! with [`Permutations::Shared`](crate::correlations::Permutations)); the
//! dealer, the shape. The sums stay shared: open them, compare them or
//! feed them on as the protocol above needs.

use crate::MpcError;
use crate::correlations::{BinShape, Correlations, IndicatorId};
use crate::open::{recv_each, send_all};
use crate::session::Session;
use crate::shared::Shared;
use indomain_core::binsum::histograms;
use ndarray::ArrayView2;

/// An owner's bins, registered with the correlation source.
#[derive(Debug, Clone)]
pub struct FixedBins {
    id: IndicatorId,
    owner: usize,
    rows: usize,
    offsets: Vec<usize>,
    total_bins: usize,
    /// The owner's indices, rows × features row-major (empty elsewhere).
    indices: Vec<u16>,
}

impl FixedBins {
    /// The owner's rank.
    pub fn owner(&self) -> usize {
        self.owner
    }

    /// Rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Σ bins over the features: the length of one vector's sums.
    pub fn total_bins(&self) -> usize {
        self.total_bins
    }

    /// The first sum of each feature within one vector's sums.
    pub fn offsets(&self) -> &[usize] {
        &self.offsets
    }
}

impl<C: Correlations> Session<'_, C> {
    /// Registers the bins of the party of rank `owner`: it passes its
    /// indices (rows × features, each below the feature's bin count in
    /// `shape`), every other party `None`; all pass the same `shape`.
    pub fn fix_bins(
        &mut self,
        owner: usize,
        shape: &BinShape,
        indices: Option<ArrayView2<'_, u16>>,
    ) -> Result<FixedBins, MpcError> {
        if shape.bins.is_empty() || shape.rows == 0 {
            return Err(MpcError::Usage(
                "bin indicators need at least one row and one feature".into(),
            ));
        }
        let mine = self.rank() == owner;
        let own = match (mine, indices) {
            (true, Some(ix)) => {
                if ix.dim() != (shape.rows, shape.bins.len()) {
                    return Err(MpcError::Usage(format!(
                        "bin indices of shape {:?} for {} rows × {} features",
                        ix.dim(),
                        shape.rows,
                        shape.bins.len()
                    )));
                }
                for (f, column) in ix.columns().into_iter().enumerate() {
                    if let Some(i) = column.iter().position(|&b| b >= shape.bins[f]) {
                        return Err(MpcError::Usage(format!(
                            "row {i}, feature {f}: bin {} of a feature with {} bins",
                            column[i], shape.bins[f]
                        )));
                    }
                }
                ix.as_standard_layout().iter().copied().collect()
            }
            (true, None) => {
                return Err(MpcError::Usage(
                    "the owner of bin indicators passes them".into(),
                ));
            }
            (false, Some(_)) => {
                return Err(MpcError::Usage("only the owner passes bin indices".into()));
            }
            (false, None) => Vec::new(),
        };
        let (parties, corr, _) = self.parts();
        let view = if mine {
            Some(
                ArrayView2::from_shape((shape.rows, shape.bins.len()), &own)
                    .map_err(|e| MpcError::Usage(e.to_string()))?,
            )
        } else {
            None
        };
        let id = corr.bin_indicators(parties, owner, shape, view)?;
        let mut offsets = Vec::with_capacity(shape.bins.len());
        let mut total_bins = 0;
        for &b in &shape.bins {
            offsets.push(total_bins);
            total_bins += b as usize;
        }
        Ok(FixedBins {
            id,
            owner,
            rows: shape.rows,
            offsets,
            total_bins,
            indices: own,
        })
    }

    /// Forgets registered bins: the correlation source drops what it keeps
    /// for them (every party calls it at the same point).
    pub fn release_bins(&mut self, bins: FixedBins) -> Result<(), MpcError> {
        let (parties, corr, _) = self.parts();
        corr.release_bin_indicators(parties, bins.id)
    }

    /// Shares of the per-bin sums of every vector in `vectors` (each
    /// `rows` long) over the owner's bins: one [`Shared`] of
    /// [`total_bins`](FixedBins::total_bins) elements per vector, features
    /// side by side. A vector private to one party is passed as that
    /// party's values and zeros elsewhere.
    pub fn bin_sums(
        &mut self,
        bins: &FixedBins,
        vectors: &[Shared],
    ) -> Result<Vec<Shared>, MpcError> {
        let (n, k) = (bins.rows, vectors.len());
        if let Some(v) = vectors.iter().find(|v| v.len() != n) {
            return Err(MpcError::Usage(format!(
                "bin sums over {n} rows of a vector of {} elements",
                v.len()
            )));
        }
        if k == 0 {
            return Ok(Vec::new());
        }
        let owner_index = self.roster().index(bins.owner)?;
        let mine = self.rank() == bins.owner;
        let (parties, corr, roster) = self.parts();
        let masks = corr.bin_sum_masks(parties, bins.id, k)?;
        let sums = |k: usize| &masks.sums[k * bins.total_bins..(k + 1) * bins.total_bins];
        if !mine {
            let mut masked = Vec::with_capacity(k * n);
            for (v, a) in vectors.iter().zip(masks.mask.chunks_exact(n)) {
                masked.extend(v.0.iter().zip(a).map(|(x, a)| x.wrapping_sub(*a)));
            }
            send_all(parties.channel(owner_index)?, &masked)?;
            return Ok((0..k).map(|k| Shared(sums(k).to_vec())).collect());
        }
        let mut w: Vec<u64> = vectors.iter().flat_map(|v| v.0.iter().copied()).collect();
        for &j in roster.computing() {
            if j == owner_index {
                continue;
            }
            recv_each(parties.channel(j)?, k * n, |at, got| {
                for (x, g) in w[at..].iter_mut().zip(got) {
                    *x = x.wrapping_add(g);
                }
            })?;
        }
        let views: Vec<&[u64]> = w.chunks_exact(n).collect();
        let hist = histograms(&bins.indices, n, &bins.offsets, bins.total_bins, &views);
        Ok(hist
            .into_iter()
            .enumerate()
            .map(|(k, mut h)| {
                for (x, z) in h.iter_mut().zip(sums(k)) {
                    *x = x.wrapping_add(*z);
                }
                Shared(h)
            })
            .collect())
    }
}
