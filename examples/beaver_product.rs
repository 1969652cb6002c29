//! An element-wise product of two secret vectors on a Beaver triple, every
//! party in one process (a thread each, in-memory links): Alice holds
//! prices, Bob quantities; a dealer hands out the triple and sees shapes
//! only. Alice alone learns the products; Bob learns nothing.
//!
//!     cargo run --release --example beaver_product

use indomain::core::FixedPoint;
use indomain::mpc::dealer::{self, DealerClient, DealerLimits};
use indomain::mpc::{Roster, Session};
use indomain::prelude::*;
use indomain::rand;

fn main() -> Result<(), Error> {
    let prices = [2.5, 10.0, 0.75, 3.125];
    let quantities = [4.0, -1.5, 12.0, 8.0];
    let fp = FixedPoint::new(16)?;
    let n = prices.len();
    let results = local::run(&["alice", "bob", "dealer"], |me, mut links| {
        if me == 2 {
            dealer::serve(&mut links, DealerLimits::default(), &mut rand::rng())?;
            return Ok::<_, Error>(None);
        }
        let roster = Roster::new(&links, Some(2))?;
        let client = DealerClient::new(&roster)?;
        let mut session = Session::new(&mut links, roster, fp, client);
        // Party 0 (Alice) inputs x, party 1 (Bob) y; the other passes None.
        let mut input = |owner: usize, values: &[f64]| -> Result<_, Error> {
            let own = (me == owner).then(|| fp.encode_slice(values)).transpose()?;
            Ok(session.share_input(owner, own.as_deref(), n, &mut rand::rng())?)
        };
        let x = input(0, &prices)?;
        let y = input(1, &quantities)?;
        let xy = session.mul_fixed(&x, &y)?;
        let opened = session.open_to(&xy, 0)?;
        session.finish()?;
        Ok(opened.map(|v| fp.decode_slice(&v)))
    })?;
    let got = results[0].as_ref().ok_or("alice receives the products")?;
    for ((p, q), g) in prices.iter().zip(&quantities).zip(got) {
        println!("{p} × {q} = {g:.4} (plaintext {})", p * q);
        if (g - p * q).abs() > 1e-3 {
            return Err(format!("{g} differs from {}", p * q).into());
        }
    }
    println!("bob learns {:?}, the dealer {:?}", results[1], results[2]);
    Ok(())
}
