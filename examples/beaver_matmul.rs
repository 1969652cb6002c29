//! Secure matrix multiplication with a dealer's matrix triple, all parties
//! in one process (one thread each, in-memory channels).
//!
//! Alice holds a real matrix X (m×k), Bob a real matrix Y (k×n). A dealer,
//! which sees neither matrix nor any share of them, deals one matrix triple
//! (U, V, W = U·V) with seed compression. Alice and Bob secret-share their
//! inputs (each sends the other one 16-byte seed), open D = X − U and
//! E = Y − V, compute shares of X·Y locally, truncate them (SecureML local
//! truncation), and open the product to Alice, who checks it against the
//! plaintext product.
//!
//! What each party learns: Alice learns X·Y (the declared output); Bob
//! learns nothing but D and E, which are uniformly random; the dealer
//! learns the shapes.
//!
//! Run with `cargo run --release --example beaver_matmul`.

use indomain::core::dealer::{Dealer, DealtShare};
use indomain::core::matrix_triple::{LeftMaskShare, RightTripleShare};
use indomain::core::ring::RingMatrix;
use indomain::core::share::{share_from_seed, share_seeded};
use indomain::core::truncate::{TwoPartyRole, truncate_local};
use indomain::core::{FixedPoint, Seed};
use indomain::mpc::open::{everyone, open, open_to};
use indomain::ndarray::{Array2, ArrayView2};
use indomain::net::memory::{mesh, pair};
use indomain::net::{Channel, PartySet};
use indomain::rand;
use indomain::rand::rngs::StdRng;
use indomain::rand::{RngExt, SeedableRng};

type Error = Box<dyn std::error::Error + Send + Sync>;

const M: usize = 64;
const K: usize = 32;
const N: usize = 4;

/// What one computing party brings: its input matrix (Alice X, Bob Y).
struct Input {
    values: Vec<f64>,
    rows: usize,
    cols: usize,
}

fn matrix(rows: usize, cols: usize, values: Vec<u64>) -> Result<RingMatrix, Error> {
    Ok(Array2::from_shape_vec((rows, cols), values)?)
}

/// One computing party: `parties.me()` is 0 for Alice (who holds X and
/// receives the product) and 1 for Bob (who holds Y).
fn party(
    parties: &mut PartySet,
    dealer: &mut impl Channel,
    input: Input,
    fp: FixedPoint,
) -> Result<Option<Vec<f64>>, Error> {
    let me = parties.me();
    let other = 1 - me;
    let is_alice = me == 0;

    // The dealer's triple: U_i and (V_i, W_i). Alice is the correction party.
    let left = DealtShare::from_bytes(&dealer.recv()?, None)?;
    let right = DealtShare::from_bytes(&dealer.recv()?, is_alice.then_some(M * N))?;
    let left = LeftMaskShare::from_dealt(&left, M, K)?;
    let right = RightTripleShare::from_dealt(&right, M, K, N)?;

    // Share the own input: keep x − PRG(seed), send the other party the seed.
    let encoded = fp.encode_slice(&input.values)?;
    let mut rng = StdRng::from_rng(&mut rand::rng());
    let sharing = share_seeded(&encoded, 1, &mut rng);
    let own = matrix(input.rows, input.cols, sharing.own)?;
    parties.channel(other)?.send(&sharing.seeds[0].0)?;
    let seed_frame = parties.channel(other)?.recv()?;
    let seed: [u8; 16] = seed_frame
        .as_slice()
        .try_into()
        .map_err(|_| format!("peer sent a seed of {} bytes", seed_frame.len()))?;
    let (x, y) = if is_alice {
        (own, matrix(K, N, share_from_seed(&Seed(seed), K * N))?)
    } else {
        (matrix(M, K, share_from_seed(&Seed(seed), M * K))?, own)
    };

    // Mask, open D and E together, finish locally.
    let (mut masked, _) = left.mask(x.view())?.into_raw_vec_and_offset();
    masked.extend(right.mask(y.view())?.iter());
    let group = everyone(parties);
    let opened = open(parties, &group, &masked)?;
    let (d, e) = opened.split_at(M * K);
    let d = ArrayView2::from_shape((M, K), d)?;
    let e = ArrayView2::from_shape((K, N), e)?;
    let z = right.finish(left.u.view(), d, e, is_alice)?;

    // The product has 2f fractional bits: truncate, then open to Alice.
    let (mut z, _) = z.into_raw_vec_and_offset();
    let role = if is_alice {
        TwoPartyRole::First
    } else {
        TwoPartyRole::Second
    };
    truncate_local(&mut z, fp.frac_bits(), role)?;
    let product = open_to(parties, &group, 0, &z)?;
    println!(
        "{}: sent {} bytes to its peer, received {} bytes from the dealer",
        parties.name(me),
        parties.counters().sent,
        dealer.counters().received
    );
    Ok(product.map(|p| fp.decode_slice(&p)))
}

fn main() -> Result<(), Error> {
    let fp = FixedPoint::default();
    let mut rng = StdRng::seed_from_u64(42);
    // Values in [−1, 1]: every entry of X·Y is below K = 2^5, so the
    // product has l_x = 2f + 5 = 45 bits and local truncation fails with
    // probability below 2^(l_x + 1 − 64) = 2^-18 per entry.
    let x: Vec<f64> = (0..M * K).map(|_| rng.random_range(-1.0..1.0)).collect();
    let y: Vec<f64> = (0..K * N).map(|_| rng.random_range(-1.0..1.0)).collect();

    let mut sets = mesh(&["alice", "bob"]).into_iter();
    let (mut alice, mut bob) = (sets.next().ok_or("mesh")?, sets.next().ok_or("mesh")?);
    let (mut dealer_to_alice, mut alice_from_dealer) = pair("dealer", "alice");
    let (mut dealer_to_bob, mut bob_from_dealer) = pair("dealer", "bob");

    let product = std::thread::scope(|s| -> Result<Vec<f64>, Error> {
        s.spawn(move || -> Result<(), Error> {
            let mut rng = StdRng::from_rng(&mut rand::rng());
            let dealer = Dealer::new(2)?;
            let (left, right) = dealer.matrix_triple(M, K, N, &mut rng);
            for (ch, i) in [(&mut alice_from_dealer, 0), (&mut bob_from_dealer, 1)] {
                ch.send(&left[i].to_bytes())?;
                ch.send(&right[i].to_bytes())?;
            }
            Ok(())
        });
        let (xs, ys) = (x.clone(), y.clone());
        let bob = s.spawn(move || {
            let input = Input {
                values: ys,
                rows: K,
                cols: N,
            };
            party(&mut bob, &mut dealer_to_bob, input, fp)
        });
        let input = Input {
            values: xs,
            rows: M,
            cols: K,
        };
        let product = party(&mut alice, &mut dealer_to_alice, input, fp)?;
        bob.join().map_err(|_| "bob panicked")??;
        product.ok_or_else(|| "alice did not receive the product".into())
    })?;

    // Check against the plaintext product.
    let xa = ArrayView2::from_shape((M, K), &x)?;
    let ya = ArrayView2::from_shape((K, N), &y)?;
    let plain = xa.dot(&ya);
    let got = ArrayView2::from_shape((M, N), &product)?;
    let max_err = got
        .iter()
        .zip(plain.iter())
        .map(|(g, p)| (g - p).abs())
        .fold(0.0f64, f64::max);
    println!("X ({M}x{K}) · Y ({K}x{N}), first rows (secure | plaintext):");
    for i in 0..3 {
        let row = |r: ArrayView2<'_, f64>| {
            r.row(i)
                .iter()
                .map(|v| format!("{v:8.4}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        println!("  {} | {}", row(got), row(plain.view()));
    }
    // Encoding rounds each input by 2^-21 and truncation adds below 2^-20:
    // K products of values below 1 stay well within K·2^-19.
    let tolerance = K as f64 / fp.scale() * 2.0;
    println!("max |secure − plaintext| = {max_err:.3e} (tolerance {tolerance:.3e})");
    if max_err > tolerance {
        return Err(format!("secure product is off by {max_err}").into());
    }
    Ok(())
}
