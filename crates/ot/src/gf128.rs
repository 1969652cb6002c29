//! Arithmetic in GF(2^128) = GF(2)\[X\]/(X^128 + X^7 + X^2 + X + 1), elements
//! as `u128` with bit i the coefficient of X^i. Addition is XOR; the
//! product uses the carry-less multiply instruction (pclmulqdq) when the CPU
//! has it, detected at run time, and a portable shift-and-add otherwise.

/// The product a·b.
#[inline]
pub fn mul(a: u128, b: u128) -> u128 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("pclmulqdq") {
            // SAFETY: the CPU has pclmulqdq (checked just above); sse2 is
            // part of x86_64.
            return unsafe { clmul::mul(a, b) };
        }
    }
    mul_portable(a, b)
}

/// Multiplies every element of `a` by `b`, on rayon for long slices.
pub fn mul_all(a: &mut [u128], b: u128) {
    use rayon::prelude::*;
    a.par_chunks_mut(1 << 14)
        .for_each(|c| c.iter_mut().for_each(|x| *x = mul(*x, b)));
}

/// The product by shift-and-add, one bit of b at a time.
pub fn mul_portable(a: u128, b: u128) -> u128 {
    let (mut lo, mut hi) = (0u128, 0u128);
    for i in 0..128 {
        if (b >> i) & 1 == 1 {
            lo ^= a << i;
            if i > 0 {
                hi ^= a >> (128 - i);
            }
        }
    }
    reduce(lo, hi)
}

/// Reduces the 256-bit product hi·X^128 + lo.
#[inline]
fn reduce(lo: u128, hi: u128) -> u128 {
    // hi·X^128 = hi·(X^7 + X^2 + X + 1); the part of that above X^128 is at
    // most 7 bits and folds once more.
    let fold = |h: u128| -> (u128, u128) {
        let lo = h ^ (h << 1) ^ (h << 2) ^ (h << 7);
        let over = (h >> 127) ^ (h >> 126) ^ (h >> 121);
        (lo, over)
    };
    let (l1, over) = fold(hi);
    let (l2, _) = fold(over);
    lo ^ l1 ^ l2
}

#[cfg(target_arch = "x86_64")]
mod clmul {
    use std::arch::x86_64::*;

    /// The product with four carry-less 64×64 multiplies.
    ///
    /// # Safety
    /// The CPU must support pclmulqdq.
    #[target_feature(enable = "pclmulqdq")]
    pub unsafe fn mul(a: u128, b: u128) -> u128 {
        let x = _mm_set_epi64x((a >> 64) as i64, a as i64);
        let y = _mm_set_epi64x((b >> 64) as i64, b as i64);
        let lo = _mm_clmulepi64_si128::<0x00>(x, y);
        let hi = _mm_clmulepi64_si128::<0x11>(x, y);
        let mid = _mm_xor_si128(
            _mm_clmulepi64_si128::<0x01>(x, y),
            _mm_clmulepi64_si128::<0x10>(x, y),
        );
        let lo = to_u128(lo) ^ (to_u128(mid) << 64);
        let hi = to_u128(hi) ^ (to_u128(mid) >> 64);
        super::reduce(lo, hi)
    }

    #[inline(always)]
    fn to_u128(v: __m128i) -> u128 {
        let mut out = [0u8; 16];
        // SAFETY: `out` has 16 bytes; an unaligned store is allowed.
        unsafe { _mm_storeu_si128(out.as_mut_ptr().cast(), v) };
        u128::from_le_bytes(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng, rngs::StdRng};

    /// The low terms of the reduction polynomial: X^128 = X^7 + X^2 + X + 1.
    const POLY_LOW: u128 = 0x87;

    #[test]
    fn known_answers() {
        // X^127 · X = X^128 = X^7 + X^2 + X + 1.
        assert_eq!(mul(1 << 127, 2), POLY_LOW);
        assert_eq!(mul_portable(1 << 127, 2), POLY_LOW);
        // X^127 · X^127 = X^254 = X^126·(X^7 + X^2 + X + 1)
        //   = X^133 + X^128 + X^127 + X^126, and X^133 = X^12 + X^7 + X^6 + X^5,
        //   X^128 = X^7 + X^2 + X + 1.
        let want = (1u128 << 12) | (1 << 6) | (1 << 5) | (1 << 2) | 2 | 1 | (1 << 127) | (1 << 126);
        assert_eq!(mul(1 << 127, 1 << 127), want);
        assert_eq!(mul_portable(1 << 127, 1 << 127), want);
        // (X + 1)·(X + 1) = X^2 + 1; 1 is the unit.
        assert_eq!(mul(3, 3), 5);
        assert_eq!(mul(0xdead_beef, 1), 0xdead_beef);
    }

    #[test]
    fn instruction_and_portable_agree_and_the_field_laws_hold() {
        let mut rng = StdRng::seed_from_u64(7);
        for _ in 0..2000 {
            let (a, b, c): (u128, u128, u128) = (rng.random(), rng.random(), rng.random());
            assert_eq!(mul(a, b), mul_portable(a, b));
            assert_eq!(mul(a, b), mul(b, a));
            assert_eq!(mul(a, b ^ c), mul(a, b) ^ mul(a, c));
            assert_eq!(mul(mul(a, b), c), mul(a, mul(b, c)));
        }
    }
}
