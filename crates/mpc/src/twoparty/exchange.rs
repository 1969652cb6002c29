//! What the two computing parties send each other under every item: the
//! agreement on a [`Request`] (and, on the first item, the set-up of the
//! OTs and the swap of ring-LWE public keys), frames swapped both ways
//! without either party waiting on the other's flow control, and the
//! Gilboa products and random bits on the correlated OTs
//! ([`super::ole`]).
//!
//! What each party learns: the peer's requests (the same as its own; an
//! item on which they disagree is refused here, before any OT), the
//! peer's public key, and from the OTs values that are pseudo-random
//! whatever the peer's secrets are.

use super::ole::{Ole, Shape};
use super::{DUPLEX_BYTES, PHASE_AGREE, PHASE_KEYS, TwoParty, he, link};
use crate::MpcError;
use crate::dealer::Request;
use indomain_net::PartySet;
use indomain_net::wire::{decode_msg, send_msg};
use rand::RngExt;

impl TwoParty {
    /// Sends `request`, checks that the peer sent the same one, and sets
    /// up the OTs on the first item.
    pub(super) fn agree(
        &mut self,
        parties: &mut PartySet,
        request: &Request,
    ) -> Result<(), MpcError> {
        let ch = parties.channel(self.peer)?;
        let peer = ch.peer().to_string();
        send_msg(ch, request).map_err(link(&peer, PHASE_AGREE))?;
        let frame = ch.recv().map_err(link(&peer, PHASE_AGREE))?;
        let theirs: Request = decode_msg(&peer, &frame).map_err(|e| MpcError::Malformed {
            peer: peer.clone(),
            phase: PHASE_AGREE,
            reason: e.to_string(),
        })?;
        if &theirs != request {
            return Err(MpcError::Refused {
                peer,
                reason: format!(
                    "the two parties asked for different items: ours {request:?}, theirs {theirs:?}"
                ),
            });
        }
        if self.ole.is_none() {
            let leader = self.leader();
            self.ole = Some(Ole::setup(ch, leader, &mut self.rng)?);
            let keys = he::Keys::generate(&mut self.rng);
            let theirs = self.swap(
                parties,
                vec![keys.public_bytes()],
                1,
                he::SEEDED_BYTES,
                PHASE_KEYS,
            )?;
            let peer_key = he::PeerKey::from_bytes(&theirs[0]).ok_or_else(|| {
                self.malformed(
                    parties,
                    PHASE_KEYS,
                    "a public key with a residue out of range",
                )
            })?;
            self.keys = Some((keys, peer_key));
        }
        self.items += 1;
        Ok(())
    }

    pub(super) fn malformed(
        &self,
        parties: &PartySet,
        phase: &'static str,
        reason: &str,
    ) -> MpcError {
        MpcError::Malformed {
            peer: parties.name(self.peer).to_string(),
            phase,
            reason: reason.to_string(),
        }
    }

    /// Sends `mine` and receives `count` frames of `len` bytes each. Both
    /// send at once when each direction fits well within a link's receive
    /// window (QUIC's is 32 MiB a stream); larger transfers go one way at
    /// a time, the leader first, so that neither waits on the other's flow
    /// control.
    pub(super) fn swap(
        &self,
        parties: &mut PartySet,
        mine: Vec<Vec<u8>>,
        count: usize,
        len: usize,
        phase: &'static str,
    ) -> Result<Vec<Vec<u8>>, MpcError> {
        let ch = parties.channel(self.peer)?;
        let peer = ch.peer().to_string();
        let send = |ch: &mut dyn indomain_net::Channel| -> Result<(), MpcError> {
            for frame in &mine {
                ch.send(frame).map_err(link(&peer, phase))?;
            }
            Ok(())
        };
        let ours: usize = mine.iter().map(Vec::len).sum();
        let duplex = ours.max(count * len) <= DUPLEX_BYTES;
        if duplex || self.leader() {
            send(ch)?;
        }
        let mut theirs = Vec::with_capacity(count);
        for _ in 0..count {
            let frame = ch.recv().map_err(link(&peer, phase))?;
            if frame.len() != len {
                return Err(MpcError::Malformed {
                    peer,
                    phase,
                    reason: format!("a frame of {} bytes, expected {len}", frame.len()),
                });
            }
            theirs.push(frame);
        }
        if !duplex && !self.leader() {
            send(ch)?;
        }
        Ok(theirs)
    }

    /// Shares of x·y where this party is the sender (vectors `xs`) and the
    /// peer the receiver, then the other way round (this party's scalars
    /// `ys`), the leader sending first. `mine` and `theirs` describe the
    /// two directions. Returns the sum of both directions' shares.
    pub(super) fn products(
        &mut self,
        parties: &mut PartySet,
        mine: (&Shape<'_>, &[u64]),
        theirs: (&Shape<'_>, &[u64]),
        phase: &'static str,
    ) -> Result<(Vec<u64>, Vec<u64>), MpcError> {
        let leader = self.leader();
        let ch = parties.channel(self.peer)?;
        let ole = self
            .ole
            .as_mut()
            .ok_or_else(|| MpcError::Usage("products before agreement".into()))?;
        if leader {
            let sent = ole.send(ch, mine.0, mine.1, phase)?;
            let received = ole.receive(ch, theirs.0, theirs.1, phase)?;
            Ok((sent, received))
        } else {
            let received = ole.receive(ch, theirs.0, theirs.1, phase)?;
            let sent = ole.send(ch, mine.0, mine.1, phase)?;
            Ok((sent, received))
        }
    }

    /// `total` random bits b = β_0 ⊕ β_1, β_i drawn by party i: returns
    /// this party's β (0 or 1) and its additive share of b in the ring,
    /// β_i − 2·(its share of β_0·β_1), one one-bit product (one OT) a bit.
    pub(super) fn random_bits(
        &mut self,
        parties: &mut PartySet,
        total: usize,
        phase: &'static str,
    ) -> Result<(Vec<u64>, Vec<u64>), MpcError> {
        let own: Vec<u64> = (0..total)
            .map(|_| self.rng.random::<bool>() as u64)
            .collect();
        let each = |i: usize| i;
        let shape = Shape {
            bits: 1,
            len: 1,
            groups: total,
            group: &each,
        };
        let leader = self.leader();
        let ch = parties.channel(self.peer)?;
        let ole = self
            .ole
            .as_mut()
            .ok_or_else(|| MpcError::Usage("products before agreement".into()))?;
        let cross = if leader {
            ole.send(ch, &shape, &own, phase)?
        } else {
            ole.receive(ch, &shape, &own, phase)?
        };
        let shares = own
            .iter()
            .zip(&cross)
            .map(|(b, c)| b.wrapping_sub(c.wrapping_mul(2)))
            .collect();
        Ok((own, shares))
    }
}
