//! The LPN compression of silent VOLE: the dual encoder of an
//! expand-convolute code (Raghuraman–Rindal–Tanguy, Crypto 2023), applied
//! in place to a vector of GF(2^128) blocks.
//!
//! For a noise vector e of length n ≥ 2k, the output is the first k
//! entries of e plus B·A·e', where e' is the rest of e, A convolutes e'
//! with a random band of 24 bits and a one (applied twice, with two public
//! coefficient streams) and B is a sparse expander of row weight 7 (four
//! regular positions, one in each quarter of e', and three uniform ones).
//! This is the code family and the parameters (ExConv7x24) that libOTe and
//! cryprot use; the coefficient streams here come from AES in counter mode
//! under fixed public keys, so the code itself is public and both parties
//! build the same one. Written here rather than taken from `cryprot-codes`,
//! which pins `aes = 0.9.0` (the workspace is on 0.9.4) and brings blake3,
//! tokio and a second rand_core.
//!
//! The map is linear over GF(2), so applying it to both sides of
//! w = v + u·Δ keeps the correlation; its output for a sparse u is
//! pseudo-random under dual LPN with regular noise.

use crate::prf::Aes;
use rayon::prelude::*;

/// Width of the convolution band.
const BAND: usize = 24;
/// Row weight of the expander.
const WEIGHT: usize = 7;
/// Of which regular (one in each of this many equal parts of e').
const REGULAR: usize = 4;
/// Public keys of the coefficient streams.
const ACC_KEYS: [u128; 2] = [0x5851_f42d_4c95_7f2d, 0x1405_7b7e_f767_814f];
const EXPAND_KEY: u128 = 0x2127_599b_f432_5c37_8af3_e6ca_5d9a_3b41;

/// Compresses `e` (length at least 2·`k`) in place: afterwards its first
/// `k` entries are the output. Deterministic in (`k`, `e.len()`).
pub fn dual_encode(e: &mut [u128], k: usize) {
    assert!(e.len() >= 2 * k, "code shorter than twice the message");
    let (prefix, suffix) = e.split_at_mut(k);
    for key in ACC_KEYS {
        accumulate(suffix, key);
    }
    expand(suffix, prefix);
}

/// x[i+1+j] ^= x[i] for each set bit j of the band coefficients of i, and
/// x[i+1+BAND] ^= x[i], indices wrapping around, i in increasing order.
fn accumulate(x: &mut [u128], key: u128) {
    let n = x.len();
    if n == 0 {
        return;
    }
    let mut coeffs = vec![0u128; n.div_ceil(4)];
    Aes::new(key).keystream(0, &mut coeffs);
    for i in 0..n {
        // 32 bits of stream per position; the band uses 24.
        let bits = (coeffs[i / 4] >> (32 * (i % 4))) as u32;
        let xi = x[i];
        if i + 1 + BAND < n {
            for j in 0..BAND {
                let mask = ((bits >> j) & 1) as u128;
                x[i + 1 + j] ^= xi & mask.wrapping_neg();
            }
            x[i + 1 + BAND] ^= xi;
        } else {
            for j in 0..BAND {
                if (bits >> j) & 1 == 1 {
                    x[(i + 1 + j) % n] ^= xi;
                }
            }
            x[(i + 1 + BAND) % n] ^= xi;
        }
    }
}

/// out[r] ^= Σ of WEIGHT entries of `input` chosen by row r's stream.
fn expand(input: &[u128], out: &mut [u128]) {
    let n = input.len();
    let step = n / REGULAR;
    if step == 0 {
        return;
    }
    let aes = Aes::new(EXPAND_KEY);
    out.par_chunks_mut(1 << 12)
        .enumerate()
        .for_each(|(c, chunk)| {
            let first = c << 12;
            let mut stream = vec![0u128; 2 * chunk.len()];
            aes.keystream((first as u128) * 2, &mut stream);
            for (r, o) in chunk.iter_mut().enumerate() {
                let words = [stream[2 * r], stream[2 * r + 1]];
                let word = |i: usize| (words[i / 4] >> (32 * (i % 4))) as u32 as u64;
                let mut acc = 0u128;
                for j in 0..REGULAR {
                    acc ^= input[j * step + ((word(j) * step as u64) >> 32) as usize];
                }
                for j in REGULAR..WEIGHT {
                    acc ^= input[((word(j) * n as u64) >> 32) as usize];
                }
                *o ^= acc;
            }
        });
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng, rngs::StdRng};

    #[test]
    fn the_encoder_is_linear_and_mixes_every_input() {
        let mut rng = StdRng::seed_from_u64(8);
        let (k, n) = (300, 640);
        let a: Vec<u128> = (0..n).map(|_| rng.random()).collect();
        let b: Vec<u128> = (0..n).map(|_| rng.random()).collect();
        let enc = |v: &[u128]| {
            let mut v = v.to_vec();
            dual_encode(&mut v, k);
            v.truncate(k);
            v
        };
        let sum: Vec<u128> = a.iter().zip(&b).map(|(x, y)| x ^ y).collect();
        let (ea, eb) = (enc(&a), enc(&b));
        let want: Vec<u128> = ea.iter().zip(&eb).map(|(x, y)| x ^ y).collect();
        assert_eq!(enc(&sum), want);
        // A single noise position in e' reaches many outputs.
        let mut unit = vec![0u128; n];
        unit[k + 5] = 1;
        let out = enc(&unit);
        assert!(out.iter().filter(|&&v| v != 0).count() > k / 10);
    }
}
