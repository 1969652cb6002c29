//! QUIC against TCP + TLS 1.3 on one path, in the same run, with the ratio.
//!
//! Both links carry the same one-way transfer (1 MiB frames, 256 MiB a
//! round by default) between two threads of this process, alternating
//! round by round so that both see the same machine load. Each round also
//! gives the CPU time the process used (all threads, user and system),
//! which moves less with the load than the wall time. The QUIC link prints
//! its datagram size, datagrams per send system call (segmentation offload
//! at work when above 1) and its losses.
//!
//! Real packet sizes: run it in a network namespace whose loopback has a
//! 1500-byte MTU (as root; docs/benchmarks.md has the exact commands):
//!
//!     ip netns add indomain-a
//!     ip -n indomain-a link set lo mtu 1500 up
//!     ip netns exec indomain-a target/release/examples/quic_vs_tls
//!     ip netns del indomain-a
//!
//! Options: `--addr IP` (default 127.0.0.1), `--rounds N` (5), `--mib N`
//! (256), `--datagram BYTES` (a known datagram size instead of the one
//! read from the loopback MTU).
//!
//!     cargo run --release --example quic_vs_tls

#[path = "../benches/common/links.rs"]
mod links;

use indomain::net::quic::{DatagramSize, PathStats};
use links::{framed, quic_pair, tls_pair, transfer};
use std::net::IpAddr;
use std::time::Instant;

const FRAME: usize = 1 << 20;

struct Options {
    addr: IpAddr,
    rounds: usize,
    frames: usize,
    datagrams: DatagramSize,
}

fn options() -> Result<Options, String> {
    let mut o = Options {
        addr: IpAddr::from([127, 0, 0, 1]),
        rounds: 5,
        frames: 256,
        datagrams: DatagramSize::Auto,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let bad = |e: &dyn std::fmt::Display| format!("{flag} {value}: {e}");
        match flag.as_str() {
            "--addr" => o.addr = value.parse().map_err(|e| bad(&e))?,
            "--rounds" => o.rounds = value.parse().map_err(|e| bad(&e))?,
            "--mib" => o.frames = value.parse().map_err(|e| bad(&e))?,
            "--datagram" => o.datagrams = DatagramSize::Known(value.parse().map_err(|e| bad(&e))?),
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    Ok(o)
}

fn mib_per_s(bytes: usize, seconds: f64) -> f64 {
    bytes as f64 / (1 << 20) as f64 / seconds
}

fn per_call(datagrams: u64, calls: u64) -> f64 {
    datagrams as f64 / calls.max(1) as f64
}

fn main() {
    let o = match options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let frame = vec![0x5a_u8; FRAME];
    let bytes = FRAME * o.frames;
    let (_a, _b, mut quic_tx, mut quic_rx) = quic_pair(o.addr, o.datagrams);
    let (client, server) = tls_pair(o.addr);
    let (mut tls_tx, mut tls_rx) = (framed(client, "server"), framed(server, "client"));
    let mtu = std::fs::read_to_string("/sys/class/net/lo/mtu").unwrap_or_default();
    println!(
        "path {} (loopback MTU {}), {} MiB a round, {:?}",
        o.addr,
        mtu.trim(),
        o.frames,
        o.datagrams
    );

    let mut ratios = Vec::new();
    for round in 1..=o.rounds {
        let before = quic_tx.path_stats();
        let (start, cpu) = (Instant::now(), cpu_seconds());
        transfer(&mut quic_tx, &mut quic_rx, &frame, o.frames);
        let quic = mib_per_s(bytes, start.elapsed().as_secs_f64());
        let quic_cpu = cpu_seconds() - cpu;
        let after = quic_tx.path_stats();

        let (start, cpu) = (Instant::now(), cpu_seconds());
        transfer(&mut tls_tx, &mut tls_rx, &frame, o.frames);
        let tls = mib_per_s(bytes, start.elapsed().as_secs_f64());
        let tls_cpu = cpu_seconds() - cpu;

        ratios.push(quic / tls);
        println!(
            "round {round}: QUIC {quic:.0} MiB/s ({quic_cpu:.2} CPU-s), TCP+TLS 1.3 {tls:.0} MiB/s \
             ({tls_cpu:.2} CPU-s), ratio {:.2} | {}",
            quic / tls,
            describe(&before, &after)
        );
    }
    ratios.sort_by(f64::total_cmp);
    println!(
        "median QUIC / TCP+TLS 1.3: {:.2} (min {:.2}, max {:.2})",
        ratios[ratios.len() / 2],
        ratios[0],
        ratios[ratios.len() - 1]
    );
}

/// The CPU time this process has used (user and system, all threads),
/// from /proc; 0 where there is none.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command name (which may hold spaces): utime and
    // stime are the 12th and 13th, in clock ticks of 1/100 s on Linux.
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// One round's QUIC packet figures at the sender: datagrams, datagrams per
/// send call, losses.
fn describe(before: &PathStats, after: &PathStats) -> String {
    let sent = after.datagrams_sent - before.datagrams_sent;
    let sends = after.send_calls - before.send_calls;
    format!(
        "datagram {} B, {sent} sent, {:.1}/send call, {} lost, {} congestion events, cwnd {} KiB",
        after.datagram_size,
        per_call(sent, sends),
        after.lost_packets - before.lost_packets,
        after.congestion_events - before.congestion_events,
        after.congestion_window >> 10
    )
}
