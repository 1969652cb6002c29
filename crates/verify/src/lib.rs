//! indomain-verify: private verification. A public data operator answers
//! "does this record match?" per attribute, and returns an allowed label,
//! without learning the query; the client learns nothing else about the
//! operator's data.
#![warn(missing_docs)]

pub mod error;
pub mod oprf;

pub use error::{Phase, VerifyError};
