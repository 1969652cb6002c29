//! A QUIC endpoint: one UDP socket, its own tokio runtime, and the TLS
//! configuration (TLS 1.3 only, mutual authentication against pinned
//! fingerprints) for both the connections it accepts and those it opens.
//!
//! Every connection carries one bidirectional stream. Before a channel is
//! handed out, the client sends [`HELLO`] on it and waits for the server's
//! reply, so that both ends know the other accepted its certificate: in TLS
//! 1.3 a client finishes its handshake before the server has checked the
//! client's certificate. Connecting and accepting live in
//! [`super::handshake`].

use super::channel::QuicChannel;
use super::datagram::{self, DatagramSize, PathDatagrams};
use super::identity::{Identity, TrustedPeer};
use super::verify::{PinnedClientVerifier, PinnedServerVerifier, Refusal, TrustList};
use crate::{Limits, NetError};
use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use quinn::{IdleTimeout, TransportConfig, VarInt};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::{JoinHandle, JoinSet};

/// The ALPN protocol every indomain node speaks.
pub const ALPN: &[u8] = b"indomain/1";

/// What the client writes on a new stream and the server echoes back.
pub(crate) const HELLO: [u8; 8] = *b"indomain";

/// The TLS server name a client asks for. Certificates are pinned by
/// fingerprint, so the name only has to be syntactically valid.
pub(crate) const SERVER_NAME: &str = "indomain.node";

/// How a link tells a vanished peer from a quiet one: with no packet for
/// `idle_timeout` the link is dead (the peer was killed, or its machine or
/// network went away, without closing); keep-alives every `keep_alive` keep
/// a quiet but live link open (the runtime sends them even while the
/// protocol thread computes). Each end proposes its idle timeout and the
/// shorter one applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Liveness {
    /// No packet for this long: the peer is gone.
    pub idle_timeout: Duration,
    /// A keep-alive after this long without sending.
    pub keep_alive: Duration,
}

impl Default for Liveness {
    /// 30 s idle, keep-alives every 5 s: lenient, for one-shot commands
    /// whose peers may be on slow or lossy paths.
    fn default() -> Self {
        Liveness {
            idle_timeout: Duration::from_secs(30),
            keep_alive: Duration::from_secs(5),
        }
    }
}

impl Liveness {
    /// A few seconds to notice a dead peer: for a long-running node, whose
    /// peers must fail a job soon after a party vanished, not half a minute
    /// later. Keep-alives every second leave room for several lost ones.
    pub const PROMPT: Liveness = Liveness {
        idle_timeout: Duration::from_secs(5),
        keep_alive: Duration::from_secs(1),
    };

    fn validate(&self) -> Result<(), NetError> {
        if self.keep_alive.is_zero() || self.keep_alive >= self.idle_timeout {
            return Err(NetError::Config(format!(
                "keep-alives ({:?}) must be more frequent than the idle timeout ({:?})",
                self.keep_alive, self.idle_timeout
            )));
        }
        IdleTimeout::try_from(self.idle_timeout)
            .map(|_| ())
            .map_err(|e| NetError::Config(format!("idle timeout: {e}")))
    }
}

/// Flow-control windows. Large enough that a sender can keep several
/// 1 MiB frames in flight and `send` returns once a frame is buffered.
const STREAM_RECEIVE_WINDOW: u32 = 32 << 20;
const CONNECTION_RECEIVE_WINDOW: u32 = 64 << 20;
const SEND_WINDOW: u64 = 64 << 20;

/// UDP socket buffer size asked of the kernel.
const SOCKET_BUFFER: usize = 8 << 20;

/// Application error codes in CONNECTION_CLOSE frames.
pub(crate) const CLOSE_DONE: u32 = 0;
pub(crate) const CLOSE_WRONG_PEER: u32 = 1;
pub(crate) const CLOSE_BAD_HELLO: u32 = 2;
/// The job was stopped (a signal, or a failure at this node); the reason
/// says which, never the private detail.
pub(crate) const CLOSE_STOPPED: u32 = 3;

/// The most close-reason bytes sent with [`CLOSE_STOPPED`].
const MAX_CLOSE_REASON: usize = 200;

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
    pub(crate) endpoint: quinn::Endpoint,
    tls: TlsMaterial,
    datagrams: DatagramSize,
    /// Read once at bind: the namespace does not change under a process.
    loopback_mtu: Option<u32>,
    closers: Mutex<Vec<JoinHandle<()>>>,
    /// Applies to the connections opened or accepted after it is set.
    liveness: Mutex<Liveness>,
    /// Set when the job failed here: links then close with the "stopped"
    /// code and this reason (after delivering what was sent) instead of
    /// "done".
    stop_reason: Arc<Mutex<Option<String>>>,
    /// Handshakes in progress, kept across `accept` calls so that a peer
    /// admitted while another was being returned is not lost.
    pub(crate) pending: Mutex<JoinSet<Result<QuicChannel, NetError>>>,
    // Declared last so that it is dropped last.
    pub(crate) runtime: tokio::runtime::Runtime,
}

impl Endpoint {
    /// Binds a UDP socket on `listen` (port 0 picks a free port) and accepts
    /// only the `trusted` peers, on connections in both directions, with
    /// datagram sizes chosen per path ([`DatagramSize::Auto`]).
    pub fn bind(
        identity: &Identity,
        listen: SocketAddr,
        trusted: Vec<TrustedPeer>,
        limits: Limits,
    ) -> Result<Endpoint, NetError> {
        Self::bind_with(identity, listen, trusted, limits, DatagramSize::Auto)
    }

    /// [`Endpoint::bind`] with the datagram size set: for a path whose MTU
    /// the operator knows (say [`DatagramSize::Known`]`(1472)` on a
    /// 1500-byte IPv4 network).
    pub fn bind_with(
        identity: &Identity,
        listen: SocketAddr,
        trusted: Vec<TrustedPeer>,
        limits: Limits,
        datagrams: DatagramSize,
    ) -> Result<Endpoint, NetError> {
        datagrams.validate().map_err(NetError::Config)?;
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
        if let Some(name) = trust.name_of_fingerprint(&identity.fingerprint()) {
            return Err(NetError::Config(format!(
                "peer {name} has this node's own fingerprint {}; every party needs an \
                 identity of its own (`indomain fingerprint` prints each node's)",
                identity.fingerprint()
            )));
        }
        let tls = TlsMaterial {
            provider,
            certificate: identity.certificate(),
            key: identity.private_key()?,
        };
        // Incoming connections are accepted with a configuration of their
        // own (`accept_with`); this one only enables the server role.
        let network = Arc::new(transport_config(
            PathDatagrams::Discover,
            Liveness::default(),
        )?);
        let (default_server, _) = tls.server(&trust, network)?;

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
                .max_udp_payload_size(datagrams.largest())
                .map_err(|e| NetError::Config(format!("UDP payload size: {e}")))?;
            let server = Some(default_server);
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
                tls,
                datagrams,
                loopback_mtu: datagram::loopback_mtu(),
                closers: Mutex::new(Vec::new()),
                liveness: Mutex::new(Liveness::default()),
                stop_reason: Arc::new(Mutex::new(None)),
                pending: Mutex::new(JoinSet::new()),
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

    /// Sets how links opened or accepted from now on detect a vanished peer
    /// (the default is [`Liveness::default`]).
    pub fn set_liveness(&self, liveness: Liveness) -> Result<(), NetError> {
        liveness.validate()?;
        if let Ok(mut slot) = self.shared.liveness.lock() {
            *slot = liveness;
        }
        Ok(())
    }

    /// A handle that stops every link of this endpoint from any thread
    /// (a signal handler, a failed job): see [`StopHandle`].
    pub fn stop_handle(&self) -> StopHandle {
        StopHandle {
            endpoint: self.shared.endpoint.clone(),
            runtime: self.shared.runtime.handle().clone(),
            name: self.shared.name.clone(),
            reason: self.shared.stop_reason.clone(),
        }
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }
}

/// Stops a job's links: connections close with the "stopped" code and a
/// short public reason (say why, not the private detail; cut to 200 bytes),
/// which each peer turns into [`NetError::Stopped`] naming this node — at
/// once, not after an idle or receive timeout.
#[derive(Clone)]
pub struct StopHandle {
    endpoint: quinn::Endpoint,
    runtime: tokio::runtime::Handle,
    name: String,
    reason: Arc<Mutex<Option<String>>>,
}

impl StopHandle {
    /// Closes every link now, dropping frames not yet delivered (for a
    /// signal), and waits up to a second for the close to go out. Must not
    /// be called from inside async code.
    pub fn stop(&self, reason: &str) {
        let reason = cut_reason(reason);
        self.endpoint
            .close(VarInt::from_u32(CLOSE_STOPPED), reason.as_bytes());
        let endpoint = self.endpoint.clone();
        self.runtime.block_on(async move {
            let _ = tokio::time::timeout(Duration::from_secs(1), endpoint.wait_idle()).await;
        });
    }

    /// Marks the job as failed here: from now on each link, when its
    /// channel is dropped, first delivers the frames already sent (an abort
    /// message, say) and then closes as stopped with `reason`.
    pub fn stop_after_delivery(&self, reason: &str) {
        if let Ok(mut slot) = self.reason.lock() {
            *slot = Some(cut_reason(reason).to_string());
        }
    }

    /// The name of the node this handle stops.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// The code and reason a link closes with, given the job's stop reason.
pub(crate) fn close_code(stop_reason: &Mutex<Option<String>>) -> (VarInt, Vec<u8>) {
    match stop_reason.lock().ok().and_then(|r| r.clone()) {
        Some(reason) => (VarInt::from_u32(CLOSE_STOPPED), reason.into_bytes()),
        None => (VarInt::from_u32(CLOSE_DONE), b"done".to_vec()),
    }
}

fn cut_reason(reason: &str) -> &str {
    let mut cut = MAX_CLOSE_REASON.min(reason.len());
    while !reason.is_char_boundary(cut) {
        cut -= 1;
    }
    &reason[..cut]
}

impl std::fmt::Debug for StopHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StopHandle")
            .field("name", &self.name)
            .finish_non_exhaustive()
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

/// What every connection's TLS configuration is built from. Each
/// connection gets configurations of its own, with verifiers that record a
/// refusal in that connection's [`Refusal`] only.
struct TlsMaterial {
    provider: Arc<rustls::crypto::CryptoProvider>,
    certificate: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
}

fn tls_error(e: rustls::Error) -> NetError {
    NetError::Config(format!("TLS configuration: {e}"))
}

fn quic_error(e: quinn::crypto::rustls::NoInitialCipherSuite) -> NetError {
    NetError::Config(format!("QUIC configuration: {e}"))
}

impl TlsMaterial {
    fn server(
        &self,
        trust: &Arc<TrustList>,
        transport: Arc<TransportConfig>,
    ) -> Result<(quinn::ServerConfig, Arc<Refusal>), NetError> {
        let refusal = Arc::new(Refusal::default());
        let verifier = PinnedClientVerifier(trust.clone(), refusal.clone());
        let mut tls = rustls::ServerConfig::builder_with_provider(self.provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(tls_error)?
            .with_client_cert_verifier(Arc::new(verifier))
            .with_single_cert(vec![self.certificate.clone()], self.key.clone_key())
            .map_err(tls_error)?;
        tls.alpn_protocols = vec![ALPN.to_vec()];
        let tls = QuicServerConfig::try_from(tls).map_err(quic_error)?;
        let mut config = quinn::ServerConfig::with_crypto(Arc::new(tls));
        config.transport_config(transport);
        Ok((config, refusal))
    }

    fn client(
        &self,
        trust: &Arc<TrustList>,
        transport: Arc<TransportConfig>,
    ) -> Result<(quinn::ClientConfig, Arc<Refusal>), NetError> {
        let refusal = Arc::new(Refusal::default());
        let verifier = PinnedServerVerifier(trust.clone(), refusal.clone());
        let mut tls = rustls::ClientConfig::builder_with_provider(self.provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(tls_error)?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_client_auth_cert(vec![self.certificate.clone()], self.key.clone_key())
            .map_err(tls_error)?;
        tls.alpn_protocols = vec![ALPN.to_vec()];
        let tls = QuicClientConfig::try_from(tls).map_err(quic_error)?;
        let mut config = quinn::ClientConfig::new(Arc::new(tls));
        config.transport_config(transport);
        Ok((config, refusal))
    }
}

impl Shared {
    fn transport(&self, remote: SocketAddr) -> Result<Arc<TransportConfig>, NetError> {
        let path = self.datagrams.for_path(remote, self.loopback_mtu);
        let liveness = self.liveness.lock().map(|l| *l).unwrap_or_default();
        Ok(Arc::new(transport_config(path, liveness)?))
    }

    /// A server configuration for one incoming connection from `remote`.
    pub(crate) fn server_config(
        &self,
        remote: SocketAddr,
    ) -> Result<(Arc<quinn::ServerConfig>, Arc<Refusal>), NetError> {
        let (config, refusal) = self.tls.server(&self.trust, self.transport(remote)?)?;
        Ok((Arc::new(config), refusal))
    }

    /// A client configuration for one connection to `remote`.
    pub(crate) fn client_config(
        &self,
        remote: SocketAddr,
    ) -> Result<(quinn::ClientConfig, Arc<Refusal>), NetError> {
        self.tls.client(&self.trust, self.transport(remote)?)
    }

    /// The code and reason a link closes with once it is done: "done", or
    /// "stopped" if the job failed here.
    pub(crate) fn close_code(&self) -> (VarInt, Vec<u8>) {
        close_code(&self.stop_reason)
    }

    /// What decides the close code later, for a task that must not keep the
    /// endpoint (and so its runtime) alive.
    pub(crate) fn stop_reason(&self) -> Arc<Mutex<Option<String>>> {
        self.stop_reason.clone()
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
        let (code, reason) = self.close_code();
        self.runtime.block_on(async move {
            let _ = tokio::time::timeout(linger, async {
                for closer in closers {
                    let _ = closer.await;
                }
            })
            .await;
            endpoint.close(code, &reason);
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

fn transport_config(path: PathDatagrams, liveness: Liveness) -> Result<TransportConfig, NetError> {
    let mut transport = TransportConfig::default();
    let idle = IdleTimeout::try_from(liveness.idle_timeout)
        .map_err(|e| NetError::Config(format!("idle timeout: {e}")))?;
    transport
        .max_concurrent_bidi_streams(VarInt::from_u32(1))
        .max_concurrent_uni_streams(VarInt::from_u32(0))
        .stream_receive_window(VarInt::from_u32(STREAM_RECEIVE_WINDOW))
        .receive_window(VarInt::from_u32(CONNECTION_RECEIVE_WINDOW))
        .send_window(SEND_WINDOW)
        .max_idle_timeout(Some(idle))
        .keep_alive_interval(Some(liveness.keep_alive))
        .datagram_receive_buffer_size(None);
    datagram::configure(&mut transport, path);
    Ok(transport)
}
