//! A secure sum of real numbers, every party in one process (a thread each,
//! in-memory links): three hospitals add their monthly costs, and only the
//! health ministry (party 0, also a contributor) learns the totals. The
//! encoding and the overflow check are built in
//! (`indomain::aggregate::sum::secure_sum_real`).
//!
//!     cargo run --release --example secure_sum

use indomain::aggregate::sum::{RealEncoding, secure_sum_real};
use indomain::prelude::*;
use indomain::rand;

const PARTIES: [&str; 3] = ["ministry", "north-hospital", "south-hospital"];

fn main() -> Result<(), Error> {
    // Each party's costs for three months, in thousands.
    let costs = [
        [120.5, 98.25, 101.0],
        [310.75, 290.0, 305.5],
        [88.0, 91.125, 79.5],
    ];
    let encoding = RealEncoding {
        frac_bits: 16,
        max_abs: 1e6,
    };
    let sums = local::run(&PARTIES, |me, mut links| {
        secure_sum_real(&mut links, &costs[me], encoding, &[0], &mut rand::rng())
    })?;
    let totals = sums[0].as_ref().ok_or("the ministry receives the sum")?;
    for (month, total) in totals.iter().enumerate() {
        let plain: f64 = costs.iter().map(|c| c[month]).sum();
        println!("month {month}: secure total {total:.3} (plaintext {plain:.3})");
        if (total - plain).abs() > 1e-3 {
            return Err(format!("month {month}: {total} differs from {plain}").into());
        }
    }
    println!("the hospitals learn nothing: {:?}", &sums[1..]);
    Ok(())
}
