//! A whole round in one process: the server and every client on their own
//! thread over in-memory links, with chosen clients dropping out at chosen
//! steps. For tests, benchmarks and experiments. Rounds are signed
//! ([`Mode::Signed`], with a fresh key table for the simulated clients)
//! unless [`simulate_round_in`] says otherwise.
//!
//! The pieces are public for researchers who drive a round by hand:
//! [`Vanishing`] wraps any channel and fails every send after the first N
//! (a process that died there), and [`Dropout::sends`] maps each named
//! dropout point to that N. One rule when driving by hand: once
//! `run_server` returns, drop the server's ends of the links, so that
//! clients still waiting for a message see the link close and return.

use super::driver::{ServerStats, drive};
use super::server::ServerRound;
use super::signing::{Mode, Pki};
use super::{Params, RoundOutput, run_client, run_client_signed};
use crate::AggregateError;
use indomain_net::memory::{MemoryChannel, pair_with_limits};
use indomain_net::{Channel, Counters, Limits, NetError};

/// When a simulated client disappears (it stops sending and closes its link).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dropout {
    /// Takes part in the whole round.
    Never,
    /// After advertising its keys, before sending shares.
    BeforeShares,
    /// After sending its shares, before its masked input: its pairwise masks
    /// are in its neighbours' inputs and must be removed (mid-round).
    BeforeMaskedInput,
    /// After its masked input, before signing the survivor list (signed
    /// rounds; in unsigned ones the same as [`Dropout::BeforeUnmasking`]).
    /// Its input is in the sum; it reveals no share.
    BeforeConsistencyCheck,
    /// After its masked input (and, signed, its signature on the survivor
    /// list), before helping to unmask.
    BeforeUnmasking,
}

impl Dropout {
    /// How many frames the client of a signed round sends before it
    /// disappears (the `sends` of a [`Vanishing`] link).
    pub fn sends(self) -> usize {
        self.sends_in(Mode::Signed)
    }

    /// How many frames the client sends before it disappears in a round of
    /// `mode`: keys, shares, masked input, (signed: survivor-list
    /// signature,) revealed shares.
    pub fn sends_in(self, mode: Mode) -> usize {
        let signed = usize::from(mode == Mode::Signed);
        match self {
            Dropout::Never => usize::MAX,
            Dropout::BeforeShares => 1,
            Dropout::BeforeMaskedInput => 2,
            Dropout::BeforeConsistencyCheck => 3,
            Dropout::BeforeUnmasking => 3 + signed,
        }
    }
}

/// A link that fails every send after the first `sends`, as if the process
/// died there (receiving still works, as a half-dead peer's would).
///
/// ```
/// # mod indomain { pub use {indomain_aggregate as aggregate, indomain_net as net}; }
/// use indomain::aggregate::secagg::sim::Vanishing;
/// use indomain::net::Channel;
///
/// let (a, mut b) = indomain::net::memory::pair("client", "server");
/// let mut a = Vanishing::new(a, 1);
/// a.send(b"hello").unwrap();
/// assert!(a.send(b"again").is_err());
/// assert_eq!(b.recv().unwrap(), b"hello");
/// ```
pub struct Vanishing<C: Channel = MemoryChannel> {
    inner: C,
    left: usize,
}

impl<C: Channel> Vanishing<C> {
    /// Wraps `inner`; the first `sends` frames go through.
    pub fn new(inner: C, sends: usize) -> Self {
        Self { inner, left: sends }
    }
}

impl<C: Channel> Channel for Vanishing<C> {
    fn send(&mut self, frame: &[u8]) -> Result<(), NetError> {
        if self.left == 0 {
            return Err(NetError::Closed {
                peer: self.inner.peer().to_string(),
            });
        }
        self.left -= 1;
        self.inner.send(frame)
    }
    fn recv(&mut self) -> Result<Vec<u8>, NetError> {
        self.inner.recv()
    }
    fn peer(&self) -> &str {
        self.inner.peer()
    }
    fn counters(&self) -> Counters {
        self.inner.counters()
    }
}

/// The outcome of a simulated round.
#[derive(Debug)]
pub struct SimulatedRound {
    /// The server's result.
    pub output: RoundOutput,
    /// Bytes moved by each client (sent and received).
    pub client_bytes: Vec<Counters>,
    /// Bytes moved by the server.
    pub server_bytes: Counters,
    /// The server's own work.
    pub server: ServerStats,
}

/// Runs one signed round: `inputs[i]` is client i's vector and
/// `dropouts[i]` when it disappears.
pub fn simulate_round(
    params: &Params,
    inputs: &[Vec<f64>],
    dropouts: &[Dropout],
    limits: Limits,
) -> Result<SimulatedRound, AggregateError> {
    simulate_round_in(params, inputs, dropouts, limits, Mode::Signed)
}

/// [`simulate_round`] in a chosen [`Mode`].
pub fn simulate_round_in(
    params: &Params,
    inputs: &[Vec<f64>],
    dropouts: &[Dropout],
    limits: Limits,
    mode: Mode,
) -> Result<SimulatedRound, AggregateError> {
    if inputs.len() != params.clients || dropouts.len() != params.clients {
        return Err(AggregateError::BadParameters(format!(
            "{} inputs and {} dropout plans for {} clients",
            inputs.len(),
            dropouts.len(),
            params.clients
        )));
    }
    let (mut server_ends, client_ends): (Vec<MemoryChannel>, Vec<MemoryChannel>) = (0..params
        .clients)
        .map(|i| pair_with_limits("server", &format!("client {i}"), limits))
        .unzip();
    let (pki, identities) = Pki::generate(params.clients, &mut rand::rng());
    let (pki, identities) = (&pki, &identities);
    std::thread::scope(|scope| {
        let clients: Vec<_> = client_ends
            .into_iter()
            .zip(inputs.iter().zip(dropouts))
            .enumerate()
            .map(|(id, (inner, (input, &dropout)))| {
                scope.spawn(move || {
                    let mut link = Vanishing::new(inner, dropout.sends_in(mode));
                    let rng = &mut rand::rng();
                    let outcome = match mode {
                        Mode::Signed => {
                            let me = (&identities[id], pki);
                            run_client_signed(&mut link, id, params, me, input, rng)
                        }
                        Mode::Unsigned => run_client(&mut link, id, params, input, rng),
                    };
                    (dropout, outcome, link.counters())
                })
            })
            .collect();
        let round = match mode {
            Mode::Signed => ServerRound::signed(params, pki.clone(), &mut rand::rng()),
            Mode::Unsigned => ServerRound::new(params, &mut rand::rng()),
        };
        let output = round.and_then(|round| drive(&mut server_ends, round));
        // Close the server's links so clients still waiting see the end.
        let server_bytes = server_ends
            .drain(..)
            .map(|ch| ch.counters())
            .fold(Counters::default(), |a, b| a + b);
        let mut client_bytes = Vec::with_capacity(clients.len());
        let mut client_error = None;
        for handle in clients {
            match handle.join() {
                Ok((dropout, outcome, bytes)) => {
                    client_bytes.push(bytes);
                    if let (Dropout::Never, Err(e)) = (dropout, outcome) {
                        client_error.get_or_insert(e);
                    }
                }
                Err(_) => {
                    client_error
                        .get_or_insert(AggregateError::BadInput("a client thread panicked".into()));
                }
            }
        }
        let (output, server) = output?;
        if let Some(e) = client_error {
            return Err(e);
        }
        Ok(SimulatedRound {
            output,
            client_bytes,
            server_bytes,
            server,
        })
    })
}
