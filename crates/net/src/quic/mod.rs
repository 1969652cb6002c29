//! The QUIC backend: quinn + rustls, TLS 1.3 with mutual authentication by
//! pinned certificate fingerprints.
//!
//! Each node has a self-signed certificate ([`Identity`]) and a list of the
//! peers it trusts, each a name and a certificate fingerprint
//! ([`TrustedPeer`]). Both ends of every connection present a certificate
//! and accept only a listed one; an unlisted peer is refused during the
//! handshake. A peer is named from the fingerprint of the certificate it
//! proved it holds the key of, never from anything it claims.
//!
//! What each party learns: the other's certificate (its public key and
//! name) and IP address, the sizes and timing of frames, and the frames'
//! contents, which the protocol above decides. An on-path observer sees
//! only encrypted packets (their sizes and timing) and, in the clear during
//! the handshake, nothing of the certificates (TLS 1.3 encrypts them).
//!
//! The [`Endpoint`] owns a tokio runtime; [`QuicChannel`] is a blocking
//! [`crate::Channel`], so protocol code never sees async.

mod channel;
mod datagram;
mod endpoint;
mod frame;
mod handshake;
mod hub;
mod identity;
mod mesh;
#[cfg(test)]
pub(crate) mod tests;
mod verify;

pub use channel::{LinkStopper, PathStats, QuicChannel};
pub use datagram::{DatagramSize, MAX_DATAGRAM, MIN_DATAGRAM};
pub use endpoint::{ALPN, Endpoint, Liveness, StopHandle};
pub use hub::{ClientId, Hub, HubEvent};
pub use identity::{CERT_FILE, Fingerprint, Identity, KEY_FILE, TrustedPeer};
pub use mesh::{PartyAddr, mesh};
