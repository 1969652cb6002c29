//! Gradient-boosted trees between a label holder and one feature holder
//! with no dealer (two-party correlations): the same forest as with a
//! dealer and as the plaintext reference, the same joint scores, and the
//! feature holder's bins nowhere in what the label holder receives.

use indomain_learn::align::Roles;
use indomain_learn::tree::plain;
use indomain_learn::tree::{self, BinnedFeatures, FeatureShape, GbdtParams, Loss, TreeOutcome};
use ndarray::Array2;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

mod harness;
use harness::{Frames, recorded_mesh, run, tree_scores};

/// Two parties' bins (a feature with 8 value bins, one with 6 and a
/// missing bin) and labels with a signal in both parties' features.
fn data(rows: usize, loss: Loss, seed: u64) -> (Vec<BinnedFeatures>, Vec<f64>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut parts = Vec::new();
    let mut signal = vec![0.0; rows];
    for weight in [1.6, -1.1] {
        let shapes = vec![
            FeatureShape {
                bins: 8,
                missing: false,
            },
            FeatureShape {
                bins: 7,
                missing: true,
            },
        ];
        let idx = Array2::from_shape_fn((rows, 2), |(_, f)| {
            if f == 1 && rng.random_range(0..10) == 0 {
                6
            } else {
                rng.random_range(0..[8u16, 6][f])
            }
        });
        for (i, s) in signal.iter_mut().enumerate() {
            let b1 = if idx[[i, 1]] == 6 {
                2.0
            } else {
                idx[[i, 1]] as f64 - 2.5
            };
            *s += weight * (idx[[i, 0]] as f64 - 3.5) / 2.0 + 0.45 * weight * b1;
        }
        parts.push(BinnedFeatures::new(idx, shapes).unwrap());
    }
    let y = signal
        .iter()
        .map(|&s| {
            let noise: f64 = rng.random_range(-0.5..0.5);
            match loss {
                Loss::Logistic => (s + noise > 0.3) as u8 as f64,
                Loss::Squared => 3.0 * s + noise + 17.25,
            }
        })
        .collect();
    (parts, y)
}

/// Trains with a dealer (party 2) or without; returns the two data
/// parties' outcomes and what each received.
fn train(
    parts: &[BinnedFeatures],
    y: &[f64],
    params: &GbdtParams,
    dealer: bool,
) -> (Vec<TreeOutcome>, Vec<Frames>) {
    let n = 2 + dealer as usize;
    let roles = Roles::new(n, 0, dealer.then_some(2)).unwrap();
    let (outs, frames) = run(n, |set| {
        let i = set.me();
        let y = (i == 0).then_some(y);
        let mut rng = StdRng::seed_from_u64(i as u64 + 100);
        tree::train(set, &roles, parts.get(i), y, params, &mut |_| {}, &mut rng).unwrap()
    });
    (outs[..2].to_vec(), frames)
}

fn assert_same_forest(a: &[TreeOutcome], b: &[TreeOutcome], tol: f64) {
    for (x, y) in a.iter().zip(b) {
        assert_eq!(x.trees, y.trees, "tree structure");
        assert_eq!(x.own_gains.len(), y.own_gains.len());
        for (g, h) in x.own_gains.iter().zip(&y.own_gains) {
            assert_eq!((g.0, g.1), (h.0, h.1));
            assert!(
                (g.2 - h.2).abs() <= 0.01 * h.2.abs() + 0.01,
                "{g:?} vs {h:?}"
            );
        }
    }
    let (wa, wb) = (
        a[0].leaf_weights.as_ref().unwrap(),
        b[0].leaf_weights.as_ref().unwrap(),
    );
    for (ta, tb) in wa.iter().zip(wb) {
        for (x, y) in ta.iter().zip(tb) {
            assert!((x - y).abs() <= tol, "leaf weight {x} vs {y}");
        }
    }
    assert_eq!(a[0].base_margin, b[0].base_margin);
}

#[test]
fn two_party_trees_equal_the_dealers_and_the_plaintext() {
    for (loss, depth, tol) in [(Loss::Logistic, 3, 2e-3), (Loss::Squared, 2, 5e-3)] {
        let (parts, y) = data(300, loss, 7);
        let params = GbdtParams {
            loss,
            trees: 2,
            max_depth: depth,
            ..Default::default()
        };
        let reference = plain::train(&parts, &y, &params).unwrap();
        let (two, _) = train(&parts, &y, &params, false);
        let (dealt, _) = train(&parts, &y, &params, true);
        assert_same_forest(&two, &dealt, tol);
        for o in &two {
            assert_eq!(o.trees, reference.trees);
        }
        // Both parties own splits: the feature holder's histograms came
        // through the dealer-free kernel.
        assert!(two.iter().all(|o| !o.own_gains.is_empty()), "{loss:?}");
    }
}

#[test]
fn leaked_instance_space_without_a_dealer_equals_the_plaintext() {
    let (parts, y) = data(300, Loss::Logistic, 8);
    let params = GbdtParams {
        trees: 2,
        max_depth: 3,
        instance_space: tree::InstanceSpace::Leaked,
        ..Default::default()
    };
    let reference = plain::train(&parts, &y, &params).unwrap();
    let (two, _) = train(&parts, &y, &params, false);
    let (hidden, _) = train(
        &parts,
        &y,
        &GbdtParams {
            instance_space: tree::InstanceSpace::Hidden,
            ..params.clone()
        },
        false,
    );
    assert_same_forest(&two, &hidden, 2e-3);
    for o in &two {
        assert_eq!(o.trees, reference.trees);
    }
    // Both parties own splits: per-node bins of both went through the
    // dealer-free kernel.
    assert!(two.iter().all(|o| !o.own_gains.is_empty()));
}

/// Whether `needle` occurs in any frame.
fn occurs(frames: &[Vec<u8>], needle: &[u8]) -> bool {
    frames
        .iter()
        .any(|f| f.windows(needle.len()).any(|w| w == needle))
}

#[test]
fn the_label_holder_receives_neither_bins_nor_scores_of_the_feature_holder() {
    let (parts, y) = data(300, Loss::Logistic, 9);
    let params = GbdtParams {
        trees: 2,
        max_depth: 2,
        ..Default::default()
    };
    let (outs, frames) = train(&parts, &y, &params, false);
    let column: Vec<u16> = parts[1].indices.column(0).iter().copied().collect();
    // The feature holder's first 24 bins, as bytes, as u16 and as u64.
    let window = &column[..24];
    let as_u8: Vec<u8> = window.iter().map(|&b| b as u8).collect();
    let as_u16: Vec<u8> = window.iter().flat_map(|b| b.to_le_bytes()).collect();
    let as_u64: Vec<u8> = window
        .iter()
        .flat_map(|&b| (b as u64).to_le_bytes())
        .collect();
    for needle in [&as_u8, &as_u16, &as_u64] {
        assert!(!occurs(&frames[0], needle), "the label holder got the bins");
    }
    assert!(!outs[0].trees.is_empty());

    // Joint scoring without a dealer: equal to the plaintext prediction.
    let forest = plain::train(&parts, &y, &params).unwrap();
    let (new, _) = data(80, Loss::Logistic, 10);
    let want = plain::predict(&forest, &new);
    let roles = Roles::new(2, 0, None).unwrap();
    let (got, _) = tree_scores(2, &roles, &new, &forest);
    let scores = got[0].as_ref().unwrap();
    assert!(got[1].is_none());
    for (g, w) in scores.iter().zip(&want) {
        assert!((g - w).abs() < 1e-3, "{g} vs {w}");
    }
}

#[test]
fn three_data_parties_without_a_dealer_are_refused() {
    let (sets, _) = recorded_mesh(3);
    let roles = Roles::new(3, 0, None).unwrap();
    let (parts, y) = data(20, Loss::Logistic, 3);
    let mut set = sets.into_iter().next().unwrap();
    let mut rng = StdRng::seed_from_u64(1);
    let err = tree::train(
        &mut set,
        &roles,
        parts.first(),
        Some(&y),
        &GbdtParams::default(),
        &mut |_| {},
        &mut rng,
    )
    .unwrap_err();
    assert!(err.to_string().contains("dealer"), "{err}");
}
