//! Ring-LWE encryption for the plaintext-matrix × encrypted-vector
//! products of the two-party generator, written here rather than taken
//! from a crate: the maintained pure-Rust BFV/BGV crate (`fhe` 0.1) takes
//! a plaintext modulus of at most 62 bits (its `Modulus`), where these
//! products live in Z_2^64, and would bring a second `rand`, `prost` and
//! `num-bigint`. What is needed is small: one ring, secret- and public-key
//! encryption, plaintext-times-ciphertext and decryption.
//!
//! The ring is Z_q[X]/(X^N + 1) with N = 8192 and q the product of four
//! primes p_i ≡ 1 (mod 2N) just below 2^54 (log2 q ≈ 216, within the 218
//! bits the homomorphic-encryption security standard allows at N = 8192
//! for 128-bit security with a ternary secret). Polynomials are kept in
//! RNS and NTT form. The plaintext space is Z_2^64[X]/(X^N + 1) in the low
//! bits, as in BGV with t = 2^64 (t and q coprime): a ciphertext (c0, c1)
//! decrypts to c0 + c1·s = m + t·e (mod q), read as an integer of
//! (−q/2, q/2] and reduced mod 2^64. Errors are centred binomial (η = 21,
//! σ ≈ 3.24), the secret ternary.

use indomain_ot::prf::Aes;
use rand::{CryptoRng, RngExt};
use rayon::prelude::*;
use std::sync::LazyLock;

/// The ring degree.
pub const N: usize = 8192;
const LOG_N: u32 = 13;
/// RNS limbs (primes).
pub const LIMBS: usize = 4;
/// Bytes of one residue on the wire (every prime is below 2^54).
pub const RESIDUE_BYTES: usize = 7;
/// Bytes of one polynomial on the wire.
pub const POLY_BYTES: usize = LIMBS * N * RESIDUE_BYTES;

/// A polynomial in RNS form: limb i's N residues at [i·N, (i+1)·N).
pub type Poly = Vec<u64>;

/// The ring's constants, derived once.
pub struct Ring {
    pub primes: [u64; LIMBS],
    barrett: [u64; LIMBS],
    /// Limb l's powers of ψ in bit-reversed order, and of ψ^(-1), each
    /// with its Shoup companion: one contiguous table a limb, so that a
    /// butterfly stage reads its twiddles in order.
    psi_rev: [Twiddles; LIMBS],
    psi_inv_rev: [Twiddles; LIMBS],
    n_inv: [(u64, u64); LIMBS],
    /// (q/p_i)^(-1) mod p_i, Shoup form.
    crt_inv: [(u64, u64); LIMBS],
    /// (q/p_i) mod 2^64.
    crt_q_i: [u64; LIMBS],
    /// q mod 2^64.
    q_low: u64,
    /// 2^64 mod p_i.
    t_mod: [u64; LIMBS],
}

static RING: LazyLock<Ring> = LazyLock::new(Ring::new);

/// The ring.
pub fn ring() -> &'static Ring {
    &RING
}

fn pow_mod(mut b: u64, mut e: u64, p: u64) -> u64 {
    let mut r = 1u64;
    b %= p;
    while e > 0 {
        if e & 1 == 1 {
            r = ((r as u128 * b as u128) % p as u128) as u64;
        }
        b = ((b as u128 * b as u128) % p as u128) as u64;
        e >>= 1;
    }
    r
}

/// Deterministic Miller–Rabin for 64-bit integers.
fn is_prime(n: u64) -> bool {
    if n < 2 {
        return false;
    }
    for p in [2u64, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37] {
        if n.is_multiple_of(p) {
            return n == p;
        }
    }
    let (mut d, mut r) = (n - 1, 0);
    while d.is_multiple_of(2) {
        d /= 2;
        r += 1;
    }
    'witness: for a in [2u64, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37] {
        let mut x = pow_mod(a, d, n);
        if x == 1 || x == n - 1 {
            continue;
        }
        for _ in 1..r {
            x = ((x as u128 * x as u128) % n as u128) as u64;
            if x == n - 1 {
                continue 'witness;
            }
        }
        return false;
    }
    true
}

fn shoup(w: u64, p: u64) -> (u64, u64) {
    (w, (((w as u128) << 64) / p as u128) as u64)
}

/// x·w mod p with w's Shoup companion.
#[inline]
fn mul_shoup(x: u64, w: (u64, u64), p: u64) -> u64 {
    let q = ((x as u128 * w.1 as u128) >> 64) as u64;
    let r = x.wrapping_mul(w.0).wrapping_sub(q.wrapping_mul(p));
    if r >= p { r - p } else { r }
}

/// b mod p for a 128-bit b, with t = 2^64 mod p and 1 in Shoup form:
/// hi·t + lo, each product reduced by Shoup's method rather than by a
/// 128-bit division.
#[inline]
fn reduce_block(b: u128, p: u64, t: (u64, u64), one: (u64, u64)) -> u64 {
    let r = mul_shoup((b >> 64) as u64, t, p) + mul_shoup(b as u64, one, p);
    if r >= p { r - p } else { r }
}

fn bit_reverse(x: usize, bits: u32) -> usize {
    x.reverse_bits() >> (usize::BITS - bits)
}

/// x·w mod p, lazily: in [0, 2p) for any x < 2^64 (Harvey).
#[inline(always)]
fn mul_shoup_lazy(x: u64, w: u64, w_shoup: u64, p: u64) -> u64 {
    let q = ((x as u128 * w_shoup as u128) >> 64) as u64;
    x.wrapping_mul(w).wrapping_sub(q.wrapping_mul(p))
}

/// N twiddles and their Shoup companions.
#[derive(Default)]
struct Twiddles {
    w: Vec<u64>,
    shoup: Vec<u64>,
}

impl Ring {
    fn new() -> Self {
        let two_n = 2 * N as u64;
        let mut primes = [0u64; LIMBS];
        let mut k = (1u64 << 54) / two_n;
        let mut found = 0;
        while found < LIMBS {
            let p = k * two_n + 1;
            if p < 1 << 54 && is_prime(p) {
                primes[found] = p;
                found += 1;
            }
            k -= 1;
        }
        let mut psi_rev: [Twiddles; LIMBS] = Default::default();
        let mut psi_inv_rev: [Twiddles; LIMBS] = Default::default();
        let mut n_inv = [(0, 0); LIMBS];
        let mut barrett = [0u64; LIMBS];
        for (l, &p) in primes.iter().enumerate() {
            let psi = (2..)
                .map(|g| pow_mod(g, (p - 1) / two_n, p))
                .find(|&psi| pow_mod(psi, N as u64, p) == p - 1)
                .unwrap_or(1);
            let psi_inv = pow_mod(psi, p - 2, p);
            let (mut a, mut b) = (1u64, 1u64);
            let mut powers = vec![(0u64, 0u64); N];
            for pw in powers.iter_mut() {
                *pw = (a, b);
                a = ((a as u128 * psi as u128) % p as u128) as u64;
                b = ((b as u128 * psi_inv as u128) % p as u128) as u64;
            }
            for i in 0..N {
                let (f, inv) = powers[bit_reverse(i, LOG_N)];
                let (f, inv) = (shoup(f, p), shoup(inv, p));
                psi_rev[l].w.push(f.0);
                psi_rev[l].shoup.push(f.1);
                psi_inv_rev[l].w.push(inv.0);
                psi_inv_rev[l].shoup.push(inv.1);
            }
            n_inv[l] = shoup(pow_mod(N as u64, p - 2, p), p);
            barrett[l] = ((1u128 << 116) / p as u128) as u64;
        }
        let mut crt_inv = [(0, 0); LIMBS];
        let mut crt_q_i = [0u64; LIMBS];
        let mut t_mod = [0u64; LIMBS];
        for i in 0..LIMBS {
            let p = primes[i];
            let others = (0..LIMBS).filter(|&j| j != i);
            let mod_p = others.clone().fold(1u64, |acc, j| {
                ((acc as u128 * primes[j] as u128) % p as u128) as u64
            });
            crt_inv[i] = shoup(pow_mod(mod_p, p - 2, p), p);
            crt_q_i[i] = others.fold(1u64, |acc, j| acc.wrapping_mul(primes[j]));
            t_mod[i] = ((1u128 << 64) % p as u128) as u64;
        }
        let q_low = primes.iter().fold(1u64, |a, p| a.wrapping_mul(*p));
        Self {
            primes,
            barrett,
            psi_rev,
            psi_inv_rev,
            n_inv,
            crt_inv,
            crt_q_i,
            q_low,
            t_mod,
        }
    }

    /// a·b mod p_l (Barrett, for primes in [2^53, 2^54)).
    #[inline]
    pub fn mul(&self, a: u64, b: u64, l: usize) -> u64 {
        self.barrett_reduce(a as u128 * b as u128, l)
    }

    /// x mod p_l for any 128-bit x, without a 128-bit division: x =
    /// hi·2^64 + lo, each half reduced by Barrett and recombined.
    #[inline]
    pub fn reduce_u128(&self, x: u128, l: usize) -> u64 {
        let (hi, lo) = ((x >> 64) as u64, x as u64);
        let (hi, lo) = (
            self.barrett_reduce(hi as u128, l),
            self.barrett_reduce(lo as u128, l),
        );
        self.barrett_reduce(hi as u128 * self.t_mod[l] as u128 + lo as u128, l)
    }

    /// x mod p_l for x < 2^115 (Barrett with 2^116/p_l).
    #[inline]
    fn barrett_reduce(&self, x: u128, l: usize) -> u64 {
        let p = self.primes[l];
        let q = (((x >> 52) * self.barrett[l] as u128) >> 64) as u64;
        let mut r = (x - q as u128 * p as u128) as u64;
        while r >= p {
            r -= p;
        }
        r
    }

    /// A signed integer's residue mod p_l.
    #[inline]
    pub fn reduce(&self, v: i64, l: usize) -> u64 {
        let p = self.primes[l];
        let r = v.unsigned_abs() % p;
        if v < 0 && r != 0 { p - r } else { r }
    }

    /// In-place negacyclic NTT of every limb (bit-reversed order).
    ///
    /// Cooley–Tukey with Harvey's lazy butterflies: values stay in
    /// [0, 4p) between stages (4p < 2^56) and are brought back to [0, p)
    /// once at the end, so the result is the same canonical residue as a
    /// fully reduced transform. A limb whose coefficients from `N >> k` on
    /// are zero (the transposed product's plaintexts fill fewer than N/8)
    /// skips the first k stages: there every butterfly's second input is
    /// zero and both outputs equal the first, so the stages only copy the
    /// low block into the others.
    pub fn ntt(&self, a: &mut [u64]) {
        a.par_chunks_mut(N).enumerate().for_each(|(l, a)| {
            let p = self.primes[l];
            let (two_p, tw) = (2 * p, &self.psi_rev[l]);
            let len = a.iter().rposition(|&x| x != 0).map_or(0, |i| i + 1);
            let mut skip = 0;
            while skip < LOG_N && len <= N >> (skip + 1) {
                skip += 1;
            }
            let block = N >> skip;
            let (low, rest) = a.split_at_mut(block);
            for dst in rest.chunks_exact_mut(block) {
                dst.copy_from_slice(low);
            }
            let (mut m, mut t) = (1usize << skip, block);
            while m < N {
                t /= 2;
                let twiddles = tw.w[m..2 * m].iter().zip(&tw.shoup[m..2 * m]);
                for (pair, (&w, &ws)) in a.chunks_exact_mut(2 * t).zip(twiddles) {
                    let (xs, ys) = pair.split_at_mut(t);
                    for (x, y) in xs.iter_mut().zip(ys.iter_mut()) {
                        let u = if *x >= two_p { *x - two_p } else { *x };
                        let v = mul_shoup_lazy(*y, w, ws, p);
                        *x = u + v;
                        *y = u + two_p - v;
                    }
                }
                m *= 2;
            }
            for x in a.iter_mut() {
                let y = if *x >= two_p { *x - two_p } else { *x };
                *x = if y >= p { y - p } else { y };
            }
        });
    }

    /// The inverse of [`ntt`](Self::ntt) (Gentleman–Sande, lazy: values
    /// in [0, 2p) between stages, reduced by the final scaling by 1/N).
    pub fn intt(&self, a: &mut [u64]) {
        a.par_chunks_mut(N).enumerate().for_each(|(l, a)| {
            let p = self.primes[l];
            let (two_p, tw) = (2 * p, &self.psi_inv_rev[l]);
            let (mut t, mut m) = (1usize, N);
            while m > 1 {
                let h = m / 2;
                let twiddles = tw.w[h..m].iter().zip(&tw.shoup[h..m]);
                for (pair, (&w, &ws)) in a.chunks_exact_mut(2 * t).zip(twiddles) {
                    let (xs, ys) = pair.split_at_mut(t);
                    for (x, y) in xs.iter_mut().zip(ys.iter_mut()) {
                        let (u, v) = (*x, *y);
                        let sum = u + v;
                        *x = if sum >= two_p { sum - two_p } else { sum };
                        *y = mul_shoup_lazy(u + two_p - v, w, ws, p);
                    }
                }
                t *= 2;
                m = h;
            }
            for v in a.iter_mut() {
                *v = mul_shoup(*v, self.n_inv[l], p);
            }
        });
    }

    /// acc += a·b coefficient-wise (NTT form).
    pub fn mul_add(&self, acc: &mut [u64], a: &[u64], b: &[u64]) {
        acc.par_chunks_mut(N)
            .zip(a.par_chunks(N).zip(b.par_chunks(N)))
            .enumerate()
            .for_each(|(l, (acc, (a, b)))| {
                let p = self.primes[l];
                for ((o, x), y) in acc.iter_mut().zip(a).zip(b) {
                    let s = *o + self.mul(*x, *y, l);
                    *o = if s >= p { s - p } else { s };
                }
            });
    }

    /// acc += k·a for a signed scalar k (any domain).
    pub fn scale_add(&self, acc: &mut [u64], a: &[u64], k: i64) {
        acc.par_chunks_mut(N)
            .zip(a.par_chunks(N))
            .enumerate()
            .for_each(|(l, (acc, a))| {
                let p = self.primes[l];
                let w = shoup(self.reduce(k, l), p);
                for (o, x) in acc.iter_mut().zip(a) {
                    let s = *o + mul_shoup(*x, w, p);
                    *o = if s >= p { s - p } else { s };
                }
            });
    }

    /// acc += a (same domain).
    pub fn add(&self, acc: &mut [u64], a: &[u64]) {
        acc.par_chunks_mut(N)
            .zip(a.par_chunks(N))
            .enumerate()
            .for_each(|(l, (acc, a))| {
                let p = self.primes[l];
                for (o, x) in acc.iter_mut().zip(a) {
                    let s = *o + x;
                    *o = if s >= p { s - p } else { s };
                }
            });
    }

    /// The coefficient-form polynomial with signed integer coefficients
    /// (the rest zero).
    pub fn signed_poly(&self, coeffs: &[i64]) -> Poly {
        let mut out = vec![0u64; LIMBS * N];
        out.par_chunks_mut(N).enumerate().for_each(|(l, limb)| {
            for (o, c) in limb.iter_mut().zip(coeffs) {
                *o = self.reduce(*c, l);
            }
        });
        out
    }

    /// A uniform polynomial (NTT form) from a 128-bit seed: each residue
    /// is a 128-bit AES-CTR block reduced mod p_i (bias below 2^-74).
    /// Sequential, limb by limb: the expansion of stored seeded
    /// ciphertexts runs it on every thread of a product at once.
    pub fn uniform(&self, seed: u128) -> Poly {
        let mut out = vec![0u64; LIMBS * N];
        self.uniform_into(seed, &mut out);
        out
    }

    /// [`uniform`](Self::uniform) written into `out` (LIMBS·N residues).
    pub fn uniform_into(&self, seed: u128, out: &mut [u64]) {
        let aes = Aes::new(seed);
        // Keystream a piece at a time, on the stack.
        let mut blocks = [0u128; 512];
        for (l, limb) in out.chunks_mut(N).enumerate() {
            let p = self.primes[l];
            let (t, one) = (shoup(self.t_mod[l], p), shoup(1, p));
            for (k, piece) in limb.chunks_mut(blocks.len()).enumerate() {
                aes.keystream((l * N + k * blocks.len()) as u128, &mut blocks);
                for (o, b) in piece.iter_mut().zip(&blocks) {
                    *o = reduce_block(*b, p, t, one);
                }
            }
        }
    }

    /// Decrypts x = c0 + c1·s (NTT form): the first `len` coefficients of
    /// the centred integer x, mod 2^64.
    pub fn decrypt(&self, c0: &[u64], c1: &[u64], s: &[u64], len: usize) -> Vec<u64> {
        let mut x = c0.to_vec();
        self.mul_add(&mut x, c1, s);
        self.intt(&mut x);
        (0..len.min(N))
            .into_par_iter()
            .map(|k| {
                let mut sum = 0u64;
                let mut frac = 0f64;
                for l in 0..LIMBS {
                    let p = self.primes[l];
                    let y = mul_shoup(x[l * N + k], self.crt_inv[l], p);
                    sum = sum.wrapping_add(y.wrapping_mul(self.crt_q_i[l]));
                    frac += y as f64 / p as f64;
                }
                // x = Σ y_l·(q/p_l) − k·q with k = round(Σ y_l/p_l): the
                // centred representative (|x| ≪ q/2, so rounding is safe).
                let k = frac.round() as u64;
                sum.wrapping_sub(k.wrapping_mul(self.q_low))
            })
            .collect()
    }

    /// t = 2^64 mod p_l.
    pub fn t_mod(&self, l: usize) -> u64 {
        self.t_mod[l]
    }
}

/// A ternary secret, N coefficients in {−1, 0, 1}.
pub fn ternary<R: CryptoRng + ?Sized>(rng: &mut R) -> Vec<i64> {
    (0..N).map(|_| rng.random_range(0..3) as i64 - 1).collect()
}

/// Centred binomial errors (η = 21): Σ of 21 coin pairs' differences.
pub fn error<R: CryptoRng + ?Sized>(rng: &mut R) -> Vec<i64> {
    (0..N)
        .map(|_| {
            let bits: u64 = rng.random();
            (bits & 0x1f_ffff).count_ones() as i64 - (bits >> 21 & 0x1f_ffff).count_ones() as i64
        })
        .collect()
}

/// Writes a polynomial as 7-byte residues.
pub fn write_poly(out: &mut Vec<u8>, poly: &[u64]) {
    for v in poly {
        out.extend_from_slice(&v.to_le_bytes()[..RESIDUE_BYTES]);
    }
}

fn residues(bytes: &[u8]) -> impl Iterator<Item = u64> + '_ {
    bytes.chunks_exact(RESIDUE_BYTES).map(|c| {
        let mut b = [0u8; 8];
        b[..RESIDUE_BYTES].copy_from_slice(c);
        u64::from_le_bytes(b)
    })
}

/// Whether `bytes` is a polynomial of 7-byte residues, each below its
/// prime.
pub fn is_poly(bytes: &[u8]) -> bool {
    let r = ring();
    bytes.len() == POLY_BYTES
        && bytes
            .chunks(N * RESIDUE_BYTES)
            .enumerate()
            .all(|(l, limb)| residues(limb).all(|v| v < r.primes[l]))
}

/// Reads a polynomial of 7-byte residues, each checked below its prime.
pub fn read_poly(bytes: &[u8]) -> Option<Poly> {
    is_poly(bytes).then(|| residues(bytes).collect())
}

/// Reads a polynomial that [`is_poly`] accepted before (a stored frame)
/// into `out`.
pub fn decode_poly_into(bytes: &[u8], out: &mut [u64]) {
    for (o, v) in out.iter_mut().zip(residues(bytes)) {
        *o = v;
    }
}

#[cfg(test)]
mod tests;
