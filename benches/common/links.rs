//! The links the network benches compare, shared by `benches/net.rs` and
//! `examples/quic_vs_tls.rs` (included with `#[path]`).

use indomain_net::quic::{DatagramSize, Endpoint, Identity, QuicChannel};
use indomain_net::{Channel, Counters, Limits, NetError};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;

/// Sends `frames` copies of `frame` from `tx` and receives them on `rx`, on
/// two threads.
pub fn transfer(tx: &mut dyn Channel, rx: &mut dyn Channel, frame: &[u8], frames: usize) {
    std::thread::scope(|s| {
        s.spawn(|| {
            for _ in 0..frames {
                tx.send(frame).expect("send");
            }
        });
        for _ in 0..frames {
            let got = rx.recv().expect("recv");
            assert_eq!(got.len(), frame.len());
        }
    });
}

/// Two endpoints on `ip` and the channel between them.
pub fn quic_pair(
    ip: IpAddr,
    datagrams: DatagramSize,
) -> (Endpoint, Endpoint, QuicChannel, QuicChannel) {
    let (alice, bob) = (
        Identity::generate("alice").unwrap(),
        Identity::generate("bob").unwrap(),
    );
    let any = SocketAddr::new(ip, 0);
    let a = Endpoint::bind_with(
        &alice,
        any,
        vec![bob.trusted_entry()],
        Limits::default(),
        datagrams,
    )
    .unwrap();
    let b = Endpoint::bind_with(
        &bob,
        any,
        vec![alice.trusted_entry()],
        Limits::default(),
        datagrams,
    )
    .unwrap();
    let (tx, rx) = std::thread::scope(|s| {
        let accepted = s.spawn(|| b.accept().unwrap());
        (
            a.connect(b.local_addr(), "bob").unwrap(),
            accepted.join().unwrap(),
        )
    });
    (a, b, tx, rx)
}

/// A framed channel over any byte stream, framed like the QUIC channel.
pub struct Framed<S> {
    stream: S,
    peer: String,
    counters: Counters,
}

impl<S: Read + Write + Send> Channel for Framed<S> {
    fn send(&mut self, frame: &[u8]) -> Result<(), NetError> {
        let io = |e: std::io::Error| NetError::Transport {
            peer: self.peer.clone(),
            reason: e.to_string(),
        };
        self.stream
            .write_all(&(frame.len() as u64).to_le_bytes())
            .map_err(io)?;
        self.stream.write_all(frame).map_err(io)?;
        self.stream.flush().map_err(io)?;
        self.counters.sent += frame.len() as u64 + 8;
        Ok(())
    }

    fn recv(&mut self) -> Result<Vec<u8>, NetError> {
        let io = |e: std::io::Error| NetError::Transport {
            peer: self.peer.clone(),
            reason: e.to_string(),
        };
        let mut header = [0u8; 8];
        self.stream.read_exact(&mut header).map_err(io)?;
        let len = u64::from_le_bytes(header) as usize;
        assert!(len <= Limits::default().max_frame);
        let mut frame = vec![0u8; len];
        self.stream.read_exact(&mut frame).map_err(io)?;
        self.counters.received += len as u64 + 8;
        Ok(frame)
    }

    fn peer(&self) -> &str {
        &self.peer
    }

    fn counters(&self) -> Counters {
        self.counters
    }
}

pub fn framed<S>(stream: S, peer: &str) -> Framed<S> {
    Framed {
        stream,
        peer: peer.into(),
        counters: Counters::default(),
    }
}

/// A connected pair of TCP sockets on `ip`, without Nagle's delay.
pub fn tcp_pair(ip: IpAddr) -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind(SocketAddr::new(ip, 0)).unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    for s in [&client, &server] {
        s.set_nodelay(true).unwrap();
    }
    (client, server)
}

/// Accepts the one certificate the bench generated (the handshake
/// signature is still verified). Trust does not change throughput.
#[derive(Debug)]
struct ThisCertificate(CertificateDer<'static>, Arc<CryptoProvider>);

impl ServerCertVerifier for ThisCertificate {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.0.as_ref() {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General("unexpected certificate".into()))
        }
    }
    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::General("TLS 1.2 is not used".into()))
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.1.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.1.signature_verification_algorithms.supported_schemes()
    }
}

pub type TlsClient = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;
pub type TlsServer = rustls::StreamOwned<rustls::ServerConnection, TcpStream>;

/// rustls TLS 1.3 over a TCP pair on `ip`, handshake done.
pub fn tls_pair(ip: IpAddr) -> (TlsClient, TlsServer) {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert = generated.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        generated.signing_key.serialize_der(),
    ));
    let server_config = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .unwrap();
    let client_config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(ThisCertificate(cert, provider)))
        .with_no_client_auth();
    let (client_tcp, server_tcp) = tcp_pair(ip);
    let name = ServerName::try_from("localhost").unwrap();
    let client = rustls::ClientConnection::new(Arc::new(client_config), name).unwrap();
    let server = rustls::ServerConnection::new(Arc::new(server_config)).unwrap();
    let mut client = rustls::StreamOwned::new(client, client_tcp);
    let mut server = rustls::StreamOwned::new(server, server_tcp);
    // Complete the handshake both ways before measuring.
    std::thread::scope(|s| {
        s.spawn(|| {
            while server.conn.is_handshaking() {
                server.conn.complete_io(&mut server.sock).unwrap();
            }
        });
        while client.conn.is_handshaking() {
            client.conn.complete_io(&mut client.sock).unwrap();
        }
    });
    (client, server)
}
