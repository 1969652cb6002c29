//! The bin-sum kernel against the plaintext: 2 and 3 computing parties,
//! the owner at every rank, shared and private vectors, per-feature and
//! shared permutations; what the other parties receive about the owner's
//! bins; malformed layouts.

mod common;

use common::{contains_any, run};
use indomain_core::FixedPoint;
use indomain_core::binsum::SlotPlan;
use indomain_mpc::dealer::{self, DealerClient, DealerLimits, Request};
use indomain_mpc::{BinShape, MpcError, Permutations, Roster, Session, Shared};
use indomain_net::memory::mesh;
use indomain_net::wire::send_msg;
use ndarray::Array2;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

fn fp() -> FixedPoint {
    FixedPoint::new(16).unwrap()
}

/// Bin indices for `rows` rows: feature f has `bins[f]` bins and, if
/// `skewed`, most rows in its last bin.
fn indices(seed: u64, rows: usize, bins: &[u16], skewed: bool) -> Array2<u16> {
    let mut rng = StdRng::seed_from_u64(seed);
    Array2::from_shape_fn((rows, bins.len()), |(_, f)| {
        if skewed && rng.random_range(0..5) > 0 {
            bins[f] - 1
        } else {
            rng.random_range(0..bins[f])
        }
    })
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

/// Random ring vectors and each party's additive share of them.
fn shared_vectors(
    seed: u64,
    n: usize,
    k: usize,
    rows: usize,
) -> (Vec<Vec<u64>>, Vec<Vec<Vec<u64>>>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let values: Vec<Vec<u64>> = (0..k)
        .map(|_| (0..rows).map(|_| rng.random()).collect())
        .collect();
    let mut shares: Vec<Vec<Vec<u64>>> = vec![Vec::new(); n];
    for v in &values {
        let mut last = v.clone();
        for share in shares.iter_mut().take(n - 1) {
            let s: Vec<u64> = (0..rows).map(|_| rng.random()).collect();
            for (l, x) in last.iter_mut().zip(&s) {
                *l = l.wrapping_sub(*x);
            }
            share.push(s);
        }
        shares[n - 1].push(last);
    }
    (values, shares)
}

fn check(n: usize, owner: usize, rows: usize, bins: &[u16], k: usize, permutations: Permutations) {
    let ix = indices(
        rows as u64 + owner as u64,
        rows,
        bins,
        owner.is_multiple_of(2),
    );
    let (values, shares) = shared_vectors(7 + n as u64, n, k, rows);
    let shape = BinShape {
        rows,
        bins: bins.to_vec(),
        permutations,
    };
    let (out, _) = run(n, fp(), |s, _| {
        let own = (s.rank() == owner).then(|| ix.view());
        let fixed = s.fix_bins(owner, &shape, own).unwrap();
        let vs: Vec<Shared> = shares[s.rank()].iter().cloned().map(Shared).collect();
        // Twice: the second batch uses fresh masks on the same registration.
        let first = s.bin_sums(&fixed, &vs).unwrap();
        let second = s.bin_sums(&fixed, &vs[..1]).unwrap();
        let mut opened: Vec<Vec<u64>> = first.iter().map(|x| s.open(x).unwrap()).collect();
        opened.push(s.open(&second[0]).unwrap());
        opened
    });
    for got in &out {
        for (j, v) in values.iter().enumerate() {
            assert_eq!(
                got[j],
                plain(&ix, bins, v),
                "n {n} owner {owner} vector {j}"
            );
        }
        assert_eq!(got[k], plain(&ix, bins, &values[0]));
    }
}

#[test]
fn bin_sums_match_the_plaintext_for_every_owner() {
    for n in [2, 3] {
        for owner in 0..n {
            check(n, owner, 211, &[5, 1, 33], 3, Permutations::PerFeature);
        }
    }
    check(2, 1, 1, &[2], 1, Permutations::PerFeature);
    check(3, 2, 2000, &[8, 8, 8, 8], 2, Permutations::PerFeature);
    // More than 256 blocks: positions travel as 2 bytes.
    assert!(SlotPlan::new(5000, &[40]).unwrap().features[0].count > 256);
    check(2, 0, 5000, &[40, 3], 1, Permutations::PerFeature);
}

#[test]
fn a_shared_permutation_gives_the_same_sums() {
    check(2, 0, 500, &[10, 3, 7], 2, Permutations::Shared);
    check(3, 1, 300, &[4, 4], 1, Permutations::Shared);
}

#[test]
fn a_private_vector_is_summed_without_reaching_the_owner() {
    // The label holder (rank 0) holds labels; the owner is rank 1.
    let rows = 400;
    let bins = [6u16, 11];
    let ix = indices(3, rows, &bins, false);
    let mut rng = StdRng::seed_from_u64(4);
    // Distinctive values, so that a copy in any frame would be found.
    let labels: Vec<u64> = (0..rows).map(|_| rng.random::<u64>() | 1 << 63).collect();
    let shape = BinShape {
        rows,
        bins: bins.to_vec(),
        permutations: Permutations::PerFeature,
    };
    let (out, frames) = run(2, fp(), |s, _| {
        let own = (s.rank() == 1).then(|| ix.view());
        let fixed = s.fix_bins(1, &shape, own).unwrap();
        let v = if s.rank() == 0 {
            Shared(labels.clone())
        } else {
            Shared::zeros(rows)
        };
        let sums = s.bin_sums(&fixed, &[v]).unwrap();
        s.open(&sums[0]).unwrap()
    });
    assert_eq!(out[1], plain(&ix, &bins, &labels));
    assert!(!contains_any(&frames[1], &labels));
}

#[test]
fn the_others_receive_block_positions_with_the_public_sizes_only() {
    // Two owners with opposite bin profiles: every row in bin 0, or spread
    // over all bins. The others receive, per feature, β (1 byte per slot,
    // fewer than 256 blocks here) and D (8 bytes per block and bin); β's
    // block counts are the public block sizes in both cases.
    let rows = 1000;
    let bins = [9u16];
    let plan = SlotPlan::new(rows, &bins).unwrap();
    let f = plan.features[0];
    assert!(f.count <= 256);
    let layout_bytes = plan.padded + 8 * f.count * f.bins;
    for ix in [
        Array2::<u16>::zeros((rows, 1)),
        Array2::from_shape_fn((rows, 1), |(i, _)| (i % 9) as u16),
    ] {
        let shape = BinShape {
            rows,
            bins: bins.to_vec(),
            permutations: Permutations::PerFeature,
        };
        let (_, frames) = run(2, fp(), |s, _| {
            let own = (s.rank() == 0).then(|| ix.view());
            s.fix_bins(0, &shape, own).unwrap();
        });
        let received: Vec<&Vec<u8>> = frames[1]
            .iter()
            .filter(|fr| fr.len() == layout_bytes)
            .collect();
        assert_eq!(received.len(), 1);
        let mut counts = vec![0usize; f.count];
        for &m in &received[0][..plan.padded] {
            counts[m as usize] += 1;
        }
        for (m, &c) in counts.iter().enumerate() {
            assert_eq!(c, f.size.min(plan.padded - m * f.size), "block {m}");
        }
    }
}

#[test]
fn a_block_outside_the_plan_is_an_error_naming_the_owner() {
    let rows = 50;
    let bins = vec![4u16];
    let plan = SlotPlan::new(rows, &bins).unwrap();
    let f = plan.features[0];
    let mut sets = mesh(&["p0", "p1", "dealer"]);
    let mut dealer_set = sets.pop().unwrap();
    let mut p1 = sets.pop().unwrap();
    let mut p0 = sets.pop().unwrap();
    std::thread::scope(|s| {
        s.spawn(move || {
            let mut rng = StdRng::seed_from_u64(1);
            dealer::serve(&mut dealer_set, DealerLimits::default(), &mut rng).unwrap();
        });
        // A fake owner and leader: asks for the registration, takes the
        // dealer's seed and sends a layout naming a block past the last one.
        s.spawn(move || {
            let request = Request::BinIndicators {
                owner: 0,
                rows: rows as u64,
                bins: vec![4],
                shared_permutation: false,
            };
            send_msg(p0.channel(2).unwrap(), &request).unwrap();
            let _seed = p0.channel(2).unwrap().recv().unwrap();
            assert!(f.count < 256);
            let mut frame = vec![f.count as u8; plan.padded];
            frame.extend(vec![0u8; 8 * f.count * f.bins]);
            p0.channel(1).unwrap().send(&frame).unwrap();
            send_msg(p0.channel(2).unwrap(), &Request::Done).unwrap();
        });
        let roster = Roster::new(&p1, Some(2)).unwrap();
        let client = DealerClient::new(&roster).unwrap();
        let mut session = Session::new(&mut p1, roster, fp(), client);
        let shape = BinShape {
            rows,
            bins,
            permutations: Permutations::PerFeature,
        };
        let err = session.fix_bins(0, &shape, None).unwrap_err();
        assert!(
            matches!(&err, MpcError::Malformed { peer, .. } if peer == "p0"),
            "{err}"
        );
    });
}
