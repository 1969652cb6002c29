//! The in-memory backend: channels between threads of one process.
//!
//! Used by unit tests and by researchers who run every party of a protocol
//! in one process (`std::thread::scope`, one thread a party). It enforces the
//! same frame limit and receive timeout as the network backends and counts
//! bytes the same way, so byte figures from in-process runs match the wire.

use crate::channel::{ByteCounter, Channel, Counters, FRAME_HEADER, Limits};
use crate::{NetError, PartySet};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};

/// One end of an in-memory link.
pub struct MemoryChannel {
    peer: String,
    tx: Sender<Vec<u8>>,
    rx: Receiver<Vec<u8>>,
    limits: Limits,
    counter: Arc<ByteCounter>,
}

/// A connected pair: the first end talks to `b` (and is named so), the
/// second to `a`.
pub fn pair(a: &str, b: &str) -> (MemoryChannel, MemoryChannel) {
    pair_with_limits(a, b, Limits::default())
}

/// A connected pair with explicit limits.
pub fn pair_with_limits(a: &str, b: &str, limits: Limits) -> (MemoryChannel, MemoryChannel) {
    let (tx_ab, rx_ab) = channel();
    let (tx_ba, rx_ba) = channel();
    let end_a = MemoryChannel {
        peer: b.to_string(),
        tx: tx_ab,
        rx: rx_ba,
        limits,
        counter: ByteCounter::new(),
    };
    let end_b = MemoryChannel {
        peer: a.to_string(),
        tx: tx_ba,
        rx: rx_ab,
        limits,
        counter: ByteCounter::new(),
    };
    (end_a, end_b)
}

/// A full mesh among `names`: element i is party i's [`PartySet`].
pub fn mesh(names: &[&str]) -> Vec<PartySet> {
    mesh_with_limits(names, Limits::default())
}

/// A full mesh with explicit limits.
pub fn mesh_with_limits(names: &[&str], limits: Limits) -> Vec<PartySet> {
    let n = names.len();
    let mut links: Vec<Vec<Option<Box<dyn Channel>>>> =
        (0..n).map(|_| (0..n).map(|_| None).collect()).collect();
    for i in 0..n {
        for j in i + 1..n {
            let (a, b) = pair_with_limits(names[i], names[j], limits);
            links[i][j] = Some(Box::new(a));
            links[j][i] = Some(Box::new(b));
        }
    }
    let owned: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    links
        .into_iter()
        .enumerate()
        .map(|(me, row)| PartySet::new(me, owned.clone(), row))
        .collect()
}

impl MemoryChannel {
    /// The shared counter of this end, for readers on other threads.
    pub fn counter(&self) -> Arc<ByteCounter> {
        self.counter.clone()
    }
}

impl Channel for MemoryChannel {
    fn send(&mut self, frame: &[u8]) -> Result<(), NetError> {
        self.tx.send(frame.to_vec()).map_err(|_| NetError::Closed {
            peer: self.peer.clone(),
        })?;
        self.counter.add_sent((frame.len() + FRAME_HEADER) as u64);
        Ok(())
    }

    fn recv(&mut self) -> Result<Vec<u8>, NetError> {
        let frame = self
            .rx
            .recv_timeout(self.limits.recv_timeout)
            .map_err(|e| match e {
                RecvTimeoutError::Timeout => NetError::Timeout {
                    peer: self.peer.clone(),
                    secs: self.limits.recv_timeout.as_secs_f64(),
                },
                RecvTimeoutError::Disconnected => NetError::Closed {
                    peer: self.peer.clone(),
                },
            })?;
        if frame.len() > self.limits.max_frame {
            return Err(NetError::FrameTooLarge {
                peer: self.peer.clone(),
                len: frame.len() as u64,
                max: self.limits.max_frame,
            });
        }
        self.counter
            .add_received((frame.len() + FRAME_HEADER) as u64);
        Ok(frame)
    }

    fn peer(&self) -> &str {
        &self.peer
    }

    fn counters(&self) -> Counters {
        self.counter.get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn frames_arrive_in_order_and_are_counted() {
        let (mut a, mut b) = pair("alice", "bob");
        assert_eq!(a.peer(), "bob");
        assert_eq!(b.peer(), "alice");
        a.send(b"one").unwrap();
        a.send(b"").unwrap();
        a.send(b"three").unwrap();
        assert_eq!(b.recv().unwrap(), b"one");
        assert_eq!(b.recv().unwrap(), b"");
        assert_eq!(b.recv().unwrap(), b"three");
        assert_eq!(a.counters().sent, 8 + 3 * FRAME_HEADER as u64);
        assert_eq!(b.counters().received, a.counters().sent);
    }

    #[test]
    fn silence_times_out_and_hang_up_closes() {
        let limits = Limits {
            recv_timeout: Duration::from_millis(20),
            ..Limits::default()
        };
        let (a, mut b) = pair_with_limits("alice", "bob", limits);
        assert!(matches!(b.recv(), Err(NetError::Timeout { peer, .. }) if peer == "alice"));
        drop(a);
        assert!(matches!(b.recv(), Err(NetError::Closed { peer }) if peer == "alice"));
    }

    #[test]
    fn oversized_frame_is_refused() {
        let limits = Limits {
            max_frame: 4,
            ..Limits::default()
        };
        let (mut a, mut b) = pair_with_limits("alice", "bob", limits);
        a.send(b"12345").unwrap();
        assert!(matches!(
            b.recv(),
            Err(NetError::FrameTooLarge { len: 5, max: 4, .. })
        ));
    }
}
