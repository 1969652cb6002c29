//! Criterion benches: core arithmetic (issue #2).
//!
//! - `share_1e7`: 2-party seeded sharing and reconstruction of 10^7
//!   fixed-point values, next to the bound — the AES-CTR keystream for the
//!   bytes the sharing must expand (the owner's pad and the other party's
//!   share, 2 × 80 MB) — measured in the same run.
//! - `matmul_1000`: the wrapping matrix kernel, 1000×1000×1000, next to
//!   ndarray's generic `dot`.
//! - `beaver_matmul_1000`: a Beaver matrix product 1000×1000×1000 between 2
//!   parties on threads with in-memory channels: the online phase alone
//!   (triples already dealt), and with the dealer generating and sending
//!   the triple.
//!
//! `cargo bench --bench core` runs everything (a few minutes on 2 cores);
//! add `-- --quick` or a filter such as `-- share_1e7` for a fast look.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use indomain_core::dealer::{Dealer, DealtShare};
use indomain_core::matmul::matmul;
use indomain_core::matrix_triple::{LeftMaskShare, RightTripleShare};
use indomain_core::prg::Prg;
use indomain_core::ring::RingMatrix;
use indomain_core::share::{
    reconstruct, reconstruct_into, share, share_from_seed, share_from_seed_into, share_seeded,
    share_seeded_in_place,
};
use indomain_core::{FixedPoint, Seed};
use indomain_mpc::open::{everyone, open};
use indomain_net::memory::{mesh, pair};
use indomain_net::{Channel, PartySet};
use ndarray::{Array2, ArrayView2};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rayon::prelude::*;
use std::hint::black_box;
use std::time::Duration;

const VALUES: usize = 10_000_000;
const DIM: usize = 1000;

fn random_matrix(rng: &mut StdRng, rows: usize, cols: usize) -> RingMatrix {
    Array2::from_shape_fn((rows, cols), |_| rng.random())
}

/// Raw AES-128-CTR keystream into `out`, split over the rayon pool the
/// same way the sharing code splits its expansions.
fn keystream(seed: &Seed, out: &mut [u64]) {
    out.par_chunks_mut(1 << 14)
        .for_each(|chunk| Prg::new(seed).fill(chunk));
}

fn share_1e7(c: &mut Criterion) {
    let mut group = c.benchmark_group("share_1e7");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(8));
    group.throughput(Throughput::Elements(VALUES as u64));
    let fp = FixedPoint::default();
    let mut rng = StdRng::seed_from_u64(1);
    let reals: Vec<f64> = (0..VALUES).map(|_| rng.random_range(-1e6..1e6)).collect();
    let encoded = fp.encode_slice(&reals).expect("values in range");
    let seed = Seed::random(&mut rng);

    let mut pad = vec![0u64; VALUES];
    group.bench_function("keystream_bound_2x80MB", |b| {
        b.iter(|| {
            keystream(&seed, &mut pad);
            keystream(&seed, &mut pad);
            black_box(&pad);
        })
    });
    // In place, as a party that keeps its buffers does: the owner's buffer
    // turns into its share and back into the secret, so nothing allocates.
    let mut own = encoded.clone();
    let mut other = vec![0u64; VALUES];
    group.bench_function("share_reconstruct_in_place", |b| {
        b.iter(|| {
            let seeds = share_seeded_in_place(black_box(&mut own), 1, &mut rng);
            share_from_seed_into(&seeds[0], &mut other);
            reconstruct_into(&mut own, &[&other]).expect("equal lengths");
        })
    });
    assert_eq!(own, encoded);
    let mut decoded = vec![0f64; VALUES];
    group.bench_function("encode_share_reconstruct_decode_in_place", |b| {
        b.iter(|| {
            fp.encode_into(black_box(&reals), &mut own)
                .expect("values in range");
            let seeds = share_seeded_in_place(&mut own, 1, &mut rng);
            share_from_seed_into(&seeds[0], &mut other);
            reconstruct_into(&mut own, &[&other]).expect("equal lengths");
            fp.decode_into(&own, &mut decoded).expect("equal lengths");
        })
    });
    group.bench_function("share_reconstruct_allocating", |b| {
        b.iter(|| {
            let sharing = share_seeded(black_box(&encoded), 1, &mut rng);
            let other = share_from_seed(&sharing.seeds[0], VALUES);
            black_box(reconstruct(&[&sharing.own, &other]).expect("equal lengths"))
        })
    });
    group.bench_function("encode_share_reconstruct_decode_allocating", |b| {
        b.iter(|| {
            let x = fp.encode_slice(black_box(&reals)).expect("values in range");
            let sharing = share_seeded(&x, 1, &mut rng);
            let other = share_from_seed(&sharing.seeds[0], VALUES);
            let sum = reconstruct(&[&sharing.own, &other]).expect("equal lengths");
            black_box(fp.decode_slice(&sum))
        })
    });
    group.finish();
}

fn matmul_1000(c: &mut Criterion) {
    let mut group = c.benchmark_group("matmul_1000");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    let mut rng = StdRng::seed_from_u64(2);
    let a = random_matrix(&mut rng, DIM, DIM);
    let b = random_matrix(&mut rng, DIM, DIM);
    group.bench_function("indomain_kernel", |bench| {
        bench.iter(|| black_box(matmul(a.view(), b.view()).expect("square shapes")))
    });
    group.bench_function("ndarray_dot", |bench| bench.iter(|| black_box(a.dot(&b))));
    group.finish();
}

/// One party's dealt material, decoded.
struct PartyTriple {
    left: LeftMaskShare,
    right: RightTripleShare,
}

impl PartyTriple {
    fn decode(left: &DealtShare, right: &DealtShare) -> Self {
        Self {
            left: LeftMaskShare::from_dealt(left, DIM, DIM).expect("dealer shapes"),
            right: RightTripleShare::from_dealt(right, DIM, DIM, DIM).expect("dealer shapes"),
        }
    }
}

/// The online phase of one party: mask, open D and E in one exchange,
/// finish.
fn online(parties: &mut PartySet, t: &PartyTriple, x: &RingMatrix, y: &RingMatrix) -> RingMatrix {
    let (mut masked, _) = t
        .left
        .mask(x.view())
        .expect("shape")
        .into_raw_vec_and_offset();
    masked.extend_from_slice(
        t.right
            .mask(y.view())
            .expect("shape")
            .as_slice()
            .expect("dense"),
    );
    let group = everyone(parties);
    let opened = open(parties, &group, &masked).expect("in-memory exchange");
    let (d, e) = opened.split_at(DIM * DIM);
    let d = ArrayView2::from_shape((DIM, DIM), d).expect("shape");
    let e = ArrayView2::from_shape((DIM, DIM), e).expect("shape");
    t.right
        .finish(t.left.u.view(), d, e, parties.me() == 0)
        .expect("shape")
}

/// Receives and decodes what the dealer sent this party.
fn receive_triple(dealer: &mut impl Channel, me: usize) -> PartyTriple {
    let correction = (me == 0).then_some(DIM * DIM);
    let left = DealtShare::from_bytes(&dealer.recv().expect("frame"), None).expect("left");
    let right = DealtShare::from_bytes(&dealer.recv().expect("frame"), correction).expect("right");
    PartyTriple::decode(&left, &right)
}

fn beaver_matmul_1000(c: &mut Criterion) {
    let mut group = c.benchmark_group("beaver_matmul_1000");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(10));
    let mut rng = StdRng::seed_from_u64(3);
    let x = random_matrix(&mut rng, DIM, DIM);
    let y = random_matrix(&mut rng, DIM, DIM);
    let flat = |m: &RingMatrix| m.iter().copied().collect::<Vec<u64>>();
    let as_matrix = |v: Vec<u64>| Array2::from_shape_vec((DIM, DIM), v).expect("shape");
    let xs: Vec<RingMatrix> = share(&flat(&x), 2, &mut rng)
        .expect("2 parties")
        .into_iter()
        .map(as_matrix)
        .collect();
    let ys: Vec<RingMatrix> = share(&flat(&y), 2, &mut rng)
        .expect("2 parties")
        .into_iter()
        .map(as_matrix)
        .collect();

    let dealer = Dealer::new(2).expect("2 parties");
    let (left, right) = dealer.matrix_triple(DIM, DIM, DIM, &mut rng);
    let triples: Vec<PartyTriple> = (0..2)
        .map(|i| PartyTriple::decode(&left[i], &right[i]))
        .collect();

    group.bench_function("online_2_parties", |b| {
        b.iter_batched(
            || mesh(&["alice", "bob"]),
            |sets| {
                std::thread::scope(|s| {
                    let handles: Vec<_> = sets
                        .into_iter()
                        .enumerate()
                        .map(|(i, mut set)| {
                            let (t, x, y) = (&triples[i], &xs[i], &ys[i]);
                            s.spawn(move || online(&mut set, t, x, y))
                        })
                        .collect();
                    for h in handles {
                        black_box(h.join().expect("party"));
                    }
                })
            },
            BatchSize::PerIteration,
        )
    });

    group.bench_function("with_dealer_2_parties", |b| {
        b.iter_batched(
            || {
                let (to_alice, alice_from) = pair("dealer", "alice");
                let (to_bob, bob_from) = pair("dealer", "bob");
                (
                    mesh(&["alice", "bob"]),
                    [to_alice, to_bob],
                    [alice_from, bob_from],
                )
            },
            |(sets, dealer_links, party_links)| {
                std::thread::scope(|s| {
                    s.spawn(move || {
                        let mut rng = StdRng::from_rng(&mut rand::rng());
                        let (left, right) = dealer.matrix_triple(DIM, DIM, DIM, &mut rng);
                        for (i, mut ch) in dealer_links.into_iter().enumerate() {
                            ch.send(&left[i].to_bytes()).expect("send");
                            ch.send(&right[i].to_bytes()).expect("send");
                        }
                    });
                    let handles: Vec<_> = sets
                        .into_iter()
                        .zip(party_links)
                        .enumerate()
                        .map(|(i, (mut set, mut from_dealer))| {
                            let (x, y) = (&xs[i], &ys[i]);
                            s.spawn(move || {
                                let t = receive_triple(&mut from_dealer, i);
                                online(&mut set, &t, x, y)
                            })
                        })
                        .collect();
                    for h in handles {
                        black_box(h.join().expect("party"));
                    }
                })
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, share_1e7, matmul_1000, beaver_matmul_1000);
criterion_main!(benches);
