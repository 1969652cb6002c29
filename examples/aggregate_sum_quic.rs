//! Benchmark (a) of docs/benchmarks.md: a secure sum of 3 parties × N
//! values over QUIC on loopback, against the same 3 processes sending their
//! plaintext vectors to one node that adds them — in the same run.
//!
//!     cargo run --release --example aggregate_sum_quic            # N = 10^7, 3 repetitions
//!     cargo run --release --example aggregate_sum_quic -- 1000000 5
//!
//! The parent makes three identities and starts three copies of itself,
//! one per party; each party times from the moment its mesh is connected
//! to the moment the receiver (party 0) holds the sum, and the receiver's
//! time is the job's time. Per repetition the plaintext and the secure
//! runs alternate, so both see the same machine load.

use indomain::aggregate::sum::{OPEN_CHUNK, secure_sum, send_chunked};
use indomain::net::quic::{Endpoint, Identity, PartyAddr, mesh};
use indomain::net::wire::recv_u64s;
use indomain::net::{Limits, PartySet};
use indomain::rand;
use indomain::rand::rngs::StdRng;
use indomain::rand::{Rng, SeedableRng};
use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

const NAMES: [&str; 3] = ["p0", "p1", "p2"];

type Error = Box<dyn std::error::Error>;

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("party") {
        return party(&args[1..]);
    }
    let n: usize = args.first().map_or(Ok(10_000_000), |a| a.parse())?;
    let reps: usize = args.get(1).map_or(Ok(3), |a| a.parse())?;
    let dir = tempfile::tempdir()?;
    for name in NAMES {
        Identity::generate(name)?.save(&dir.path().join(name))?;
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "3 parties × {n} values over QUIC on loopback; load average at start: {}",
        load.trim()
    );
    let (mut plain, mut secure, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for rep in 0..reps {
        let p = run(dir.path(), n, "plain")?;
        let s = run(dir.path(), n, "secure")?;
        println!(
            "repetition {rep}: plaintext {p:.3} s, secure {s:.3} s, ratio {:.2}",
            s / p
        );
        plain.push(p);
        secure.push(s);
        ratios.push(s / p);
    }
    for v in [&mut plain, &mut secure, &mut ratios] {
        v.sort_by(f64::total_cmp);
    }
    let (p, s) = (plain[reps / 2], secure[reps / 2]);
    println!(
        "median: plaintext {p:.3} s, secure {s:.3} s; secure/plaintext: {:.2} (ratio of medians), {:.2} (median of the {reps} ratios)",
        s / p,
        ratios[reps / 2]
    );
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load average at end: {}", load.trim());
    Ok(())
}

/// Starts the three party processes and returns the receiver's time.
fn run(dir: &Path, n: usize, mode: &str) -> Result<f64, Error> {
    let ports: Vec<u16> = (0..3)
        .map(|_| Ok(UdpSocket::bind("127.0.0.1:0")?.local_addr()?.port()))
        .collect::<Result<_, std::io::Error>>()?;
    let ports = ports
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let exe = std::env::current_exe()?;
    let children = (0..3)
        .map(|i| {
            Command::new(&exe)
                .args(["party", &i.to_string(), mode, &n.to_string(), &ports])
                .arg(dir)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut receiver_time = None;
    for (i, out) in children.into_iter().enumerate() {
        let out = out.wait_with_output()?;
        if !out.status.success() {
            return Err(format!("party {i}: {}", String::from_utf8_lossy(&out.stderr)).into());
        }
        if i == 0 {
            receiver_time = Some(String::from_utf8(out.stdout)?.trim().parse::<f64>()?);
        }
    }
    receiver_time.ok_or_else(|| "no receiver time".into())
}

/// One party: `party INDEX MODE N PORTS DIR`.
fn party(args: &[String]) -> Result<(), Error> {
    let [index, mode, n, ports, dir] = args else {
        return Err("usage: party INDEX MODE N PORTS DIR".into());
    };
    let me: usize = index.parse()?;
    let n: usize = n.parse()?;
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
        .filter(|&&name| name != NAMES[me])
        .map(|name| Identity::load(&Path::new(dir).join(name)).map(|id| id.trusted_entry()))
        .collect::<Result<Vec<_>, _>>()?;
    let endpoint = Endpoint::bind(&identity, addrs[me].addr, trusted, Limits::default())?;
    let mut rng = StdRng::seed_from_u64(me as u64);
    let input: Vec<u64> = (0..n).map(|_| rng.next_u64()).collect();
    let mut parties = mesh(&endpoint, me, &addrs)?;
    let start = Instant::now();
    let sum = match mode.as_str() {
        "plain" => plain_sum(&mut parties, &input)?,
        "secure" => secure_sum(&mut parties, &input, &[0], &mut rand::rng())?,
        other => return Err(format!("unknown mode {other}").into()),
    };
    let elapsed = start.elapsed().as_secs_f64();
    if let Some(sum) = sum {
        // The receiver checks the result before reporting a time.
        let mut expected = vec![0u64; n];
        for p in 0..3 {
            let mut rng = StdRng::seed_from_u64(p);
            expected
                .iter_mut()
                .for_each(|e| *e = e.wrapping_add(rng.next_u64()));
        }
        if sum != expected {
            return Err("wrong sum".into());
        }
        println!("{elapsed}");
    }
    // Wait for every peer to finish before the endpoint closes.
    for j in parties.others().collect::<Vec<_>>() {
        parties.channel(j)?.send(b"done")?;
    }
    for j in parties.others().collect::<Vec<_>>() {
        parties.channel(j)?.recv()?;
    }
    Ok(())
}

/// The baseline: every party sends its plaintext vector to party 0, in the
/// same frames as the secure sum, and party 0 adds them block by block as
/// they arrive (as the secure receiver does).
fn plain_sum(parties: &mut PartySet, input: &[u64]) -> Result<Option<Vec<u64>>, Error> {
    if parties.me() != 0 {
        send_chunked(parties.channel(0)?, input)?;
        return Ok(None);
    }
    let mut sum = input.to_vec();
    for block in sum.chunks_mut(OPEN_CHUNK) {
        for j in [1, 2] {
            let theirs = recv_u64s(parties.channel(j)?, block.len())?;
            block
                .iter_mut()
                .zip(&theirs)
                .for_each(|(s, t)| *s = s.wrapping_add(*t));
        }
    }
    Ok(Some(sum))
}
