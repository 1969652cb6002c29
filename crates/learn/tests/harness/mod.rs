//! n parties over in-memory channels that record every frame a party
//! receives, one thread a party; generated binned data.
#![allow(dead_code)]

use indomain_learn::align::Roles;
use indomain_learn::binning::BinIndex;
use indomain_learn::tree::{self, BinnedFeatures, plain::PlainForest};
use indomain_net::memory::pair;
use indomain_net::{Channel, Counters, NetError, PartySet};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

/// The frames one party received.
pub type Frames = Vec<Vec<u8>>;
/// One party's received frames, shared with its recording channels.
pub type Log = Arc<Mutex<Frames>>;

struct Recording<C> {
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

/// `n` parties (named p0, p1, …) linked pairwise by recording in-memory
/// channels, and each party's log of received frames (read it with
/// [`frames`]).
pub fn recorded_mesh(n: usize) -> (Vec<PartySet>, Vec<Log>) {
    let names: Vec<String> = (0..n).map(|i| format!("p{i}")).collect();
    let logs: Vec<Log> = (0..n).map(|_| Log::default()).collect();
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
    let sets: Vec<PartySet> = links
        .into_iter()
        .enumerate()
        .map(|(me, row)| PartySet::new(me, names.clone(), row))
        .collect();
    (sets, logs)
}

/// Every party's received frames so far.
pub fn frames(logs: &[Log]) -> Vec<Frames> {
    logs.iter().map(|l| l.lock().unwrap().clone()).collect()
}

/// Runs `f(party set)` at each of `n` parties (named p0, p1, …), one
/// thread each; returns the results and every party's received frames.
pub fn run<T: Send>(n: usize, f: impl Fn(&mut PartySet) -> T + Sync) -> (Vec<T>, Vec<Frames>) {
    let (sets, logs) = recorded_mesh(n);
    let out = std::thread::scope(|s| {
        let handles: Vec<_> = sets
            .into_iter()
            .map(|mut set| {
                let f = &f;
                s.spawn(move || f(&mut set))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("party thread panicked"))
            .collect()
    });
    (out, frames(&logs))
}

/// Scores `parts` (party i's bins, the label holder's first) with
/// `forest` jointly at `n` parties under `roles`, each with its own seeded
/// generator; returns what each party gets (the scores at the label
/// holder, nothing elsewhere) and every party's received frames.
pub fn tree_scores(
    n: usize,
    roles: &Roles,
    parts: &[BinnedFeatures],
    forest: &PlainForest,
) -> (Vec<Option<Vec<f64>>>, Vec<Frames>) {
    run(n, |set| {
        let i = set.me();
        let weights = (i == 0).then(|| (&forest.leaf_weights[..], forest.base_margin));
        let mut rng = StdRng::seed_from_u64(i as u64);
        tree::score(
            set,
            roles,
            parts.get(i),
            &forest.trees,
            weights,
            16,
            &mut rng,
        )
        .unwrap()
    })
}

/// Generated binned features of one party: `sizes[j]` bins each, and the
/// labels, drawn so that the label depends on every feature's bin.
pub struct Binned {
    /// Per party, per feature, each row's bin.
    pub bins: Vec<Vec<Vec<u16>>>,
    /// Per party, bins per feature.
    pub sizes: Vec<Vec<usize>>,
    /// 0/1 labels.
    pub y: Vec<f64>,
}

impl Binned {
    pub fn index(&self, party: usize) -> Vec<BinIndex> {
        self.bins[party]
            .iter()
            .zip(&self.sizes[party])
            .map(|(b, &k)| BinIndex::pack(b, k))
            .collect()
    }
}

pub fn binned(rows: usize, sizes: &[Vec<usize>], seed: u64) -> Binned {
    let mut rng = StdRng::seed_from_u64(seed);
    let bins: Vec<Vec<Vec<u16>>> = sizes
        .iter()
        .map(|party| {
            party
                .iter()
                .map(|&k| (0..rows).map(|_| rng.random_range(0..k) as u16).collect())
                .collect()
        })
        .collect();
    let y = (0..rows)
        .map(|r| {
            let mut z = -0.5;
            for (p, party) in bins.iter().enumerate() {
                for (j, feature) in party.iter().enumerate() {
                    let k = sizes[p][j] as f64;
                    let sign = if (p + j) % 2 == 0 { 1.0 } else { -0.7 };
                    z += sign * (feature[r] as f64 / k - 0.5) * 2.0;
                }
            }
            let p = 1.0 / (1.0 + (-z).exp());
            (rng.random::<f64>() < p) as u8 as f64
        })
        .collect();
    Binned {
        bins,
        sizes: sizes.to_vec(),
        y,
    }
}

/// Whether any frame holds one of `values` as a little-endian u64 at an
/// 8-byte boundary (frames of whole u64s) or any offset (other frames).
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
