//! indomain-verify: private verification. A public data operator answers
//! "does this record match?" per attribute, and returns an allowed label,
//! without learning the query; the client learns nothing else about the
//! operator's data.
#![warn(missing_docs)]

pub mod client;
pub mod codec;
pub mod commit;
#[cfg(feature = "quic")]
pub mod driver;
pub mod error;
pub mod messages;
pub mod oprf;
pub mod publish;
pub mod record;
pub mod service;
pub mod session;
pub mod table;

pub use error::{Phase, VerifyError};
