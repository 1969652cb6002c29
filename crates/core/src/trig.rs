//! Trigonometric masks: a mask r uniform in Z_2^64 with shares of
//! cos(m·φ_r) and sin(m·φ_r), m = 1..M, where φ_r = 2π·(r mod 2^K)/2^K.
//!
//! What it is for: evaluating a Fourier series of a shared fixed-point x
//! with one opening (the construction of Boura, Gama, Georgieva and
//! Jetchev, "High-precision privacy-preserving real-valued function
//! evaluation", FC 2018, on Z_2^64). The parties open c = x + r; because
//! 2^K divides 2^64, c mod 2^K = (x + r) mod 2^K exactly, so the angle of x
//! is φ_c − φ_r and
//!
//!   sin(m·φ_x) = sin(m·φ_c)·cos(m·φ_r) − cos(m·φ_c)·sin(m·φ_r),
//!
//! a public value times a shared one: local. A series Σ a_m sin(m·φ_x)
//! then costs one opening of one ring element per value and 2M dealt
//! elements. c is uniform on the whole ring (r is), so it says nothing of
//! x.
//!
//! Dealing: every party's seed expands to its share of r ([0, len), added
//! in the ring) and of the trigonometric values ([len, len + 2M·len),
//! mask by mask: cos(φ), sin(φ), cos(2φ), sin(2φ), … of the first mask,
//! then of the next); the
//! correction party receives the explicit share of the 2M·len values,
//! encoded with `frac_bits` fractional bits (rounded to nearest: error at
//! most 2^-(f+1) each). What each party learns: its shares, uniformly
//! random; the dealer learns the shapes.

use crate::CoreError;
use crate::dealer::{Dealer, DealtShare, expand_at};
use rand::{CryptoRng, Rng};
use rayon::prelude::*;

/// Checks the shape of a request: 1 ≤ K ≤ 64, M ≥ 1, f ≤ 62.
fn check(modulus_bits: u32, harmonics: usize, frac_bits: u32) -> Result<(), CoreError> {
    let bad = |what, expected, got| {
        Err(CoreError::ShapeMismatch {
            what,
            expected,
            got,
        })
    };
    if !(1..=64).contains(&modulus_bits) {
        return bad(
            "trigonometric masks: modulus bits (at most)",
            64,
            modulus_bits as usize,
        );
    }
    if harmonics == 0 {
        return bad("trigonometric masks: harmonics (at least)", 1, 0);
    }
    if frac_bits > 62 {
        return bad(
            "trigonometric masks: fractional bits (at most)",
            62,
            frac_bits as usize,
        );
    }
    Ok(())
}

/// Angles 2π·(r mod 2^K)/2^K for a fixed modulus 2^K.
#[derive(Debug, Clone, Copy)]
pub struct Angles {
    mask: u64,
    step: f64,
}

impl Angles {
    /// The angles for the modulus 2^`modulus_bits` (1 to 64).
    pub fn new(modulus_bits: u32) -> Self {
        Self {
            mask: if modulus_bits >= 64 {
                u64::MAX
            } else {
                (1u64 << modulus_bits) - 1
            },
            step: std::f64::consts::TAU / (modulus_bits as f64).exp2(),
        }
    }

    /// The angle of r.
    pub fn of(&self, r: u64) -> f64 {
        (r & self.mask) as f64 * self.step
    }
}

/// The angle 2π·(r mod 2^K)/2^K.
pub fn angle(r: u64, modulus_bits: u32) -> f64 {
    Angles::new(modulus_bits).of(r)
}

/// Calls `each(m, cos(m·φ), sin(m·φ))` for m = 1..=`harmonics`, by
/// rotation (error about m·10^-16).
pub fn for_harmonics(phi: f64, harmonics: usize, mut each: impl FnMut(usize, f64, f64)) {
    let (s1, c1) = phi.sin_cos();
    let (mut c, mut s) = (c1, s1);
    for m in 1..=harmonics {
        each(m, c, s);
        (c, s) = (c * c1 - s * s1, s * c1 + c * s1);
    }
}

/// cos(m·φ) and sin(m·φ) for m = 1..=`harmonics`.
pub fn harmonics_of(phi: f64, harmonics: usize) -> Vec<(f64, f64)> {
    let mut out = Vec::with_capacity(harmonics);
    for_harmonics(phi, harmonics, |_, c, s| out.push((c, s)));
    out
}

/// v·scale rounded to the nearest integer, as a ring element (|v·scale|
/// below 2^62).
pub fn encode_scaled(v: f64, scale: f64) -> u64 {
    let x = v * scale;
    (x + 0.5f64.copysign(x)) as i64 as u64
}

impl Dealer {
    /// `len` trigonometric masks with `harmonics` harmonics for the
    /// modulus 2^`modulus_bits`, values encoded with `frac_bits`
    /// fractional bits; one [`DealtShare`] per party.
    pub fn trig_masks<R: Rng + CryptoRng + ?Sized>(
        &self,
        len: usize,
        modulus_bits: u32,
        harmonics: usize,
        frac_bits: u32,
        rng: &mut R,
    ) -> Result<Vec<DealtShare>, CoreError> {
        check(modulus_bits, harmonics, frac_bits)?;
        let seeds = self.seeds(rng);
        let r = Self::sum_expansions(&seeds, 0, len);
        let angles = Angles::new(modulus_bits);
        let scale = (frac_bits as f64).exp2();
        let mut values = vec![0u64; 2 * harmonics * len];
        values
            .par_chunks_mut(2 * harmonics)
            .zip(r.par_iter())
            .for_each(|(out, &r)| {
                for_harmonics(angles.of(r), harmonics, |m, c, s| {
                    out[2 * (m - 1)] = encode_scaled(c, scale);
                    out[2 * (m - 1) + 1] = encode_scaled(s, scale);
                });
            });
        Ok(Self::deal(seeds, values, len))
    }
}

/// One party's share of trigonometric masks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrigMaskShare {
    /// Additive shares of the masks r.
    pub r: Vec<u64>,
    /// Shares of cos(m·φ_r) at 2M·e + 2(m − 1) and sin(m·φ_r) at 2M·e +
    /// 2(m − 1) + 1 for mask e.
    pub values: Vec<u64>,
    harmonics: usize,
}

impl TrigMaskShare {
    /// This party's item for `len` masks with `harmonics` harmonics.
    pub fn from_dealt(dealt: &DealtShare, len: usize, harmonics: usize) -> Result<Self, CoreError> {
        if harmonics == 0 {
            return Err(CoreError::ShapeMismatch {
                what: "trigonometric masks: harmonics (at least)",
                expected: 1,
                got: 0,
            });
        }
        let total = len
            .checked_mul(2 * harmonics)
            .ok_or(CoreError::ShapeMismatch {
                what: "trigonometric masks: elements",
                expected: usize::MAX,
                got: len,
            })?;
        Ok(Self {
            r: expand_at(&dealt.seed, 0, len),
            values: dealt.product_share(len, total)?,
            harmonics,
        })
    }

    /// This party's item from its shares of `r` and of the values (2M a
    /// mask, cos before sin, harmonic after harmonic), as a generator
    /// other than the dealer produces them.
    pub fn new(r: Vec<u64>, values: Vec<u64>, harmonics: usize) -> Result<Self, CoreError> {
        let expected = r.len().saturating_mul(2 * harmonics);
        if harmonics == 0 || values.len() != expected {
            return Err(CoreError::ShapeMismatch {
                what: "trigonometric masks: values",
                expected,
                got: values.len(),
            });
        }
        Ok(Self {
            r,
            values,
            harmonics,
        })
    }

    /// Mask e's shares: cos(φ), sin(φ), cos(2φ), sin(2φ), ….
    pub fn of(&self, e: usize) -> &[u64] {
        let k = 2 * self.harmonics;
        &self.values[e * k..(e + 1) * k]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::share::reconstruct;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn masks_carry_the_harmonics_of_their_angle() {
        let mut rng = StdRng::seed_from_u64(5);
        let (len, k, m, f) = (50, 21, 4, 16);
        let dealt = Dealer::new(3)
            .unwrap()
            .trig_masks(len, k, m, f, &mut rng)
            .unwrap();
        let shares: Vec<TrigMaskShare> = dealt
            .iter()
            .map(|d| {
                let d = DealtShare::from_bytes(&d.to_bytes(), d.correction.as_ref().map(Vec::len))
                    .unwrap();
                TrigMaskShare::from_dealt(&d, len, m).unwrap()
            })
            .collect();
        let r = reconstruct(&shares.iter().map(|s| s.r.as_slice()).collect::<Vec<_>>()).unwrap();
        for h in 1..=m {
            let plane = |k: usize| -> Vec<u64> {
                let parts: Vec<Vec<u64>> = shares
                    .iter()
                    .map(|s| (0..len).map(|e| s.of(e)[k]).collect())
                    .collect();
                reconstruct(&parts.iter().map(Vec::as_slice).collect::<Vec<_>>()).unwrap()
            };
            let (cos, sin) = (plane(2 * (h - 1)), plane(2 * (h - 1) + 1));
            for e in 0..len {
                let phi = angle(r[e], k) * h as f64;
                let scale = (f as f64).exp2();
                assert!(((cos[e] as i64) as f64 / scale - phi.cos()).abs() <= 1.0 / scale);
                assert!(((sin[e] as i64) as f64 / scale - phi.sin()).abs() <= 1.0 / scale);
            }
        }
        let dealer = Dealer::new(2).unwrap();
        assert!(dealer.trig_masks(1, 0, 1, 16, &mut rng).is_err());
        assert!(dealer.trig_masks(1, 65, 1, 16, &mut rng).is_err());
        assert!(dealer.trig_masks(1, 20, 0, 16, &mut rng).is_err());
        assert!(dealer.trig_masks(1, 20, 1, 63, &mut rng).is_err());
        assert!(TrigMaskShare::from_dealt(&dealt[0], len, m + 1).is_err());
    }

    #[test]
    fn angles_wrap_with_the_modulus() {
        assert_eq!(angle(0, 8), 0.0);
        assert!((angle(64, 8) - std::f64::consts::FRAC_PI_2).abs() < 1e-15);
        assert_eq!(angle(256 + 64, 8), angle(64, 8));
        assert!((angle(1 << 63, 64) - std::f64::consts::PI).abs() < 1e-15);
        let h = harmonics_of(0.3, 5);
        for (m, (c, s)) in h.iter().enumerate() {
            let a = 0.3 * (m + 1) as f64;
            assert!((c - a.cos()).abs() < 1e-14 && (s - a.sin()).abs() < 1e-14);
        }
    }
}
