//! "Reachable now": whether each configured peer answers a QUIC handshake
//! with mutual TLS at this moment. A probe dials the peer from a client
//! endpoint of the console's own (the node's identity, trusting only the
//! configured peers, an ephemeral port, bound when the console starts), waits for both certificates to be accepted,
//! and closes the link at once as a stopped probe ([`PROBE_REASON`]),
//! before any message: the peer learns only that this node connected.
//!
//! Results are kept for [`FRESH`]; a page asks [`Reach::view`], which
//! answers from what is kept at once and, when that is older, starts a new
//! round of probes on threads of their own (one a peer, each bounded by
//! the probe timeout). No page render ever waits for a probe.

use crate::config::NodeConfig;
use indomain_net::quic::{Endpoint, Identity, TrustedPeer};
use indomain_net::{Limits, NetError};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How long a round of probes is shown before the next is started.
pub const FRESH: Duration = Duration::from_secs(5);

/// The longest a probe waits for a peer's handshake.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// The reason a probe's link is closed with (what the peer's log says).
pub const PROBE_REASON: &str = "reachability probe";

/// One peer's latest probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// Whether the handshake completed, both certificates accepted.
    pub reachable: bool,
    /// When the probe ended (Unix milliseconds).
    pub checked_ms: u64,
    /// Why it failed (empty when reachable).
    pub detail: String,
}

/// A peer to probe.
#[derive(Debug, Clone)]
struct Target {
    name: String,
    address: SocketAddr,
}

#[derive(Default)]
struct Inner {
    results: BTreeMap<String, Probe>,
    /// When the latest round began (none before the first).
    started: Option<Instant>,
    /// Whether a round is running.
    running: bool,
}

/// The probes of this node's peers.
pub struct Reach {
    /// The client endpoint, or why there is none.
    endpoint: Result<Arc<Endpoint>, Arc<NetError>>,
    targets: Vec<Target>,
    inner: Arc<Mutex<Inner>>,
}

fn lock(inner: &Mutex<Inner>) -> MutexGuard<'_, Inner> {
    inner.lock().unwrap_or_else(|p| p.into_inner())
}

impl Reach {
    /// The probes of `config`'s peers, dialled as `identity`.
    pub fn new(identity: &Identity, config: &NodeConfig) -> Reach {
        Reach::with_timeout(identity, config, PROBE_TIMEOUT)
    }

    /// [`Reach::new`] with another probe timeout.
    pub fn with_timeout(identity: &Identity, config: &NodeConfig, timeout: Duration) -> Reach {
        let peers = config.peers.values();
        let trusted = peers
            .clone()
            .map(|p| TrustedPeer {
                name: p.name.clone(),
                fingerprint: p.fingerprint,
            })
            .collect();
        let targets: Vec<Target> = peers
            .map(|p| Target {
                name: p.name.clone(),
                address: p.address,
            })
            .collect();
        let limits = Limits {
            recv_timeout: timeout,
            connect_timeout: timeout,
            ..Limits::default()
        };
        let any: SocketAddr = match targets.first().map(|t| t.address) {
            Some(SocketAddr::V6(_)) => "[::]:0",
            _ => "0.0.0.0:0",
        }
        .parse()
        .expect("a literal address");
        let endpoint = Endpoint::bind(identity, any, trusted, limits)
            .map(Arc::new)
            .map_err(Arc::new);
        Reach {
            endpoint,
            targets,
            inner: Arc::default(),
        }
    }

    /// The latest probe of each peer (none yet for a peer never probed),
    /// starting a new round in the background when those are older than
    /// [`FRESH`]. Never waits for a probe.
    pub fn view(&self) -> BTreeMap<String, Probe> {
        let mut inner = lock(&self.inner);
        let stale = inner.started.is_none_or(|t| t.elapsed() >= FRESH);
        if stale && !inner.running && !self.targets.is_empty() {
            inner.running = true;
            inner.started = Some(Instant::now());
            let round = Round {
                endpoint: self.endpoint.clone(),
                targets: self.targets.clone(),
                inner: Arc::clone(&self.inner),
            };
            std::thread::spawn(move || round.run());
        }
        inner.results.clone()
    }
}

/// One round of probes.
struct Round {
    endpoint: Result<Arc<Endpoint>, Arc<NetError>>,
    targets: Vec<Target>,
    inner: Arc<Mutex<Inner>>,
}

impl Round {
    /// Probes every peer at once, each result kept as it comes.
    fn run(self) {
        let threads: Vec<_> = self
            .targets
            .into_iter()
            .map(|target| {
                let endpoint = self.endpoint.clone();
                let inner = Arc::clone(&self.inner);
                std::thread::spawn(move || {
                    let outcome = endpoint
                        .map_err(ProbeError::NoEndpoint)
                        .and_then(|e| probe(&e, &target));
                    let probe = Probe {
                        reachable: outcome.is_ok(),
                        checked_ms: crate::time::now_millis(),
                        detail: outcome.err().map(|e| e.to_string()).unwrap_or_default(),
                    };
                    lock(&inner).results.insert(target.name, probe);
                })
            })
            .collect();
        for t in threads {
            let _ = t.join();
        }
        lock(&self.inner).running = false;
    }
}

/// Why a probe failed (shown as the probe's detail).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
enum ProbeError {
    /// The console's client endpoint could not be bound.
    #[error("no endpoint to probe from: {0}")]
    NoEndpoint(Arc<NetError>),
    /// The handshake with the peer failed.
    #[error(transparent)]
    Connect(#[from] NetError),
}

/// One handshake with `target`, closed at once.
fn probe(endpoint: &Endpoint, target: &Target) -> Result<(), ProbeError> {
    let channel = endpoint.connect(target.address, &target.name)?;
    channel.stopper().stop(PROBE_REASON);
    Ok(())
}
