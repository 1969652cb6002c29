//! The control messages of a round (bincode, decoded with a size limit).
//! Masked inputs travel as raw little-endian ring vectors instead.

use serde::{Deserialize, Serialize};

/// Client → server: the client's two public keys and, in a signed round,
/// its ed25519 signature on (round, id, keys).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Advertise {
    /// Key for encrypting shares exchanged with neighbours.
    pub cipher_key: [u8; 32],
    /// Key for pairwise mask agreement.
    pub mask_key: [u8; 32],
    /// The signature (64 bytes; empty in an unsigned round).
    pub signature: Vec<u8>,
}

/// One client's public keys as the server forwards them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeerKeys {
    /// The client id.
    pub client: u32,
    /// Its keys.
    pub keys: Advertise,
}

/// Server → client: the graph seed and the keys of the client's
/// neighbours that are still in the round.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyList {
    /// The seed that fixes the neighbourhood graph.
    pub graph_seed: [u8; 16],
    /// Keys of the live neighbours.
    pub peers: Vec<PeerKeys>,
}

/// Encrypted shares for (client → server) or from (server → client) one
/// neighbour.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sealed {
    /// The recipient (from a client) or the sender (to a client).
    pub peer: u32,
    /// The AES-GCM ciphertext.
    pub ciphertext: Vec<u8>,
}

/// Server → survivors: the clients whose masked input arrived.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Survivors {
    /// Their ids, increasing.
    pub clients: Vec<u32>,
}

/// Survivor → server (signed rounds): its signature on (round, survivor
/// list).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Endorse {
    /// The ed25519 signature (64 bytes).
    pub signature: Vec<u8>,
}

/// One client's signature on the survivor list, as the server relays it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Endorsement {
    /// The signer.
    pub client: u32,
    /// Its signature (64 bytes).
    pub signature: Vec<u8>,
}

/// Server → survivors (signed rounds): the signatures on the survivor list
/// of the clients within two hops of the recipient.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Endorsements {
    /// The signatures, by increasing signer id.
    pub signatures: Vec<Endorsement>,
}

/// One revealed share of a neighbour's secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RevealedShare {
    /// Whose secret it is a share of.
    pub owner: u32,
    /// The share value (canonical field element).
    pub value: [u8; 32],
}

/// Survivor → server: shares of self-mask seeds of surviving neighbours and
/// of mask keys of dropped neighbours.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reveal {
    /// Shares of b_u for surviving neighbours u.
    pub self_masks: Vec<RevealedShare>,
    /// Shares of the mask key of dropped neighbours u.
    pub mask_keys: Vec<RevealedShare>,
}
