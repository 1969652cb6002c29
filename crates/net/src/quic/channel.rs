//! A [`Channel`] over one bidirectional QUIC stream.
//!
//! Frames are an 8-byte little-endian length followed by the payload
//! ([`super::frame`] reads them). Reading keeps its progress in the
//! channel, so a `recv` that times out in the middle of a frame can be
//! called again and carries on where it was.

use super::endpoint::{CLOSE_STOPPED, Shared, close_code};
use super::frame::{FrameReader, closed, frame_header, truncated};
use crate::NetError;
use crate::channel::{ByteCounter, Channel, Counters, FRAME_HEADER};
use crate::text::untrusted_bytes;
use quinn::{ConnectionError, ReadError, VarInt, WriteError};
use std::sync::Arc;

/// One end of an authenticated QUIC link to a named peer. It keeps the
/// endpoint's runtime alive, so it may outlive the [`super::Endpoint`].
///
/// Dropping it finishes the stream and, in the background, lets the peer
/// acknowledge the frames already sent before the connection closes.
pub struct QuicChannel {
    peer: String,
    connection: quinn::Connection,
    pub(crate) send: quinn::SendStream,
    pub(super) recv: quinn::RecvStream,
    pub(super) reader: FrameReader,
    pub(super) counter: Arc<ByteCounter>,
    /// A send or receive failed: the link is of no more use, so dropping the
    /// channel closes it at once instead of waiting for deliveries.
    pub(super) failed: bool,
    pub(crate) shared: Arc<Shared>,
}

impl QuicChannel {
    pub(crate) fn new(
        shared: Arc<Shared>,
        peer: String,
        connection: quinn::Connection,
        send: quinn::SendStream,
        recv: quinn::RecvStream,
    ) -> Self {
        Self {
            peer,
            connection,
            send,
            recv,
            reader: FrameReader::default(),
            counter: ByteCounter::new(),
            failed: false,
            shared,
        }
    }

    /// The shared counter of this link, for readers on other threads
    /// (benchmarks, the audit log).
    pub fn counter(&self) -> Arc<ByteCounter> {
        self.counter.clone()
    }

    /// The peer's address.
    pub fn remote_addr(&self) -> std::net::SocketAddr {
        self.connection.remote_address()
    }

    /// A handle that closes this link as stopped, with a reason the peer's
    /// next receive reports ([`NetError::Stopped`]), from wherever the
    /// channel itself has gone (e.g. into a [`crate::PartySet`]): a party
    /// whose job failed tells every other party why at once.
    pub fn stopper(&self) -> LinkStopper {
        LinkStopper {
            connection: self.connection.clone(),
        }
    }

    /// The link's packet figures so far, to see what a transfer cost.
    pub fn path_stats(&self) -> PathStats {
        let stats = self.connection.stats();
        PathStats {
            datagram_size: stats.path.current_mtu,
            datagrams_sent: stats.udp_tx.datagrams,
            send_calls: stats.udp_tx.ios,
            lost_packets: stats.path.lost_packets,
            congestion_events: stats.path.congestion_events,
            congestion_window: stats.path.cwnd,
        }
    }
}

/// Closes one link as stopped ([`QuicChannel::stopper`]).
#[derive(Clone)]
pub struct LinkStopper {
    connection: quinn::Connection,
}

impl LinkStopper {
    /// Closes the link at once; the peer's pending and next receives fail
    /// with [`NetError::Stopped`] carrying `reason` (cut to 200 bytes). A
    /// link already closed is left as it is, so that
    /// [`LinkStopper::stopped_by_peer`] still gives the peer's reason.
    pub fn stop(&self, reason: &str) {
        let mut cut = reason.len().min(200);
        while !reason.is_char_boundary(cut) {
            cut -= 1;
        }
        close_if_open(
            &self.connection,
            VarInt::from_u32(CLOSE_STOPPED),
            &reason.as_bytes()[..cut],
        );
    }

    /// Whether the link is closed already (by either side, or because the
    /// peer went silent).
    pub fn is_closed(&self) -> bool {
        self.connection.close_reason().is_some()
    }

    /// If the peer closed the link as stopped: its reason (escaped). Lets
    /// the side that failed tell a peer's cancel from any other failure.
    pub fn stopped_by_peer(&self) -> Option<String> {
        match self.connection.close_reason()? {
            ConnectionError::ApplicationClosed(close)
                if close.error_code == VarInt::from_u32(CLOSE_STOPPED) =>
            {
                Some(untrusted_bytes(&close.reason))
            }
            _ => None,
        }
    }
}

impl std::fmt::Debug for LinkStopper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkStopper")
            .field("remote", &self.connection.remote_address())
            .finish()
    }
}

/// Packet figures of one link ([`QuicChannel::path_stats`]). Datagrams per
/// send call above 1 mean that segmentation offload (GSO) batches them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PathStats {
    /// The UDP payload size in use now, in bytes.
    pub datagram_size: u16,
    /// UDP datagrams sent.
    pub datagrams_sent: u64,
    /// Send system calls (one per GSO batch).
    pub send_calls: u64,
    /// Packets declared lost.
    pub lost_packets: u64,
    /// Times the congestion controller cut its window.
    pub congestion_events: u64,
    /// The congestion window now, in bytes.
    pub congestion_window: u64,
}

/// How long a channel whose peer ended the stream waits for the peer's
/// connection close, which says whether the peer finished or stopped.
const CLOSE_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

impl QuicChannel {
    /// A peer that stops after an error first delivers what it had sent,
    /// ending its stream, and then closes the connection as stopped: turn
    /// the bare end of stream into that `Stopped`, waiting briefly for the
    /// close.
    fn why_closed(&self, e: NetError) -> NetError {
        if !matches!(e, NetError::Closed { .. }) {
            return e;
        }
        let connection = self.connection.clone();
        let closed = self
            .shared
            .runtime
            .block_on(async move { tokio::time::timeout(CLOSE_WAIT, connection.closed()).await });
        match closed {
            Ok(ConnectionError::ApplicationClosed(close))
                if close.error_code == VarInt::from_u32(CLOSE_STOPPED) =>
            {
                NetError::Stopped {
                    peer: self.peer.clone(),
                    reason: untrusted_bytes(&close.reason),
                }
            }
            _ => e,
        }
    }
}

impl Channel for QuicChannel {
    fn send(&mut self, frame: &[u8]) -> Result<(), NetError> {
        let limit = self.shared.limits.recv_timeout;
        let header = frame_header(frame.len());
        let stream = &mut self.send;
        let written = self.shared.runtime.block_on(async {
            tokio::time::timeout(limit, async {
                stream.write_all(&header).await?;
                stream.write_all(frame).await
            })
            .await
        });
        match written {
            Ok(Ok(())) => {
                self.counter.add_sent((frame.len() + FRAME_HEADER) as u64);
                Ok(())
            }
            Ok(Err(e)) => {
                self.failed = true;
                Err(self.why_closed(write_error(e, &self.peer)))
            }
            Err(_) => {
                self.failed = true;
                Err(NetError::Timeout {
                    peer: self.peer.clone(),
                    secs: limit.as_secs_f64(),
                })
            }
        }
    }

    fn recv(&mut self) -> Result<Vec<u8>, NetError> {
        let limits = self.shared.limits;
        let (reader, stream, peer) = (&mut self.reader, &mut self.recv, self.peer.as_str());
        let frame = self.shared.runtime.block_on(async {
            tokio::time::timeout(
                limits.recv_timeout,
                next_frame(reader, stream, limits.max_frame, peer),
            )
            .await
        });
        match frame {
            Ok(Ok(frame)) => {
                self.counter
                    .add_received((frame.len() + FRAME_HEADER) as u64);
                Ok(frame)
            }
            Ok(Err(e)) => {
                self.failed = true;
                Err(self.why_closed(e))
            }
            Err(_) => {
                self.failed = true;
                Err(NetError::Timeout {
                    peer: self.peer.clone(),
                    secs: limits.recv_timeout.as_secs_f64(),
                })
            }
        }
    }

    fn peer(&self) -> &str {
        &self.peer
    }

    fn counters(&self) -> Counters {
        self.counter.get()
    }
}

impl Drop for QuicChannel {
    fn drop(&mut self) {
        // `send` returns once a frame is buffered, so the last frames may not
        // have reached the peer yet: wait (in the background, bounded by the
        // receive timeout) until the peer has acknowledged them, then close.
        // A failed link has nothing worth delivering: waiting would only
        // double the time a silent peer costs.
        if self.failed {
            let (code, reason) = self.shared.close_code();
            close_if_open(&self.connection, code, &reason);
            return;
        }
        let _ = self.send.finish();
        let delivered = self.send.stopped();
        let connection = self.connection.clone();
        let linger = self.shared.limits.recv_timeout;
        let stop_reason = self.shared.stop_reason();
        let closer = self.shared.runtime.spawn(async move {
            let _ = tokio::time::timeout(linger, delivered).await;
            let (code, reason) = close_code(&stop_reason);
            close_if_open(&connection, code, &reason);
        });
        self.shared.linger(closer);
    }
}

/// Closes `connection` unless it is closed already: closing again would
/// replace the peer's close (and its reason, which
/// [`LinkStopper::stopped_by_peer`] reads) by a local one.
fn close_if_open(connection: &quinn::Connection, code: VarInt, reason: &[u8]) {
    if connection.close_reason().is_none() {
        connection.close(code, reason);
    }
}

impl std::fmt::Debug for QuicChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuicChannel")
            .field("peer", &self.peer)
            .field("remote", &self.connection.remote_address())
            .field("counters", &self.counter.get())
            .finish_non_exhaustive()
    }
}

/// Reads until one whole frame has arrived. Cancel-safe: dropping the
/// future keeps every byte read so far in `reader` for the next call.
pub(super) async fn next_frame(
    reader: &mut FrameReader,
    stream: &mut quinn::RecvStream,
    max: usize,
    peer: &str,
) -> Result<Vec<u8>, NetError> {
    loop {
        let unread = reader.unread(max, peer)?;
        match stream.read(unread).await {
            Ok(Some(n)) => {
                if let Some(frame) = reader.advance(n, max, peer)? {
                    return Ok(frame);
                }
            }
            Ok(None) => return Err(reader.end_of_stream(peer)),
            Err(e) => return Err(read_error(e, peer, reader.mid_frame())),
        }
    }
}

fn read_error(e: ReadError, peer: &str, mid_frame: bool) -> NetError {
    match e {
        ReadError::Reset(_) if mid_frame => truncated(peer),
        ReadError::Reset(_) => closed(peer),
        ReadError::ConnectionLost(e) => connection_error(e, peer, mid_frame),
        other => transport(peer, other),
    }
}

fn write_error(e: WriteError, peer: &str) -> NetError {
    match e {
        WriteError::Stopped(_) | WriteError::ClosedStream => closed(peer),
        WriteError::ConnectionLost(e) => connection_error(e, peer, false),
        other => transport(peer, other),
    }
}

fn connection_error(e: ConnectionError, peer: &str, mid_frame: bool) -> NetError {
    match e {
        ConnectionError::ApplicationClosed(close)
            if close.error_code == VarInt::from_u32(CLOSE_STOPPED) =>
        {
            NetError::Stopped {
                peer: peer.to_string(),
                reason: untrusted_bytes(&close.reason),
            }
        }
        ConnectionError::ApplicationClosed(_)
        | ConnectionError::ConnectionClosed(_)
        | ConnectionError::Reset
            if mid_frame =>
        {
            truncated(peer)
        }
        ConnectionError::ApplicationClosed(_)
        | ConnectionError::ConnectionClosed(_)
        | ConnectionError::Reset => closed(peer),
        ConnectionError::TimedOut => transport(
            peer,
            "no packets from the peer for the idle timeout; it is gone",
        ),
        other => transport(peer, other),
    }
}

fn transport(peer: &str, reason: impl std::fmt::Display) -> NetError {
    NetError::Transport {
        peer: peer.to_string(),
        reason: reason.to_string(),
    }
}
