//! Fixed-point encoding of reals into Z_2^64.
//!
//! A real x is encoded as round(x · 2^f) in two's complement, f fractional
//! bits (default 20). Encoding refuses |x| ≥ 2^(63−f) — it never wraps
//! silently. Products of two encoded values carry 2f fractional bits and must
//! be truncated by f; each protocol states how it does that.

use crate::CoreError;

/// A fixed-point codec with a set number of fractional bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedPoint {
    frac_bits: u32,
}

impl Default for FixedPoint {
    fn default() -> Self {
        Self {
            frac_bits: Self::DEFAULT_FRAC_BITS,
        }
    }
}

impl FixedPoint {
    /// The default number of fractional bits.
    pub const DEFAULT_FRAC_BITS: u32 = 20;

    /// A codec with `frac_bits` fractional bits (0 to 62).
    pub fn new(frac_bits: u32) -> Result<Self, CoreError> {
        if frac_bits > 62 {
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

    /// The exclusive bound on |x| that encoding accepts: 2^(63−f).
    pub fn limit(&self) -> f64 {
        2f64.powi(63 - self.frac_bits as i32)
    }

    /// Encodes one real, refusing values outside the range.
    pub fn encode(&self, x: f64) -> Result<u64, CoreError> {
        if !x.is_finite() {
            return Err(CoreError::NotFinite { value: x });
        }
        let scaled = (x * self.scale()).round();
        // 2^63 itself is not representable as a positive i64.
        if scaled.abs() >= 2f64.powi(63) {
            return Err(CoreError::OutOfRange {
                value: x,
                limit: self.limit(),
            });
        }
        Ok(scaled as i64 as u64)
    }

    /// Encodes a slice, stopping at the first value out of range.
    pub fn encode_slice(&self, xs: &[f64]) -> Result<Vec<u64>, CoreError> {
        xs.iter().map(|&x| self.encode(x)).collect()
    }

    /// Decodes one ring element (two's complement) into a real.
    pub fn decode(&self, v: u64) -> f64 {
        (v as i64) as f64 / self.scale()
    }

    /// Decodes a slice.
    pub fn decode_slice(&self, vs: &[u64]) -> Vec<f64> {
        vs.iter().map(|&v| self.decode(v)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_within_one_ulp() {
        let fp = FixedPoint::default();
        for x in [0.0, 1.5, -2.25, 1e6, -1e6, 123.456789] {
            let y = fp.decode(fp.encode(x).unwrap());
            assert!((x - y).abs() <= 0.5 / fp.scale(), "{x} -> {y}");
        }
    }

    #[test]
    fn refuses_out_of_range_naming_value_and_limit() {
        let fp = FixedPoint::default();
        let err = fp.encode(1e13).unwrap_err();
        assert_eq!(
            err,
            CoreError::OutOfRange {
                value: 1e13,
                limit: 2f64.powi(43)
            }
        );
        assert!(err.to_string().contains("10000000000000"));
        assert!(fp.encode(-(2f64.powi(43))).is_err());
        assert!(fp.encode(2f64.powi(43) - 1.0).is_ok());
        assert!(matches!(
            fp.encode(f64::NAN),
            Err(CoreError::NotFinite { .. })
        ));
    }

    #[test]
    fn refuses_bad_fractional_bits() {
        assert!(FixedPoint::new(63).is_err());
        assert_eq!(FixedPoint::new(16).unwrap().frac_bits(), 16);
    }
}
