//! Items served from prefetched batches give the same results as items
//! drawn one request at a time: products, comparisons, exact truncations
//! and their ring conversions, many small calls in a row.

use indomain_core::FixedPoint;
use indomain_mpc::dealer::{self, DealerClient, DealerLimits};
use indomain_mpc::prefetch::{Batch, Prefetch};
use indomain_mpc::{Roster, Session, Shared};
use indomain_net::memory::mesh;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

#[test]
fn prefetched_items_compute_what_fresh_ones_do() {
    let mut rng = StdRng::seed_from_u64(1);
    let x: Vec<i64> = (0..100).map(|_| rng.random::<i64>() >> 20).collect();
    let raw: Vec<u64> = x.iter().map(|&v| v as u64).collect();
    let mut sets = mesh(&["p0", "p1", "dealer"]);
    let mut d = sets.pop().unwrap();
    let out = std::thread::scope(|s| {
        s.spawn(move || {
            let mut rng = StdRng::seed_from_u64(9);
            dealer::serve(&mut d, DealerLimits::default(), &mut rng).unwrap()
        });
        let handles: Vec<_> = sets
            .into_iter()
            .map(|mut set| {
                let raw = &raw;
                s.spawn(move || {
                    let roster = Roster::new(&set, Some(2)).unwrap();
                    let client = DealerClient::new(&roster).unwrap();
                    // Small batches, so that calls both fit and overflow them.
                    let batch = Batch {
                        triples: 64,
                        bit_words: 8,
                        bits: 128,
                    };
                    let fp = FixedPoint::new(16).unwrap();
                    let mut s = Session::new(&mut set, roster, fp, Prefetch::new(client, batch));
                    let mine = if s.rank() == 0 {
                        Shared(raw.clone())
                    } else {
                        Shared::zeros(raw.len())
                    };
                    let mut results = Vec::new();
                    for chunk in [3usize, 50, 100, 7, 100] {
                        let part = Shared(mine.0[..chunk].to_vec());
                        let neg = s.less_than_zero_bits(&part, 63).unwrap();
                        let neg = s.bits_to_ring(&neg).unwrap();
                        let sq = s.mul(&part, &neg).unwrap();
                        let t = s.truncate_exact(&part, 5).unwrap();
                        results.push((
                            s.open(&neg).unwrap(),
                            s.open(&sq).unwrap(),
                            s.open(&t).unwrap(),
                        ));
                    }
                    s.finish().unwrap();
                    results
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .collect::<Vec<_>>()
    });
    for (chunk, (neg, prod, t)) in [3usize, 50, 100, 7, 100].iter().zip(&out[0]) {
        for i in 0..*chunk {
            let v = x[i];
            assert_eq!(neg[i], (v < 0) as u64);
            assert_eq!(prod[i], if v < 0 { v as u64 } else { 0 });
            assert_eq!(t[i] as i64, v >> 5);
        }
    }
}
