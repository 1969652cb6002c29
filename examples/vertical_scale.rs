//! Vertical logistic regression at scale on generated data: ROWS × COLS
//! features split over PARTIES data parties (party 0 also holds the
//! labels) plus a dealer, one process each over QUIC with mutual TLS on
//! loopback. Each party generates only its own columns. Reports, per
//! party, the time from a connected mesh to trained weights, the CPU
//! seconds it spent meanwhile (user + system), the bytes it sent, and its
//! peak resident memory (VmHWM).
//!
//!     cargo run --release --example vertical_scale -- 1000000 100 2 3
//!                                                  ROWS    COLS PARTIES EPOCHS
//!     cargo run --release --example vertical_scale -- 1000000 100 2 3 two-party
//!
//! With `two-party` (and 2 data parties) there is no dealer: the two
//! generate their correlations themselves (`indomain_mpc::TwoParty`).
//!
//! Runs 1 epoch, then EPOCHS: the difference divided by EPOCHS − 1 is the
//! per-epoch cost, the rest the one-time cost (masking and opening every
//! party's columns once).

use indomain::learn::align::Roles;
use indomain::learn::vertical;
use indomain::learn::{Task, TrainParams};
use indomain::ndarray::Array2;
use indomain::net::Limits;
use indomain::net::quic::{Endpoint, Identity, PartyAddr, mesh};
use indomain::rand;
use indomain::rand::rngs::StdRng;
use indomain::rand::{RngExt, SeedableRng};
use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

type Error = Box<dyn std::error::Error + Send + Sync>;

fn names(parties: usize, dealer: bool) -> Vec<String> {
    (0..parties)
        .map(|i| format!("p{i}"))
        .chain(dealer.then(|| "dealer".to_string()))
        .collect()
}

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("party") {
        return party(&args[1..]);
    }
    let num = |i: usize, default: usize| args.get(i).map_or(Ok(default), |a| a.parse());
    let (rows, cols, parties, epochs) = (num(0, 1_000_000)?, num(1, 100)?, num(2, 2)?, num(3, 3)?);
    let dealer = args.get(4).map(String::as_str) != Some("two-party");
    let names = names(parties, dealer);
    let dir = tempfile::tempdir()?;
    for name in &names {
        Identity::generate(name)?.save(&dir.path().join(name))?;
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "{rows} rows × {cols} features over {parties} data parties {}, QUIC on loopback; load {}",
        if dealer {
            "+ dealer"
        } else {
            "(two-party, no dealer)"
        },
        load.trim()
    );
    for e in [1, epochs] {
        let ports: Vec<String> = names
            .iter()
            .map(|_| {
                Ok(UdpSocket::bind("127.0.0.1:0")?
                    .local_addr()?
                    .port()
                    .to_string())
            })
            .collect::<Result<_, std::io::Error>>()?;
        let exe = std::env::current_exe()?;
        let children = (0..names.len())
            .map(|i| {
                Command::new(&exe)
                    .arg("party")
                    .args([i, rows, cols, parties, e, dealer as usize].map(|v| v.to_string()))
                    .arg(ports.join(","))
                    .arg(dir.path())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
            })
            .collect::<Result<Vec<_>, _>>()?;
        for (i, child) in children.into_iter().enumerate() {
            let out = child.wait_with_output()?;
            print!("epochs={e} {}", String::from_utf8_lossy(&out.stdout));
            eprint!("{}", String::from_utf8_lossy(&out.stderr));
            if !out.status.success() {
                return Err(
                    format!("{}: {}", names[i], String::from_utf8_lossy(&out.stderr)).into(),
                );
            }
        }
    }
    Ok(())
}

/// User + system CPU seconds of this process so far (0 where /proc is
/// missing).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name: utime and stime are the 12th and
    // 13th, in clock ticks of 1/100 s.
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok());
    ticks(11)
        .zip(ticks(12))
        .map_or(0.0, |(u, s)| (u + s) / 100.0)
}

fn peak_memory() -> String {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmHWM"))
        .map(|l| l.split_whitespace().skip(1).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// One party: `party INDEX ROWS COLS PARTIES EPOCHS DEALER PORTS DIR`.
fn party(args: &[String]) -> Result<(), Error> {
    let [index, rows, cols, parties, epochs, with_dealer, ports, dir] = args else {
        return Err("usage: party INDEX ROWS COLS PARTIES EPOCHS DEALER PORTS DIR".into());
    };
    let with_dealer = with_dealer == "1";
    let (me, rows, cols, parties, epochs): (usize, usize, usize, usize, usize) = (
        index.parse()?,
        rows.parse()?,
        cols.parse()?,
        parties.parse()?,
        epochs.parse()?,
    );
    let names = names(parties, with_dealer);
    // Without a dealer no index is the dealer's.
    let dealer = if with_dealer { parties } else { usize::MAX };
    // Columns split as evenly as possible; the dealer has none.
    let width = if me == dealer {
        0
    } else {
        cols / parties + usize::from(me < cols % parties)
    };
    let mut rng = StdRng::seed_from_u64(me as u64);
    let x = Array2::from_shape_fn((if me == dealer { 0 } else { rows }, width), |_| {
        rng.random_range(-2.0..2.0)
    });
    let y: Vec<f64> = (0..rows)
        .map(|i| {
            let z: f64 = if width > 0 { x[[i, 0]] } else { 0.0 };
            (rng.random::<f64>() < 1.0 / (1.0 + (-z).exp())) as u8 as f64
        })
        .collect();
    let y = (me == 0).then_some(y.as_slice());
    let addrs: Vec<PartyAddr> = ports
        .split(',')
        .zip(&names)
        .map(|(port, name)| {
            Ok(PartyAddr {
                name: name.clone(),
                addr: format!("127.0.0.1:{port}").parse::<SocketAddr>()?,
            })
        })
        .collect::<Result<_, Error>>()?;
    let identity = Identity::load(&Path::new(dir).join(&names[me]))?;
    let trusted = names
        .iter()
        .filter(|&n| *n != names[me])
        .map(|n| Identity::load(&Path::new(dir).join(n)).map(|id| id.trusted_entry()))
        .collect::<Result<Vec<_>, _>>()?;
    let endpoint = Endpoint::bind(&identity, addrs[me].addr, trusted, Limits::default())?;
    let mut set = mesh(&endpoint, me, &addrs)?;
    // A fixed number of gradient-descent epochs: the example measures the
    // cost of an epoch.
    let params = TrainParams {
        task: Task::Logistic,
        ..TrainParams::gradient_descent(epochs, 0.5)
    };
    let start = Instant::now();
    let cpu = cpu_seconds();
    let before = set.counters();
    let mut rng = StdRng::from_rng(&mut rand::rng());
    let roles = Roles::new(names.len(), 0, with_dealer.then_some(dealer))?;
    vertical::train(
        &mut set,
        &roles,
        x.view(),
        y,
        &params,
        &mut |_, _| {},
        &mut rng,
    )?;
    let secs = start.elapsed().as_secs_f64();
    let after = set.counters();
    println!(
        "{}: {secs:.2} s, cpu {:.2} s, sent {} bytes, received {} bytes, peak memory {}",
        names[me],
        cpu_seconds() - cpu,
        after.sent - before.sent,
        after.received - before.received,
        peak_memory()
    );
    for j in set.others().collect::<Vec<_>>() {
        set.channel(j)?.send(b"done")?;
    }
    for j in set.others().collect::<Vec<_>>() {
        set.channel(j)?.recv()?;
    }
    Ok(())
}
