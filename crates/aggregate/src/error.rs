//! The error type of indomain-aggregate. Every variant that concerns a peer
//! names it, and every protocol error names the phase it happened in.

use indomain_net::NetError;
use thiserror::Error;

/// Everything that can go wrong in an aggregation job or round.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum AggregateError {
    /// A link failed (the peer went away, timed out or sent a frame of the
    /// wrong size); the `NetError` names the peer.
    #[error("{phase}: {source}")]
    Net {
        /// The protocol phase that was running.
        phase: &'static str,
        /// The channel error, which names the peer.
        #[source]
        source: NetError,
    },
    /// A peer sent a well-formed message that breaks the protocol.
    #[error("{phase}: party {peer} {reason}")]
    Protocol {
        /// The peer that sent it.
        peer: String,
        /// The protocol phase that was running.
        phase: &'static str,
        /// What was wrong with it.
        reason: String,
    },
    /// A peer was started with different job parameters or party list than this party.
    #[error(
        "job agreement: party {peer} runs a different job; check that every party got the same parameters and the same party list in the same order"
    )]
    JobMismatch {
        /// The peer whose job differs.
        peer: String,
    },
    /// The job or round parameters are not usable.
    #[error("bad parameters: {0}")]
    BadParameters(String),
    /// A local input value cannot be encoded in the job's fixed-point range.
    #[error(
        "input row {row}, column {column}: value {value} is outside the job's range (|x| ≤ {max_abs})"
    )]
    OutOfRange {
        /// The row (0-based) of the offending value.
        row: usize,
        /// The column (0-based, in the job's column order).
        column: usize,
        /// The value that was refused.
        value: f64,
        /// The job's bound on |x|.
        max_abs: f64,
    },
    /// A local input row names a group the job does not have.
    #[error("input row {row}: group index {group} is not among the job's {groups} groups")]
    UnknownGroup {
        /// The row (0-based).
        row: usize,
        /// The group index it carries.
        group: usize,
        /// The number of groups in the job.
        groups: usize,
    },
    /// Local input columns do not have the shape the job expects.
    #[error("input shape: {0}")]
    BadInput(String),
    /// An aggregate could exceed the fixed-point range, so it is not opened.
    #[error(
        "overflow check: group {group}: {count} values of magnitude up to {max_abs} could exceed the fixed-point range of the {what}; nothing was released (use fewer fractional bits or a tighter range)"
    )]
    Overflow {
        /// The group whose aggregate could overflow.
        group: String,
        /// Which aggregate (sum, sum of squares).
        what: &'static str,
        /// The group's total count.
        count: u64,
        /// The job's bound on |x|.
        max_abs: f64,
    },
    /// The secure comparison (mpc layer) failed; the error names the peer
    /// or the dealer.
    #[error("{phase}: {source}")]
    Mpc {
        /// The protocol phase that was running.
        phase: &'static str,
        /// The mpc error.
        #[source]
        source: indomain_mpc::MpcError,
    },
    /// The job's rows, over all parties, could make a total exceed the
    /// fixed-point range. Decided by a secure comparison of the shared row
    /// total with the public bound, so every party learns only this.
    #[error(
        "overflow check: the job has {bound} rows or more over all parties, enough for a {what} to exceed the fixed-point range; nothing was released (use fewer fractional bits or a tighter range)"
    )]
    RowsOverflow {
        /// Which aggregate (sum, sum of squares).
        what: &'static str,
        /// The public bound on the rows the job's parameters allow.
        bound: u64,
    },
    /// The deciding receiver stopped the job. Its reason may name a group
    /// or a count this party may not learn, so it stays at that party (in
    /// its own error); nothing was released.
    #[error(
        "{phase}: party {peer} stopped the job; its reason stays with it (see its log); nothing was released"
    )]
    Aborted {
        /// The receiver that decided.
        peer: String,
        /// The phase.
        phase: &'static str,
    },
    /// Too few clients remain for the secure-aggregation round to go on; it
    /// was aborted and nothing was released.
    #[error(
        "secure aggregation aborted in {phase}: {survivors} clients remain but the threshold is {threshold}; nothing was released"
    )]
    TooFewSurvivors {
        /// The phase in which the count fell below the threshold.
        phase: &'static str,
        /// Clients still taking part.
        survivors: usize,
        /// The threshold t.
        threshold: usize,
    },
    /// Too few shares of one client's secret came back to reconstruct it.
    #[error(
        "secure aggregation aborted in unmasking: only {got} shares of client {client}'s {secret} arrived, {threshold} are needed; nothing was released"
    )]
    Unrecoverable {
        /// The client whose secret is missing.
        client: usize,
        /// Which secret (self mask or key).
        secret: &'static str,
        /// Shares that arrived.
        got: usize,
        /// The threshold t.
        threshold: usize,
    },
    /// A signature that should be client `client`'s is missing, malformed
    /// or does not verify under its key in the PKI: the server substituted
    /// or altered what it relayed (or sent different survivor lists); the
    /// round was refused before anything depending on it was sent.
    #[error(
        "secure aggregation refused in {phase}: client {client}'s signature on {what} is missing or does not verify; nothing was revealed"
    )]
    BadSignature {
        /// The client whose signature it should be.
        client: usize,
        /// The phase.
        phase: &'static str,
        /// What was signed.
        what: &'static str,
    },
    /// Fewer than t of a neighbour's neighbours signed the survivor list
    /// this client was sent, so the lists may differ between clients; the
    /// round was refused before any share was revealed.
    #[error(
        "secure aggregation refused in the consistency check: only {got} of client {client}'s neighbours signed our survivor list, {threshold} are needed; no share was revealed"
    )]
    TooFewEndorsements {
        /// The neighbour whose shares would have been revealed.
        client: usize,
        /// Its neighbours whose signatures on the list arrived (ours included).
        got: usize,
        /// The threshold t.
        threshold: usize,
    },
    /// The unmasked sum is outside what in-range inputs can produce: some
    /// client's input was out of range; nothing was released.
    #[error(
        "secure aggregation: element {index} of the sum is outside ±{bound} (the most {survivors} in-range inputs can add up to); nothing was released"
    )]
    SumOutOfRange {
        /// The first offending element.
        index: usize,
        /// The bound for the surviving clients.
        bound: f64,
        /// Surviving clients.
        survivors: usize,
    },
}

impl AggregateError {
    /// Wraps a channel error with the phase it happened in.
    pub(crate) fn net(phase: &'static str) -> impl Fn(NetError) -> AggregateError + Copy {
        move |source| AggregateError::Net { phase, source }
    }

    /// Wraps an mpc error with the phase it happened in.
    pub(crate) fn mpc(
        phase: &'static str,
    ) -> impl Fn(indomain_mpc::MpcError) -> AggregateError + Copy {
        move |source| AggregateError::Mpc { phase, source }
    }
}
