use indomain::learn::align::Roles;
use indomain::learn::{TrainParams, plain, vertical};
use indomain::mpc::sigmoid::sigmoid_approx;
use indomain::ndarray::{Array2, Axis, concatenate};
use indomain::prelude::*;
use indomain::rand::rngs::StdRng;
use indomain::rand::{RngExt, SeedableRng};

fn main() -> Result<(), Error> {
    // 300 customers, rows already aligned (learn::align does it by PSI):
    // a bank holds 2 standardised features and the label, a tax bureau 3
    // features; a third party deals correlated randomness.
    let mut rng = StdRng::seed_from_u64(7);
    let bank = Array2::from_shape_fn((300, 2), |_| rng.random_range(-1.0..1.0));
    let bureau = Array2::from_shape_fn((300, 3), |_| rng.random_range(-1.0..1.0));
    let y: Vec<f64> = (0..300)
        .map(|r| f64::from(bank[[r, 0]] - bureau[[r, 1]] + 0.5 * bureau[[r, 2]] > 0.0))
        .collect();
    // SecureML's gradient descent with σ̃ (the default, bound-Newton with
    // the Fourier sigmoid, converges to plain::converged instead).
    let params = TrainParams::gradient_descent(10, 0.5);
    // Party 0 holds the labels, party 2 deals, every other party holds features.
    let roles = Roles::new(3, 0, Some(2))?;
    let none = Array2::zeros((0, 0));
    let out = local::run(&["bank", "bureau", "dealer"], |me, mut links| {
        let x = [bank.view(), bureau.view(), none.view()][me];
        let labels = (me == 0).then_some(&y[..]);
        let rng = &mut indomain::rand::rng();
        // Each party ends with the weights of its own columns only.
        let model = vertical::train(&mut links, &roles, x, labels, &params, &mut |_, _| {}, rng)?;
        // Joint scoring: the bank alone learns the scores x·w + b.
        let (w, b) = (&model.weights, model.intercept);
        let scores = vertical::predict(&mut links, &roles, 0, x, w, b, params.frac_bits, rng)?;
        Ok::<_, Error>((model, scores))
    })?;
    // The plaintext reference: the same gradient descent on the joined
    // columns with the same sigmoid, σ̃(z) = 1/2 + z/4.
    let joined = concatenate(Axis(1), &[bank.view(), bureau.view()]).map_err(|e| e.to_string())?;
    let reference = plain::train_with(joined.view(), &y, &params, sigmoid_approx)?;
    let secure: Vec<f64> = out[0]
        .0
        .weights
        .iter()
        .chain(&out[1].0.weights)
        .copied()
        .collect();
    for (s, p) in secure.iter().zip(&reference.weights) {
        assert!((s - p).abs() < 1e-2, "weight {s} vs {p}");
    }
    let intercept = out[0].0.intercept.ok_or("the bank has the intercept")?;
    assert!((intercept - reference.intercept).abs() < 1e-2);
    let scores = out[0].1.as_ref().ok_or("the bank learns the scores")?;
    let plain_scores = plain::scores(joined.view(), &reference.weights, reference.intercept);
    for (s, p) in scores.iter().zip(&plain_scores) {
        assert!((s - p).abs() < 5e-2, "score {s} vs {p}");
    }
    assert!(out[1].1.is_none() && out[2].1.is_none());
    Ok(())
}
