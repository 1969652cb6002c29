//! A QUIC endpoint: one UDP socket, its own tokio runtime, and the TLS
//! configuration (TLS 1.3 only, mutual authentication against pinned
//! fingerprints) for both the connections it accepts and those it opens.
//!
//! Every connection carries one bidirectional stream. Before a channel is
//! handed out, the client sends [`HELLO`] on it and waits for the server's
//! reply, so that both ends know the other accepted its certificate: in TLS
//! 1.3 a client finishes its handshake before the server has checked the
//! client's certificate.

use super::channel::QuicChannel;
use super::identity::{Fingerprint, Identity, TrustedPeer};
use super::verify::{PinnedClientVerifier, PinnedServerVerifier, TrustList};
use crate::{Limits, NetError};
use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use quinn::{ConnectionError, IdleTimeout, TransportConfig, VarInt};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// The ALPN protocol every indomain node speaks.
pub const ALPN: &[u8] = b"indomain/1";

/// What the client writes on a new stream and the server echoes back.
pub(crate) const HELLO: [u8; 8] = *b"indomain";

/// The TLS server name a client asks for. Certificates are pinned by
/// fingerprint, so the name only has to be syntactically valid.
const SERVER_NAME: &str = "indomain.node";

/// A link with no packets for this long is dead (the peer vanished without
/// closing). Keep-alives keep quiet but live links open.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
const KEEP_ALIVE: Duration = Duration::from_secs(5);

/// Flow-control windows. Large enough that a sender can keep several
/// 1 MiB frames in flight and `send` returns once a frame is buffered.
const STREAM_RECEIVE_WINDOW: u32 = 32 << 20;
const CONNECTION_RECEIVE_WINDOW: u32 = 64 << 20;
const SEND_WINDOW: u64 = 64 << 20;

/// UDP socket buffer size asked of the kernel.
const SOCKET_BUFFER: usize = 8 << 20;

/// The datagram size used on loopback, and the largest this endpoint
/// accepts. Fewer, larger packets cost much less CPU (quinn encrypts and
/// acknowledges per packet). quinn sends up to 10 datagrams in one
/// segmentation-offload batch, which must stay under 64 KiB, so 6000 bytes
/// is close to the largest that works; the endpoint's receive buffers grow
/// linearly with it.
const LOOPBACK_MTU: u16 = 6000;

/// Application error codes in CONNECTION_CLOSE frames.
pub(crate) const CLOSE_DONE: u32 = 0;
const CLOSE_WRONG_PEER: u32 = 1;
const CLOSE_BAD_HELLO: u32 = 2;

/// A node's QUIC endpoint. It owns its tokio runtime; every method blocks.
pub struct Endpoint {
    shared: Arc<Shared>,
    local_addr: SocketAddr,
}

/// What an endpoint and its channels share. It is dropped with the last of
/// them, after the channels' final frames have been delivered (bounded by the
/// receive timeout).
pub(crate) struct Shared {
    pub(crate) name: String,
    pub(crate) limits: Limits,
    pub(crate) trust: Arc<TrustList>,
    endpoint: quinn::Endpoint,
    network: PathConfigs,
    loopback: PathConfigs,
    closers: Mutex<Vec<JoinHandle<()>>>,
    // Declared last so that it is dropped last.
    pub(crate) runtime: tokio::runtime::Runtime,
}

impl Endpoint {
    /// Binds a UDP socket on `listen` (port 0 picks a free port) and accepts
    /// only the `trusted` peers, on connections in both directions.
    pub fn bind(
        identity: &Identity,
        listen: SocketAddr,
        trusted: Vec<TrustedPeer>,
        limits: Limits,
    ) -> Result<Endpoint, NetError> {
        if limits.max_frame == 0
            || limits.recv_timeout.is_zero()
            || limits.connect_timeout.is_zero()
        {
            return Err(NetError::Config(format!(
                "limits must be positive: {limits:?}"
            )));
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let trust = Arc::new(TrustList::new(trusted, &provider)?);
        let tls_error = |e: rustls::Error| NetError::Config(format!("TLS configuration: {e}"));
        let quic_error = |e: quinn::crypto::rustls::NoInitialCipherSuite| {
            NetError::Config(format!("QUIC configuration: {e}"))
        };

        let mut server_tls = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(tls_error)?
            .with_client_cert_verifier(Arc::new(PinnedClientVerifier(trust.clone())))
            .with_single_cert(vec![identity.certificate()], identity.private_key()?)
            .map_err(tls_error)?;
        server_tls.alpn_protocols = vec![ALPN.to_vec()];

        let mut client_tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(tls_error)?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(PinnedServerVerifier(trust.clone())))
            .with_client_auth_cert(vec![identity.certificate()], identity.private_key()?)
            .map_err(tls_error)?;
        client_tls.alpn_protocols = vec![ALPN.to_vec()];

        let server_tls = Arc::new(QuicServerConfig::try_from(server_tls).map_err(quic_error)?);
        let client_tls = Arc::new(QuicClientConfig::try_from(client_tls).map_err(quic_error)?);
        let configs = |path: Path| -> Result<_, NetError> {
            let transport = Arc::new(transport_config(path)?);
            let mut server = quinn::ServerConfig::with_crypto(server_tls.clone());
            server.transport_config(transport.clone());
            let mut client = quinn::ClientConfig::new(client_tls.clone());
            client.transport_config(transport);
            Ok(PathConfigs {
                server: Arc::new(server),
                client,
            })
        };
        let (network, loopback) = (configs(Path::Network)?, configs(Path::Loopback)?);

        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("indomain-quic")
            .enable_all()
            .build()
            .map_err(|source| NetError::Io {
                context: "starting the QUIC runtime".into(),
                source,
            })?;
        let endpoint = {
            let _entered = runtime.enter();
            let socket = udp_socket(listen)?;
            let mut config = quinn::EndpointConfig::default();
            config
                .max_udp_payload_size(LOOPBACK_MTU)
                .map_err(|e| NetError::Config(format!("UDP payload size: {e}")))?;
            let server = Some(network.server.as_ref().clone());
            quinn::Endpoint::new(config, server, socket, Arc::new(quinn::TokioRuntime)).map_err(
                |source| NetError::Io {
                    context: format!("starting QUIC on UDP {listen}"),
                    source,
                },
            )?
        };
        let local_addr = endpoint.local_addr().map_err(|source| NetError::Io {
            context: format!("reading the address bound for {listen}"),
            source,
        })?;
        Ok(Endpoint {
            shared: Arc::new(Shared {
                name: identity.name().to_string(),
                limits,
                trust,
                endpoint,
                network,
                loopback,
                closers: Mutex::new(Vec::new()),
                runtime,
            }),
            local_addr,
        })
    }

    /// The address the endpoint is bound to (with the port actually chosen).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// This node's name (from its identity).
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// The limits every channel of this endpoint enforces.
    pub fn limits(&self) -> Limits {
        self.shared.limits
    }

    /// Connects to `addr` and returns the channel once both ends have
    /// accepted each other's certificate. Fails with `WrongPeer` if the
    /// certificate there is trusted but belongs to a peer other than
    /// `peer_name`, and with `UnknownPeer` if it is not trusted at all.
    /// Connecting and the handshake together take at most the connect
    /// timeout.
    pub fn connect(&self, addr: SocketAddr, peer_name: &str) -> Result<QuicChannel, NetError> {
        if !self.shared.trust.knows_name(peer_name) {
            return Err(NetError::Config(format!(
                "peer {peer_name} is not among the trusted peers; add its NAME=sha256:... entry"
            )));
        }
        let limit = self.shared.limits.connect_timeout;
        let attempt = self.open(addr, peer_name);
        self.shared
            .runtime
            .block_on(async { tokio::time::timeout(limit, attempt).await })
            .unwrap_or_else(|_| {
                Err(NetError::Connect {
                    peer: format!("{peer_name} at {addr}"),
                    reason: format!("no handshake within {:.1} s", limit.as_secs_f64()),
                })
            })
    }

    /// Waits for a trusted peer to connect and returns the channel to it,
    /// named from its certificate. Connections that fail the handshake are
    /// refused and waiting goes on; if no trusted peer has connected within
    /// the receive timeout, the error is the last refusal (for instance
    /// `UnknownPeer` with the fingerprint that was offered), or a timeout.
    pub fn accept(&self) -> Result<QuicChannel, NetError> {
        let limits = self.shared.limits;
        let deadline = Instant::now() + limits.recv_timeout;
        self.shared.runtime.block_on(async {
            let mut refused = None;
            loop {
                let incoming =
                    match tokio::time::timeout_at(deadline, self.shared.endpoint.accept()).await {
                        Ok(Some(incoming)) => incoming,
                        Ok(None) => {
                            return Err(NetError::Config("the QUIC endpoint is closed".into()));
                        }
                        Err(_) => {
                            return Err(refused.unwrap_or_else(|| NetError::Connect {
                                peer: "any trusted peer".into(),
                                reason: format!(
                                    "none connected to {} within {:.1} s",
                                    self.local_addr,
                                    limits.recv_timeout.as_secs_f64()
                                ),
                            }));
                        }
                    };
                let remote = incoming.remote_address();
                match tokio::time::timeout(limits.connect_timeout, self.admit(incoming)).await {
                    Ok(Ok(channel)) => return Ok(channel),
                    Ok(Err(e)) => {
                        tracing::warn!("refused a connection from {remote}: {e}");
                        refused = Some(e);
                    }
                    Err(_) => {
                        tracing::warn!("handshake from {remote} did not complete in time");
                        refused = Some(NetError::Connect {
                            peer: remote.to_string(),
                            reason: "handshake did not complete within the connect timeout".into(),
                        });
                    }
                }
            }
        })
    }

    async fn open(&self, addr: SocketAddr, peer_name: &str) -> Result<QuicChannel, NetError> {
        let peer = peer_name.to_string();
        let connect_error = |reason: String| NetError::Connect {
            peer: format!("{peer_name} at {addr}"),
            reason,
        };
        let connecting = self
            .shared
            .endpoint
            .connect_with(self.shared.configs(addr).client.clone(), addr, SERVER_NAME)
            .map_err(|e| connect_error(e.to_string()))?;
        let connection = connecting
            .await
            .map_err(|e| self.handshake_error(e, &connect_error))?;
        let got = self.verified_name(&connection)?;
        if got != peer {
            connection.close(VarInt::from_u32(CLOSE_WRONG_PEER), b"unexpected peer");
            return Err(NetError::WrongPeer {
                expected: peer,
                got,
            });
        }
        let refused = |e: &dyn std::fmt::Display| {
            connect_error(format!(
                "the peer ended the connection before accepting it; does it trust this node's \
                 certificate (its --peer list)? ({e})"
            ))
        };
        let (mut send, mut recv) = connection.open_bi().await.map_err(|e| refused(&e))?;
        send.write_all(&HELLO).await.map_err(|e| refused(&e))?;
        let mut reply = [0u8; HELLO.len()];
        recv.read_exact(&mut reply).await.map_err(|e| refused(&e))?;
        if reply != HELLO {
            connection.close(VarInt::from_u32(CLOSE_BAD_HELLO), b"bad hello");
            return Err(connect_error("the peer does not speak indomain/1".into()));
        }
        Ok(QuicChannel::new(
            self.shared.clone(),
            peer,
            connection,
            send,
            recv,
        ))
    }

    async fn admit(&self, incoming: quinn::Incoming) -> Result<QuicChannel, NetError> {
        let remote = incoming.remote_address();
        let connect_error = |reason: String| NetError::Connect {
            peer: remote.to_string(),
            reason,
        };
        let config = self.shared.configs(remote).server.clone();
        let connection = incoming
            .accept_with(config)
            .map_err(|e| self.handshake_error(e, &connect_error))?
            .await
            .map_err(|e| self.handshake_error(e, &connect_error))?;
        let peer = self.verified_name(&connection)?;
        let link_error = |e: &dyn std::fmt::Display| NetError::Connect {
            peer: format!("{peer} at {remote}"),
            reason: format!("no stream opened after the handshake ({e})"),
        };
        let (mut send, mut recv) = connection.accept_bi().await.map_err(|e| link_error(&e))?;
        let mut hello = [0u8; HELLO.len()];
        recv.read_exact(&mut hello)
            .await
            .map_err(|e| link_error(&e))?;
        if hello != HELLO {
            connection.close(VarInt::from_u32(CLOSE_BAD_HELLO), b"bad hello");
            return Err(link_error(&"the peer does not speak indomain/1"));
        }
        send.write_all(&HELLO).await.map_err(|e| link_error(&e))?;
        Ok(QuicChannel::new(
            self.shared.clone(),
            peer,
            connection,
            send,
            recv,
        ))
    }

    /// The name of the peer on an established connection, from the
    /// certificate the handshake verified.
    fn verified_name(&self, connection: &quinn::Connection) -> Result<String, NetError> {
        let certificates = connection.peer_identity().and_then(|id| {
            id.downcast::<Vec<rustls::pki_types::CertificateDer<'static>>>()
                .ok()
        });
        let Some(certificate) = certificates.as_ref().and_then(|c| c.first()) else {
            return Err(NetError::UnknownPeer {
                fingerprint: "(no certificate)".into(),
            });
        };
        match self.shared.trust.name_of(certificate) {
            Some(name) => Ok(name.to_string()),
            None => Err(NetError::UnknownPeer {
                fingerprint: Fingerprint::of(certificate).to_string(),
            }),
        }
    }

    /// Turns a failed handshake into `UnknownPeer` when this end refused the
    /// peer's certificate, and into a connection error otherwise.
    fn handshake_error(
        &self,
        e: ConnectionError,
        connect_error: &dyn Fn(String) -> NetError,
    ) -> NetError {
        if let Some(fingerprint) = self.shared.trust.take_last_refused() {
            return NetError::UnknownPeer {
                fingerprint: fingerprint.to_string(),
            };
        }
        match e {
            ConnectionError::ConnectionClosed(close) => connect_error(format!(
                "refused by the peer during the TLS handshake; does it trust this node's \
                 certificate (its --peer list)? ({close})"
            )),
            ConnectionError::TimedOut => {
                connect_error("no answer (is the peer listening there?)".into())
            }
            other => connect_error(other.to_string()),
        }
    }
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("name", &self.shared.name)
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

/// The QUIC configurations for one kind of path.
struct PathConfigs {
    server: Arc<quinn::ServerConfig>,
    client: quinn::ClientConfig,
}

/// Which kind of path a connection takes.
#[derive(Clone, Copy)]
enum Path {
    /// Anything beyond this machine: start at QUIC's safe datagram size and
    /// let path MTU discovery raise it up to 1452 bytes.
    Network,
    /// Loopback, whose MTU (64 KiB on Linux) is known: large datagrams from
    /// the first packet.
    Loopback,
}

impl Shared {
    fn configs(&self, remote: SocketAddr) -> &PathConfigs {
        if remote.ip().to_canonical().is_loopback() {
            &self.loopback
        } else {
            &self.network
        }
    }

    /// Lets a dropped channel deliver its last frames in the background; the
    /// endpoint waits for these tasks before it closes.
    pub(crate) fn linger(&self, task: JoinHandle<()>) {
        if let Ok(mut closers) = self.closers.lock() {
            closers.retain(|t| !t.is_finished());
            closers.push(task);
        }
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        // Blocking on the runtime is impossible from inside a runtime; that
        // only happens if an endpoint is dropped inside async code, where the
        // connections are closed without waiting.
        if tokio::runtime::Handle::try_current().is_ok() {
            return;
        }
        let closers = self
            .closers
            .lock()
            .map(|mut c| std::mem::take(&mut *c))
            .unwrap_or_default();
        let endpoint = self.endpoint.clone();
        let linger = self.limits.recv_timeout;
        self.runtime.block_on(async move {
            let _ = tokio::time::timeout(linger, async {
                for closer in closers {
                    let _ = closer.await;
                }
            })
            .await;
            endpoint.close(VarInt::from_u32(CLOSE_DONE), b"done");
            let _ = tokio::time::timeout(Duration::from_secs(1), endpoint.wait_idle()).await;
        });
    }
}

/// Binds the UDP socket with buffers large enough for bulk transfers (the
/// kernel caps them at net.core.rmem_max / wmem_max).
fn udp_socket(listen: SocketAddr) -> Result<std::net::UdpSocket, NetError> {
    let io = |context: String| move |source| NetError::Io { context, source };
    let socket = std::net::UdpSocket::bind(listen).map_err(io(format!("binding UDP {listen}")))?;
    let state = quinn::udp::UdpSocketState::new((&socket).into())
        .map_err(io(format!("configuring UDP {listen}")))?;
    // Best effort: a smaller buffer only costs throughput.
    let _ = state.set_recv_buffer_size((&socket).into(), SOCKET_BUFFER);
    let _ = state.set_send_buffer_size((&socket).into(), SOCKET_BUFFER);
    Ok(socket)
}

fn transport_config(path: Path) -> Result<TransportConfig, NetError> {
    let mut transport = TransportConfig::default();
    let idle = IdleTimeout::try_from(IDLE_TIMEOUT)
        .map_err(|e| NetError::Config(format!("idle timeout: {e}")))?;
    transport
        .max_concurrent_bidi_streams(VarInt::from_u32(1))
        .max_concurrent_uni_streams(VarInt::from_u32(0))
        .stream_receive_window(VarInt::from_u32(STREAM_RECEIVE_WINDOW))
        .receive_window(VarInt::from_u32(CONNECTION_RECEIVE_WINDOW))
        .send_window(SEND_WINDOW)
        .max_idle_timeout(Some(idle))
        .keep_alive_interval(Some(KEEP_ALIVE))
        .datagram_receive_buffer_size(None);
    if let Path::Loopback = path {
        // Discovery is off: on loopback there is nothing to discover.
        transport
            .initial_mtu(LOOPBACK_MTU)
            .min_mtu(LOOPBACK_MTU)
            .mtu_discovery_config(None);
    }
    Ok(transport)
}
