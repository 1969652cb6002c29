//! The operator's online service as an I/O-free state machine: a frame from
//! a client (named by its verified certificate) goes in, the reply frame and
//! a usage record come out ([`Service::handle`]). Drivers move frames:
//! [`serve`] answers one client over any [`Channel`] (in memory, or one
//! QUIC channel) until it hangs up; the QUIC hub driver (`crate::driver`,
//! feature `quic`) feeds the same state machine batches of frames from many
//! clients at once.
//!
//! Abuse limits: each OPRF evaluation lets a client test one guess of a
//! (key, attribute, value) entry, so evaluations are counted per client
//! against a token bucket (rate and burst) and a quota. A request that
//! would exceed either is refused whole and nothing is evaluated. Usage
//! records carry the client's name and counts only, never query content.
//!
//! What the operator learns: which client asked, when, and how many
//! entries; the blinded elements are uniformly random group elements
//! independent of the query.

use crate::commit::SignedCommitment;
use crate::messages::{Refusal, Reply, Request, TABLE_CHUNK};
use crate::oprf::{ELEMENT_BYTES, OprfKey};
use crate::{Phase, VerifyError};
use indomain_net::{Channel, NetError};
use rayon::prelude::*;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Instant;

/// The abuse limits of a service.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Evaluations a client may ask for per second, sustained.
    pub rate_per_sec: f64,
    /// Evaluations a client may ask for at once (the bucket's size).
    pub burst: u64,
    /// Evaluations a client may ask for in all (across restarts, when the
    /// usage log is replayed).
    pub quota: u64,
    /// The most elements one request may carry.
    pub max_batch: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            rate_per_sec: 1000.0,
            burst: 10_000,
            quota: 1_000_000,
            max_batch: 4096,
        }
    }
}

/// What became of a request, for the usage log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The evaluations were made.
    Served,
    /// Refused: over quota.
    OverQuota,
    /// Refused: rate limited.
    RateLimited,
    /// Refused: stale version, oversized or malformed.
    Refused,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Outcome::Served => "served",
            Outcome::OverQuota => "over-quota",
            Outcome::RateLimited => "rate-limited",
            Outcome::Refused => "refused",
        })
    }
}

/// One line of the usage log: who asked for how many evaluations, and what
/// became of it. No query content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageRecord {
    /// The client's certificate name.
    pub client: String,
    /// The version served.
    pub version: u64,
    /// Evaluations asked for.
    pub evaluations: u64,
    /// The client's total after this request.
    pub used: u64,
    /// The quota.
    pub quota: u64,
    /// What became of it.
    pub outcome: Outcome,
}

impl UsageRecord {
    /// The log line, stamped with `unix_ms`.
    pub fn line(&self, unix_ms: u128) -> String {
        format!(
            "{unix_ms} client={} version={} evaluations={} used={} quota={} outcome={}",
            self.client, self.version, self.evaluations, self.used, self.quota, self.outcome
        )
    }
}

/// The word that marks a usage-log line as a reset of every quota.
const RESET: &str = "usage-reset";

/// The usage-log line, stamped with `unix_ms`, after which every client's
/// quota counts from zero again (the operator asked for it explicitly).
pub fn reset_line(unix_ms: u128) -> String {
    format!("{unix_ms} {RESET}")
}

/// Per client, the evaluations served so far, from usage-log lines: those
/// served since the last [`reset_line`], whatever version served them
/// (quotas span versions). Lines that do not parse are skipped.
pub fn replay_usage<'a>(lines: impl Iterator<Item = &'a str>) -> HashMap<String, u64> {
    let mut used = HashMap::new();
    for line in lines {
        if line.split(' ').nth(1) == Some(RESET) {
            used.clear();
            continue;
        }
        let field = |name: &str| {
            line.split(' ')
                .find_map(|f| f.strip_prefix(name)?.strip_prefix('='))
        };
        if let (Some(client), Some(n), Some("served")) =
            (field("client"), field("evaluations"), field("outcome"))
            && let Ok(n) = n.parse::<u64>()
        {
            *used.entry(client.to_string()).or_insert(0) += n;
        }
    }
    used
}

/// A delta the service hands out: the signed commitment of the revision it
/// gives, and its bytes.
pub type ServedDelta = (SignedCommitment, Arc<Vec<u8>>);

/// The reply to one frame and what it means for the usage log.
#[derive(Debug, Clone)]
pub struct Handled {
    /// The reply frame.
    pub reply: Vec<u8>,
    /// The usage record, for evaluation requests.
    pub usage: Option<UsageRecord>,
}

struct Budget {
    tokens: f64,
    last: Instant,
}

/// The online service of one published version.
pub struct Service {
    key: OprfKey,
    commitment: SignedCommitment,
    table: Arc<Vec<u8>>,
    deltas: Vec<ServedDelta>,
    limits: Limits,
    budgets: HashMap<String, Budget>,
    served: HashMap<String, u64>,
}

/// An evaluation admitted by the limits, waiting to be computed.
struct Admitted {
    slot: usize,
    client: String,
    elements: Vec<u8>,
}

impl Service {
    /// A service answering with `key` for the version `commitment` commits
    /// to, whose table is `table`. `served` is each client's past usage
    /// (from [`replay_usage`]), counted against the quota.
    pub fn new(
        key: OprfKey,
        commitment: SignedCommitment,
        table: Arc<Vec<u8>>,
        limits: Limits,
        served: HashMap<String, u64>,
    ) -> Self {
        Self {
            key,
            commitment,
            table,
            deltas: Vec::new(),
            limits,
            budgets: HashMap::new(),
            served,
        }
    }

    /// Also serves the deltas of the version: `deltas[i]` gives revision
    /// i + 1, with that revision's signed commitment.
    pub fn with_deltas(mut self, deltas: Vec<ServedDelta>) -> Self {
        self.deltas = deltas;
        self
    }

    /// The version served.
    pub fn version(&self) -> u64 {
        self.commitment.commitment.version
    }

    /// Handles one frame from `client`.
    pub fn handle(&mut self, client: &str, frame: &[u8], now: Instant) -> Handled {
        self.handle_batch(&[(client, frame)], now)
            .pop()
            .expect("one reply a request")
    }

    /// Handles frames from several clients at once: limits are applied in
    /// order, then the admitted evaluations run in parallel. One reply per
    /// frame, in order.
    pub fn handle_batch(&mut self, frames: &[(&str, &[u8])], now: Instant) -> Vec<Handled> {
        let mut out: Vec<Option<Handled>> = vec![None; frames.len()];
        let mut admitted = Vec::new();
        for (slot, (client, frame)) in frames.iter().enumerate() {
            match indomain_net::wire::decode_msg::<Request>(client, frame) {
                Err(e) => {
                    out[slot] = Some(self.refuse(
                        client,
                        0,
                        Refusal::Malformed {
                            reason: e.to_string(),
                        },
                    ))
                }
                Ok(Request::Hello) => out[slot] = Some(self.welcome(client)),
                Ok(Request::FetchTable { offset }) => out[slot] = Some(self.chunk(offset)),
                Ok(Request::FetchDelta { revision, offset }) => {
                    out[slot] = Some(self.delta_chunk(client, revision, offset))
                }
                Ok(Request::Evaluate { version, elements }) => {
                    match self.admit(client, version, &elements, now) {
                        Ok(()) => admitted.push(Admitted {
                            slot,
                            client: client.to_string(),
                            elements,
                        }),
                        Err(h) => out[slot] = Some(h),
                    }
                }
            }
        }
        let key = &self.key;
        let evaluated: Vec<(Admitted, Result<Vec<u8>, usize>)> = admitted
            .into_par_iter()
            .map(|a| {
                let result = key.blind_evaluate(&a.elements);
                (a, result)
            })
            .collect();
        for (
            Admitted {
                slot,
                client,
                elements,
            },
            result,
        ) in evaluated
        {
            let n = (elements.len() / ELEMENT_BYTES) as u64;
            out[slot] = Some(match result {
                Ok(elements) => Handled {
                    reply: encode(&Reply::Evaluated {
                        version: self.version(),
                        elements,
                    }),
                    usage: Some(self.usage(&client, n, Outcome::Served)),
                },
                Err(i) => {
                    // Nothing was learned from an invalid request: refund it.
                    self.charge(&client, n, -1.0);
                    self.refuse(
                        &client,
                        n,
                        Refusal::Malformed {
                            reason: format!("element {i} is not a valid non-identity element"),
                        },
                    )
                }
            });
        }
        out.into_iter()
            .map(|h| h.expect("every slot answered"))
            .collect()
    }

    fn welcome(&mut self, client: &str) -> Handled {
        let used = self.served.get(client).copied().unwrap_or(0);
        Handled {
            reply: encode(&Reply::Welcome {
                commitment: self.commitment.clone(),
                quota_left: self.limits.quota.saturating_sub(used),
                max_batch: self.limits.max_batch,
            }),
            usage: None,
        }
    }

    fn chunk(&self, offset: u64) -> Handled {
        let total = self.table.len();
        let start = usize::try_from(offset).unwrap_or(usize::MAX).min(total);
        let end = (start + TABLE_CHUNK).min(total);
        Handled {
            reply: encode(&Reply::TableChunk {
                offset: start as u64,
                total: total as u64,
                bytes: self.table[start..end].to_vec(),
            }),
            usage: None,
        }
    }

    fn delta_chunk(&self, client: &str, revision: u64, offset: u64) -> Handled {
        let found = usize::try_from(revision)
            .ok()
            .and_then(|r| r.checked_sub(1))
            .and_then(|i| self.deltas.get(i));
        let Some((commitment, bytes)) = found else {
            let mut h = self.refuse(client, 0, Refusal::NoDelta { revision });
            h.usage = None;
            return h;
        };
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(bytes.len());
        let end = (start + TABLE_CHUNK).min(bytes.len());
        Handled {
            reply: encode(&Reply::DeltaChunk {
                commitment: commitment.clone(),
                offset: start as u64,
                total: bytes.len() as u64,
                bytes: bytes[start..end].to_vec(),
            }),
            usage: None,
        }
    }

    /// Applies the limits to an evaluation request and charges it.
    fn admit(
        &mut self,
        client: &str,
        version: u64,
        elements: &[u8],
        now: Instant,
    ) -> Result<(), Handled> {
        if version != self.version() {
            let current = self.version();
            return Err(self.refuse(client, 0, Refusal::StaleVersion { current }));
        }
        if !elements.len().is_multiple_of(ELEMENT_BYTES) || elements.is_empty() {
            let reason = format!(
                "{} bytes is not a positive number of elements",
                elements.len()
            );
            return Err(self.refuse(client, 0, Refusal::Malformed { reason }));
        }
        let n = (elements.len() / ELEMENT_BYTES) as u64;
        if n > u64::from(self.limits.max_batch) {
            let max = self.limits.max_batch;
            return Err(self.refuse(client, n, Refusal::BatchTooLarge { max }));
        }
        let used = self.served.get(client).copied().unwrap_or(0);
        if used + n > self.limits.quota {
            let quota = self.limits.quota;
            let mut h = self.refuse(
                client,
                n,
                Refusal::OverQuota {
                    used,
                    quota,
                    asked: n,
                },
            );
            if let Some(u) = h.usage.as_mut() {
                u.outcome = Outcome::OverQuota;
            }
            return Err(h);
        }
        let limits = self.limits;
        let budget = self.budgets.entry(client.to_string()).or_insert(Budget {
            tokens: limits.burst as f64,
            last: now,
        });
        let elapsed = now.saturating_duration_since(budget.last).as_secs_f64();
        budget.tokens = (budget.tokens + elapsed * limits.rate_per_sec).min(limits.burst as f64);
        budget.last = now;
        if budget.tokens < n as f64 {
            let wait = (n as f64 - budget.tokens) / limits.rate_per_sec;
            let retry_after_ms = (wait * 1000.0).ceil() as u64;
            let mut h = self.refuse(client, n, Refusal::RateLimited { retry_after_ms });
            if let Some(u) = h.usage.as_mut() {
                u.outcome = Outcome::RateLimited;
            }
            return Err(h);
        }
        self.charge(client, n, 1.0);
        Ok(())
    }

    /// Adds (sign 1) or refunds (sign -1) `n` evaluations.
    fn charge(&mut self, client: &str, n: u64, sign: f64) {
        if let Some(b) = self.budgets.get_mut(client) {
            b.tokens -= sign * n as f64;
        }
        let served = self.served.entry(client.to_string()).or_insert(0);
        *served = if sign > 0.0 {
            *served + n
        } else {
            served.saturating_sub(n)
        };
    }

    fn usage(&self, client: &str, n: u64, outcome: Outcome) -> UsageRecord {
        UsageRecord {
            client: client.to_string(),
            version: self.version(),
            evaluations: n,
            used: self.served.get(client).copied().unwrap_or(0),
            quota: self.limits.quota,
            outcome,
        }
    }

    fn refuse(&self, client: &str, n: u64, why: Refusal) -> Handled {
        Handled {
            reply: encode(&Reply::Refused(why)),
            usage: Some(self.usage(client, n, Outcome::Refused)),
        }
    }
}

/// What [`serve`] did for one client.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Served {
    /// Requests answered, refusals included.
    pub requests: u64,
    /// OPRF evaluations made (each one lets the client test one guess).
    pub evaluations: u64,
    /// Requests refused: a malformed frame, or an evaluation request over
    /// quota, rate limited, too large or for a stale version.
    pub refused: u64,
}

/// Serves one client over `channel` until it hangs up: every frame goes to
/// [`Service::handle`] and its reply goes back. `client` names the client
/// for its rate limit and quota: over QUIC, the name its verified
/// certificate carries; in memory, any name the caller trusts. Returns what
/// was served once the client closes the channel; any other channel error
/// (a timeout, an oversized frame) ends the session with that error, and
/// the service keeps serving others.
///
/// Usage records are counted, not kept: a caller that logs every request
/// (as the QUIC driver does) calls [`Service::handle`] itself.
pub fn serve<C: Channel + ?Sized>(
    service: &mut Service,
    channel: &mut C,
    client: &str,
) -> Result<Served, VerifyError> {
    let mut served = Served::default();
    loop {
        let frame = match channel.recv() {
            Ok(frame) => frame,
            Err(NetError::Closed { .. }) => return Ok(served),
            Err(e) => return Err(VerifyError::net(client, Phase::Serving, e)),
        };
        let handled = service.handle(client, &frame, Instant::now());
        served.requests += 1;
        if let Some(usage) = &handled.usage {
            match usage.outcome {
                Outcome::Served => served.evaluations += usage.evaluations,
                _ => served.refused += 1,
            }
        }
        match channel.send(&handled.reply) {
            Ok(()) => {}
            Err(NetError::Closed { .. }) => return Ok(served),
            Err(e) => return Err(VerifyError::net(client, Phase::Serving, e)),
        }
    }
}

/// Encodes a reply (bincode, standard configuration).
pub fn encode(reply: &Reply) -> Vec<u8> {
    bincode::serde::encode_to_vec(reply, bincode::config::standard())
        .expect("replies always encode")
}
