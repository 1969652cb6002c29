//! Secure sum to one receiver: each party's vector is hidden, only the sum
//! reaches the receiver.
//!
//! Every party of the group splits its vector v_k with seed compression:
//! it sends each other party a 16-byte seed s_kj and keeps
//! v_k − Σ_j PRG(s_kj). Each party then adds up the shares it holds (its
//! own and the expansions of the seeds it received) and sends that one
//! vector to the receiver, which adds them. The receiver learns Σ_k v_k and
//! nothing else: each vector it receives is a sum that includes PRG
//! expansions it has no seed for. The other parties learn nothing (seeds).
//! Cost: one seed per ordered pair, one vector per non-receiver.
//!
//! Needs no correlated randomness, hence no dealer.

use crate::MpcError;
use crate::open;
use indomain_core::Seed;
use indomain_core::prg;
use indomain_core::share::share_seeded_in_place;
use indomain_net::PartySet;
use rand::{CryptoRng, Rng};

/// Sums `values` over the parties of `group` (set indices); party
/// `receiver` (a set index in `group`) gets `Some(sum)`, the others `None`.
/// Every party passes a vector of the same length.
pub fn sum_to<R: Rng + CryptoRng + ?Sized>(
    parties: &mut PartySet,
    group: &[usize],
    receiver: usize,
    values: &[u64],
    rng: &mut R,
) -> Result<Option<Vec<u64>>, MpcError> {
    let me = parties.me();
    if !group.contains(&me) || !group.contains(&receiver) {
        return Err(MpcError::Usage(
            "secure sum: this party and the receiver must be in the group".into(),
        ));
    }
    let others: Vec<usize> = group.iter().copied().filter(|&i| i != me).collect();
    let mut mine = values.to_vec();
    let seeds = share_seeded_in_place(&mut mine, others.len(), rng);
    // Pairwise in a fixed order (lower index sends first), as in `open`.
    for (&peer, seed) in others.iter().zip(&seeds) {
        let ch = parties.channel(peer)?;
        let recv_seed = |ch: &mut dyn indomain_net::Channel| -> Result<Seed, MpcError> {
            let frame = ch.recv()?;
            let bytes: [u8; 16] = frame
                .as_slice()
                .try_into()
                .map_err(|_| MpcError::Malformed {
                    peer: ch.peer().to_string(),
                    phase: "secure sum seeds",
                    reason: format!("a seed must be 16 bytes, got {}", frame.len()),
                })?;
            Ok(Seed(bytes))
        };
        let theirs = if me < peer {
            ch.send(&seed.0)?;
            recv_seed(ch)?
        } else {
            let theirs = recv_seed(ch)?;
            ch.send(&seed.0)?;
            theirs
        };
        prg::add_expansion(&mut mine, &theirs);
    }
    Ok(open::open_to(parties, group, receiver, &mine)?)
}
