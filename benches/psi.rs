//! Criterion benches: ECDH-PSI (issue #3), per key, next to its bound.
//!
//! - `psi_ops`: the group operations the bound is made of, one at a time on
//!   one core: hash-to-group, variable-base scalar multiplication,
//!   decompression, and batch compression (`double_and_compress_batch`, per
//!   point, in chunks of 256). The bound per key per party is one
//!   hash-to-group + two scalar multiplications + one decompression + two
//!   batch compressions.
//! - `psi_kernels`: the two kernels a party runs per key — its own key
//!   hashed and blinded (`hash_and_blind`), the peer's key re-blinded
//!   (`reblind`) — on one core and on all cores, 4096 keys a batch.
//! - `psi_protocol`: a whole run, 2^14 keys a side, half shared, both
//!   parties in this process over the in-memory backend (each party's work
//!   shares the machine's cores, as two processes on one machine would).
//!
//! - `rr22_kernels` (issue #10): the RR22 building blocks at 2^20 keys, on
//!   all cores: OKVS encode and decode (m = 1.25·2^20 + 128), GF(2^128)
//!   products, and a silent VOLE of length m with both parties in this
//!   process.
//! - `rr22_protocol`: a whole RR22 intersection, 2^16 and 2^20 keys a side,
//!   half shared, both parties in this process.
//!
//! `cargo bench --bench psi` runs everything (about five minutes on 2
//! cores); `cargo bench --bench psi -- rr22` only the RR22 part.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use curve25519_dalek::ristretto::RistrettoPoint;
use curve25519_dalek::scalar::Scalar;
use indomain_net::memory::pair;
use indomain_psi::blind::{Blinder, hash_to_group};
use indomain_psi::rr22::{gf128, okvs, vole};
use indomain_psi::{Construction, Items, Job, Mode, ecdh, session};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use std::hint::black_box;

const BATCH: usize = 4096;

fn keys(n: usize, offset: usize) -> Items {
    Items::from_raw((offset..offset + n).map(|i| format!("id{i}")))
}

fn psi_ops(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(1);
    let k = Scalar::random(&mut rng);
    let p = hash_to_group(b"id42");
    let compressed = p.compress();
    let points: Vec<RistrettoPoint> = (0..256u32)
        .map(|i| hash_to_group(&i.to_le_bytes()))
        .collect();
    let mut g = c.benchmark_group("psi_ops");
    g.throughput(Throughput::Elements(1));
    g.bench_function("hash_to_group", |b| {
        b.iter(|| hash_to_group(black_box(b"id1234567")))
    });
    g.bench_function("scalar_mul", |b| b.iter(|| black_box(p) * black_box(k)));
    g.bench_function("decompress", |b| {
        b.iter(|| black_box(compressed).decompress())
    });
    g.throughput(Throughput::Elements(256));
    g.bench_function("double_and_compress_batch_256", |b| {
        b.iter(|| RistrettoPoint::double_and_compress_batch(black_box(&points)))
    });
    g.finish();
}

fn psi_kernels(c: &mut Criterion) {
    let items = keys(BATCH, 0);
    let order: Vec<u32> = (0..BATCH as u32).collect();
    let mut rng = StdRng::seed_from_u64(2);
    let blinder = Blinder::random(&mut rng);
    let peer =
        Blinder::random(&mut rng).hash_and_blind(&order, |i| items.get(i).unwrap_or_default());
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let mut g = c.benchmark_group("psi_kernels");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.sample_size(10);
    let own = |b: &mut criterion::Bencher| {
        b.iter(|| blinder.hash_and_blind(&order, |i| items.get(i).unwrap_or_default()))
    };
    let theirs = |b: &mut criterion::Bencher| b.iter(|| blinder.reblind(&peer, 16));
    g.bench_function("own_key_1core", |b| one.install(|| own(b)));
    g.bench_function("peer_key_1core", |b| one.install(|| theirs(b)));
    g.bench_function("own_key_all_cores", own);
    g.bench_function("peer_key_all_cores", theirs);
    g.finish();
}

fn psi_protocol(c: &mut Criterion) {
    let n = 1 << 14;
    let (x, y) = (keys(n, 0), keys(n, n / 2));
    let job = Job::new(Mode::Intersection).with_construction(Construction::Ecdh);
    let mut g = c.benchmark_group("psi_protocol");
    g.throughput(Throughput::Elements(n as u64));
    g.sample_size(10);
    g.bench_function("intersection_2^14", |b| {
        b.iter_batched(
            || pair("receiver", "sender"),
            |(mut a, mut s)| {
                std::thread::scope(|sc| {
                    let r = sc
                        .spawn(|| ecdh::receiver(&mut a, &job, &x, &mut rand::rng(), &mut |_| {}));
                    let t = sc.spawn(|| {
                        ecdh::sender(&mut s, &job, &y, None, &mut rand::rng(), &mut |_| {})
                    });
                    let r = r.join().unwrap().unwrap();
                    t.join().unwrap().unwrap();
                    assert_eq!(r.intersection_size, Some(n / 2));
                })
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

fn rr22_kernels(c: &mut Criterion) {
    let n = 1 << 20;
    let m = okvs::size_for(n);
    let mut rng = StdRng::seed_from_u64(3);
    let keys: Vec<u128> = (0..n).map(|_| rng.random()).collect();
    let values: Vec<u128> = (0..n).map(|_| rng.random()).collect();
    let table = okvs::Okvs::new(m, 7);
    let encoded = table.encode(&keys, &values).expect("encodes");
    let mut g = c.benchmark_group("rr22_kernels");
    g.sample_size(10);
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function("okvs_encode_2^20", |b| {
        b.iter(|| table.encode(black_box(&keys), &values))
    });
    g.bench_function("okvs_decode_2^20", |b| {
        b.iter(|| table.decode(black_box(&encoded), &keys))
    });
    g.bench_function("gf128_mul_2^20", |b| {
        b.iter_batched(
            || values.clone(),
            |mut v| gf128::mul_all(&mut v, 0x1234_5678),
            BatchSize::LargeInput,
        )
    });
    g.throughput(Throughput::Elements(m as u64));
    g.bench_function("silent_vole_1.25*2^20", |b| {
        b.iter_batched(
            || pair("receiver", "sender"),
            |(mut a, mut s)| {
                std::thread::scope(|sc| {
                    let t = sc.spawn(|| vole::send(&mut s, m, &mut rand::rng()).unwrap());
                    vole::receive(&mut a, m, &mut rand::rng()).unwrap();
                    t.join().unwrap();
                })
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

fn rr22_protocol(c: &mut Criterion) {
    let mut g = c.benchmark_group("rr22_protocol");
    g.sample_size(10);
    for log in [16, 20] {
        let n = 1usize << log;
        let (x, y) = (keys(n, 0), keys(n, n / 2));
        let job = Job::new(Mode::Intersection).with_construction(Construction::Rr22);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(format!("intersection_2^{log}"), |b| {
            b.iter_batched(
                || pair("receiver", "sender"),
                |(mut a, mut s)| {
                    std::thread::scope(|sc| {
                        let r = sc.spawn(|| {
                            session::receiver(&mut a, &job, &x, &mut rand::rng(), &mut |_| {})
                        });
                        let t = sc.spawn(|| {
                            session::sender(&mut s, &job, &y, None, &mut rand::rng(), &mut |_| {})
                        });
                        let r = r.join().unwrap().unwrap();
                        t.join().unwrap().unwrap();
                        assert_eq!(r.intersection_size, Some(n / 2));
                    })
                },
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();
}

criterion_group!(
    benches,
    psi_ops,
    psi_kernels,
    psi_protocol,
    rr22_kernels,
    rr22_protocol
);
criterion_main!(benches);
