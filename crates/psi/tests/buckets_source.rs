//! The bucketed run over a `BucketSource` (keys one bucket at a time), over
//! the in-memory backend: its join equals the plaintext and the in-memory
//! bucketed run, and the run asks for one bucket at a time, each only after
//! the previous one's result was taken (so a source never has to hold more
//! than one bucket's keys).

mod common;

use common::{check, items, sets};
use indomain_net::memory::pair;
use indomain_psi::buckets::{self, BucketKey, BucketResult, BucketSource, Header, Split};
use indomain_psi::{Construction, Items, Job, Mode, Outcome, PsiError, Role};
use rand::SeedableRng;
use rand::rngs::StdRng;

/// A source that hands over its buckets one at a time and records every
/// call, refusing a second bucket while one is out.
struct OneAtATime {
    keys: Vec<String>,
    buckets: Vec<Vec<usize>>,
    /// The bucket handed over and not yet done.
    out: Option<usize>,
    calls: Vec<String>,
    /// The most keys handed over at once.
    most: usize,
    /// Matches, as positions in `keys`, in the common order.
    matched: Vec<usize>,
    size: u64,
}

impl OneAtATime {
    fn new(keys: &[String]) -> Self {
        Self {
            keys: keys.to_vec(),
            buckets: Vec::new(),
            out: None,
            calls: Vec::new(),
            most: 0,
            matched: Vec::new(),
            size: 0,
        }
    }
}

impl BucketSource for OneAtATime {
    fn split(&mut self, key: &BucketKey, n: usize) -> Result<Split, PsiError> {
        self.calls.push("split".into());
        self.buckets = vec![Vec::new(); n];
        for (i, k) in self.keys.iter().enumerate() {
            self.buckets[buckets::bucket_of(k.as_bytes(), key, n)].push(i);
        }
        Ok(Split {
            sizes: self.buckets.iter().map(|b| b.len() as u64).collect(),
            input: [1; 32],
        })
    }

    fn bucket(&mut self, b: usize) -> Result<Items, PsiError> {
        assert_eq!(self.out, None, "bucket {b} asked for while one is out");
        self.calls.push(format!("bucket {b}"));
        self.out = Some(b);
        self.most = self.most.max(self.buckets[b].len());
        Ok(Items::from_raw(
            self.buckets[b].iter().map(|&i| self.keys[i].as_bytes()),
        ))
    }

    fn start(&mut self, header: &Header, first: usize) -> Result<(), PsiError> {
        assert_eq!(header.peer_sizes.len(), self.buckets.len());
        self.calls.push(format!("start {first}"));
        Ok(())
    }

    fn done(&mut self, b: usize, result: BucketResult) -> Result<(), PsiError> {
        assert_eq!(self.out.take(), Some(b));
        self.calls.push(format!("done {b}"));
        self.size += result.intersection_size.unwrap_or(0);
        let member = &self.buckets[b];
        self.matched.extend(
            result
                .matched
                .unwrap_or_default()
                .iter()
                .map(|&i| member[i]),
        );
        Ok(())
    }
}

#[test]
fn a_source_run_asks_for_one_bucket_at_a_time_and_equals_the_plaintext() {
    let (x, y, v) = sets(31, 150, 120, 200);
    let job = Job::new(Mode::Join).with_construction(Construction::Rr22);
    const N: usize = 6;
    let (mut a, mut b) = pair("receiver", "sender");
    let (mut rs, mut ss) = (OneAtATime::new(&x), OneAtATime::new(&y));
    let (r, s) = std::thread::scope(|scope| {
        let (job, rs, ss) = (&job, &mut rs, &mut ss);
        let r = scope.spawn(move || {
            let mut rng = StdRng::seed_from_u64(1);
            buckets::run_source(
                &mut a,
                job,
                Role::Receiver,
                N,
                rs,
                None,
                &mut rng,
                &mut |_| {},
            )
        });
        let s = scope.spawn(move || {
            let mut rng = StdRng::seed_from_u64(2);
            buckets::run_source(
                &mut b,
                job,
                Role::Sender,
                N,
                ss,
                None,
                &mut rng,
                &mut |_| {},
            )
        });
        (r.join().unwrap().unwrap(), s.join().unwrap().unwrap())
    });
    let mut want = vec!["split".to_string(), "start 0".into()];
    for b in 0..N {
        want.push(format!("bucket {b}"));
        want.push(format!("done {b}"));
    }
    for source in [&rs, &ss] {
        assert_eq!(source.calls, want);
        let largest = source.buckets.iter().map(Vec::len).max().unwrap();
        assert_eq!(source.most, largest);
        assert!(largest < source.keys.len());
    }
    let outcome = |role, totals: buckets::Totals, src: &OneAtATime| Outcome {
        role,
        items: totals.items,
        peer_items: totals.peer_items,
        intersection_size: Some(src.size as usize),
        matched: Some(src.matched.clone()),
        sum: None,
    };
    let (ro, so) = (
        outcome(Role::Receiver, r, &rs),
        outcome(Role::Sender, s, &ss),
    );
    check(&job, &x, &y, &v, &ro, &so);

    // The in-memory bucketed run on the same keys matches the same keys.
    let (mut a, mut b) = pair("receiver", "sender");
    let (xi, yi) = (items(&x), items(&y));
    let mem = std::thread::scope(|scope| {
        let job = &job;
        let (xi, yi) = (&xi, &yi);
        let r = scope.spawn(move || {
            let mut rng = StdRng::seed_from_u64(1);
            buckets::receiver(&mut a, job, xi, N, &mut rng, &mut |_| {})
        });
        let s = scope.spawn(move || {
            let mut rng = StdRng::seed_from_u64(2);
            buckets::sender(&mut b, job, yi, N, &mut rng, &mut |_| {})
        });
        s.join().unwrap().unwrap();
        r.join().unwrap().unwrap()
    });
    let mut got = ro.matched.unwrap();
    let mut from_memory = mem.matched.unwrap();
    got.sort_unstable();
    from_memory.sort_unstable();
    assert_eq!(got, from_memory);
}
