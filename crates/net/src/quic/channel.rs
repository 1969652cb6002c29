//! A [`Channel`] over one bidirectional QUIC stream.
//!
//! Frames are an 8-byte little-endian length followed by the payload. The
//! length is checked against `Limits::max_frame` before anything is
//! allocated, and a payload buffer grows only as bytes actually arrive
//! (first 1 MiB, then the rest of the announced length), so a peer that
//! announces a large frame and stops costs at most 1 MiB.
//!
//! Reading keeps its progress in the channel, so a `recv` that times out in
//! the middle of a frame can be called again and carries on where it was.

use super::endpoint::{CLOSE_DONE, Shared};
use crate::NetError;
use crate::channel::{ByteCounter, Channel, Counters, FRAME_HEADER};
use quinn::{ConnectionError, ReadError, VarInt, WriteError};
use std::sync::Arc;

/// Bytes allocated for a payload before the peer has sent any of them.
const INITIAL_RESERVE: usize = 1 << 20;

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
}

impl Channel for QuicChannel {
    fn send(&mut self, frame: &[u8]) -> Result<(), NetError> {
        let limit = self.shared.limits.recv_timeout;
        let header = (frame.len() as u64).to_le_bytes();
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
            Ok(Err(e)) => Err(write_error(e, &self.peer)),
            Err(_) => Err(NetError::Timeout {
                peer: self.peer.clone(),
                secs: limit.as_secs_f64(),
            }),
        }
    }

    fn recv(&mut self) -> Result<Vec<u8>, NetError> {
        let limits = self.shared.limits;
        let (reader, stream, peer) = (&mut self.reader, &mut self.recv, self.peer.as_str());
        let frame = self.shared.runtime.block_on(async {
            tokio::time::timeout(
                limits.recv_timeout,
                reader.next(stream, limits.max_frame, peer),
            )
            .await
        });
        match frame {
            Ok(Ok(frame)) => {
                self.counter
                    .add_received((frame.len() + FRAME_HEADER) as u64);
                Ok(frame)
            }
            Ok(Err(e)) => Err(e),
            Err(_) => Err(NetError::Timeout {
                peer: self.peer.clone(),
                secs: limits.recv_timeout.as_secs_f64(),
            }),
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
        let _ = self.send.finish();
        let delivered = self.send.stopped();
        let connection = self.connection.clone();
        let linger = self.shared.limits.recv_timeout;
        let closer = self.shared.runtime.spawn(async move {
            let _ = tokio::time::timeout(linger, delivered).await;
            connection.close(VarInt::from_u32(CLOSE_DONE), b"done");
        });
        self.shared.linger(closer);
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

/// Where reading the current frame stands.
#[derive(Default)]
pub(super) struct FrameReader {
    header: [u8; FRAME_HEADER],
    header_read: usize,
    /// The announced payload length, once the header is complete.
    payload_len: Option<usize>,
    payload: Vec<u8>,
    payload_read: usize,
}

impl FrameReader {
    /// Reads until one whole frame has arrived. Cancel-safe: dropping the
    /// future keeps every byte read so far for the next call.
    pub(super) async fn next(
        &mut self,
        stream: &mut quinn::RecvStream,
        max: usize,
        peer: &str,
    ) -> Result<Vec<u8>, NetError> {
        loop {
            let Some(len) = self.payload_len else {
                if self.header_read == FRAME_HEADER {
                    self.start_payload(max, peer)?;
                    continue;
                }
                let Some(unread) = self.header.get_mut(self.header_read..) else {
                    return Err(truncated(peer));
                };
                match stream.read(unread).await {
                    Ok(Some(n)) => self.header_read += n,
                    Ok(None) if self.header_read == 0 => return Err(closed(peer)),
                    Ok(None) => return Err(truncated(peer)),
                    Err(e) => return Err(read_error(e, peer, self.header_read > 0)),
                }
                continue;
            };
            if self.payload_read == len {
                let mut frame = std::mem::take(&mut self.payload);
                frame.truncate(len);
                self.header_read = 0;
                self.payload_len = None;
                self.payload_read = 0;
                return Ok(frame);
            }
            if self.payload_read == self.payload.len() {
                // The peer has sent everything allocated so far: now it has
                // shown it means the length, allocate the rest at once.
                self.payload.resize(len, 0);
            }
            let Some(unread) = self.payload.get_mut(self.payload_read..) else {
                return Err(truncated(peer));
            };
            match stream.read(unread).await {
                Ok(Some(n)) => self.payload_read += n,
                Ok(None) => return Err(truncated(peer)),
                Err(e) => return Err(read_error(e, peer, true)),
            }
        }
    }

    fn start_payload(&mut self, max: usize, peer: &str) -> Result<(), NetError> {
        let announced = u64::from_le_bytes(self.header);
        let len = usize::try_from(announced)
            .ok()
            .filter(|&len| len <= max)
            .ok_or_else(|| NetError::FrameTooLarge {
                peer: peer.to_string(),
                len: announced,
                max,
            })?;
        self.payload = vec![0; len.min(INITIAL_RESERVE)];
        self.payload_read = 0;
        self.payload_len = Some(len);
        Ok(())
    }
}

fn closed(peer: &str) -> NetError {
    NetError::Closed {
        peer: peer.to_string(),
    }
}

fn truncated(peer: &str) -> NetError {
    NetError::Truncated {
        peer: peer.to_string(),
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
