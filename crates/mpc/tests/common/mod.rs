//! A harness: n computing parties and a dealer, one thread each, over
//! in-memory channels that record every byte a party receives.
#![allow(dead_code)]

use indomain_core::FixedPoint;
use indomain_mpc::dealer::{self, DealerClient, DealerLimits};
use indomain_mpc::{Roster, Session};
use indomain_net::memory::pair;
use indomain_net::{Channel, Counters, NetError, PartySet};
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

/// The bytes one party received.
pub type Frames = Vec<Vec<u8>>;

/// The shared record of one party's frames.
pub type Log = Arc<Mutex<Frames>>;

/// A channel that appends every frame it receives to a shared log.
pub struct Recording<C> {
    inner: C,
    log: Log,
}

impl<C: Channel> Channel for Recording<C> {
    fn send(&mut self, frame: &[u8]) -> Result<(), NetError> {
        self.inner.send(frame)
    }
    fn recv(&mut self) -> Result<Vec<u8>, NetError> {
        let frame = self.inner.recv()?;
        self.log.lock().unwrap().push(frame.clone());
        Ok(frame)
    }
    fn peer(&self) -> &str {
        self.inner.peer()
    }
    fn counters(&self) -> Counters {
        self.inner.counters()
    }
}

/// A full mesh of `n` parties; each party's received bytes go to its log.
pub fn recorded_mesh(n: usize) -> (Vec<PartySet>, Vec<Log>) {
    let names: Vec<String> = (0..n)
        .map(|i| {
            if i + 1 == n {
                "dealer".to_string()
            } else {
                format!("p{i}")
            }
        })
        .collect();
    let logs: Vec<Log> = (0..n).map(|_| Arc::default()).collect();
    let mut links: Vec<Vec<Option<Box<dyn Channel>>>> =
        (0..n).map(|_| (0..n).map(|_| None).collect()).collect();
    for i in 0..n {
        for j in i + 1..n {
            let (a, b) = pair(&names[i], &names[j]);
            links[i][j] = Some(Box::new(Recording {
                inner: a,
                log: logs[i].clone(),
            }));
            links[j][i] = Some(Box::new(Recording {
                inner: b,
                log: logs[j].clone(),
            }));
        }
    }
    let sets = links
        .into_iter()
        .enumerate()
        .map(|(me, row)| PartySet::new(me, names.clone(), row))
        .collect();
    (sets, logs)
}

/// Runs `f` at each of `n` computing parties (a dealer is party n). Returns
/// each party's result and the bytes each computing party received.
pub fn run<T: Send>(
    n: usize,
    fp: FixedPoint,
    f: impl Fn(&mut Session<'_, DealerClient>, &mut StdRng) -> T + Sync,
) -> (Vec<T>, Vec<Frames>) {
    let (mut sets, logs) = recorded_mesh(n + 1);
    let mut dealer_set = sets.pop().unwrap();
    let results = std::thread::scope(|s| {
        s.spawn(move || {
            let mut rng = StdRng::seed_from_u64(99);
            dealer::serve(&mut dealer_set, DealerLimits::default(), &mut rng).unwrap()
        });
        let handles: Vec<_> = sets
            .into_iter()
            .map(|mut set| {
                let f = &f;
                s.spawn(move || {
                    let mut rng = StdRng::seed_from_u64(set.me() as u64);
                    let roster = Roster::new(&set, Some(n)).unwrap();
                    let client = DealerClient::new(&roster).unwrap();
                    let mut session = Session::new(&mut set, roster, fp, client);
                    let out = f(&mut session, &mut rng);
                    session.finish().unwrap();
                    out
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("party thread panicked"))
            .collect()
    });
    let logs = logs[..n]
        .iter()
        .map(|l| l.lock().unwrap().clone())
        .collect();
    (results, logs)
}

/// Whether any frame holds one of `values` as a little-endian u64: at every
/// 8-byte boundary of frames of whole u64s (ring vectors, seeds, dealt
/// items), at every offset of other frames (control messages).
pub fn contains_any(frames: &[Vec<u8>], values: &[u64]) -> bool {
    let wanted: HashSet<u64> = values.iter().copied().collect();
    let hit = |w: &[u8]| wanted.contains(&u64::from_le_bytes(w.try_into().unwrap()));
    frames.iter().any(|f| {
        if f.len() % 8 == 0 {
            f.chunks_exact(8).any(hit)
        } else {
            f.windows(8).any(hit)
        }
    })
}
