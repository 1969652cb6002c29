//! indomain — a privacy-preserving computation engine: raw data stays in its
//! domain, usable but not visible.
//!
//! This facade re-exports the workspace crates so that researchers can
//! `cargo add indomain` and run every party of a protocol in one process:
//!
//! - [`core`]: ring Z_2^64, fixed point, additive sharing, Beaver triples;
//! - [`net`]: channels (in-memory, and QUIC with mutual TLS under the
//!   `quic` feature);
//! - [`mpc`]: secret-shared fixed-point vectors and matrices, a dealer;
//! - [`psi`]: private set intersection and its variants;
//! - [`aggregate`]: N-party secure statistics and secure aggregation;
//! - [`learn`]: vertical regression on shared values with joint scoring,
//!   horizontal FedAvg, metrics, model files (read and written with the
//!   feature `files`);
//! - `verify` (feature `verify`): private verification against an
//!   operator's table;
//! - `node` (feature `cli`): datasets and job runners of a party node.
//!
//! [`local::run`] runs every party on its own thread over in-memory
//! channels; [`Error`] gathers every crate's error so that `?` works across
//! them; [`prelude`] imports what most programs use.
//!
//! # Features
//!
//! - default (`cli`): everything the `indomain` command needs (it
//!   includes the three below);
//! - `quic`: the QUIC backend of [`net`] (and the verification driver
//!   with `verify`);
//! - `verify`: private verification and the `ed25519-dalek` it signs with;
//! - `files`: CSV tables and model files in [`learn`];
//! - `default-features = false`: the protocols and the in-memory backend
//!   only (docs/architecture.md gives the dependency counts).
//!
//! # Each capability in a few lines
//!
//! Private set intersection: the receiver learns which of its keys the
//! sender also has; the sender learns only the receiver's set size.
//!
//! ```
//! use indomain::prelude::*;
//! use indomain::psi::{Items, Job, Mode};
//!
//! let keys = [Items::from_raw(["ann", "bob", "eve"]), Items::from_raw(["bob", "eve", "kim"])];
//! let job = Job::new(Mode::Intersection); // result to the receiver only
//! let out = local::run(&["receiver", "sender"], |me, mut links| {
//!     let ch = links.channel(1 - me)?;
//!     let mut rng = indomain::rand::rng();
//!     Ok::<_, Error>(match me {
//!         0 => job.receive(ch, &keys[0], &mut rng)?,
//!         _ => job.send(ch, &keys[1], None, &mut rng)?,
//!     })
//! })?;
//! let mut rows = out[0].matched.clone().unwrap_or_default();
//! rows.sort_unstable(); // in the receiver's input order: bob and eve
//! assert_eq!(rows, [1, 2]);
//! assert_eq!(out[1].matched, None);
//! # Ok::<(), indomain::Error>(())
//! ```
//!
//! Secure sum of real numbers: party 0 learns the total, nobody sees
//! another party's values.
//!
//! ```
//! use indomain::aggregate::sum::{RealEncoding, secure_sum_real};
//! use indomain::prelude::*;
//!
//! let enc = RealEncoding { frac_bits: 20, max_abs: 1e6 };
//! let sums = local::run(&["a", "b", "c"], |me, mut links| {
//!     let mine = [me as f64 + 0.5];
//!     secure_sum_real(&mut links, &mine, enc, &[0], &mut indomain::rand::rng())
//! })?;
//! assert!((sums[0].as_ref().unwrap()[0] - 4.5).abs() < 1e-5);
//! # Ok::<(), indomain::Error>(())
//! ```
//!
//! Secure statistics by group (here a mean, released to party 0 only when
//! each group has enough rows): see `examples/aggregate.rs` and
//! [`aggregate::stats::run_statistics_with`] — with a dealer party
//! ([`aggregate::stats::serve_dealer`]) suppression is decided by secure
//! comparison and no party learns a suppressed group's count;
//! [`aggregate::stats::run_statistics`] opens the counts to the first
//! receiver.
//!
//! SecAgg+ with dropouts: a server sums clients' vectors; clients that
//! vanish at named points are left out of the sum.
//!
//! ```
//! use indomain::aggregate::secagg::sim::{Dropout, simulate_round};
//! use indomain::aggregate::secagg::{Params, RoundSpec};
//! use indomain::aggregate::sum::RealEncoding;
//!
//! let encoding = RealEncoding { frac_bits: 16, max_abs: 10.0 };
//! let params = Params::from_spec(RoundSpec { clients: 5, len: 2, encoding })?;
//! let inputs = vec![vec![1.0, 2.0]; 5];
//! let mut plan = vec![Dropout::Never; 5];
//! plan[3] = Dropout::BeforeMaskedInput;
//! let round = simulate_round(&params, &inputs, &plan, Default::default())?;
//! assert_eq!(round.output.survivors, [0, 1, 2, 4]);
//! assert!((round.output.sum[1] - 8.0).abs() < 1e-3);
//! # Ok::<(), indomain::Error>(())
//! ```
//!
//! A Beaver product of two parties' secret vectors, with a dealer of
//! triples that sees shapes only ([`mpc::Session`]); Alice learns x·y.
//!
//! ```
//! use indomain::core::FixedPoint;
//! use indomain::mpc::dealer::{self, DealerClient, DealerLimits};
//! use indomain::mpc::{Roster, Session};
//! use indomain::prelude::*;
//!
//! let (x, y, fp) = ([1.5, -2.0], [4.0, 0.25], FixedPoint::new(16)?);
//! let out = local::run(&["alice", "bob", "dealer"], |me, mut links| {
//!     let rng = &mut indomain::rand::rng();
//!     if me == 2 {
//!         dealer::serve(&mut links, DealerLimits::default(), rng)?;
//!         return Ok::<_, Error>(None);
//!     }
//!     let roster = Roster::new(&links, Some(2))?;
//!     let client = DealerClient::new(&roster)?;
//!     let mut s = Session::new(&mut links, roster, fp, client);
//!     let mine = fp.encode_slice(if me == 0 { &x } else { &y })?;
//!     let sx = s.share_input(0, (me == 0).then_some(&mine[..]), 2, rng)?;
//!     let sy = s.share_input(1, (me == 1).then_some(&mine[..]), 2, rng)?;
//!     let xy = s.mul_fixed(&sx, &sy)?;
//!     let opened = s.open_to(&xy, 0)?;
//!     s.finish()?;
//!     Ok(opened.map(|v| fp.decode_slice(&v)))
//! })?;
//! let xy = out[0].as_ref().unwrap();
//! assert!((xy[0] - 6.0).abs() < 1e-3 && (xy[1] + 0.5).abs() < 1e-3);
//! # Ok::<(), indomain::Error>(())
//! ```
//!
//! Vertical training of a logistic regression between a
//! label holder and a feature holder: `examples/vertical_train.rs` and
//! [`learn::pipeline`].
#![warn(missing_docs)]

mod error;
pub mod local;

pub use error::Error;

pub use indomain_aggregate as aggregate;
pub use indomain_core as core;
pub use indomain_learn as learn;
pub use indomain_mpc as mpc;
pub use indomain_net as net;
#[cfg(feature = "cli")]
pub use indomain_node as node;
pub use indomain_psi as psi;
#[cfg(feature = "verify")]
pub use indomain_verify as verify;

/// The version of `ed25519-dalek` whose keys sign verification tables.
#[cfg(feature = "verify")]
pub use ed25519_dalek;
/// The version of `ndarray` whose arrays the API takes and returns.
pub use ndarray;
/// The version of `rand` whose `CryptoRng` every protocol takes.
pub use rand;

/// What most programs use: channels and party sets, the fixed-point
/// encoding, the error type, and the party runner.
pub mod prelude {
    pub use crate::Error;
    pub use crate::local;
    pub use indomain_core::FixedPoint;
    pub use indomain_net::memory::{mesh, pair};
    pub use indomain_net::{Channel, PartySet};
}
