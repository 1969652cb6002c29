//! The server (aggregator) of a secure-aggregation round as an I/O-free
//! state machine: [`ServerRound::handle`] takes one client's frame for the
//! current step, [`ServerRound::advance`] closes the step and says what to
//! send to whom. The blocking driver over channels is
//! [`super::driver::run_server`]; an asynchronous one can drive the same
//! machine.
//!
//! In a signed round ([`ServerRound::signed`], see [`super::signing`]) the
//! server also drops clients whose keys or survivor-list signature do not
//! verify, and runs the consistency-check step between the masked inputs
//! and the unmasking.
//!
//! A client that fails — closes its link, times out, or sends anything
//! malformed — is treated as dropped from that step on. The round goes on
//! while at least t clients remain and every needed secret has t shares.
//! Masked inputs are added to the running sum as they arrive, so the
//! server holds one vector, not one per client.

use super::Params;
use super::crypto::{self, KeyPair, SEALED_LEN};
use super::graph::Graph;
use super::messages::{
    Advertise, Endorse, Endorsement, Endorsements, KeyList, PeerKeys, Reveal, RevealedShare,
    Sealed, Survivors,
};
use super::signing::{self, Pki};
use crate::AggregateError;
use crate::shamir::{self, Share};
use indomain_core::prg::{self, Seed};
use indomain_net::wire::{decode_msg, decode_u64s};
use rand::CryptoRng;
use rayon::prelude::*;
use std::collections::BTreeMap;

/// What the server gets from a round: the sum, whose inputs are in it,
/// and every client that dropped, when and why.
///
/// A client's input is in the sum once its masked input has arrived: a
/// client that drops after that (during the consistency check or the
/// unmasking) is still in [`survivors`](Self::survivors), its masks are
/// removed with its neighbours' shares, and it is listed in
/// [`dropped_after_input`](Self::dropped_after_input). Only the clients of
/// [`left_out`](Self::left_out) — dropped before their masked input arrived
/// — are left out of the sum.
#[derive(Debug, Clone, PartialEq)]
pub struct RoundOutput {
    /// The sum of the inputs of the clients of `survivors`.
    pub sum: Vec<f64>,
    /// The clients whose input is in the sum, increasing.
    pub survivors: Vec<usize>,
    /// The clients whose input is not in the sum, increasing: each dropped
    /// before its masked input arrived.
    pub left_out: Vec<Dropped>,
    /// The clients whose input is in the sum but that dropped after
    /// sending it, increasing.
    pub dropped_after_input: Vec<Dropped>,
}

/// Why a client dropped out of a round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropCause {
    /// Its link failed, closed or timed out, or it had not answered when
    /// the step closed: the process died, or the network did.
    Vanished,
    /// It sent a frame the round refused: malformed, out of turn, or (in a
    /// signed round) keys or a signature that do not verify.
    Refused,
}

/// A client that dropped out of a round: during which step, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dropped {
    /// The client.
    pub client: usize,
    /// The step during which it dropped.
    pub step: Step,
    /// Why.
    pub cause: DropCause,
}

/// The steps of a round, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Waiting for every client's public keys ([`Advertise`]).
    Keys,
    /// Waiting for every client's sealed shares (`Vec<Sealed>`).
    Shares,
    /// Waiting for every client's masked input (raw little-endian `u64`s).
    MaskedInputs,
    /// Signed rounds: waiting for every survivor's signature on the
    /// survivor list ([`Endorse`]).
    ConsistencyCheck,
    /// Waiting for every survivor's revealed shares ([`Reveal`]).
    Unmasking,
    /// The round is over: [`ServerRound::finish`] gives the result.
    Done,
}

impl Step {
    /// The step's name in errors.
    pub fn name(self) -> &'static str {
        match self {
            Step::Keys => "collecting keys",
            Step::Shares => "relaying shares",
            Step::MaskedInputs => "collecting masked inputs",
            Step::ConsistencyCheck => "consistency check",
            Step::Unmasking => "unmasking",
            Step::Done => "done",
        }
    }
}

/// A message the server sends to one client when a step closes.
#[derive(Debug, Clone, PartialEq)]
pub enum Outgoing {
    /// After the keys: the graph seed and the client's neighbours' keys.
    Keys(KeyList),
    /// After the shares: the shares sealed for the client.
    Shares(Vec<Sealed>),
    /// After the masked inputs: the survivors.
    Survivors(Survivors),
    /// Signed rounds, after the consistency check: the signatures on the
    /// survivor list of the clients within two hops of the recipient.
    Endorsements(Endorsements),
}

/// Shares of the secrets the server must rebuild, by owner.
type SharesByOwner = BTreeMap<usize, Vec<Share>>;

/// The server's state in one round.
pub struct ServerRound {
    params: Params,
    step: Step,
    graph_seed: Seed,
    graph: Graph,
    /// Clients still taking part.
    alive: Vec<bool>,
    /// When and why each client dropped, if it did.
    dropped: Vec<Option<(Step, DropCause)>>,
    /// Clients that answered the current step.
    answered: Vec<bool>,
    /// Each client's public keys (`None` if it never sent valid ones).
    adverts: Vec<Option<Advertise>>,
    /// Each client's neighbours that were live when keys were sent out.
    listed: Vec<Vec<usize>>,
    /// Each client's sealed shares, until they are relayed.
    bundles: Vec<Option<Vec<Sealed>>>,
    /// Clients that completed the sharing step.
    in_sharing: Vec<bool>,
    /// Clients whose masked input is in the sum.
    in_sum: Vec<bool>,
    /// The running sum of masked inputs.
    sum: Vec<u64>,
    seed_shares: SharesByOwner,
    key_shares: SharesByOwner,
    output: Option<RoundOutput>,
    /// The clients' identity keys in a signed round.
    pki: Option<Pki>,
    /// What survivors sign in the consistency check.
    survivors_message: Vec<u8>,
    /// Each survivor's signature on the survivor list.
    endorsements: Vec<Option<Vec<u8>>>,
}

impl ServerRound {
    /// A round waiting for keys. The graph seed is drawn now and sent only
    /// once every key is in.
    pub fn new<R: CryptoRng + ?Sized>(
        params: &Params,
        rng: &mut R,
    ) -> Result<Self, AggregateError> {
        params.validate()?;
        let n = params.clients;
        let graph_seed = Seed::random(rng);
        Ok(Self {
            graph: Graph::new(n, params.neighbours, &graph_seed),
            graph_seed,
            params: params.clone(),
            step: Step::Keys,
            alive: vec![true; n],
            dropped: vec![None; n],
            answered: vec![false; n],
            adverts: vec![None; n],
            listed: vec![Vec::new(); n],
            bundles: vec![None; n],
            in_sharing: vec![false; n],
            in_sum: vec![false; n],
            sum: Vec::new(),
            seed_shares: SharesByOwner::new(),
            key_shares: SharesByOwner::new(),
            output: None,
            pki: None,
            survivors_message: Vec::new(),
            endorsements: vec![None; n],
        })
    }

    /// A signed round: keys must carry their owner's signature under
    /// `pki`, and the consistency-check step runs before the unmasking.
    pub fn signed<R: CryptoRng + ?Sized>(
        params: &Params,
        pki: Pki,
        rng: &mut R,
    ) -> Result<Self, AggregateError> {
        pki.check(params)?;
        let mut round = Self::new(params, rng)?;
        round.pki = Some(pki);
        Ok(round)
    }

    /// The round's parameters.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// The current step.
    pub fn step(&self) -> Step {
        self.step
    }

    /// The clients whose message for the current step is still awaited.
    pub fn pending(&self) -> Vec<usize> {
        if self.step == Step::Done {
            return Vec::new();
        }
        (0..self.params.clients)
            .filter(|&u| self.alive[u] && !self.answered[u])
            .collect()
    }

    /// Marks `client` as dropped (its link failed or timed out):
    /// [`DropCause::Vanished`] at the current step.
    pub fn drop_client(&mut self, client: usize) {
        self.drop_as(client, DropCause::Vanished);
    }

    /// Marks `client` as dropped at the current step for `cause`, unless it
    /// dropped before.
    fn drop_as(&mut self, client: usize, cause: DropCause) {
        if let Some(a) = self.alive.get_mut(client)
            && std::mem::replace(a, false)
        {
            self.dropped[client] = Some((self.step, cause));
        }
    }

    /// Takes `client`'s frame for the current step. A frame from a client
    /// that is not awaited, or one that is malformed, drops the client;
    /// nothing a client sends makes this fail or panic.
    pub fn handle(&mut self, client: usize, frame: &[u8]) {
        if client >= self.params.clients || !self.alive[client] || self.answered[client] {
            self.drop_as(client, DropCause::Refused);
            return;
        }
        let peer = format!("client {client}");
        let accepted = match self.step {
            Step::Keys => decode_msg::<Advertise>(&peer, frame)
                .ok()
                .filter(|a| {
                    // Keys outside the prime-order subgroup or without
                    // their owner's signature: the neighbours would refuse
                    // them (and the round with them) anyway.
                    crypto::valid_public_key(&a.cipher_key)
                        && crypto::valid_public_key(&a.mask_key)
                        && self.pki.as_ref().is_none_or(|pki| {
                            signing::verify_keys(pki, self.params.round_id(), client, a)
                        })
                })
                .map(|a| self.adverts[client] = Some(a))
                .is_some(),
            Step::Shares => decode_msg::<Vec<Sealed>>(&peer, frame)
                .ok()
                .filter(|bundle| {
                    // Exactly one well-formed share per listed neighbour.
                    bundle.len() == self.listed[client].len()
                        && bundle
                            .iter()
                            .zip(&self.listed[client])
                            .all(|(s, &v)| s.peer as usize == v && s.ciphertext.len() == SEALED_LEN)
                })
                .map(|bundle| self.bundles[client] = Some(bundle))
                .is_some(),
            Step::MaskedInputs => match decode_u64s(&peer, frame, self.params.len) {
                Ok(masked) => {
                    self.sum
                        .par_iter_mut()
                        .with_min_len(1 << 14)
                        .zip(masked.par_iter())
                        .for_each(|(a, b)| *a = a.wrapping_add(*b));
                    self.in_sum[client] = true;
                    true
                }
                Err(_) => false,
            },
            Step::ConsistencyCheck => decode_msg::<Endorse>(&peer, frame)
                .ok()
                .filter(|e| {
                    self.pki.as_ref().is_some_and(|pki| {
                        signing::verify(pki, client, &self.survivors_message, &e.signature)
                    })
                })
                .map(|e| self.endorsements[client] = Some(e.signature))
                .is_some(),
            Step::Unmasking => {
                // A reveal with any share the round does not need is
                // ignored whole; the client stays a survivor.
                if let Ok(reveal) = decode_msg::<Reveal>(&peer, frame) {
                    self.take_reveal(client, &reveal);
                }
                true
            }
            Step::Done => false,
        };
        if accepted {
            self.answered[client] = true;
        } else {
            self.drop_as(client, DropCause::Refused);
        }
    }

    /// Closes the current step: clients that did not answer are dropped,
    /// the round fails if fewer than t remain, and the messages of the next
    /// step are returned (client, message). A send that fails must be
    /// reported with [`Self::drop_client`].
    pub fn advance(&mut self) -> Result<Vec<(usize, Outgoing)>, AggregateError> {
        for u in self.pending() {
            self.drop_client(u);
        }
        let phase = self.step.name();
        self.require(phase)?;
        self.answered.iter_mut().for_each(|a| *a = false);
        let n = self.params.clients;
        let live: Vec<usize> = (0..n).filter(|&u| self.alive[u]).collect();
        let out = match self.step {
            Step::Keys => {
                self.listed = (0..n)
                    .map(|u| {
                        let mut nb = self.graph.neighbours(u);
                        nb.retain(|&v| self.alive[v]);
                        nb
                    })
                    .collect();
                self.step = Step::Shares;
                live.iter()
                    .map(|&u| {
                        let peers = self.listed[u]
                            .iter()
                            .filter_map(|&v| {
                                self.adverts[v].as_ref().map(|keys| PeerKeys {
                                    client: v as u32,
                                    keys: keys.clone(),
                                })
                            })
                            .collect();
                        let list = KeyList {
                            graph_seed: self.graph_seed.0,
                            peers,
                        };
                        (u, Outgoing::Keys(list))
                    })
                    .collect()
            }
            Step::Shares => {
                self.in_sharing = self.alive.clone();
                let mut inbox: Vec<Vec<Sealed>> = vec![Vec::new(); n];
                for (u, bundle) in self.bundles.iter_mut().enumerate() {
                    let bundle = bundle.take().filter(|_| self.in_sharing[u]);
                    for sealed in bundle.into_iter().flatten() {
                        let v = sealed.peer as usize;
                        if self.in_sharing[v] {
                            inbox[v].push(Sealed {
                                peer: u as u32,
                                ciphertext: sealed.ciphertext,
                            });
                        }
                    }
                }
                self.sum = vec![0u64; self.params.len];
                self.step = Step::MaskedInputs;
                live.iter()
                    .map(|&v| (v, Outgoing::Shares(std::mem::take(&mut inbox[v]))))
                    .collect()
            }
            Step::MaskedInputs => {
                // Every client whose masked input was added to the running
                // sum, including one that dropped after sending it (every
                // live client is one of them: the others were dropped above).
                let list = Survivors {
                    clients: (0..n)
                        .filter(|&u| self.in_sum[u])
                        .map(|u| u as u32)
                        .collect(),
                };
                self.step = if self.pki.is_some() {
                    self.survivors_message =
                        signing::survivors_message(self.params.round_id(), &list.clients);
                    Step::ConsistencyCheck
                } else {
                    Step::Unmasking
                };
                live.iter()
                    .map(|&u| (u, Outgoing::Survivors(list.clone())))
                    .collect()
            }
            Step::ConsistencyCheck => {
                self.step = Step::Unmasking;
                live.iter()
                    .map(|&u| (u, Outgoing::Endorsements(self.endorsements_for(u))))
                    .collect()
            }
            Step::Unmasking => {
                self.output = Some(self.unmask()?);
                self.step = Step::Done;
                Vec::new()
            }
            Step::Done => Vec::new(),
        };
        Ok(out)
    }

    /// The result, once the round is [`Step::Done`].
    pub fn finish(self) -> Result<RoundOutput, AggregateError> {
        self.output.ok_or_else(|| {
            AggregateError::BadParameters(format!(
                "the round is still {}, not done",
                self.step.name()
            ))
        })
    }

    /// Bytes of round state this server holds now (vectors, relayed shares,
    /// keys and revealed shares; not the frames in flight), for reports.
    pub fn state_bytes(&self) -> usize {
        let n = self.params.clients;
        let sealed: usize = self
            .bundles
            .iter()
            .flatten()
            .flatten()
            .map(|s| s.ciphertext.len() + std::mem::size_of::<Sealed>())
            .sum();
        let listed: usize = self.listed.iter().map(Vec::len).sum();
        let shares: usize = self
            .seed_shares
            .values()
            .chain(self.key_shares.values())
            .map(Vec::len)
            .sum();
        let endorsements = self
            .endorsements
            .iter()
            .flatten()
            .map(Vec::len)
            .sum::<usize>();
        self.sum.len() * 8
            + endorsements
            + sealed
            + listed * std::mem::size_of::<usize>()
            + shares * std::mem::size_of::<Share>()
            + n * (std::mem::size_of::<Option<Advertise>>() + 5)
    }

    /// The survivors' signatures a client checks: those of the live
    /// clients within two hops of it.
    fn endorsements_for(&self, u: usize) -> Endorsements {
        let signatures = self
            .graph
            .two_hop(u)
            .into_iter()
            .filter(|&v| self.alive[v])
            .filter_map(|v| {
                self.endorsements[v].as_ref().map(|signature| Endorsement {
                    client: v as u32,
                    signature: signature.clone(),
                })
            })
            .collect();
        Endorsements { signatures }
    }

    /// Fails the round if fewer than t clients remain.
    fn require(&self, phase: &'static str) -> Result<(), AggregateError> {
        let survivors = self.alive.iter().filter(|&&a| a).count();
        if survivors < self.params.threshold {
            return Err(AggregateError::TooFewSurvivors {
                phase,
                survivors,
                threshold: self.params.threshold,
            });
        }
        Ok(())
    }

    /// Keeps the shares of `reveal` if they are exactly ones the round may
    /// need: of b_u for surviving neighbours, of the mask key for dropped
    /// ones.
    fn take_reveal(&mut self, v: usize, reveal: &Reveal) {
        let n = self.params.clients;
        let x = v as u32 + 1;
        let (graph, in_sharing, in_sum) = (&self.graph, &self.in_sharing, &self.in_sum);
        let wanted = |list: &[RevealedShare], survivor: bool| {
            list.iter()
                .map(|r| {
                    let owner = r.owner as usize;
                    let valid = owner < n
                        && graph.adjacent(v, owner)
                        && in_sharing[owner]
                        && in_sum[owner] == survivor;
                    let y = crypto::scalar_from_bytes(&r.value).filter(|_| valid)?;
                    Some((owner, Share { x, y }))
                })
                .collect::<Option<Vec<_>>>()
        };
        if let (Some(seeds), Some(keys)) = (
            wanted(&reveal.self_masks, true),
            wanted(&reveal.mask_keys, false),
        ) {
            for (owner, share) in seeds {
                self.seed_shares.entry(owner).or_default().push(share);
            }
            for (owner, share) in keys {
                self.key_shares.entry(owner).or_default().push(share);
            }
        }
    }

    /// Removes every mask from the sum and decodes it.
    fn unmask(&mut self) -> Result<RoundOutput, AggregateError> {
        let params = &self.params;
        let t = params.threshold;
        let n = params.clients;
        let survivors: Vec<usize> = (0..n).filter(|&u| self.in_sum[u]).collect();
        let mut sum = std::mem::take(&mut self.sum);
        for &u in &survivors {
            let secret = rebuild(self.seed_shares.get(&u), t, u, "self-mask seed")?;
            let seed =
                crypto::scalar_to_seed(&secret).ok_or_else(|| inconsistent(u, "self-mask seed"))?;
            prg::sub_expansion(&mut sum, &seed);
        }
        let mask_key = |u: usize| self.adverts[u].as_ref().map(|a| a.mask_key);
        for u in (0..n).filter(|&u| self.in_sharing[u] && !self.in_sum[u]) {
            let keys = KeyPair::from_secret(rebuild(self.key_shares.get(&u), t, u, "mask key")?);
            if mask_key(u) != Some(keys.public()) {
                return Err(inconsistent(u, "mask key"));
            }
            for &v in survivors.iter().filter(|&&v| self.graph.adjacent(u, v)) {
                let shared = mask_key(v)
                    .and_then(|theirs| keys.agree(&theirs))
                    .ok_or_else(|| inconsistent(v, "mask key"))?;
                let seed = crypto::mask_seed(params.round_id(), u, v, &shared);
                // v added +PRG(s_uv) if v < u and −PRG(s_uv) if v > u: undo it.
                if v < u {
                    prg::sub_expansion(&mut sum, &seed);
                } else {
                    prg::add_expansion(&mut sum, &seed);
                }
            }
        }
        let sum = decode_sum(params, &sum, survivors.len())?;
        let dropped = |in_sum: bool| -> Vec<Dropped> {
            (0..n)
                .filter(|&u| self.in_sum[u] == in_sum)
                .filter_map(|u| {
                    let (step, cause) = self.dropped[u]?;
                    Some(Dropped {
                        client: u,
                        step,
                        cause,
                    })
                })
                .collect()
        };
        Ok(RoundOutput {
            sum,
            survivors,
            left_out: dropped(false),
            dropped_after_input: dropped(true),
        })
    }
}

fn rebuild(
    shares: Option<&Vec<Share>>,
    t: usize,
    client: usize,
    secret: &'static str,
) -> Result<curve25519_dalek::Scalar, AggregateError> {
    let shares = shares.map_or(&[][..], Vec::as_slice);
    shamir::combine(shares, t).map_err(|_| AggregateError::Unrecoverable {
        client,
        secret,
        got: shares.len(),
        threshold: t,
    })
}

fn inconsistent(client: usize, secret: &str) -> AggregateError {
    AggregateError::Protocol {
        peer: format!("client {client}"),
        phase: "unmasking",
        reason: format!(
            "'s {secret} rebuilt from its neighbours' shares is inconsistent with its public key or range"
        ),
    }
}

/// Decodes the unmasked sum, refusing elements that in-range inputs of the
/// survivors cannot produce.
fn decode_sum(params: &Params, sum: &[u64], survivors: usize) -> Result<Vec<f64>, AggregateError> {
    let scale = params.scale();
    let bound = survivors as f64 * (params.max_abs * scale + 0.5);
    if let Some(index) = sum.iter().position(|&v| ((v as i64) as f64).abs() > bound) {
        return Err(AggregateError::SumOutOfRange {
            index,
            bound: survivors as f64 * params.max_abs,
            survivors,
        });
    }
    Ok(sum.iter().map(|&v| (v as i64) as f64 / scale).collect())
}
