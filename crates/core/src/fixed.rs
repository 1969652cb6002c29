//! Fixed-point encoding of reals into Z_2^64.
//!
//! A real x is encoded as round(x · 2^f) (nearest, ties to even) in two's
//! complement, f fractional bits (default 20). Encoding refuses
//! |x| ≥ 2^(63−f) — it never wraps silently. Products of two encoded values
//! carry 2f fractional bits and must be truncated by f; each protocol states
//! how it does that.
//!
//! That range check is not enough for values that will be multiplied: a
//! product of two values below B carries B²·2^(2f), and truncating it is
//! only sound while that stays well below 2^63 (see [`crate::truncate`]).
//! [`Bounded`] is the encoder for such inputs: it refuses |x| > B, and
//! refuses a bound B whose products could leave the signed ring.

use crate::CoreError;
use crate::ring::PAR_THRESHOLD;
use rayon::prelude::*;

/// Elements per parallel task when encoding.
const ENCODE_BLOCK: usize = 1 << 14;

/// 2^63: the first magnitude that does not fit an i64.
const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;

/// 2^52: adding and subtracting it rounds any magnitude below 2^52 to the
/// nearest integer (ties to even) in plain IEEE arithmetic, with no libm
/// call; every magnitude from 2^52 up is already an integer.
const TWO_POW_52: f64 = 4_503_599_627_370_496.0;

/// Whether a scaled value fits the ring as a signed integer (false for NaN
/// and infinities).
fn in_range(scaled: f64) -> bool {
    scaled.abs() < TWO_POW_63
}

/// Rounds a scaled value to the nearest integer (ties to even), as a ring
/// element. Branch-free, so that encoding loops vectorise.
fn round_to_ring(scaled: f64) -> u64 {
    let magnitude = scaled.abs();
    let rounded = if magnitude < TWO_POW_52 {
        (magnitude + TWO_POW_52) - TWO_POW_52
    } else {
        magnitude
    };
    rounded.copysign(scaled) as i64 as u64
}

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

    /// Encodes one real, refusing values outside the range. Rounds to the
    /// nearest ring element, ties to even.
    pub fn encode(&self, x: f64) -> Result<u64, CoreError> {
        let scaled = x * self.scale();
        if !in_range(scaled) {
            return Err(self.refusal(x));
        }
        Ok(round_to_ring(scaled))
    }

    /// Why `x` cannot be encoded.
    fn refusal(&self, x: f64) -> CoreError {
        if x.is_finite() {
            CoreError::OutOfRange {
                value: x,
                limit: self.limit(),
            }
        } else {
            CoreError::NotFinite { value: x }
        }
    }

    /// Encodes a slice (in parallel when long); the error names the first
    /// value out of range.
    pub fn encode_slice(&self, xs: &[f64]) -> Result<Vec<u64>, CoreError> {
        let mut out = vec![0u64; xs.len()];
        self.encode_into(xs, &mut out)?;
        Ok(out)
    }

    /// Encodes `xs` into `out` (same length), in parallel when long; the
    /// error names the first value out of range, and `out` is then
    /// unspecified.
    pub fn encode_into(&self, xs: &[f64], out: &mut [u64]) -> Result<(), CoreError> {
        if xs.len() != out.len() {
            return Err(CoreError::ShapeMismatch {
                what: "encode: output",
                expected: xs.len(),
                got: out.len(),
            });
        }
        let scale = self.scale();
        // Branch-free over a block, so that the loop stays cheap; the rare
        // refusal is then located by a second, serial pass.
        let block = |(out, xs): (&mut [u64], &[f64])| {
            let mut ok = true;
            for (o, &x) in out.iter_mut().zip(xs) {
                let scaled = x * scale;
                ok &= in_range(scaled);
                *o = round_to_ring(scaled);
            }
            ok
        };
        let ok = if xs.len() < PAR_THRESHOLD {
            block((out, xs))
        } else {
            out.par_chunks_mut(ENCODE_BLOCK)
                .zip(xs.par_chunks(ENCODE_BLOCK))
                .map(block)
                .reduce(|| true, |a, b| a && b)
        };
        if ok {
            return Ok(());
        }
        match xs.iter().find(|&&x| !in_range(x * scale)) {
            Some(&x) => Err(self.refusal(x)),
            None => Ok(()),
        }
    }

    /// Decodes one ring element (two's complement) into a real.
    pub fn decode(&self, v: u64) -> f64 {
        // Multiplying by 2^-f is exact, like dividing by 2^f, and cheaper.
        (v as i64) as f64 * (1.0 / self.scale())
    }

    /// Decodes a slice (in parallel when long).
    pub fn decode_slice(&self, vs: &[u64]) -> Vec<f64> {
        let one = |&v: &u64| self.decode(v);
        if vs.len() < PAR_THRESHOLD {
            vs.iter().map(one).collect()
        } else {
            vs.par_iter().map(one).collect()
        }
    }

    /// Decodes `vs` into `out` (same length), in parallel when long.
    pub fn decode_into(&self, vs: &[u64], out: &mut [f64]) -> Result<(), CoreError> {
        if vs.len() != out.len() {
            return Err(CoreError::ShapeMismatch {
                what: "decode: output",
                expected: vs.len(),
                got: out.len(),
            });
        }
        let one = |(o, &v): (&mut f64, &u64)| *o = self.decode(v);
        if vs.len() < PAR_THRESHOLD {
            out.iter_mut().zip(vs).for_each(one);
        } else {
            out.par_iter_mut().zip(vs).for_each(one);
        }
        Ok(())
    }
}

/// A fixed-point encoder for values that protocols multiply: refuses
/// |x| > `max_abs`, where `max_abs`² · 2^(2f) < 2^62, so that a product of
/// two encoded values fits the signed ring with a bit to spare and the
/// truncation bound of [`crate::truncate`] applies with
/// l_x = 2·log2(max_abs) + 2f.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bounded {
    fp: FixedPoint,
    max_abs: f64,
}

impl Bounded {
    /// An encoder with `fp`'s fractional bits refusing |x| > `max_abs`;
    /// fails if `max_abs` is not positive or its square, with 2f fractional
    /// bits, reaches 2^62.
    pub fn new(fp: FixedPoint, max_abs: f64) -> Result<Self, CoreError> {
        let limit = Self::largest_bound(fp);
        if !(max_abs > 0.0 && max_abs < limit) {
            return Err(CoreError::OutOfRange {
                value: max_abs,
                limit,
            });
        }
        Ok(Self { fp, max_abs })
    }

    /// The exclusive upper limit on the bound: 2^(31 − f).
    pub fn largest_bound(fp: FixedPoint) -> f64 {
        2f64.powi(31 - fp.frac_bits() as i32)
    }

    /// The codec.
    pub fn fixed_point(&self) -> FixedPoint {
        self.fp
    }

    /// The inclusive bound on |x|.
    pub fn max_abs(&self) -> f64 {
        self.max_abs
    }

    /// The probability bound, per element, that truncating a product of
    /// two encoded values wraps (see [`crate::truncate`]):
    /// max_abs² · 2^(2f) / 2^63.
    pub fn product_wrap_probability(&self) -> f64 {
        self.max_abs * self.max_abs * self.fp.scale() * self.fp.scale() / TWO_POW_63
    }

    /// Encodes one value, refusing |x| > max_abs (and non-finite values).
    pub fn encode(&self, x: f64) -> Result<u64, CoreError> {
        self.check(x)?;
        self.fp.encode(x)
    }

    fn check(&self, x: f64) -> Result<(), CoreError> {
        if !x.is_finite() {
            return Err(CoreError::NotFinite { value: x });
        }
        if x.abs() > self.max_abs {
            return Err(CoreError::OutOfRange {
                value: x,
                limit: self.max_abs,
            });
        }
        Ok(())
    }

    /// Encodes a slice; the error names the first value refused.
    pub fn encode_slice(&self, xs: &[f64]) -> Result<Vec<u64>, CoreError> {
        let within = |x: &f64| x.abs() <= self.max_abs;
        let ok = if xs.len() < PAR_THRESHOLD {
            xs.iter().all(within)
        } else {
            xs.par_iter().all(within)
        };
        if let Some(&x) = xs.iter().find(|x| !ok && !within(x)) {
            self.check(x)?;
        }
        self.fp.encode_slice(xs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_encoder_refuses_above_its_bound() {
        let fp = FixedPoint::new(16).unwrap();
        assert!(Bounded::new(fp, 2f64.powi(15)).is_err());
        assert!(Bounded::new(fp, 0.0).is_err());
        assert!(Bounded::new(fp, f64::NAN).is_err());
        let b = Bounded::new(fp, 64.0).unwrap();
        assert_eq!(b.encode(-64.0).unwrap(), fp.encode(-64.0).unwrap());
        assert!(matches!(
            b.encode(64.5),
            Err(CoreError::OutOfRange { value, limit }) if value == 64.5 && limit == 64.0
        ));
        assert!(matches!(
            b.encode(f64::INFINITY),
            Err(CoreError::NotFinite { .. })
        ));
        let mut xs = vec![1.0; 3 * PAR_THRESHOLD];
        assert_eq!(b.encode_slice(&xs).unwrap(), fp.encode_slice(&xs).unwrap());
        xs[PAR_THRESHOLD + 2] = -100.0;
        assert!(matches!(
            b.encode_slice(&xs),
            Err(CoreError::OutOfRange { value, .. }) if value == -100.0
        ));
        xs[PAR_THRESHOLD + 2] = f64::NAN;
        assert!(matches!(
            b.encode_slice(&xs),
            Err(CoreError::NotFinite { .. })
        ));
        // 64² · 2^32 / 2^63 = 2^-19.
        assert_eq!(b.product_wrap_probability(), 2f64.powi(-19));
    }

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
    fn long_slices_report_the_first_bad_value() {
        let fp = FixedPoint::default();
        let mut xs = vec![1.25; 3 * PAR_THRESHOLD];
        xs[PAR_THRESHOLD + 1] = 1e14;
        xs[2 * PAR_THRESHOLD] = f64::NAN;
        assert!(matches!(
            fp.encode_slice(&xs),
            Err(CoreError::OutOfRange { value, .. }) if value == 1e14
        ));
        xs[PAR_THRESHOLD + 1] = -3.5;
        xs[2 * PAR_THRESHOLD] = 0.0;
        let back = fp.decode_slice(&fp.encode_slice(&xs).unwrap());
        assert_eq!(back, xs);
        let mut encoded = vec![0u64; xs.len()];
        fp.encode_into(&xs, &mut encoded).unwrap();
        let mut decoded = vec![0f64; xs.len()];
        fp.decode_into(&encoded, &mut decoded).unwrap();
        assert_eq!(decoded, xs);
        assert!(fp.encode_into(&xs, &mut encoded[1..]).is_err());
        assert!(fp.decode_into(&encoded, &mut decoded[1..]).is_err());
    }

    #[test]
    fn rounds_to_nearest_ties_to_even() {
        let fp = FixedPoint::new(0).unwrap();
        for (x, want) in [
            (0.5, 0i64),
            (1.5, 2),
            (2.5, 2),
            (-0.5, 0),
            (-1.5, -2),
            (0.49999999999999994, 0),
            (-2.7, -3),
            (2f64.powi(51) + 0.5, 2i64.pow(51)),
            (2f64.powi(51) + 1.5, 2i64.pow(51) + 2),
            (2f64.powi(62), 2i64.pow(62)),
            (2f64.powi(52) - 0.5, 2i64.pow(52)),
            (-(2f64.powi(52) - 1.5), -(2i64.pow(52) - 2)),
            (-(2f64.powi(53) + 2.0), -(2i64.pow(53) + 2)),
        ] {
            assert_eq!(fp.encode(x).unwrap() as i64, want, "{x}");
        }
    }

    #[test]
    fn refuses_bad_fractional_bits() {
        assert!(FixedPoint::new(63).is_err());
        assert_eq!(FixedPoint::new(16).unwrap().frac_bits(), 16);
    }
}
