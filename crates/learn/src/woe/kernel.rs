//! The one kernel a WOE job needs from the shared arithmetic: the sums of
//! a shared vector over each bin of one party's features (its private bin
//! indicators times the vector). Gradient-boosted trees need the same
//! kernel for their histograms; it is built once in `indomain_mpc`, and a
//! WOE job reaches it through this trait so that the protocol does not
//! depend on how it is computed.

use crate::LearnError;
use crate::binning::BinIndex;
use indomain_mpc::{DealerClient, Session, Shared};

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
        s: &mut Session<'_, DealerClient>,
        owner: usize,
        bins: Option<&[BinIndex]>,
        sizes: &[usize],
        v: &Shared,
    ) -> Result<Shared, LearnError>;
}
