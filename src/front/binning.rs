use indomain::learn::align::Roles;
use indomain::learn::binning::{BinParams, Binned, Column, bin_column};
use indomain::learn::woe::kernel::MpcKernel;
use indomain::learn::woe::protocol::{self, Settings};
use indomain::learn::woe::{bin_counts, woe_iv};
use indomain::prelude::*;
use indomain::rand::rngs::StdRng;
use indomain::rand::{RngExt, SeedableRng};

fn main() -> Result<(), Error> {
    // 1,000 customers, rows already aligned (learn::align does it by PSI):
    // a bank holds the default flag, a tax bureau an income column that
    // predicts it; a third party deals correlated randomness.
    let mut rng = StdRng::seed_from_u64(20);
    let income: Vec<f64> = (0..1000).map(|_| rng.random_range(10.0..90.0)).collect();
    let y: Vec<f64> = income
        .iter()
        .map(|x| f64::from(rng.random_range(0.0..100.0) > *x))
        .collect();
    // The bureau bins its own column alone (5 quantile bins): edges and
    // each row's bin never leave it.
    let bureau: Vec<Binned> = vec![bin_column(
        "income",
        &Column::Numeric(income),
        &BinParams::quantile(5),
        "bureau",
    )?];
    let roles = Roles::new(3, 0, Some(2))?;
    let out = local::run(&["bank", "bureau", "dealer"], |me, mut links| {
        let features = if me == 1 { bureau.clone() } else { Vec::new() };
        let labels = (me == 0).then_some(&y[..]);
        // Default mode (FATE's leakage): the bank learns each of the
        // bureau's bins' events, non-events and WOE under an anonymous
        // bin order, the bureau its feature's IV; the histogram kernel
        // (the bureau's private bins times the shared labels) hides which
        // row is in which bin.
        let settings = Settings::default();
        let rng = &mut indomain::rand::rng();
        protocol::run(
            &mut links,
            &roles,
            features,
            labels,
            &settings,
            &mut MpcKernel::default(),
            rng,
        )
    })?;
    // The plaintext reference: the same counts, WOE and IV in the clear.
    let index: Vec<u16> = bureau[0].index.to_vec();
    let (events, non_events) = bin_counts(&index, &y, bureau[0].bins.bins());
    let reference = woe_iv(&events, &non_events);
    let seen = &out[0].foreign[0];
    assert_eq!(seen.events.as_ref(), Some(&events));
    assert_eq!(seen.non_events.as_ref(), Some(&non_events));
    assert_eq!(seen.woe.as_ref(), Some(&reference.woe));
    assert_eq!(out[1].own[0].iv, reference.iv);
    assert!(out[1].own[0].events.is_none() && out[1].own[0].woe.is_none());
    assert!(
        reference.iv > 0.5,
        "income predicts default: IV {}",
        reference.iv
    );
    Ok(())
}
