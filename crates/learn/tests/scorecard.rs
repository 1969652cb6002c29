//! The WOE scorecard's secure training and joint scoring against the
//! plaintext: weights against plaintext gradient descent on the WOE
//! columns (same sigmoid approximation, rows, parameters), points against
//! the plaintext points table of the same weights, scores against the
//! plaintext sum of points. 2 and 3 computing parties and a dealer; two
//! computing parties without one (two-party correlations), equal to the
//! dealer's run and to the plaintext.

mod harness;

use harness::{binned, contains_any, run};
use indomain_core::FixedPoint;
use indomain_learn::align::Roles;
use indomain_learn::plain;
use indomain_learn::scorecard::{Scale, score, train};
use indomain_learn::woe::{bin_counts, woe_iv};
use indomain_learn::{LearnError, TrainParams};
use indomain_mpc::Shared;
use indomain_mpc::sigmoid::sigmoid_approx;
use ndarray::Array2;

fn params() -> TrainParams {
    TrainParams {
        l2: 0.01,
        ..TrainParams::gradient_descent(12, 1.0)
    }
}

/// Every feature's WOE (rank order) and the WOE columns in the clear.
fn woe_columns(d: &harness::Binned) -> (Vec<Vec<f64>>, Array2<f64>) {
    let rows = d.y.len();
    let mut woe = Vec::new();
    for (p, party) in d.bins.iter().enumerate() {
        for (j, feature) in party.iter().enumerate() {
            let (e, n) = bin_counts(feature, &d.y, d.sizes[p][j]);
            woe.push(woe_iv(&e, &n).woe);
        }
    }
    let flat: Vec<&Vec<u16>> = d.bins.iter().flatten().collect();
    let x = Array2::from_shape_fn((rows, flat.len()), |(r, f)| woe[f][flat[f][r] as usize]);
    (woe, x)
}

/// What each computing party ends a secure scorecard with: its training
/// outcome and the joint scores of the training rows.
type CardRun = Option<(train::Outcome, Option<Vec<f64>>)>;

/// Trains and scores a scorecard on `d` among its data parties and, with
/// `dealer`, one more party that deals (otherwise two-party correlations).
fn secure_card(
    d: &harness::Binned,
    encoded: &[u64],
    dealer: bool,
) -> (Vec<CardRun>, Vec<harness::Frames>) {
    let data = d.sizes.len();
    let parties = data + usize::from(dealer);
    let scale = Scale::default();
    run(parties, |set| {
        let me = set.me();
        let mut rng = rand::rng();
        let roles = Roles::new(parties, 0, dealer.then_some(data)).unwrap();
        if me == data {
            train::train(
                set,
                &roles,
                train::Input {
                    bins: &[],
                    sizes: &[],
                    woe: &Shared::default(),
                    labels: None,
                },
                &params(),
                &scale,
                true,
                &mut rng,
            )
            .unwrap();
            score::score(set, &roles, &[], &[], &[], &Shared::default(), 16, &mut rng).unwrap();
            return None;
        }
        // The label holder deals the WOE of every bin (as in the default
        // mode); the others hold zero shares.
        let share = if me == 0 {
            Shared(encoded.to_vec())
        } else {
            Shared::zeros(encoded.len())
        };
        let index = d.index(me);
        let o = train::train(
            set,
            &roles,
            train::Input {
                bins: &index,
                sizes: &d.sizes[me],
                woe: &share,
                labels: (me == 0).then_some(&d.y[..]),
            },
            &params(),
            &scale,
            true,
            &mut rng,
        )
        .unwrap();
        let scores = score::score(
            set,
            &roles,
            &index,
            &d.sizes[me],
            &o.sizes,
            &o.points,
            16,
            &mut rng,
        )
        .unwrap();
        Some((o, scores))
    })
}

#[test]
fn secure_scorecard_equals_the_plaintext_one() {
    for sizes in [
        vec![vec![4, 3], vec![5, 2]],
        vec![vec![3], vec![4], vec![6, 2]],
    ] {
        let dealer = sizes.len();
        let d = binned(600, &sizes, 7);
        let (woe, x) = woe_columns(&d);
        let flat_woe: Vec<f64> = woe.iter().flatten().copied().collect();
        let fp = FixedPoint::new(16).unwrap();
        let encoded = fp.encode_slice(&flat_woe).unwrap();
        let scale = Scale::default();
        let (out, frames) = secure_card(&d, &encoded, true);
        let plain = plain::train_with(x.view(), &d.y, &params(), sigmoid_approx).unwrap();
        let (lead, scores) = out[0].clone().unwrap();
        let weights = lead.all_weights.clone().unwrap();
        let intercept = lead.intercept.unwrap();
        assert!(
            (intercept - plain.intercept).abs() < 2e-3,
            "{intercept} vs {}",
            plain.intercept
        );
        for (a, b) in weights.iter().zip(&plain.weights) {
            assert!((a - b).abs() < 2e-3, "{weights:?} vs {:?}", plain.weights);
        }
        assert_eq!(lead.own_weights, weights[..sizes[0].len()].to_vec());
        // Points: the opened shares equal the plaintext table of the same
        // weights.
        let all_points: Vec<u64> = out.iter().flatten().map(|(o, _)| o.points.clone()).fold(
            vec![0u64; encoded.len()],
            |acc, p| {
                acc.iter()
                    .zip(&p.0)
                    .map(|(a, b)| a.wrapping_add(*b))
                    .collect()
            },
        );
        let points = fp.decode_slice(&all_points);
        let m = weights.len();
        let want: Vec<f64> = woe
            .iter()
            .zip(&weights)
            .flat_map(|(w, &wt)| scale.points(wt, w, intercept, m))
            .collect();
        for (a, b) in points.iter().zip(&want) {
            assert!((a - b).abs() < 0.05, "{points:?} vs {want:?}");
        }
        // Scores: the label holder's equal the plaintext sum of points.
        let scores = scores.unwrap();
        let flat_bins: Vec<&Vec<u16>> = d.bins.iter().flatten().collect();
        let mut offsets = vec![0];
        for w in &woe {
            offsets.push(offsets.last().unwrap() + w.len());
        }
        for (r, s) in scores.iter().enumerate() {
            let want: f64 = flat_bins
                .iter()
                .enumerate()
                .map(|(f, b)| points[offsets[f] + b[r] as usize])
                .sum();
            assert!((s - want).abs() < 1e-3, "row {r}: {s} vs {want}");
            let z = intercept + (0..m).map(|f| weights[f] * x[[r, f]]).sum::<f64>();
            assert!(
                (s - scale.score(z)).abs() < 0.5,
                "row {r}: {s} vs {}",
                scale.score(z)
            );
        }
        let train_z = lead.train_scores.clone().unwrap();
        for (r, z) in train_z.iter().enumerate() {
            let want = intercept + (0..m).map(|f| weights[f] * x[[r, f]]).sum::<f64>();
            assert!((z - want).abs() < 1e-3, "row {r}: {z} vs {want}");
        }
        for o in out.iter().skip(1).flatten() {
            assert!(o.0.train_scores.is_none());
            assert!(o.1.is_none() && o.0.intercept.is_none() && o.0.own_weights.is_empty());
        }
        // No owner receives the label holder's WOE values or the labels.
        let labels: Vec<u64> = fp.encode_slice(&d.y).unwrap();
        for f in &frames[1..dealer] {
            assert!(!contains_any(f, &encoded));
            assert!(!contains_any(
                f,
                &labels[..1]
                    .iter()
                    .chain(&encoded)
                    .copied()
                    .collect::<Vec<_>>()
            ));
        }
    }
}

#[test]
fn two_parties_without_a_dealer_train_and_score_the_dealers_scorecard() {
    let sizes = vec![vec![4, 3], vec![5, 2]];
    let d = binned(400, &sizes, 11);
    let (woe, x) = woe_columns(&d);
    let flat_woe: Vec<f64> = woe.iter().flatten().copied().collect();
    let fp = FixedPoint::new(16).unwrap();
    let encoded = fp.encode_slice(&flat_woe).unwrap();
    let (alone, frames) = secure_card(&d, &encoded, false);
    let (dealt, _) = secure_card(&d, &encoded, true);
    assert_eq!(alone.len(), 2, "two parties, no third");
    let plain = plain::train_with(x.view(), &d.y, &params(), sigmoid_approx).unwrap();
    let lead = |out: &[CardRun]| out[0].clone().unwrap();
    let ((a, a_scores), (b, b_scores)) = (lead(&alone), lead(&dealt));
    // The same fixed-point training: the weights of the two runs differ by
    // the probabilistic truncations' last bits only, and both equal the
    // plaintext.
    let (wa, wb) = (a.all_weights.unwrap(), b.all_weights.unwrap());
    for ((x, y), p) in wa.iter().zip(&wb).zip(&plain.weights) {
        assert!((x - y).abs() < 1e-3, "two-party {wa:?} vs dealer {wb:?}");
        assert!(
            (x - p).abs() < 2e-3,
            "two-party {wa:?} vs plain {:?}",
            plain.weights
        );
    }
    let (ia, ib) = (a.intercept.unwrap(), b.intercept.unwrap());
    assert!((ia - ib).abs() < 1e-3 && (ia - plain.intercept).abs() < 2e-3);
    assert_eq!(a.loss_per_epoch.len(), 12);
    for (x, y) in a.loss_per_epoch.iter().zip(&b.loss_per_epoch) {
        assert!((x - y).abs() < 1e-3, "loss {x} vs {y}");
    }
    let (za, zb) = (a.train_scores.unwrap(), b.train_scores.unwrap());
    for (x, y) in za.iter().zip(&zb) {
        assert!((x - y).abs() < 1e-3, "log-odds {x} vs {y}");
    }
    let (sa, sb) = (a_scores.unwrap(), b_scores.unwrap());
    assert_eq!(sa.len(), 400);
    for (x, y) in sa.iter().zip(&sb) {
        assert!((x - y).abs() < 0.05, "score {x} vs {y}");
    }
    // The owner's frames hold none of the label holder's WOE.
    assert!(!contains_any(&frames[1], &encoded));
    let owner = alone[1].clone().unwrap();
    assert!(owner.0.intercept.is_none() && owner.1.is_none());
}

#[test]
fn bad_parameters_and_shapes_are_refused() {
    let d = binned(50, &[vec![3], vec![2]], 1);
    let (out, _) = run(3, |set| {
        let me = set.me();
        let index = if me < 2 { d.index(me) } else { Vec::new() };
        let sizes: &[usize] = if me < 2 { &d.sizes[me] } else { &[] };
        let p = TrainParams {
            batch_size: Some(10),
            ..params()
        };
        train::train(
            set,
            &Roles::new(3, 0, Some(2)).unwrap(),
            train::Input {
                bins: &index,
                sizes,
                woe: &Shared::zeros(5),
                labels: (me == 0).then_some(&d.y[..]),
            },
            &p,
            &Scale::default(),
            false,
            &mut rand::rng(),
        )
        .map(|_| ())
    });
    for r in out {
        assert!(matches!(r, Err(LearnError::Params(m)) if m.contains("full-batch")));
    }
}
