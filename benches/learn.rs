//! Criterion benches: vertical training (issue #7), a label holder, a
//! feature holder and a dealer on threads with in-memory channels, on
//! generated data of default_credit's shape (22,500 training rows, 13 + 10
//! standardised features).
//!
//! - `vertical_22500x23/epochs_1`, `epochs_20`: SecureML's gradient
//!   descent with σ̃ (one epoch including the one-time masking and opening
//!   of both parties' columns; the 20-epoch job of the SPU comparison);
//!   the per-epoch cost is (epochs_20 − epochs_1) / 19;
//! - `vertical_22500x23/converging_epochs_1`, `converging_epochs_21`: the
//!   default training (bound-Newton, Fourier sigmoid, validation split)
//!   for a fixed 1 and 21 epochs: (21 − 1) / 20 is its per-epoch cost.
//!
//! - `gbdt_5000x23/trees_5_depth_3_bins_8`: gradient-boosted trees (issue
//!   #19) with the instance space hidden, the shape of the SPU SS-XGB
//!   comparison: 5,000 rows, 13 + 10 features of 8 bins each (the
//!   registration of the bins included), 5 trees of depth 3;
//!   `twoparty_trees_5_depth_3_bins_8` the same job between the two data
//!   parties alone (`indomain_mpc::TwoParty`, no dealer; base OTs and key
//!   generation included).
//!
//! `cargo bench --bench learn`.

use criterion::{Criterion, criterion_group, criterion_main};
use indomain_learn::align::Roles;
use indomain_learn::tree::{self, BinnedFeatures, FeatureShape, GbdtParams};
use indomain_learn::vertical;
use indomain_learn::{Task, TrainParams};
use indomain_net::memory::mesh;
use ndarray::Array2;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use std::time::Duration;

const ROWS: usize = 22_500;

fn train(blocks: &[Array2<f64>], y: &[f64], params: TrainParams) {
    let empty = Array2::zeros((0, 0));
    std::thread::scope(|s| {
        for mut set in mesh(&["bank", "tax", "dealer"]) {
            let me = set.me();
            let x = blocks.get(me).unwrap_or(&empty).view();
            let labels = (me == 0).then_some(y);
            let params = &params;
            s.spawn(move || {
                let mut rng = StdRng::seed_from_u64(me as u64);
                let roles = Roles::new(3, 0, Some(2)).expect("roles");
                vertical::train(
                    &mut set,
                    &roles,
                    x,
                    labels,
                    params,
                    &mut |_, _| {},
                    &mut rng,
                )
                .expect("training")
            });
        }
    });
}

fn vertical_epochs(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(1);
    let blocks: Vec<Array2<f64>> = [13, 10]
        .iter()
        .map(|&w| Array2::from_shape_fn((ROWS, w), |_| rng.random_range(-2.0..2.0)))
        .collect();
    let y: Vec<f64> = (0..ROWS)
        .map(|i| (blocks[0][[i, 0]] + blocks[1][[i, 0]] > 0.0) as u8 as f64)
        .collect();
    let mut group = c.benchmark_group("vertical_22500x23");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    for epochs in [1, 20] {
        let params = TrainParams {
            task: Task::Logistic,
            ..TrainParams::gradient_descent(epochs, 0.5)
        };
        group.bench_function(format!("epochs_{epochs}"), |b| {
            b.iter(|| train(&blocks, &y, params.clone()))
        });
    }
    for epochs in [1, 21] {
        // The default training with the convergence test off, so that
        // the epoch count is fixed.
        let params = TrainParams {
            epochs,
            convergence: None,
            ..TrainParams::default()
        };
        group.bench_function(format!("converging_epochs_{epochs}"), |b| {
            b.iter(|| train(&blocks, &y, params.clone()))
        });
    }
    group.finish();
}

fn gbdt(c: &mut Criterion) {
    const GBDT_ROWS: usize = 5_000;
    let mut rng = StdRng::seed_from_u64(2);
    let parts: Vec<BinnedFeatures> = [13usize, 10]
        .iter()
        .map(|&w| {
            let idx = Array2::from_shape_fn((GBDT_ROWS, w), |_| rng.random_range(0..8u16));
            let shapes = vec![
                FeatureShape {
                    bins: 8,
                    missing: false
                };
                w
            ];
            BinnedFeatures::new(idx, shapes).expect("bins")
        })
        .collect();
    let y: Vec<f64> = (0..GBDT_ROWS)
        .map(|i| (parts[0].indices[[i, 0]] + parts[1].indices[[i, 0]] > 7) as u8 as f64)
        .collect();
    let params = GbdtParams {
        trees: 5,
        max_depth: 3,
        bins: 8,
        ..GbdtParams::default()
    };
    let mut group = c.benchmark_group("gbdt_5000x23");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    for (name, names) in [
        ("trees_5_depth_3_bins_8", &["bank", "tax", "dealer"][..]),
        ("twoparty_trees_5_depth_3_bins_8", &["bank", "tax"][..]),
    ] {
        let dealer = (names.len() == 3).then_some(2);
        group.bench_function(name, |b| {
            b.iter(|| {
                std::thread::scope(|s| {
                    for mut set in mesh(names) {
                        let me = set.me();
                        let (own, labels, params) =
                            (parts.get(me), (me == 0).then_some(&y[..]), &params);
                        s.spawn(move || {
                            let mut rng = StdRng::seed_from_u64(me as u64);
                            let roles = Roles::new(names.len(), 0, dealer).expect("roles");
                            tree::train(
                                &mut set,
                                &roles,
                                own,
                                labels,
                                params,
                                &mut |_| {},
                                &mut rng,
                            )
                            .expect("training")
                        });
                    }
                })
            })
        });
    }
    group.finish();
}

criterion_group!(benches, vertical_epochs, gbdt);
criterion_main!(benches);
