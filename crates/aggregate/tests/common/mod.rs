//! Test links: a channel that records every frame it receives, and one that
//! dies after a set number of sends.

#![allow(dead_code)]

use indomain_net::memory::pair;
use indomain_net::{Channel, Counters, NetError, PartySet};
use std::sync::{Arc, Mutex};

/// Every frame one party received, over all its links.
pub type Transcript = Arc<Mutex<Vec<Vec<u8>>>>;

/// A link that records what arrives and can be made to vanish.
pub struct TestLink {
    inner: Box<dyn Channel>,
    received: Transcript,
    sends_left: usize,
}

impl TestLink {
    /// Wraps `inner`, recording into `received`.
    pub fn new(inner: Box<dyn Channel>, received: Transcript, sends_left: usize) -> Self {
        Self {
            inner,
            received,
            sends_left,
        }
    }
}

impl Channel for TestLink {
    fn send(&mut self, frame: &[u8]) -> Result<(), NetError> {
        if self.sends_left == 0 {
            return Err(NetError::Closed {
                peer: self.inner.peer().to_string(),
            });
        }
        self.sends_left -= 1;
        self.inner.send(frame)
    }
    fn recv(&mut self) -> Result<Vec<u8>, NetError> {
        let frame = self.inner.recv()?;
        self.received.lock().unwrap().push(frame.clone());
        Ok(frame)
    }
    fn peer(&self) -> &str {
        self.inner.peer()
    }
    fn counters(&self) -> Counters {
        self.inner.counters()
    }
}

/// A full in-memory mesh whose links record; party `i`'s links allow
/// `sends[i]` sends each (`usize::MAX`: no limit).
pub fn recording_mesh(names: &[&str], sends: &[usize]) -> (Vec<PartySet>, Vec<Transcript>) {
    let n = names.len();
    let transcripts: Vec<Transcript> = (0..n).map(|_| Transcript::default()).collect();
    let mut links: Vec<Vec<Option<Box<dyn Channel>>>> =
        (0..n).map(|_| (0..n).map(|_| None).collect()).collect();
    for i in 0..n {
        for j in i + 1..n {
            let (a, b) = pair(names[i], names[j]);
            links[i][j] = Some(Box::new(TestLink::new(
                Box::new(a),
                transcripts[i].clone(),
                sends[i],
            )));
            links[j][i] = Some(Box::new(TestLink::new(
                Box::new(b),
                transcripts[j].clone(),
                sends[j],
            )));
        }
    }
    let owned: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    let sets = links
        .into_iter()
        .enumerate()
        .map(|(me, row)| PartySet::new(me, owned.clone(), row))
        .collect();
    (sets, transcripts)
}

/// Whether the 8-byte pattern of `value` occurs anywhere in `frames`.
pub fn contains_u64(frames: &[Vec<u8>], value: u64) -> bool {
    let needle = value.to_le_bytes();
    frames.iter().any(|f| f.windows(8).any(|w| w == needle))
}

/// Whether the 16-byte pattern of `value` occurs anywhere in `frames`.
#[allow(dead_code)]
pub fn contains_u128(frames: &[Vec<u8>], value: u128) -> bool {
    let needle = value.to_le_bytes();
    frames.iter().any(|f| f.windows(16).any(|w| w == needle))
}
