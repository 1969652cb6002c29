//! Certificate pinning for both ends of the TLS handshake.
//!
//! A node trusts exactly the certificates whose SHA-256 fingerprints are in
//! its list; there are no certificate authorities. The same rule holds for
//! the server checking a client (mutual TLS) and for a client checking a
//! server. The handshake signatures are still verified with the crypto
//! provider, so a peer must hold the private key of a pinned certificate,
//! not merely a copy of the certificate. The peer's name is looked up from
//! the fingerprint, never taken from anything the peer says.

use super::identity::{Fingerprint, TrustedPeer};
use crate::NetError;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, SignatureScheme};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The pinned fingerprints and the names they stand for.
#[derive(Debug)]
pub(crate) struct TrustList {
    by_fingerprint: HashMap<Fingerprint, String>,
    algorithms: WebPkiSupportedAlgorithms,
}

/// The certificate refused during one handshake, so that the failed
/// connection can say which fingerprint was offered (rustls only carries an
/// alert across). Every connection has its own verifier and its own slot,
/// so concurrent handshakes never report each other's refusals.
#[derive(Debug, Default)]
pub(crate) struct Refusal(Mutex<Option<Fingerprint>>);

impl Refusal {
    /// The fingerprint refused in this handshake, if any.
    pub(crate) fn take(&self) -> Option<Fingerprint> {
        self.0.lock().map(|mut slot| slot.take()).unwrap_or(None)
    }

    fn set(&self, fingerprint: Fingerprint) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some(fingerprint);
        }
    }
}

impl TrustList {
    /// Builds the list, refusing a name or fingerprint listed twice.
    pub(crate) fn new(
        peers: Vec<TrustedPeer>,
        provider: &CryptoProvider,
    ) -> Result<Self, NetError> {
        let mut by_fingerprint = HashMap::new();
        let mut names = std::collections::HashSet::new();
        for peer in peers {
            if !names.insert(peer.name.clone()) {
                return Err(NetError::Config(format!(
                    "peer {} is listed twice",
                    peer.name
                )));
            }
            if let Some(other) = by_fingerprint.insert(peer.fingerprint, peer.name.clone()) {
                return Err(NetError::Config(format!(
                    "peers {other} and {} have the same fingerprint {}",
                    peer.name, peer.fingerprint
                )));
            }
        }
        Ok(Self {
            by_fingerprint,
            algorithms: provider.signature_verification_algorithms,
        })
    }

    /// The name of the peer holding `cert`, if it is pinned.
    pub(crate) fn name_of(&self, cert: &CertificateDer<'_>) -> Option<&str> {
        self.by_fingerprint
            .get(&Fingerprint::of(cert))
            .map(String::as_str)
    }

    /// Whether some pinned peer is called `name`.
    pub(crate) fn knows_name(&self, name: &str) -> bool {
        self.by_fingerprint.values().any(|n| n == name)
    }

    /// The names of all pinned peers.
    pub(crate) fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.by_fingerprint.values().cloned().collect();
        names.sort();
        names
    }

    /// The name pinned for `fingerprint`, if any.
    pub(crate) fn name_of_fingerprint(&self, fingerprint: &Fingerprint) -> Option<&str> {
        self.by_fingerprint.get(fingerprint).map(String::as_str)
    }

    fn check(&self, cert: &CertificateDer<'_>, refusal: &Refusal) -> Result<(), rustls::Error> {
        if self.name_of(cert).is_some() {
            return Ok(());
        }
        let fingerprint = Fingerprint::of(cert);
        tracing::warn!("refused a peer with unknown certificate {fingerprint}");
        refusal.set(fingerprint);
        Err(rustls::Error::InvalidCertificate(
            CertificateError::ApplicationVerificationFailure,
        ))
    }

    fn verify_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }
}

/// A client's check of the server: the certificate must be pinned. The
/// server name in the handshake is ignored; the fingerprint decides. One
/// per connection, with that connection's [`Refusal`].
#[derive(Debug)]
pub(crate) struct PinnedServerVerifier(pub(crate) Arc<TrustList>, pub(crate) Arc<Refusal>);

impl ServerCertVerifier for PinnedServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.0
            .check(end_entity, &self.1)
            .map(|()| ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(tls12_refused())
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.algorithms.supported_schemes()
    }
}

/// A server's check of the client: a certificate is mandatory and must be
/// pinned. One per connection, with that connection's [`Refusal`].
#[derive(Debug)]
pub(crate) struct PinnedClientVerifier(pub(crate) Arc<TrustList>, pub(crate) Arc<Refusal>);

impl ClientCertVerifier for PinnedClientVerifier {
    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.0
            .check(end_entity, &self.1)
            .map(|()| ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(tls12_refused())
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.algorithms.supported_schemes()
    }
}

/// Configurations are TLS 1.3 only, so a TLS 1.2 signature never reaches us;
/// refuse it should that ever change.
fn tls12_refused() -> rustls::Error {
    rustls::Error::General("TLS 1.2 is not accepted".into())
}
