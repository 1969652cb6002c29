use indomain::learn::align::Roles;
use indomain::learn::tree::{self, BinnedFeatures, FeatureShape, GbdtParams, plain};
use indomain::ndarray::Array2;
use indomain::prelude::*;
use indomain::rand::rngs::StdRng;
use indomain::rand::{RngExt, SeedableRng};

fn main() -> Result<(), Error> {
    // 400 customers, rows already aligned (learn::align does it by PSI).
    // Each holder has binned its own 2 columns into 8 bins (learn::binning
    // does it from raw values); the bank also holds the label.
    let mut rng = StdRng::seed_from_u64(19);
    let shapes = vec![
        FeatureShape {
            bins: 8,
            missing: false
        };
        2
    ];
    let mut bins = || Array2::from_shape_fn((400, 2), |_| rng.random_range(0..8u16));
    let (bank, bureau) = (bins(), bins());
    let y: Vec<f64> = (0..400)
        .map(|r| f64::from(bank[[r, 0]] + 7 - bureau[[r, 1]] > 7))
        .collect();
    let parts = [
        BinnedFeatures::new(bank, shapes.clone())?,
        BinnedFeatures::new(bureau, shapes)?,
    ];
    let params = GbdtParams {
        trees: 3,
        max_depth: 2,
        ..GbdtParams::default()
    };
    // Party 0 holds the labels, party 2 deals correlated randomness.
    let roles = Roles::new(3, 0, Some(2))?;
    let out = local::run(&["bank", "bureau", "dealer"], |me, mut links| {
        let labels = (me == 0).then_some(&y[..]);
        let rng = &mut indomain::rand::rng();
        // Gradients, scores and node membership stay secret-shared: every
        // party learns the trees' structure (whose feature splits each
        // node), no party which rows reach which node.
        tree::train(
            &mut links,
            &roles,
            parts.get(me),
            labels,
            &params,
            &mut |_| {},
            rng,
        )
    })?;
    // The plaintext reference (XGBoost's `hist` method on the same bins)
    // grows the same trees; the bank's leaf weights match it.
    let reference = plain::train(&parts, &y, &params)?;
    assert_eq!(out[0].trees, reference.trees);
    assert_eq!(out[1].trees, reference.trees);
    let weights = out[0]
        .leaf_weights
        .as_ref()
        .ok_or("the bank has the leaves")?;
    for (got, want) in weights
        .iter()
        .flatten()
        .zip(reference.leaf_weights.iter().flatten())
    {
        assert!((got - want).abs() < 2e-3, "leaf weight {got} vs {want}");
    }
    assert!(out[1].leaf_weights.is_none());
    Ok(())
}
