//! Why a job failed on this node ([`JobError`]): the one error type of the
//! executor and of every protocol under `daemon/protocols/`, and of the
//! daemon's answers to its operator.
//!
//! A job's error stays with this node's operator (its audit record and
//! `job status`): it may quote this node's data (a cell, a row). What the
//! other parties hear is [`JobError::shared`]: that this node failed, and
//! the reason only where it quotes nothing of the data (a policy limit).

use crate::error::NodeError;
use std::path::PathBuf;

/// Why a job (or an operator's request about one) failed on this node.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JobError {
    /// The job was cancelled by the named node's operator.
    #[error("cancelled by {by}")]
    Cancelled {
        /// The node whose operator cancelled it.
        by: String,
    },
    /// The job spec is invalid, or names what this node does not know.
    #[error(transparent)]
    Spec(NodeError),
    /// The job asks this node for something it cannot do.
    #[error("{0}")]
    Job(String),
    /// No job of that name on this node, or not in a state that allows
    /// what was asked.
    #[error("{0}")]
    Unknown(String),
    /// A peer could not be reached, would not start the job, or never
    /// opened its link.
    #[error("{peer}: {reason}")]
    Peer {
        /// The peer.
        peer: String,
        /// What went wrong.
        reason: String,
    },
    /// This node's dataset could not be read.
    #[error(transparent)]
    Dataset(NodeError),
    /// The dataset has more rows than this node's policy lets the job read.
    #[error("dataset {dataset}: more than {limit} rows; the policy allows at most {limit}")]
    RowLimit {
        /// The dataset.
        dataset: String,
        /// The policy's `max_rows`.
        limit: u64,
    },
    /// A row or cell of this node's data is unfit for the job.
    #[error("{at}: {reason}")]
    Data {
        /// The dataset, row and column (`dataset "d", row 3, column "x"`).
        at: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Fewer matches or shared rows than the job's minimum: nothing was
    /// revealed beyond that.
    #[error("{found}: fewer than {parameter} = {minimum}; nothing released")]
    BelowMinimum {
        /// The job's parameter (`min_intersection`, `min_rows`).
        parameter: &'static str,
        /// The minimum.
        minimum: usize,
        /// What was found, as the protocol reported it.
        found: String,
    },
    /// The protocol with the other parties failed.
    #[error("the {protocol} failed: {reason}")]
    Protocol {
        /// Which protocol (`PSI with beta`, `statistics protocol`, …).
        protocol: String,
        /// The protocol crate's error.
        reason: String,
    },
    /// The model part a scoring job needs is missing or unfit.
    #[error("{0}")]
    Model(String),
    /// The egress guard refused a release.
    #[error(transparent)]
    Egress(#[from] crate::egress::EgressError),
    /// An output file could not be written.
    #[error("{}: {source}", path.display())]
    Output {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// An output could not be rendered.
    #[error("rendering the {output}: {reason}")]
    Render {
        /// The output.
        output: &'static str,
        /// What failed.
        reason: String,
    },
    /// The audit log failed: nothing is agreed to or released without it.
    #[error("the audit log failed: {0}")]
    Audit(NodeError),
    /// A peer's receipt does not check.
    #[error("{peer}'s receipt: {reason}")]
    Receipt {
        /// The peer.
        peer: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The node is at its limit of open jobs.
    #[error("{0} jobs are open on this node; try later")]
    Busy(usize),
}

impl JobError {
    /// What the other parties of the job may hear of this error: only
    /// reasons that quote none of this node's data.
    pub fn shared(&self) -> Option<String> {
        match self {
            JobError::RowLimit { limit, .. } => Some(format!(
                "its policy lets the job read at most {limit} rows (max_rows)"
            )),
            JobError::Cancelled { by } => Some(format!("cancelled by {by}")),
            _ => None,
        }
    }

    /// A dataset's read error: its row limit is a [`JobError::RowLimit`].
    pub(super) fn reading(e: NodeError) -> JobError {
        match e {
            NodeError::RowLimit { dataset, limit } => JobError::RowLimit { dataset, limit },
            other => JobError::Dataset(other),
        }
    }

    /// A failure of the `protocol`.
    pub(super) fn protocol(protocol: impl Into<String>, e: impl std::fmt::Display) -> JobError {
        JobError::Protocol {
            protocol: protocol.into(),
            reason: e.to_string(),
        }
    }
}
