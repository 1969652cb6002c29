//! Division of shared fixed-point values by a shared positive divisor
//! whose range is known: num / den with 2^lo ≤ den < 2^hi.
//!
//! Construction (the normalise-then-Newton division of Catrina and
//! Saxena, "Secure computation with fixed-point numbers", FC 2010, with
//! the normalisation from comparisons against powers of two):
//!
//! 1. c_k = [den ≥ 2^k] for every k in (lo, hi), by packed comparisons in
//!    one call ([`crate::compare_bits`]) turned into ring bits.
//! 2. M = 2^(hi − e − 1) for e = ⌊log2 den⌋, linear in the bits:
//!    M = 2^(hi−lo−1) − Σ_k c_k·2^(hi−k−1) (an integer share).
//! 3. den′ = den·M/2^hi = den/2^(e+1) ∈ [1/2, 1) and num′ = num/2^(e+1),
//!    both truncated exactly ([`crate::truncate_exact`]).
//! 4. 1/den′ by Newton–Raphson from x₀ = 48/17 − 32/17·den′ (relative
//!    error at most 1/17), three iterations x ← x·(2 − den′·x): error below
//!    (1/17)^8 < 2·10^-10 before rounding.
//! 5. num/den = num′·(1/den′), the product truncated exactly.
//!
//! Error: a few units of 2^-f relative to the quotient (the rounding of
//! den′, num′ and the Newton steps). Correct while |num/den| < 2^(60 − hi
//! − f). Rounds: about 35 per call, whatever the length. What each party
//! learns: only uniformly random openings (comparisons, Beaver products,
//! exact truncations).

use crate::MpcError;
use crate::correlations::Correlations;
use crate::error::core;
use crate::session::Session;
use crate::shared::Shared;

impl<C: Correlations> Session<'_, C> {
    /// num / den element-wise (f fractional bits in and out), for den with
    /// 2^`lo` ≤ den < 2^`hi` in real units (−f ≤ lo < hi ≤ 40).
    pub fn divide(
        &mut self,
        num: &Shared,
        den: &Shared,
        lo: i32,
        hi: i32,
    ) -> Result<Shared, MpcError> {
        let fp = self.fixed_point();
        let f = fp.frac_bits() as i32;
        if num.len() != den.len() || !(-f <= lo && lo < hi && (1..=40).contains(&hi)) {
            return Err(MpcError::Usage(format!(
                "dividing {} by {} elements with a divisor in [2^{lo}, 2^{hi})",
                num.len(),
                den.len()
            )));
        }
        let len = den.len();
        let rank = self.rank();
        // 1. c_k = [den ≥ 2^k] for lo < k < hi.
        let ks: Vec<i32> = (lo + 1..hi).collect();
        let mut m = Shared::public(&vec![1u64 << (hi - lo - 1); len], rank);
        if !ks.is_empty() {
            let mut shifted = Vec::with_capacity(ks.len() * len);
            for &k in &ks {
                let mut d = den.clone();
                d.sub_public(&vec![1u64 << (k + f); len], rank)?;
                shifted.extend(d.0);
            }
            let below = self.less_than_zero_bits(&Shared(shifted), (hi + f + 1) as u32)?;
            let below = self.bits_to_ring(&below)?;
            // 2. M = 2^(hi−lo−1) − Σ_k (1 − below_k)·2^(hi−k−1).
            for (i, &k) in ks.iter().enumerate() {
                let weight = 1u64 << (hi - k - 1);
                let mut at_least = Shared::public(&vec![1; len], rank);
                at_least.sub_assign(&Shared(below.0[i * len..(i + 1) * len].to_vec()))?;
                at_least.scale(weight);
                m.sub_assign(&at_least)?;
            }
        }
        // 3. den′ and num′, one product and one exact truncation for both.
        let mut pair = den.0.clone();
        pair.extend_from_slice(num.as_slice());
        let mut mm = m.0.clone();
        mm.extend_from_slice(m.as_slice());
        let scaled = self.mul(&Shared(pair), &Shared(mm))?;
        let scaled = self.truncate_exact(&scaled, hi as u32)?;
        let (d, n) = scaled.0.split_at(len);
        let (d, n) = (Shared(d.to_vec()), Shared(n.to_vec()));
        // 4. Newton–Raphson for 1/den′.
        let enc = |v: f64| fp.encode(v).map_err(core("division"));
        let mut x = self.mul_public_real(d.clone(), &vec![-32.0 / 17.0; len])?;
        x.add_public(&vec![enc(48.0 / 17.0)?; len], rank)?;
        let two = enc(2.0)?;
        for _ in 0..3 {
            let dx = self.mul_fixed(&d, &x)?;
            let mut t = Shared::public(&vec![two; len], rank);
            t.sub_assign(&dx)?;
            x = self.mul_fixed(&x, &t)?;
        }
        // 5. num′·(1/den′).
        let q = self.mul(&n, &x)?;
        self.truncate_exact(&q, f as u32)
    }
}
