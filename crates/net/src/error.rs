//! The error type of indomain-net. Every variant that concerns a link names
//! the peer. Text that came from a peer (close reasons) is escaped and
//! truncated before it is stored here ([`crate::text::untrusted`]).

use thiserror::Error;

/// Everything that can go wrong on a channel or while setting one up.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum NetError {
    /// The peer announced a frame larger than this end accepts.
    #[error("peer {peer}: frame of {len} bytes exceeds the limit of {max} bytes")]
    FrameTooLarge {
        /// The peer that sent it.
        peer: String,
        /// The length the peer announced.
        len: u64,
        /// The configured maximum.
        max: usize,
    },
    /// The link ended in the middle of a frame.
    #[error("peer {peer}: connection ended in the middle of a frame")]
    Truncated {
        /// The peer whose stream ended.
        peer: String,
    },
    /// The link was closed cleanly while a frame was expected.
    #[error("peer {peer}: connection closed")]
    Closed {
        /// The peer that went away.
        peer: String,
    },
    /// Nothing arrived within the receive timeout.
    #[error("peer {peer}: no data within {secs:.1} s")]
    Timeout {
        /// The silent peer.
        peer: String,
        /// The timeout that expired, in seconds.
        secs: f64,
    },
    /// A frame did not have the length the protocol expects.
    #[error("peer {peer}: expected {expected} bytes, got {got}")]
    UnexpectedLength {
        /// The peer that sent it.
        peer: String,
        /// The length the protocol expects.
        expected: usize,
        /// The length that arrived.
        got: usize,
    },
    /// A control message could not be decoded.
    #[error("peer {peer}: malformed message: {reason}")]
    Decode {
        /// The peer that sent it.
        peer: String,
        /// What the decoder said.
        reason: String,
    },
    /// A certificate was not in the list of trusted peers.
    #[error("unknown peer certificate {fingerprint}")]
    UnknownPeer {
        /// The fingerprint that was offered.
        fingerprint: String,
    },
    /// The connected peer is not the one that was asked for.
    #[error("expected peer {expected}, but the certificate belongs to {got}")]
    WrongPeer {
        /// The peer the caller asked for.
        expected: String,
        /// The peer the certificate names.
        got: String,
    },
    /// Connecting or the TLS handshake failed.
    #[error("connection to {peer} failed: {reason}")]
    Connect {
        /// The peer (or address) being reached.
        peer: String,
        /// What failed.
        reason: String,
    },
    /// A transport-level error on an established link.
    #[error("peer {peer}: transport error: {reason}")]
    Transport {
        /// The peer of the link.
        peer: String,
        /// What failed.
        reason: String,
    },
    /// An identity (certificate and key) could not be created, read or written.
    #[error("identity {path}: {reason}")]
    Identity {
        /// The file or directory concerned.
        path: String,
        /// What failed.
        reason: String,
    },
    /// The peer broke the rules of the link (a bad greeting, a second
    /// connection, a message it should not send).
    #[error("peer {peer} misbehaved: {reason}")]
    Misbehaviour {
        /// The peer.
        peer: String,
        /// What it did.
        reason: String,
    },
    /// The peer stopped the job (interrupted, or failed for a reason of its
    /// own) and closed the link saying so.
    #[error("peer {peer} stopped the job: {reason}")]
    Stopped {
        /// The peer that stopped.
        peer: String,
        /// What it said (escaped and truncated).
        reason: String,
    },
    /// Parties of the job never connected.
    #[error("{} did not connect to {addr} within {secs:.1} s", missing.join(", "))]
    NeverArrived {
        /// The parties that are missing.
        missing: Vec<String>,
        /// The address this node waited on.
        addr: String,
        /// How long it waited, in seconds.
        secs: f64,
    },
    /// A message could not be encoded for sending (it exceeds the control
    /// message limit, or the type cannot be serialised).
    #[error("cannot encode a message for {peer}: {reason}")]
    Encode {
        /// The peer it was meant for.
        peer: String,
        /// What the encoder said.
        reason: String,
    },
    /// Protocol code asked for a link that the party set does not have.
    #[error("party {me} has no channel to party {party}")]
    NoChannel {
        /// This party's index.
        me: usize,
        /// The index asked for.
        party: usize,
    },
    /// A configuration value is not usable.
    #[error("bad network configuration: {0}")]
    Config(String),
    /// A local I/O error outside a peer link (binding a socket, …).
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
}
