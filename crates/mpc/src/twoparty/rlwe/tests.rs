//! Unit tests of the ring: the primes, the lazy NTT against the textbook
//! transform, negacyclic products, reduction of 128-bit values and
//! centred decryption mod 2^64. No party is involved; nothing is
//! exchanged.

use super::*;
use rand::SeedableRng;
use rand::rngs::StdRng;

/// The textbook transform (full reduction, every stage), against
/// which the lazy, stage-skipping one is checked.
fn naive_ntt(r: &Ring, l: usize, a: &mut [u64]) {
    let p = r.primes[l];
    let mut t = N;
    let mut m = 1;
    while m < N {
        t /= 2;
        for i in 0..m {
            let s = r.psi_rev[l].w[m + i];
            for j in 2 * i * t..2 * i * t + t {
                let u = a[j];
                let v = ((a[j + t] as u128 * s as u128) % p as u128) as u64;
                a[j] = (u + v) % p;
                a[j + t] = (u + p - v) % p;
            }
        }
        m *= 2;
    }
}

#[test]
fn primes_and_ntt_round_trip_and_multiply_negacyclically() {
    let r = ring();
    for &p in &r.primes {
        assert!(is_prime(p) && p % (2 * N as u64) == 1 && p < 1 << 54 && p > 1 << 53);
    }
    let mut rng = StdRng::seed_from_u64(1);
    let a: Vec<i64> = (0..N).map(|_| rng.random_range(-1000..1000)).collect();
    let mut pa = r.signed_poly(&a);
    let orig = pa.clone();
    r.ntt(&mut pa);
    let mut back = pa.clone();
    r.intt(&mut back);
    assert_eq!(back, orig);
    // X · X^(N−1) = X^N = −1.
    let mut x = vec![0i64; N];
    x[1] = 1;
    let mut y = vec![0i64; N];
    y[N - 1] = 1;
    let (mut px, mut py) = (r.signed_poly(&x), r.signed_poly(&y));
    r.ntt(&mut px);
    r.ntt(&mut py);
    let mut prod = vec![0u64; LIMBS * N];
    r.mul_add(&mut prod, &px, &py);
    r.intt(&mut prod);
    let mut want = vec![0i64; N];
    want[0] = -1;
    assert_eq!(prod, r.signed_poly(&want));
    // The lazy transform, skipping the stages of a sparse input or
    // not, gives the textbook transform's canonical residues.
    for len in [N, N / 2 + 1, N / 2, 700, 1, 0] {
        let a: Vec<i64> = (0..N)
            .map(|j| {
                if j < len {
                    rng.random_range(-1 << 40..1 << 40)
                } else {
                    0
                }
            })
            .collect();
        let mut pa = r.signed_poly(&a);
        r.ntt(&mut pa);
        for l in 0..LIMBS {
            let mut dense = r.signed_poly(&a)[l * N..(l + 1) * N].to_vec();
            naive_ntt(r, l, &mut dense);
            assert_eq!(&pa[l * N..(l + 1) * N], &dense[..], "len {len} limb {l}");
        }
        let mut back = pa.clone();
        r.intt(&mut back);
        assert_eq!(back, r.signed_poly(&a), "round trip of len {len}");
    }
    // Barrett agrees with the definition.
    for _ in 0..1000 {
        let l = rng.random_range(0..LIMBS);
        let p = r.primes[l];
        let (a, b) = (rng.random_range(0..p), rng.random_range(0..p));
        assert_eq!(r.mul(a, b, l), ((a as u128 * b as u128) % p as u128) as u64);
    }
    // So does the reduction of 128-bit blocks (the uniform polynomials).
    for l in 0..LIMBS {
        let p = r.primes[l];
        let (t, one) = (shoup(r.t_mod(l), p), shoup(1, p));
        let q = p as u128;
        let edges = [
            0,
            1,
            q - 1,
            q,
            q + 1,
            u64::MAX as u128,
            u128::MAX,
            u128::MAX / q * q,
        ];
        let random = (0..1000).map(|_| rng.random::<u128>());
        for b in edges.into_iter().chain(random) {
            assert_eq!(reduce_block(b, p, t, one) as u128, b % q, "{b}");
        }
    }
    // The uniform polynomial is the AES-CTR keystream so reduced.
    let mut blocks = vec![0u128; LIMBS * N];
    Aes::new(77).keystream(0, &mut blocks);
    let want: Poly = (0..LIMBS * N)
        .map(|i| (blocks[i] % r.primes[i / N] as u128) as u64)
        .collect();
    assert_eq!(r.uniform(77), want);
}

#[test]
fn residues_of_128_bit_values_need_no_division() {
    let r = ring();
    let mut rng = StdRng::seed_from_u64(3);
    for l in 0..LIMBS {
        let q = r.primes[l] as u128;
        let edges = [0, 1, q - 1, q, q + 1, u64::MAX as u128, u128::MAX];
        for x in edges.into_iter().chain((0..1000).map(|_| rng.random())) {
            assert_eq!(r.reduce_u128(x, l) as u128, x % q, "{x}");
        }
    }
}

#[test]
fn decryption_reads_the_centred_value_mod_2_64() {
    let r = ring();
    let mut rng = StdRng::seed_from_u64(2);
    // x = m + t·e for a large signed e: decrypt with s = 0 (c1 = 0).
    let m: Vec<u64> = (0..N).map(|_| rng.random()).collect();
    let e: Vec<i128> = (0..N)
        .map(|_| rng.random_range(-(1i128 << 60)..(1 << 60)))
        .collect();
    let x: Vec<i128> = m
        .iter()
        .zip(&e)
        .map(|(m, e)| *m as i64 as i128 + e * (1i128 << 64))
        .collect();
    let mut c0: Poly = (0..LIMBS)
        .flat_map(|l| {
            x.iter()
                .map(move |v| v.rem_euclid(r.primes[l] as i128) as u64)
        })
        .collect();
    r.ntt(&mut c0);
    let zero = vec![0u64; LIMBS * N];
    let got = r.decrypt(&c0, &zero, &zero, N);
    assert_eq!(got, m);
    let bytes = {
        let mut b = Vec::new();
        write_poly(&mut b, &c0);
        b
    };
    assert_eq!(read_poly(&bytes).unwrap(), c0);
    assert!(read_poly(&bytes[1..]).is_none());
    let mut bad = bytes.clone();
    bad[6] = 0xff;
    assert!(read_poly(&bad).is_none());
}
