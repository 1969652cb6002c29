//! The audit trail: an append-only, hash-chained log of signed records of
//! everything the node did for its peers — each job's spec hash, parties,
//! protocol, datasets, columns and grades, parameters, outputs with their
//! salted commitments and receivers, bytes moved, outcome and timing — and
//! the peers' signed receipts of each job's outcome. [`verify::verify_log`]
//! checks it and names the first bad record.

pub mod commitment;
pub mod key;
pub mod log;
pub mod receipt;
pub mod record;
pub mod show;
pub mod verify;

pub use commitment::Salt;
pub use log::AuditLog;
pub use receipt::{
    CompletionReceipt, OutputHash, OutputSalt, Receipt, ReceiptBody, ReceiptOutcome,
};
pub use record::{Event, JobRecord, Outcome, OutputRecord, Record, Touched};

#[cfg(test)]
mod tests;
