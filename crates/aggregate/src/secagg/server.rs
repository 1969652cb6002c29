//! The server (aggregator) of a secure-aggregation round.
//!
//! A client that fails — closes its link, times out, or sends anything
//! malformed — is treated as dropped from that step on. The round goes on
//! while at least t clients remain and every needed secret has t shares.

use super::Params;
use super::crypto::{self, KeyPair, SEALED_LEN};
use super::graph::Graph;
use super::messages::{Advertise, KeyList, PeerKeys, Reveal, RevealedShare, Sealed, Survivors};
use crate::AggregateError;
use crate::shamir::{self, Share};
use indomain_core::prg::{self, Seed};
use indomain_net::wire::{recv_msg, recv_u64s, send_msg};
use indomain_net::{Channel, NetError};
use rand::CryptoRng;
use rayon::prelude::*;
use std::collections::BTreeMap;

/// What the server gets from a round.
#[derive(Debug, Clone, PartialEq)]
pub struct RoundOutput {
    /// The sum of the surviving clients' inputs.
    pub sum: Vec<f64>,
    /// The clients whose input is in the sum, increasing.
    pub survivors: Vec<usize>,
    /// The clients that dropped (at any step), increasing.
    pub dropped: Vec<usize>,
}

/// Runs the server of a round; `clients[i]` is the link to client i.
pub fn run_server<C: Channel, R: CryptoRng + ?Sized>(
    clients: &mut [C],
    params: &Params,
    rng: &mut R,
) -> Result<RoundOutput, AggregateError> {
    params.validate()?;
    if clients.len() != params.clients {
        return Err(AggregateError::BadParameters(format!(
            "{} client links for a round of {} clients",
            clients.len(),
            params.clients
        )));
    }
    let mut round = Round {
        clients,
        params,
        alive: vec![true; params.clients],
    };
    let Keys {
        adverts,
        graph,
        listed,
    } = round.exchange_keys(rng)?;
    let in_sharing = round.relay_shares(&listed)?;
    let masked = round.collect_masked_inputs()?;
    let in_sum = round.alive.clone();
    let survivors: Vec<usize> = (0..params.clients).filter(|&u| in_sum[u]).collect();
    let (seed_shares, key_shares) =
        round.collect_reveals(&graph, &survivors, &in_sharing, &in_sum)?;

    let mut sum = vec![0u64; params.len];
    for y in survivors.iter().filter_map(|&v| masked[v].as_ref()) {
        sum.par_iter_mut()
            .with_min_len(1 << 14)
            .zip(y.par_iter())
            .for_each(|(a, b)| *a = a.wrapping_add(*b));
    }
    let t = params.threshold;
    for &u in &survivors {
        let secret = rebuild(seed_shares.get(&u), t, u, "self-mask seed")?;
        let seed =
            crypto::scalar_to_seed(&secret).ok_or_else(|| inconsistent(u, "self-mask seed"))?;
        prg::sub_expansion(&mut sum, &seed);
    }
    let mask_key = |u: usize| adverts[u].as_ref().map(|a| a.mask_key);
    for u in (0..params.clients).filter(|&u| in_sharing[u] && !in_sum[u]) {
        let keys = KeyPair::from_secret(rebuild(key_shares.get(&u), t, u, "mask key")?);
        if mask_key(u) != Some(keys.public()) {
            return Err(inconsistent(u, "mask key"));
        }
        for &v in survivors.iter().filter(|&&v| graph.adjacent(u, v)) {
            let shared = mask_key(v)
                .and_then(|theirs| keys.agree(&theirs))
                .ok_or_else(|| inconsistent(v, "mask key"))?;
            let seed = crypto::mask_seed(params.round, u, v, &shared);
            // v added +PRG(s_uv) if v < u and −PRG(s_uv) if v > u: undo it.
            if v < u {
                prg::sub_expansion(&mut sum, &seed);
            } else {
                prg::add_expansion(&mut sum, &seed);
            }
        }
    }
    let sum = decode_sum(params, &sum, survivors.len())?;
    let dropped = (0..params.clients).filter(|&u| !in_sum[u]).collect();
    Ok(RoundOutput {
        sum,
        survivors,
        dropped,
    })
}

/// The server's view of a round in progress: the links and which clients
/// are still taking part.
struct Round<'a, C> {
    clients: &'a mut [C],
    params: &'a Params,
    alive: Vec<bool>,
}

/// What the key step fixes for the rest of the round.
struct Keys {
    /// Each client's public keys (`None` if it never sent them).
    adverts: Vec<Option<Advertise>>,
    /// The neighbourhood graph.
    graph: Graph,
    /// Each client's neighbours that were live when keys were sent out.
    listed: Vec<Vec<usize>>,
}

/// Shares of the secrets the server must rebuild, by owner.
type SharesByOwner = BTreeMap<usize, Vec<Share>>;

impl<C: Channel> Round<'_, C> {
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

    /// Sends `msg(v)` to every live client v, dropping those whose link fails.
    fn send_each<T: serde::Serialize>(&mut self, msg: impl Fn(usize) -> T) {
        for (v, ch) in self.clients.iter_mut().enumerate() {
            if self.alive[v] && send_msg(ch, &msg(v)).is_err() {
                self.alive[v] = false;
            }
        }
    }

    /// Step 1: collects the public keys, fixes the graph and sends each
    /// client its live neighbours' keys.
    fn exchange_keys<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
    ) -> Result<Keys, AggregateError> {
        let mut adverts: Vec<Option<Advertise>> =
            gather(self.clients, &mut self.alive, |ch| recv_msg(ch));
        // A client whose keys are not prime-order points is dropped: its
        // neighbours would refuse them anyway.
        for (advert, alive) in adverts.iter_mut().zip(self.alive.iter_mut()) {
            if advert.as_ref().is_some_and(|a| {
                !(crypto::valid_public_key(&a.cipher_key) && crypto::valid_public_key(&a.mask_key))
            }) {
                *advert = None;
                *alive = false;
            }
        }
        self.require("collecting keys")?;
        let graph_seed = Seed::random(rng);
        let graph = Graph::new(self.params.clients, self.params.neighbours, &graph_seed);
        let listed: Vec<Vec<usize>> = (0..self.params.clients)
            .map(|u| {
                graph
                    .neighbours(u)
                    .into_iter()
                    .filter(|&v| self.alive[v])
                    .collect()
            })
            .collect();
        self.send_each(|u| KeyList {
            graph_seed: graph_seed.0,
            peers: listed[u]
                .iter()
                .filter_map(|&v| {
                    adverts[v].as_ref().map(|keys| PeerKeys {
                        client: v as u32,
                        keys: keys.clone(),
                    })
                })
                .collect(),
        });
        Ok(Keys {
            adverts,
            graph,
            listed,
        })
    }

    /// Step 2: collects each client's sealed shares and forwards them to
    /// their recipients. Returns which clients completed this step.
    fn relay_shares(&mut self, listed: &[Vec<usize>]) -> Result<Vec<bool>, AggregateError> {
        let bundles: Vec<Option<Vec<Sealed>>> = gather(self.clients, &mut self.alive, |ch| {
            recv_msg::<Vec<Sealed>>(ch)
        });
        for (u, bundle) in bundles.iter().enumerate() {
            // Exactly one well-formed share per listed neighbour.
            if let Some(b) = bundle {
                let recipients: Vec<usize> = b.iter().map(|s| s.peer as usize).collect();
                if recipients != listed[u] || b.iter().any(|s| s.ciphertext.len() != SEALED_LEN) {
                    self.alive[u] = false;
                }
            }
        }
        let in_sharing = self.alive.clone();
        self.require("relaying shares")?;
        let mut inbox: Vec<Vec<Sealed>> = vec![Vec::new(); self.params.clients];
        for (u, bundle) in bundles.into_iter().enumerate() {
            for sealed in bundle.filter(|_| in_sharing[u]).into_iter().flatten() {
                let v = sealed.peer as usize;
                if in_sharing[v] {
                    inbox[v].push(Sealed {
                        peer: u as u32,
                        ciphertext: sealed.ciphertext,
                    });
                }
            }
        }
        self.send_each(|v| &inbox[v]);
        Ok(in_sharing)
    }

    /// Step 3: collects the masked inputs.
    fn collect_masked_inputs(&mut self) -> Result<Vec<Option<Vec<u64>>>, AggregateError> {
        let len = self.params.len;
        let masked = gather(self.clients, &mut self.alive, |ch| recv_u64s(ch, len));
        self.require("collecting masked inputs")?;
        Ok(masked)
    }

    /// Step 4: names the survivors and collects, from each, the shares the
    /// round needs: of b_u for surviving neighbours, of the mask key for
    /// dropped ones. A reveal with any other share is ignored whole.
    fn collect_reveals(
        &mut self,
        graph: &Graph,
        survivors: &[usize],
        in_sharing: &[bool],
        in_sum: &[bool],
    ) -> Result<(SharesByOwner, SharesByOwner), AggregateError> {
        let list = Survivors {
            clients: survivors.iter().map(|&u| u as u32).collect(),
        };
        self.send_each(|_| &list);
        let reveals: Vec<Option<Reveal>> = gather(self.clients, &mut self.alive, |ch| recv_msg(ch));
        self.require("unmasking")?;
        let n = self.params.clients;
        let mut seed_shares = SharesByOwner::new();
        let mut key_shares = SharesByOwner::new();
        for (v, reveal) in reveals.into_iter().enumerate() {
            let Some(reveal) = reveal else { continue };
            let x = v as u32 + 1;
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
                    seed_shares.entry(owner).or_default().push(share);
                }
                for (owner, share) in keys {
                    key_shares.entry(owner).or_default().push(share);
                }
            }
        }
        Ok((seed_shares, key_shares))
    }
}

/// At most this many threads wait on clients at once.
const MAX_WAITERS: usize = 1024;

/// Receives one message from every live client and marks the clients whose
/// link failed or whose message was malformed as dropped. Clients are read
/// on parallel threads, so silent clients time out together rather than one
/// after another.
fn gather<C: Channel, T: Send>(
    clients: &mut [C],
    alive: &mut [bool],
    recv: impl Fn(&mut C) -> Result<T, NetError> + Sync,
) -> Vec<Option<T>> {
    let recv = &recv;
    let per_thread = clients.len().div_ceil(MAX_WAITERS).max(1);
    let got: Vec<Option<T>> = std::thread::scope(|s| {
        let handles: Vec<_> = clients
            .chunks_mut(per_thread)
            .zip(alive.chunks(per_thread))
            .map(|(chs, live)| {
                s.spawn(move || {
                    chs.iter_mut()
                        .zip(live)
                        .map(|(ch, &live)| if live { recv(ch).ok() } else { None })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    for (live, got) in alive.iter_mut().zip(&got) {
        *live = got.is_some();
    }
    got
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
