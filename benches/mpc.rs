//! Criterion benches: the mpc layer (issue #7), 2 computing parties and a
//! dealer on threads with in-memory channels, the dealer included in the
//! time.
//!
//! - `mul_1e6`: a Beaver product of 10^6 shared fixed-point values with
//!   truncation.
//! - `fixed_epoch_22500x23`: one training epoch's products on a
//!   column-split 22,500×23 matrix opened once (SecureML mask reuse): X·w
//!   then Xᵀ·e, each with a fresh right triple and truncation.
//! - `less_than_zero_1e5_full` / `less_than_zero_1e5_40bit`: secure
//!   comparisons [x < 0] of 10^5 shared values (`indomain_mpc::compare`),
//!   for any ring value (bound 63) and for |x| < 2^40; the throughput line
//!   is in elements (comparisons) per second.
//!
//! `cargo bench --bench mpc`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use indomain_core::FixedPoint;
use indomain_mpc::dealer::{self, DealerClient, DealerLimits};
use indomain_mpc::{FixedMatrix, Roster, Session, Shared};
use indomain_net::memory::mesh;
use ndarray::Array2;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use std::time::Duration;

/// Runs `f` at both computing parties with a dealer serving them.
fn run2(f: impl Fn(&mut Session<'_, DealerClient>) + Sync) {
    let mut sets = mesh(&["p0", "p1", "dealer"]);
    let mut d = sets.pop().expect("dealer");
    std::thread::scope(|s| {
        s.spawn(move || {
            let mut rng = StdRng::seed_from_u64(1);
            dealer::serve(&mut d, DealerLimits::default(), &mut rng).expect("dealer")
        });
        for mut set in sets {
            let f = &f;
            s.spawn(move || {
                let roster = Roster::new(&set, Some(2)).expect("roster");
                let client = DealerClient::new(&roster).expect("client");
                let fp = FixedPoint::new(16).expect("fp");
                let mut session = Session::new(&mut set, roster, fp, client);
                f(&mut session);
                session.finish().expect("finish");
            });
        }
    });
}

fn mul_1e6(c: &mut Criterion) {
    let mut group = c.benchmark_group("mpc");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(8));
    let mut rng = StdRng::seed_from_u64(2);
    let x: Vec<u64> = (0..1_000_000).map(|_| rng.random()).collect();
    group.bench_function("mul_1e6", |b| {
        b.iter(|| {
            run2(|s| {
                let z = s
                    .mul_fixed(&Shared(x.clone()), &Shared(x.clone()))
                    .expect("mul");
                assert_eq!(z.len(), x.len());
            })
        })
    });
    let (rows, widths) = (22_500, [12usize, 11]);
    let blocks: Vec<Array2<u64>> = widths
        .iter()
        .map(|&w| Array2::from_shape_fn((rows, w), |_| rng.random::<u64>() >> 40))
        .collect();
    group.bench_function("fixed_epoch_22500x23", |b| {
        b.iter_custom(|iters| {
            let mut elapsed = Duration::ZERO;
            let timer = std::sync::Mutex::new(&mut elapsed);
            run2(|s| {
                let fixed: FixedMatrix =
                    s.fix_matrix(blocks[s.rank()].view(), &widths).expect("fix");
                let start = std::time::Instant::now();
                for _ in 0..iters {
                    let z = s.fixed_times(&fixed, &Shared::zeros(23)).expect("X·w");
                    let z = s.truncate(z, 16).expect("truncate");
                    let g = s.fixed_t_times(&fixed, &z).expect("Xᵀ·e");
                    s.truncate(g, 16).expect("truncate");
                }
                if s.is_leader() {
                    **timer.lock().expect("timer") = start.elapsed();
                }
            });
            elapsed
        })
    });
    group.finish();
}

fn compare_1e5(c: &mut Criterion) {
    let mut group = c.benchmark_group("mpc");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10))
        .throughput(Throughput::Elements(100_000));
    let mut rng = StdRng::seed_from_u64(3);
    let x: Vec<u64> = (0..100_000)
        .map(|_| (rng.random::<i64>() >> 24) as u64)
        .collect();
    for (name, bound) in [
        ("less_than_zero_1e5_full", 63),
        ("less_than_zero_1e5_40bit", 40),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                run2(|s| {
                    let bits = s
                        .less_than_zero(&Shared(x.clone()), bound)
                        .expect("compare");
                    assert_eq!(bits.len(), x.len());
                })
            })
        });
    }
    group.finish();
}

criterion_group!(benches, mul_1e6, compare_1e5);
criterion_main!(benches);
