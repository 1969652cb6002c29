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
//!   horizontal FedAvg, metrics, model files;
//! - [`verify`]: private verification against an operator's table;
//! - `node` (feature `cli`): datasets and job runners of a party node.
//!
//! [`local::run`] runs every party on its own thread over in-memory
//! channels; [`Error`] gathers every crate's error so that `?` works across
//! them; [`prelude`] imports what most programs use.
//!
//! # Features
//!
//! - default (`cli`): everything the `indomain` command needs;
//! - `quic`: the QUIC backend of [`net`] and the verification driver;
//! - `default-features = false`: the protocols and the in-memory backend
//!   only (see docs/architecture.md for the dependency counts).
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
pub use indomain_verify as verify;

/// The version of `ed25519-dalek` whose keys sign verification tables.
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
