//! Fixed-point encoding of reals into Z_2^128, the 128-bit counterpart of
//! [`crate::fixed::FixedPoint`] with the same rounding (nearest, ties to
//! even) and the same refusal of values that do not fit.
//!
//! A real x is encoded as round(x · 2^f) in two's complement. Encoding
//! refuses |x · 2^f| ≥ 2^127 and non-finite values; it never wraps. The
//! encoding holds ⌊f · log10 2⌋ decimal digits after the point, and
//! [`Fixed128::format`] prints exactly those, from the integer, so large
//! sums are printed exactly rather than through an `f64`.

use crate::CoreError;

/// 2^127: the first magnitude that does not fit an i128.
const TWO_POW_127: f64 = 1.7014118346046923e38;

/// 2^52: below it, adding and subtracting 2^52 rounds to the nearest
/// integer, ties to even; from it up every f64 is an integer.
const TWO_POW_52: f64 = 4_503_599_627_370_496.0;

/// A 128-bit fixed-point codec with a set number of fractional bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fixed128 {
    frac_bits: u32,
}

impl Fixed128 {
    /// The most fractional bits: a decimal digit per ~3.3 bits, 18 digits.
    pub const MAX_FRAC_BITS: u32 = 60;

    /// A codec with `frac_bits` fractional bits (0 to 60).
    pub fn new(frac_bits: u32) -> Result<Self, CoreError> {
        if frac_bits > Self::MAX_FRAC_BITS {
            return Err(CoreError::BadFractionalBits { frac_bits });
        }
        Ok(Self { frac_bits })
    }

    /// The number of fractional bits.
    pub fn frac_bits(&self) -> u32 {
        self.frac_bits
    }

    /// 2^f as a float.
    pub fn scale(&self) -> f64 {
        (1u64 << self.frac_bits) as f64
    }

    /// The exclusive bound on |x| that encoding accepts: 2^(127−f).
    pub fn limit(&self) -> f64 {
        2f64.powi(127 - self.frac_bits as i32)
    }

    /// Encodes one real (nearest, ties to even), refusing values outside
    /// the range.
    pub fn encode(&self, x: f64) -> Result<u128, CoreError> {
        let scaled = x * self.scale();
        // NaN fails this too.
        let fits = scaled.abs() < TWO_POW_127;
        if !fits {
            return Err(if x.is_finite() {
                CoreError::OutOfRange {
                    value: x,
                    limit: self.limit(),
                }
            } else {
                CoreError::NotFinite { value: x }
            });
        }
        let magnitude = scaled.abs();
        let rounded = if magnitude < TWO_POW_52 {
            (magnitude + TWO_POW_52) - TWO_POW_52
        } else {
            magnitude
        };
        Ok(rounded.copysign(scaled) as i128 as u128)
    }

    /// Decodes one ring element (two's complement) into the nearest f64.
    pub fn decode(&self, v: u128) -> f64 {
        (v as i128) as f64 / self.scale()
    }

    /// Decimal digits after the point that the encoding holds: the largest
    /// d with 10^−d ≥ 2^−f.
    pub fn decimal_digits(&self) -> u32 {
        // f·log10(2) is never within rounding of an integer for 0 < f ≤ 60.
        (self.frac_bits as f64 * std::f64::consts::LOG10_2).floor() as u32
    }

    /// `v` (two's complement) as a decimal with [`Self::decimal_digits`]
    /// digits after the point, rounded to nearest (ties away from zero),
    /// computed exactly from the integer.
    pub fn format(&self, v: u128) -> String {
        self.format_digits(v, self.decimal_digits())
    }

    /// `v` (two's complement) as a decimal with `digits` digits after the
    /// point (at most [`Self::decimal_digits`]), rounded to nearest (ties
    /// away from zero), computed exactly from the integer.
    pub fn format_digits(&self, v: u128, digits: u32) -> String {
        let raw = v as i128;
        let magnitude = raw.unsigned_abs();
        let f = self.frac_bits;
        let digits = digits.min(self.decimal_digits());
        let mut whole = magnitude >> f;
        let frac = magnitude & ((1u128 << f) - 1);
        let ten_d = 10u128.pow(digits);
        // frac < 2^60 and 10^d ≤ 10^18 < 2^60: the product fits.
        let mut decimals = (frac * ten_d + (1u128 << f >> 1)) >> f;
        if decimals == ten_d {
            whole += 1;
            decimals = 0;
        }
        let sign = if raw < 0 && (whole != 0 || decimals != 0) {
            "-"
        } else {
            ""
        };
        if digits == 0 {
            format!("{sign}{whole}")
        } else {
            format!("{sign}{whole}.{decimals:0width$}", width = digits as usize)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_like_the_64_bit_encoder() {
        let narrow = crate::FixedPoint::new(3).unwrap();
        let wide = Fixed128::new(3).unwrap();
        for x in [
            0.0625,
            0.1875,
            -0.0625,
            2.7,
            -1e6,
            1234.5678,
            2f64.powi(55) + 8.0,
        ] {
            assert_eq!(
                wide.encode(x).unwrap() as i128,
                narrow.encode(x).unwrap() as i64 as i128,
                "{x}"
            );
        }
    }

    #[test]
    fn encodes_what_64_bits_cannot_and_refuses_beyond_2_pow_127() {
        let fp = Fixed128::new(32).unwrap();
        let x = 1e18;
        assert_eq!(
            fp.encode(x).unwrap() as i128,
            1_000_000_000_000_000_000i128 << 32
        );
        assert_eq!(fp.decode(fp.encode(-x).unwrap()), -x);
        assert!(matches!(
            fp.encode(2f64.powi(95)),
            Err(CoreError::OutOfRange { .. })
        ));
        assert!(matches!(
            fp.encode(f64::INFINITY),
            Err(CoreError::NotFinite { .. })
        ));
        assert!(Fixed128::new(61).is_err());
    }

    #[test]
    fn prints_only_the_digits_the_encoding_holds() {
        let six = Fixed128::new(6).unwrap();
        assert_eq!(six.decimal_digits(), 1);
        assert_eq!(
            six.format(six.encode(98847942.921875).unwrap()),
            "98847942.9"
        );
        let f32 = Fixed128::new(32).unwrap();
        assert_eq!(f32.decimal_digits(), 9);
        assert_eq!(f32.format(f32.encode(-0.25).unwrap()), "-0.250000000");
        assert_eq!(f32.format(f32.encode(1234.56).unwrap()), "1234.560000000");
        // 10^7 rows of 999999999.99: beyond f64's integer range with cents.
        let total = ((99_999_999_999i128 * 10_000_000) << 32) / 100;
        assert_eq!(f32.format(total as u128), "9999999999900000.000000000");
        assert_eq!(
            f32.format((total + 1) as u128),
            "9999999999900000.000000000"
        );
        let zero = Fixed128::new(0).unwrap();
        assert_eq!(zero.format(zero.encode(-7.0).unwrap()), "-7");
        assert_eq!(f32.format((-1i128) as u128), "0.000000000");
        assert_eq!(f32.format_digits(f32.encode(-2.675).unwrap(), 2), "-2.68");
        assert_eq!(f32.format_digits(f32.encode(9.996).unwrap(), 2), "10.00");
        assert_eq!(
            f32.format_digits(f32.encode(1.5).unwrap(), 40),
            "1.500000000"
        );
    }
}
