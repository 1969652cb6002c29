//! The dealer-free histogram kernel and boolean items: bin sums between
//! two parties equal the plaintext for either owner, many shapes and more
//! than one block of rows; AND triples, daBits and packed masks satisfy
//! their algebra, and trigonometric masks their angles; what the non-owner receives does not depend on the
//! owner's bins (a statistical test).

use indomain_core::FixedPoint;
use indomain_mpc::correlations::Correlations;
use indomain_mpc::{BinShape, Permutations, Roster, Session, Shared, TwoParty};
use indomain_net::memory::pair;
use indomain_net::{Channel, Counters, NetError, PartySet};
use ndarray::Array2;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use std::sync::{Arc, Mutex};

type Log = Arc<Mutex<Vec<Vec<u8>>>>;

/// A channel that records what it receives.
struct Recorder<C> {
    inner: C,
    log: Log,
}

impl<C: Channel> Channel for Recorder<C> {
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

/// Runs `f` at both parties (generators seeded by `seeds`); returns the
/// results and what each party received.
fn run<T: Send>(
    seeds: [u64; 2],
    f: impl Fn(&mut PartySet, TwoParty) -> T + Sync,
) -> (Vec<T>, Vec<Vec<Vec<u8>>>) {
    let names = vec!["p0".to_string(), "p1".to_string()];
    let (a, b) = pair("p0", "p1");
    let logs: Vec<Log> = vec![Arc::default(), Arc::default()];
    let sets = vec![
        PartySet::new(
            0,
            names.clone(),
            vec![
                None,
                Some(Box::new(Recorder {
                    inner: a,
                    log: logs[0].clone(),
                })),
            ],
        ),
        PartySet::new(
            1,
            names,
            vec![
                Some(Box::new(Recorder {
                    inner: b,
                    log: logs[1].clone(),
                })),
                None,
            ],
        ),
    ];
    let out = std::thread::scope(|s| {
        let handles: Vec<_> = sets
            .into_iter()
            .map(|mut set| {
                let f = &f;
                s.spawn(move || {
                    let roster = Roster::new(&set, None).unwrap();
                    let g = TwoParty::with_rng(&roster, StdRng::seed_from_u64(seeds[set.me()]))
                        .unwrap();
                    f(&mut set, g)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .collect::<Vec<T>>()
    });
    let logs = logs.iter().map(|l| l.lock().unwrap().clone()).collect();
    (out, logs)
}

fn add(a: &[u64], b: &[u64]) -> Vec<u64> {
    a.iter().zip(b).map(|(x, y)| x.wrapping_add(*y)).collect()
}

/// A session over the dealer-free generator.
fn session(set: &mut PartySet, g: TwoParty) -> Session<'_, TwoParty> {
    let roster = Roster::new(set, None).unwrap();
    Session::new(set, roster, FixedPoint::new(16).unwrap(), g)
}

/// Per-bin sums in the clear, features side by side.
fn plain(ix: &Array2<u16>, bins: &[u16], v: &[u64]) -> Vec<u64> {
    let total: usize = bins.iter().map(|&b| b as usize).sum();
    let mut out = vec![0u64; total];
    for (i, row) in ix.rows().into_iter().enumerate() {
        let mut off = 0;
        for (f, &b) in row.iter().enumerate() {
            out[off + b as usize] = out[off + b as usize].wrapping_add(v[i]);
            off += bins[f] as usize;
        }
    }
    out
}

fn check(owner: usize, rows: usize, bins: &[u16], k: usize) {
    let mut rng = StdRng::seed_from_u64(rows as u64 * 31 + owner as u64);
    let ix = Array2::from_shape_fn((rows, bins.len()), |(_, f)| rng.random_range(0..bins[f]));
    let values: Vec<Vec<u64>> = (0..k)
        .map(|_| (0..rows).map(|_| rng.random()).collect())
        .collect();
    let first: Vec<Vec<u64>> = (0..k)
        .map(|_| (0..rows).map(|_| rng.random()).collect())
        .collect();
    let shape = BinShape {
        rows,
        bins: bins.to_vec(),
        permutations: Permutations::PerFeature,
    };
    let (out, _) = run([3, 4], |set, g| {
        let mut s = session(set, g);
        let own = (s.rank() == owner).then(|| ix.view());
        let fixed = s.fix_bins(owner, &shape, own).unwrap();
        let vs: Vec<Shared> = values
            .iter()
            .zip(&first)
            .map(|(v, f0)| {
                Shared(if s.rank() == 0 {
                    f0.clone()
                } else {
                    v.iter().zip(f0).map(|(v, f)| v.wrapping_sub(*f)).collect()
                })
            })
            .collect();
        // Twice: the second batch draws fresh masks on the same bins.
        let sums = s.bin_sums(&fixed, &vs).unwrap();
        let again = s.bin_sums(&fixed, &vs[..1]).unwrap();
        let mut opened: Vec<Vec<u64>> = sums.iter().map(|x| s.open(x).unwrap()).collect();
        opened.push(s.open(&again[0]).unwrap());
        opened
    });
    for got in &out {
        for (j, v) in values.iter().enumerate() {
            assert_eq!(
                got[j],
                plain(&ix, bins, v),
                "owner {owner} rows {rows} bins {bins:?} vector {j}"
            );
        }
        assert_eq!(got[k], plain(&ix, bins, &values[0]));
    }
}

#[test]
fn two_party_bin_sums_match_the_plaintext_for_either_owner() {
    for owner in [0, 1] {
        check(owner, 1, &[1], 1);
        check(owner, 5, &[2, 3], 2);
        check(owner, 300, &[1, 8, 17, 256], 3);
    }
    // More than one block of rows (2^18 random OTs a block).
    check(1, 40_000, &[2, 128], 2);
    // Several runs of trees a block, domains pruned below a power of two,
    // and more than two masks a leaf (leaf values past the leaf itself).
    check(0, 5_000, &[33, 5, 1], 5);
}

#[test]
fn and_triples_dabits_and_packed_masks_hold() {
    let (out, _) = run([5, 6], |parties, mut g| {
        let t = g.bit_triples(parties, 100).unwrap();
        let d = g.dabits(parties, 1000).unwrap();
        let p = g.packed_masked_bits(parties, 130, 20, 44).unwrap();
        let q = g.packed_masked_bits(parties, 3, 0, 7).unwrap();
        (t, d, p, q)
    });
    let x = |a: &[u64], b: &[u64]| -> Vec<u64> { a.iter().zip(b).map(|(x, y)| x ^ y).collect() };
    let (t0, t1) = (&out[0].0, &out[1].0);
    let (a, b, c) = (x(&t0.a, &t1.a), x(&t0.b, &t1.b), x(&t0.c, &t1.c));
    for w in 0..100 {
        assert_eq!(c[w], a[w] & b[w], "word {w}");
    }
    assert!(a.iter().any(|w| *w != 0) && b.iter().any(|w| *w != 0));
    let (d0, d1) = (&out[0].1, &out[1].1);
    let bools = x(&d0.bools, &d1.bools);
    let arith = add(&d0.arith, &d1.arith);
    for (e, v) in arith.iter().enumerate() {
        assert_eq!(*v, (bools[e / 64] >> (e % 64)) & 1, "daBit {e}");
    }
    assert!(arith.contains(&0) && arith.contains(&1));
    for (len, low, bits, p0, p1) in [
        (130usize, 20, 44, &out[0].2, &out[1].2),
        (3, 0, 7, &out[0].3, &out[1].3),
    ] {
        let r = add(&p0.r, &p1.r);
        let planes = x(&p0.planes, &p1.planes);
        let w = len.div_ceil(64);
        for (e, r) in r.iter().enumerate() {
            for j in 0..bits {
                let got = (planes[j * w + e / 64] >> (e % 64)) & 1;
                assert_eq!(got, (r >> (low + j)) & 1, "mask {e} bit {}", low + j);
            }
        }
    }
}

#[test]
fn trigonometric_masks_carry_the_harmonics_of_their_angle() {
    let (len, k, m, f) = (300, 21u32, 12, 16u32);
    let (out, _) = run([7, 8], |parties, mut g| {
        g.trig_masks(parties, len, k, m, f).unwrap()
    });
    let r = add(&out[0].r, &out[1].r);
    let scale = (f as f64).exp2();
    let mut worst = 0.0f64;
    for (e, &r) in r.iter().enumerate() {
        let (a, b) = (out[0].of(e), out[1].of(e));
        let phi = std::f64::consts::TAU * (r % (1 << k)) as f64 / (1u64 << k) as f64;
        for h in 1..=m {
            let want = [(h as f64 * phi).cos(), (h as f64 * phi).sin()];
            for (j, w) in want.iter().enumerate() {
                let i = 2 * (h - 1) + j;
                let got = a[i].wrapping_add(b[i]) as i64 as f64 / scale;
                worst = worst.max((got - w).abs());
            }
        }
    }
    // Two roundings of 2^-17 and the truncation's unit.
    assert!(worst < 4.0 / scale, "worst error {worst}");
}

fn chi_square(a: &[u64; 256], b: &[u64; 256]) -> f64 {
    let (na, nb) = (a.iter().sum::<u64>() as f64, b.iter().sum::<u64>() as f64);
    a.iter()
        .zip(b)
        .filter(|(x, y)| **x + **y > 0)
        .map(|(x, y)| {
            let (x, y) = (*x as f64, *y as f64);
            let d = x * (nb / na).sqrt() - y * (na / nb).sqrt();
            d * d / (x + y)
        })
        .sum()
}

/// What the non-owner (rank 0) receives while the owner (rank 1) sums
/// with its bins `ix`.
fn non_owner_view(ix: &Array2<u16>, seed: u64) -> Vec<Vec<u8>> {
    let rows = ix.nrows();
    let shape = BinShape {
        rows,
        bins: vec![16, 5],
        permutations: Permutations::PerFeature,
    };
    let (_, logs) = run([42, seed], |set, g| {
        let mut s = session(set, g);
        let own = (s.rank() == 1).then(|| ix.view());
        let fixed = s.fix_bins(1, &shape, own).unwrap();
        let v = Shared::zeros(rows);
        s.bin_sums(&fixed, &[v]).unwrap();
    });
    logs[0].clone()
}

#[test]
fn what_the_non_owner_receives_does_not_depend_on_the_bins() {
    let rows = 64;
    let low = Array2::<u16>::zeros((rows, 2));
    let high = Array2::from_shape_fn((rows, 2), |(i, f)| if f == 0 { 15 } else { (i % 5) as u16 });
    let runs = 30;
    let views_a: Vec<_> = (0..runs).map(|i| non_owner_view(&low, 100 + i)).collect();
    let views_b: Vec<_> = (0..runs).map(|i| non_owner_view(&high, 900 + i)).collect();
    let frames = views_a[0].len();
    assert!(views_a.iter().chain(&views_b).all(|v| v.len() == frames));
    let mut worst = 0.0f64;
    let mut tested = 0;
    for f in 0..frames {
        let (mut ha, mut hb) = ([0u64; 256], [0u64; 256]);
        for (va, vb) in views_a.iter().zip(&views_b) {
            assert_eq!(
                va[f].len(),
                vb[f].len(),
                "frame {f} length depends on the bins"
            );
            va[f].iter().for_each(|b| ha[*b as usize] += 1);
            vb[f].iter().for_each(|b| hb[*b as usize] += 1);
        }
        if ha.iter().sum::<u64>() >= 2560 {
            worst = worst.max(chi_square(&ha, &hb));
            tested += 1;
        }
    }
    assert!(tested > 0, "no frame large enough to test");
    assert!(worst < 360.0, "a frame depends on the bins: χ² = {worst}");
    // The test has power: the raw bins, as bytes, differ at once.
    let bytes = |ix: &Array2<u16>| {
        let mut h = [0u64; 256];
        for _ in 0..20 {
            ix.iter().for_each(|b| h[*b as usize] += 1);
        }
        h
    };
    assert!(chi_square(&bytes(&low), &bytes(&high)) > 360.0);
}
