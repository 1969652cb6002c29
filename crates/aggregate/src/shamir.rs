//! Shamir threshold secret sharing over the prime field of curve25519-dalek's
//! [`Scalar`] (integers modulo ℓ ≈ 2^252).
//!
//! A secret s is the constant term of a random polynomial of degree t − 1;
//! the share of the holder numbered x (x ≥ 1) is the polynomial's value at
//! x. Any t shares give s by Lagrange interpolation at 0; any t − 1 are
//! uniformly random and say nothing about s.
//!
//! Why by hand rather than a crate: it is some forty lines over a field
//! type the workspace already has (`Scalar`, with constant-time arithmetic
//! and inversion), whereas the Shamir crates on crates.io either work over
//! GF(256) byte by byte (32 times the work for our 32-byte secrets) or are
//! unmaintained. A 128-bit seed or a 252-bit key fits one field element.
//!
//! Holders learn their share only; whoever gathers t shares learns s.

use curve25519_dalek::Scalar;
use rand::CryptoRng;

/// One holder's share: the holder's evaluation point and the value there.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Share {
    /// The evaluation point (≥ 1; 0 would be the secret itself).
    pub x: u32,
    /// The polynomial's value at `x`.
    pub y: Scalar,
}

impl std::fmt::Debug for Share {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A share is secret material: never print its value.
        write!(f, "Share {{ x: {}, .. }}", self.x)
    }
}

/// Splits `secret` into shares at the points `xs` (distinct, non-zero) with
/// threshold `t` (1 ≤ t ≤ xs.len()).
pub fn split<R: CryptoRng + ?Sized>(
    secret: &Scalar,
    t: usize,
    xs: &[u32],
    rng: &mut R,
) -> Vec<Share> {
    let mut coefficients = Vec::with_capacity(t.max(1));
    coefficients.push(*secret);
    coefficients.extend((1..t).map(|_| Scalar::random(rng)));
    xs.iter()
        .map(|&x| {
            let point = Scalar::from(x);
            // Horner's rule from the highest coefficient down.
            let y = coefficients
                .iter()
                .rev()
                .fold(Scalar::ZERO, |acc, c| acc * point + c);
            Share { x, y }
        })
        .collect()
}

/// Why shares could not be combined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CombineError {
    /// Fewer shares than the threshold.
    TooFew {
        /// Shares given.
        got: usize,
        /// Shares needed.
        needed: usize,
    },
    /// Two shares at the same point, or a share at 0.
    BadPoint(u32),
}

/// Recovers the secret from the first `t` of `shares` by Lagrange
/// interpolation at 0.
pub fn combine(shares: &[Share], t: usize) -> Result<Scalar, CombineError> {
    if shares.len() < t || t == 0 {
        return Err(CombineError::TooFew {
            got: shares.len(),
            needed: t.max(1),
        });
    }
    let used = &shares[..t];
    for (i, s) in used.iter().enumerate() {
        if s.x == 0 || used[..i].iter().any(|o| o.x == s.x) {
            return Err(CombineError::BadPoint(s.x));
        }
    }
    let mut secret = Scalar::ZERO;
    for (i, si) in used.iter().enumerate() {
        let xi = Scalar::from(si.x);
        let mut num = Scalar::ONE;
        let mut den = Scalar::ONE;
        for (j, sj) in used.iter().enumerate() {
            if i != j {
                let xj = Scalar::from(sj.x);
                num *= xj;
                den *= xj - xi;
            }
        }
        secret += si.y * num * den.invert();
    }
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn any_t_shares_recover_and_fewer_do_not() {
        let mut rng = StdRng::seed_from_u64(5);
        let secret = Scalar::random(&mut rng);
        let xs: Vec<u32> = (1..=7).collect();
        let shares = split(&secret, 4, &xs, &mut rng);
        assert_eq!(combine(&shares, 4).unwrap(), secret);
        let subset = [shares[6], shares[1], shares[4], shares[2]];
        assert_eq!(combine(&subset, 4).unwrap(), secret);
        // Three shares interpolate a degree-2 polynomial: not the secret.
        assert_ne!(combine(&shares[..3], 3).unwrap(), secret);
        assert_eq!(
            combine(&shares[..3], 4),
            Err(CombineError::TooFew { got: 3, needed: 4 })
        );
        let dup = [shares[0], shares[0], shares[1], shares[2]];
        assert_eq!(combine(&dup, 4), Err(CombineError::BadPoint(1)));
    }
}
