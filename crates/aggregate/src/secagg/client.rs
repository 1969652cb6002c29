//! One client of a secure-aggregation round, unsigned ([`run_client`]) or
//! signed ([`run_client_signed`]: it signs its keys and the survivor list,
//! and verifies its neighbours' signatures before it uses their keys or
//! reveals a share; see [`super::signing`]).

use super::Params;
use super::crypto::{self, KeyPair, SEALED_LEN, SHARE_PLAINTEXT};
use super::graph::Graph;
use super::messages::{
    Advertise, Endorse, Endorsements, KeyList, Reveal, RevealedShare, Sealed, Survivors,
};
use super::signing::{self, Pki};
use crate::AggregateError;
use crate::shamir::{self, Share};
use ed25519_dalek::SigningKey;
use indomain_core::FixedPoint;
use indomain_core::prg::{self, Seed};
use indomain_net::Channel;
use indomain_net::wire::{recv_msg, send_msg, send_u64s};
use rand::CryptoRng;
use std::collections::BTreeMap;

/// Runs client `id` of an unsigned (semi-honest) round with `input`
/// (length `params.len`, every value within ±`params.max_abs`), talking to
/// the server over `server`.
///
/// Returns once the client has sent its shares for unmasking; the client
/// learns nothing of the result.
pub fn run_client<C: Channel + ?Sized, R: CryptoRng + ?Sized>(
    server: &mut C,
    id: usize,
    params: &Params,
    input: &[f64],
    rng: &mut R,
) -> Result<(), AggregateError> {
    run(server, id, params, None, (input, None), rng)
}

/// [`run_client`] with `noise` (one integer per input value, in the units
/// of the fixed-point encoding, 2^−frac_bits) added to the encoded input
/// before it is masked: a share of distributed DP noise
/// ([`crate::dp`]), so that the sum the server learns carries the noise
/// of every surviving client and no client's input is seen without it.
pub fn run_client_noised<C: Channel + ?Sized, R: CryptoRng + ?Sized>(
    server: &mut C,
    id: usize,
    params: &Params,
    input: &[f64],
    noise: &[i64],
    rng: &mut R,
) -> Result<(), AggregateError> {
    run(server, id, params, None, (input, Some(noise)), rng)
}

/// Runs client `id` of a signed round: `identity` is its long-term ed25519
/// key and `pki` every client's public key. The client refuses the round
/// ([`AggregateError::BadSignature`], [`AggregateError::TooFewEndorsements`])
/// if a relayed key or survivor-list signature does not verify, before it
/// sends anything that depends on it.
pub fn run_client_signed<C: Channel + ?Sized, R: CryptoRng + ?Sized>(
    server: &mut C,
    id: usize,
    params: &Params,
    (identity, pki): (&SigningKey, &Pki),
    input: &[f64],
    rng: &mut R,
) -> Result<(), AggregateError> {
    run_client_signed_noised(server, id, params, (identity, pki), (input, None), rng)
}

/// [`run_client_signed`] with an optional noise share added to the
/// encoded input, as [`run_client_noised`] does.
pub fn run_client_signed_noised<C: Channel + ?Sized, R: CryptoRng + ?Sized>(
    server: &mut C,
    id: usize,
    params: &Params,
    (identity, pki): (&SigningKey, &Pki),
    input: (&[f64], Option<&[i64]>),
    rng: &mut R,
) -> Result<(), AggregateError> {
    pki.check(params)?;
    if pki.key(id) != Some(&identity.verifying_key()) {
        return Err(AggregateError::BadParameters(format!(
            "client {id}'s identity key is not the one the key table lists for it"
        )));
    }
    run(server, id, params, Some((identity, pki)), input, rng)
}

fn run<C: Channel + ?Sized, R: CryptoRng + ?Sized>(
    server: &mut C,
    id: usize,
    params: &Params,
    signer: Option<(&SigningKey, &Pki)>,
    (input, noise): (&[f64], Option<&[i64]>),
    rng: &mut R,
) -> Result<(), AggregateError> {
    params.validate()?;
    if id >= params.clients {
        return Err(AggregateError::BadParameters(format!(
            "client id {id} is not below {}",
            params.clients
        )));
    }
    let mut encoded = encode_input(params, input)?;
    if let Some(noise) = noise {
        if noise.len() != encoded.len() {
            return Err(AggregateError::BadInput(format!(
                "{} noise values for an input of {}",
                noise.len(),
                encoded.len()
            )));
        }
        for (e, &n) in encoded.iter_mut().zip(noise) {
            *e = e.wrapping_add(n as u64);
        }
    }
    let round = params.round_id();
    let peer = server.peer().to_string();
    let protocol = |phase: &'static str, reason: String| AggregateError::Protocol {
        peer: peer.clone(),
        phase,
        reason,
    };

    // 1. keys
    let phase = "advertising keys";
    let cipher_keys = KeyPair::generate(rng);
    let mask_keys = KeyPair::generate(rng);
    let mut advert = Advertise {
        cipher_key: cipher_keys.public(),
        mask_key: mask_keys.public(),
        signature: Vec::new(),
    };
    if let Some((key, _)) = signer {
        advert.signature = signing::sign_keys(key, round, id, &advert);
    }
    send_msg(server, &advert).map_err(AggregateError::net(phase))?;
    let list: KeyList = recv_msg(server).map_err(AggregateError::net(phase))?;
    let graph = Graph::new(params.clients, params.neighbours, &Seed(list.graph_seed));
    let mut peers: BTreeMap<usize, Advertise> = BTreeMap::new();
    for p in list.peers {
        let v = p.client as usize;
        if !graph.adjacent(id, v) || peers.contains_key(&v) {
            return Err(protocol(
                phase,
                format!("listed client {v}, not a new neighbour of ours"),
            ));
        }
        if !(crypto::valid_public_key(&p.keys.cipher_key)
            && crypto::valid_public_key(&p.keys.mask_key))
        {
            return Err(protocol(
                phase,
                format!(
                    "relayed a key for client {v} that is not a canonical point of the prime-order subgroup"
                ),
            ));
        }
        if let Some((_, pki)) = signer
            && !signing::verify_keys(pki, round, v, &p.keys)
        {
            return Err(AggregateError::BadSignature {
                client: v,
                phase,
                what: "its public keys",
            });
        }
        peers.insert(v, p.keys);
    }
    if peers.len() < params.threshold {
        return Err(AggregateError::TooFewSurvivors {
            phase,
            survivors: peers.len(),
            threshold: params.threshold,
        });
    }

    // 2. shares
    let phase = "sharing secrets";
    let self_seed = Seed::random(rng);
    let xs: Vec<u32> = peers.keys().map(|&v| v as u32 + 1).collect();
    let seed_shares = shamir::split(
        &crypto::seed_to_scalar(&self_seed),
        params.threshold,
        &xs,
        rng,
    );
    let key_shares = shamir::split(mask_keys.secret(), params.threshold, &xs, rng);
    let mut share_keys = BTreeMap::new();
    let mut outgoing = Vec::with_capacity(peers.len());
    for ((&v, keys), (b, s)) in peers.iter().zip(seed_shares.iter().zip(&key_shares)) {
        let shared = cipher_keys
            .agree(&keys.cipher_key)
            .ok_or_else(|| protocol(phase, format!("relayed a degenerate key for client {v}")))?;
        let key = crypto::share_key(round, id, v, &shared);
        let mut plain = [0u8; SHARE_PLAINTEXT];
        plain[..32].copy_from_slice(&b.y.to_bytes());
        plain[32..].copy_from_slice(&s.y.to_bytes());
        outgoing.push(Sealed {
            peer: v as u32,
            ciphertext: crypto::seal(&key, round, id, v, &plain),
        });
        share_keys.insert(v, key);
    }
    send_msg(server, &outgoing).map_err(AggregateError::net(phase))?;
    let incoming: Vec<Sealed> = recv_msg(server).map_err(AggregateError::net(phase))?;
    // Shares we hold of each neighbour u that completed the sharing step.
    let mut held: BTreeMap<usize, (Share, Share)> = BTreeMap::new();
    let me_x = id as u32 + 1;
    for sealed in incoming {
        let u = sealed.peer as usize;
        let key = share_keys.get(&u).ok_or_else(|| {
            protocol(
                phase,
                format!("relayed shares from client {u}, not a neighbour"),
            )
        })?;
        if held.contains_key(&u) || sealed.ciphertext.len() != SEALED_LEN {
            return Err(protocol(
                phase,
                format!("relayed a duplicate or malformed share from client {u}"),
            ));
        }
        let plain = crypto::open(key, round, u, id, &sealed.ciphertext).ok_or_else(|| {
            protocol(
                phase,
                format!("relayed shares from client {u} that do not authenticate"),
            )
        })?;
        let field = |bytes: &[u8]| {
            bytes
                .try_into()
                .ok()
                .and_then(crypto::scalar_from_bytes)
                .ok_or_else(|| {
                    protocol(phase, format!("client {u} sent a share outside the field"))
                })
        };
        let b = field(&plain[..32])?;
        let s = field(&plain[32..])?;
        held.insert(u, (Share { x: me_x, y: b }, Share { x: me_x, y: s }));
    }

    // 3. masked input
    let phase = "sending the masked input";
    let mut masked = encoded;
    prg::add_expansion(&mut masked, &self_seed);
    for &v in held.keys() {
        let keys = &peers[&v];
        let shared = mask_keys.agree(&keys.mask_key).ok_or_else(|| {
            protocol(
                phase,
                format!("relayed a degenerate mask key for client {v}"),
            )
        })?;
        let seed = crypto::mask_seed(round, id, v, &shared);
        if id < v {
            prg::add_expansion(&mut masked, &seed);
        } else {
            prg::sub_expansion(&mut masked, &seed);
        }
    }
    send_u64s(server, &masked).map_err(AggregateError::net(phase))?;

    // 4. unmasking
    let phase = "unmasking";
    let survivors: Survivors = recv_msg(server).map_err(AggregateError::net(phase))?;
    let alive = &survivors.clients;
    if alive.windows(2).any(|w| w[0] >= w[1])
        || alive.last().is_some_and(|&c| c as usize >= params.clients)
    {
        return Err(protocol(
            phase,
            "sent a survivor list that is not increasing client ids".into(),
        ));
    }
    if alive.len() < params.threshold {
        return Err(AggregateError::TooFewSurvivors {
            phase,
            survivors: alive.len(),
            threshold: params.threshold,
        });
    }
    if let Some((key, pki)) = signer {
        let phase = "consistency check";
        let signature = signing::sign_survivors(key, round, alive);
        send_msg(server, &Endorse { signature }).map_err(AggregateError::net(phase))?;
        let relayed: Endorsements = recv_msg(server).map_err(AggregateError::net(phase))?;
        signing::check_endorsements(
            params,
            pki,
            &graph,
            id,
            alive,
            &relayed.signatures,
            held.keys().copied(),
        )?;
    }
    let mut reveal = Reveal {
        self_masks: Vec::new(),
        mask_keys: Vec::new(),
    };
    // For each neighbour exactly one of its two secrets: never both.
    for (&u, (b, s)) in &held {
        let (list, share) = if alive.binary_search(&(u as u32)).is_ok() {
            (&mut reveal.self_masks, b)
        } else {
            (&mut reveal.mask_keys, s)
        };
        list.push(RevealedShare {
            owner: u as u32,
            value: share.y.to_bytes(),
        });
    }
    send_msg(server, &reveal).map_err(AggregateError::net(phase))?;
    Ok(())
}

/// Encodes the input in fixed point, refusing values out of range.
fn encode_input(params: &Params, input: &[f64]) -> Result<Vec<u64>, AggregateError> {
    if input.len() != params.len {
        return Err(AggregateError::BadInput(format!(
            "the input has {} values, the round {}",
            input.len(),
            params.len
        )));
    }
    // Core's encoder (nearest, ties to even): one encoding everywhere.
    let codec = FixedPoint::new(params.frac_bits)
        .map_err(|e| AggregateError::BadParameters(e.to_string()))?;
    input
        .iter()
        .enumerate()
        .map(|(i, &x)| {
            let refused = || AggregateError::OutOfRange {
                row: i,
                column: 0,
                value: x,
                max_abs: params.max_abs,
            };
            if !(x.is_finite() && x.abs() <= params.max_abs) {
                return Err(refused());
            }
            codec.encode(x).map_err(|_| refused())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_round_ties_to_even_like_core() {
        let params = Params::new(3, 4, 0, 100.0).unwrap();
        let encoded = encode_input(&params, &[0.5, 1.5, 2.5, -2.5]).unwrap();
        let signed: Vec<i64> = encoded.iter().map(|&v| v as i64).collect();
        assert_eq!(signed, vec![0, 2, 2, -2]);
    }
}
