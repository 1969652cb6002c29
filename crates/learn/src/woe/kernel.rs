//! The one kernel a WOE job needs from the shared arithmetic: the sums of
//! a shared vector over each bin of one party's features (its private bin
//! indicators times the vector). Gradient-boosted trees need the same
//! kernel for their histograms; it is built once in `indomain_mpc`, and a
//! WOE job reaches it through this trait so that the protocol does not
//! depend on how it is computed.

use crate::LearnError;
use crate::binning::BinIndex;
use indomain_mpc::{Correlations, Session, Shared};

/// Sums of a shared vector over the bins of one party's features.
pub trait BinSums {
    /// Shares of Σ_r v_r·[bin_f(r) = b] for every feature f of the party
    /// `owner` (a set index) and every bin b (features in order, bins in
    /// order; `sizes` gives every feature's bins). `bins` is each row's bin
    /// per feature at the owner and `None` elsewhere; `v` is shared among
    /// the session's computing parties. Every computing party calls it
    /// with the same `owner`, `sizes` and vector length.
    fn bin_sums(
        &mut self,
        s: &mut Session<'_, Box<dyn Correlations>>,
        owner: usize,
        bins: Option<&[BinIndex]>,
        sizes: &[usize],
        v: &Shared,
    ) -> Result<Shared, LearnError>;
}

/// The kernel of `indomain_mpc::bins` with correlations from the dealer
/// or the two computing parties ([`indomain_mpc::TwoParty`]):
/// the owner's bins registered once per call, the vector's masked shares
/// sent to the owner once, summed per bin locally. What each party learns
/// and what it costs: `indomain_mpc::bins` and docs/protocols.md ("Bin
/// sums").
#[derive(Debug, Clone, Copy, Default)]
pub struct MpcKernel {
    /// One dealer permutation per feature (the default: the other parties
    /// learn nothing of the owner's bins) or one for all its features.
    pub permutations: indomain_mpc::correlations::Permutations,
}

impl BinSums for MpcKernel {
    fn bin_sums(
        &mut self,
        s: &mut Session<'_, Box<dyn Correlations>>,
        owner: usize,
        bins: Option<&[BinIndex]>,
        sizes: &[usize],
        v: &Shared,
    ) -> Result<Shared, LearnError> {
        let rank = s.roster().rank_of(owner)?;
        let rows = v.len();
        let shape = indomain_mpc::correlations::BinShape {
            rows,
            bins: sizes
                .iter()
                .map(|&k| {
                    u16::try_from(k).map_err(|_| {
                        LearnError::Params(format!("a feature of {k} bins (at most 65,535)"))
                    })
                })
                .collect::<Result<_, _>>()?,
            permutations: self.permutations,
        };
        let indices = bins
            .map(|bins| {
                if bins.len() != sizes.len() || bins.iter().any(|b| b.len() != rows) {
                    return Err(LearnError::Input(
                        "one bin index of every row per feature".into(),
                    ));
                }
                let features = bins.len();
                let mut flat = vec![0u16; rows * features];
                for (f, b) in bins.iter().enumerate() {
                    for r in 0..rows {
                        flat[r * features + f] = b.get(r) as u16;
                    }
                }
                ndarray::Array2::from_shape_vec((rows, features), flat)
                    .map_err(|e| LearnError::Input(e.to_string()))
            })
            .transpose()?;
        let fixed = s.fix_bins(rank, &shape, indices.as_ref().map(|a| a.view()))?;
        let mut sums = s.bin_sums(&fixed, std::slice::from_ref(v))?;
        sums.pop()
            .ok_or_else(|| LearnError::Input("the kernel returned no sums".into()))
    }
}
