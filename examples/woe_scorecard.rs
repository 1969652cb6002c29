//! WOE/IV binning and a WOE scorecard between a bank (guest: labels and
//! some columns), a tax bureau (host: other columns of the same people)
//! and a dealer, every party a thread of this process over in-memory
//! channels: the host's IV ranking next to the plaintext's on the same
//! rows and bins, and the scorecard's held-out AUC and KS next to a
//! plaintext scorecard's and plain logistic regression's.
//!
//!     cargo run --release --example woe_scorecard                     # generated data
//!     cargo run --release --example woe_scorecard -- GUEST.csv HOST.csv [--mode strict] [--epochs 40] [--min-iv 0.02]
//!
//! GUEST.csv has columns id,y,features…; HOST.csv id,features… (FATE's
//! vertical splits). Rows are aligned by PSI join and split 75/25 with
//! seed 0, as `indomain bin` and `indomain train --scorecard` do; binning
//! (10 quantile bins, 5 % a bin) and WOE use the training rows only.

use indomain::learn::align::Roles;
use indomain::learn::binning::{BinParams, Column, RawTable, bin_column};
use indomain::learn::data::{CsvSpec, Standardizer, load_raw_csv, split};
use indomain::learn::metrics::{auc, ks};
use indomain::learn::model::{JobParty, PartyRole};
use indomain::learn::scorecard::Scale;
use indomain::learn::scorecard::model::{ScorecardFile, ScorecardJob};
use indomain::learn::scorecard::pipeline::{self as card, ScorecardRun};
use indomain::learn::woe::file::{BinningFile, BinningJob};
use indomain::learn::woe::pipeline::{self as binning, BinningRun};
use indomain::learn::woe::protocol::Settings;
use indomain::learn::woe::{Mode, bin_counts, woe_iv};
use indomain::learn::{Task, TrainParams, plain};
use indomain::mpc::sigmoid::sigmoid_approx;
use indomain::ndarray::Array2;
use indomain::rand;
use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

type Error = Box<dyn std::error::Error + Send + Sync>;

const NAMES: [&str; 3] = ["guest", "host", "dealer"];

fn spec(label: bool) -> CsvSpec {
    CsvSpec {
        id_column: "id".into(),
        label_column: label.then(|| "y".into()),
        features: None,
        task: Task::Logistic,
    }
}

/// Generated guest and host tables: 6,000 customers, 5,000 at each party.
fn generated() -> (RawTable, RawTable) {
    let u = |i: u64, k: u64| {
        let mut z = i.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ k.wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z ^= z >> 31;
        z = z.wrapping_mul(0x94d0_49bb_1331_11eb);
        (z >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut g = (Vec::new(), Vec::new(), vec![Vec::new(); 3]);
    let mut h = (Vec::new(), vec![Vec::new(); 3]);
    for i in 0..6000u64 {
        let x: Vec<f64> = (0..6).map(|k| u(i, k)).collect();
        let z = -1.5 + 2.5 * x[0] - 1.5 * x[1] + 3.0 * (x[3] - 0.5).powi(2) * 4.0 - 2.0 * x[4];
        let y = f64::from(u(i, 99) < 1.0 / (1.0 + (-z).exp()));
        if i % 6 != 0 {
            g.0.push(format!("c{i}"));
            g.1.push(y);
            (0..3).for_each(|k| g.2[k].push(x[k]));
        }
        if i % 6 != 1 {
            h.0.push(format!("c{i}"));
            (0..3).for_each(|k| h.1[k].push(x[3 + k]));
        }
    }
    let table = |source: &str,
                 ids: Vec<String>,
                 y: Option<Vec<f64>>,
                 cols: Vec<Vec<f64>>,
                 names: &[&str]| RawTable {
        source: source.into(),
        lines: (2..ids.len() as u64 + 2).collect(),
        ids,
        feature_names: names.iter().map(|s| s.to_string()).collect(),
        columns: cols.into_iter().map(Column::Numeric).collect(),
        y,
    };
    (
        table("guest", g.0, Some(g.1), g.2, &["age", "balance", "tenure"]),
        table("host", h.0, None, h.1, &["income", "tax_paid", "assets"]),
    )
}

fn parties() -> Vec<JobParty> {
    NAMES
        .iter()
        .zip([PartyRole::Label, PartyRole::Feature, PartyRole::Dealer])
        .map(|(n, role)| JobParty {
            name: n.to_string(),
            role,
        })
        .collect()
}

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let mode = match flag("--mode").as_deref() {
        None | Some("default") => Mode::Default,
        Some("strict") => Mode::Strict,
        Some("owner-transform") => Mode::OwnerTransform,
        Some(other) => {
            return Err(format!("--mode: default, strict or owner-transform, not {other}").into());
        }
    };
    let epochs: usize = flag("--epochs").map_or(Ok(40), |e| e.parse())?;
    let min_iv: f64 = flag("--min-iv").map_or(Ok(0.02), |e| e.parse())?;
    let (guest, host) = match (args.first(), args.get(1)) {
        (Some(g), Some(h)) if !g.starts_with("--") => (
            load_raw_csv(Path::new(g), &spec(true), &[])?,
            load_raw_csv(Path::new(h), &spec(false), &[])?,
        ),
        _ => generated(),
    };
    let roles = Roles::new(3, 0, Some(2))?;
    let params = BinParams::default();
    let bin_job = BinningJob {
        parties: parties(),
        id_column: "id".into(),
        test_fraction: 0.25,
        seed: 0,
        method: params.method,
        min_share: params.min_share,
        max_categories: params.max_categories,
        settings: Settings {
            mode,
            ..Settings::default()
        },
        nonce: String::new(),
    };
    let tables = [Some(&guest), Some(&host), None];
    let started = Instant::now();
    let files: Vec<Option<BinningFile>> = indomain::local::run(&NAMES, |me, mut set| {
        let run = BinningRun {
            job: bin_job.clone(),
            roles: roles.clone(),
            min_rows: 20,
            edges: Vec::new(),
        };
        binning::run(
            &mut set,
            &run,
            Ok(tables[me]),
            &mut bin_job.settings.kernel(),
            &mut rand::rng(),
            &mut |_| {},
        )
        .map(|f| f.file)
    })?;
    let binned_in = started.elapsed().as_secs_f64();
    let (gf, hf) = (
        files[0].clone().ok_or("no guest file")?,
        files[1].clone().ok_or("no host file")?,
    );

    // The rows the jobs used: the shared ids in the guest's id order, split
    // as the pipelines split them.
    let host_row: HashMap<&str, usize> = host
        .ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.trim(), i))
        .collect();
    let mut shared: Vec<(usize, usize)> = guest
        .ids
        .iter()
        .enumerate()
        .filter_map(|(g, id)| host_row.get(id.trim()).map(|&h| (g, h)))
        .collect();
    shared.sort_by(|a, b| guest.ids[a.0].trim().cmp(guest.ids[b.0].trim()));
    let parts = split(shared.len(), 0.25, 0);
    let rows_of =
        |part: &[usize]| -> (Vec<usize>, Vec<usize>) { part.iter().map(|&p| shared[p]).unzip() };
    let ((g_train, h_train), (g_test, h_test)) = (rows_of(&parts.train), rows_of(&parts.test));
    let y_all = guest.y.clone().ok_or("the guest has no labels")?;
    let y_train: Vec<f64> = g_train.iter().map(|&r| y_all[r]).collect();
    let y_test: Vec<f64> = g_test.iter().map(|&r| y_all[r]).collect();

    // The host's IV ranking: secure (the guest's view, the host's own)
    // against plaintext binning and IV on the same training rows.
    let host_train = host.select(&h_train);
    let mut rows = Vec::new();
    for (j, name) in host.feature_names.iter().enumerate() {
        let b = bin_column(name, &host_train.columns[j], &params, "host")?;
        let (e, n) = bin_counts(&b.index.to_vec(), &y_train, b.bins.bins());
        let plain_iv = woe_iv(&e, &n).iv;
        let seen_by_guest = gf
            .foreign
            .iter()
            .find(|f| &f.name == name)
            .map_or(f64::NAN, |f| f.iv);
        let own = hf
            .features
            .iter()
            .find(|f| &f.bins.name == name)
            .map_or(f64::NAN, |f| f.iv);
        rows.push((name.clone(), plain_iv, seen_by_guest, own));
    }
    let rank = |key: fn(&(String, f64, f64, f64)) -> f64| {
        let mut order: Vec<&str> = Vec::new();
        let mut sorted = rows.clone();
        sorted.sort_by(|a, b| key(b).total_cmp(&key(a)));
        order.extend(sorted.iter().map(|r| r.0.as_str()).collect::<Vec<_>>());
        order.iter().map(|s| s.to_string()).collect::<Vec<String>>()
    };
    let (plain_rank, secure_rank) = (rank(|r| r.1), rank(|r| r.2));
    println!(
        "{} shared rows ({} train, {} test); binning and WOE/IV ({} mode) {binned_in:.2} s",
        shared.len(),
        parts.train.len(),
        parts.test.len(),
        mode.name()
    );
    println!("host features by IV (secure at the guest | at the host | plaintext):");
    for (name, p, s, o) in &rows {
        println!(
            "  {name:<10} {s:.6} | {o:.6} | {p:.6}   |secure − plain| = {:.1e}",
            (s - p).abs()
        );
    }
    println!(
        "host IV ranking equal to plaintext: {} ({})",
        plain_rank == secure_rank,
        secure_rank.join(" > ")
    );

    // The scorecard, trained jointly.
    let job = ScorecardJob {
        binning_hash: String::new(),
        mode,
        parties: parties(),
        id_column: "id".into(),
        test_fraction: 0.25,
        seed: 0,
        min_iv,
        scale: Scale::default(),
        params: TrainParams {
            epochs,
            learning_rate: 1.0,
            ..TrainParams::default()
        },
        nonce: String::new(),
    };
    let started = Instant::now();
    let cards: Vec<Option<ScorecardFile>> = indomain::local::run(&NAMES, |me, mut set| {
        let run = ScorecardRun {
            job: job.clone(),
            roles: roles.clone(),
            min_rows: 20,
        };
        let file = files[me].as_ref().map(|f| (f, "binning"));
        card::run(&mut set, &run, file, Ok(tables[me]), &mut rand::rng()).map(|f| f.file)
    })?;
    let trained_in = started.elapsed().as_secs_f64();
    let lc = cards[0].clone().ok_or("no scorecard")?;
    let e = lc.evaluation.ok_or("no evaluation")?;
    println!(
        "WOE scorecard ({} features with IV ≥ {min_iv}, {epochs} epochs, secure): held-out AUC {:.4}, KS {:.4} ({trained_in:.2} s)",
        lc.features.len() + lc.foreign.len(),
        e.auc,
        e.ks
    );

    // The plaintext scorecard: the same WOE columns (the card's features)
    // and the same gradient descent, in the clear.
    let woe_col = |woe: &[f64],
                   bins: &indomain::learn::binning::FeatureBins,
                   col: &Column,
                   rows: &[usize]|
     -> Result<Vec<f64>, Error> {
        let idx = bins.assign(&col.select(rows), "x", &[])?;
        Ok((0..rows.len()).map(|r| woe[idx.get(r)]).collect())
    };
    let mut train_cols = Vec::new();
    let mut test_cols = Vec::new();
    for f in &gf.features {
        if f.iv >= min_iv {
            let j = guest
                .feature_names
                .iter()
                .position(|n| *n == f.bins.name)
                .ok_or("feature")?;
            let w = f.woe.clone().ok_or("guest WOE")?;
            train_cols.push(woe_col(&w, &f.bins, &guest.columns[j], &g_train)?);
            test_cols.push(woe_col(&w, &f.bins, &guest.columns[j], &g_test)?);
        }
    }
    for f in &hf.features {
        if f.iv >= min_iv {
            let j = host
                .feature_names
                .iter()
                .position(|n| *n == f.bins.name)
                .ok_or("feature")?;
            // The plaintext knows the host's WOE: from its own counts.
            let idx = f
                .bins
                .assign(&host.columns[j].select(&h_train), "host", &[])?;
            let (ev, ne) = bin_counts(&idx.to_vec(), &y_train, f.bins.bins());
            let w = woe_iv(&ev, &ne).woe;
            train_cols.push(woe_col(&w, &f.bins, &host.columns[j], &h_train)?);
            test_cols.push(woe_col(&w, &f.bins, &host.columns[j], &h_test)?);
        }
    }
    let to_matrix =
        |cols: &[Vec<f64>]| Array2::from_shape_fn((cols[0].len(), cols.len()), |(r, c)| cols[c][r]);
    let (xw, xw_test) = (to_matrix(&train_cols), to_matrix(&test_cols));
    let fit = plain::train_with(xw.view(), &y_train, &job.params, sigmoid_approx)?;
    let s = plain::scores(xw_test.view(), &fit.weights, fit.intercept);
    println!(
        "plaintext scorecard (same WOE columns, same descent): held-out AUC {:.4}, KS {:.4}",
        auc(&s, &y_test),
        ks(&s, &y_test)
    );

    // Plain logistic regression on the standardised raw columns.
    let raw = |t: &RawTable, rows: &[usize]| -> Vec<Vec<f64>> {
        t.columns
            .iter()
            .map(|c| match c.select(rows) {
                Column::Numeric(v) => v
                    .iter()
                    .map(|x| if x.is_nan() { 0.0 } else { *x })
                    .collect(),
                Column::Categorical { codes, .. } => codes.iter().map(|&c| f64::from(c)).collect(),
            })
            .collect()
    };
    let mut tr = raw(&guest, &g_train);
    tr.extend(raw(&host, &h_train));
    let mut te = raw(&guest, &g_test);
    te.extend(raw(&host, &h_test));
    let (xr, xr_test) = (to_matrix(&tr), to_matrix(&te));
    let names: Vec<String> = (0..xr.ncols()).map(|i| format!("c{i}")).collect();
    let st = Standardizer::fit(xr.view(), &names, "joined")?;
    let lr = plain::train_with(
        st.apply(xr.view()).view(),
        &y_train,
        &job.params,
        sigmoid_approx,
    )?;
    let s = plain::scores(st.apply(xr_test.view()).view(), &lr.weights, lr.intercept);
    println!(
        "plain logistic regression (standardised raw columns, same descent): held-out AUC {:.4}, KS {:.4}",
        auc(&s, &y_test),
        ks(&s, &y_test)
    );
    Ok(())
}
