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

    /// Encodes the decimal that `x` was read from: the shortest decimal
    /// that parses back to `x` (the digits `{x}` prints), exactly, rounded
    /// once to f bits (nearest, ties to even). An amount written with at
    /// most 15 significant digits, such as 987654321.03, parses to an `f64`
    /// that is not the amount (2.9·10^−8 below it); [`Self::encode`] keeps
    /// that error, and a sum of n such values n times over, while this
    /// encodes the amount itself, so sums of amounts with cents are exact
    /// to the cent whatever n. It refuses what [`Self::encode`] refuses,
    /// and gives its result for integers (their own decimal) and where the
    /// exact quotient would not fit 128 bits (values far below 2^−f).
    pub fn encode_decimal(&self, x: f64) -> Result<u128, CoreError> {
        let binary = self.encode(x)?;
        if x.fract() == 0.0 {
            return Ok(binary);
        }
        // Amounts with at most 4 decimals, without formatting: r · 10^−d is
        // the decimal if x is its nearest f64 (r and 10^d are exact f64s, so
        // the division rounds once); at most 15 digits make it the only one.
        let mut power = 1.0;
        for d in 1..=4 {
            power *= 10.0;
            let r = (x.abs() * power).round();
            if r < 1e15 && r / power == x.abs() {
                return Ok(self.round_decimal(r as u128, d, x < 0.0).unwrap_or(binary));
            }
        }
        // The shortest round-trip digits: "d.ddde-x" with up to 17 digits.
        let mut buf = [0u8; 40];
        let mut at = std::io::Cursor::new(&mut buf[..]);
        if std::io::Write::write_fmt(&mut at, format_args!("{:e}", x.abs())).is_err() {
            return Ok(binary);
        }
        let len = at.position() as usize;
        let text = std::str::from_utf8(&buf[..len]).unwrap_or_default();
        let Some((mantissa, exponent)) = text.split_once('e') else {
            return Ok(binary);
        };
        let mut digits: u128 = 0;
        let mut count: i32 = 0;
        for b in mantissa.bytes().filter(u8::is_ascii_digit) {
            digits = digits * 10 + u128::from(b - b'0');
            count += 1;
        }
        let Ok(exponent) = exponent.parse::<i32>() else {
            return Ok(binary);
        };
        // |x| = digits · 10^−k, with k > 0 because x is no integer.
        let Ok(k) = u32::try_from(count - 1 - exponent) else {
            return Ok(binary);
        };
        Ok(self.round_decimal(digits, k, x < 0.0).unwrap_or(binary))
    }

    /// ±digits · 10^−k · 2^f rounded to nearest, ties to even, in
    /// integers; `None` where it does not fit 128 bits.
    fn round_decimal(&self, digits: u128, k: u32, negative: bool) -> Option<u128> {
        let numerator = digits.checked_mul(1u128 << self.frac_bits)?;
        let denominator = 10u128.checked_pow(k)?;
        let (q, r) = (numerator / denominator, numerator % denominator);
        let up = 2 * r > denominator || (2 * r == denominator && q % 2 == 1);
        let magnitude = i128::try_from(q + u128::from(up)).ok()?;
        Some(if negative { -magnitude } else { magnitude } as u128)
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
    fn encodes_the_decimal_an_amount_was_read_from() {
        let f32 = Fixed128::new(32).unwrap();
        for (text, cents) in [
            ("987654321.03", 98_765_432_103i128),
            ("-999999999.99", -99_999_999_999),
            ("0.01", 1),
            ("123456789.07", 12_345_678_907),
        ] {
            let x: f64 = text.parse().unwrap();
            // round(cents · 2^32 / 100), ties to even, in integers.
            let num = cents.abs() * (1i128 << 32);
            let (q, r) = (num / 100, num % 100);
            let q = q + i128::from(2 * r > 100 || (2 * r == 100 && q % 2 == 1));
            let exact = if cents < 0 { -q } else { q };
            assert_eq!(f32.encode_decimal(x).unwrap() as i128, exact, "{text}");
            // Near 10^9 the binary value of the f64 is off by its parse
            // error, hundreds of units of 2^−32.
            if cents.abs() > 1_000_000_000 {
                assert_ne!(f32.encode(x).unwrap() as i128, exact, "{text}");
            }
        }
        // Integers and dyadic values are their own decimal.
        for x in [0.0, -7.0, 1234.5, 0.0625, 1e15] {
            assert_eq!(
                f32.encode_decimal(x).unwrap(),
                f32.encode(x).unwrap(),
                "{x}"
            );
        }
        // More decimals than the fast path takes: the shortest digits.
        let x: f64 = "98765.4321987".parse().unwrap();
        let num = 987_654_321_987i128 << 32;
        let d = 10i128.pow(7);
        let q = num / d + i128::from(2 * (num % d) >= d);
        assert_eq!(f32.encode_decimal(x).unwrap() as i128, q);
        // Values far below 2^−f, and what encode refuses.
        assert_eq!(f32.encode_decimal(1e-300).unwrap(), 0);
        assert!(f32.encode_decimal(2f64.powi(95)).is_err());
        assert!(f32.encode_decimal(f64::NAN).is_err());
    }

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
