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
use indomain_core::trig::{Angles, TrigMaskShare, encode_scaled, for_harmonics};
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
        let (pending, masked) = self.prepare_series(x, modulus_bits, a.len())?;
        let c = self.open(&masked)?;
        self.finish_series(pending, &c, a)
    }

    /// Step 1 of a sine series of at most [`CHUNK`] values: fetches the
    /// trigonometric masks and returns this party's share of c = x + r,
    /// to be opened (alone or with other values) and passed to
    /// [`finish_series`](Self::finish_series).
    pub fn prepare_series(
        &mut self,
        x: &[u64],
        modulus_bits: u32,
        harmonics: usize,
    ) -> Result<(PendingSeries, Shared), MpcError> {
        if x.len() > CHUNK || harmonics == 0 || harmonics > MAX_HARMONICS {
            return Err(MpcError::Usage(format!(
                "a sine series of {harmonics} harmonics on {} values (at most {CHUNK})",
                x.len()
            )));
        }
        let f = self.fixed_point().frac_bits();
        let mask = {
            let (parties, corr, _) = self.parts();
            corr.trig_masks(parties, x.len(), modulus_bits, harmonics, f)?
        };
        let mut masked = Shared(mask.r.clone());
        masked.add_assign(&Shared(x.to_vec()))?;
        Ok((PendingSeries { mask, modulus_bits }, masked))
    }

    /// Step 2 of a sine series, given the opened c: shares (f fractional
    /// bits) of Σ a_m·sin(m·φ_x).
    pub fn finish_series(
        &mut self,
        pending: PendingSeries,
        c: &[u64],
        a: &[f64],
    ) -> Result<Vec<u64>, MpcError> {
        let PendingSeries { mask, modulus_bits } = pending;
        if c.len() != mask.r.len() {
            return Err(MpcError::Usage(format!(
                "{} opened values for {} masks",
                c.len(),
                mask.r.len()
            )));
        }
        let f = self.fixed_point().frac_bits();
        let scale = ((f + PUBLIC_EXTRA_BITS) as f64).exp2();
        let angles = Angles::new(modulus_bits);
        let sum: Vec<u64> = c
            .par_iter()
            .enumerate()
            .map(|(e, &c)| {
                let shares = mask.of(e);
                let mut acc = 0u64;
                for_harmonics(angles.of(c), a.len(), |m, cos_c, sin_c| {
                    let k = 2 * (m - 1);
                    let am = a[m - 1];
                    acc = acc
                        .wrapping_add(encode_scaled(am * sin_c, scale).wrapping_mul(shares[k]))
                        .wrapping_sub(encode_scaled(am * cos_c, scale).wrapping_mul(shares[k + 1]));
                });
                acc
            })
            .collect();
        Ok(self.truncate(Shared(sum), f + PUBLIC_EXTRA_BITS)?.0)
    }
}

/// A sine series between its masking and its opening: the dealt masks.
pub struct PendingSeries {
    mask: TrigMaskShare,
    modulus_bits: u32,
}
