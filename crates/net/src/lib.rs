//! indomain-net: how parties talk.
//!
//! A [`Channel`] is a framed, ordered, blocking link to one named peer.
//! Protocols are plain synchronous functions over channels and never see
//! sockets or async code. Two backends implement it:
//!
//! - [`memory`]: an in-process pair, for tests and for researchers running
//!   every party in one process (one thread a party);
//! - `quic` (feature `quic`, on by default): QUIC with mutual TLS, where each end accepts only the
//!   certificate fingerprints it was configured with and names the peer from
//!   the verified certificate.
//!
//! A [`PartySet`] gathers one channel to each other party of an n-party
//! protocol. [`wire`] has the typed helpers protocols use on top of frames:
//! ring vectors as raw little-endian bytes with their length checked, and
//! control messages as bincode with a size limit.
#![warn(missing_docs)]

pub mod channel;
pub mod error;
pub mod memory;
pub mod party;
#[cfg(feature = "quic")]
pub mod quic;
pub mod stream;
pub mod text;
pub mod wanlab;
pub mod wire;

pub use channel::{Channel, Counters, Limits};
pub use error::NetError;
pub use party::PartySet;
