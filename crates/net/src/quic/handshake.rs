//! Opening and admitting connections.
//!
//! Connecting retries until the receive timeout (`--timeout`), so parties
//! may start in any order: each attempt is one QUIC handshake bounded by the
//! connect timeout, and only a peer that does not answer is tried again (a
//! refused certificate or the wrong peer is final). Accepting admits
//! handshakes concurrently, each bounded by the connect timeout, so a
//! sender of stray or stalled handshakes cannot hold up a trusted peer; a
//! client must first prove its address (a QUIC retry) before this end keeps
//! any state for it, and at most [`MAX_PENDING`] handshakes run at once.

use super::channel::QuicChannel;
use super::endpoint::{
    CLOSE_BAD_HELLO, CLOSE_STOPPED, CLOSE_WRONG_PEER, Endpoint, HELLO, SERVER_NAME, Shared,
};
use super::identity::Fingerprint;
use super::verify::Refusal;
use crate::NetError;
use crate::text::untrusted_bytes;
use quinn::{ConnectionError, VarInt};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Handshakes admitted at once; more are refused until one finishes.
const MAX_PENDING: usize = 64;

/// The pause before trying again after an attempt that failed at once.
const RETRY_PAUSE: Duration = Duration::from_millis(250);

/// How one connection attempt ended, when it did not give a channel.
enum Failure {
    /// Nobody answered: try again while time remains.
    NoAnswer(NetError),
    /// Refused or wrong: trying again would not help.
    Final(NetError),
}

impl Endpoint {
    /// Connects to `addr` and returns the channel once both ends have
    /// accepted each other's certificate. Fails with `WrongPeer` if the
    /// certificate there is trusted but belongs to a peer other than
    /// `peer_name`, and with `UnknownPeer` if it is not trusted at all.
    /// While nobody answers at `addr`, tries again until the receive timeout
    /// has passed (each attempt takes at most the connect timeout), so the
    /// peer may start after this node.
    pub fn connect(&self, addr: SocketAddr, peer_name: &str) -> Result<QuicChannel, NetError> {
        let shared = self.shared();
        if !shared.trust.knows_name(peer_name) {
            return Err(NetError::Config(format!(
                "peer {peer_name} is not among the trusted peers; add its NAME=sha256:... entry"
            )));
        }
        let limits = shared.limits;
        let deadline = Instant::now() + limits.recv_timeout;
        shared.runtime.block_on(async {
            loop {
                let started = Instant::now();
                let attempt_end = deadline.min(started + limits.connect_timeout);
                let error = match open(shared, addr, peer_name, (attempt_end, deadline)).await {
                    Ok(channel) => return Ok(channel),
                    Err(Failure::Final(e)) => return Err(e),
                    Err(Failure::NoAnswer(e)) => e,
                };
                let now = Instant::now();
                if now >= deadline {
                    return Err(match error {
                        NetError::Connect { peer, .. } => NetError::Connect {
                            peer,
                            reason: format!(
                                "no answer within {:.1} s (is it running and listening there?)",
                                limits.recv_timeout.as_secs_f64()
                            ),
                        },
                        other => other,
                    });
                }
                tracing::debug!("{peer_name} at {addr}: {error}; trying again");
                if now - started < RETRY_PAUSE {
                    tokio::time::sleep_until(deadline.min(now + RETRY_PAUSE)).await;
                }
            }
        })
    }

    /// Waits for a trusted peer to connect and returns the channel to it,
    /// named from its certificate. Connections that fail the handshake are
    /// refused and waiting goes on; if no trusted peer has connected within
    /// the receive timeout, the error is the last refusal (for instance
    /// `UnknownPeer` with the fingerprint that was offered), or
    /// `NeverArrived` naming the trusted peers.
    pub fn accept(&self) -> Result<QuicChannel, NetError> {
        let deadline = Instant::now() + self.limits().recv_timeout;
        self.accept_until(deadline.into_std(), &self.shared().trust.names())
    }

    /// [`Endpoint::accept`] with a deadline of the caller's, and the names
    /// of the peers still expected (for the error if none comes).
    pub(crate) fn accept_until(
        &self,
        deadline: std::time::Instant,
        expected: &[String],
    ) -> Result<QuicChannel, NetError> {
        let shared = self.shared();
        let deadline = Instant::from_std(deadline);
        let mut pending = shared
            .pending
            .lock()
            .map_err(|_| NetError::Config("the endpoint's accept state is poisoned".into()))?;
        let waited = shared.limits.recv_timeout;
        shared.runtime.block_on(async {
            let mut refused = None;
            loop {
                tokio::select! {
                    incoming = shared.endpoint.accept() => {
                        let Some(incoming) = incoming else {
                            return Err(NetError::Config("the QUIC endpoint is closed".into()));
                        };
                        if !incoming.remote_address_validated() && incoming.may_retry() {
                            // Stateless: the client comes back with a token
                            // proving it receives at its address.
                            let _ = incoming.retry();
                            continue;
                        }
                        if pending.len() >= MAX_PENDING {
                            tracing::warn!(
                                "refused a connection from {}: {MAX_PENDING} handshakes in progress",
                                incoming.remote_address()
                            );
                            incoming.refuse();
                            continue;
                        }
                        let shared = shared.clone();
                        let limit = shared.limits.connect_timeout;
                        pending.spawn(async move {
                            let remote = incoming.remote_address();
                            tokio::time::timeout(limit, admit(shared, incoming))
                                .await
                                .unwrap_or_else(|_| Err(NetError::Connect {
                                    peer: remote.to_string(),
                                    reason: format!(
                                        "handshake did not complete within {:.1} s",
                                        limit.as_secs_f64()
                                    ),
                                }))
                        });
                    }
                    Some(done) = pending.join_next(), if !pending.is_empty() => {
                        match done {
                            Ok(Ok(channel)) => return Ok(channel),
                            Ok(Err(e)) => {
                                tracing::warn!("refused a connection: {e}");
                                refused = Some(e);
                            }
                            Err(e) => tracing::warn!("a handshake task failed: {e}"),
                        }
                    }
                    _ = tokio::time::sleep_until(deadline) => {
                        return Err(refused.unwrap_or_else(|| NetError::NeverArrived {
                            missing: expected.to_vec(),
                            addr: shared
                                .endpoint
                                .local_addr()
                                .map_or_else(|_| "this endpoint".into(), |a| a.to_string()),
                            secs: waited.as_secs_f64(),
                        }));
                    }
                }
            }
        })
    }
}

/// One attempt to connect to `peer_name` at `addr`: the QUIC handshake
/// must answer by `attempt_end`, the greeting that follows by `deadline`.
///
/// Only the handshake is abandoned for a retry. Once it has completed, the
/// peer may already have taken this connection as the one it waited for,
/// so dropping it to try again would leave the peer holding a closed link
/// while this end connects a second time.
async fn open(
    shared: &Arc<Shared>,
    addr: SocketAddr,
    peer_name: &str,
    (attempt_end, deadline): (Instant, Instant),
) -> Result<QuicChannel, Failure> {
    let connect_error = |reason: String| NetError::Connect {
        peer: format!("{peer_name} at {addr}"),
        reason,
    };
    let (config, refusal) = shared.client_config(addr).map_err(Failure::Final)?;
    let connecting = shared
        .endpoint
        .connect_with(config, addr, SERVER_NAME)
        .map_err(|e| Failure::Final(connect_error(e.to_string())))?;
    let connection = match tokio::time::timeout_at(attempt_end, connecting).await {
        Ok(Ok(connection)) => connection,
        Err(_) => return Err(Failure::NoAnswer(connect_error("no answer".into()))),
        Ok(Err(ConnectionError::TimedOut)) if refusal.take().is_none() => {
            return Err(Failure::NoAnswer(connect_error("no answer".into())));
        }
        Ok(Err(e)) => return Err(Failure::Final(handshake_error(e, &refusal, &connect_error))),
    };
    match tokio::time::timeout_at(deadline, greet(shared, connection, peer_name)).await {
        Ok(greeted) => greeted.map_err(Failure::Final),
        Err(_) => Err(Failure::Final(connect_error(
            "the handshake completed but the peer sent no greeting in time".into(),
        ))),
    }
}

/// Checks the peer's certificate names `peer_name` and exchanges the
/// greeting on an established connection.
async fn greet(
    shared: &Arc<Shared>,
    connection: quinn::Connection,
    peer_name: &str,
) -> Result<QuicChannel, NetError> {
    let peer = peer_name.to_string();
    let addr = connection.remote_address();
    let connect_error = |reason: String| NetError::Connect {
        peer: format!("{peer_name} at {addr}"),
        reason,
    };
    let got = verified_name(shared, &connection)?;
    if got != peer {
        connection.close(VarInt::from_u32(CLOSE_WRONG_PEER), b"unexpected peer");
        return Err(NetError::WrongPeer {
            expected: peer,
            got,
        });
    }
    let refused = |e: &dyn std::fmt::Display| {
        connect_error(format!(
            "the peer ended the connection before accepting it; does it list this node's \
             fingerprint among its peers? ({e})"
        ))
    };
    let (mut send, mut recv) = connection.open_bi().await.map_err(|e| refused(&e))?;
    send.write_all(&HELLO).await.map_err(|e| refused(&e))?;
    let mut reply = [0u8; HELLO.len()];
    recv.read_exact(&mut reply).await.map_err(|e| refused(&e))?;
    if reply != HELLO {
        connection.close(VarInt::from_u32(CLOSE_BAD_HELLO), b"bad hello");
        return Err(NetError::Misbehaviour {
            peer,
            reason: "its greeting is not indomain/1".into(),
        });
    }
    Ok(QuicChannel::new(
        shared.clone(),
        peer,
        connection,
        send,
        recv,
    ))
}

/// Completes the handshake of one incoming connection.
async fn admit(shared: Arc<Shared>, incoming: quinn::Incoming) -> Result<QuicChannel, NetError> {
    let remote = incoming.remote_address();
    let connect_error = |reason: String| NetError::Connect {
        peer: remote.to_string(),
        reason,
    };
    let (config, refusal) = shared.server_config(remote)?;
    let connection = incoming
        .accept_with(config)
        .map_err(|e| handshake_error(e, &refusal, &connect_error))?
        .await
        .map_err(|e| handshake_error(e, &refusal, &connect_error))?;
    let peer = verified_name(&shared, &connection)?;
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
        return Err(NetError::Misbehaviour {
            peer,
            reason: "its greeting is not indomain/1".into(),
        });
    }
    send.write_all(&HELLO).await.map_err(|e| link_error(&e))?;
    Ok(QuicChannel::new(shared, peer, connection, send, recv))
}

/// The name of the peer on an established connection, from the
/// certificate the handshake verified.
fn verified_name(shared: &Shared, connection: &quinn::Connection) -> Result<String, NetError> {
    let certificates = connection.peer_identity().and_then(|id| {
        id.downcast::<Vec<rustls::pki_types::CertificateDer<'static>>>()
            .ok()
    });
    let Some(certificate) = certificates.as_ref().and_then(|c| c.first()) else {
        return Err(NetError::UnknownPeer {
            fingerprint: "(no certificate)".into(),
        });
    };
    match shared.trust.name_of(certificate) {
        Some(name) => Ok(name.to_string()),
        None => Err(NetError::UnknownPeer {
            fingerprint: Fingerprint::of(certificate).to_string(),
        }),
    }
}

/// Turns a failed handshake into `UnknownPeer` when this end refused the
/// peer's certificate in this very handshake, `Stopped` when the peer
/// closed it saying the job was stopped, and a connection error otherwise.
fn handshake_error(
    e: ConnectionError,
    refusal: &Refusal,
    connect_error: &dyn Fn(String) -> NetError,
) -> NetError {
    if let Some(fingerprint) = refusal.take() {
        return NetError::UnknownPeer {
            fingerprint: fingerprint.to_string(),
        };
    }
    match e {
        ConnectionError::ApplicationClosed(close)
            if close.error_code == VarInt::from_u32(CLOSE_STOPPED) =>
        {
            connect_error(format!(
                "the peer stopped the job: {}",
                untrusted_bytes(&close.reason)
            ))
        }
        ConnectionError::ConnectionClosed(close) => connect_error(format!(
            "refused by the peer during the TLS handshake; does it list this node's \
             fingerprint among its peers? ({close})"
        )),
        ConnectionError::TimedOut => {
            connect_error("no answer (is the peer listening there?)".into())
        }
        other => connect_error(other.to_string()),
    }
}
