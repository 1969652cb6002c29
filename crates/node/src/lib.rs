//! indomain-node: what a party node adds around the protocols — reading its
//! own datasets, running a job's protocol over the network, and writing the
//! outputs it is allowed to keep.
//!
//! Protocol crates never touch files; this crate is where files meet them.
#![warn(missing_docs)]

pub mod aggregate_job;
pub mod keys_csv;
mod lines;
pub mod numeric_csv;
pub mod output;
pub mod psi_job;
