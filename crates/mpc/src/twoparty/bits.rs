//! Boolean items between the two computing parties: packed AND triples,
//! daBits and masks with XOR-shared bits — what the packed comparisons of
//! [`crate::compare_bits`] and [`crate::bits`] consume (trees' argmax and
//! divisions, binning's logarithms).
//!
//! - **AND triples** from random OT (Asharov, Lindell, Schneider, Zohner,
//!   CCS 2013, §5): in a random OT the sender holds keys m_0, m_1 and the
//!   receiver, with a random choice r, holds m_r; with x = m_0 ⊕ m_1,
//!   r ∧ x = m_0 ⊕ m_r. One random OT each way gives the cross terms
//!   a_0 ∧ b_1 and a_1 ∧ b_0 of (a_0 ⊕ a_1) ∧ (b_0 ⊕ b_1), so a gate costs
//!   two IKNP transfers (32 bytes) and no other message.
//! - **daBits**: each party draws β_i; b = β_0 ⊕ β_1 is XOR-shared as is,
//!   and additively as β_0 + β_1 − 2·β_0·β_1 with one one-bit Gilboa
//!   product (one OT, 16 + 8 bytes).
//! - **Masks with packed bits** (low..low + bits): r = Σ_{j<low+bits}
//!   2^j·b_j + 2^(low+bits)·(h_0 + h_1) with every b_j a daBit, so r is
//!   uniform and its bits low.. are exactly the XOR-shared ones (bits
//!   below `low` are daBits too: a carry out of a locally drawn low part
//!   would change the bits above it).
//!
//! What each party learns: IKNP's masked columns and Gilboa's masked
//! messages, pseudo-random whatever the other's bits (see `ole`).

use super::TwoParty;
use crate::MpcError;
use crate::dealer::Request;
use indomain_core::bits::{BitTripleShare, DaBitShare, PackedMaskedBitsShare, words};
use indomain_net::PartySet;
use rand::RngExt;

const PHASE_AND: &str = "two-party AND triples";
const PHASE_DABITS: &str = "two-party daBits";
const PHASE_PACKED: &str = "two-party packed masked bits";

/// Packs bit-major 0/1 values (`planes` planes of `len`) into words, plane
/// after plane.
fn pack(bits: &[u64], len: usize, planes: usize) -> Vec<u64> {
    let w = words(len);
    let mut out = vec![0u64; planes * w];
    for p in 0..planes {
        for (e, b) in bits[p * len..(p + 1) * len].iter().enumerate() {
            out[p * w + e / 64] |= (b & 1) << (e % 64);
        }
    }
    out
}

/// The low bit of each key, packed.
fn low_bits(keys: &[u128]) -> Vec<u64> {
    let mut out = vec![0u64; words(keys.len())];
    for (i, k) in keys.iter().enumerate() {
        out[i / 64] |= ((*k & 1) as u64) << (i % 64);
    }
    out
}

impl TwoParty {
    /// r = Σ_{j<bits} 2^j·b_j + 2^bits·h from the shares of the b_j
    /// (bit-major, `len` a plane), h this party's own random high part.
    pub(super) fn compose_mask(&mut self, len: usize, bits: u32, shares: &[u64]) -> Vec<u64> {
        let mut r: Vec<u64> = if bits < 64 {
            (0..len).map(|_| self.rng.random::<u64>() << bits).collect()
        } else {
            vec![0u64; len]
        };
        for j in 0..bits as usize {
            for (r, b) in r.iter_mut().zip(&shares[j * len..(j + 1) * len]) {
                *r = r.wrapping_add(b << j);
            }
        }
        r
    }

    /// AND triples for `words_` packed words.
    pub(super) fn and_triples(
        &mut self,
        parties: &mut PartySet,
        words_: usize,
    ) -> Result<BitTripleShare, MpcError> {
        self.agree(
            parties,
            &Request::BitTriples {
                words: words_ as u64,
            },
        )?;
        if words_ == 0 {
            return Ok(BitTripleShare {
                a: Vec::new(),
                b: Vec::new(),
                c: Vec::new(),
            });
        }
        let gates = 64 * words_;
        let choices: Vec<bool> = (0..gates).map(|_| self.rng.random()).collect();
        let leader = self.leader();
        let ch = parties.channel(self.peer)?;
        let ole = self
            .ole
            .as_mut()
            .ok_or_else(|| MpcError::Usage("AND triples before agreement".into()))?;
        // The leader sends first (its COT sender pairs with the follower's
        // receiver), then the other direction.
        let ((k0, k1), chosen) = if leader {
            let sent = ole.random_send(ch, gates, PHASE_AND)?;
            (sent, ole.random_receive(ch, &choices, PHASE_AND)?)
        } else {
            let chosen = ole.random_receive(ch, &choices, PHASE_AND)?;
            (ole.random_send(ch, gates, PHASE_AND)?, chosen)
        };
        let (m0, m1) = (low_bits(&k0), low_bits(&k1));
        let a: Vec<u64> = m0.iter().zip(&m1).map(|(x, y)| x ^ y).collect();
        let mut b = vec![0u64; words_];
        for (i, &c) in choices.iter().enumerate() {
            b[i / 64] |= (c as u64) << (i % 64);
        }
        let mr = low_bits(&chosen);
        // c = a∧b ⊕ (a ∧ peer's b, sender's half m_0) ⊕ (peer's a ∧ b,
        // receiver's half m_r).
        let c = (0..words_).map(|w| (a[w] & b[w]) ^ m0[w] ^ mr[w]).collect();
        Ok(BitTripleShare { a, b, c })
    }

    /// `len` daBits.
    pub(super) fn both_ways_bits(
        &mut self,
        parties: &mut PartySet,
        len: usize,
    ) -> Result<DaBitShare, MpcError> {
        self.agree(parties, &Request::DaBits { len: len as u64 })?;
        let (own, arith) = self.random_bits(parties, len, PHASE_DABITS)?;
        Ok(DaBitShare {
            bools: pack(&own, len, 1),
            arith,
        })
    }

    /// `len` masks with XOR shares of their bits low..low + bits, packed.
    pub(super) fn packed_bits(
        &mut self,
        parties: &mut PartySet,
        len: usize,
        low: u32,
        bits: u32,
    ) -> Result<PackedMaskedBitsShare, MpcError> {
        if bits == 0 || low + bits > 64 {
            return Err(MpcError::Usage(format!(
                "packed mask bits {low}..{} (at most 64)",
                low + bits
            )));
        }
        self.agree(
            parties,
            &Request::PackedMaskedBits {
                len: len as u64,
                low,
                bits,
            },
        )?;
        let top = low + bits;
        let (own, shares) = self.random_bits(parties, len * top as usize, PHASE_PACKED)?;
        let r = self.compose_mask(len, top, &shares);
        let planes = pack(&own[low as usize * len..], len, bits as usize);
        Ok(PackedMaskedBitsShare { r, planes })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packing_puts_element_e_of_plane_p_at_its_bit() {
        let len = 70;
        let bits: Vec<u64> = (0..2 * len).map(|i| (i % 3 == 0) as u64).collect();
        let packed = pack(&bits, len, 2);
        assert_eq!(packed.len(), 4);
        for p in 0..2 {
            for e in 0..len {
                assert_eq!((packed[p * 2 + e / 64] >> (e % 64)) & 1, bits[p * len + e]);
            }
        }
        assert_eq!(low_bits(&[1, 2, 3]), vec![0b101]);
    }
}
