//! Vertical gradient-boosted trees between a label holder (guest) and a
//! feature holder (host), with a dealer, every party on its own thread in
//! one process: the rows both files hold (in id order, as the PSI join
//! orders them), the seeded split, each party's local binning on the
//! training rows, the secure training with the instance space hidden and
//! joint scoring of the held-out rows — next to the plaintext reference
//! trained on the same bins.
//!
//!     cargo run --release --example gbdt -- GUEST.csv HOST.csv \
//!         [--trees 5] [--depth 3] [--bins 8] [--eta 0.3] [--lambda 1]
//!         [--min-child-weight 1] [--test-fraction 0.25] [--seed 0]
//!         [--rows N] [--export DIR]
//!
//! GUEST.csv has columns id,y,features…; HOST.csv id,features… (empty
//! cells are missing values, text columns categorical). `--rows N` keeps
//! the first N shared rows in GUEST.csv's order. `--export DIR` writes
//! what docs/benchmarks.md compares with: `binned_train.csv` and
//! `binned_test.csv` (every party's bin indices and the label, for
//! XGBoost on the same pre-binned columns), and `guest.csv` / `host.csv`
//! with the shared rows reordered training rows first, so that a script
//! that holds out the last rows in file order uses this split.

use indomain::learn::binning::{BinParams, Binned, RawTable, bin_table};
use indomain::learn::data::{CsvSpec, load_raw_csv, split};
use indomain::learn::metrics;
use indomain::learn::tree::{self, BinnedFeatures, GbdtParams, plain};
use indomain::learn::{Task, align::Roles};
use indomain::net::memory::mesh;
use indomain::rand;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::Instant;

fn flag<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> Result<T, String> {
    match args.iter().position(|a| a == name) {
        None => Ok(default),
        Some(i) => args
            .get(i + 1)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("{name}: give a value")),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [guest_path, host_path, ..] = &args[..] else {
        return Err("usage: gbdt GUEST.csv HOST.csv [--trees T] [--depth D] [--bins B] [--eta E] [--lambda L] [--min-child-weight W] [--test-fraction F] [--seed S] [--rows N] [--export DIR]".into());
    };
    let params = GbdtParams {
        trees: flag(&args, "--trees", 5)?,
        max_depth: flag(&args, "--depth", 3)?,
        bins: flag(&args, "--bins", 8)?,
        learning_rate: flag(&args, "--eta", 0.3)?,
        lambda: flag(&args, "--lambda", 1.0)?,
        min_child_weight: flag(&args, "--min-child-weight", 1.0)?,
        seed: flag(&args, "--seed", 0)?,
        ..GbdtParams::default()
    };
    let test_fraction: f64 = flag(&args, "--test-fraction", 0.25)?;
    let rows: usize = flag(&args, "--rows", usize::MAX)?;
    let spec = |label: bool| CsvSpec {
        id_column: "id".into(),
        label_column: label.then(|| "y".into()),
        features: None,
        task: Task::Logistic,
    };
    let guest = load_raw_csv(guest_path.as_ref(), &spec(true), &[])?;
    let host = load_raw_csv(host_path.as_ref(), &spec(false), &[])?;
    // The shared rows: the first `rows` in the guest's order, then sorted
    // by id as the PSI join orders them.
    let at: HashMap<&str, usize> = host
        .ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    let mut shared: Vec<(usize, usize)> = guest
        .ids
        .iter()
        .enumerate()
        .filter_map(|(i, id)| at.get(id.as_str()).map(|&j| (i, j)))
        .take(rows)
        .collect();
    shared.sort_by(|a, b| guest.ids[a.0].trim().cmp(guest.ids[b.0].trim()));
    let tables = [
        guest.select(&shared.iter().map(|p| p.0).collect::<Vec<_>>()),
        host.select(&shared.iter().map(|p| p.1).collect::<Vec<_>>()),
    ];
    let n = shared.len();
    let parts = split(n, test_fraction, params.seed);
    let binned: Vec<(BinnedFeatures, BinnedFeatures)> = tables
        .iter()
        .map(|t| bins(t, &parts.train, &parts.test, params.bins))
        .collect::<Result<_, _>>()?;
    let train: Vec<BinnedFeatures> = binned.iter().map(|b| b.0.clone()).collect();
    let test: Vec<BinnedFeatures> = binned.iter().map(|b| b.1.clone()).collect();
    let labels = tables[0].y.clone().unwrap_or_default();
    let y_train: Vec<f64> = parts.train.iter().map(|&r| labels[r]).collect();
    let y_test: Vec<f64> = parts.test.iter().map(|&r| labels[r]).collect();
    println!(
        "{n} shared rows ({} train, {} test), features {} + {}, {} trees of depth {}, {} bins",
        parts.train.len(),
        parts.test.len(),
        train[0].features(),
        train[1].features(),
        params.trees,
        params.max_depth,
        params.bins
    );

    let started = Instant::now();
    let reference = plain::train(&train, &y_train, &params)?;
    let plain_scores = plain::predict(&reference, &test);
    println!(
        "plaintext reference: AUC {:.4} ({:.2} s)",
        metrics::auc(&plain_scores, &y_test),
        started.elapsed().as_secs_f64()
    );

    // The secure job: guest (label holder), host, dealer.
    let roles = Roles::new(3, 0, Some(2))?;
    let started = Instant::now();
    let sets = mesh(&["guest", "host", "dealer"]);
    let results = std::thread::scope(|s| {
        let handles: Vec<_> = sets
            .into_iter()
            .enumerate()
            .map(|(i, mut set)| {
                let (roles, params, train, test, y) = (&roles, &params, &train, &test, &y_train);
                s.spawn(move || -> Result<_, indomain::learn::LearnError> {
                    let mut rng = rand::rng();
                    let out = tree::train(
                        &mut set,
                        roles,
                        train.get(i),
                        (i == 0).then_some(&y[..]),
                        params,
                        &mut |_| {},
                        &mut rng,
                    )?;
                    let weights = out.leaf_weights.as_deref().zip(out.base_margin);
                    tree::score(
                        &mut set,
                        roles,
                        test.get(i),
                        &out.trees,
                        weights,
                        params.frac_bits,
                        &mut rng,
                    )
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("party thread"))
            .collect::<Vec<_>>()
    });
    let mut results = results.into_iter();
    let scores = results
        .next()
        .ok_or("no label holder")??
        .ok_or("no scores")?;
    for r in results {
        r?;
    }
    println!(
        "secure (3 threads, in memory): AUC {:.4} ({:.2} s); largest score gap to the plaintext {:.2e}",
        metrics::auc(&scores, &y_test),
        started.elapsed().as_secs_f64(),
        scores
            .iter()
            .zip(&plain_scores)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max)
    );
    if let Some(dir) = args
        .iter()
        .position(|a| a == "--export")
        .and_then(|i| args.get(i + 1))
    {
        std::fs::create_dir_all(dir)?;
        export(
            dir,
            &tables,
            &parts.train,
            &parts.test,
            &train,
            &test,
            &labels,
        )?;
        println!("wrote {dir}/binned_train.csv, binned_test.csv, guest.csv, host.csv");
    }
    Ok(())
}

/// One party's bins, fitted on the training rows.
fn bins(
    t: &RawTable,
    train: &[usize],
    test: &[usize],
    bins: usize,
) -> Result<(BinnedFeatures, BinnedFeatures), indomain::learn::LearnError> {
    let tr = t.select(train);
    let te = t.select(test);
    let fitted = bin_table(&tr, &BinParams::quantile(bins))?;
    let assigned = fitted
        .iter()
        .zip(&te.columns)
        .map(|(b, c)| {
            Ok(Binned {
                bins: b.bins.clone(),
                index: b.bins.assign(c, &te.source, &te.lines)?,
            })
        })
        .collect::<Result<Vec<_>, indomain::learn::LearnError>>()?;
    Ok((
        BinnedFeatures::from_binned(&fitted, tr.rows())?,
        BinnedFeatures::from_binned(&assigned, te.rows())?,
    ))
}

/// The exports described in the module documentation.
fn export(
    dir: &str,
    tables: &[RawTable; 2],
    train: &[usize],
    test: &[usize],
    train_bins: &[BinnedFeatures],
    test_bins: &[BinnedFeatures],
    labels: &[f64],
) -> std::io::Result<()> {
    let binned = |bins: &[BinnedFeatures], rows: &[usize]| {
        let mut s = String::new();
        let names: Vec<String> = tables
            .iter()
            .enumerate()
            .flat_map(|(p, t)| t.feature_names.iter().map(move |f| format!("p{p}_{f}")))
            .collect();
        let _ = writeln!(s, "{},y", names.join(","));
        for (k, &r) in rows.iter().enumerate() {
            let cells: Vec<String> = bins
                .iter()
                .flat_map(|b| {
                    b.indices
                        .row(k)
                        .iter()
                        .map(|v| v.to_string())
                        .collect::<Vec<_>>()
                })
                .collect();
            let _ = writeln!(s, "{},{}", cells.join(","), labels[r]);
        }
        s
    };
    std::fs::write(format!("{dir}/binned_train.csv"), binned(train_bins, train))?;
    std::fs::write(format!("{dir}/binned_test.csv"), binned(test_bins, test))?;
    for (t, name) in tables.iter().zip(["guest", "host"]) {
        let mut s = String::new();
        let label = t.y.as_ref();
        let header = label.map_or(String::from("id"), |_| String::from("id,y"));
        let _ = writeln!(s, "{header},{}", t.feature_names.join(","));
        for &r in train.iter().chain(test) {
            let mut cells = vec![t.ids[r].clone()];
            if let Some(y) = label {
                cells.push(y[r].to_string());
            }
            for c in &t.columns {
                cells.push(match c {
                    indomain::learn::binning::Column::Numeric(v) if v[r].is_nan() => String::new(),
                    indomain::learn::binning::Column::Numeric(v) => v[r].to_string(),
                    indomain::learn::binning::Column::Categorical { levels, codes } => {
                        levels.get(codes[r] as usize).cloned().unwrap_or_default()
                    }
                });
            }
            let _ = writeln!(s, "{}", cells.join(","));
        }
        std::fs::write(format!("{dir}/{name}.csv"), s)?;
    }
    Ok(())
}
