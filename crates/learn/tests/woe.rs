//! The WOE/IV binning job against the plaintext, in the three modes, for
//! one and two feature owners and a dealer: counts, WOE and IV (within
//! the strict mode's stated tolerance, bins without events included),
//! merging of bins lacking events and monotone merging against a
//! plaintext reference, and what each party ends with.

mod harness;

use harness::run;
use indomain_learn::LearnError;
use indomain_learn::align::Roles;
use indomain_learn::binning::{
    BinKind, BinParams, Binned, Column, FeatureBins, bin_column, monotone_blocks,
};
use indomain_learn::woe::kernel::MpcKernel;
use indomain_learn::woe::protocol::{self, Outcome, Settings};
use indomain_learn::woe::{Mode, bin_counts, merge_lacking, woe_iv};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// Generated raw columns: per party, numeric columns (some missing values)
/// and one categorical; labels depend on them. One numeric column of the
/// first owner has a bin without events.
struct Data {
    columns: Vec<Vec<(String, Column)>>,
    y: Vec<f64>,
}

fn data(rows: usize, owners: usize, seed: u64) -> Data {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut columns = Vec::new();
    let mut z = vec![-1.0; rows];
    for p in 0..=owners {
        let mut cols = Vec::new();
        for j in 0..2 {
            let v: Vec<f64> = (0..rows)
                .map(|_| {
                    if rng.random::<f64>() < 0.05 {
                        f64::NAN
                    } else {
                        rng.random_range(0.0..100.0)
                    }
                })
                .collect();
            for (zi, x) in z.iter_mut().zip(&v) {
                if !x.is_nan() {
                    *zi += (x / 50.0 - 1.0) * if (p + j) % 2 == 0 { 1.2 } else { -0.8 };
                }
            }
            cols.push((format!("n{p}{j}"), Column::Numeric(v)));
        }
        let cats = ["a", "b", "c", "d"];
        let c: Vec<Option<&str>> = (0..rows)
            .map(|_| Some(cats[rng.random_range(0..4)]))
            .collect();
        for (zi, c) in z.iter_mut().zip(&c) {
            *zi += if c == &Some("a") { 0.8 } else { 0.0 };
        }
        cols.push((format!("c{p}"), Column::categorical(&c)));
        columns.push(cols);
    }
    let mut y: Vec<f64> = z
        .iter()
        .map(|&z| (rng.random::<f64>() < 1.0 / (1.0 + (-z).exp())) as u8 as f64)
        .collect();
    // No events among the first owner's top values of n10.
    if let Column::Numeric(v) = &columns[1][0].1 {
        for (yi, x) in y.iter_mut().zip(v) {
            if *x > 92.0 {
                *yi = 0.0;
            }
        }
    }
    Data { columns, y }
}

fn binned(d: &Data, party: usize) -> Vec<Binned> {
    let params = BinParams {
        min_share: 0.02,
        ..BinParams::quantile(12)
    };
    d.columns[party]
        .iter()
        .map(|(name, c)| bin_column(name, c, &params, "gen.csv").unwrap())
        .collect()
}

/// The plaintext reference of one feature: merge bins lacking events,
/// then monotone merging of numeric features, then WOE and IV.
fn reference(
    b: &Binned,
    y: &[f64],
    min_events: u64,
    monotone: bool,
) -> (FeatureBins, Vec<u64>, Vec<u64>) {
    let mut b = b.clone();
    let counts = |b: &Binned| bin_counts(&b.index.to_vec(), y, b.bins.bins());
    if min_events > 0 {
        loop {
            let (e, n) = counts(&b);
            let vb = b.bins.value_bins();
            let ok: Vec<bool> = (0..vb)
                .map(|i| e[i] >= min_events && n[i] >= min_events)
                .collect();
            let rows: Vec<u64> = (0..vb).map(|i| e[i] + n[i]).collect();
            match merge_lacking(&ok, &rows) {
                Some(blocks) => b = b.merge_adjacent(&blocks).unwrap(),
                None => break,
            }
        }
    }
    if monotone && matches!(b.bins.kind, BinKind::Numeric { .. }) {
        let (e, n) = counts(&b);
        let vb = b.bins.value_bins();
        let ef: Vec<f64> = e[..vb].iter().map(|&v| v as f64).collect();
        let nf: Vec<f64> = n[..vb].iter().map(|&v| v as f64).collect();
        let (blocks, _) = monotone_blocks(&ef, &nf);
        b = b.merge_adjacent(&blocks).unwrap();
    }
    let (e, n) = counts(&b);
    (b.bins, e, n)
}

fn job(owners: usize, settings: Settings, d: &Data) -> Vec<Outcome> {
    job_with(owners, settings, d, true)
}

/// The job with a dealer (the last party) or, for one owner, without.
fn job_with(owners: usize, settings: Settings, d: &Data, with_dealer: bool) -> Vec<Outcome> {
    let parties = owners + 1 + with_dealer as usize;
    let dealer = with_dealer.then_some(parties - 1);
    let roles = Roles::new(parties, 0, dealer).unwrap();
    let (out, _) = run(parties, |set| {
        let me = set.me();
        let features = if Some(me) == dealer {
            Vec::new()
        } else {
            binned(d, me)
        };
        protocol::run(
            set,
            &roles,
            features,
            (me == 0).then_some(&d.y[..]),
            &settings,
            &mut MpcKernel::default(),
            &mut rand::rng(),
        )
        .unwrap()
    });
    out
}

#[test]
fn default_mode_gives_the_label_holder_plaintext_counts_woe_and_iv() {
    let d = data(3000, 2, 3);
    for (min_events, monotone) in [(0, false), (15, true)] {
        let settings = Settings {
            min_events,
            monotone,
            ..Settings::default()
        };
        let out = job(2, settings, &d);
        let lead = &out[0];
        // The label holder's own features.
        for (f, b) in lead.own.iter().zip(binned(&d, 0)) {
            let (bins, e, n) = reference(&b, &d.y, min_events, monotone);
            assert_eq!(f.binned.bins, bins);
            assert_eq!(
                (f.events.clone().unwrap(), f.non_events.clone().unwrap()),
                (e.clone(), n.clone())
            );
            assert_eq!(f.iv, woe_iv(&e, &n).iv);
        }
        // Every owner feature, in owner order, under its name only.
        let mut foreign = lead.foreign.iter();
        for (owner, outcome) in out.iter().enumerate().take(3).skip(1) {
            for (b, theirs) in binned(&d, owner).iter().zip(&outcome.own) {
                let (bins, e, n) = reference(b, &d.y, min_events, monotone);
                let f = foreign.next().unwrap();
                assert_eq!(
                    (f.party.as_str(), f.name.as_str()),
                    (format!("p{owner}").as_str(), bins.name.as_str())
                );
                assert_eq!(f.events.as_ref(), Some(&e));
                assert_eq!(f.non_events.as_ref(), Some(&n));
                let want = woe_iv(&e, &n);
                assert_eq!(f.woe.as_ref(), Some(&want.woe));
                assert_eq!(f.iv, want.iv);
                // The owner: its merged bins and the IV, no counts or WOE.
                assert_eq!(theirs.binned.bins, bins);
                assert_eq!(theirs.iv, want.iv);
                assert!(theirs.events.is_none() && theirs.woe.is_none());
            }
        }
        assert!(foreign.next().is_none());
        assert!(lead.woe_shares.is_none());
        assert_eq!(lead.sizes, out[1].sizes);
    }
}

#[test]
fn two_parties_without_a_dealer_give_the_dealers_counts_and_ivs() {
    let d = data(2000, 1, 17);
    for mode in [Mode::Default, Mode::Strict] {
        let settings = Settings {
            mode,
            min_events: 10,
            ..Settings::default()
        };
        let dealt = job_with(1, settings, &d, true);
        let two = job_with(1, settings, &d, false);
        assert_eq!(two.len(), 2);
        let ivs = |o: &Outcome| o.foreign.iter().map(|f| f.iv).collect::<Vec<f64>>();
        let (a, b) = (ivs(&two[0]), ivs(&dealt[0]));
        assert_eq!(a.len(), b.len());
        assert!(!a.is_empty());
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() < 1e-3, "{mode:?}: IV {x} vs {y}");
        }
        for (f, g) in two[0].foreign.iter().zip(&dealt[0].foreign) {
            // Counts are integers: equal wherever the mode opens them.
            assert_eq!(f.events, g.events);
            assert_eq!(f.non_events, g.non_events);
        }
        for (f, g) in two[1].own.iter().zip(&dealt[1].own) {
            assert_eq!(f.binned.bins, g.binned.bins);
            assert!((f.iv - g.iv).abs() < 1e-3);
        }
        // The IV ranking is the same.
        let rank = |v: &[f64]| {
            let mut idx: Vec<usize> = (0..v.len()).collect();
            idx.sort_by(|&i, &j| v[j].total_cmp(&v[i]));
            idx
        };
        assert_eq!(rank(&a), rank(&b), "{mode:?}");
    }
}

#[test]
fn strict_mode_opens_only_ivs_and_shares_the_woe() {
    let d = data(3000, 1, 5);
    for min_events in [0, 12] {
        let settings = Settings {
            mode: Mode::Strict,
            min_events,
            ..Settings::default()
        };
        let out = job(1, settings, &d);
        let (lead, owner) = (&out[0], &out[1]);
        let shares: Vec<u64> = lead
            .woe_shares
            .as_ref()
            .unwrap()
            .iter()
            .zip(owner.woe_shares.as_ref().unwrap())
            .map(|(a, b)| a.wrapping_add(*b))
            .collect();
        let fp = indomain_core::FixedPoint::new(16).unwrap();
        let woe = fp.decode_slice(&shares);
        let mut at = 0;
        let mut zero_event_bins = 0;
        for ((b, theirs), f) in binned(&d, 1).iter().zip(&owner.own).zip(&lead.foreign) {
            let (bins, e, n) = reference(b, &d.y, min_events, false);
            assert_eq!(theirs.binned.bins, bins);
            assert!(f.events.is_none() && f.woe.is_none() && theirs.woe.is_none());
            let want = woe_iv(&e, &n);
            for (i, w) in want.woe.iter().enumerate() {
                assert!(
                    (woe[at + i] - w).abs() < 1e-3,
                    "bin {i}: {} vs {w}",
                    woe[at + i]
                );
                zero_event_bins += (e[i] == 0) as usize;
            }
            at += want.woe.len();
            assert!((f.iv - want.iv).abs() < 1e-3, "{} vs {}", f.iv, want.iv);
            assert!((theirs.iv - want.iv).abs() < 1e-3);
        }
        assert_eq!(at, woe.len());
        // Without a minimum the top bin of n10 has no events; with one it
        // is merged away.
        assert_eq!(zero_event_bins > 0, min_events == 0, "{zero_event_bins}");
        assert_eq!(lead.sizes, owner.sizes);
    }
}

#[test]
fn owner_transform_gives_the_owner_its_woe_and_strict_refuses_monotone() {
    let d = data(2000, 1, 9);
    let settings = Settings {
        mode: Mode::OwnerTransform,
        ..Settings::default()
    };
    let out = job(1, settings, &d);
    for (theirs, f) in out[1].own.iter().zip(&out[0].foreign) {
        assert_eq!(theirs.woe.as_ref(), f.woe.as_ref());
        assert!(theirs.woe.is_some() && theirs.events.is_none());
    }
    let strict = Settings {
        mode: Mode::Strict,
        monotone: true,
        ..Settings::default()
    };
    assert!(matches!(strict.check(), Err(LearnError::Params(m)) if m.contains("strict")));
}

/// Per-bin counts of the owner's features (and in strict mode WOE values),
/// as the words a frame would carry them in: plain integers, f64 bits and
/// fixed-point encodings.
fn count_words(d: &Data, owner: usize, min_events: u64) -> Vec<u64> {
    let fp = indomain_core::FixedPoint::new(16).unwrap();
    let mut words = Vec::new();
    for b in binned(d, owner) {
        let (_, e, n) = reference(&b, &d.y, min_events, false);
        for &c in e.iter().chain(&n).filter(|&&c| c > 255) {
            words.push(c);
            words.push((c as f64).to_bits());
            words.push(fp.encode(c as f64).unwrap());
        }
        for w in woe_iv(&e, &n).woe {
            words.push(w.to_bits());
            words.push(fp.encode(w).unwrap());
        }
    }
    words
}

#[test]
fn no_frame_of_the_owner_holds_a_bin_count_nor_any_in_strict_mode() {
    let d = data(8000, 1, 11);
    for mode in [Mode::Default, Mode::Strict] {
        let settings = Settings {
            mode,
            min_events: 40,
            ..Settings::default()
        };
        let roles = Roles::new(3, 0, Some(2)).unwrap();
        let (_, frames) = run(3, |set| {
            let me = set.me();
            let features = if me == 2 { Vec::new() } else { binned(&d, me) };
            protocol::run(
                set,
                &roles,
                features,
                (me == 0).then_some(&d.y[..]),
                &settings,
                &mut MpcKernel::default(),
                &mut rand::rng(),
            )
            .unwrap()
        });
        let words = count_words(&d, 1, 40);
        assert!(words.len() > 20, "{}", words.len());
        assert!(
            !harness::contains_any(&frames[1], &words),
            "{mode:?}: the owner received a count"
        );
        // Labels never reach the owner either.
        let y: Vec<u64> = d.y.iter().map(|&v| v as u64).collect();
        let positives = y.iter().sum::<u64>();
        assert!(!harness::contains_any(&frames[1], &[positives]));
        if mode == Mode::Strict {
            assert!(
                !harness::contains_any(&frames[0], &words),
                "strict: the label holder received a count"
            );
            assert!(!harness::contains_any(&frames[2], &words));
        }
    }
}
