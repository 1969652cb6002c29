//! The mpc layer end to end, all parties in one process (one thread each,
//! in-memory channels): two computing parties and a dealer.
//!
//! Alice holds the first 3 columns of a matrix X (200×5), Bob the last 2:
//! a vertically split feature matrix. They open X − U once under a mask
//! from the dealer (`fix_matrix`), then multiply X by three different
//! shared vectors, each costing only the opening of the vector masked and
//! a fresh right triple, and open each product to Alice, who checks it
//! against the plaintext. The dealer sees shapes only; Bob learns nothing.
//!
//! Run with `cargo run --release --example mpc_matmul`.

use indomain::core::FixedPoint;
use indomain::mpc::dealer::{self, DealerClient, DealerLimits};
use indomain::mpc::{Roster, Session};
use indomain::ndarray;
use indomain::ndarray::{Array2, s};
use indomain::net::memory::mesh;
use indomain::rand;
use indomain::rand::rngs::StdRng;
use indomain::rand::{RngExt, SeedableRng};

type Error = Box<dyn std::error::Error + Send + Sync>;

const ROWS: usize = 200;
const WIDTHS: [usize; 2] = [3, 2];

fn main() -> Result<(), Error> {
    let fp = FixedPoint::new(16)?;
    let mut rng = StdRng::seed_from_u64(7);
    let cols: usize = WIDTHS.iter().sum();
    let x = Array2::from_shape_fn((ROWS, cols), |_| rng.random_range(-2.0..2.0));
    let ws: Vec<Vec<f64>> = (0..3)
        .map(|_| (0..cols).map(|_| rng.random_range(-1.0..1.0)).collect())
        .collect();

    let mut sets = mesh(&["alice", "bob", "dealer"]);
    let mut dealer_set = sets.pop().ok_or("mesh")?;
    let results = std::thread::scope(|sc| -> Result<Vec<Vec<Vec<f64>>>, Error> {
        sc.spawn(move || {
            let mut rng = StdRng::from_rng(&mut rand::rng());
            dealer::serve(&mut dealer_set, DealerLimits::default(), &mut rng)
        });
        let handles: Vec<_> = sets
            .into_iter()
            .map(|mut set| {
                let (x, ws) = (&x, &ws);
                sc.spawn(move || -> Result<Vec<Vec<f64>>, Error> {
                    let mut rng = StdRng::from_rng(&mut rand::rng());
                    let roster = Roster::new(&set, Some(2))?;
                    let client = DealerClient::new(&roster)?;
                    let mut session = Session::new(&mut set, roster, fp, client);
                    let rank = session.rank();
                    let off: usize = WIDTHS[..rank].iter().sum();
                    let own = x.slice(s![.., off..off + WIDTHS[rank]]);
                    let own = own.mapv(|v| fp.encode(v).unwrap_or_default());
                    let fixed = session.fix_matrix(own.view(), &WIDTHS)?;
                    let mut products = Vec::new();
                    for w in ws {
                        // Alice (party 0) inputs w; both hold shares of it.
                        let alice = session.parties().me() == 0;
                        let ew = alice.then(|| fp.encode_slice(w)).transpose()?;
                        let sw = session.share_input(0, ew.as_deref(), cols, &mut rng)?;
                        let xw = session.fixed_times(&fixed, &sw)?;
                        let xw = session.truncate(xw, fp.frac_bits())?;
                        if let Some(v) = session.open_to(&xw, 0)? {
                            products.push(fp.decode_slice(&v));
                        }
                    }
                    let sent = session.parties().counters().sent;
                    session.finish()?;
                    println!("rank {rank}: sent {sent} bytes");
                    Ok(products)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().map_err(|_| "party panicked")?)
            .collect()
    })?;

    let mut worst = 0f64;
    for (w, got) in ws.iter().zip(&results[0]) {
        let want = x.dot(&ndarray::arr1(w));
        for (g, p) in got.iter().zip(want.iter()) {
            worst = worst.max((g - p).abs());
        }
    }
    // Encoding rounds inputs by 2^-17 and truncation adds at most 2^-16.
    let tolerance = cols as f64 * 4.0 / fp.scale();
    println!(
        "3 products X·w ({ROWS}x{cols}) under one opened mask: max |secure − plaintext| = {worst:.2e} (tolerance {tolerance:.2e})"
    );
    if worst > tolerance {
        return Err(format!("secure product off by {worst}").into());
    }
    Ok(())
}
