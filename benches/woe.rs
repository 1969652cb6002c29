//! Criterion benches: WOE/IV binning (issue #20) — a label holder, a
//! feature owner and a dealer on threads with in-memory channels, each
//! with 10 features binned in 10 quantile bins; and the secure logarithm.
//!
//! - `woe/default_1e5x10`: 10^5 rows, the default mode (the owner's events
//!   per bin by the histogram kernel, counts opened to the label holder);
//! - `woe/strict_1e5x10`: the same in the strict mode (logarithms,
//!   comparisons and IV on shares);
//! - `woe/local_binning_1e5x10`: one party's local binning alone.
//!
//! `cargo bench --bench woe`.

use criterion::{Criterion, criterion_group, criterion_main};
use indomain_learn::align::Roles;
use indomain_learn::binning::{BinParams, Binned, Column, bin_column};
use indomain_learn::woe::Mode;
use indomain_learn::woe::protocol::{self, Settings};
use indomain_net::memory::mesh;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use std::time::Duration;

const ROWS: usize = 100_000;
const FEATURES: usize = 10;

fn columns(seed: u64) -> Vec<Column> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..FEATURES)
        .map(|_| Column::Numeric((0..ROWS).map(|_| rng.random::<f64>()).collect()))
        .collect()
}

fn bin_all(cols: &[Column]) -> Vec<Binned> {
    cols.iter()
        .enumerate()
        .map(|(j, c)| {
            bin_column(&format!("x{j}"), c, &BinParams::default(), "bench").expect("bins")
        })
        .collect()
}

fn job(binned: &[Vec<Binned>], y: &[f64], mode: Mode) {
    let settings = Settings {
        mode,
        ..Settings::default()
    };
    std::thread::scope(|s| {
        for mut set in mesh(&["bank", "tax", "dealer"]) {
            let me = set.me();
            let features = binned.get(me).cloned().unwrap_or_default();
            let labels = (me == 0).then_some(y);
            s.spawn(move || {
                let roles = Roles::new(3, 0, Some(2)).expect("roles");
                let mut rng = StdRng::seed_from_u64(me as u64);
                protocol::run(
                    &mut set,
                    &roles,
                    features,
                    labels,
                    &settings,
                    &mut settings.kernel(),
                    &mut rng,
                )
                .expect("binning job")
            });
        }
    });
}

fn woe(c: &mut Criterion) {
    let (bank, tax) = (columns(1), columns(2));
    let binned = vec![bin_all(&bank), bin_all(&tax)];
    let mut rng = StdRng::seed_from_u64(3);
    let y: Vec<f64> = (0..ROWS)
        .map(|_| f64::from(rng.random::<f64>() < 0.2))
        .collect();
    let mut group = c.benchmark_group("woe");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    group.bench_function("local_binning_1e5x10", |b| b.iter(|| bin_all(&tax)));
    group.bench_function("default_1e5x10", |b| {
        b.iter(|| job(&binned, &y, Mode::Default))
    });
    group.bench_function("strict_1e5x10", |b| {
        b.iter(|| job(&binned, &y, Mode::Strict))
    });
    group.finish();
}

criterion_group!(benches, woe);
criterion_main!(benches);
