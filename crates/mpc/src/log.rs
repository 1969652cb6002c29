//! The natural logarithm of shared positive integers: what strict-mode
//! WOE needs for a handful of values a feature (a bin's events and
//! non-events).
//!
//! Construction: range reduction by secure comparisons, then a polynomial
//! on [1, 2) — the usual shape of MPC logarithms (e.g. Aly and Smart,
//! "Benchmarking privacy preserving scientific operations", ACNS 2019, and
//! SecretFlow SPU's `log`). For shared integers z with 1 ≤ z < 2^B
//! (B = `bits` ≤ [`MAX_LOG_BITS`]):
//!
//! 1. t_j = [z ≥ 2^j] for j = 1..B−1, one comparison each (`compare`,
//!    bound B, all values and thresholds in one vector); k = Σ t_j, so
//!    2^k ≤ z < 2^(k+1).
//! 2. The one-hot e_k = t_k − t_(k+1) (t_0 = 1, t_B = 0) gives
//!    p = Σ_k e_k · 2^(B−1−k) = 2^(B−1−k) linearly, and one Beaver product
//!    m = z·p ∈ [2^(B−1), 2^B): the mantissa z / 2^k with B − 1 fractional
//!    bits, exact (integers, no truncation). u = m / 2^(B−1) − 1 ∈ [0, 1),
//!    brought to f fractional bits (one truncation, or a shift).
//! 3. ln(1 + u) by the degree-7 polynomial [`LN1P`] (Chebyshev fit on
//!    [0, 1], largest error 2.3·10⁻⁷), by Horner: one product by a public
//!    constant, then 6 Beaver products, each truncated.
//! 4. ln z = k·ln 2 + ln(1 + u): k is an integer, so k·ln 2 is k times
//!    ln 2 encoded with f + 6 bits, added to the polynomial shifted by 6
//!    bits and truncated once.
//!
//! Error: the polynomial's 2.3·10⁻⁷ plus the rounding of fixed point —
//! each truncation is exact to one unit of 2^−f, and the coefficients are
//! rounded to 2^−(f+1); about 12 units of 2^−f in the worst case, 1.9·10⁻⁴
//! at f = 16 and 1.2·10⁻⁵ at f = 20 (the tests measure it). Every
//! truncated value is below 2^(2f+2), so a truncation fails with
//! probability below 2^(2f+3−64) (`indomain_core::truncate`).
//!
//! Cost per value: B − 1 comparisons of bound B, 1 + 6 Beaver products and
//! up to 8 truncations; rounds: the comparisons' 3 + ⌈log2 B⌉, then 7.
//!
//! What each party learns: what the comparisons and Beaver products open,
//! all uniformly random (see [`crate::compare`]); the result stays shared.

use crate::MpcError;
use crate::correlations::Correlations;
use crate::error::core;
use crate::roster::LEADER;
use crate::session::Session;
use crate::shared::Shared;

/// The widest integers [`Session::ln_int`] takes: z < 2^32 keeps the
/// mantissa product z·p below 2^63.
pub const MAX_LOG_BITS: u32 = 32;

/// Coefficients of the degree-7 polynomial for ln(1 + u) on [0, 1],
/// lowest degree first (a Chebyshev least-squares fit; largest error
/// 2.3·10⁻⁷ on the interval).
pub const LN1P: [f64; 8] = [
    2.215_976_490_638_205e-7,
    0.999_970_243_297_727_5,
    -0.499_333_948_981_895_5,
    0.327_511_713_701_815_7,
    -0.223_966_899_429_976_36,
    0.131_989_662_400_322_8,
    -0.053_267_477_734_373_57,
    0.010_243_828_631_451_01,
];

/// The polynomial in the clear, for references and tests.
pub fn ln1p_approx(u: f64) -> f64 {
    LN1P.iter().rev().fold(0.0, |acc, c| acc * u + c)
}

/// Extra fractional bits of ln 2 in step 4.
const LN2_EXTRA: u32 = 6;

impl<C: Correlations> Session<'_, C> {
    /// Shares of ln z with f fractional bits, for shared integers z (plain
    /// ring integers, no fractional bits) with 1 ≤ z < 2^`bits`
    /// (2 ≤ bits ≤ [`MAX_LOG_BITS`]). A z outside that range gives a wrong
    /// result, not an error: the caller bounds its inputs.
    pub fn ln_int(&mut self, z: &Shared, bits: u32) -> Result<Shared, MpcError> {
        if !(2..=MAX_LOG_BITS).contains(&bits) {
            return Err(MpcError::Usage(format!(
                "a logarithm of integers below 2^{bits} (2 to {MAX_LOG_BITS} bits)"
            )));
        }
        let len = z.len();
        let rank = self.rank();
        let leader = rank == LEADER;
        let b = bits as usize;
        let fp = self.fixed_point();
        let f = fp.frac_bits();

        // 1. t_j = 1 − [z − 2^j < 0], j = 1..B−1, threshold-major.
        let mut d = Vec::with_capacity(len * (b - 1));
        for j in 1..b {
            let mut dj = z.clone();
            dj.sub_public(&vec![1u64 << j; len], rank)?;
            d.extend(dj.0);
        }
        let below = self.less_than_zero(&Shared(d), bits)?;
        let t = |j: usize, i: usize| -> u64 {
            // t_0 = 1, t_B = 0 as sharings of public constants.
            match j {
                0 => leader as u64,
                j if j == b => 0,
                j => (leader as u64).wrapping_sub(below.0[(j - 1) * len + i]),
            }
        };
        // k = Σ_{j ≥ 1} t_j and p = Σ_k (t_k − t_{k+1}) · 2^(B−1−k).
        let mut k = vec![0u64; len];
        let mut p = vec![0u64; len];
        for i in 0..len {
            for j in 1..b {
                k[i] = k[i].wrapping_add(t(j, i));
            }
            for kk in 0..b {
                let e = t(kk, i).wrapping_sub(t(kk + 1, i));
                p[i] = p[i].wrapping_add(e.wrapping_mul(1u64 << (b - 1 - kk)));
            }
        }

        // 2. m = z·p ∈ [2^(B−1), 2^B); u = m / 2^(B−1) − 1 with f bits.
        let mut u = self.mul(z, &Shared(p))?;
        u.sub_public(&vec![1u64 << (b - 1); len], rank)?;
        let u = if b - 1 > f as usize {
            self.truncate(u, bits - 1 - f)?
        } else {
            let mut u = u;
            u.scale(1u64 << (f as usize - (b - 1)));
            u
        };

        // 3. Horner: acc = c_7·u + c_6, then acc = acc·u + c_j.
        let coeff = |c: f64| fp.encode(c).map_err(core("logarithm coefficients"));
        let mut acc = self.mul_public_real(u.clone(), &vec![LN1P[7]; len])?;
        acc.add_public(&vec![coeff(LN1P[6])?; len], rank)?;
        for &c in LN1P[..6].iter().rev() {
            acc = self.mul_fixed(&acc, &u)?;
            acc.add_public(&vec![coeff(c)?; len], rank)?;
        }

        // 4. + k·ln 2, with ln 2 carried at f + 6 bits.
        let ln2 = indomain_core::FixedPoint::new(f + LN2_EXTRA)
            .and_then(|wide| wide.encode(std::f64::consts::LN_2))
            .map_err(core("logarithm constant"))?;
        acc.scale(1u64 << LN2_EXTRA);
        let mut k = Shared(k);
        k.scale(ln2);
        acc.add_assign(&k)?;
        self.truncate(acc, LN2_EXTRA)
    }
}
