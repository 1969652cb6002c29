//! indomain-psi: private set intersection between two parties, by ECDH-PSI
//! on ristretto255 ([`ecdh`], every mode) or by VOLE and OKVS following
//! Raghuraman–Rindal 2022 ([`rr22`], intersection and join, several times
//! faster).
//!
//! Two parties, a receiver and a sender, each hold a set of keys. Run
//! [`session::receiver`] at one and [`session::sender`] at the other, with
//! the same [`Job`] (whose [`Construction`] picks the protocol), over a
//! [`indomain_net::Channel`]; [`buckets`] runs intersection and join bucket
//! by bucket to bound the protocol's memory:
//!
//! - [`Mode::Intersection`]: the receiver learns X ∩ Y (the sender too if
//!   the job reveals to both);
//! - [`Mode::Cardinality`]: only |X ∩ Y|, without learning which keys;
//! - [`Mode::IntersectionSum`]: the sender holds a value per key and learns
//!   the sum of its values over the intersection; both learn |X ∩ Y|;
//! - [`Mode::Join`]: both learn which of their own rows match, in the same
//!   order.
//!
//! Each party also learns the other's set size, and nothing else (see
//! [`ecdh`] and [`rr22`] for the constructions and `docs/protocols.md` for
//! the argument).
#![warn(missing_docs)]

pub mod blind;
pub mod buckets;
pub mod compare;
pub mod ecdh;
pub mod elgamal;
pub mod error;
pub mod items;
pub mod rr22;
pub mod session;

pub use error::{Phase, PsiError};
pub use items::Items;
pub use session::{Construction, Job, Mode, Outcome, Progress, Reveal, Role};
