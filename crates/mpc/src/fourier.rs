//! Fourier sine series of shared fixed-point values with one opening
//! (Boura, Gama, Georgieva and Jetchev, "High-precision privacy-preserving
//! real-valued function evaluation", FC 2018), on Z_2^64.
//!
//! For x with `x_frac` fractional bits and a period P = 2^p (real units),
//! K = p + x_frac: the dealer deals r with shares of cos(m·φ_r), sin(m·φ_r)
//! for φ_r = 2π(r mod 2^K)/2^K ([`Correlations::trig_masks`]); the parties
//! open c = x + r; since 2^K divides 2^64, c mod 2^K = (x + r) mod 2^K and
//!
//!   Σ a_m sin(2πm·x/P) = Σ a_m [sin(mφ_c)·cos(mφ_r) − cos(mφ_c)·sin(mφ_r)],
//!
//! public values times shares. Cost: one opening of one ring element per
//! value (one round) and 2M dealt elements per value (M harmonics) from
//! the dealer to the leader; no product.
//!
//! Fixed point: the dealt values carry f fractional bits (the session's),
//! the public multipliers f + [`PUBLIC_EXTRA_BITS`], the sum is truncated
//! by f + [`PUBLIC_EXTRA_BITS`] once. Rounding adds at most
//! Σ|a_m|·2^-f (dealt values) + M·2^-(f+2) (public multipliers) + 2^-f
//! (truncation) to the series' own error; the truncated sum is at most
//! Σ|a_m|·2^(2f+2) in the ring, which bounds the truncation's failure
//! probability (`indomain_core::truncate`).
//!
//! What each party learns: c, uniformly random on the ring (r is).

use crate::MpcError;
use crate::correlations::Correlations;
use crate::session::Session;
use crate::shared::Shared;
use indomain_core::trig::{angle, harmonics_of};
use rayon::prelude::*;

/// Values per dealt item: 2^18 values of up to 15 harmonics stay within
/// the dealer's default item limit of 2^23 elements.
pub const CHUNK: usize = 1 << 18;

/// The most harmonics a series may have (so that a chunk fits one item).
pub const MAX_HARMONICS: usize = 15;

/// Extra fractional bits of the public multipliers.
pub const PUBLIC_EXTRA_BITS: u32 = 2;

impl<C: Correlations> Session<'_, C> {
    /// Shares (f fractional bits) of Σ_m a_m·sin(2πm·x/2^`period_log2`),
    /// m = 1..=a.len(), for shared x with `x_frac` fractional bits.
    pub fn sine_series(
        &mut self,
        x: &Shared,
        x_frac: u32,
        period_log2: u32,
        coefficients: &[f64],
    ) -> Result<Shared, MpcError> {
        let modulus_bits = period_log2 + x_frac;
        if coefficients.is_empty()
            || coefficients.len() > MAX_HARMONICS
            || !(1..=64).contains(&modulus_bits)
        {
            return Err(MpcError::Usage(format!(
                "a sine series of {} harmonics (1 to {MAX_HARMONICS}) for a modulus of 2^{modulus_bits}",
                coefficients.len()
            )));
        }
        let mut out = Vec::with_capacity(x.len());
        for chunk in x.as_slice().chunks(CHUNK) {
            out.extend(self.sine_series_chunk(chunk, modulus_bits, coefficients)?);
        }
        Ok(Shared(out))
    }

    fn sine_series_chunk(
        &mut self,
        x: &[u64],
        modulus_bits: u32,
        a: &[f64],
    ) -> Result<Vec<u64>, MpcError> {
        let len = x.len();
        let f = self.fixed_point().frac_bits();
        let mask = {
            let (parties, corr, _) = self.parts();
            corr.trig_masks(parties, len, modulus_bits, a.len(), f)?
        };
        let mut masked = Shared(mask.r.clone());
        masked.add_assign(&Shared(x.to_vec()))?;
        let c = self.open(&masked)?;
        let scale = ((f + PUBLIC_EXTRA_BITS) as f64).exp2();
        let encode = |v: f64| (v * scale).round() as i64 as u64;
        let sum: Vec<u64> = c
            .par_iter()
            .enumerate()
            .map(|(e, &c)| {
                harmonics_of(angle(c, modulus_bits), a.len())
                    .into_iter()
                    .zip(a)
                    .enumerate()
                    .fold(0u64, |acc, (k, ((cos_c, sin_c), a))| {
                        let m = k + 1;
                        acc.wrapping_add(encode(a * sin_c).wrapping_mul(mask.cos(m)[e]))
                            .wrapping_sub(encode(a * cos_c).wrapping_mul(mask.sin(m)[e]))
                    })
            })
            .collect();
        Ok(self.truncate(Shared(sum), f + PUBLIC_EXTRA_BITS)?.0)
    }
}
