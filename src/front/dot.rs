use indomain::mpc::dealer::{self, DealerClient, DealerLimits};
use indomain::mpc::{Roster, Session};
use indomain::prelude::*;

fn main() -> Result<(), Error> {
    // Alice's prices and Bob's quantities; party 2 deals Beaver triples and
    // sees shapes only. Parties are named by their index in the set.
    let (prices, quantities) = ([2.5, 10.0, 0.75], [4.0, -1.5, 12.0]);
    let fp = FixedPoint::new(16)?;
    let out = local::run(&["alice", "bob", "dealer"], |me, mut links| {
        let rng = &mut indomain::rand::rng();
        if me == 2 {
            dealer::serve(&mut links, DealerLimits::default(), rng)?;
            return Ok::<_, Error>(None);
        }
        let roster = Roster::new(&links, Some(2))?;
        let client = DealerClient::new(&roster)?;
        let mut s = Session::new(&mut links, roster, fp, client);
        let mine = fp.encode_slice(if me == 0 { &prices } else { &quantities })?;
        let x = s.share_input(0, (me == 0).then_some(&mine[..]), 3, rng)?;
        let y = s.share_input(1, (me == 1).then_some(&mine[..]), 3, rng)?;
        // Σ x_i·y_i, opened to Bob (party 1) only.
        let total = s.dot(&x, &y)?;
        let opened = s.open_to(&total, 1)?;
        s.finish()?;
        Ok(opened.map(|v| fp.decode(v[0])))
    })?;
    let plain: f64 = prices.iter().zip(&quantities).map(|(p, q)| p * q).sum();
    let total = out[1].ok_or("bob learns the total")?;
    assert!((total - plain).abs() < 1e-3, "{total} vs {plain}");
    assert!(out[0].is_none() && out[2].is_none());
    Ok(())
}
