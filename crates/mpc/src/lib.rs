//! indomain-mpc: secret-shared fixed-point vectors and matrices among n
//! computing parties, between the arithmetic of `indomain-core` and the
//! capabilities (learn, aggregate).
//!
//! - [`roster`]: who computes, their ranks, the leader, the dealer; how
//!   parties are named (by set index, everywhere).
//! - [`open`]: opening shared vectors to all or one party, exchanging
//!   blocks (deadlock-free pairwise order, frame chunking).
//! - [`shared`]: a party's share and the local operations on shares.
//! - [`session`]: inputs, openings, Beaver products, truncation.
//! - [`matrix`]: matrix products on matrix triples, with SecureML's mask
//!   reuse for a column-split matrix fixed across a computation.
//! - [`compare`]: secure comparison with zero or a public constant, and
//!   "count ≥ k?" revealed to named receivers.
//! - [`bits`]: packed boolean shares (XOR opening, AND gates 64 to a
//!   word, conversion to ring shares); [`compare_bits`]: the comparison
//!   on packed bits, ~40 times fewer bytes than [`compare`].
//! - [`fourier`]: Fourier sine series of shared values with one opening.
//! - [`sigmoid`]: the sigmoid approximations (linear, clamped, Fourier)
//!   and their errors.
//! - [`bins`]: per-bin sums over a party's private bins (the histogram
//!   kernel of gradient-boosted trees and WOE/IV binning), on bin-sum
//!   masks from the correlations source.
//! - [`log`]: the natural logarithm of shared positive integers (range
//!   reduction by comparisons, a polynomial on [1, 2)).
//! - [`truncate_exact`]: truncation with no failure probability (carries
//!   on packed bits), for the large intermediates of gain comparisons.
//! - [`divide`]: division by a shared divisor of known range (normalised
//!   by comparisons, Newton–Raphson).
//! - [`prefetch`]: a correlations source serving element-wise items from
//!   batches drawn ahead (fewer dealer round trips per round).
//! - [`sum`]: secure sum to one receiver (no dealer needed).
//! - [`correlations`]: the one trait correlated randomness comes through;
//!   [`dealer`]: its first implementation, a dealer party.
//!
//! Every function is a plain synchronous function over a
//! [`PartySet`](indomain_net::PartySet); every computing party calls the same
//! functions in the same order. Each module's documentation says what each
//! party learns.
#![warn(missing_docs)]

pub mod bins;
pub mod bits;
pub mod compare;
pub mod compare_bits;
pub mod correlations;
pub mod dealer;
mod dealer_bins;
pub mod divide;
pub mod error;
pub mod fourier;
pub mod log;
pub mod matrix;
pub mod open;
pub mod prefetch;
pub mod roster;
pub mod session;
pub mod shared;
pub mod sigmoid;
pub mod sum;
pub mod truncate_exact;

pub use bins::FixedBins;
pub use correlations::{
    BinShape, BinSumMasks, Correlations, IndicatorId, MaskId, MaskLayout, Permutations,
};
pub use dealer::{DealerClient, DealerLimits};
pub use error::MpcError;
pub use matrix::FixedMatrix;
pub use roster::Roster;
pub use session::Session;
pub use shared::Shared;
