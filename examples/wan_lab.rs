//! Jobs over an emulated wide-area network: real QUIC endpoints on
//! loopback, every link through an `indomain_net::wanlab` relay that adds
//! delay, a bandwidth cap and loss. Every party runs in this process (a
//! thread each, each with its own endpoint and runtime).
//!
//!     cargo run --release --example wan_lab -- psi --items 1048576 --rtt 50ms --rate 100mbit
//!     cargo run --release --example wan_lab -- stats --rows 1000000 --rtt 50ms --rate 100mbit
//!
//! `psi`: ECDH PSI (intersection, revealed to both) between two parties of
//! `--items` keys each, half of them shared. `stats`: three parties of
//! `--rows` rows each compute the mean of two columns over four groups;
//! party 0 receives it. Options: `--rtt`, `--rate`, `--loss` (a fraction).

use indomain_aggregate::stats::{LocalData, Statistic, StatsJob, run_statistics};
use indomain_net::quic::{Endpoint, Identity, QuicChannel};
use indomain_net::wanlab::{Link, Relay};
use indomain_net::{Channel, Counters, Limits, PartySet};
use indomain_psi::{Items, Job, Mode, Reveal, ecdh};
use std::time::{Duration, Instant};

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

fn psi(items: usize, link: Link) -> Result<(), Error> {
    let (alice, bob) = (Identity::generate("alice")?, Identity::generate("bob")?);
    let (a, b) = (endpoint(&alice, &[&bob])?, endpoint(&bob, &[&alice])?);
    let (mut to_bob, mut to_alice, relay) = link_up(&a, &b, link)?;
    let keys = |offset: usize| {
        let mut set = Items::new();
        (offset..offset + items).for_each(|i| set.push_columns(&[format!("cust-{i:09}")]));
        set
    };
    let (sender_keys, receiver_keys) = (keys(0), keys(items / 2));
    let mut job = Job::new(Mode::Intersection);
    job.reveal = Reveal::Both;
    let start = Instant::now();
    let (sent, received) = std::thread::scope(|s| {
        let sender = s.spawn(|| {
            ecdh::sender(
                &mut to_bob,
                &job,
                &sender_keys,
                None,
                &mut rand::rng(),
                &mut |_| {},
            )
        });
        let receiver = s.spawn(|| {
            ecdh::receiver(
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
    report("ECDH PSI", items, elapsed, to_alice.counters(), &relay);
    Ok(())
}

fn stats(rows: usize, link: Link) -> Result<(), Error> {
    let names = ["a", "b", "c"];
    let ids = names
        .iter()
        .map(|n| Identity::generate(n))
        .collect::<Result<Vec<_>, _>>()?;
    let endpoints = (0..3)
        .map(|i| {
            let others: Vec<&Identity> = (0..3).filter(|&j| j != i).map(|j| &ids[j]).collect();
            endpoint(&ids[i], &others)
        })
        .collect::<Result<Vec<_>, _>>()?;
    // One relay per pair; the later party connects to the earlier one.
    let mut links: Vec<Vec<Option<Box<dyn Channel>>>> =
        (0..3).map(|_| (0..3).map(|_| None).collect()).collect();
    let mut relays = Vec::new();
    for j in 1..3 {
        for i in 0..j {
            let (at_i, at_j, relay) = link_up(&endpoints[i], &endpoints[j], link)?;
            links[i][j] = Some(Box::new(at_i));
            links[j][i] = Some(Box::new(at_j));
            relays.push(relay);
        }
    }
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
    let mut sets: Vec<PartySet> = links
        .into_iter()
        .enumerate()
        .map(|(me, l)| PartySet::new(me, names.map(String::from).to_vec(), l))
        .collect();
    let start = Instant::now();
    let results = std::thread::scope(|s| {
        let handles: Vec<_> = sets
            .iter_mut()
            .zip(&data)
            .map(|(set, rows)| {
                let job = &job;
                s.spawn(move || run_statistics(set, job, rows, &mut rand::rng(), &mut |_| {}))
            })
            .collect();
        handles.into_iter().map(|h| h.join()).collect::<Vec<_>>()
    });
    let elapsed = start.elapsed();
    for r in results {
        r.map_err(|_| "a party panicked")??;
    }
    let bytes = sets
        .iter()
        .fold(Counters::default(), |acc, s| acc + s.counters());
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
        Some("psi") => psi(flag("--items").unwrap_or("65536").parse()?, link),
        Some("stats") => stats(flag("--rows").unwrap_or("100000").parse()?, link),
        _ => Err("usage: wan_lab (psi --items N | stats --rows N) [--rtt 50ms] [--rate 100mbit] [--loss 0.01]".into()),
    }
}
