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
//! `cargo bench --bench psi` runs everything (about three minutes on 2 cores).

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use curve25519_dalek::ristretto::RistrettoPoint;
use curve25519_dalek::scalar::Scalar;
use indomain_net::memory::pair;
use indomain_psi::blind::{Blinder, hash_to_group};
use indomain_psi::{Items, Job, Mode, ecdh};
use rand::SeedableRng;
use rand::rngs::StdRng;
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
    let job = Job::new(Mode::Intersection);
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

criterion_group!(benches, psi_ops, psi_kernels, psi_protocol);
criterion_main!(benches);
