//! The `Channel` abstraction: framed, ordered, blocking messages to one peer.

use crate::NetError;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Limits that every backend enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The largest frame accepted from a peer, in bytes. A larger length
    /// prefix is an error before anything is allocated.
    pub max_frame: usize,
    /// How long `recv` waits for a frame before it fails.
    pub recv_timeout: Duration,
    /// How long one handshake (one connection attempt, or one incoming
    /// connection being admitted) may take. Connecting retries attempts
    /// until `recv_timeout` has passed.
    pub connect_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_frame: 64 << 20,
            recv_timeout: Duration::from_secs(120),
            connect_timeout: Duration::from_secs(5),
        }
    }
}

/// Bytes moved on a link, frame headers included.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Bytes sent to the peer.
    pub sent: u64,
    /// Bytes received from the peer.
    pub received: u64,
}

impl std::ops::Add for Counters {
    type Output = Counters;
    fn add(self, o: Counters) -> Counters {
        Counters {
            sent: self.sent + o.sent,
            received: self.received + o.received,
        }
    }
}

/// Shared byte counters for one link: the channel updates them, benchmarks
/// and the audit log read them.
#[derive(Debug, Default)]
pub struct ByteCounter {
    sent: AtomicU64,
    received: AtomicU64,
}

impl ByteCounter {
    /// A fresh counter, shareable between the channel and its readers.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }
    /// Records `n` bytes sent.
    pub fn add_sent(&self, n: u64) {
        self.sent.fetch_add(n, Ordering::Relaxed);
    }
    /// Records `n` bytes received.
    pub fn add_received(&self, n: u64) {
        self.received.fetch_add(n, Ordering::Relaxed);
    }
    /// A snapshot of both counters.
    pub fn get(&self) -> Counters {
        Counters {
            sent: self.sent.load(Ordering::Relaxed),
            received: self.received.load(Ordering::Relaxed),
        }
    }
}

/// Bytes of the length prefix that byte-stream backends put before every
/// frame (a little-endian u64). Counters include it on every backend.
pub const FRAME_HEADER: usize = 8;

/// A framed, ordered, blocking link to one peer.
///
/// `send` returns once the frame is queued (it may block while the peer's
/// flow-control window is full); `recv` blocks until a whole frame arrives,
/// the peer goes away, or the receive timeout expires.
pub trait Channel: Send {
    /// Sends one frame.
    fn send(&mut self, frame: &[u8]) -> Result<(), NetError>;
    /// Receives the next frame.
    fn recv(&mut self) -> Result<Vec<u8>, NetError>;
    /// The peer's name, as established by the backend (for QUIC: from the
    /// verified certificate).
    fn peer(&self) -> &str;
    /// Bytes moved on this link so far.
    fn counters(&self) -> Counters;
}

impl<C: Channel + ?Sized> Channel for Box<C> {
    fn send(&mut self, frame: &[u8]) -> Result<(), NetError> {
        (**self).send(frame)
    }
    fn recv(&mut self) -> Result<Vec<u8>, NetError> {
        (**self).recv()
    }
    fn peer(&self) -> &str {
        (**self).peer()
    }
    fn counters(&self) -> Counters {
        (**self).counters()
    }
}

impl<C: Channel + ?Sized> Channel for &mut C {
    fn send(&mut self, frame: &[u8]) -> Result<(), NetError> {
        (**self).send(frame)
    }
    fn recv(&mut self) -> Result<Vec<u8>, NetError> {
        (**self).recv()
    }
    fn peer(&self) -> &str {
        (**self).peer()
    }
    fn counters(&self) -> Counters {
        (**self).counters()
    }
}
