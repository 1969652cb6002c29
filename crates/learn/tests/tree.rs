//! Vertical gradient-boosted trees against the plaintext reference with
//! the same bins, parameters and row order: 2 and 3 data parties plus a
//! dealer, one thread each, over recording in-memory channels; logistic
//! and squared loss, missing values, subsampling and early stopping; joint
//! scoring; what the transcripts hold; the same with the instance space
//! leaked (`--leak-instance-space`) and what that mode sends.

use indomain_learn::align::Roles;
use indomain_learn::tree::plain::{self, PlainForest};
use indomain_learn::tree::{
    self, BinnedFeatures, FeatureShape, GbdtParams, InstanceSpace, Loss, TreeEarlyStopping,
    TreeOutcome,
};
use ndarray::Array2;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

mod harness;
use harness::{Frames, contains_any, recorded_mesh, run, tree_scores};

/// Generated data: every party's bins (party 0 holds the labels) and
/// labels with a clear signal in several features of every party.
struct Data {
    parts: Vec<BinnedFeatures>,
    y: Vec<f64>,
}

fn data(rows: usize, parties: usize, loss: Loss, seed: u64) -> Data {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut parts = Vec::new();
    let mut signal = vec![0.0; rows];
    for p in 0..parties {
        // Feature 0: 8 value bins; feature 1: 6 value bins and a missing bin
        // (about 10 % of the rows).
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
        let weight = [1.6, -1.1, 0.7][p];
        for i in 0..rows {
            let b0 = idx[[i, 0]] as f64 - 3.5;
            let b1 = if idx[[i, 1]] == 6 {
                2.0
            } else {
                idx[[i, 1]] as f64 - 2.5
            };
            signal[i] += weight * b0 / 2.0 + 0.45 * weight * b1;
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
    Data { parts, y }
}

/// Trains at every party (party `n` is the dealer); returns each data
/// party's outcome and every party's received frames.
fn secure(d: &Data, params: &GbdtParams) -> (Vec<TreeOutcome>, Vec<Frames>) {
    let n = d.parts.len();
    let roles = Roles::new(n + 1, 0, Some(n)).unwrap();
    let (outs, frames) = run(n + 1, |set| {
        let i = set.me();
        let own = d.parts.get(i);
        let y = (i == 0).then_some(&d.y[..]);
        let mut rng = StdRng::seed_from_u64(i as u64 + 100);
        tree::train(set, &roles, own, y, params, &mut |_| {}, &mut rng).unwrap()
    });
    (outs[..n].to_vec(), frames)
}

/// The secure forest at the label holder matches the plaintext one:
/// same trees, leaf weights within `tol`, every owner's gains within a
/// relative 1 %.
fn assert_same(outs: &[TreeOutcome], reference: &PlainForest, tol: f64) {
    for o in outs {
        assert_eq!(o.trees, reference.trees, "tree structure");
    }
    let weights = outs[0].leaf_weights.as_ref().unwrap();
    for (t, (got, want)) in weights.iter().zip(&reference.leaf_weights).enumerate() {
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() <= tol, "tree {t}: leaf weight {g} vs {w}");
        }
    }
    assert!((outs[0].base_margin.unwrap() - reference.base_margin).abs() < 1e-12);
    for (rank, o) in outs.iter().enumerate() {
        for &(t, node, gain) in &o.own_gains {
            let want = reference.gains[t][node].expect("a split node");
            assert!(
                (gain - want).abs() <= 0.01 * want.abs() + 0.01,
                "rank {rank} tree {t} node {node}: gain {gain} vs {want}"
            );
            assert!(
                matches!(reference.trees[t].nodes[node], tree::Node::Split { party, .. } if party == rank)
            );
        }
    }
    // Every split is some owner's.
    let splits: usize = reference
        .gains
        .iter()
        .map(|g| g.iter().flatten().count())
        .sum();
    assert_eq!(
        outs.iter().map(|o| o.own_gains.len()).sum::<usize>(),
        splits
    );
}

#[test]
fn secure_training_equals_plaintext_logistic_with_two_and_three_parties() {
    for parties in [2, 3] {
        let d = data(500, parties, Loss::Logistic, parties as u64);
        let params = GbdtParams {
            trees: 3,
            max_depth: 3,
            ..Default::default()
        };
        let reference = plain::train(&d.parts, &d.y, &params).unwrap();
        // The forest uses every party's features.
        let owners: std::collections::HashSet<usize> = reference
            .trees
            .iter()
            .flat_map(|t| t.nodes.iter())
            .filter_map(|n| match n {
                tree::Node::Split { party, .. } => Some(*party),
                _ => None,
            })
            .collect();
        assert_eq!(owners.len(), parties, "{owners:?}");
        let (outs, _) = secure(&d, &params);
        assert_same(&outs, &reference, 2e-3);
    }
}

#[test]
fn secure_training_equals_plaintext_squared_with_two_and_three_parties() {
    for parties in [2, 3] {
        let d = data(400, parties, Loss::Squared, 10 + parties as u64);
        let params = GbdtParams {
            loss: Loss::Squared,
            trees: 3,
            max_depth: 2,
            min_child_weight: 5.0,
            gamma: 0.5,
            ..Default::default()
        };
        let reference = plain::train(&d.parts, &d.y, &params).unwrap();
        let (outs, _) = secure(&d, &params);
        assert_same(&outs, &reference, 5e-3);
    }
}

#[test]
fn subsampling_and_early_stopping_follow_the_plaintext() {
    let d = data(600, 2, Loss::Logistic, 21);
    let params = GbdtParams {
        trees: 30,
        max_depth: 4,
        subsample: 0.7,
        learning_rate: 1.0,
        early_stopping: Some(TreeEarlyStopping {
            validation_fraction: 0.3,
            patience: 2,
        }),
        seed: 5,
        ..Default::default()
    };
    let reference = plain::train(&d.parts, &d.y, &params).unwrap();
    // The plaintext run stops after 11 trees and keeps the best 9.
    assert_eq!(
        (reference.trees.len(), reference.validation_loss.len()),
        (9, 11)
    );
    let (outs, _) = secure(&d, &params);
    assert_same(&outs, &reference, 5e-3);
    assert_eq!(outs[0].trees_grown, 11);
    let got = &outs[0].validation_loss;
    assert_eq!(got.len(), reference.validation_loss.len());
    for (g, w) in got.iter().zip(&reference.validation_loss) {
        assert!((g - w).abs() < 2e-3, "{g} vs {w}");
    }
}

/// Frames of at least `words` little-endian u64s that are all 0 or 1: a
/// membership or path-bit vector in the clear.
fn zero_one_vectors(frames: &[Vec<u8>], words: usize) -> usize {
    frames
        .iter()
        .filter(|f| {
            f.len() % 8 == 0
                && f.len() / 8 >= words
                && f.chunks_exact(8)
                    .all(|w| u64::from_le_bytes(w.try_into().unwrap()) <= 1)
        })
        .count()
}

#[test]
fn transcripts_hold_no_labels_gradients_or_membership() {
    let d = data(300, 2, Loss::Squared, 31);
    let params = GbdtParams {
        loss: Loss::Squared,
        trees: 2,
        max_depth: 3,
        ..Default::default()
    };
    let (outs, frames) = secure(&d, &params);
    assert!(outs[0].trees[0].nodes.len() > 3);
    // The label holder's labels and the first tree's gradients as the
    // protocol encodes them (labels over 2^k, see tree::train).
    let fp = indomain_core::FixedPoint::new(params.frac_bits).unwrap();
    let base = tree::base_margin(Loss::Squared, &d.y);
    let spread = d.y.iter().map(|v| (v - base).abs()).fold(0.0, f64::max);
    let scale = 2f64.powi(spread.log2().ceil().max(0.0) as i32);
    let labels: Vec<u64> = d.y.iter().map(|v| fp.encode(v / scale).unwrap()).collect();
    let b = fp.encode(base / scale).unwrap();
    let gradients: Vec<u64> = labels
        .iter()
        .map(|y| b.wrapping_sub(*y))
        .filter(|g| (*g as i64).unsigned_abs() > 1 << 10)
        .collect();
    assert!(gradients.len() > 250);
    for (party, f) in frames.iter().enumerate().skip(1) {
        assert!(!contains_any(f, &labels), "party {party} received a label");
        assert!(
            !contains_any(f, &gradients),
            "party {party} received a gradient"
        );
    }
    // No party receives a membership vector, an owner's left indicator or
    // any other 0/1 vector over the rows in the clear.
    for (party, f) in frames.iter().enumerate() {
        assert_eq!(zero_one_vectors(f, 64), 0, "party {party}");
    }
}

#[test]
fn joint_scoring_equals_plaintext_and_hides_path_bits() {
    let train_data = data(400, 3, Loss::Logistic, 41);
    let params = GbdtParams {
        trees: 4,
        max_depth: 3,
        ..Default::default()
    };
    let forest = plain::train(&train_data.parts, &train_data.y, &params).unwrap();
    let new = data(150, 3, Loss::Logistic, 42);
    let want = plain::predict(&forest, &new.parts);
    let n = new.parts.len();
    let roles = Roles::new(n + 1, 0, Some(n)).unwrap();
    let (got, frames) = tree_scores(n + 1, &roles, &new.parts, &forest);
    let scores = got[0].as_ref().unwrap();
    assert!(got[1..].iter().all(Option::is_none));
    for (g, w) in scores.iter().zip(&want) {
        assert!((g - w).abs() < 1e-3, "{g} vs {w}");
    }
    // Nobody receives another party's consistency bits in the clear, and
    // the feature holders no score.
    let fp = indomain_core::FixedPoint::new(16).unwrap();
    let margins: Vec<u64> = scores
        .iter()
        .map(|z| fp.encode(*z - forest.base_margin).unwrap())
        .collect();
    for (party, f) in frames.iter().enumerate() {
        assert_eq!(zero_one_vectors(f, 64), 0, "party {party}");
        if party > 0 {
            assert!(!contains_any(f, &margins), "party {party} received a score");
        }
    }
}

#[test]
fn bad_input_is_refused_before_training() {
    let d = data(50, 2, Loss::Logistic, 51);
    let roles = Roles::new(3, 0, Some(2)).unwrap();
    let (mut sets, _) = recorded_mesh(3);
    // Labels that are not 0/1, checked at the label holder alone.
    let mut y = d.y.clone();
    y[7] = 2.0;
    let err = tree::train(
        &mut sets[0],
        &roles,
        Some(&d.parts[0]),
        Some(&y),
        &GbdtParams::default(),
        &mut |_| {},
        &mut StdRng::seed_from_u64(1),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("row 7") && err.contains("0 or 1"), "{err}");
    // A depth out of range.
    let err = tree::train(
        &mut sets[1],
        &roles,
        Some(&d.parts[1]),
        None,
        &GbdtParams {
            max_depth: 12,
            ..Default::default()
        },
        &mut |_| {},
        &mut StdRng::seed_from_u64(1),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("depth of 12"), "{err}");
    // A bin index beyond its feature's bins.
    let idx = Array2::from_elem((4, 1), 9u16);
    let err = BinnedFeatures::new(
        idx,
        vec![FeatureShape {
            bins: 8,
            missing: false,
        }],
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("bin 9 of 8"), "{err}");
}

#[test]
fn leaked_instance_space_equals_plaintext_with_two_and_three_parties() {
    for parties in [2, 3] {
        let d = data(500, parties, Loss::Logistic, parties as u64);
        let params = GbdtParams {
            trees: 3,
            max_depth: 3,
            instance_space: InstanceSpace::Leaked,
            ..Default::default()
        };
        let reference = plain::train(&d.parts, &d.y, &params).unwrap();
        let (outs, _) = secure(&d, &params);
        assert_same(&outs, &reference, 2e-3);
    }
    // Squared loss, min_child_weight and γ; subsampling and early
    // stopping (rows outside a tree's sample still follow the splits).
    let d = data(400, 2, Loss::Squared, 12);
    let params = GbdtParams {
        loss: Loss::Squared,
        trees: 3,
        max_depth: 2,
        min_child_weight: 5.0,
        gamma: 0.5,
        instance_space: InstanceSpace::Leaked,
        ..Default::default()
    };
    let reference = plain::train(&d.parts, &d.y, &params).unwrap();
    assert_same(&secure(&d, &params).0, &reference, 5e-3);
    let d = data(600, 2, Loss::Logistic, 21);
    let params = GbdtParams {
        trees: 30,
        max_depth: 4,
        subsample: 0.7,
        learning_rate: 1.0,
        early_stopping: Some(TreeEarlyStopping {
            validation_fraction: 0.3,
            patience: 2,
        }),
        seed: 5,
        instance_space: InstanceSpace::Leaked,
        ..Default::default()
    };
    let reference = plain::train(&d.parts, &d.y, &params).unwrap();
    let (outs, _) = secure(&d, &params);
    assert_same(&outs, &reference, 5e-3);
    assert_eq!(outs[0].trees_grown, reference.validation_loss.len());
}

/// A split of the plaintext forest as the leaked mode announces it: its
/// owner and the partition of its node's rows (ascending) packed one bit a
/// row, least significant first (docs/protocols.md).
struct Partition {
    owner: usize,
    rows: usize,
    frame: Vec<u8>,
}

fn partitions(forest: &plain::PlainForest, parts: &[BinnedFeatures]) -> Vec<Partition> {
    let n = parts[0].rows();
    let mut out = Vec::new();
    for t in &forest.trees {
        let mut stack = vec![(0usize, (0..n).collect::<Vec<usize>>())];
        while let Some((id, rows)) = stack.pop() {
            let tree::Node::Split {
                party,
                threshold,
                left,
                right,
            } = &t.nodes[id]
            else {
                continue;
            };
            let bits: Vec<bool> = rows
                .iter()
                .map(|&r| parts[*party].goes_left(r, threshold))
                .collect();
            let mut frame = vec![0u8; rows.len().div_ceil(8)];
            for (i, &b) in bits.iter().enumerate() {
                frame[i / 8] |= (b as u8) << (i % 8);
            }
            let l = rows.iter().zip(&bits).filter(|x| *x.1).map(|x| *x.0);
            let r = rows.iter().zip(&bits).filter(|x| !*x.1).map(|x| *x.0);
            stack.push((*left, l.collect()));
            stack.push((*right, r.collect()));
            out.push(Partition {
                owner: *party,
                rows: rows.len(),
                frame,
            });
        }
    }
    out
}

/// The 8-byte windows of a partition that carry information (between 16
/// and 48 rows of 64 going left), which a frame of random or structured
/// shares matches only by chance (2^-64 per window and position).
fn informative_windows(p: &Partition) -> Vec<[u8; 8]> {
    p.frame
        .chunks_exact(8)
        .filter(|w| (16..=48).contains(&w.iter().map(|b| b.count_ones()).sum::<u32>()))
        .map(|w| w.try_into().unwrap())
        .collect()
}

fn holds_any(frame: &[u8], windows: &[[u8; 8]]) -> bool {
    frame.windows(8).any(|w| windows.iter().any(|x| x == w))
}

#[test]
fn membership_is_sent_only_in_leaked_mode_and_only_as_documented() {
    let d = data(400, 3, Loss::Logistic, 33);
    let hidden = GbdtParams {
        trees: 2,
        max_depth: 3,
        ..Default::default()
    };
    let leaked = GbdtParams {
        instance_space: InstanceSpace::Leaked,
        ..hidden.clone()
    };
    let reference = plain::train(&d.parts, &d.y, &hidden).unwrap();
    let parts = partitions(&reference, &d.parts);
    let windows: Vec<[u8; 8]> = parts.iter().flat_map(informative_windows).collect();
    assert!(parts.len() >= 6 && windows.len() >= 6, "{}", windows.len());

    // Hidden: no party (the dealer, party 3, included) receives any
    // node's partition, whole or in part.
    let (outs, frames) = secure(&d, &hidden);
    assert_eq!(outs[0].trees, reference.trees);
    for (party, f) in frames.iter().enumerate() {
        assert!(
            !f.iter().any(|x| holds_any(x, &windows)),
            "party {party} received node membership in the hidden mode"
        );
    }

    // Leaked: every data party receives exactly the partition
    // of every split another data party owns, as one frame each; no other
    // frame holds membership, and the dealer receives none.
    let (outs, frames) = secure(&d, &leaked);
    assert_same(&outs, &reference, 2e-3);
    for (party, f) in frames.iter().enumerate() {
        let got: Vec<&Vec<u8>> = f.iter().filter(|x| holds_any(x, &windows)).collect();
        if party == 3 {
            assert!(got.is_empty(), "the dealer received node membership");
            continue;
        }
        let want: Vec<&Partition> = parts
            .iter()
            .filter(|p| p.owner != party && !informative_windows(p).is_empty())
            .collect();
        assert_eq!(
            got.len(),
            want.len(),
            "party {party}: frames with membership"
        );
        for p in &want {
            assert!(
                got.iter().any(|x| **x == p.frame),
                "party {party}: the partition of {} rows by party {} is not one frame",
                p.rows,
                p.owner
            );
        }
        // Nothing else changes in kind: no labels, no 0/1 word vectors.
        assert_eq!(zero_one_vectors(f, 64), 0, "party {party}");
    }
}
