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
//! in the ring) and of the trigonometric values ([len, len + 2M·len):
//! cos(φ) of every mask, then sin(φ), then cos(2φ), sin(2φ), …); the
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

/// The angle 2π·(r mod 2^K)/2^K.
pub fn angle(r: u64, modulus_bits: u32) -> f64 {
    let low = if modulus_bits >= 64 {
        r
    } else {
        r & ((1u64 << modulus_bits) - 1)
    };
    std::f64::consts::TAU * (low as f64 / (modulus_bits as f64).exp2())
}

/// cos(m·φ) and sin(m·φ) for m = 1..=`harmonics`, by rotation.
pub fn harmonics_of(phi: f64, harmonics: usize) -> Vec<(f64, f64)> {
    let (s1, c1) = phi.sin_cos();
    let mut out = Vec::with_capacity(harmonics);
    let (mut c, mut s) = (c1, s1);
    for _ in 0..harmonics {
        out.push((c, s));
        (c, s) = (c * c1 - s * s1, s * c1 + c * s1);
    }
    out
}

fn encode(v: f64, frac_bits: u32) -> u64 {
    (v * (frac_bits as f64).exp2()).round() as i64 as u64
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
        let mut values = vec![0u64; 2 * harmonics * len];
        let per_mask: Vec<Vec<(f64, f64)>> = r
            .par_iter()
            .map(|&r| harmonics_of(angle(r, modulus_bits), harmonics))
            .collect();
        values
            .par_chunks_mut(len.max(1))
            .enumerate()
            .for_each(|(plane, out)| {
                let (m, sine) = (plane / 2, plane % 2 == 1);
                for (o, h) in out.iter_mut().zip(&per_mask) {
                    let (c, s) = h[m];
                    *o = encode(if sine { s } else { c }, frac_bits);
                }
            });
        Ok(Self::deal(seeds, values, len))
    }
}

/// One party's share of trigonometric masks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrigMaskShare {
    /// Additive shares of the masks r.
    pub r: Vec<u64>,
    /// Shares of cos(m·φ_r) at plane 2(m − 1), sin(m·φ_r) at plane
    /// 2(m − 1) + 1, each plane `len` elements.
    pub values: Vec<u64>,
    len: usize,
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
            len,
        })
    }

    /// Shares of cos(m·φ_r) (m ≥ 1).
    pub fn cos(&self, m: usize) -> &[u64] {
        let at = 2 * (m - 1) * self.len;
        &self.values[at..at + self.len]
    }

    /// Shares of sin(m·φ_r) (m ≥ 1).
    pub fn sin(&self, m: usize) -> &[u64] {
        let at = (2 * (m - 1) + 1) * self.len;
        &self.values[at..at + self.len]
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
            let cos = reconstruct(&shares.iter().map(|s| s.cos(h)).collect::<Vec<_>>()).unwrap();
            let sin = reconstruct(&shares.iter().map(|s| s.sin(h)).collect::<Vec<_>>()).unwrap();
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
