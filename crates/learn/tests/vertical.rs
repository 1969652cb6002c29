//! Vertical training by gradient descent and joint scoring against
//! plaintext gradient descent with the same sigmoid approximation, rows,
//! order and hyper-parameters:
//! 2 and 3 computing parties plus a dealer, one thread each, over
//! recording in-memory channels.

use indomain_core::FixedPoint;
use indomain_learn::align::Roles;
use indomain_learn::vertical::{self, TrainOutcome, batch_order, batches, validation_split};
use indomain_learn::{EarlyStopping, LearnError, Sigmoid, Task, TrainParams};
use ndarray::{Array1, Array2, Axis, concatenate, s};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

mod harness;
use harness::{Frames, contains_any, run};

/// A generated vertical data set: feature blocks per data party (party 0
/// also holds the labels).
struct Data {
    blocks: Vec<Array2<f64>>,
    y: Vec<f64>,
}

fn data(rows: usize, widths: &[usize], task: Task, seed: u64) -> Data {
    let mut rng = StdRng::seed_from_u64(seed);
    let blocks: Vec<Array2<f64>> = widths
        .iter()
        .map(|&w| Array2::from_shape_fn((rows, w), |_| rng.random_range(-2.0..2.0)))
        .collect();
    let all = concatenate(
        Axis(1),
        &blocks.iter().map(|b| b.view()).collect::<Vec<_>>(),
    )
    .unwrap();
    let beta: Array1<f64> = (0..all.ncols())
        .map(|_| rng.random_range(-1.0..1.0))
        .collect();
    let z = all.dot(&beta);
    let y = z
        .iter()
        .map(|&z| match task {
            Task::Logistic => (rng.random::<f64>() < 1.0 / (1.0 + (-z).exp())) as u8 as f64,
            Task::Linear => z + 0.3 + rng.random_range(-0.5..0.5),
        })
        .collect();
    Data { blocks, y }
}

/// Runs training at every party; returns outcomes in party order (the
/// dealer last) and each party's received bytes.
fn train_all(
    d: &Data,
    params: &TrainParams,
) -> (Vec<Result<TrainOutcome, LearnError>>, Vec<Frames>) {
    let n = d.blocks.len() + 1;
    let empty = Array2::<f64>::zeros((0, 0));
    run(n, |set| {
        let i = set.me();
        // A party without columns passes an empty matrix.
        let x = d
            .blocks
            .get(i)
            .filter(|b| b.ncols() > 0)
            .map_or(empty.view(), |b| b.view());
        let y = (i == 0).then_some(d.y.as_slice());
        let mut rng = StdRng::seed_from_u64(100 + i as u64);
        let roles = Roles::new(n, 0, Some(n - 1)).unwrap();
        vertical::train(set, &roles, x, y, params, &mut |_, _| {}, &mut rng)
    })
}

fn approx_sigmoid(z: f64, kind: Sigmoid) -> f64 {
    let linear = 0.5 + z / 4.0;
    match kind {
        Sigmoid::Clamped => linear.clamp(0.0, 1.0),
        _ => linear,
    }
}

struct Plain {
    w: Array1<f64>,
    loss: Vec<f64>,
    epochs: usize,
}

/// Plaintext gradient descent doing what the secure protocol does: the
/// label holder's block then a column of ones, then the other blocks.
fn plain_train(d: &Data, p: &TrainParams) -> Plain {
    let rows = d.y.len();
    let mut cols = vec![d.blocks[0].view()];
    let ones = Array2::from_elem((rows, 1), 1.0);
    cols.push(ones.view());
    cols.extend(d.blocks[1..].iter().map(|b| b.view()));
    let x = concatenate(Axis(1), &cols).unwrap();
    let intercept = d.blocks[0].ncols();
    let y = Array1::from(d.y.clone());
    let (tr, va) = validation_split(
        rows,
        p.early_stopping.map(|e| e.validation_fraction),
        p.seed,
    );
    let xt = x.select(Axis(0), &tr);
    let yt = y.select(Axis(0), &tr);
    let xv = x.select(Axis(0), &va);
    let yv = y.select(Axis(0), &va);
    let bs = batches(tr.len(), p.batch_size);
    let mut w = Array1::<f64>::zeros(x.ncols());
    let mut loss = Vec::new();
    let mut best = (f64::INFINITY, w.clone());
    let mut since = 0;
    let mut epochs = 0;
    for epoch in 0..p.epochs {
        let mut sq = 0.0;
        for b in batch_order(epoch, bs.len(), p.seed) {
            let r = bs[b].clone();
            let xb = xt.slice(s![r.clone(), ..]);
            let z = xb.dot(&w);
            let err: Array1<f64> = z
                .iter()
                .zip(yt.slice(s![r.clone()]))
                .map(|(&z, &y)| match p.task {
                    Task::Logistic => approx_sigmoid(z, p.sigmoid) - y,
                    Task::Linear => z - y,
                })
                .collect();
            sq += err.dot(&err);
            let g = xb.t().dot(&err) / r.len() as f64;
            let mut decay = w.clone() * p.l2;
            decay[intercept] = 0.0;
            w = &w - &((g + decay) * p.learning_rate);
        }
        let mean = sq / tr.len() as f64;
        loss.push(match (p.task, p.sigmoid) {
            (Task::Linear, _) => mean / 2.0,
            (Task::Logistic, Sigmoid::Linear) => std::f64::consts::LN_2 - 0.5 + 2.0 * mean,
            // The Brier score with a clamped sigmoid.
            (Task::Logistic, _) => mean,
        });
        epochs = epoch + 1;
        if let Some(es) = p.early_stopping {
            let z = xv.dot(&w);
            let v: f64 = match p.task {
                Task::Logistic => {
                    z.iter()
                        .zip(&yv)
                        .map(|(&z, &y)| {
                            let q = (1.0 / (1.0 + (-z).exp())).clamp(1e-15, 1.0 - 1e-15);
                            -(y * q.ln() + (1.0 - y) * (1.0 - q).ln())
                        })
                        .sum::<f64>()
                        / yv.len() as f64
                }
                Task::Linear => (&z - &yv).mapv(|e| e * e).sum() / (2.0 * yv.len() as f64),
            };
            if v < best.0 {
                best = (v, w.clone());
                since = 0;
            } else {
                since += 1;
                if since >= es.patience {
                    break;
                }
            }
        }
    }
    if p.early_stopping.is_some() {
        w = best.1;
    }
    Plain { w, loss, epochs }
}

/// Weights within `tol` of the plaintext, at every party, and nothing
/// else revealed to anyone but the label holder.
fn check(d: &Data, p: &TrainParams, tol: f64) -> TrainOutcome {
    let (out, logs) = train_all(d, p);
    let plain = plain_train(d, p);
    let out: Vec<TrainOutcome> = out.into_iter().map(|r| r.unwrap()).collect();
    let mut col = 0;
    for (k, o) in out[..d.blocks.len()].iter().enumerate() {
        let width = d.blocks[k].ncols();
        assert_eq!(o.weights.len(), width);
        for (j, wv) in o.weights.iter().enumerate() {
            let want = plain.w[col + j];
            assert!(
                (wv - want).abs() <= tol,
                "party {k} weight {j}: {wv} vs {want}"
            );
        }
        col += width;
        if k == 0 {
            let b = o.intercept.unwrap();
            assert!(
                (b - plain.w[col]).abs() <= tol,
                "intercept {b} vs {}",
                plain.w[col]
            );
            col += 1;
            assert_eq!(o.epochs, plain.epochs);
            assert_eq!(o.loss_per_epoch.len(), plain.loss.len());
            for (a, b) in o.loss_per_epoch.iter().zip(&plain.loss) {
                assert!((a - b).abs() <= 1e-3, "loss {a} vs {b}");
            }
        } else {
            assert!(o.intercept.is_none() && o.loss_per_epoch.is_empty());
        }
    }
    assert!(out.last().unwrap().weights.is_empty());
    // The dealer receives requests (shapes) only: small control messages.
    let dealer_log = logs.last().unwrap();
    assert!(!dealer_log.is_empty());
    assert!(
        dealer_log.iter().all(|f| f.len() < 64),
        "the dealer received a large frame"
    );
    // No party receives another party's encoded raw features or labels.
    let fp = FixedPoint::new(p.frac_bits).unwrap();
    // Values that encode to small integers (|x| < 1/16) also occur in
    // protocol words (row counts, flags) by chance: only larger ones are
    // evidence.
    let encoded = |v: &[f64]| -> Vec<u64> {
        v.iter()
            .filter(|x| x.abs() >= 1.0 / 16.0)
            .map(|&x| fp.encode(x).unwrap())
            .collect()
    };
    let labels = encoded(&d.y);
    for (r, log) in logs.iter().enumerate() {
        for (k, b) in d.blocks.iter().enumerate().filter(|(k, _)| *k != r) {
            assert!(
                !contains_any(log, &encoded(b.as_slice().unwrap())),
                "party {r} saw party {k}'s features"
            );
        }
        if r != 0 && p.task == Task::Linear {
            // 0/1 labels encode to two values that appear by chance; real
            // labels must not appear.
            assert!(!contains_any(log, &labels), "party {r} saw the labels");
        }
    }
    out.into_iter().next().unwrap()
}

/// SecureML's gradient descent, which the plaintext oracle above repeats
/// step by step (the converged defaults are tested in converged.rs).
fn params(task: Task) -> TrainParams {
    TrainParams {
        task,
        l2: 0.01,
        ..TrainParams::gradient_descent(10, 0.3)
    }
}

#[test]
fn logistic_two_parties_full_batch_matches_plaintext() {
    let d = data(600, &[3, 4], Task::Logistic, 1);
    check(&d, &params(Task::Logistic), 2e-3);
}

#[test]
fn logistic_with_the_clamped_sigmoid_matches_plaintext_for_two_and_three_parties() {
    for (widths, seed) in [(vec![3, 4], 11), (vec![2, 3, 2], 12)] {
        let mut d = data(300, &widths, Task::Logistic, seed);
        // Scaled features: scores leave [−2, 2], where the clamp acts.
        for b in &mut d.blocks {
            b.mapv_inplace(|v| 2.0 * v);
        }
        let p = TrainParams {
            learning_rate: 1.0,
            epochs: 6,
            batch_size: Some(100),
            sigmoid: Sigmoid::Clamped,
            ..params(Task::Logistic)
        };
        check(&d, &p, 2e-3);
        // The clamp changed the training: the unclamped plaintext differs.
        let linear = plain_train(
            &d,
            &TrainParams {
                sigmoid: Sigmoid::Linear,
                ..p.clone()
            },
        );
        let clamped = plain_train(&d, &p);
        let gap = (&linear.w - &clamped.w)
            .mapv(f64::abs)
            .fold(0.0f64, |a, &b| a.max(b));
        assert!(gap > 0.05, "the clamp changed the weights by only {gap}");
    }
}

#[test]
fn linear_three_parties_mini_batch_matches_plaintext() {
    let d = data(500, &[2, 3, 2], Task::Linear, 2);
    let p = TrainParams {
        batch_size: Some(128),
        ..params(Task::Linear)
    };
    check(&d, &p, 2e-3);
}

#[test]
fn logistic_three_parties_with_early_stopping_matches_plaintext() {
    let mut d = data(400, &[2, 2, 3], Task::Logistic, 3);
    // Validation labels flipped: the validation loss has a clear minimum
    // after a few epochs, far from the rounding noise of a plateau.
    let p = TrainParams {
        epochs: 30,
        learning_rate: 1.0,
        early_stopping: Some(EarlyStopping {
            validation_fraction: 0.25,
            patience: 2,
        }),
        ..params(Task::Logistic)
    };
    for r in validation_split(400, Some(0.25), p.seed).1 {
        d.y[r] = 1.0 - d.y[r];
    }
    let label = check(&d, &p, 2e-3);
    // Training stopped early and kept an earlier epoch's weights.
    assert!(label.epochs < p.epochs, "ran all {} epochs", label.epochs);
    assert!(label.best_epoch < label.epochs);
    assert_eq!(label.validation_loss.len(), label.epochs);
}

#[test]
fn linear_two_parties_matches_plaintext() {
    let d = data(300, &[0, 5], Task::Linear, 4);
    check(&d, &params(Task::Linear), 2e-3);
}

#[test]
fn joint_scores_equal_plaintext_scores_at_the_receiver_only() {
    let d = data(200, &[2, 3, 1], Task::Linear, 5);
    let weights: Vec<Vec<f64>> = vec![vec![0.5, -1.0], vec![0.25, 2.0, -0.75], vec![1.5]];
    let b = 0.125;
    let n = 4;
    let empty = Array2::<f64>::zeros((0, 0));
    let (out, frames) = run(n, |set| {
        let i = set.me();
        let x = d.blocks.get(i).map_or(empty.view(), |b| b.view());
        let w: &[f64] = weights.get(i).map_or(&[], |w| w.as_slice());
        let mut rng = StdRng::seed_from_u64(i as u64);
        let icpt = (i == 0).then_some(b);
        let roles = Roles::new(n, 0, Some(n - 1)).unwrap();
        vertical::predict(set, &roles, 0, x, w, icpt, 16, &mut rng).unwrap()
    });
    let mut want = Array1::from_elem(200, b);
    for (blk, w) in d.blocks.iter().zip(&weights) {
        want = want + blk.dot(&Array1::from(w.clone()));
    }
    let got = out[0].as_ref().unwrap();
    for (g, w) in got.iter().zip(&want) {
        assert!((g - w).abs() < 1e-4, "{g} vs {w}");
    }
    assert!(out[1..].iter().all(Option::is_none));
    // No party's partial scores reach anyone.
    let fp = FixedPoint::new(16).unwrap();
    for (k, (blk, w)) in d.blocks.iter().zip(&weights).enumerate() {
        let mut partial = blk.dot(&Array1::from(w.clone()));
        if k == 0 {
            partial += b;
        }
        let enc: Vec<u64> = partial.iter().map(|&v| fp.encode(v).unwrap()).collect();
        for (r, log) in frames.iter().enumerate().filter(|(r, _)| *r != k) {
            assert!(
                !contains_any(log, &enc),
                "party {r} saw party {k}'s partial scores"
            );
        }
    }
}

#[test]
fn bad_inputs_are_refused_before_training() {
    let d = data(50, &[2, 2], Task::Logistic, 6);
    let mut bad = Data {
        blocks: d.blocks.clone(),
        y: d.y.clone(),
    };
    bad.y[7] = 0.5;
    let (out, _) = train_all(&bad, &params(Task::Logistic));
    assert!(matches!(&out[0], Err(LearnError::Input(m)) if m.contains("row 7")));
    assert!(out[1].is_err() && out[2].is_err());

    let mut bad = Data {
        blocks: d.blocks.clone(),
        y: d.y.clone(),
    };
    bad.blocks[1][[3, 1]] = 1e6;
    let (out, _) = train_all(&bad, &params(Task::Logistic));
    assert!(matches!(&out[1], Err(LearnError::Input(m)) if m.contains("row 3")));
    assert!(out[0].is_err());

    let bad = Data {
        blocks: vec![
            d.blocks[0].clone(),
            d.blocks[1].slice(s![..40, ..]).to_owned(),
        ],
        y: d.y.clone(),
    };
    let (out, _) = train_all(&bad, &params(Task::Logistic));
    assert!(matches!(&out[0], Err(LearnError::Disagreement { peer, .. }) if peer == "p1"));

    let p = TrainParams {
        epochs: 0,
        ..params(Task::Logistic)
    };
    let (out, _) = train_all(&d, &p);
    assert!(out.iter().all(|r| matches!(r, Err(LearnError::Params(_)))));
}

/// The label holder and the dealer need not be the first and last parties
/// of the set: here the dealer is party 0, a feature holder party 1 and
/// the label holder party 2.
#[test]
fn any_set_order_of_label_holder_feature_holder_and_dealer() {
    let d = data(300, &[3, 2], Task::Logistic, 8);
    let p = params(Task::Logistic);
    let empty = Array2::<f64>::zeros((0, 0));
    let (out, _) = run(3, |set| {
        let i = set.me();
        let x = match i {
            2 => d.blocks[0].view(),
            1 => d.blocks[1].view(),
            _ => empty.view(),
        };
        let y = (i == 2).then_some(d.y.as_slice());
        let mut rng = StdRng::seed_from_u64(i as u64);
        let roles = Roles::new(3, 2, Some(0)).unwrap();
        vertical::train(set, &roles, x, y, &p, &mut |_, _| {}, &mut rng).unwrap()
    });
    let plain = plain_train(&d, &p);
    let mut secure = out[2].weights.clone();
    secure.push(out[2].intercept.unwrap());
    secure.extend(&out[1].weights);
    for (s, w) in secure.iter().zip(&plain.w) {
        assert!((s - w).abs() <= 2e-3, "{s} vs {w}");
    }
    assert!(out[0].weights.is_empty() && out[1].intercept.is_none());
}

#[test]
fn a_feature_holder_without_columns_takes_part() {
    let d = data(200, &[2, 0, 3], Task::Logistic, 11);
    check(&d, &params(Task::Logistic), 2e-3);
}

#[test]
fn four_feature_holders_match_plaintext() {
    let d = data(200, &[1, 2, 1, 2, 1], Task::Linear, 9);
    check(&d, &params(Task::Linear), 2e-3);
}

#[test]
fn scoring_refuses_parties_with_different_row_counts() {
    let d = data(50, &[2, 2], Task::Linear, 10);
    let (out, _) = run(3, |set| {
        let i = set.me();
        let x = match i {
            0 => d.blocks[0].view(),
            _ => d.blocks[1].slice(s![..40, ..]),
        };
        let mut rng = StdRng::seed_from_u64(i as u64);
        let roles = Roles::new(3, 0, Some(2)).unwrap();
        vertical::predict(set, &roles, 0, x, &[1.0, 2.0], None, 16, &mut rng)
    });
    assert!(matches!(&out[0], Err(LearnError::Disagreement { peer, .. }) if peer == "p1"));
    assert!(out[1].is_err());
    assert!(matches!(out[2], Ok(None)));
}

/// Trains with no dealer: the data parties of `d` are the whole set.
fn train_without_dealer(d: &Data, p: &TrainParams) -> Vec<Result<TrainOutcome, LearnError>> {
    let n = d.blocks.len();
    let roles = Roles::new(n, 0, None).unwrap();
    let (out, frames) = run(n, |set| {
        let i = set.me();
        let (x, y) = (d.blocks[i].view(), (i == 0).then_some(d.y.as_slice()));
        let mut rng = StdRng::seed_from_u64(i as u64);
        vertical::train(set, &roles, x, y, p, &mut |_, _| {}, &mut rng)
    });
    // The feature holder never receives the label holder's raw features.
    if n == 2 {
        let fp = FixedPoint::new(p.frac_bits).unwrap();
        let raw: Vec<u64> = d.blocks[0]
            .iter()
            .filter(|x| x.abs() >= 1.0 / 16.0)
            .map(|&x| fp.encode(x).unwrap())
            .collect();
        assert!(!contains_any(&frames[1], &raw));
    }
    out
}

#[test]
fn two_data_parties_train_without_a_dealer_as_with_one() {
    for task in [Task::Logistic, Task::Linear] {
        let d = data(60, &[2, 3], task, 12);
        let p = params(task);
        let plain = plain_train(&d, &p);
        let with_dealer: Vec<TrainOutcome> = train_all(&d, &p)
            .0
            .into_iter()
            .map(|r| r.unwrap())
            .collect();
        let two_party: Vec<TrainOutcome> = train_without_dealer(&d, &p)
            .into_iter()
            .map(|r| r.unwrap())
            .collect();
        // The same fixed-point computation: weights within the rounding of
        // local truncation (a few units of 2^-f per step) of each other and
        // of plaintext.
        let mut col = 0;
        for k in 0..2 {
            for (j, (a, b)) in two_party[k]
                .weights
                .iter()
                .zip(&with_dealer[k].weights)
                .enumerate()
            {
                assert!(
                    (a - b).abs() < 1e-3,
                    "{task:?} party {k} weight {j}: {a} vs {b}"
                );
                let want = plain.w[col + j];
                assert!((a - want).abs() < 2e-3, "{a} vs plaintext {want}");
            }
            col += two_party[k].weights.len() + (k == 0) as usize;
        }
        let (a, b) = (
            two_party[0].intercept.unwrap(),
            with_dealer[0].intercept.unwrap(),
        );
        assert!((a - b).abs() < 1e-3, "intercept {a} vs {b}");
        assert_eq!(two_party[0].loss_per_epoch.len(), p.epochs);
    }
}

#[test]
fn without_a_dealer_the_fourier_sigmoid_and_bound_newton_run_as_with_one() {
    let d = data(60, &[2, 3], Task::Logistic, 13);
    // The default (Fourier) sigmoid: its trigonometric masks, AND
    // triples and daBits come from the two parties themselves.
    let p = TrainParams {
        epochs: 4,
        convergence: None,
        ..TrainParams::default()
    };
    assert_eq!(p.sigmoid, Sigmoid::Fourier);
    let two_party: Vec<TrainOutcome> = train_without_dealer(&d, &p)
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    let with_dealer: Vec<TrainOutcome> = train_all(&d, &p)
        .0
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    for k in 0..2 {
        for (a, b) in two_party[k].weights.iter().zip(&with_dealer[k].weights) {
            assert!((a - b).abs() < 1e-3, "Fourier, party {k}: {a} vs {b}");
        }
    }
    assert!(two_party[0].weights.iter().any(|w| w.abs() > 0.01));
    // Bound-Newton with the clamped sigmoid: the same weights with and
    // without a dealer.
    let p = TrainParams {
        sigmoid: Sigmoid::Clamped,
        epochs: 6,
        convergence: None,
        ..TrainParams::default()
    };
    let two_party: Vec<TrainOutcome> = train_without_dealer(&d, &p)
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    let with_dealer: Vec<TrainOutcome> = train_all(&d, &p)
        .0
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    for k in 0..2 {
        assert_eq!(two_party[k].weights.len(), with_dealer[k].weights.len());
        for (a, b) in two_party[k].weights.iter().zip(&with_dealer[k].weights) {
            assert!((a - b).abs() < 1e-3, "party {k}: {a} vs {b}");
        }
    }
    let (a, b) = (
        two_party[0].intercept.unwrap(),
        with_dealer[0].intercept.unwrap(),
    );
    assert!((a - b).abs() < 1e-3, "intercept {a} vs {b}");
    assert!(two_party[0].weights.iter().any(|w| w.abs() > 0.05));
}

#[test]
fn training_takes_roles_and_needs_a_dealer_beyond_two_data_parties() {
    let d = data(40, &[2, 2, 1], Task::Logistic, 12);
    let p = params(Task::Logistic);
    // Three data parties and no dealer: refused, naming the dealer.
    for e in train_without_dealer(&d, &p) {
        let e = e.unwrap_err();
        assert!(
            matches!(&e, LearnError::Params(m) if m.contains("dealer")),
            "{e}"
        );
    }
    // Roles must give every party of the set exactly one role.
    let mut twice = Roles::new(3, 0, Some(2)).unwrap();
    twice.features = vec![0];
    assert!(twice.check(3).is_err());
    assert!(Roles::new(3, 0, Some(2)).unwrap().check(4).is_err());
    assert!(Roles::new(3, 1, Some(0)).unwrap().check(3).is_ok());
}
