//! Many clients on one endpoint, without a thread per client: a [`Hub`]
//! accepts trusted peers on an [`Endpoint`] and turns their frames into one
//! stream of [`HubEvent`]s for a single driver thread, which answers each
//! frame with [`Hub::reply`].
//!
//! The link is request/response in lockstep: after a client's frame is
//! handed out, nothing more is read from that client until the driver has
//! replied. So at most one frame a client is ever queued, and memory is
//! bounded by `max_clients` frames of at most `Limits::max_frame` bytes.
//!
//! Each client costs one task on the endpoint's tokio runtime (two worker
//! threads), not a thread. Handshakes run through [`Endpoint::accept`] on a
//! small fixed set of accept threads ([`ACCEPTORS`]), so that many clients
//! arriving at once are admitted concurrently and an unknown certificate is
//! refused in the handshake, exactly as for a single channel.
//!
//! What the hub learns is what the endpoint learns: the clients' verified
//! names, addresses, and the frames they send.

use super::channel::{QuicChannel, next_frame};
use super::endpoint::Endpoint;
use crate::NetError;
use crate::channel::FRAME_HEADER;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc as tmpsc;

/// One connection to the hub. A peer that reconnects gets a new id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientId(pub u64);

/// What a hub reports to its driver.
#[derive(Debug)]
pub enum HubEvent {
    /// A client sent a frame; answer it with [`Hub::reply`].
    Frame {
        /// The connection.
        client: ClientId,
        /// The peer's name, from its verified certificate.
        peer: String,
        /// The frame.
        frame: Vec<u8>,
    },
    /// A client's connection ended (it closed, timed out or broke a limit).
    Left {
        /// The connection.
        client: ClientId,
        /// The peer's name.
        peer: String,
        /// Why, if not a clean close.
        error: Option<NetError>,
    },
}

/// Handshakes run at once (one accept thread each). A handshake waits on
/// the client's round trips, so on a loaded machine admitting a crowd one
/// at a time would make the last clients miss their connect timeout.
pub const ACCEPTORS: usize = 8;

type Outboxes = Arc<Mutex<HashMap<ClientId, tmpsc::Sender<Vec<u8>>>>>;

/// Serves many clients on one endpoint; see the module documentation.
pub struct Hub {
    events: mpsc::Receiver<HubEvent>,
    outboxes: Outboxes,
    stop: Arc<AtomicBool>,
    local_addr: SocketAddr,
}

impl Hub {
    /// Starts accepting trusted peers on `endpoint`, at most `max_clients`
    /// connected at once (more are closed right after their handshake).
    ///
    /// The accept threads stop within the endpoint's receive timeout after
    /// the hub is dropped, and the endpoint closes with the last of them.
    pub fn start(endpoint: Endpoint, max_clients: usize) -> Hub {
        let (events_tx, events) = mpsc::channel();
        let outboxes: Outboxes = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let local_addr = endpoint.local_addr();
        let acceptor = Arc::new(Acceptor {
            endpoint,
            events: events_tx,
            outboxes: outboxes.clone(),
            stop: stop.clone(),
            max_clients,
            next_id: AtomicU64::new(0),
        });
        for i in 0..ACCEPTORS {
            let acceptor = acceptor.clone();
            std::thread::Builder::new()
                .name(format!("indomain-hub-accept-{i}"))
                .spawn(move || acceptor.run())
                .map(drop)
                .unwrap_or_else(|e| tracing::error!("cannot start an accept thread: {e}"));
        }
        Hub {
            events,
            outboxes,
            stop,
            local_addr,
        }
    }

    /// The address the endpoint is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The next event, waiting at most `timeout`.
    pub fn next(&self, timeout: Duration) -> Option<HubEvent> {
        self.events.recv_timeout(timeout).ok()
    }

    /// The next event if one is already waiting.
    pub fn try_next(&self) -> Option<HubEvent> {
        self.events.try_recv().ok()
    }

    /// Queues the reply to `client`'s last frame. Fails if the client has
    /// left or already has a reply waiting (each frame gets exactly one).
    pub fn reply(&self, client: ClientId, frame: Vec<u8>) -> Result<(), NetError> {
        let outbox = self
            .outboxes
            .lock()
            .ok()
            .and_then(|o| o.get(&client).cloned())
            .ok_or_else(|| NetError::Closed {
                peer: format!("client #{}", client.0),
            })?;
        outbox.try_send(frame).map_err(|e| NetError::Transport {
            peer: format!("client #{}", client.0),
            reason: format!("cannot queue the reply: {e}"),
        })
    }

    /// How many clients are connected.
    pub fn clients(&self) -> usize {
        self.outboxes.lock().map(|o| o.len()).unwrap_or(0)
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Dropping the outboxes ends every client task.
        if let Ok(mut o) = self.outboxes.lock() {
            o.clear();
        }
    }
}

struct Acceptor {
    endpoint: Endpoint,
    events: mpsc::Sender<HubEvent>,
    outboxes: Outboxes,
    stop: Arc<AtomicBool>,
    max_clients: usize,
    next_id: AtomicU64,
}

impl Acceptor {
    fn run(&self) {
        while !self.stop.load(Ordering::Relaxed) {
            match self.endpoint.accept() {
                Ok(channel) => self.admit(channel),
                // Refusals are logged by the endpoint; a quiet period is not
                // an error for a server.
                Err(
                    NetError::Connect { .. }
                    | NetError::UnknownPeer { .. }
                    | NetError::NeverArrived { .. },
                ) => {}
                Err(e) => {
                    tracing::error!("the hub stops accepting: {e}");
                    return;
                }
            }
        }
    }

    fn admit(&self, channel: QuicChannel) {
        if self.stop.load(Ordering::Relaxed) {
            return;
        }
        let client = ClientId(self.next_id.fetch_add(1, Ordering::Relaxed));
        let (tx, rx) = tmpsc::channel(1);
        {
            let Ok(mut outboxes) = self.outboxes.lock() else {
                return;
            };
            if outboxes.len() >= self.max_clients {
                tracing::warn!(
                    "refused {} at {}: {} clients already connected",
                    crate::Channel::peer(&channel),
                    channel.remote_addr(),
                    outboxes.len()
                );
                return;
            }
            outboxes.insert(client, tx);
        }
        let events = self.events.clone();
        let runtime = channel.shared.runtime.handle().clone();
        runtime.spawn(pump(channel, client, events, rx, self.outboxes.clone()));
    }
}

/// Reads a client's frames, hands each to the driver and writes its reply.
async fn pump(
    mut ch: QuicChannel,
    client: ClientId,
    events: mpsc::Sender<HubEvent>,
    mut replies: tmpsc::Receiver<Vec<u8>>,
    outboxes: Outboxes,
) {
    let peer = crate::Channel::peer(&ch).to_string();
    let limits = ch.shared.limits;
    let error = loop {
        let read = tokio::time::timeout(
            limits.recv_timeout,
            next_frame(&mut ch.reader, &mut ch.recv, limits.max_frame, &peer),
        )
        .await;
        let frame = match read {
            Ok(Ok(frame)) => frame,
            Ok(Err(NetError::Closed { .. })) => break None,
            Ok(Err(e)) => break Some(e),
            Err(_) => {
                break Some(NetError::Timeout {
                    peer: peer.clone(),
                    secs: limits.recv_timeout.as_secs_f64(),
                });
            }
        };
        ch.counter.add_received((frame.len() + FRAME_HEADER) as u64);
        let event = HubEvent::Frame {
            client,
            peer: peer.clone(),
            frame,
        };
        if events.send(event).is_err() {
            break None;
        }
        let Some(reply) = replies.recv().await else {
            break None;
        };
        let header = (reply.len() as u64).to_le_bytes();
        let written = tokio::time::timeout(limits.recv_timeout, async {
            ch.send.write_all(&header).await?;
            ch.send.write_all(&reply).await
        })
        .await;
        match written {
            Ok(Ok(())) => ch.counter.add_sent((reply.len() + FRAME_HEADER) as u64),
            Ok(Err(e)) => {
                break Some(NetError::Transport {
                    peer: peer.clone(),
                    reason: format!("writing a reply: {e}"),
                });
            }
            Err(_) => {
                break Some(NetError::Timeout {
                    peer: peer.clone(),
                    secs: limits.recv_timeout.as_secs_f64(),
                });
            }
        }
    };
    if let Ok(mut o) = outboxes.lock() {
        o.remove(&client);
    }
    let _ = events.send(HubEvent::Left {
        client,
        peer,
        error,
    });
}
