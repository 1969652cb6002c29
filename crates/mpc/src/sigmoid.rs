//! The sigmoid on shared values: a linear approximation that needs no
//! communication, the same line clamped to [0, 1] with two secure
//! comparisons, and an accurate one — a Fourier series clamped by packed
//! comparisons — with error below 2·10^-4 on the whole line.
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
//! Fourier, σ̂(z) = \[z > R\] + \[−R ≤ z ≤ R\]·(1/2 + Σ_{m=1}^{12} a_m
//! sin(2πm·z/32)), R = 11.875: a 12-term sine series of period 32 fitted
//! to σ − 1/2 on [−12, 12] by (Lawson-weighted) least squares, largest
//! error 1.16·10^-4 there, and outside the clamp's 0 or 1, error at most
//! σ(−11.8) = 7.5·10^-6. The clamp's comparisons ignore the bits of z
//! below 2^-4 (`Session::prepare_comparison` with a blur): they cost 20
//! bits of prefix tree instead of 63, and decide only within
//! 11.875 ± 1/16, where both branches are accurate. The period leaves [12, 20] (mod 32) free, which is what lets
//! 12 harmonics with Σ|a_m| = 0.79 (no cancellation between large
//! coefficients) reach 10^-4; the coefficients are [`FOURIER_COEFFICIENTS`],
//! and a test evaluates the series on a fine grid. Fixed point adds at most
//! Σ|a_m|·2^-f + 12·2^-(f+2) + 2^-f (dealt values, public multipliers,
//! truncation; [`crate::fourier`]) = 7.3·10^-5 at f = 16: |σ̂ − σ| <
//! 2·10^-4 everywhere, for |z| < 2^(63 − 2f) (the comparisons' range; z
//! comes as an untruncated product, 2f fractional bits or more). Cost per
//! value: the series' and the two comparisons' masked values in one
//! opening (3 ring elements), 24 dealt trigonometric elements, 2 × 37 AND
//! gates in 5 rounds, one daBit conversion of the 2 bits, and one Beaver
//! product for the select: 8 rounds per call whatever the length.
//! Used in logistic regression, the gradient Xᵀ(σ̂(z) − y)/n differs from
//! the exact one by at most 2·10^-4·max_j mean_i|x_ij| in each coordinate.
//!
//! What each party learns: nothing (the linear form sends no message unless
//! truncation uses the dealer's pairs: then the leader sees z − r,
//! uniformly random; the clamp opens only masked values, see
//! [`crate::compare`]).

use crate::MpcError;
use crate::bits::SharedBits;
use crate::compare::FULL_RANGE;
use crate::correlations::Correlations;
use crate::error::core;
use crate::session::Session;
use crate::shared::Shared;

/// The range the Fourier sigmoid's series is fitted on: [−12, 12].
pub const FOURIER_CLAMP: f64 = 12.0;

/// Where the clamp acts: \[z < −R\] and \[R < z\] for R = 11.875, computed to
/// within 2^-[`CLAMP_BITS`], so that the switch between the series and 0
/// or 1 happens inside [11.8, 11.94] (in magnitude), where both are
/// accurate.
pub const FOURIER_CLAMP_AT: f64 = 11.875;

/// Fractional bits the clamp's comparisons look at.
pub const CLAMP_BITS: u32 = 4;

/// log2 of the period of the Fourier sigmoid's series.
pub const FOURIER_PERIOD_LOG2: u32 = 5;

/// a_1..a_12 of the Fourier sigmoid: σ(z) − 1/2 ≈ Σ a_m sin(2πm·z/32) on
/// [−12, 12], within 1.16·10^-4.
pub const FOURIER_COEFFICIENTS: [f64; 12] = [
    6.008_978_339_148_026e-1,
    -3.159_981_598_355_899e-3,
    1.268_731_780_421_754e-1,
    3.928_125_198_763_37e-3,
    2.841_043_309_422_996e-2,
    9.544_497_154_049_337e-3,
    9.177_566_281_762_838e-4,
    8.112_856_571_177_175e-3,
    -2.923_178_959_598_015e-3,
    3.805_621_599_957_514e-3,
    -1.170_177_160_293_151e-3,
    9.118_554_650_189_318e-4,
];

/// The Fourier sigmoid in the clear (without fixed-point rounding), for
/// references and tests.
pub fn sigmoid_fourier_clear(z: f64) -> f64 {
    if z > FOURIER_CLAMP_AT {
        return 1.0;
    }
    if z < -FOURIER_CLAMP_AT {
        return 0.0;
    }
    let w = std::f64::consts::TAU * z / (FOURIER_PERIOD_LOG2 as f64).exp2();
    0.5 + FOURIER_COEFFICIENTS
        .iter()
        .enumerate()
        .map(|(k, a)| a * ((k + 1) as f64 * w).sin())
        .sum::<f64>()
}

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

    /// σ̂(z), the Fourier sigmoid, for z with f + `extra` fractional bits
    /// (pass f for an untruncated product, more for wider weights): the
    /// result has f fractional bits. Needs |z| < 2^(63 − f − extra) and
    /// |z| < 2^15.
    pub fn sigmoid_fourier(&mut self, z: &Shared, extra: u32) -> Result<Shared, MpcError> {
        let mut out = Vec::with_capacity(z.len());
        for chunk in z.as_slice().chunks(crate::fourier::CHUNK) {
            out.extend(self.sigmoid_fourier_chunk(chunk, extra)?);
        }
        Ok(Shared(out))
    }

    fn sigmoid_fourier_chunk(&mut self, z: &[u64], extra: u32) -> Result<Vec<u64>, MpcError> {
        let fp = self.fixed_point();
        let z_frac = fp.frac_bits() + extra;
        if z_frac < CLAMP_BITS || z_frac + FOURIER_PERIOD_LOG2 > 64 {
            return Err(MpcError::Usage(format!(
                "the Fourier sigmoid takes 4 to {} fractional bits, not {z_frac}",
                64 - FOURIER_PERIOD_LOG2
            )));
        }
        let len = z.len();
        let rank = self.rank();
        // [z < −R] and [R < z], known to within 2^-4 (see the module
        // documentation): below ‖ above, one comparison call.
        let r = (FOURIER_CLAMP_AT * (z_frac as f64).exp2()) as u64;
        let mut both = Shared(z.to_vec());
        both.add_public(&vec![r; len], rank)?;
        let mut above = Shared::public(&vec![r; len], rank);
        above.sub_assign(&Shared(z.to_vec()))?;
        both.0.extend_from_slice(above.as_slice());
        let bound = (z_frac + 16).min(FULL_RANGE);
        let blur = z_frac - CLAMP_BITS;
        // One opening for the series and both comparisons.
        let (series, masked) =
            self.prepare_series(z, FOURIER_PERIOD_LOG2 + z_frac, FOURIER_COEFFICIENTS.len())?;
        let (comparison, masked_both) = self.prepare_comparison(&both.0, bound, blur)?;
        let mut opened = masked;
        opened.0.extend(masked_both.0);
        let c = self.open(&opened)?;
        let (c_series, c_both) = c.split_at(len);
        let value = self.finish_series(series, c_series, &FOURIER_COEFFICIENTS)?;
        let bits = self.finish_comparison(comparison, c_both)?;
        let ring = self.bits_to_ring(&SharedBits::new(bits, 2 * len)?)?;
        let (below, above) = ring.0.split_at(len);
        let (below, above) = (Shared(below.to_vec()), Shared(above.to_vec()));
        // inside = 1 − below − above, an integer 0 or 1.
        let mut inside = Shared::public(&vec![1; len], rank);
        inside.sub_assign(&below)?;
        inside.sub_assign(&above)?;
        let mut value = Shared(value);
        value.add_public(&vec![fp.encode(0.5).map_err(core("sigmoid"))?; len], rank)?;
        let mut out = self.mul(&inside, &value)?;
        let mut one = above;
        one.scale(fp.encode(1.0).map_err(core("sigmoid"))?);
        out.add_assign(&one)?;
        Ok(out.0)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fourier_series_is_within_its_stated_error() {
        let sigma = |z: f64| 1.0 / (1.0 + (-z).exp());
        let mut worst: f64 = 0.0;
        for i in -240_000..=240_000 {
            let z = i as f64 * 1e-4;
            worst = worst.max((sigmoid_fourier_clear(z) - sigma(z)).abs());
        }
        assert!(worst < 1.17e-4, "{worst}");
        assert!(worst > 1.0e-4, "the stated error is tight: {worst}");
        for z in [11.876, 13.0, 100.0, -11.876, -1e9] {
            assert!((sigmoid_fourier_clear(z) - sigma(z)).abs() < 7.5e-6);
        }
        assert!(FOURIER_COEFFICIENTS.iter().map(|a| a.abs()).sum::<f64>() < 0.8);
    }
}
