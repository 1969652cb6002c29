//! indomain — a privacy-preserving computation engine: raw data stays in its
//! domain, usable but not visible.
//!
//! This facade gathers the engine's crates so that researchers can
//! `cargo add indomain` and run every party of a protocol in one process:
//!
//! - [`psi`]: private set intersection (RR22 and ECDH-PSI), cardinality,
//!   intersection-sum and aligned joins;
//! - [`aggregate`]: N-party secure sums and grouped statistics with small
//!   groups suppressed, and dropout-tolerant secure aggregation (SecAgg+);
//! - [`learn`]: vertical logistic and linear regression on secret-shared
//!   values with joint scoring, horizontal FedAvg, metrics, model files
//!   (read and written with the feature `files`);
//! - `verify` (feature `verify`): private verification against an
//!   operator's published table;
//! - [`mpc`]: secret-shared fixed-point vectors and matrices, Beaver
//!   products, comparison, a dealer of correlated randomness;
//! - [`net`]: channels (in-memory, and QUIC with mutual TLS under the
//!   `quic` feature);
//! - [`core`]: the ring Z_2^64, fixed point, additive sharing, Beaver
//!   triples;
//! - `node` (feature `cli`): datasets and job runners of a party node.
//!
//! [`local::run`] runs every party on its own thread over in-memory
//! channels; [`Error`] gathers every crate's error so that `?` works across
//! them; [`prelude`] imports what most programs use.
//!
//! **Parties are named by their index in the party set** — the `me` that
//! [`local::run`] hands each party — everywhere: receivers, owners of
//! inputs, dealers, label holders ([`learn::align::Roles`]).
//!
//! # Features
//!
//! - default (`cli`): everything the `indomain` command needs (it
//!   includes the three below);
//! - `quic`: the QUIC backend of [`net`] (and the verification driver
//!   with `verify`);
//! - `verify`: private verification and the `ed25519-dalek` it signs with
//!   (with `rand_core`: `SigningKey::generate(&mut indomain::rand::rng())`);
//! - `files`: CSV tables and model files in [`learn`];
//! - `default-features = false`: the protocols and the in-memory backend
//!   only (docs/architecture.md gives the dependency counts).
//!
//! # Every capability, in memory
//!
//! Each program below is a whole program: every party on its own thread,
//! the result checked against the plaintext computation. They run as
//! doctests and, from an outside crate built with `default-features =
//! false`, as the tests of `tests/facade-lean`.
//!
//! **Private set intersection** ([`psi`]): the receiver learns which of its
//! keys the sender also has; the sender learns only the receiver's set
//! size.
//!
#![doc = concat!("```\n", include_str!("front/psi.rs"), "```\n")]
//!
//! **Secure sum** ([`aggregate::sum`]): one party learns the total, nobody
//! sees another party's values.
//!
#![doc = concat!("```\n", include_str!("front/secure_sum.rs"), "```\n")]
//!
//! **Statistics by group, small groups suppressed**
//! ([`aggregate::stats`]): a dealer party lets the data parties compare
//! each group's shared count with the minimum, so that no party learns a
//! suppressed group's count ([`aggregate::stats::CountDecision`]).
//!
#![doc = concat!("```\n", include_str!("front/statistics.rs"), "```\n")]
//!
//! **Statistics with differential privacy** ([`aggregate::dp`],
//! [`aggregate::stats::run_statistics_dp`]): each party clips its values
//! and adds its share of discrete Gaussian noise (exact integer sampling)
//! before anything is opened, so the receiver gets the exact result plus
//! the summed noise and no party sees a result without noise; small
//! groups are suppressed on the noisy counts.
//!
#![doc = concat!("```\n", include_str!("front/dp.rs"), "```\n")]
//!
//! **Secure aggregation with dropouts** ([`aggregate::secagg`], SecAgg+): a
//! server learns the sum of the updates of the clients whose masked update
//! arrived. A client that vanishes before that is left out of the sum; one
//! that vanishes after it is still in the sum, and
//! [`RoundOutput`](aggregate::secagg::RoundOutput) says who was left out,
//! when and why.
//!
#![doc = concat!("```\n", include_str!("front/secagg.rs"), "```\n")]
//!
//! **Vertical training and joint scoring** ([`learn::vertical`]): a label
//! holder and a feature holder train a logistic regression on secret-shared
//! values with a dealer; each keeps the weights of its own columns, and
//! only the named receiver learns the joint scores. The secure training
//! follows plaintext gradient descent with the same sigmoid approximation
//! ([`learn::vertical`] says which).
//!
#![doc = concat!("```\n", include_str!("front/vertical.rs"), "```\n")]
//!
//! **Gradient-boosted trees** ([`learn::tree`]): XGBoost's `hist` method
//! between a label holder and feature holders on binned columns, with a
//! dealer; gradients and which rows reach which node stay secret-shared,
//! and the forest equals the plaintext one on the same bins.
//!
#![doc = concat!("```\n", include_str!("front/trees.rs"), "```\n")]
//!
#![cfg_attr(
    feature = "verify",
    doc = "**Private verification** ([`verify`]): an operator publishes a signed table and serves OPRF evaluations ([`verify::service::serve`] over any channel); a client learns, per claimed attribute, match or not, and the label where every claim matches; the operator learns neither the key nor the values."
)]
#![cfg_attr(feature = "verify", doc = "")]
#![cfg_attr(
    feature = "verify",
    doc = concat!("```\n", include_str!("front/verification.rs"), "```\n")
)]
//!
//! **A dot product on the mpc layer** ([`mpc::Session`]): two parties'
//! secret vectors multiplied with Beaver triples from a dealer that sees
//! shapes only, the result opened to one party.
//!
#![doc = concat!("```\n", include_str!("front/dot.rs"), "```\n")]
//!
//! More: `examples/` holds one example a capability (some over QUIC).
#![warn(missing_docs)]

mod error;
pub mod local;

pub use error::Error;

// Each crate is re-exported whole as a module of the facade, so that the
// facade's documentation documents it under the path a facade user
// imports (`indomain::psi::Job`), its links included.

pub mod psi {
    //! Private set intersection between a receiver and a sender (indomain-psi).
    //!
    //! Run [`session::receiver`] at one party and [`session::sender`] at the
    //! other (or [`Job::receive`] / [`Job::send`]) with the same [`Job`], over
    //! a channel. [`Job::new`] picks the fastest [`Construction`] for the
    //! [`Mode`]: [`rr22`] (VOLE and OKVS, Raghuraman–Rindal 2022) for an
    //! intersection or a join, [`ecdh`] (ECDH-PSI on ristretto255) for
    //! cardinality and intersection-sum; [`buckets`] bounds memory on large
    //! sets. Each party learns the other's set size and what the mode gives it
    //! — the receiver X ∩ Y, both parties their matching rows in a common
    //! order for a join — and nothing else (see [`ecdh`], [`rr22`]).

    pub use indomain_psi::*;
}

pub mod aggregate {
    //! Aggregation where no party sees another's figures (indomain-aggregate).
    //!
    //! - [`sum`]: the N-party secure vector sum, opened to the receivers only;
    //! - [`stats`]: sum, count, mean, variance and histogram of numeric
    //!   columns by public category, groups too small suppressed for everyone
    //!   (decided by secure comparison with a dealer, or by the first receiver);
    //! - [`secagg`]: dropout-tolerant secure aggregation (Bonawitz et al. 2017,
    //!   SecAgg+ of Bell et al. 2020): one server learns the sum of the inputs
    //!   that arrived, [`secagg::RoundOutput`] who was left out and why.

    pub use indomain_aggregate::*;
}

pub mod learn {
    //! Joint model training where only models leave a party (indomain-learn).
    //!
    //! [`vertical::train`] and [`vertical::predict`]: logistic and linear
    //! regression between a label holder and 1 to 4 feature holders on
    //! secret-shared values (SecureML-style, with a dealer), parties named by
    //! [`align::Roles`], rows aligned by PSI ([`align`]); [`pipeline`] runs a
    //! whole job at one party; [`plain`] is the plaintext reference;
    //! [`horizontal`] is FedAvg over SecAgg+; [`metrics`] scores held-out rows.

    pub use indomain_learn::*;
}

#[cfg(feature = "verify")]
pub mod verify {
    //! Private verification (indomain-verify, feature `verify`).
    //!
    //! An operator publishes a signed table of OPRF outputs over its records
    //! ([`publish`]) and answers blinded evaluations ([`service::Service`],
    //! served over any channel by [`service::serve`]); a client checks the
    //! signature, fetches the table and verifies its records ([`session`],
    //! [`client::Verifier`]). The client learns, per claimed attribute, match
    //! or not, and the labels where every claim matches; the operator learns
    //! that a query was made and how many evaluations it cost, never the key
    //! or the values.

    pub use indomain_verify::*;
}

pub mod mpc {
    //! Secret-shared fixed-point computation among n parties (indomain-mpc).
    //!
    //! A [`Session`] over a party set, a [`Roster`] (who computes, who deals:
    //! parties named by set index) and a [`Correlations`] source (a dealer
    //! party, [`dealer::serve`] and [`DealerClient`]): inputs, openings to all
    //! or one party, Beaver products and [`Session::dot`], matrix products with
    //! mask reuse ([`matrix`]), truncation, comparison ([`compare`]) and the
    //! sigmoid approximations ([`sigmoid`]). Each module says what each party
    //! learns.

    pub use indomain_mpc::*;
}

pub mod net {
    //! How parties talk (indomain-net): a [`Channel`] is a framed, ordered,
    //! blocking link to one peer; a [`PartySet`] holds one to each other party.
    //! Backends: [`memory`] (in-process, one thread a party) and `quic`
    //! (feature `quic`: QUIC with mutual TLS and pinned certificates).

    pub use indomain_net::*;
}

pub mod core {
    //! The arithmetic every protocol stands on (indomain-core): the rings
    //! Z_2^64 ([`ring`]) and Z_2^128, fixed point ([`FixedPoint`]), additive
    //! sharing with seed compression ([`share`]), the dealer's Beaver and
    //! matrix triples ([`dealer`]) and truncation ([`truncate`]). No I/O.

    pub use indomain_core::*;
}

#[cfg(feature = "cli")]
pub mod node {
    //! The party node's library (indomain-node, feature `cli`): configuration,
    //! datasets, job specs, policy, the egress guard, the signed audit trail
    //! and the job runners the `indomain` command drives.

    pub use indomain_node::*;
}

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
