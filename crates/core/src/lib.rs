//! indomain-core: the arithmetic every protocol of indomain stands on.
//!
//! - [`ring`]: the ring Z_2^64 — wrapping arithmetic on `u64` vectors and
//!   matrices, parallel on rayon for large inputs.
//! - [`fixed`]: fixed-point encoding of reals into the ring, with an explicit
//!   range check.
//! - [`prg`]: AES-128-CTR expansion of 128-bit seeds.
//! - [`ring128`], [`fixed128`]: the ring Z_2^128 (seed expansion into
//!   128-bit words) and its fixed-point encoding, for statistics.
//! - [`share`]: n-party additive secret sharing, with seed compression.
//! - [`matmul`]: a fast wrapping matrix product (blocked, SIMD, rayon).
//! - [`binsum`]: per-bin sums over a party's private bins (slot layouts,
//!   permutations, block sums) for the bin-sum kernel.
//! - [`dealer`]: the dealer of Beaver triples, matrix triples and truncation
//!   pairs, seed-compressed.
//! - [`beaver`]: element-wise multiplication of shared vectors.
//! - [`matrix_triple`]: multiplication of shared matrices, with reusable
//!   masks for a fixed operand.
//! - [`bits`]: packed XOR-shared bits and the dealer's items for them
//!   (AND triples, masks with their bits, daBits).
//! - [`trig`]: masks with their sines and cosines, for Fourier series of
//!   shared values with one opening.
//! - [`truncate`]: truncation of shared fixed-point values, with its error
//!   bound.
//!
//! Nothing here does I/O: protocols that need to open values take the local
//! steps from this crate and move bytes over an `indomain-net` channel.
#![warn(missing_docs)]

pub mod beaver;
pub mod binsum;
pub mod bits;
pub mod dealer;
pub mod error;
pub mod fixed;
pub mod fixed128;
pub mod matmul;
pub mod matrix_triple;
pub mod prg;
pub mod ring;
pub mod ring128;
pub mod share;
pub mod trig;
pub mod truncate;

pub use error::CoreError;
pub use fixed::{Bounded, FixedPoint};
pub use prg::{Prg, Seed};
