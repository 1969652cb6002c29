//! The sigmoid on shared values, approximated so that it needs no
//! communication.
//!
//! σ̃(z) = 1/2 + z/4: the first-order Taylor polynomial of σ(z) = 1/(1 +
//! e^−z) at 0 (SecretFlow's SS-LR calls it `t1`). It is computed locally:
//! the leader adds 1/2 and every party shifts its share of z by 2 bits, a
//! truncation with the bound of `indomain_core::truncate`. Its error
//! |σ̃(z) − σ(z)| grows with |z|: at most 0.0189 on [−1, 1] (at |z| = 1),
//! 0.119 on [−2, 2] and 0.52 on [−4, 4]. The approximation is not clamped
//! to [0, 1]: clamping needs a secure comparison, which this layer does not
//! have yet. Used in logistic regression it turns the logistic loss into a
//! convex quadratic surrogate whose gradient Xᵀ(σ̃(Xw) − y) agrees with the
//! logistic gradient to first order around w = 0, so training from w = 0
//! with standardised features stays where the error is small; a model
//! trained with it is scored with the exact σ in the clear.
//!
//! What each party learns: nothing (no message, unless truncation uses the
//! dealer's pairs: then the leader sees z − r, uniformly random).

use crate::MpcError;
use crate::correlations::Correlations;
use crate::error::core;
use crate::session::Session;
use crate::shared::Shared;

/// The approximation in the clear, for references and tests: 1/2 + z/4.
pub fn sigmoid_approx(z: f64) -> f64 {
    0.5 + z / 4.0
}

impl<C: Correlations> Session<'_, C> {
    /// σ̃(z) for z with `extra` + f fractional bits (pass 0 for a plain
    /// shared value with f bits, f for an untruncated product): the result
    /// has f fractional bits. Folding the ÷4 into the truncation of a
    /// product costs nothing extra.
    pub fn sigmoid(&mut self, z: Shared, extra: u32) -> Result<Shared, MpcError> {
        let half = self.fixed_point().encode(0.5).map_err(core("sigmoid"))?;
        let mut out = self.truncate(z, extra + 2)?;
        let rank = self.rank();
        out.add_public(&vec![half; out.len()], rank)?;
        Ok(out)
    }
}
