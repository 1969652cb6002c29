//! indomain-aggregate: aggregation where no party sees another's figures.
//!
//! - [`sum`]: the N-party secure vector sum (seed-compressed additive
//!   sharing over Z_2^64 or Z_2^128, see [`word`]), opened only to the
//!   result receivers;
//! - [`stats`]: secure statistics on top of it, in Z_2^128 — sum, count,
//!   mean, variance and histogram of numeric columns, by public category,
//!   with groups whose rows from parties other than each receiver fall
//!   below a minimum size suppressed for everyone;
//! - [`secagg`]: dropout-tolerant secure aggregation for horizontal
//!   federated learning (Bonawitz et al. CCS 2017; SecAgg+, Bell et al.
//!   CCS 2020): many clients, one aggregator that learns only the sum; the
//!   server is an I/O-free state machine with a thin blocking driver;
//! - [`shamir`]: the threshold secret sharing secagg uses for its seeds;
//! - [`dp`]: differential privacy for what is released — exact discrete
//!   Gaussian noise added to the secret shares before the opening, with
//!   zCDP accounting.
//!
//! Everything here is a plain synchronous function over `indomain-net`
//! channels; nothing touches files.
#![warn(missing_docs)]

pub mod dp;
pub mod error;
pub mod secagg;
pub mod shamir;
pub mod stats;
pub mod sum;
pub mod word;

pub use error::AggregateError;
