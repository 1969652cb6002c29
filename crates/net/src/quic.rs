//! The QUIC backend (quinn + rustls, mutual TLS with pinned certificate
//! fingerprints). Being built under issue #2.
