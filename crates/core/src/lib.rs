//! indomain-core: the arithmetic every protocol of indomain stands on.
//!
//! - [`ring`]: the ring Z_2^64 — wrapping arithmetic on `u64` vectors and
//!   matrices, parallel on rayon for large inputs.
//! - [`fixed`]: fixed-point encoding of reals into the ring, with an explicit
//!   range check.
//! - [`prg`]: AES-128-CTR expansion of 128-bit seeds.
//! - [`share`]: n-party additive secret sharing, with seed compression.
//!
//! Nothing here does I/O: protocols that need to open values take the local
//! steps from this crate and move bytes over an `indomain-net` channel.
#![warn(missing_docs)]

pub mod error;
pub mod fixed;
pub mod prg;
pub mod ring;
pub mod share;

pub use error::CoreError;
pub use fixed::FixedPoint;
pub use prg::{Prg, Seed};
