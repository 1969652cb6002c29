//! Criterion benches: channel throughput on loopback.
//!
//! The same transfer (1 MiB frames, 256 MiB an iteration, one direction,
//! with the 8-byte length prefix on every frame) over three links in the
//! same run, so that their ratios are meaningful on a noisy machine:
//!
//! - `quic`: indomain's QUIC channel (quinn + rustls, TLS 1.3, mutual
//!   authentication by pinned fingerprints);
//! - `quic_network_path`: the same, through this machine's non-loopback
//!   address, so with the datagram sizes of a real network path;
//! - `tcp_tls13`: rustls TLS 1.3 over a blocking `TcpStream`
//!   (`rustls::StreamOwned`), the same crypto provider and cipher suites;
//! - `tcp`: plain TCP, the ceiling of loopback.
//!
//!     cargo bench --bench net
//!
//! `examples/quic_vs_tls.rs` measures QUIC against TCP + TLS on a path
//! with real packet sizes (a network namespace's 1500-MTU loopback).

#[path = "common/links.rs"]
mod links;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use indomain_net::quic::DatagramSize;
use links::{framed, quic_pair, tcp_pair, tls_pair, transfer};
use std::net::{IpAddr, Ipv4Addr, UdpSocket};
use std::time::Duration;

const FRAME: usize = 1 << 20;
const FRAMES: usize = 256;

/// This machine's address on its default route, if it has one (no packet
/// is sent to find it).
fn own_network_address() -> Option<IpAddr> {
    let probe = UdpSocket::bind("0.0.0.0:0").ok()?;
    probe.connect("192.0.2.1:9").ok()?;
    Some(probe.local_addr().ok()?.ip()).filter(|ip| !ip.is_loopback() && !ip.is_unspecified())
}

fn channel_throughput(c: &mut Criterion) {
    let frame = vec![0x5a_u8; FRAME];
    let mut group = c.benchmark_group("channel_1MiB_frames");
    group.throughput(Throughput::Bytes((FRAME * FRAMES) as u64));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));

    let (_a, _b, mut tx, mut rx) = quic_pair(Ipv4Addr::LOCALHOST.into(), DatagramSize::Auto);
    group.bench_function("quic", |b| {
        b.iter(|| transfer(&mut tx, &mut rx, &frame, FRAMES))
    });
    drop((_a, _b, tx, rx));

    // The same machine through its own non-loopback address: the kernel
    // still short-cuts the packets, but the endpoint uses the settings of a
    // real network path (1452-byte datagrams at most).
    if let Some(ip) = own_network_address() {
        let (_a, _b, mut tx, mut rx) = quic_pair(ip, DatagramSize::Auto);
        group.bench_function("quic_network_path", |b| {
            b.iter(|| transfer(&mut tx, &mut rx, &frame, FRAMES))
        });
    }

    let (client, server) = tls_pair(Ipv4Addr::LOCALHOST.into());
    let (mut tx, mut rx) = (framed(client, "server"), framed(server, "client"));
    group.bench_function("tcp_tls13", |b| {
        b.iter(|| transfer(&mut tx, &mut rx, &frame, FRAMES))
    });

    let (client, server) = tcp_pair(Ipv4Addr::LOCALHOST.into());
    let (mut tx, mut rx) = (framed(client, "server"), framed(server, "client"));
    group.bench_function("tcp", |b| {
        b.iter(|| transfer(&mut tx, &mut rx, &frame, FRAMES))
    });
    group.finish();
}

criterion_group!(benches, channel_throughput);
criterion_main!(benches);
