//! Plaintext reference training on the joined data in the clear: the same
//! gradient descent, L2 penalty, mini-batch order and early stopping as the
//! secure training ([`train`] with [`Optimizer::GradientDescent`]), and
//! the optimum of the regularised objective by Newton's method
//! ([`converged`]: what the secure bound-Newton training converges to, and
//! what scikit-learn's `LogisticRegression(C = 1/(l2·n))` computes). It is
//! the oracle of the tests, the "plaintext" figures printed next to the
//! secure ones, and the local step of FedAvg.
//!
//! Nothing here is private: it runs where all its inputs already are.

use crate::LearnError;
use crate::linalg;
use crate::params::{Optimizer, Task, TrainParams};
use crate::vertical;
use ndarray::{Array1, ArrayView1, ArrayView2, Axis};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

/// A trained linear model and its training history.
#[derive(Debug, Clone, PartialEq)]
pub struct Fit {
    /// One weight per feature column.
    pub weights: Vec<f64>,
    /// The intercept.
    pub intercept: f64,
    /// Training loss after each epoch (on the rows trained on).
    pub train_loss: Vec<f64>,
    /// Validation loss after each epoch (with early stopping only).
    pub validation_loss: Vec<f64>,
    /// The epoch (1-based) whose weights were kept.
    pub best_epoch: usize,
}

/// The logistic function.
pub fn sigmoid(s: f64) -> f64 {
    1.0 / (1.0 + (-s).exp())
}

/// The model's output for a linear score: a probability (logistic) or the
/// score itself (linear).
pub fn link(task: Task, s: f64) -> f64 {
    match task {
        Task::Logistic => sigmoid(s),
        Task::Linear => s,
    }
}

/// Linear scores x·w + b.
pub fn scores(x: ArrayView2<f64>, weights: &[f64], intercept: f64) -> Vec<f64> {
    let w = ArrayView1::from(weights);
    (x.dot(&w) + intercept).to_vec()
}

/// Mean loss of the outputs `out` (probabilities or predictions): log-loss
/// (clamped at 1e-15) or half the mean squared error.
pub fn loss(task: Task, out: &[f64], y: &[f64]) -> f64 {
    let n = out.len().max(1) as f64;
    match task {
        Task::Logistic => {
            out.iter()
                .zip(y)
                .map(|(&p, &t)| {
                    let p = p.clamp(1e-15, 1.0 - 1e-15);
                    -(t * p.ln() + (1.0 - t) * (1.0 - p).ln())
                })
                .sum::<f64>()
                / n
        }
        Task::Linear => out.iter().zip(y).map(|(p, t)| (p - t).powi(2)).sum::<f64>() / (2.0 * n),
    }
}

/// The rows of each mini-batch of `epoch` (0-based) over `rows` training
/// rows, in the order the epoch visits them: the secure training's plan
/// ([`vertical::batches`] of consecutive rows, visited in
/// [`vertical::batch_order`]).
pub fn batches(rows: usize, params: &TrainParams, epoch: usize) -> Vec<Vec<usize>> {
    let ranges = vertical::batches(rows, params.batch_size);
    vertical::batch_order(epoch, ranges.len(), params.seed)
        .into_iter()
        .map(|b| ranges[b].clone().collect())
        .collect()
}

/// Training and validation rows with a convergence test or early
/// stopping, as the secure training draws them: ⌈fraction · rows⌉ rows
/// chosen by a shuffle seeded with the job's seed, both lists in row order.
pub fn validation_split(rows: usize, params: &TrainParams) -> (Vec<usize>, Vec<usize>) {
    let Some(fraction) = params.validation_fraction() else {
        return ((0..rows).collect(), Vec::new());
    };
    let mut order: Vec<usize> = (0..rows).collect();
    order.shuffle(&mut StdRng::seed_from_u64(params.seed));
    let val = ((fraction * rows as f64).ceil() as usize).min(rows);
    let (mut v, mut t) = (order[..val].to_vec(), order[val..].to_vec());
    v.sort_unstable();
    t.sort_unstable();
    (t, v)
}

/// Trains from zero weights on `x` (rows × features, standardised) and
/// `y`: gradient descent as the secure training does it, or — for the
/// bound-Newton optimizer — the optimum the secure training converges to
/// ([`converged`] on the rows it trains on: the training rows less the
/// validation split).
pub fn train(x: ArrayView2<f64>, y: &[f64], params: &TrainParams) -> Result<Fit, LearnError> {
    match params.optimizer {
        Optimizer::GradientDescent => train_from(x, y, params, &vec![0.0; x.ncols()], 0.0),
        Optimizer::BoundNewton { .. } => {
            check(x, y, params, &vec![0.0; x.ncols()])?;
            let (fit_rows, val_rows) = validation_split(x.nrows(), params);
            let yf: Vec<f64> = fit_rows.iter().map(|&r| y[r]).collect();
            let mut fit = converged(
                x.select(Axis(0), &fit_rows).view(),
                &yf,
                params.task,
                params.l2,
            )?;
            if !val_rows.is_empty() {
                let xv = x.select(Axis(0), &val_rows);
                let yv: Vec<f64> = val_rows.iter().map(|&r| y[r]).collect();
                let out: Vec<f64> = scores(xv.view(), &fit.weights, fit.intercept)
                    .into_iter()
                    .map(|s| link(params.task, s))
                    .collect();
                fit.validation_loss = vec![loss(params.task, &out, &yv)];
            }
            Ok(fit)
        }
    }
}

/// The regularised objective at weights `w` (features) and `b`: mean loss
/// (log-loss with the exact σ, or half the squared error) + l2/2·‖w‖².
pub fn objective(x: ArrayView2<f64>, y: &[f64], task: Task, l2: f64, w: &[f64], b: f64) -> f64 {
    let z = scores(x, w, b);
    let n = y.len().max(1) as f64;
    let data: f64 = match task {
        // log(1 + e^z) − y·z, computed without overflow.
        Task::Logistic => z
            .iter()
            .zip(y)
            .map(|(&z, &t)| z.max(0.0) + (-z.abs()).exp().ln_1p() - t * z)
            .sum(),
        Task::Linear => z.iter().zip(y).map(|(z, t)| (z - t).powi(2) / 2.0).sum(),
    };
    data / n + l2 / 2.0 * w.iter().map(|v| v * v).sum::<f64>()
}

/// The optimum of the regularised objective ([`objective`]; the intercept
/// is not penalised) by Newton's method with step halving, to a step below
/// 10^-12 (at most 200 steps): the converged plaintext model. `train_loss`
/// holds the objective after each step. With l2 = 0 on separable data
/// there is no optimum and the weights grow until the step cap.
pub fn converged(x: ArrayView2<f64>, y: &[f64], task: Task, l2: f64) -> Result<Fit, LearnError> {
    let (n, d) = x.dim();
    if n != y.len() || n == 0 {
        return Err(LearnError::Params(format!(
            "{n} feature rows and {} labels",
            y.len()
        )));
    }
    if !(l2.is_finite() && l2 >= 0.0) {
        return Err(LearnError::Params(format!("L2 strength {l2}")));
    }
    let mut w = vec![0.0; d];
    let mut b = 0.0;
    let mut fit = Fit {
        weights: w.clone(),
        intercept: b,
        train_loss: Vec::new(),
        validation_loss: Vec::new(),
        best_epoch: 0,
    };
    let mut current = objective(x, y, task, l2, &w, b);
    for step in 1..=200 {
        let z = scores(x, &w, b);
        let (resid, curv): (Vec<f64>, Vec<f64>) = z
            .iter()
            .zip(y)
            .map(|(&z, &t)| match task {
                Task::Logistic => {
                    let p = sigmoid(z);
                    (p - t, (p * (1.0 - p)).max(1e-12))
                }
                Task::Linear => (z - t, 1.0),
            })
            .unzip();
        // Gradient and Hessian over (w, b), the intercept last.
        let mut g = Array1::<f64>::zeros(d + 1);
        let mut h = ndarray::Array2::<f64>::zeros((d + 1, d + 1));
        for (i, row) in x.rows().into_iter().enumerate() {
            let full: Vec<f64> = row.iter().copied().chain(std::iter::once(1.0)).collect();
            for (j, &a) in full.iter().enumerate() {
                g[j] += resid[i] * a / n as f64;
                for (k, &c) in full.iter().enumerate().skip(j) {
                    h[[j, k]] += curv[i] * a * c / n as f64;
                }
            }
        }
        for j in 0..=d {
            for k in 0..j {
                h[[j, k]] = h[[k, j]];
            }
            if j < d {
                g[j] += l2 * w[j];
                h[[j, j]] += l2;
            }
            h[[j, j]] += 1e-12;
        }
        let l = linalg::cholesky(h.view())
            .ok_or_else(|| LearnError::Params("the Hessian is not positive definite".into()))?;
        let delta = linalg::solve(l.view(), g.view());
        let mut t = 1.0;
        let (mut nw, mut nb, mut next);
        loop {
            nw = w
                .iter()
                .zip(&delta)
                .map(|(w, d)| w - t * d)
                .collect::<Vec<_>>();
            nb = b - t * delta[d];
            next = objective(x, y, task, l2, &nw, nb);
            if next <= current + 1e-15 || t < 1e-6 {
                break;
            }
            t /= 2.0;
        }
        let moved = delta.iter().fold(0.0f64, |m, v| m.max((t * v).abs()));
        (w, b, current) = (nw, nb, next);
        fit.train_loss.push(current);
        fit.best_epoch = step;
        if moved < 1e-12 {
            break;
        }
    }
    fit.weights = w;
    fit.intercept = b;
    Ok(fit)
}

/// [`train`] with another output function in the gradient (for logistic
/// regression: a sigmoid approximation, as the secure training uses);
/// losses are still computed with the exact link.
pub fn train_with(
    x: ArrayView2<f64>,
    y: &[f64],
    params: &TrainParams,
    activation: fn(f64) -> f64,
) -> Result<Fit, LearnError> {
    descend(x, y, params, &vec![0.0; x.ncols()], 0.0, activation)
}

/// Trains starting from `weights` and `intercept` (FedAvg's local step).
pub fn train_from(
    x: ArrayView2<f64>,
    y: &[f64],
    params: &TrainParams,
    weights: &[f64],
    intercept: f64,
) -> Result<Fit, LearnError> {
    let activation = match params.task {
        Task::Logistic => sigmoid,
        Task::Linear => identity,
    };
    descend(x, y, params, weights, intercept, activation)
}

fn identity(s: f64) -> f64 {
    s
}

fn descend(
    x: ArrayView2<f64>,
    y: &[f64],
    params: &TrainParams,
    weights: &[f64],
    intercept: f64,
    activation: fn(f64) -> f64,
) -> Result<Fit, LearnError> {
    check(x, y, params, weights)?;
    let (fit_rows, val_rows) = validation_split(x.nrows(), params);
    if fit_rows.is_empty() {
        return Err(LearnError::Params("no rows left to train on".into()));
    }
    let (xf, xv) = (x.select(Axis(0), &fit_rows), x.select(Axis(0), &val_rows));
    let yf: Vec<f64> = fit_rows.iter().map(|&r| y[r]).collect();
    let yv: Vec<f64> = val_rows.iter().map(|&r| y[r]).collect();
    let (xf, xv, yf, yv) = (xf.view(), xv.view(), &yf[..], &yv[..]);
    let mut w = Array1::from(weights.to_vec());
    let mut b = intercept;
    let mut fit = Fit {
        weights: w.to_vec(),
        intercept: b,
        train_loss: Vec::new(),
        validation_loss: Vec::new(),
        best_epoch: 0,
    };
    let mut best = f64::INFINITY;
    let mut since_best = 0;
    for epoch in 0..params.epochs {
        for batch in batches(fit_rows.len(), params, epoch) {
            step(xf, yf, &batch, params, activation, &mut w, &mut b);
        }
        let out: Vec<f64> = scores(xf, w.as_slice().unwrap_or(&[]), b)
            .into_iter()
            .map(|s| link(params.task, s))
            .collect();
        fit.train_loss.push(loss(params.task, &out, yf));
        match params.early_stopping {
            None => {
                fit.weights = w.to_vec();
                fit.intercept = b;
                fit.best_epoch = epoch + 1;
            }
            Some(es) => {
                let out: Vec<f64> = scores(xv, &w.to_vec(), b)
                    .into_iter()
                    .map(|s| link(params.task, s))
                    .collect();
                let v = loss(params.task, &out, yv);
                fit.validation_loss.push(v);
                if v < best {
                    best = v;
                    since_best = 0;
                    fit.weights = w.to_vec();
                    fit.intercept = b;
                    fit.best_epoch = epoch + 1;
                } else {
                    since_best += 1;
                    if since_best >= es.patience {
                        break;
                    }
                }
            }
        }
    }
    Ok(fit)
}

/// One gradient step on the rows of `batch`:
/// w ← w − lr·(X_Bᵀ(out − y_B)/|B| + l2·w), b ← b − lr·mean(out − y_B).
fn step(
    x: ArrayView2<f64>,
    y: &[f64],
    batch: &[usize],
    params: &TrainParams,
    activation: fn(f64) -> f64,
    w: &mut Array1<f64>,
    b: &mut f64,
) {
    let xb = x.select(Axis(0), batch);
    let m = batch.len() as f64;
    let residual: Array1<f64> = (xb.dot(&*w) + *b)
        .iter()
        .zip(batch)
        .map(|(&s, &r)| activation(s) - y[r])
        .collect();
    let grad = xb.t().dot(&residual) / m + &(&*w * params.l2);
    *w = &*w - &(grad * params.learning_rate);
    *b -= params.learning_rate * residual.sum() / m;
}

fn check(
    x: ArrayView2<f64>,
    y: &[f64],
    params: &TrainParams,
    weights: &[f64],
) -> Result<(), LearnError> {
    let bad = |m: String| Err(LearnError::Params(m));
    if x.nrows() != y.len() || x.nrows() == 0 {
        return bad(format!("{} feature rows and {} labels", x.nrows(), y.len()));
    }
    if weights.len() != x.ncols() {
        return bad(format!(
            "{} weights for {} features",
            weights.len(),
            x.ncols()
        ));
    }
    if !(params.learning_rate.is_finite() && params.learning_rate > 0.0) {
        return bad(format!("learning rate {}", params.learning_rate));
    }
    if !(params.l2.is_finite() && params.l2 >= 0.0) {
        return bad(format!("L2 strength {}", params.l2));
    }
    if params.batch_size == Some(0) {
        return bad("batch size 0".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::EarlyStopping;
    use ndarray::Array2;

    fn toy(n: usize) -> (Array2<f64>, Vec<f64>) {
        let x = Array2::from_shape_fn((n, 2), |(i, j)| ((i * 37 + j * 11) % 17) as f64 / 8.0 - 1.0);
        // Every seventh label flipped, so the classes overlap.
        let y = (0..n)
            .map(|i| f64::from((x[[i, 0]] - 0.5 * x[[i, 1]] > 0.1) != (i % 7 == 0)))
            .collect();
        (x, y)
    }

    #[test]
    fn logistic_loss_decreases_and_separates() {
        let (x, y) = toy(200);
        let fit = train(x.view(), &y, &TrainParams::default()).unwrap();
        assert!(fit.train_loss.last().unwrap() < &fit.train_loss[0]);
        assert!(fit.weights[0] > 0.0 && fit.weights[1] < 0.0, "{fit:?}");
    }

    #[test]
    fn linear_regression_recovers_the_coefficients() {
        let (x, _) = toy(200);
        let y: Vec<f64> = x
            .rows()
            .into_iter()
            .map(|r| 2.0 * r[0] - r[1] + 0.5)
            .collect();
        let params = TrainParams {
            task: Task::Linear,
            ..TrainParams::gradient_descent(500, 0.3)
        };
        let fit = train(x.view(), &y, &params).unwrap();
        assert!((fit.weights[0] - 2.0).abs() < 1e-3, "{fit:?}");
        assert!((fit.weights[1] + 1.0).abs() < 1e-3, "{fit:?}");
        assert!((fit.intercept - 0.5).abs() < 1e-3, "{fit:?}");
    }

    #[test]
    fn mini_batches_cover_every_row_once_per_epoch() {
        let params = TrainParams {
            batch_size: Some(7),
            ..TrainParams::gradient_descent(20, 0.5)
        };
        let b = batches(30, &params, 3);
        assert_eq!(b.len(), 5);
        let mut all: Vec<usize> = b.concat();
        all.sort_unstable();
        assert_eq!(all, (0..30).collect::<Vec<_>>());
        assert_ne!(b, batches(30, &params, 4));
    }

    #[test]
    fn early_stopping_keeps_the_best_epoch() {
        let (x, y) = toy(200);
        let params = TrainParams {
            early_stopping: Some(EarlyStopping {
                validation_fraction: 0.2,
                patience: 3,
            }),
            ..TrainParams::gradient_descent(400, 5.0)
        };
        let fit = train(x.view(), &y, &params).unwrap();
        let best = fit.validation_loss[fit.best_epoch - 1];
        assert!(fit.validation_loss.iter().all(|&v| v >= best));
        assert!(fit.validation_loss.len() < 400);
    }

    #[test]
    fn newton_reaches_the_optimum_of_the_regularised_loss() {
        let (x, y) = toy(300);
        for (task, l2) in [
            (Task::Logistic, 1e-3),
            (Task::Logistic, 0.1),
            (Task::Linear, 0.01),
        ] {
            let fit = converged(x.view(), &y, task, l2).unwrap();
            let at = objective(x.view(), &y, task, l2, &fit.weights, fit.intercept);
            // Any small move increases the objective: a minimum.
            for j in 0..=x.ncols() {
                for h in [1e-4, -1e-4] {
                    let (mut w, mut b) = (fit.weights.clone(), fit.intercept);
                    if j < x.ncols() {
                        w[j] += h;
                    } else {
                        b += h;
                    }
                    assert!(
                        objective(x.view(), &y, task, l2, &w, b) > at,
                        "{task:?} {j}"
                    );
                }
            }
            assert!(fit.best_epoch < 50, "{} Newton steps", fit.best_epoch);
        }
        // The default training's plaintext counterpart is this optimum on
        // the rows it trains on.
        let params = TrainParams::default();
        let fit = train(x.view(), &y, &params).unwrap();
        let (rows, _) = validation_split(300, &params);
        let yr: Vec<f64> = rows.iter().map(|&r| y[r]).collect();
        let direct = converged(
            x.select(Axis(0), &rows).view(),
            &yr,
            Task::Logistic,
            params.l2,
        )
        .unwrap();
        assert_eq!(fit.weights, direct.weights);
        assert_eq!(fit.validation_loss.len(), 1);
    }

    #[test]
    fn bad_shapes_are_refused() {
        let (x, y) = toy(10);
        assert!(train(x.view(), &y[..9], &TrainParams::default()).is_err());
    }
}
