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
//! - [`sigmoid`]: the sigmoid approximations (linear, clamped) and their
//!   errors.
//! - [`sum`]: secure sum to one receiver (no dealer needed).
//! - [`correlations`]: the one trait correlated randomness comes through;
//!   [`dealer`]: its first implementation, a dealer party.
//!
//! Every function is a plain synchronous function over a
//! [`PartySet`](indomain_net::PartySet); every computing party calls the same
//! functions in the same order. Each module's documentation says what each
//! party learns.
#![warn(missing_docs)]

pub mod compare;
pub mod correlations;
pub mod dealer;
pub mod error;
pub mod matrix;
pub mod open;
pub mod roster;
pub mod session;
pub mod shared;
pub mod sigmoid;
pub mod sum;

pub use correlations::{Correlations, MaskId, MaskLayout};
pub use dealer::{DealerClient, DealerLimits};
pub use error::MpcError;
pub use matrix::FixedMatrix;
pub use roster::Roster;
pub use session::Session;
pub use shared::Shared;
