//! Left masks whose shares each party holds encrypted under the other's
//! ring-LWE key, and right triples against them. Each party encrypts its
//! share of a mask U once, when the mask is made ([`he`](super::he)), and
//! sends it to the other; a right triple W = U·V (or Uᵀ·V) is then the
//! local U_me·V_me plus the cross products, which each party evaluates on
//! the peer's encrypted share with its own fresh share of V and returns
//! masked, one ciphertext per N outputs.
//!
//! What each party learns: the peer's mask share encrypted under the
//! peer's key (ring-LWE), and the products it decrypts masked by the peer
//! with fresh uniform values, so its share of W is uniformly random
//! whatever the peer's shares of U and V.

use super::{DUPLEX_BYTES, PHASE_MASK, PHASE_RIGHT, TwoParty, he, link, matrix, rlwe};
use crate::MpcError;
use crate::correlations::{MaskId, MaskLayout};
use crate::dealer::Request;
use indomain_core::matrix_triple::RightTripleShare;
use indomain_core::ring::RingMatrix;
use indomain_net::PartySet;
use ndarray::{Array2, s};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rayon::prelude::*;

/// Wire frames of masked ciphertexts, and their masks.
pub(super) type Masked = (Vec<Vec<u8>>, Vec<Vec<u64>>);

/// A left mask as one party holds it.
pub(super) struct Mask {
    pub(super) rows: usize,
    pub(super) layout: MaskLayout,
    /// This party's share of its own columns (rows × width).
    pub(super) own: RingMatrix,
    /// The other party's share, encrypted under its key.
    pub(super) peer: he::PeerMask,
}

impl Mask {
    /// The first column and width of the share held by `rank`.
    fn range(&self, rank: usize) -> (usize, usize) {
        match &self.layout {
            MaskLayout::Shared { inner } => (0, *inner),
            MaskLayout::Blocks { widths } => (widths[..rank].iter().sum(), widths[rank]),
        }
    }
}

impl TwoParty {
    /// Sends this party's mask share `own`, encrypted in both layouts, and
    /// stores the peer's share of `peer_width` columns as it arrives.
    ///
    /// In rounds of at most [`DUPLEX_BYTES`] each way: both parties
    /// encrypt and send a round's frames, then receive the peer's round
    /// (one round never fills a link's receive window, and each waits for
    /// the peer's round before sending more, so neither blocks on flow
    /// control). Neither side holds more than a round of frames; the
    /// peer's are kept seeded ([`he::PeerMask`]). The encryption seeds are
    /// drawn in frame order, as if all at once.
    pub(super) fn swap_masks(
        &mut self,
        parties: &mut PartySet,
        own: &RingMatrix,
        peer_width: usize,
    ) -> Result<he::PeerMask, MpcError> {
        let (rows, width) = own.dim();
        let u = own.as_slice().unwrap_or_default();
        let (a, b) = he::mask_counts(rows, width);
        let (c, d) = he::mask_counts(rows, peer_width);
        let (ours, theirs) = (a + b, c + d);
        let per_round = (DUPLEX_BYTES / he::SEEDED_BYTES).max(1);
        let mut peer = he::PeerMask::new(rows, peer_width);
        let peer_name = parties.name(self.peer).to_string();
        for round in 0..ours.max(theirs).div_ceil(per_round) {
            let first = round * per_round;
            let send = first.min(ours)..(first + per_round).min(ours);
            let seeds: Vec<[u8; 32]> = send.clone().map(|_| self.rng.random()).collect();
            let (keys, _) = self.he_keys()?;
            let frames: Vec<Vec<u8>> = send
                .into_par_iter()
                .zip(seeds)
                .map(|(i, seed)| {
                    let m = he::mask_plaintext(u, rows, width, i);
                    keys.encrypt_bytes(&m, &mut StdRng::from_seed(seed))
                })
                .collect();
            let ch = parties.channel(self.peer)?;
            for frame in &frames {
                ch.send(frame).map_err(link(&peer_name, PHASE_MASK))?;
            }
            drop(frames);
            for _ in first.min(theirs)..(first + per_round).min(theirs) {
                let frame = ch.recv().map_err(link(&peer_name, PHASE_MASK))?;
                peer.push(&frame).map_err(|e| MpcError::Malformed {
                    peer: peer_name.clone(),
                    phase: PHASE_MASK,
                    reason: e.to_string(),
                })?;
            }
        }
        Ok(peer)
    }

    pub(super) fn he_keys(&self) -> Result<&(he::Keys, he::PeerKey), MpcError> {
        self.keys
            .as_ref()
            .ok_or_else(|| MpcError::Usage("products before agreement".into()))
    }

    /// Decrypts full ciphertexts the peer returned.
    pub(super) fn decrypt_all(
        &self,
        parties: &PartySet,
        frames: &[Vec<u8>],
        len: usize,
        phase: &'static str,
    ) -> Result<Vec<Vec<u64>>, MpcError> {
        let (keys, _) = self.he_keys()?;
        frames
            .iter()
            .map(|f| {
                he::Ct::from_bytes(f)
                    .map(|ct| keys.decrypt(&ct, len))
                    .ok_or_else(|| {
                        self.malformed(parties, phase, "a ciphertext residue out of range")
                    })
            })
            .collect()
    }

    /// Masks evaluated ciphertexts for the peer: wire frames and the masks
    /// (this party's shares are their negations).
    pub(super) fn mask_all(&mut self, cts: Vec<he::Ct>) -> Result<Masked, MpcError> {
        let seeds: Vec<[u8; 32]> = cts.iter().map(|_| self.rng.random()).collect();
        let (_, key) = self.he_keys()?;
        Ok(cts
            .into_par_iter()
            .zip(seeds)
            .map(|(ct, seed)| he::mask_for_owner(ct, key, &mut StdRng::from_seed(seed)))
            .unzip())
    }

    /// A right triple of `cols` columns against `mask` (Uᵀ with
    /// `transposed`), generated now: one agreement, one exchange.
    pub(super) fn generate_right(
        &mut self,
        parties: &mut PartySet,
        mask: MaskId,
        cols: usize,
        transposed: bool,
    ) -> Result<RightTripleShare, MpcError> {
        self.agree(
            parties,
            &Request::RightTriple {
                mask: mask.0,
                cols: cols as u64,
                transposed,
            },
        )?;
        let (rank, peer_rank) = (self.rank, 1 - self.rank);
        let m = self.mask(mask)?;
        let (rows, inner) = (m.rows, m.layout.inner());
        let (off, width) = m.range(rank);
        let (peer_off, peer_width) = m.range(peer_rank);
        let local = if transposed {
            (rows, cols)
        } else {
            (inner, cols)
        };
        let v = matrix(local.0, local.1, self.random(local.0 * local.1))?;
        let m = self.mask(mask)?;
        // This party evaluates the peer's encrypted share on its own V.
        let evaluated: Vec<he::Ct> = if peer_width == 0 {
            Vec::new()
        } else if transposed {
            (0..cols)
                .map(|c| m.peer.t_times(&v.column(c).to_vec()))
                .collect()
        } else {
            (0..cols)
                .flat_map(|c| {
                    let vc: Vec<u64> = (peer_off..peer_off + peer_width)
                        .map(|j| v[[j, c]])
                        .collect();
                    m.peer.times(&vc)
                })
                .collect()
        };
        let mut w = if transposed {
            let mut w = Array2::<u64>::zeros((inner, cols));
            w.slice_mut(s![off..off + width, ..])
                .assign(&m.own.t().dot(&v));
            w
        } else {
            m.own.dot(&v.slice(s![off..off + width, ..]))
        };
        let chunks = rows.div_ceil(rlwe::N);
        let (frames, masks) = self.mask_all(evaluated)?;
        // Theirs: one ciphertext per output column (transposed) or per
        // column and chunk of rows, if this party's share has columns.
        let expected = match (width, transposed) {
            (0, _) => 0,
            (_, true) => cols,
            (_, false) => cols * chunks,
        };
        let theirs = self.swap(parties, frames, expected, he::CT_BYTES, PHASE_RIGHT)?;
        let decrypted = self.decrypt_all(parties, &theirs, rlwe::N, PHASE_RIGHT)?;
        let mut add = |r: usize, c: usize, x: u64, sub: bool| {
            w[[r, c]] = if sub {
                w[[r, c]].wrapping_sub(x)
            } else {
                w[[r, c]].wrapping_add(x)
            };
        };
        if transposed {
            for c in 0..cols {
                if let Some(mask) = masks.get(c) {
                    for j in 0..peer_width {
                        add(
                            peer_off + j,
                            c,
                            mask[he::transposed_slot(peer_width, j)],
                            true,
                        );
                    }
                }
                if let Some(dec) = decrypted.get(c) {
                    for j in 0..width {
                        add(off + j, c, dec[he::transposed_slot(width, j)], false);
                    }
                }
            }
        } else {
            for c in 0..cols {
                for b in 0..chunks {
                    let first = b * rlwe::N;
                    for k in 0..rlwe::N.min(rows - first) {
                        if let Some(mask) = masks.get(c * chunks + b) {
                            add(first + k, c, mask[k], true);
                        }
                        if let Some(dec) = decrypted.get(c * chunks + b) {
                            add(first + k, c, dec[k], false);
                        }
                    }
                }
            }
        }
        Ok(RightTripleShare { v, w })
    }

    pub(super) fn mask(&self, mask: MaskId) -> Result<&Mask, MpcError> {
        self.masks
            .get(mask.0 as usize)
            .ok_or_else(|| MpcError::Usage(format!("no left mask {}", mask.0)))
    }
}
