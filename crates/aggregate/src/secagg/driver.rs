//! The blocking driver of a round's server: it feeds the
//! [`ServerRound`] state machine from blocking channels with a small,
//! fixed pool of reader threads instead of a thread per client.
//!
//! Readers take the awaited clients one after another from a shared queue
//! and hand each frame to the driver thread, which applies it at once (a
//! masked input is added to the running sum on arrival). A silent client
//! holds one reader until its channel times out, so with r readers and s
//! silent clients a step waits at most ⌈s/r⌉ timeouts.

use super::Params;
use super::server::{Outgoing, RoundOutput, ServerRound, Step};
use super::signing::Pki;
use crate::AggregateError;
use indomain_net::wire::send_msg;
use indomain_net::{Channel, NetError};
use rand::CryptoRng;
use std::sync::Mutex;
use std::sync::mpsc::sync_channel;
use std::time::{Duration, Instant};

/// Reader threads per step, at most.
pub const READERS: usize = 32;

/// What the driver observed of the server's own work in one round.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ServerStats {
    /// Time spent in the state machine (decoding, adding masked inputs,
    /// relaying, unmasking), not waiting for clients.
    pub compute: Duration,
    /// The most round state held at once ([`ServerRound::state_bytes`]).
    pub peak_state_bytes: usize,
    /// Reader threads used per step, at most.
    pub readers: usize,
}

/// Runs the server of an unsigned (semi-honest) round; `clients[i]` is the
/// link to client i.
pub fn run_server<C: Channel, R: CryptoRng + ?Sized>(
    clients: &mut [C],
    params: &Params,
    rng: &mut R,
) -> Result<RoundOutput, AggregateError> {
    run_server_with_stats(clients, params, rng).map(|(output, _)| output)
}

/// Runs the server of a signed round (signed keys and the consistency
/// check, see [`super::signing`]) with the clients' identity keys `pki`.
pub fn run_server_signed<C: Channel, R: CryptoRng + ?Sized>(
    clients: &mut [C],
    params: &Params,
    pki: Pki,
    rng: &mut R,
) -> Result<RoundOutput, AggregateError> {
    let round = ServerRound::signed(params, pki, rng)?;
    drive(clients, round).map(|(output, _)| output)
}

/// [`run_server`], also reporting the server's own work.
pub fn run_server_with_stats<C: Channel, R: CryptoRng + ?Sized>(
    clients: &mut [C],
    params: &Params,
    rng: &mut R,
) -> Result<(RoundOutput, ServerStats), AggregateError> {
    drive(clients, ServerRound::new(params, rng)?)
}

/// Drives `round` (unsigned or signed) over the links to its clients to
/// the end, reporting the server's own work.
pub fn drive<C: Channel>(
    clients: &mut [C],
    mut round: ServerRound,
) -> Result<(RoundOutput, ServerStats), AggregateError> {
    let params = round.params().clone();
    if clients.len() != params.clients {
        return Err(AggregateError::BadParameters(format!(
            "{} client links for a round of {} clients",
            clients.len(),
            params.clients
        )));
    }
    let mut stats = ServerStats {
        readers: params.clients.min(READERS),
        ..ServerStats::default()
    };
    while round.step() != Step::Done {
        gather(clients, &mut round, &mut stats.compute);
        stats.peak_state_bytes = stats.peak_state_bytes.max(round.state_bytes());
        let start = Instant::now();
        let outgoing = round.advance();
        stats.compute += start.elapsed();
        for (v, message) in outgoing? {
            let ch = &mut clients[v];
            let sent = match &message {
                Outgoing::Keys(list) => send_msg(ch, list),
                Outgoing::Shares(inbox) => send_msg(ch, inbox),
                Outgoing::Survivors(list) => send_msg(ch, list),
                Outgoing::Endorsements(list) => send_msg(ch, list),
            };
            if sent.is_err() {
                round.drop_client(v);
            }
        }
    }
    Ok((round.finish()?, stats))
}

/// Receives one frame from every awaited client and hands it to `round`
/// (or reports the client dropped if its link fails).
fn gather<C: Channel>(clients: &mut [C], round: &mut ServerRound, compute: &mut Duration) {
    let pending = round.pending();
    let readers = pending.len().min(READERS);
    if readers == 0 {
        return;
    }
    let mut awaited = pending.iter().peekable();
    let queue: Vec<(usize, &mut C)> = clients
        .iter_mut()
        .enumerate()
        .filter(|(i, _)| awaited.next_if_eq(&i).is_some())
        .collect();
    let queue = Mutex::new(queue.into_iter());
    // A bounded hand-over: at most `readers` frames wait for the driver.
    let (tx, rx) = sync_channel::<(usize, Result<Vec<u8>, NetError>)>(readers);
    std::thread::scope(|s| {
        for _ in 0..readers {
            let (tx, queue) = (tx.clone(), &queue);
            s.spawn(move || {
                loop {
                    // A poisoned queue only means another reader panicked.
                    let next = queue.lock().map(|mut q| q.next()).unwrap_or(None);
                    let Some((i, ch)) = next else { break };
                    if tx.send((i, ch.recv())).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        for (i, frame) in rx {
            let start = Instant::now();
            match frame {
                Ok(frame) => round.handle(i, &frame),
                Err(_) => round.drop_client(i),
            }
            *compute += start.elapsed();
        }
    });
}
