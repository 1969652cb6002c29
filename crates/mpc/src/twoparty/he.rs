//! Products of a privately held, fixed matrix with the other party's
//! fresh vectors on ring-LWE ([`rlwe`](super::rlwe)), as in SecureML's
//! LHE-based offline phase and Cheetah's coefficient encoding.
//!
//! The owner O of a mask share U_O (rows × w) encrypts it once under its
//! own secret key, in two layouts, and sends it to the other party E:
//!
//! - **columns**: column j, N rows at a time, as the coefficients of one
//!   ciphertext. For U_O·v, E computes Σ_j v_j·Enc(U_O[·, j]) — N outputs
//!   per ciphertext, dense.
//! - **interleaved** (Cheetah): n_w = ⌊N/w⌋ rows at a time, entry (i, j)
//!   at X^(j·n_w + n_w − 1 − i). Times the plaintext Σ_i v_i X^i the
//!   coefficient j·n_w + n_w − 1 is Σ_i U_O[i, j]·v_i, and no other term
//!   reaches it, so U_Oᵀ·v for all w columns comes back in one ciphertext.
//!
//! E adds a uniformly random plaintext R (its share is −R), a fresh
//! public-key encryption of zero under O's key (so that the result's
//! randomness is not a known combination of O's ciphertexts) and a
//! flooding noise t·F with F uniform in ±2^135, 2^40 times every term the
//! result's noise and carries could hold (so O's decryption is
//! statistically independent of E's vector), and returns the ciphertext;
//! O decrypts its share. Bounds: w ≤ 2^13 columns, at most 2^14 chunks of
//! rows, which keep every term below 2^95 and the total below 2^200 ≪ q/2.
//!
//! What each party learns: E, ciphertexts under O's key (semantically
//! secure under RLWE); O, uniformly random shares (R masks every
//! coefficient) with noise independent of E's inputs up to 2^-40.

use super::rlwe::{self, LIMBS, N, POLY_BYTES, Poly, ring};
use rand::{CryptoRng, RngExt};
use rayon::prelude::*;

/// Bits of the flooding noise F.
const FLOOD_BITS: u32 = 135;
/// The most columns of a mask share.
pub const MAX_WIDTH: usize = 1 << 13;
/// The most chunks of rows a product sums over.
pub const MAX_CHUNKS: usize = 1 << 14;

/// A ciphertext in NTT form.
#[derive(Clone)]
pub struct Ct {
    c0: Poly,
    c1: Poly,
}

/// Bytes of a full ciphertext and of a fresh (seeded) one.
pub const CT_BYTES: usize = 2 * POLY_BYTES;
pub const SEEDED_BYTES: usize = 16 + POLY_BYTES;

/// This party's keys.
pub struct Keys {
    neg_s: Poly,
    s: Poly,
    pk_seed: u128,
    pk0: Poly,
}

/// The other party's public key.
pub struct PeerKey {
    pk0: Poly,
    pk1: Poly,
}

fn to_ntt(mut p: Poly) -> Poly {
    ring().ntt(&mut p);
    p
}

/// m (centred) + t·e as a coefficient-form polynomial.
fn message_plus_error(m: &[u64], e: &[i64]) -> Poly {
    let r = ring();
    let mut out = vec![0u64; LIMBS * N];
    for (l, limb) in out.chunks_mut(N).enumerate() {
        let p = r.primes[l];
        let t = r.t_mod(l);
        for (k, o) in limb.iter_mut().enumerate() {
            let mv = m.get(k).map_or(0, |v| r.reduce(*v as i64, l));
            let ev = r.mul(r.reduce(e[k], l), t, l);
            let sum = mv + ev;
            *o = if sum >= p { sum - p } else { sum };
        }
    }
    out
}

impl Keys {
    /// Fresh keys.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let r = ring();
        let s = to_ntt(r.signed_poly(&rlwe::ternary(rng)));
        let mut neg_s = vec![0u64; LIMBS * N];
        for (l, (o, v)) in neg_s.chunks_mut(N).zip(s.chunks(N)).enumerate() {
            let p = r.primes[l];
            for (o, v) in o.iter_mut().zip(v) {
                *o = if *v == 0 { 0 } else { p - v };
            }
        }
        let pk_seed: u128 = rng.random();
        let mut pk0 = to_ntt(message_plus_error(&[], &rlwe::error(rng)));
        r.mul_add(&mut pk0, &r.uniform(pk_seed), &neg_s);
        Self {
            neg_s,
            s,
            pk_seed,
            pk0,
        }
    }

    /// The public key as sent: its seed and pk0.
    pub fn public_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(SEEDED_BYTES);
        out.extend_from_slice(&self.pk_seed.to_le_bytes());
        rlwe::write_poly(&mut out, &self.pk0);
        out
    }

    /// Encrypts m (at most N values, the rest zero) under the secret key;
    /// returns the seeded wire form.
    pub fn encrypt_bytes<R: CryptoRng + ?Sized>(&self, m: &[u64], rng: &mut R) -> Vec<u8> {
        let r = ring();
        let seed: u128 = rng.random();
        let mut c0 = to_ntt(message_plus_error(m, &rlwe::error(rng)));
        r.mul_add(&mut c0, &r.uniform(seed), &self.neg_s);
        let mut out = Vec::with_capacity(SEEDED_BYTES);
        out.extend_from_slice(&seed.to_le_bytes());
        rlwe::write_poly(&mut out, &c0);
        out
    }

    /// The first `len` plaintext coefficients of a ciphertext.
    pub fn decrypt(&self, ct: &Ct, len: usize) -> Vec<u64> {
        ring().decrypt(&ct.c0, &ct.c1, &self.s, len)
    }
}

fn read_seed(bytes: &[u8]) -> u128 {
    let mut b = [0u8; 16];
    b.copy_from_slice(&bytes[..16]);
    u128::from_le_bytes(b)
}

impl PeerKey {
    /// Reads what [`Keys::public_bytes`] wrote.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != SEEDED_BYTES {
            return None;
        }
        Some(Self {
            pk1: ring().uniform(read_seed(bytes)),
            pk0: rlwe::read_poly(&bytes[16..])?,
        })
    }
}

impl Ct {
    /// Reads a seeded ciphertext.
    pub fn from_seeded(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != SEEDED_BYTES {
            return None;
        }
        Some(Self {
            c1: ring().uniform(read_seed(bytes)),
            c0: rlwe::read_poly(&bytes[16..])?,
        })
    }

    /// Reads a full ciphertext.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != CT_BYTES {
            return None;
        }
        Some(Self {
            c0: rlwe::read_poly(&bytes[..POLY_BYTES])?,
            c1: rlwe::read_poly(&bytes[POLY_BYTES..])?,
        })
    }

    fn sum(mut self, other: Self) -> Self {
        let r = ring();
        r.add(&mut self.c0, &other.c0);
        r.add(&mut self.c1, &other.c1);
        self
    }

    fn zero() -> Self {
        Self {
            c0: vec![0; LIMBS * N],
            c1: vec![0; LIMBS * N],
        }
    }

    fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(CT_BYTES);
        rlwe::write_poly(&mut out, &self.c0);
        rlwe::write_poly(&mut out, &self.c1);
        out
    }
}

/// Plaintext `i` of one owner's mask share `u` (rows × width, row-major)
/// in both layouts: the [`mask_counts`] column-layout plaintexts (column
/// j's rows N at a time, index j·⌈rows/N⌉ + chunk), then the interleaved
/// ones. Built one at a time, so that the owner never holds them all.
pub fn mask_plaintext(u: &[u64], rows: usize, width: usize, i: usize) -> Vec<u64> {
    let (n_columns, _) = mask_counts(rows, width);
    if i < n_columns {
        let chunks = rows.div_ceil(N);
        let (j, first) = (i / chunks, (i % chunks) * N);
        return (first..rows.min(first + N))
            .map(|r| u[r * width + j])
            .collect();
    }
    let n_w = N / width;
    let first = (i - n_columns) * n_w;
    let mut m = vec![0u64; N];
    for k in 0..n_w.min(rows - first) {
        for j in 0..width {
            m[j * n_w + n_w - 1 - k] = u[(first + k) * width + j];
        }
    }
    m
}

/// Ciphertexts of a mask share of `rows` × `width` in both layouts.
pub fn mask_counts(rows: usize, width: usize) -> (usize, usize) {
    if width == 0 || rows == 0 {
        return (0, 0);
    }
    (width * rows.div_ceil(N), rows.div_ceil(N / width))
}

/// A mask share beyond the products' noise bounds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ShapeError {
    /// More columns than [`MAX_WIDTH`].
    #[error("a mask share of {width} columns (at most {MAX_WIDTH})")]
    TooWide {
        /// The share's columns.
        width: usize,
    },
    /// More chunks of rows than [`MAX_CHUNKS`].
    #[error("a mask of {rows} rows × {width} columns needs {chunks} chunks (at most {MAX_CHUNKS})")]
    TooManyChunks {
        /// The share's rows.
        rows: usize,
        /// The share's columns.
        width: usize,
        /// The chunks of the interleaved layout it would need.
        chunks: usize,
    },
}

/// Checks the bounds of a mask share.
pub fn check_shape(rows: usize, width: usize) -> Result<(), ShapeError> {
    if width > MAX_WIDTH {
        return Err(ShapeError::TooWide { width });
    }
    let (_, chunks) = mask_counts(rows, width);
    if chunks > MAX_CHUNKS {
        return Err(ShapeError::TooManyChunks {
            rows,
            width,
            chunks,
        });
    }
    Ok(())
}

/// A frame of the peer's encrypted mask that cannot be stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// Not the size of a seeded ciphertext.
    #[error("a frame of {got} bytes, expected {SEEDED_BYTES}")]
    Size {
        /// The frame's bytes.
        got: usize,
    },
    /// A residue not below its prime.
    #[error("a ciphertext residue out of range")]
    Residue,
}

/// The other party's encrypted mask share, as this party evaluates it.
///
/// Kept as received: each ciphertext is its seeded wire form (the 16-byte
/// seed of c1 and c0's residues, [`SEEDED_BYTES`], checked when stored),
/// 229 kB against the 512 KiB of a [`Ct`] in NTT form. Products expand
/// the ciphertexts they read, c1 = `uniform(seed)`, a few at a time per
/// thread: at 10^6 rows × 50 columns the 12,285 ciphertexts take 2.8 GB
/// rather than 6.4 GB.
pub struct PeerMask {
    rows: usize,
    width: usize,
    /// The frames of both layouts, columns first ([`mask_plaintext`]'s
    /// order), back to back.
    frames: Vec<u8>,
}

impl PeerMask {
    /// An empty store for the peer's share of `rows` × `width`.
    pub fn new(rows: usize, width: usize) -> Self {
        let (columns, interleaved) = mask_counts(rows, width);
        Self {
            rows,
            width,
            frames: Vec::with_capacity((columns + interleaved) * SEEDED_BYTES),
        }
    }

    /// Stores the next seeded ciphertext; refuses (and stores nothing) a
    /// frame of another size or with a residue out of range.
    pub fn push(&mut self, frame: &[u8]) -> Result<(), FrameError> {
        if frame.len() != SEEDED_BYTES {
            return Err(FrameError::Size { got: frame.len() });
        }
        if !rlwe::is_poly(&frame[16..]) {
            return Err(FrameError::Residue);
        }
        self.frames.extend_from_slice(frame);
        Ok(())
    }

    /// Ciphertext `i` ([`mask_plaintext`]'s order) in NTT form, written
    /// into `ct`.
    fn expand_into(&self, i: usize, ct: &mut Ct) {
        let frame = &self.frames[i * SEEDED_BYTES..(i + 1) * SEEDED_BYTES];
        rlwe::decode_poly_into(&frame[16..], &mut ct.c0);
        ring().uniform_into(read_seed(frame), &mut ct.c1);
    }

    /// U_peer·v for v of `width` entries: ⌈rows/N⌉ ciphertexts.
    pub fn times(&self, v: &[u64]) -> Vec<Ct> {
        let r = ring();
        let chunks = self.rows.div_ceil(N);
        // Tasks of one chunk and a run of columns, enough for every
        // thread; each expands its ciphertexts one at a time into a
        // scratch ciphertext.
        let runs = (2 * rayon::current_num_threads())
            .div_ceil(chunks.max(1))
            .clamp(1, v.len().max(1));
        let per_run = v.len().div_ceil(runs);
        let partial: Vec<Ct> = (0..chunks * runs)
            .into_par_iter()
            .map(|task| {
                let (b, run) = (task / runs, task % runs);
                let (mut acc, mut ct) = (Ct::zero(), Ct::zero());
                let first = run * per_run;
                for (j, &vj) in v.iter().enumerate().skip(first).take(per_run) {
                    self.expand_into(j * chunks + b, &mut ct);
                    r.scale_add(&mut acc.c0, &ct.c0, vj as i64);
                    r.scale_add(&mut acc.c1, &ct.c1, vj as i64);
                }
                acc
            })
            .collect();
        let mut partial = partial.into_iter();
        (0..chunks)
            .map(|_| {
                partial
                    .by_ref()
                    .take(runs)
                    .reduce(Ct::sum)
                    .unwrap_or_else(Ct::zero)
            })
            .collect()
    }

    /// U_peerᵀ·v for v of `rows` entries: one ciphertext whose coefficient
    /// j·n_w + n_w − 1 holds entry j ([`transposed_slot`]).
    pub fn t_times(&self, v: &[u64]) -> Ct {
        let r = ring();
        let n_w = N / self.width.max(1);
        let (n_columns, n_interleaved) = mask_counts(self.rows, self.width);
        (0..n_interleaved)
            .into_par_iter()
            .map(|c| {
                let first = c * n_w;
                let coeffs: Vec<i64> = (0..n_w.min(self.rows - first))
                    .map(|i| v[first + i] as i64)
                    .collect();
                let mut ct = Ct::zero();
                self.expand_into(n_columns + c, &mut ct);
                times_plain(&ct, r.signed_poly(&coeffs))
            })
            .reduce(Ct::zero, Ct::sum)
    }
}

/// ct ⊙ NTT(p) for a coefficient-form plaintext p.
fn times_plain(ct: &Ct, mut p: Poly) -> Ct {
    let r = ring();
    r.ntt(&mut p);
    let mut out = Ct::zero();
    r.mul_add(&mut out.c0, &ct.c0, &p);
    r.mul_add(&mut out.c1, &ct.c1, &p);
    out
}

/// Where entry j of a transposed product sits, for a share of `width`
/// columns.
pub fn transposed_slot(width: usize, j: usize) -> usize {
    let n_w = N / width.max(1);
    j * n_w + n_w - 1
}

/// Σ_i a_i·v_i for a vector a encrypted by the peer (column layout, N
/// entries a ciphertext) and this party's v: one ciphertext whose
/// coefficient N − 1 holds it.
pub fn inner_product(encrypted: &[Ct], v: &[u64]) -> Ct {
    let r = ring();
    encrypted
        .par_iter()
        .enumerate()
        .map(|(b, ct)| {
            let first = b * N;
            let mut coeffs = vec![0i64; N];
            for (i, x) in v[first..v.len().min(first + N)].iter().enumerate() {
                coeffs[N - 1 - i] = *x as i64;
            }
            times_plain(ct, r.signed_poly(&coeffs))
        })
        .reduce(Ct::zero, Ct::sum)
}

/// Masks an evaluated ciphertext for its owner: adds the plaintext R (N
/// uniform values, returned: this party's share is −R), a fresh
/// encryption of zero under `key` and the flooding noise. Returns the wire
/// form and R.
pub fn mask_for_owner<R: CryptoRng + ?Sized>(
    mut ct: Ct,
    key: &PeerKey,
    rng: &mut R,
) -> (Vec<u8>, Vec<u64>) {
    let r = ring();
    let mask: Vec<u64> = (0..N).map(|_| rng.random()).collect();
    let u = to_ntt(r.signed_poly(&rlwe::ternary(rng)));
    r.mul_add(&mut ct.c0, &key.pk0, &u);
    r.mul_add(&mut ct.c1, &key.pk1, &u);
    // t·(F + e1) + R, with F uniform in [−2^135, 2^135).
    let e1 = rlwe::error(rng);
    let mut noise = vec![0u64; LIMBS * N];
    let highs: Vec<(u128, u64)> = (0..N)
        .map(|_| {
            (
                rng.random::<u128>(),
                rng.random_range(0..1u64 << (FLOOD_BITS + 1 - 128)),
            )
        })
        .collect();
    for (l, limb) in noise.chunks_mut(N).enumerate() {
        let p = r.primes[l];
        let two_128 = r.mul(r.t_mod(l), r.t_mod(l), l);
        let offset = r.mul(two_128, (1u64 << (FLOOD_BITS - 128)) % p, l);
        let t = r.t_mod(l);
        for (k, o) in limb.iter_mut().enumerate() {
            let (lo, hi) = highs[k];
            let f = r.mul(hi % p, two_128, l) + r.reduce_u128(lo, l) + p - offset;
            let f = r.reduce_u128(f as u128 + r.reduce(e1[k], l) as u128, l);
            let m = r.reduce(mask[k] as i64, l);
            *o = r.reduce_u128(r.mul(f, t, l) as u128 + m as u128, l);
        }
    }
    r.add(&mut ct.c0, &to_ntt(noise));
    let e2 = rlwe::error(rng);
    r.add(&mut ct.c1, &to_ntt(message_plus_error(&[], &e2)));
    (ct.to_bytes(), mask)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn decrypt_masked(keys: &Keys, bytes: &[u8], mask: &[u64], len: usize) -> Vec<u64> {
        let ct = Ct::from_bytes(bytes).unwrap();
        keys.decrypt(&ct, len)
            .iter()
            .zip(mask)
            .map(|(d, m)| d.wrapping_sub(*m))
            .collect()
    }

    #[test]
    fn both_layouts_give_the_products_after_masking_and_flooding() {
        let mut rng = StdRng::seed_from_u64(5);
        let owner = Keys::generate(&mut rng);
        let key = PeerKey::from_bytes(&owner.public_bytes()).unwrap();
        let (rows, width) = (N + 37, 3);
        let u: Vec<u64> = (0..rows * width).map(|_| rng.random()).collect();
        let (n_columns, n_interleaved) = mask_counts(rows, width);
        assert_eq!((n_columns, n_interleaved), (3 * 2, rows.div_ceil(N / 3)));
        let mut peer = PeerMask::new(rows, width);
        // A frame of another size or with a residue out of range is
        // refused and not stored (the products below would be off).
        let good = owner.encrypt_bytes(&[1, 2, 3], &mut rng);
        assert_eq!(
            peer.push(&good[1..]),
            Err(FrameError::Size {
                got: SEEDED_BYTES - 1
            })
        );
        let mut bad = good.clone();
        bad[16 + 6] = 0xff;
        assert_eq!(peer.push(&bad), Err(FrameError::Residue));
        for i in 0..n_columns + n_interleaved {
            let m = mask_plaintext(&u, rows, width, i);
            assert_eq!(
                m.len(),
                if i < n_columns {
                    N.min(rows - i % 2 * N)
                } else {
                    N
                }
            );
            peer.push(&owner.encrypt_bytes(&m, &mut rng)).unwrap();
        }
        let v: Vec<u64> = (0..width).map(|_| rng.random()).collect();
        let out = peer.times(&v);
        for (b, ct) in out.into_iter().enumerate() {
            let (bytes, mask) = mask_for_owner(ct, &key, &mut rng);
            let len = N.min(rows - b * N);
            let got = decrypt_masked(&owner, &bytes, &mask, len);
            for (k, g) in got.iter().enumerate() {
                let i = b * N + k;
                let want = (0..width).fold(0u64, |s, j| {
                    s.wrapping_add(u[i * width + j].wrapping_mul(v[j]))
                });
                assert_eq!(*g, want, "row {i}");
            }
        }
        let y: Vec<u64> = (0..rows).map(|_| rng.random()).collect();
        let (bytes, mask) = mask_for_owner(peer.t_times(&y), &key, &mut rng);
        let got = owner.decrypt(&Ct::from_bytes(&bytes).unwrap(), N);
        for j in 0..width {
            let slot = transposed_slot(width, j);
            let want = (0..rows).fold(0u64, |s, i| {
                s.wrapping_add(u[i * width + j].wrapping_mul(y[i]))
            });
            assert_eq!(got[slot].wrapping_sub(mask[slot]), want, "column {j}");
        }
        // An inner product of an encrypted vector with a plaintext one.
        let a: Vec<u64> = (0..rows).map(|_| rng.random()).collect();
        let enc: Vec<Ct> = a
            .chunks(N)
            .map(|c| Ct::from_seeded(&owner.encrypt_bytes(c, &mut rng)).unwrap())
            .collect();
        let (bytes, mask) = mask_for_owner(inner_product(&enc, &y), &key, &mut rng);
        let got = owner.decrypt(&Ct::from_bytes(&bytes).unwrap(), N);
        let want = a
            .iter()
            .zip(&y)
            .fold(0u64, |s, (a, y)| s.wrapping_add(a.wrapping_mul(*y)));
        assert_eq!(got[N - 1].wrapping_sub(mask[N - 1]), want);
        // Garbage is refused, not decoded.
        assert!(Ct::from_bytes(&bytes[1..]).is_none());
        assert!(Ct::from_seeded(&bytes).is_none());
        assert!(PeerKey::from_bytes(&bytes).is_none());
    }
}
