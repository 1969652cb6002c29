//! indomain — a privacy-preserving computation engine: raw data stays in its
//! domain, usable but not visible.
//!
//! This facade re-exports the workspace crates so that researchers can
//! `cargo add indomain` and run every party of a protocol in one process:
//!
//! - [`core`]: ring Z_2^64, fixed point, additive sharing, Beaver triples;
//! - [`net`]: channels (in-memory and QUIC with mutual TLS);
//! - [`mpc`]: secret-shared fixed-point vectors and matrices, a dealer;
//! - [`psi`]: private set intersection and its variants;
//! - [`aggregate`]: N-party secure statistics and secure aggregation;
//! - [`learn`]: vertical regression on shared values with joint scoring,
//!   horizontal FedAvg, metrics, model files;
//! - [`node`]: datasets and job runners of a party node.
#![warn(missing_docs)]

pub use indomain_aggregate as aggregate;
pub use indomain_core as core;
pub use indomain_learn as learn;
pub use indomain_mpc as mpc;
pub use indomain_net as net;
pub use indomain_node as node;
pub use indomain_psi as psi;
