//! Criterion benches: channel throughput on loopback.
//!
//! The same transfer (1 MiB frames, 256 MiB an iteration, one direction,
//! with the 8-byte length prefix on every frame) over three links in the
//! same run, so that their ratios are meaningful on a noisy machine:
//!
//! - `quic`: indomain's QUIC channel (quinn + rustls, TLS 1.3, mutual
//!   authentication by pinned fingerprints);
//! - `quic_network_path`: the same, through this machine's non-loopback
//!   address, so with the datagram sizes of a real network path;
//! - `tcp_tls13`: rustls TLS 1.3 over a blocking `TcpStream`
//!   (`rustls::StreamOwned`), the same crypto provider and cipher suites;
//! - `tcp`: plain TCP, the ceiling of loopback.
//!
//!     cargo bench --bench net

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use indomain_net::quic::{Endpoint, Identity};
use indomain_net::{Channel, Counters, Limits, NetError};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::Arc;
use std::time::Duration;

const FRAME: usize = 1 << 20;
const FRAMES: usize = 256;

/// Sends `FRAMES` frames from `tx` and receives them on `rx`, on two threads.
fn transfer(tx: &mut dyn Channel, rx: &mut dyn Channel, frame: &[u8]) {
    std::thread::scope(|s| {
        s.spawn(|| {
            for _ in 0..FRAMES {
                tx.send(frame).expect("send");
            }
        });
        for _ in 0..FRAMES {
            let got = rx.recv().expect("recv");
            assert_eq!(got.len(), FRAME);
        }
    });
}

fn quic_pair(ip: IpAddr) -> (Endpoint, Endpoint, impl Channel, impl Channel) {
    let (alice, bob) = (
        Identity::generate("alice").unwrap(),
        Identity::generate("bob").unwrap(),
    );
    let any = SocketAddr::new(ip, 0);
    let a = Endpoint::bind(&alice, any, vec![bob.trusted_entry()], Limits::default()).unwrap();
    let b = Endpoint::bind(&bob, any, vec![alice.trusted_entry()], Limits::default()).unwrap();
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
struct Framed<S> {
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

fn framed<S>(stream: S, peer: &str) -> Framed<S> {
    Framed {
        stream,
        peer: peer.into(),
        counters: Counters::default(),
    }
}

fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
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

type TlsClient = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;
type TlsServer = rustls::StreamOwned<rustls::ServerConnection, TcpStream>;

fn tls_pair() -> (TlsClient, TlsServer) {
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
    let (client_tcp, server_tcp) = tcp_pair();
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

/// This machine's address on its default route, if it has one (no packet
/// is sent to find it).
fn own_network_address() -> Option<IpAddr> {
    let probe = UdpSocket::bind("0.0.0.0:0").ok()?;
    probe.connect("192.0.2.1:9").ok()?;
    Some(probe.local_addr().ok()?.ip()).filter(|ip| !ip.is_loopback() && !ip.is_unspecified())
}

fn channel_throughput(c: &mut Criterion) {
    let frame = vec![0x5a_u8; FRAME];
    let mut group = c.benchmark_group("channel_1MiB_frames");
    group.throughput(Throughput::Bytes((FRAME * FRAMES) as u64));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));

    let (_a, _b, mut tx, mut rx) = quic_pair(Ipv4Addr::LOCALHOST.into());
    group.bench_function("quic", |b| b.iter(|| transfer(&mut tx, &mut rx, &frame)));
    drop((_a, _b, tx, rx));

    // The same machine through its own non-loopback address: the kernel
    // still short-cuts the packets, but the endpoint uses the settings of a
    // real network path (1452-byte datagrams at most).
    if let Some(ip) = own_network_address() {
        let (_a, _b, mut tx, mut rx) = quic_pair(ip);
        group.bench_function("quic_network_path", |b| {
            b.iter(|| transfer(&mut tx, &mut rx, &frame))
        });
    }

    let (client, server) = tls_pair();
    let (mut tx, mut rx) = (framed(client, "server"), framed(server, "client"));
    group.bench_function("tcp_tls13", |b| {
        b.iter(|| transfer(&mut tx, &mut rx, &frame))
    });

    let (client, server) = tcp_pair();
    let (mut tx, mut rx) = (framed(client, "server"), framed(server, "client"));
    group.bench_function("tcp", |b| b.iter(|| transfer(&mut tx, &mut rx, &frame)));
    group.finish();
}

criterion_group!(benches, channel_throughput);
criterion_main!(benches);
