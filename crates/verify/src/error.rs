//! The error type of indomain-verify. Errors that concern the peer name it
//! and the protocol phase.

use indomain_net::NetError;
use std::fmt;
use thiserror::Error;

/// The steps of a verification session, named in errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// The client greets the operator and gets its signed commitment.
    Hello,
    /// The client fetches the published table.
    Table,
    /// The operator evaluates the OPRF on the client's blinded elements.
    Evaluate,
    /// The operator's loop over one client's requests
    /// ([`crate::service::serve`]).
    Serving,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::Hello => "hello",
            Phase::Table => "table fetch",
            Phase::Evaluate => "oprf evaluation",
            Phase::Serving => "serving a client",
        })
    }
}

/// Everything that can go wrong in private verification.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The channel failed (closed, timed out, oversized frame, …).
    #[error("peer {peer}, phase {phase}: {source}")]
    Net {
        /// The peer of the channel.
        peer: String,
        /// The phase that was running.
        phase: Phase,
        /// What the channel reported.
        source: NetError,
    },
    /// The peer sent something the protocol does not allow.
    #[error("peer {peer}, phase {phase}: {reason}")]
    Protocol {
        /// The peer.
        peer: String,
        /// The phase that was running.
        phase: Phase,
        /// What was wrong.
        reason: String,
    },
    /// The operator refused the request (quota, rate limit, stale version).
    #[error("operator {peer} refused the request: {reason}")]
    Refused {
        /// The operator.
        peer: String,
        /// The operator's reason, as it gave it.
        reason: String,
    },
    /// A table or commitment failed its signature or hash check.
    #[error("tampered or mismatched table: {0}")]
    Tampered(String),
    /// The table does not belong to the version the operator serves now.
    #[error(
        "stale table: it is version {have}.{have_revision}, the operator serves \
         {current}.{current_revision}"
    )]
    Stale {
        /// The version of the table held.
        have: u64,
        /// Its revision.
        have_revision: u64,
        /// The version the operator serves.
        current: u64,
        /// Its revision.
        current_revision: u64,
    },
    /// Table bytes that do not decode.
    #[error("malformed table: {0}")]
    Table(String),
    /// A line of a query or dataset file that cannot be used.
    #[error("{file}, line {line}: {reason}")]
    Line {
        /// The file.
        file: String,
        /// The 1-based line number.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// Other invalid input from the caller (dataset, queries, parameters).
    #[error("invalid input: {0}")]
    Input(String),
    /// A file could not be read or written.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

impl VerifyError {
    /// Wraps a channel error with the peer and phase.
    pub fn net(peer: &str, phase: Phase, source: NetError) -> Self {
        VerifyError::Net {
            peer: peer.to_string(),
            phase,
            source,
        }
    }

    /// A protocol violation by `peer` in `phase`.
    pub fn protocol(peer: &str, phase: Phase, reason: impl Into<String>) -> Self {
        VerifyError::Protocol {
            peer: peer.to_string(),
            phase,
            reason: reason.into(),
        }
    }
}
