//! indomain-psi: private set intersection between two parties, by ECDH-PSI
//! on ristretto255.
//!
//! Two parties, a receiver and a sender, each hold a set of keys. Run
//! [`ecdh::receiver`] at one and [`ecdh::sender`] at the other, with the
//! same [`Job`], over a [`indomain_net::Channel`]:
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
//! [`ecdh`] for the construction and `docs/protocols.md` for the argument).
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
