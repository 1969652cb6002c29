//! The defences of Bonawitz et al. (CCS 2017, §4, active security) against
//! a malicious server, as Bell et al. (CCS 2020) use them with sparse
//! neighbourhoods: signed keys and the consistency-check round.
//!
//! Every client holds a long-term ed25519 identity key, and every client
//! knows every other client's public key ([`Pki`], a table by client id
//! that the deployment provides; the server is not trusted to relay it).
//!
//! - **Signed keys**: a client signs (job nonce, round, its id, its two
//!   public keys);
//!   each client verifies the signature on every neighbour's keys the
//!   server relays and refuses the round, naming the client, on a missing
//!   or bad one. The server can no longer substitute its own keys.
//! - **Consistency check**: after the masked inputs, each survivor signs
//!   (job nonce, round, survivor list) and the server relays to each client the
//!   signatures of the clients within two hops of it. Before revealing any
//!   share, a client checks every relayed signature against the list it was
//!   sent and, for each neighbour w whose share it would reveal, that at
//!   least t of w's neighbours (itself included) signed that same list. Two
//!   honest clients that reveal shares of w under different lists would
//!   need t signers each among w's k neighbours, so at least 2t − k corrupt
//!   neighbours that signed both (an honest client signs one list a round).
//!
//! What each party learns beyond the unsigned round: the server and every
//! client see signatures on public values only.

use super::graph::Graph;
use super::messages::{Advertise, Endorsement};
use super::{Params, RoundId};
use crate::AggregateError;
use ed25519_dalek::{Signature, Signer};
/// The identity key types (ed25519-dalek), for callers without that crate.
pub use ed25519_dalek::{SigningKey, VerifyingKey};
use rand::{CryptoRng, Rng};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;

const KEYS_LABEL: &[u8] = b"indomain/secagg/v2/signed-keys";
const SURVIVORS_LABEL: &[u8] = b"indomain/secagg/v2/survivor-list";

/// Bytes of an ed25519 signature.
pub const SIGNATURE_LEN: usize = 64;

/// Whether a round runs the defences against a malicious server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Signed keys and the consistency-check round (needs a [`Pki`]).
    Signed,
    /// The semi-honest protocol: nothing signed, no consistency check.
    Unsigned,
}

/// Every client's long-term ed25519 public key, by client id: what each
/// client trusts, independently of the server.
#[derive(Debug, Clone, PartialEq)]
pub struct Pki {
    keys: Vec<VerifyingKey>,
}

impl Pki {
    /// The table of `keys[i]`, client i's key.
    pub fn new(keys: Vec<VerifyingKey>) -> Self {
        Self { keys }
    }

    /// A fresh identity key for each of `clients` clients and their table
    /// (for simulations and tests; a deployment distributes real ones).
    pub fn generate<R: Rng + CryptoRng + ?Sized>(
        clients: usize,
        rng: &mut R,
    ) -> (Self, Vec<SigningKey>) {
        let secrets: Vec<SigningKey> = (0..clients)
            .map(|_| {
                let mut seed = [0u8; 32];
                rng.fill_bytes(&mut seed);
                SigningKey::from_bytes(&seed)
            })
            .collect();
        let pki = Self::new(secrets.iter().map(SigningKey::verifying_key).collect());
        (pki, secrets)
    }

    /// Client `client`'s key.
    pub fn key(&self, client: usize) -> Option<&VerifyingKey> {
        self.keys.get(client)
    }

    /// The number of clients in the table.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Refuses a table that does not have one key per client of `params`.
    pub fn check(&self, params: &Params) -> Result<(), AggregateError> {
        if self.len() != params.clients {
            return Err(AggregateError::BadParameters(format!(
                "the key table has {} clients, the round {}",
                self.len(),
                params.clients
            )));
        }
        Ok(())
    }
}

/// What a client signs about its keys: label, job nonce, round, id and
/// both keys.
fn keys_message(round: RoundId, client: usize, keys: &Advertise) -> Vec<u8> {
    let mut m = Vec::with_capacity(KEYS_LABEL.len() + 8 + 32 + 16 + 64);
    m.extend((KEYS_LABEL.len() as u64).to_le_bytes());
    m.extend(KEYS_LABEL);
    m.extend(round.job);
    m.extend(round.round.to_le_bytes());
    m.extend((client as u64).to_le_bytes());
    m.extend(keys.cipher_key);
    m.extend(keys.mask_key);
    m
}

/// What a survivor signs: label, job nonce, round and the SHA-256 of the
/// list (ids as little-endian u32 after their count), so a signature is
/// over 32 bytes however long the list.
pub fn survivors_message(round: RoundId, survivors: &[u32]) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update((survivors.len() as u64).to_le_bytes());
    for &c in survivors {
        h.update(c.to_le_bytes());
    }
    let mut m = Vec::with_capacity(SURVIVORS_LABEL.len() + 8 + 32 + 8 + 32);
    m.extend((SURVIVORS_LABEL.len() as u64).to_le_bytes());
    m.extend(SURVIVORS_LABEL);
    m.extend(round.job);
    m.extend(round.round.to_le_bytes());
    m.extend(h.finalize());
    m
}

/// Client `client`'s signature on its keys.
pub fn sign_keys(key: &SigningKey, round: RoundId, client: usize, keys: &Advertise) -> Vec<u8> {
    key.sign(&keys_message(round, client, keys))
        .to_bytes()
        .to_vec()
}

/// A signature on the survivor list.
pub fn sign_survivors(key: &SigningKey, round: RoundId, survivors: &[u32]) -> Vec<u8> {
    key.sign(&survivors_message(round, survivors))
        .to_bytes()
        .to_vec()
}

/// Whether `signature` is `client`'s (strict ed25519: canonical, no weak
/// keys) on `message`. Bytes of the wrong length are not a signature.
pub fn verify(pki: &Pki, client: usize, message: &[u8], signature: &[u8]) -> bool {
    let Some(key) = pki.key(client) else {
        return false;
    };
    if signature.len() != SIGNATURE_LEN {
        return false;
    }
    Signature::from_slice(signature).is_ok_and(|s| key.verify_strict(message, &s).is_ok())
}

/// Whether `keys` carry `client`'s valid signature for `round` (of its job).
pub fn verify_keys(pki: &Pki, round: RoundId, client: usize, keys: &Advertise) -> bool {
    verify(
        pki,
        client,
        &keys_message(round, client, keys),
        &keys.signature,
    )
}

/// The client-side consistency check, before any share is revealed:
/// every relayed signature must be a survivor's (within two hops of `me`)
/// on `survivors`, and each neighbour in `held` must have at least t
/// neighbours that signed it (`me` among them).
pub fn check_endorsements(
    params: &Params,
    pki: &Pki,
    graph: &Graph,
    me: usize,
    survivors: &[u32],
    endorsements: &[Endorsement],
    held: impl Iterator<Item = usize>,
) -> Result<(), AggregateError> {
    let phase = "consistency check";
    let message = survivors_message(params.round_id(), survivors);
    let near: BTreeSet<usize> = graph.two_hop(me).into_iter().collect();
    let mut signers = BTreeSet::from([me]);
    for e in endorsements {
        let v = e.client as usize;
        let listed = survivors.binary_search(&e.client).is_ok();
        if v == me || !near.contains(&v) || !listed || !signers.insert(v) {
            return Err(AggregateError::Protocol {
                peer: "server".into(),
                phase,
                reason: format!(
                    "relayed a signature of client {v}, not a new survivor within two hops of ours"
                ),
            });
        }
        if !verify(pki, v, &message, &e.signature) {
            return Err(AggregateError::BadSignature {
                client: v,
                phase,
                what: "the survivor list we were sent (the server sent different lists, or altered the signature)",
            });
        }
    }
    for w in held {
        let got = graph
            .neighbours(w)
            .into_iter()
            .filter(|v| signers.contains(v))
            .count();
        if got < params.threshold {
            return Err(AggregateError::TooFewEndorsements {
                client: w,
                got,
                threshold: params.threshold,
            });
        }
    }
    Ok(())
}
