//! The client's session with the operator over a [`Channel`]: hello (the
//! signed commitment), table fetch, and verification of records in batches
//! of at most the operator's `max_batch` entries.
//!
//! What travels to the operator: `Hello`, table offsets, the dataset
//! version, and blinded elements, uniformly random and independent of the
//! query. Nothing else about the query.

use crate::client::{Answer, Verifier};
use crate::commit::SignedCommitment;
use crate::messages::{Refusal, Reply, Request};
use crate::record::Query;
use crate::{Phase, VerifyError};
use indomain_net::{Channel, wire};
use std::time::Duration;

/// The largest table a client fetches (4 GiB).
pub const MAX_TABLE: u64 = 4 << 30;

/// The longest a client waits on a rate limit before it retries.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(10);

/// What the operator says on hello.
#[derive(Debug, Clone)]
pub struct Welcome {
    /// Its current signed commitment (not yet checked).
    pub commitment: SignedCommitment,
    /// Evaluations this client may still ask for.
    pub quota_left: u64,
    /// The most entries one request may carry.
    pub max_batch: u32,
}

fn ask(
    ch: &mut (impl Channel + ?Sized),
    phase: Phase,
    req: &Request,
) -> Result<Reply, VerifyError> {
    let peer = ch.peer().to_string();
    wire::send_msg(ch, req).map_err(|e| VerifyError::net(&peer, phase, e))?;
    let reply: Reply = wire::recv_msg(ch).map_err(|e| VerifyError::net(&peer, phase, e))?;
    match reply {
        Reply::Refused(r) => Err(VerifyError::Refused {
            peer,
            reason: r.to_string(),
        }),
        other => Ok(other),
    }
}

/// Greets the operator.
pub fn hello(ch: &mut (impl Channel + ?Sized)) -> Result<Welcome, VerifyError> {
    match ask(ch, Phase::Hello, &Request::Hello)? {
        Reply::Welcome {
            commitment,
            quota_left,
            max_batch,
        } if max_batch > 0 => Ok(Welcome {
            commitment,
            quota_left,
            max_batch,
        }),
        other => Err(VerifyError::protocol(
            ch.peer(),
            Phase::Hello,
            format!("expected a welcome, got {}", kind(&other)),
        )),
    }
}

/// Fetches the table `commitment` commits to (check the commitment's
/// signature first: its length bounds what is fetched). The bytes are not
/// checked here; [`Verifier::new`] does.
pub fn fetch_table(
    ch: &mut (impl Channel + ?Sized),
    commitment: &SignedCommitment,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Vec<u8>, VerifyError> {
    let total = commitment.commitment.table_len;
    if total > MAX_TABLE {
        return Err(VerifyError::Input(format!(
            "a table of {total} bytes is too large"
        )));
    }
    let mut table = Vec::with_capacity(total as usize);
    while (table.len() as u64) < total {
        let offset = table.len() as u64;
        match ask(ch, Phase::Table, &Request::FetchTable { offset })? {
            Reply::TableChunk {
                offset: at,
                total: t,
                bytes,
            } if at == offset
                && t == total
                && !bytes.is_empty()
                && offset + bytes.len() as u64 <= total =>
            {
                table.extend_from_slice(&bytes);
                progress(table.len() as u64, total);
            }
            other => {
                return Err(VerifyError::protocol(
                    ch.peer(),
                    Phase::Table,
                    format!(
                        "expected chunk at {offset} of {total}, got {}",
                        kind(&other)
                    ),
                ));
            }
        }
    }
    Ok(table)
}

/// How a client splits its queries into requests.
#[derive(Debug, Clone, Copy)]
pub struct Batching {
    /// The most entries a request carries (the operator's `max_batch`).
    pub max_entries: u32,
    /// The most records a request carries (1 for one request a record).
    pub max_records: usize,
}

/// Brings `verifier` (a cached table of the version served) up to the
/// operator's `current` revision by fetching and applying each delta in
/// turn; every step checks the signature, the chain and the table hash.
/// Fails with a refusal if the operator does not serve the deltas.
pub fn update(
    ch: &mut (impl Channel + ?Sized),
    verifier: &Verifier,
    current: &SignedCommitment,
) -> Result<Verifier, VerifyError> {
    let mut v = verifier.clone();
    let (have, want) = (&v.commitment().commitment, &current.commitment);
    if have.version != want.version || have.revision > want.revision {
        return Err(VerifyError::Stale {
            have: have.version,
            have_revision: have.revision,
            current: want.version,
            current_revision: want.revision,
        });
    }
    for revision in have.revision + 1..=want.revision {
        let (commitment, delta) = fetch_delta(ch, revision)?;
        v = v.apply(&delta, commitment)?;
    }
    v.check_current(current)?;
    Ok(v)
}

fn fetch_delta(
    ch: &mut (impl Channel + ?Sized),
    revision: u64,
) -> Result<(SignedCommitment, Vec<u8>), VerifyError> {
    let mut delta = Vec::new();
    let mut signed: Option<SignedCommitment> = None;
    loop {
        let offset = delta.len() as u64;
        match ask(ch, Phase::Table, &Request::FetchDelta { revision, offset })? {
            Reply::DeltaChunk {
                commitment,
                offset: at,
                total,
                bytes,
            } if at == offset
                && total <= MAX_TABLE
                && offset + bytes.len() as u64 <= total
                && (bytes.is_empty() == (offset == total))
                && signed.as_ref().is_none_or(|c| *c == commitment) =>
            {
                delta.extend_from_slice(&bytes);
                signed = Some(commitment);
                if delta.len() as u64 == total {
                    break;
                }
            }
            other => {
                return Err(VerifyError::protocol(
                    ch.peer(),
                    Phase::Table,
                    format!(
                        "expected delta {revision} at {offset}, got {}",
                        kind(&other)
                    ),
                ));
            }
        }
    }
    let signed = signed.ok_or_else(|| {
        VerifyError::protocol(
            ch.peer(),
            Phase::Table,
            format!("delta {revision} is empty"),
        )
    })?;
    Ok((signed, delta))
}

/// Verifies `queries` in requests of at most `batching` entries and
/// records, waiting and retrying when rate limited. `progress` gets the
/// number of records answered so far.
pub fn verify(
    ch: &mut (impl Channel + ?Sized),
    verifier: &Verifier,
    queries: &[Query],
    batching: Batching,
    progress: &mut dyn FnMut(usize),
) -> Result<Vec<Answer>, VerifyError> {
    let (answers, ended) = verify_answered(ch, verifier, queries, batching, progress);
    ended.map(|()| answers)
}

/// [`verify`], keeping the answers of the requests that were answered
/// when a later one fails (over quota, the link lost): the answers, in the
/// order of `queries` (a prefix of them), and how the run ended. The
/// operator charged its quota for every answer returned, so the caller
/// should keep them.
pub fn verify_answered(
    ch: &mut (impl Channel + ?Sized),
    verifier: &Verifier,
    queries: &[Query],
    batching: Batching,
    progress: &mut dyn FnMut(usize),
) -> (Vec<Answer>, Result<(), VerifyError>) {
    let mut answers = Vec::with_capacity(queries.len());
    let max = batching.max_entries.max(1) as usize;
    let max_records = batching.max_records.max(1);
    let mut start = 0;
    while start < queries.len() {
        let mut end = start;
        let mut entries = 0;
        while end < queries.len()
            && end - start < max_records
            && (end == start || entries + queries[end].claims.len() <= max)
        {
            entries += queries[end].claims.len();
            end += 1;
        }
        let batch = &queries[start..end];
        let answered = (|| {
            let (pending, elements) = verifier.prepare(batch).map_err(|e| match e {
                VerifyError::Input(m) => VerifyError::Input(renumber(&m, start)),
                other => other,
            })?;
            let evaluated = if pending.evaluations() == 0 {
                Vec::new()
            } else {
                evaluate(ch, verifier.table().version, elements)?
            };
            verifier.finish(pending, &evaluated, ch.peer())
        })();
        match answered {
            Ok(batch_answers) => answers.extend(batch_answers),
            Err(e) => return (answers, Err(e)),
        }
        start = end;
        progress(start);
    }
    (answers, Ok(()))
}

/// One evaluation request, retried after the wait a rate limit names.
fn evaluate(
    ch: &mut (impl Channel + ?Sized),
    version: u64,
    elements: Vec<u8>,
) -> Result<Vec<u8>, VerifyError> {
    let peer = ch.peer().to_string();
    let request = Request::Evaluate { version, elements };
    loop {
        wire::send_msg(ch, &request).map_err(|e| VerifyError::net(&peer, Phase::Evaluate, e))?;
        let reply: Reply =
            wire::recv_msg(ch).map_err(|e| VerifyError::net(&peer, Phase::Evaluate, e))?;
        match reply {
            Reply::Evaluated {
                version: v,
                elements,
            } if v == version => return Ok(elements),
            Reply::Refused(Refusal::RateLimited { retry_after_ms })
                if Duration::from_millis(retry_after_ms) <= MAX_RETRY_WAIT =>
            {
                std::thread::sleep(Duration::from_millis(retry_after_ms.max(1)));
            }
            Reply::Refused(r) => {
                return Err(VerifyError::Refused {
                    peer,
                    reason: r.to_string(),
                });
            }
            other => {
                return Err(VerifyError::protocol(
                    &peer,
                    Phase::Evaluate,
                    format!(
                        "expected evaluations for version {version}, got {}",
                        kind(&other)
                    ),
                ));
            }
        }
    }
}

/// Query numbers in `prepare`'s errors count from the batch; make them
/// count from the whole list.
fn renumber(message: &str, offset: usize) -> String {
    let Some(rest) = message.strip_prefix("query ") else {
        return message.to_string();
    };
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    match digits.parse::<usize>() {
        Ok(n) => format!("query {}{}", n + offset, &rest[digits.len()..]),
        Err(_) => message.to_string(),
    }
}

fn kind(reply: &Reply) -> &'static str {
    match reply {
        Reply::Welcome { .. } => "a welcome",
        Reply::TableChunk { .. } => "a table chunk",
        Reply::DeltaChunk { .. } => "a delta chunk",
        Reply::Evaluated { .. } => "evaluations",
        Reply::Refused(_) => "a refusal",
    }
}
