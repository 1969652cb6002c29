//! The sigmoid on shared values: a linear approximation that needs no
//! communication, and the same line clamped to [0, 1] with two secure
//! comparisons.
//!
//! Linear, σ̃(z) = 1/2 + z/4: the first-order Taylor polynomial of σ(z) =
//! 1/(1 + e^−z) at 0 (SecretFlow's SS-LR calls it `t1`). It is computed
//! locally: the leader adds 1/2 and every party shifts its share of z by 2
//! bits, a truncation with the bound of `indomain_core::truncate`. Its
//! error |σ̃(z) − σ(z)| grows with |z|: at most 0.0189 on [−1, 1] (at |z| =
//! 1), 0.119 on [−2, 2] and 0.52 on [−4, 4], unbounded on the line. Used in
//! logistic regression it turns the logistic loss into a convex quadratic
//! surrogate whose gradient Xᵀ(σ̃(Xw) − y) agrees with the logistic
//! gradient to first order around w = 0, so training from w = 0 with
//! standardised features stays where the error is small; a model trained
//! with it is scored with the exact σ in the clear.
//!
//! Clamped, σ̂(z) = min(1, max(0, 1/2 + z/4)): 0 below −2, the line between,
//! 1 above 2. Its largest error on the whole real line is 0.1192, at z =
//! ±2 (σ(2) = 0.8808), and it falls towards 0 beyond. SecureML's clamp of
//! z + 1/2 to [0, 1] (Mohassel and Zhang, S&P 2017, §4.3) has the same
//! cost and a largest error of 0.3775 (at z = ±1/2), so the line with
//! slope 1/4 is the one clamped here. Cost: one comparison of a vector of
//! 2·len elements ([`crate::compare`], both bounds at once) and one Beaver
//! product: (1 − b_hi) + (b_hi − b_lo)·s with b_lo = \[s < 0\], b_hi = \[s <
//! 1\] and s the linear value.
//!
//! What each party learns: nothing (the linear form sends no message unless
//! truncation uses the dealer's pairs: then the leader sees z − r,
//! uniformly random; the clamp opens only masked values, see
//! [`crate::compare`]).

use crate::MpcError;
use crate::compare::FULL_RANGE;
use crate::correlations::Correlations;
use crate::error::core;
use crate::session::Session;
use crate::shared::Shared;

/// The linear approximation in the clear, for references and tests:
/// 1/2 + z/4.
pub fn sigmoid_approx(z: f64) -> f64 {
    0.5 + z / 4.0
}

/// The clamped approximation in the clear: 1/2 + z/4 clamped to [0, 1].
pub fn sigmoid_clamped(z: f64) -> f64 {
    sigmoid_approx(z).clamp(0.0, 1.0)
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

    /// σ̂(z), the linear approximation clamped to [0, 1], for z with
    /// `extra` + f fractional bits; the result has f fractional bits.
    pub fn sigmoid_clamped(&mut self, z: Shared, extra: u32) -> Result<Shared, MpcError> {
        let s = self.sigmoid(z, extra)?;
        let len = s.len();
        let one = self.fixed_point().encode(1.0).map_err(core("sigmoid"))?;
        let rank = self.rank();
        let mut both = s.clone();
        let mut minus_one = s.clone();
        minus_one.sub_public(&vec![one; len], rank)?;
        both.0.extend_from_slice(minus_one.as_slice());
        let bits = self.less_than_zero(&both, FULL_RANGE)?;
        let (lo, hi) = bits.0.split_at(len);
        let (lo, hi) = (Shared(lo.to_vec()), Shared(hi.to_vec()));
        let inside = self.mul(&hi.sub(&lo)?, &s)?;
        let mut out = Shared::public(&vec![one; len], rank);
        let mut above = hi;
        above.scale(one);
        out.sub_assign(&above)?;
        out.add_assign(&inside)?;
        Ok(out)
    }
}
