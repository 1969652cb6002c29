use indomain::aggregate::sum::{RealEncoding, secure_sum_real};
use indomain::prelude::*;

fn main() -> Result<(), Error> {
    // Three parties' amounts; party 0 alone learns the total.
    let amounts = [[1.25, -7.5], [1e3, 0.125], [-2.0, 3.0]];
    let encoding = RealEncoding {
        frac_bits: 20,
        max_abs: 1e6,
    };
    let sums = local::run(&["a", "b", "c"], |me, mut links| {
        secure_sum_real(
            &mut links,
            &amounts[me],
            encoding,
            &[0],
            &mut indomain::rand::rng(),
        )
    })?;
    let total = sums[0].as_ref().ok_or("party 0 receives the sum")?;
    for (i, got) in total.iter().enumerate() {
        let plain: f64 = amounts.iter().map(|a| a[i]).sum();
        assert!((got - plain).abs() < 1e-5, "{got} vs {plain}");
    }
    assert!(sums[1].is_none() && sums[2].is_none());
    Ok(())
}
