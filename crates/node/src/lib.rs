//! indomain-node: what a party node adds around the protocols — reading its
//! own datasets, running a job's protocol over the network, and writing the
//! outputs it is allowed to keep.
//!
//! Protocol crates never touch files; this crate is where files meet them.
//! The node's foundations live here too: its configuration ([`config`]),
//! typed and graded datasets ([`dataset`]), job specs ([`jobspec`]) and
//! their typed plans ([`plan`]), policy ([`policy`]), the egress guard
//! ([`egress`]), the signed audit trail ([`audit`]), the state rebuilt from
//! it at every start ([`state`]), private files ([`private`]), bounds on
//! peer text ([`bounds`]), the local control socket ([`control`]) and the
//! operator's web console ([`console`]).
#![warn(missing_docs)]

pub mod aggregate_job;
pub mod audit;
pub mod bounds;
pub mod config;
pub mod console;
pub mod control;
pub mod daemon;
pub mod dataset;
pub mod dp_ledger;
pub mod egress;
pub mod error;
pub mod grade;
pub mod hex;
pub mod jobspec;
pub mod keys_csv;
mod lines;
pub mod numeric_csv;
pub mod output;
pub mod plan;
pub mod policy;
pub mod private;
pub mod psi_job;
pub mod psi_resume;
pub mod psi_spool;
mod psi_spooled;
pub mod state;
pub mod time;

pub use error::NodeError;
