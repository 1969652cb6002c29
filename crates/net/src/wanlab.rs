//! A WAN lab on loopback: a UDP relay that puts a wide-area link between
//! two parties on one machine — one-way delay, a bandwidth cap with a
//! router-like queue, and random loss — for benchmarks and examples (this
//! machine's kernel has no netem).
//!
//! The relay listens on its own address; the connecting party dials it
//! instead of the listening party, and the relay forwards each datagram to
//! the other side after the delay the link would add. Each direction is
//! shaped on its own: a packet waits until the link has sent the packets
//! queued before it (`size · 8 / rate` each), then travels for half the
//! round-trip time. A packet that would wait longer than the queue allows
//! is dropped (tail drop), as is a random fraction `loss`.
//!
//! What a party learns through the relay is exactly what it would learn
//! directly: the relay only delays, reorders nothing and drops packets.

use std::collections::VecDeque;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// The link a [`Relay`] emulates (the same in both directions).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Link {
    /// Round-trip time added (half in each direction).
    pub rtt: Duration,
    /// Bandwidth of each direction, in bits per second.
    pub rate_bps: u64,
    /// Fraction of packets dropped at random, in [0, 1).
    pub loss: f64,
    /// The longest a packet may wait for the link before it is dropped.
    pub queue: Duration,
}

impl Link {
    /// The network SecretFlow's published benchmarks use: 100 Mbit/s,
    /// 50 ms round trip, no random loss, a queue of one round trip.
    pub fn wan_100mbit_50ms() -> Link {
        Link {
            rtt: Duration::from_millis(50),
            rate_bps: 100_000_000,
            loss: 0.0,
            queue: Duration::from_millis(50),
        }
    }

    /// Parses `"50ms"`, `"0.05s"` or `"2s"`.
    pub fn parse_duration(text: &str) -> Option<Duration> {
        let (number, scale) = if let Some(n) = text.strip_suffix("ms") {
            (n, 1e-3)
        } else if let Some(n) = text.strip_suffix("us") {
            (n, 1e-6)
        } else {
            (text.strip_suffix('s')?, 1.0)
        };
        let secs = number.trim().parse::<f64>().ok()? * scale;
        Duration::try_from_secs_f64(secs).ok()
    }

    /// Parses `"100mbit"`, `"1gbit"`, `"500kbit"` or a plain number of
    /// bits per second.
    pub fn parse_rate(text: &str) -> Option<u64> {
        let lower = text.to_ascii_lowercase();
        let (number, scale) = [("gbit", 1e9), ("mbit", 1e6), ("kbit", 1e3), ("bit", 1.0)]
            .iter()
            .find_map(|(suffix, scale)| lower.strip_suffix(suffix).map(|n| (n, *scale)))
            .unwrap_or((lower.as_str(), 1.0));
        let rate = number.trim().parse::<f64>().ok()? * scale;
        (rate >= 1.0 && rate.is_finite()).then_some(rate as u64)
    }
}

/// Bytes moved through a relay, per direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RelayStats {
    /// Datagrams forwarded from the client to the server.
    pub up_packets: u64,
    /// Datagrams forwarded from the server to the client.
    pub down_packets: u64,
    /// Datagrams dropped (queue full or random loss), both directions.
    pub dropped: u64,
}

/// A running relay between one client (whoever sends to [`Relay::addr`]
/// first) and one server. Stopped when dropped.
pub struct Relay {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    stats: Arc<Mutex<RelayStats>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

/// A datagram in flight and when it leaves the relay.
struct Flight {
    due: Instant,
    bytes: Vec<u8>,
}

/// One direction's queue, shared by its receiving and sending threads.
#[derive(Default)]
struct Pipe {
    queue: Mutex<VecDeque<Flight>>,
    ready: Condvar,
}

/// How often blocked threads look at the stop flag.
const POLL: Duration = Duration::from_millis(50);

impl Relay {
    /// Starts a relay on `bind` (port 0 picks one) that forwards to
    /// `server` over `link`.
    pub fn start(bind: SocketAddr, server: SocketAddr, link: Link) -> io::Result<Relay> {
        if !(0.0..1.0).contains(&link.loss) || link.rate_bps == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("unusable link {link:?}"),
            ));
        }
        let front = Arc::new(UdpSocket::bind(bind)?);
        let back_bind: SocketAddr = match server {
            SocketAddr::V4(_) => ([0, 0, 0, 0], 0).into(),
            SocketAddr::V6(_) => (std::net::Ipv6Addr::UNSPECIFIED, 0).into(),
        };
        let back = Arc::new(UdpSocket::bind(back_bind)?);
        back.connect(server)?;
        for socket in [&front, &back] {
            socket.set_read_timeout(Some(POLL))?;
        }
        let addr = front.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(Mutex::new(RelayStats::default()));
        let client: Arc<Mutex<Option<SocketAddr>>> = Arc::new(Mutex::new(None));
        let (up, down) = (Arc::new(Pipe::default()), Arc::new(Pipe::default()));
        let mut threads = Vec::new();
        let spawn = |name: &str, f: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new()
                .name(format!("wanlab-{name}"))
                .spawn(f)
        };
        // Client → relay → server.
        {
            let (front, up, stop, stats, client) = (
                front.clone(),
                up.clone(),
                stop.clone(),
                stats.clone(),
                client.clone(),
            );
            threads.push(spawn(
                "up-in",
                Box::new(move || {
                    let mut shaper = Shaper::new(link, 1);
                    let mut buf = vec![0u8; 65536];
                    while !stop.load(Ordering::Relaxed) {
                        let Ok((n, from)) = front.recv_from(&mut buf) else {
                            continue;
                        };
                        if let Ok(mut c) = client.lock() {
                            c.get_or_insert(from);
                        }
                        shaper.admit(&up, &buf[..n], &stats, true);
                    }
                }),
            )?);
        }
        {
            let (back, up, stop) = (back.clone(), up.clone(), stop.clone());
            threads.push(spawn(
                "up-out",
                Box::new(move || deliver(&up, &stop, |b| back.send(b).map(drop))),
            )?);
        }
        // Server → relay → client.
        {
            let (back, down, stop, stats) =
                (back.clone(), down.clone(), stop.clone(), stats.clone());
            threads.push(spawn(
                "down-in",
                Box::new(move || {
                    let mut shaper = Shaper::new(link, 2);
                    let mut buf = vec![0u8; 65536];
                    while !stop.load(Ordering::Relaxed) {
                        let Ok(n) = back.recv(&mut buf) else {
                            continue;
                        };
                        shaper.admit(&down, &buf[..n], &stats, false);
                    }
                }),
            )?);
        }
        {
            let (front, down, stop) = (front.clone(), down.clone(), stop.clone());
            threads.push(spawn(
                "down-out",
                Box::new(move || {
                    deliver(&down, &stop, |b| {
                        let to = client.lock().ok().and_then(|c| *c);
                        match to {
                            Some(to) => front.send_to(b, to).map(drop),
                            None => Ok(()),
                        }
                    })
                }),
            )?);
        }
        Ok(Relay {
            addr,
            stop,
            stats,
            threads,
        })
    }

    /// Where the client should connect instead of the server.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Datagrams forwarded and dropped so far.
    pub fn stats(&self) -> RelayStats {
        self.stats.lock().map(|s| *s).unwrap_or_default()
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay")
            .field("addr", &self.addr)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// One direction's link: when the link is next free, and the loss dice.
struct Shaper {
    link: Link,
    free_at: Instant,
    /// xorshift64 state: loss needs no cryptographic randomness.
    dice: u64,
}

impl Shaper {
    fn new(link: Link, seed: u64) -> Self {
        Self {
            link,
            free_at: Instant::now(),
            dice: 0x9e37_79b9_7f4a_7c15 ^ seed,
        }
    }

    fn lost(&mut self) -> bool {
        if self.link.loss == 0.0 {
            return false;
        }
        self.dice ^= self.dice << 13;
        self.dice ^= self.dice >> 7;
        self.dice ^= self.dice << 17;
        ((self.dice >> 11) as f64 / (1u64 << 53) as f64) < self.link.loss
    }

    /// Queues `bytes` for delivery when the link would deliver it, or drops
    /// it.
    fn admit(&mut self, pipe: &Pipe, bytes: &[u8], stats: &Mutex<RelayStats>, up: bool) {
        let now = Instant::now();
        let start = self.free_at.max(now);
        let drop = start - now > self.link.queue || self.lost();
        if let Ok(mut s) = stats.lock() {
            match (drop, up) {
                (true, _) => s.dropped += 1,
                (false, true) => s.up_packets += 1,
                (false, false) => s.down_packets += 1,
            }
        }
        if drop {
            return;
        }
        let wire = Duration::from_secs_f64(bytes.len() as f64 * 8.0 / self.link.rate_bps as f64);
        self.free_at = start + wire;
        let due = self.free_at + self.link.rtt / 2;
        if let Ok(mut q) = pipe.queue.lock() {
            q.push_back(Flight {
                due,
                bytes: bytes.to_vec(),
            });
            pipe.ready.notify_one();
        }
    }
}

/// Sends each queued datagram when it is due (the queue is in due order:
/// one link, one delay).
fn deliver(pipe: &Pipe, stop: &AtomicBool, mut send: impl FnMut(&[u8]) -> io::Result<()>) {
    while !stop.load(Ordering::Relaxed) {
        let next = {
            let Ok(mut q) = pipe.queue.lock() else {
                return;
            };
            if q.is_empty() {
                let Ok((guard, _)) = pipe.ready.wait_timeout(q, POLL) else {
                    return;
                };
                q = guard;
            }
            match q.front() {
                Some(f) if f.due <= Instant::now() => q.pop_front(),
                _ => None,
            }
        };
        match next {
            // A send error (the other side is gone) only loses the packet.
            Some(flight) => drop(send(&flight.bytes)),
            None => {
                let wait = pipe
                    .queue
                    .lock()
                    .ok()
                    .and_then(|q| q.front().map(|f| f.due))
                    .map(|due| due.saturating_duration_since(Instant::now()).min(POLL));
                if let Some(wait) = wait {
                    std::thread::sleep(wait);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_specs_parse() {
        assert_eq!(
            Link::parse_duration("50ms"),
            Some(Duration::from_millis(50))
        );
        assert_eq!(
            Link::parse_duration("0.5s"),
            Some(Duration::from_millis(500))
        );
        assert_eq!(Link::parse_duration("fast"), None);
        assert_eq!(Link::parse_rate("100mbit"), Some(100_000_000));
        assert_eq!(Link::parse_rate("1Gbit"), Some(1_000_000_000));
        assert_eq!(Link::parse_rate("0"), None);
    }

    #[test]
    fn datagrams_cross_with_the_delay_and_both_ways() {
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        let link = Link {
            rtt: Duration::from_millis(40),
            rate_bps: 10_000_000,
            loss: 0.0,
            queue: Duration::from_millis(100),
        };
        let relay = Relay::start(
            "127.0.0.1:0".parse().unwrap(),
            server.local_addr().unwrap(),
            link,
        )
        .unwrap();
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        server
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let sent = Instant::now();
        client.send_to(b"ping", relay.addr()).unwrap();
        let mut buf = [0u8; 16];
        let (n, via) = server.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"ping");
        server.send_to(b"pong", via).unwrap();
        let n = client.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"pong");
        // Causality, not speed: a round trip cannot beat the emulated one.
        assert!(sent.elapsed() >= link.rtt);
        assert_eq!(
            relay.stats(),
            RelayStats {
                up_packets: 1,
                down_packets: 1,
                dropped: 0
            }
        );
    }

    #[test]
    fn a_full_queue_drops_instead_of_growing() {
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        // 1 Mbit/s and a 10 ms queue hold about one 1000-byte datagram.
        let link = Link {
            rtt: Duration::from_millis(2),
            rate_bps: 1_000_000,
            loss: 0.0,
            queue: Duration::from_millis(10),
        };
        let relay = Relay::start(
            "127.0.0.1:0".parse().unwrap(),
            server.local_addr().unwrap(),
            link,
        )
        .unwrap();
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        for _ in 0..50 {
            client.send_to(&[0u8; 1000], relay.addr()).unwrap();
        }
        std::thread::sleep(Duration::from_millis(300));
        let stats = relay.stats();
        assert_eq!(stats.up_packets + stats.dropped, 50);
        assert!(stats.dropped >= 40, "{stats:?}");
    }
}
