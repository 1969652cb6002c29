//! The server (aggregator) of a secure-aggregation round.
//!
//! A client that fails — closes its link, times out, or sends anything
//! malformed — is treated as dropped from that step on. The round goes on
//! while at least t clients remain and every needed secret has t shares.

use super::Params;
use super::crypto::{self, KeyPair, SEALED_LEN};
use super::graph::Graph;
use super::messages::{Advertise, KeyList, PeerKeys, Reveal, Sealed, Survivors};
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
    let n = params.clients;
    let t = params.threshold;
    let mut alive = vec![true; n];
    let require = |alive: &[bool], phase: &'static str| {
        let survivors = alive.iter().filter(|&&a| a).count();
        if survivors < t {
            Err(AggregateError::TooFewSurvivors {
                phase,
                survivors,
                threshold: t,
            })
        } else {
            Ok(())
        }
    };

    // 1. keys
    let phase = "collecting keys";
    let adverts: Vec<Option<Advertise>> = gather(clients, &mut alive, |ch| recv_msg(ch));
    require(&alive, phase)?;
    let graph_seed = Seed::random(rng);
    let graph = Graph::new(n, params.neighbours, &graph_seed);
    let listed: Vec<Vec<usize>> = (0..n)
        .map(|u| {
            graph
                .neighbours(u)
                .into_iter()
                .filter(|&v| alive[v])
                .collect()
        })
        .collect();
    for (u, ch) in clients.iter_mut().enumerate() {
        if !alive[u] {
            continue;
        }
        let peers = listed[u]
            .iter()
            .filter_map(|&v| {
                adverts[v].as_ref().map(|keys| PeerKeys {
                    client: v as u32,
                    keys: keys.clone(),
                })
            })
            .collect();
        let msg = KeyList {
            graph_seed: graph_seed.0,
            peers,
        };
        if send_msg(ch, &msg).is_err() {
            alive[u] = false;
        }
    }

    // 2. shares, relayed
    let phase = "relaying shares";
    let bundles: Vec<Option<Vec<Sealed>>> =
        gather(clients, &mut alive, |ch| recv_msg::<Vec<Sealed>>(ch));
    for u in 0..n {
        // A bundle must hold exactly one well-formed share per listed neighbour.
        if let Some(b) = &bundles[u] {
            let recipients: Vec<usize> = b.iter().map(|s| s.peer as usize).collect();
            if recipients != listed[u] || b.iter().any(|s| s.ciphertext.len() != SEALED_LEN) {
                alive[u] = false;
            }
        }
    }
    let in_sharing: Vec<bool> = alive.clone();
    require(&alive, phase)?;
    let mut inbox: Vec<Vec<Sealed>> = vec![Vec::new(); n];
    for (u, bundle) in bundles.into_iter().enumerate() {
        if let (true, Some(bundle)) = (in_sharing[u], bundle) {
            for s in bundle {
                let v = s.peer as usize;
                if in_sharing[v] {
                    inbox[v].push(Sealed {
                        peer: u as u32,
                        ciphertext: s.ciphertext,
                    });
                }
            }
        }
    }
    for (v, ch) in clients.iter_mut().enumerate() {
        if alive[v] && send_msg(ch, &inbox[v]).is_err() {
            alive[v] = false;
        }
    }

    // 3. masked inputs
    let phase = "collecting masked inputs";
    let masked: Vec<Option<Vec<u64>>> = gather(clients, &mut alive, |ch| recv_u64s(ch, params.len));
    require(&alive, phase)?;
    let survivors: Vec<usize> = (0..n).filter(|&u| alive[u]).collect();
    let in_sum = alive.clone();

    // 4. unmasking
    let phase = "unmasking";
    let msg = Survivors {
        clients: survivors.iter().map(|&u| u as u32).collect(),
    };
    for (v, ch) in clients.iter_mut().enumerate() {
        if alive[v] && send_msg(ch, &msg).is_err() {
            alive[v] = false;
        }
    }
    let reveals: Vec<Option<Reveal>> = gather(clients, &mut alive, |ch| recv_msg(ch));
    require(&alive, phase)?;
    let mut seed_shares: BTreeMap<usize, Vec<Share>> = BTreeMap::new();
    let mut key_shares: BTreeMap<usize, Vec<Share>> = BTreeMap::new();
    for (v, reveal) in reveals.into_iter().enumerate() {
        let Some(reveal) = reveal else { continue };
        let x = v as u32 + 1;
        // Only shares v could hold, each of the secret the round needs.
        let valid = |owner: usize, want_survivor: bool| {
            owner < n
                && graph.adjacent(v, owner)
                && in_sharing[owner]
                && in_sum[owner] == want_survivor
        };
        let wanted = |list: &[super::messages::RevealedShare], survivor: bool| {
            list.iter()
                .map(|r| {
                    let owner = r.owner as usize;
                    let y =
                        crypto::scalar_from_bytes(&r.value).filter(|_| valid(owner, survivor))?;
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

    let mut sum = vec![0u64; params.len];
    for v in &survivors {
        if let Some(y) = &masked[*v] {
            sum.par_iter_mut()
                .with_min_len(1 << 14)
                .zip(y.par_iter())
                .for_each(|(a, b)| *a = a.wrapping_add(*b));
        }
    }
    for &u in &survivors {
        let shares = seed_shares.remove(&u).unwrap_or_default();
        let secret = rebuild(&shares, t, u, "self-mask seed")?;
        let seed =
            crypto::scalar_to_seed(&secret).ok_or_else(|| inconsistent(u, "self-mask seed"))?;
        prg::sub_expansion(&mut sum, &seed);
    }
    let dropped_in_sharing: Vec<usize> = (0..n).filter(|&u| in_sharing[u] && !in_sum[u]).collect();
    for &u in &dropped_in_sharing {
        let shares = key_shares.remove(&u).unwrap_or_default();
        let secret = rebuild(&shares, t, u, "mask key")?;
        let keys = KeyPair::from_secret(secret);
        let advertised = adverts[u].as_ref().map(|a| a.mask_key);
        if advertised != Some(keys.public()) {
            return Err(inconsistent(u, "mask key"));
        }
        for &v in survivors.iter().filter(|&&v| graph.adjacent(u, v)) {
            let their = adverts[v].as_ref().map(|a| a.mask_key).unwrap_or_default();
            let shared = keys
                .agree(&their)
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
    let dropped = (0..n).filter(|&u| !in_sum[u]).collect();
    Ok(RoundOutput {
        sum,
        survivors,
        dropped,
    })
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
    shares: &[Share],
    t: usize,
    client: usize,
    secret: &'static str,
) -> Result<curve25519_dalek::Scalar, AggregateError> {
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
