//! Vertical logistic regression between a label holder (guest: labels and
//! some columns), a feature holder (host: other columns of the same rows)
//! and a dealer, with held-out AUC next to the same model trained in
//! plaintext.
//!
//!     cargo run --release --example vertical_lr                  # generated data, one process
//!     cargo run --release --example vertical_lr -- GUEST.csv HOST.csv [EPOCHS]
//!     cargo run --release --example vertical_lr -- GUEST.csv HOST.csv 20 --quic
//!
//! GUEST.csv has columns id,y,features…; HOST.csv id,features… (FATE's
//! vertical splits, already standardised); rows are joined on id here in
//! the clear — a stand-in for the PSI join of a real job. 75 % of the rows
//! (a fixed shuffle) train, 25 % test. By default every party is a thread
//! of this process over in-memory channels; with `--quic` the example
//! starts one process per party (label, feature, dealer) over QUIC with
//! mutual TLS on loopback and reports the label holder's time from a
//! connected mesh to trained weights.

use indomain::learn::align::Roles;
use indomain::learn::vertical;
use indomain::learn::{Task, TrainParams};
use indomain::ndarray::{Array1, Array2, Axis, concatenate};
use indomain::net::memory;
use indomain::net::quic::{Endpoint, Identity, PartyAddr, mesh};
use indomain::net::{Limits, PartySet};
use indomain::rand;
use indomain::rand::rngs::StdRng;
use indomain::rand::seq::SliceRandom;
use indomain::rand::{RngExt, SeedableRng};
use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

type Error = Box<dyn std::error::Error + Send + Sync>;

const NAMES: [&str; 3] = ["guest", "host", "dealer"];

/// The joined data: guest block, host block, labels; train/test rows.
struct Data {
    guest: Array2<f64>,
    host: Array2<f64>,
    y: Vec<f64>,
    train: Vec<usize>,
    test: Vec<usize>,
}

/// One CSV: ids, labels (if labelled), feature values.
type Table = (Vec<String>, Vec<f64>, Array2<f64>);

fn read_csv(path: &str, labelled: bool) -> Result<Table, Error> {
    let text = std::fs::read_to_string(path)?;
    let mut lines = text.lines();
    let header = lines.next().ok_or("empty file")?;
    let cols = header.split(',').count() - 1 - labelled as usize;
    let (mut ids, mut y, mut values) = (Vec::new(), Vec::new(), Vec::new());
    for (i, line) in lines.enumerate() {
        let mut cells = line.split(',');
        ids.push(cells.next().ok_or("missing id")?.to_string());
        if labelled {
            y.push(cells.next().ok_or("missing label")?.parse()?);
        }
        for c in cells {
            values.push(
                c.parse::<f64>()
                    .map_err(|e| format!("{path} line {}: {e}", i + 2))?,
            );
        }
    }
    let rows = ids.len();
    Ok((ids, y, Array2::from_shape_vec((rows, cols), values)?))
}

fn load(args: &[String]) -> Result<Data, Error> {
    let (guest, host, y) = if args.len() >= 2 {
        let (gid, y, g) = read_csv(&args[0], true)?;
        let (hid, _, h) = read_csv(&args[1], false)?;
        let at: HashMap<&str, usize> = hid
            .iter()
            .enumerate()
            .map(|(i, s)| (s.as_str(), i))
            .collect();
        let (mut gi, mut hi) = (Vec::new(), Vec::new());
        for (i, id) in gid.iter().enumerate() {
            if let Some(&j) = at.get(id.as_str()) {
                gi.push(i);
                hi.push(j);
            }
        }
        let y: Vec<f64> = gi.iter().map(|&i| y[i]).collect();
        (g.select(Axis(0), &gi), h.select(Axis(0), &hi), y)
    } else {
        let mut rng = StdRng::seed_from_u64(5);
        let rows = 20_000;
        let g = Array2::from_shape_fn((rows, 8), |_| rng.random_range(-2.0..2.0));
        let h = Array2::from_shape_fn((rows, 6), |_| rng.random_range(-2.0..2.0));
        let beta: Array1<f64> = (0..14).map(|i| (i as f64 - 6.0) / 10.0).collect();
        let z = concatenate(Axis(1), &[g.view(), h.view()])?.dot(&beta);
        let y = z
            .iter()
            .map(|&z| (rng.random::<f64>() < 1.0 / (1.0 + (-z).exp())) as u8 as f64)
            .collect();
        (g, h, y)
    };
    let mut order: Vec<usize> = (0..y.len()).collect();
    order.shuffle(&mut StdRng::seed_from_u64(0));
    let cut = y.len() * 3 / 4;
    let (mut train, mut test) = (order[..cut].to_vec(), order[cut..].to_vec());
    train.sort_unstable();
    test.sort_unstable();
    Ok(Data {
        guest,
        host,
        y,
        train,
        test,
    })
}

fn auc(scores: &[f64], y: &[f64]) -> f64 {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let (mut rank_sum, mut pos) = (0.0, 0.0);
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j < idx.len() && scores[idx[j]] == scores[idx[i]] {
            j += 1;
        }
        let avg = (i + j + 1) as f64 / 2.0;
        for &k in &idx[i..j] {
            if y[k] == 1.0 {
                rank_sum += avg;
                pos += 1.0;
            }
        }
        i = j;
    }
    let neg = y.len() as f64 - pos;
    (rank_sum - pos * (pos + 1.0) / 2.0) / (pos * neg)
}

/// Plaintext full-batch gradient descent with the exact sigmoid (as the
/// SPU peer script does).
fn plain_weights(x: &Array2<f64>, y: &[f64], p: &TrainParams) -> Array1<f64> {
    let y = Array1::from(y.to_vec());
    let mut w = Array1::zeros(x.ncols());
    for _ in 0..p.epochs {
        let q = x.dot(&w).mapv(|z| 1.0 / (1.0 + (-z).exp()));
        w = &w - &(x.t().dot(&(q - &y)) * (p.learning_rate / x.nrows() as f64));
    }
    w
}

fn params(epochs: usize) -> TrainParams {
    // SecureML's gradient descent, as the SPU script runs it.
    TrainParams {
        task: Task::Logistic,
        ..TrainParams::gradient_descent(epochs, 0.5)
    }
}

/// One party's part: trains and returns (weights, intercept, bytes sent).
fn party(
    parties: &mut PartySet,
    d: &Data,
    p: &TrainParams,
) -> Result<(Vec<f64>, Option<f64>, u64), Error> {
    let me = parties.me();
    let empty = Array2::zeros((0, 0));
    let x = match me {
        0 => d.guest.select(Axis(0), &d.train),
        1 => d.host.select(Axis(0), &d.train),
        _ => empty,
    };
    let y: Vec<f64> = d.train.iter().map(|&i| d.y[i]).collect();
    let y = (me == 0).then_some(y.as_slice());
    let mut rng = StdRng::from_rng(&mut rand::rng());
    let roles = Roles::new(3, 0, Some(2))?;
    let out = vertical::train(parties, &roles, x.view(), y, p, &mut |_, _| {}, &mut rng)?;
    Ok((out.weights, out.intercept, parties.counters().sent))
}

fn report(d: &Data, p: &TrainParams, w: &[f64], b: f64, secs: f64) -> Result<(), Error> {
    let x = concatenate(Axis(1), &[d.guest.view(), d.host.view()])?;
    let ones = Array2::from_elem((x.nrows(), 1), 1.0);
    let xb = concatenate(Axis(1), &[x.view(), ones.view()])?;
    let (xt, xs) = (xb.select(Axis(0), &d.train), xb.select(Axis(0), &d.test));
    let yt: Vec<f64> = d.train.iter().map(|&i| d.y[i]).collect();
    let ys: Vec<f64> = d.test.iter().map(|&i| d.y[i]).collect();
    let mut secure = Array1::from(w.to_vec()).to_vec();
    secure.push(b);
    let secure_auc = auc(&xs.dot(&Array1::from(secure)).to_vec(), &ys);
    let plain = plain_weights(&xt, &yt, p);
    let plain_auc = auc(&xs.dot(&plain).to_vec(), &ys);
    println!(
        "indomain vertical LR rows={} feats={} epochs={} time={secs:.3}s auc={secure_auc:.4} | plaintext (exact sigmoid) auc={plain_auc:.4} | diff {:+.4}",
        d.train.len(),
        x.ncols(),
        p.epochs,
        secure_auc - plain_auc
    );
    Ok(())
}

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("party") {
        return quic_party(&args[1..]);
    }
    let files: Vec<String> = args
        .iter()
        .filter(|a| a.ends_with(".csv"))
        .cloned()
        .collect();
    let epochs: usize = args.iter().find_map(|a| a.parse().ok()).unwrap_or(20);
    if args.iter().any(|a| a == "--quic") {
        return quic(&files, epochs);
    }
    let d = load(&files)?;
    let p = params(epochs);
    let start = Instant::now();
    let results = std::thread::scope(|sc| {
        let handles: Vec<_> = memory::mesh(&NAMES)
            .into_iter()
            .map(|mut set| {
                let (d, p) = (&d, &p);
                sc.spawn(move || party(&mut set, d, p))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().map_err(|_| "party panicked")?)
            .collect::<Result<Vec<_>, Error>>()
    })?;
    let secs = start.elapsed().as_secs_f64();
    for (name, r) in NAMES.iter().zip(&results) {
        println!("{name}: sent {} bytes", r.2);
    }
    let mut w = results[0].0.clone();
    w.extend(&results[1].0);
    report(&d, &p, &w, results[0].1.unwrap_or(0.0), secs)
}

/// Starts one process per party over QUIC on loopback.
fn quic(files: &[String], epochs: usize) -> Result<(), Error> {
    let dir = tempfile::tempdir()?;
    for name in NAMES {
        Identity::generate(name)?.save(&dir.path().join(name))?;
    }
    let ports: Vec<String> = (0..3)
        .map(|_| {
            Ok(UdpSocket::bind("127.0.0.1:0")?
                .local_addr()?
                .port()
                .to_string())
        })
        .collect::<Result<_, std::io::Error>>()?;
    let exe = std::env::current_exe()?;
    let children = (0..3)
        .map(|i| {
            Command::new(&exe)
                .args([
                    "party",
                    &i.to_string(),
                    &ports.join(","),
                    &epochs.to_string(),
                ])
                .arg(dir.path())
                .args(files)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
        })
        .collect::<Result<Vec<_>, _>>()?;
    for (i, child) in children.into_iter().enumerate() {
        let out = child.wait_with_output()?;
        print!("{}", String::from_utf8_lossy(&out.stdout));
        if !out.status.success() {
            return Err(format!("{}: {}", NAMES[i], String::from_utf8_lossy(&out.stderr)).into());
        }
    }
    Ok(())
}

/// One party process: `party INDEX PORTS EPOCHS DIR [GUEST HOST]`.
fn quic_party(args: &[String]) -> Result<(), Error> {
    let [index, ports, epochs, dir, files @ ..] = args else {
        return Err("usage: party INDEX PORTS EPOCHS DIR [GUEST HOST]".into());
    };
    let me: usize = index.parse()?;
    let d = load(files)?;
    let p = params(epochs.parse()?);
    let addrs: Vec<PartyAddr> = ports
        .split(',')
        .zip(NAMES)
        .map(|(port, name)| {
            Ok(PartyAddr {
                name: name.to_string(),
                addr: format!("127.0.0.1:{port}").parse::<SocketAddr>()?,
            })
        })
        .collect::<Result<_, Error>>()?;
    let identity = Identity::load(&Path::new(dir).join(NAMES[me]))?;
    let trusted = NAMES
        .iter()
        .filter(|&&n| n != NAMES[me])
        .map(|n| Identity::load(&Path::new(dir).join(n)).map(|id| id.trusted_entry()))
        .collect::<Result<Vec<_>, _>>()?;
    let endpoint = Endpoint::bind(&identity, addrs[me].addr, trusted, Limits::default())?;
    let mut parties = mesh(&endpoint, me, &addrs)?;
    let start = Instant::now();
    let (w, b, sent) = party(&mut parties, &d, &p)?;
    let secs = start.elapsed().as_secs_f64();
    println!("{}: {secs:.3} s, sent {sent} bytes", NAMES[me]);
    // The host hands its weights to the guest for the evaluation below
    // (an evaluation shortcut of this example, not part of the protocol).
    let host_w: Vec<f64> = match me {
        1 => {
            let bytes: Vec<u8> = w.iter().flat_map(|v| v.to_le_bytes()).collect();
            parties.channel(0)?.send(&bytes)?;
            Vec::new()
        }
        0 => parties
            .channel(1)?
            .recv()?
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().unwrap_or_default()))
            .collect(),
        _ => Vec::new(),
    };
    if me == 0 {
        let mut all = w;
        all.extend(host_w);
        report(&d, &p, &all, b.unwrap_or(0.0), secs)?;
    }
    for j in parties.others().collect::<Vec<_>>() {
        parties.channel(j)?.send(b"done")?;
    }
    for j in parties.others().collect::<Vec<_>>() {
        parties.channel(j)?.recv()?;
    }
    Ok(())
}
