//! Released statistics as exact fixed-point values, and the sample variance
//! computed exactly from the opened 128-bit sums.
//!
//! A sum of 10^7 amounts near 10^9 is about 10^16: an `f64` cannot hold it
//! to the cent. [`Fixed`] keeps the opened integer and prints exactly the
//! decimal digits the encoding holds ([`Fixed128::format`]). The variance
//! (n·Σx² − (Σx)²) / (n(n−1)) cancels catastrophically in floating point
//! when the mean is large against the spread; here the numerator is
//! computed exactly in 256-bit integers and rounded to an `f64` once.

use indomain_core::fixed128::Fixed128;

/// An opened fixed-point value `raw / 2^frac_bits`, exactly, with the
/// number of decimal digits that its rounding error leaves certain.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fixed {
    /// The integer in two's complement.
    pub raw: i128,
    /// The fractional bits of the encoding.
    pub frac_bits: u32,
    /// Decimal digits after the point that `Display` prints.
    pub digits: u32,
    /// The bound on the error, in steps of 2^−f.
    error_steps: f64,
}

impl Fixed {
    /// A value whose error is at most `steps` steps of 2^−f: it prints the
    /// digits d with ½·10^−d ≥ that error (never more than the encoding
    /// holds, never fewer than 0).
    pub fn with_error(raw: i128, frac_bits: u32, steps: f64) -> Fixed {
        let error = steps.max(0.5) * 2f64.powi(-(frac_bits as i32));
        let digits = (-(2.0 * error).log10()).floor().max(0.0) as u32;
        Fixed {
            raw,
            frac_bits,
            digits,
            error_steps: steps.max(0.5),
        }
    }

    /// The nearest `f64`.
    pub fn to_f64(self) -> f64 {
        self.raw as f64 / 2f64.powi(self.frac_bits as i32)
    }

    /// This value divided by `n` (> 0), rounded to the nearest step of the
    /// encoding (ties away from zero); its error is this one's over n plus
    /// half a step.
    pub fn div_round(self, n: u64) -> Fixed {
        let divisor = i128::from(n.max(1));
        let q = self.raw / divisor;
        let r = self.raw % divisor;
        let adjust = if 2 * r.abs() >= divisor {
            r.signum()
        } else {
            0
        };
        let steps = self.error_steps / n.max(1) as f64 + 0.5;
        Fixed::with_error(q + adjust, self.frac_bits, steps)
    }
}

impl std::fmt::Display for Fixed {
    /// The digits the value holds, computed exactly from the integer.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // frac_bits was validated (at most 48) before anything was opened.
        let codec = Fixed128::new(self.frac_bits.min(Fixed128::MAX_FRAC_BITS))
            .map_err(|_| std::fmt::Error)?;
        f.write_str(&codec.format_digits(self.raw as u128, self.digits))
    }
}

/// An unsigned 256-bit integer as (high, low) halves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct U256 {
    hi: u128,
    lo: u128,
}

impl U256 {
    /// The full product a · b.
    fn mul(a: u128, b: u128) -> U256 {
        let mask = u64::MAX as u128;
        let (a0, a1) = (a & mask, a >> 64);
        let (b0, b1) = (b & mask, b >> 64);
        let (p00, p01, p10, p11) = (a0 * b0, a0 * b1, a1 * b0, a1 * b1);
        let middle = (p00 >> 64) + (p01 & mask) + (p10 & mask);
        U256 {
            lo: (p00 & mask) | (middle << 64),
            hi: p11 + (p01 >> 64) + (p10 >> 64) + (middle >> 64),
        }
    }

    /// self · 2^s for s < 128 (the caller keeps the result below 2^256).
    fn shl(self, s: u32) -> U256 {
        if s == 0 {
            return self;
        }
        U256 {
            hi: (self.hi << s) | (self.lo >> (128 - s)),
            lo: self.lo << s,
        }
    }

    /// self − other, or 0 if other is larger.
    fn saturating_sub(self, other: U256) -> U256 {
        if other >= self {
            return U256 { hi: 0, lo: 0 };
        }
        let (lo, borrow) = self.lo.overflowing_sub(other.lo);
        U256 {
            hi: self.hi - other.hi - u128::from(borrow),
            lo,
        }
    }

    fn to_f64(self) -> f64 {
        self.hi as f64 * 2f64.powi(128) + self.lo as f64
    }
}

/// The sample variance (divisor n − 1) of n values whose encoded sum is
/// `sum` and whose sum of squares (shifted back to f fractional bits) is
/// `sum_squares`; NaN for n < 2.
///
/// The numerator n·Σx²·2^f − (Σx)² is exact; the only roundings are the
/// parties' one rounding of Σx² each (at most parties/2 units of 2^−f,
/// i.e. an absolute error below parties·2^−f/(2(n−1)) in the variance) and
/// the final conversion to `f64` (relative 2^−52).
pub fn exact_variance(sum: Fixed, sum_squares: Fixed, count: u64) -> f64 {
    if count < 2 {
        return f64::NAN;
    }
    let f = sum.frac_bits;
    // Σx² is non-negative; a negative opened value means nothing sensible.
    let q = u128::try_from(sum_squares.raw).unwrap_or(0);
    let numerator = U256::mul(q, u128::from(count))
        .shl(f)
        .saturating_sub(U256::mul(sum.raw.unsigned_abs(), sum.raw.unsigned_abs()));
    let n = count as f64;
    numerator.to_f64() / (n * (n - 1.0)) / 2f64.powi(2 * f as i32)
}

/// Decimal digits after the point that a variance computed by
/// [`exact_variance`] holds: rounding each value to the encoding's step
/// h = 2^−(f+1) moves the variance by at most 2σh + h², and the parties'
/// roundings of Σx² by parties·2^−f/(2(n−1)) more.
pub fn variance_digits(variance: f64, count: u64, frac_bits: u32, parties: usize) -> u32 {
    if !variance.is_finite() || count < 2 {
        return 0;
    }
    let step = 2f64.powi(-(frac_bits as i32));
    let h = step / 2.0;
    let error =
        2.0 * variance.sqrt() * h + h * h + parties as f64 * step / (2.0 * (count - 1) as f64);
    (-(2.0 * error).log10()).floor().clamp(0.0, 17.0) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_products_and_shifts_are_exact() {
        let p = U256::mul(u128::MAX, u128::MAX);
        assert_eq!((p.hi, p.lo), (u128::MAX - 1, 1));
        let q = U256::mul(1 << 100, 1 << 100).shl(20);
        assert_eq!((q.hi, q.lo), (1 << 92, 0));
        let d = U256 { hi: 1, lo: 0 }.saturating_sub(U256 { hi: 0, lo: 1 });
        assert_eq!((d.hi, d.lo), (0, u128::MAX));
        assert_eq!(
            U256 { hi: 0, lo: 1 }
                .saturating_sub(U256 { hi: 1, lo: 0 })
                .lo,
            0
        );
    }

    #[test]
    fn variance_of_large_values_with_a_small_spread_is_exact() {
        // 10^9 + {0, 1, 2}: variance 1. In f64, Σx² − (Σx)²/n cancels to
        // garbage at this magnitude.
        let f = 32;
        let xs = [1e9, 1e9 + 1.0, 1e9 + 2.0];
        let enc: Vec<i128> = xs.iter().map(|&x| (x as i128) << f).collect();
        let sum = Fixed::with_error(enc.iter().sum(), f, 1.5);
        let squares: i128 = enc.iter().map(|&e| (e * e) >> f).sum();
        let sum_squares = Fixed::with_error(squares, f, 1.5);
        assert_eq!(exact_variance(sum, sum_squares, 3), 1.0);
        assert!(exact_variance(sum, sum_squares, 1).is_nan());
        let naive = (sum_squares.to_f64() - sum.to_f64().powi(2) / 3.0) / 2.0;
        assert!(
            (naive - 1.0).abs() > 1e-3,
            "f64 would have been fine: {naive}"
        );
    }

    #[test]
    fn means_round_to_the_nearest_step_and_print_held_digits() {
        let s = Fixed::with_error(7, 0, 0.5);
        assert_eq!(s.div_round(2).raw, 4);
        assert_eq!(Fixed { raw: -7, ..s }.div_round(2).raw, -4);
        assert_eq!(Fixed { raw: 7, ..s }.div_round(3).raw, 2);
        // One value at 20 bits holds 6 digits; a sum of 10^4 holds 2.
        let one = Fixed::with_error(123_456 << 20, 20, 0.5);
        assert_eq!(one.digits, 6);
        assert_eq!(one.div_round(100).to_string(), "1234.560000");
        let many = Fixed::with_error((123_456_789 << 20) / 100, 20, 0.5e4);
        assert_eq!(many.to_string(), "1234567.89");
        // The mean of 10^4 such values is certain to 5 digits again.
        assert_eq!(many.div_round(10_000).digits, 5);
        // At 6 fractional bits, 98847942.921875 holds one decimal.
        let coarse = Fixed::with_error((98847942.921875 * 64.0) as i128, 6, 0.5);
        assert_eq!(coarse.to_string(), "98847942.9");
    }
}
