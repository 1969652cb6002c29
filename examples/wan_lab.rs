//! Jobs over an emulated wide-area network: real QUIC endpoints on
//! loopback, every link through an `indomain::net::wanlab` relay that adds
//! delay, a bandwidth cap and loss. Every party runs in this process (a
//! thread each, each with its own endpoint and runtime).
//!
//!     cargo run --release --example wan_lab -- psi --items 1048576 --rtt 50ms --rate 100mbit
//!     cargo run --release --example wan_lab -- stats --rows 1000000 --rtt 50ms --rate 100mbit
//!     cargo run --release --example wan_lab -- train --rows 10000 --epochs 10 --rtt 50ms --rate 100mbit
//!     cargo run --release --example wan_lab -- train --guest G.csv --host H.csv --epochs 20 --two-party
//!     cargo run --release --example wan_lab -- woe --rows 800000 --features 150 --rtt 50ms --rate 100mbit
//!     cargo run --release --example wan_lab -- gbdt --rows 20000 --trees 1 --rtt 50ms --rate 10mbit [--leak-instance-space]
//!
//! `psi`: PSI (intersection, revealed to both) between two parties of
//! `--items` keys each, half of them shared, by `--protocol rr22` (the
//! default, as in the CLI) or `ecdh`. `stats`: three parties of `--rows`
//! rows each compute the mean of two columns over four groups; party 0
//! receives it. `train`: vertical logistic regression (PSI join, secure
//! full-batch training, joint scoring) between a label holder and a
//! feature holder of `--rows` generated rows each (three features each),
//! or of the CSV files `--guest` (id, y, features) and `--host` (id,
//! features), with a dealer or, with `--two-party`, without one (the two
//! generate their correlations), over `--epochs` epochs. `woe`: WOE/IV
//! binning in the default mode between a label holder and a feature owner
//! of `--rows` generated rows and `--features` numeric columns each (10
//! quantile bins), with a dealer; each party bins its columns locally,
//! then the owner's events per bin come through the histogram kernel (add
//! `--shared-permutation` for one dealer permutation for all features).
//! `gbdt`: tree training between a label holder and a feature holder of
//! `--rows` generated rows and `--features` (15) features each, 32 bins
//! (`--bins`), `--trees` (1) of depth `--depth` (5), with a dealer; the
//! instance space hidden or, with `--leak-instance-space`, leaked
//! (`wan_lab/gbdt.rs`).
//! Options: `--rtt`, `--rate`, `--loss` (a fraction).

use indomain::aggregate::stats::{LocalData, Statistic, StatsJob, run_statistics};
use indomain::learn::align::Roles;
use indomain::learn::binning::{BinParams, Binned, Column, bin_column};
use indomain::learn::data::Table;
use indomain::learn::model::{JobParty, JobSpec, PartyRole};
use indomain::learn::pipeline::{self, Event, VerticalJob};
use indomain::learn::woe::protocol::{self, Settings};
use indomain::learn::{Task, TrainParams, secure};
use indomain::ndarray::Array2;
use indomain::net::quic::{Endpoint, Identity, QuicChannel};
use indomain::net::wanlab::{Link, Relay};
use indomain::net::{Channel, Counters, Limits, PartySet};
use indomain::psi::{Construction, Items, Job, Mode, Reveal, session};
use indomain::rand;
use rayon::prelude::*;
use std::time::{Duration, Instant};

#[path = "wan_lab/gbdt.rs"]
mod gbdt;

type Error = Box<dyn std::error::Error + Send + Sync>;

fn limits() -> Limits {
    Limits {
        recv_timeout: Duration::from_secs(600),
        ..Limits::default()
    }
}

fn endpoint(me: &Identity, others: &[&Identity]) -> Result<Endpoint, Error> {
    let trusted = others.iter().map(|o| o.trusted_entry()).collect();
    Ok(Endpoint::bind(
        me,
        "127.0.0.1:0".parse()?,
        trusted,
        limits(),
    )?)
}

/// Connects `client` to `server` through a new relay over `link`.
fn link_up(
    server: &Endpoint,
    client: &Endpoint,
    link: Link,
) -> Result<(QuicChannel, QuicChannel, Relay), Error> {
    let relay = Relay::start("127.0.0.1:0".parse()?, server.local_addr(), link)?;
    let (accepted, connected) = std::thread::scope(|s| {
        let accepted = s.spawn(|| server.accept());
        let connected = client.connect(relay.addr(), server.name());
        (accepted.join(), connected)
    });
    let accepted = accepted.map_err(|_| "accept thread panicked")??;
    Ok((accepted, connected?, relay))
}

fn psi(items: usize, construction: Construction, link: Link) -> Result<(), Error> {
    let (alice, bob) = (Identity::generate("alice")?, Identity::generate("bob")?);
    let (a, b) = (endpoint(&alice, &[&bob])?, endpoint(&bob, &[&alice])?);
    let (mut to_bob, mut to_alice, relay) = link_up(&a, &b, link)?;
    let keys = |offset: usize| {
        let mut set = Items::new();
        (offset..offset + items).for_each(|i| set.push_columns(&[format!("cust-{i:09}")]));
        set
    };
    let (sender_keys, receiver_keys) = (keys(0), keys(items / 2));
    let job = Job::new(Mode::Intersection)
        .with_reveal(Reveal::Both)
        .with_construction(construction);
    let start = Instant::now();
    let (sent, received) = std::thread::scope(|s| {
        let sender = s.spawn(|| {
            session::sender(
                &mut to_bob,
                &job,
                &sender_keys,
                None,
                &mut rand::rng(),
                &mut |_| {},
            )
        });
        let receiver = s.spawn(|| {
            session::receiver(
                &mut to_alice,
                &job,
                &receiver_keys,
                &mut rand::rng(),
                &mut |_| {},
            )
        });
        (sender.join(), receiver.join())
    });
    let elapsed = start.elapsed();
    let (sent, received) = (
        sent.map_err(|_| "sender panicked")??,
        received.map_err(|_| "receiver panicked")??,
    );
    let matches = received.intersection_size.unwrap_or_default();
    if matches != items - items / 2 || sent.intersection_size != Some(matches) {
        return Err(format!("wrong intersection: {matches}").into());
    }
    report(
        &format!("{construction} PSI"),
        items,
        elapsed,
        to_alice.counters(),
        &relay,
    );
    Ok(())
}

/// Three parties `names`, each pair linked through its own relay over
/// `link` (the later party connects to the earlier one).
fn wan_mesh(names: &[&str], link: Link) -> Result<(Vec<PartySet>, Vec<Relay>), Error> {
    let n = names.len();
    let ids = names
        .iter()
        .map(|n| Identity::generate(n))
        .collect::<Result<Vec<_>, _>>()?;
    let endpoints = (0..n)
        .map(|i| {
            let others: Vec<&Identity> = (0..n).filter(|&j| j != i).map(|j| &ids[j]).collect();
            endpoint(&ids[i], &others)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut links: Vec<Vec<Option<Box<dyn Channel>>>> =
        (0..n).map(|_| (0..n).map(|_| None).collect()).collect();
    let mut relays = Vec::new();
    for j in 1..n {
        for i in 0..j {
            let (at_i, at_j, relay) = link_up(&endpoints[i], &endpoints[j], link)?;
            links[i][j] = Some(Box::new(at_i));
            links[j][i] = Some(Box::new(at_j));
            relays.push(relay);
        }
    }
    let sets = links
        .into_iter()
        .enumerate()
        .map(|(me, l)| PartySet::new(me, names.iter().map(|n| n.to_string()).collect(), l))
        .collect();
    Ok((sets, relays))
}

/// Runs `party(me, set)` at every party of `sets`, one thread each;
/// returns the results in set order and the wall time of the whole run.
fn run_parties<T: Send>(
    sets: &mut [PartySet],
    party: impl Fn(usize, &mut PartySet) -> Result<T, Error> + Sync,
) -> Result<(Vec<T>, Duration), Error> {
    let start = Instant::now();
    let results = std::thread::scope(|s| {
        let handles: Vec<_> = sets
            .iter_mut()
            .enumerate()
            .map(|(me, set)| {
                let party = &party;
                s.spawn(move || party(me, set))
            })
            .collect();
        handles.into_iter().map(|h| h.join()).collect::<Vec<_>>()
    });
    let elapsed = start.elapsed();
    let mut outcomes = Vec::new();
    for r in results {
        outcomes.push(r.map_err(|_| "a party panicked")??);
    }
    Ok((outcomes, elapsed))
}

/// Prints what each party (named by `names`) sent and received; returns
/// all parties' bytes together.
fn party_bytes(names: &[&str], sets: &[PartySet]) -> Counters {
    for (name, set) in names.iter().zip(sets) {
        let c = set.counters();
        println!(
            "  {name}: sent {:.1} MB, received {:.1} MB",
            c.sent as f64 / 1e6,
            c.received as f64 / 1e6
        );
    }
    total_bytes(sets)
}

/// All parties' bytes together.
fn total_bytes(sets: &[PartySet]) -> Counters {
    sets.iter()
        .fold(Counters::default(), |acc, s| acc + s.counters())
}

fn stats(rows: usize, link: Link) -> Result<(), Error> {
    let (mut sets, relays) = wan_mesh(&["a", "b", "c"], link)?;
    let job = StatsJob {
        statistic: Statistic::Mean,
        columns: vec!["amount".into(), "age".into()],
        categories: Some(["n", "s", "e", "w"].map(String::from).to_vec()),
        receivers: vec![0],
        min_group_size: 10,
        frac_bits: 16,
        max_abs: 1e6,
    };
    let data: Vec<LocalData> = (0..3u64)
        .map(|p| LocalData {
            groups: (0..rows).map(|r| (r * 7 + p as usize) % 4).collect(),
            columns: vec![
                (0..rows)
                    .map(|r| ((r as u64 * 7919 + p * 104_729) % 1_000_000) as f64 / 100.0)
                    .collect(),
                (0..rows).map(|r| 18.0 + (r % 60) as f64).collect(),
            ],
        })
        .collect();
    let (_, elapsed) = run_parties(&mut sets, |me, set| {
        Ok(run_statistics(
            set,
            &job,
            &data[me],
            &mut rand::rng(),
            &mut |_| {},
        )?)
    })?;
    let bytes = total_bytes(&sets);
    println!("(bytes below: all three parties together)");
    report(
        "secure statistics (mean, 2 columns, 4 groups, 3 parties)",
        3 * rows,
        elapsed,
        bytes,
        &relays[0],
    );
    Ok(())
}

/// A uniform value in [-1, 1) from `seed` (splitmix64), so the generated
/// rows are the same in every run.
fn uniform(seed: u64) -> f64 {
    let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 52) as f64 - 1.0
}

/// The label holder's and the feature holder's tables: `rows` shared ids
/// (the host's in reverse order, so the join has work to do), three
/// features each, and a label that depends on all six.
fn vertical_tables(rows: usize) -> Result<(Table, Table), Error> {
    const FEATURES: usize = 3;
    let x = |party: u64, r: usize, j: usize| uniform((r * 8 + j) as u64 ^ (party << 40));
    let weights = [1.5, -1.0, 0.5, 2.0, -0.8, 1.2];
    let y = (0..rows)
        .map(|r| {
            let logit: f64 = (0..2 * FEATURES)
                .map(|j| weights[j] * x(j as u64 / 3, r, j % 3))
                .sum();
            f64::from(logit + 0.5 * uniform(r as u64 ^ (7 << 40)) > 0.0)
        })
        .collect();
    let table = |party: u64, order: Vec<usize>, y: Option<Vec<f64>>| -> Result<Table, Error> {
        let values = order
            .iter()
            .flat_map(|&r| (0..FEATURES).map(move |j| x(party, r, j)))
            .collect();
        Ok(Table {
            source: format!("generated (party {party})"),
            ids: order.iter().map(|r| format!("id-{r:08}")).collect(),
            lines: (2..rows as u64 + 2).collect(),
            feature_names: (0..FEATURES).map(|j| format!("p{party}x{j}")).collect(),
            x: Array2::from_shape_vec((rows, FEATURES), values)?,
            y,
        })
    };
    Ok((
        table(0, (0..rows).collect(), Some(y))?,
        table(1, (0..rows).rev().collect(), None)?,
    ))
}

/// A numeric CSV file `id[,y],features…` with a header (the FATE split
/// files), read without the `files` feature.
fn csv_table(path: &str, labels: bool) -> Result<Table, Error> {
    let text = std::fs::read_to_string(path)?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().ok_or("an empty file")?.split(',').collect();
    let skip = 1 + labels as usize;
    let (mut ids, mut y, mut values, mut numbers) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (i, line) in lines.enumerate() {
        let cells: Vec<&str> = line.split(',').collect();
        ids.push(cells[0].to_string());
        if labels {
            y.push(cells[1].parse::<f64>()?);
        }
        for c in &cells[skip..] {
            values.push(c.parse::<f64>()?);
        }
        numbers.push(i as u64 + 2);
    }
    let rows = ids.len();
    Ok(Table {
        source: path.to_string(),
        ids,
        lines: numbers,
        feature_names: header[skip..].iter().map(|h| h.to_string()).collect(),
        x: Array2::from_shape_vec((rows, header.len() - skip), values)?,
        y: labels.then_some(y),
    })
}

fn train(
    rows: usize,
    epochs: usize,
    two_party: bool,
    files: Option<(&str, &str)>,
    link: Link,
) -> Result<(), Error> {
    let names: &[&str] = if two_party {
        &["guest", "host"]
    } else {
        &["guest", "host", "dealer"]
    };
    let (guest, host) = match files {
        Some((g, h)) => (csv_table(g, true)?, csv_table(h, false)?),
        None => vertical_tables(rows)?,
    };
    let rows = guest.ids.len();
    let job = VerticalJob {
        spec: JobSpec {
            mode: "vertical".into(),
            parties: names
                .iter()
                .zip([PartyRole::Label, PartyRole::Feature, PartyRole::Dealer])
                .map(|(n, role)| JobParty {
                    name: n.to_string(),
                    role,
                })
                .collect(),
            id_column: "id".into(),
            test_fraction: 0.25,
            params: TrainParams {
                task: Task::Logistic,
                seed: 0,
                ..TrainParams::gradient_descent(epochs, 0.5)
            },
            horizontal: None,
            nonce: String::new(),
        },
        roles: Roles::new(names.len(), 0, (!two_party).then_some(2))?,
        min_rows: 20,
        contribution: false,
    };
    let (mut sets, relays) = wan_mesh(names, link)?;
    let tables = [Some(&guest), Some(&host), None];
    let tables = &tables[..names.len()];
    let (outcomes, elapsed) = run_parties(&mut sets, |me, set| {
        let mut epochs_run = 0;
        let mut trainer = secure::Trainer::new(job.spec.params.frac_bits);
        let outcome = pipeline::run(
            set,
            &job,
            Ok(tables[me]),
            &mut trainer,
            &mut rand::rng(),
            &mut |e| {
                if let Event::Epoch { .. } = e {
                    epochs_run += 1;
                }
            },
        )?;
        Ok((outcome, epochs_run))
    })?;
    let (guest_out, epochs_run) = &outcomes[0];
    let model = guest_out.model.as_ref().ok_or("the guest has no model")?;
    let p = guest_out.seconds;
    println!(
        "{} shared rows ({} train, {} test), {epochs_run} full-batch epochs; align {:.2} s, train {:.2} s ({:.3} s an epoch), evaluate {:.2} s; evaluation {:?}",
        guest_out.shared_rows,
        model.rows.train,
        model.rows.test,
        p.align,
        p.train,
        p.train / (*epochs_run).max(1) as f64,
        p.evaluate,
        model.evaluation
    );
    let bytes = total_bytes(&sets);
    println!("(bytes below: all parties together)");
    report(
        if two_party {
            "vertical logistic regression (label and feature holder, two-party correlations)"
        } else {
            "vertical logistic regression (label, feature holder, dealer)"
        },
        rows,
        elapsed,
        bytes,
        &relays[0],
    );
    Ok(())
}

/// A value in [0, 1) from a column's salt and a row.
fn unit(salt: u64, row: u64) -> f64 {
    (uniform(
        salt.wrapping_mul(0x1_0000_0001)
            .wrapping_add(row << 20 ^ row),
    ) + 1.0)
        / 2.0
}

/// One party's generated numeric columns, binned locally (10 quantile
/// bins, 5 % a bin at least); the labels depend on each party's first
/// column.
fn woe_features(party: u64, rows: usize, features: usize) -> Result<Vec<Binned>, Error> {
    let params = BinParams::default();
    let columns: Vec<Result<Binned, _>> = (0..features)
        .into_par_iter()
        .map(|f| {
            let salt = 1000 * (party + 1) + f as u64;
            let v: Vec<f64> = (0..rows).map(|r| unit(salt, r as u64)).collect();
            bin_column(&format!("x{f}"), &Column::Numeric(v), &params, "generated")
        })
        .collect();
    Ok(columns.into_iter().collect::<Result<Vec<_>, _>>()?)
}

fn woe(rows: usize, features: usize, shared_permutation: bool, link: Link) -> Result<(), Error> {
    let names = ["guest", "host", "dealer"];
    let (mut sets, relays) = wan_mesh(&names, link)?;
    let roles = Roles::new(3, 0, Some(2))?;
    let settings = Settings {
        shared_permutation,
        ..Settings::default()
    };
    let labels: Vec<f64> = (0..rows)
        .map(|r| {
            let z = -1.4 + 3.0 * (unit(1000, r as u64) - 0.5) - 2.0 * (unit(2000, r as u64) - 0.5);
            f64::from(unit(7, r as u64) < 1.0 / (1.0 + (-z).exp()))
        })
        .collect();
    let (outcomes, elapsed) = run_parties(&mut sets, |me, set| {
        let started = Instant::now();
        let binned = if me == 2 {
            Vec::new()
        } else {
            woe_features(me as u64, rows, features)?
        };
        let local = started.elapsed();
        let outcome = protocol::run(
            set,
            &roles,
            binned,
            (me == 0).then_some(&labels[..]),
            &settings,
            &mut settings.kernel(),
            &mut rand::rng(),
        )?;
        Ok((outcome, local, started.elapsed()))
    })?;
    let (guest, guest_local, _) = &outcomes[0];
    let best = guest
        .foreign
        .iter()
        .max_by(|a, b| a.iv.total_cmp(&b.iv))
        .map(|f| format!("{} (IV {:.4})", f.name, f.iv))
        .unwrap_or_default();
    println!(
        "{rows} rows × {features} features a party, {} permutation: local binning {:.2} s (guest), {:.2} s (host); host's strongest feature {best}",
        if shared_permutation {
            "one shared"
        } else {
            "one per-feature"
        },
        guest_local.as_secs_f64(),
        outcomes[1].1.as_secs_f64(),
    );
    let bytes = party_bytes(&names, &sets);
    println!("(bytes below: all three parties together; wall time includes local binning)");
    report(
        "WOE/IV binning, default mode",
        rows,
        elapsed,
        bytes,
        &relays[0],
    );
    Ok(())
}

fn report(what: &str, n: usize, elapsed: Duration, bytes: Counters, relay: &Relay) {
    println!(
        "{what}: n = {n}: {:.2} s, {:.1} kB sent, {:.1} kB received; relay (first link): {:?}",
        elapsed.as_secs_f64(),
        bytes.sent as f64 / 1e3,
        bytes.received as f64 / 1e3,
        relay.stats()
    );
}

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .map(String::as_str)
    };
    let mut link = Link::wan_100mbit_50ms();
    if let Some(rtt) = flag("--rtt") {
        link.rtt = Link::parse_duration(rtt).ok_or("--rtt: e.g. 50ms")?;
        link.queue = link.rtt.max(Duration::from_millis(10));
    }
    if let Some(rate) = flag("--rate") {
        link.rate_bps = Link::parse_rate(rate).ok_or("--rate: e.g. 100mbit")?;
    }
    if let Some(loss) = flag("--loss") {
        link.loss = loss.parse()?;
    }
    println!(
        "link: {} ms round trip, {} Mbit/s each way, {}% loss",
        link.rtt.as_millis(),
        link.rate_bps / 1_000_000,
        link.loss * 100.0
    );
    match args.first().map(String::as_str) {
        Some("psi") => {
            let construction = match flag("--protocol").unwrap_or("rr22") {
                "rr22" => Construction::Rr22,
                "ecdh" => Construction::Ecdh,
                other => return Err(format!("--protocol: rr22 or ecdh, not {other}").into()),
            };
            psi(flag("--items").unwrap_or("65536").parse()?, construction, link)
        }
        Some("stats") => stats(flag("--rows").unwrap_or("100000").parse()?, link),
        Some("train") => train(
            flag("--rows").unwrap_or("10000").parse()?,
            flag("--epochs").unwrap_or("10").parse()?,
            args.iter().any(|a| a == "--two-party"),
            flag("--guest").zip(flag("--host")),
            link,
        ),
        Some("woe") => woe(
            flag("--rows").unwrap_or("100000").parse()?,
            flag("--features").unwrap_or("10").parse()?,
            args.iter().any(|a| a == "--shared-permutation"),
            link,
        ),
        Some("gbdt") => gbdt::run(
            &gbdt::Setup {
                rows: flag("--rows").unwrap_or("20000").parse()?,
                features: flag("--features").unwrap_or("15").parse()?,
                bins: flag("--bins").unwrap_or("32").parse()?,
                trees: flag("--trees").unwrap_or("1").parse()?,
                depth: flag("--depth").unwrap_or("5").parse()?,
                leak: args.iter().any(|a| a == "--leak-instance-space"),
            },
            link,
        ),
        _ => Err("usage: wan_lab (psi --items N [--protocol rr22|ecdh] | stats --rows N | train (--rows N | --guest G.csv --host H.csv) [--epochs E] [--two-party] | woe --rows N --features F [--shared-permutation] | gbdt --rows N [--features F] [--bins B] [--trees T] [--depth D] [--leak-instance-space]) [--rtt 50ms] [--rate 100mbit] [--loss 0.01]".into()),
    }
}
