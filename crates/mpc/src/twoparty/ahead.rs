//! Right triples generated ahead of need, in batches sized by the job.
//!
//! A trainer announces how many one-column products it will compute with
//! each fixed matrix ([`RightTriplePlan`]: an epoch's X·w and Xᵀ·e with
//! Σ e²). The first request of a kind then generates the next batch of
//! them as one right triple of as many columns — one agreement, one
//! exchange of ciphertexts each way, both parties evaluating at once —
//! and later requests are served from the batch without a message. A
//! triple of c columns split by column is c independent one-column
//! triples against the same mask (column k of W = U·V is U·V[·, k]), so
//! what each party receives is what c separate requests would give it,
//! in fewer, larger frames. Batches are capped by the ciphertexts they
//! return ([`BATCH_CIPHERTEXTS`]) and the entries of V they hold
//! ([`BATCH_ENTRIES`]), so memory stays bounded whatever the epochs.
//! What it costs: with early stopping, at most one batch of each kind
//! generated and never used.

use super::{PHASE_SQUARE, TwoParty, he, link, rlwe};
use crate::MpcError;
use crate::correlations::{MaskId, RightTriplePlan};
use indomain_core::matrix_triple::RightTripleShare;
use indomain_net::PartySet;
use ndarray::s;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rayon::prelude::*;
use std::collections::VecDeque;

/// The most ciphertexts a batch returns each way (each ≈ 459 kB on the
/// wire, 524 kB in memory): about 40 MB in flight.
const BATCH_CIPHERTEXTS: usize = 80;
/// The most entries of V (and of W) a batch holds (32 MiB each).
const BATCH_ENTRIES: usize = 1 << 22;

/// One mask's announced triples not yet generated, and those generated
/// but not yet used.
#[derive(Default)]
pub(super) struct Ahead {
    planned: RightTriplePlan,
    forward: VecDeque<RightTripleShare>,
    squares: VecDeque<(RightTripleShare, u64)>,
}

/// The columns of a triple as one-column triples.
fn split_columns(triple: RightTripleShare) -> Vec<RightTripleShare> {
    (0..triple.v.ncols())
        .map(|c| RightTripleShare {
            v: triple.v.slice(s![.., c..c + 1]).to_owned(),
            w: triple.w.slice(s![.., c..c + 1]).to_owned(),
        })
        .collect()
}

/// How many of `planned` items to generate at once, each returning
/// `ciphertexts` ciphertexts and holding `entries` entries of V.
fn batch(planned: usize, ciphertexts: usize, entries: usize) -> usize {
    planned
        .min(BATCH_CIPHERTEXTS / ciphertexts.max(1))
        .min(BATCH_ENTRIES / entries.max(1))
        .max(1)
}

impl TwoParty {
    /// Records a plan (plans for the same mask add up).
    pub(super) fn plan_ahead(&mut self, mask: MaskId, plan: RightTriplePlan) {
        let ahead = self.ahead.entry(mask.0).or_default();
        ahead.planned.forward += plan.forward;
        ahead.planned.squares += plan.squares;
    }

    /// A one-column right triple against U: from the current batch, or
    /// the next batch of the plan, or (unplanned) generated alone.
    pub(super) fn forward_triple(
        &mut self,
        parties: &mut PartySet,
        mask: MaskId,
    ) -> Result<RightTripleShare, MpcError> {
        let ahead = self.ahead.entry(mask.0).or_default();
        if let Some(triple) = ahead.forward.pop_front() {
            return Ok(triple);
        }
        let planned = ahead.planned.forward;
        let m = self.mask(mask)?;
        let (rows, inner) = (m.rows, m.layout.inner());
        let n = batch(planned, rows.div_ceil(rlwe::N), rows.max(inner));
        let mut items = split_columns(self.generate_right(parties, mask, n, false)?).into_iter();
        let first = items.next();
        let ahead = self.ahead.entry(mask.0).or_default();
        ahead.planned.forward = planned.saturating_sub(n);
        ahead.forward.extend(items);
        first.ok_or_else(|| MpcError::Usage("an empty batch of right triples".into()))
    }

    /// A one-column right triple against Uᵀ with this party's share of
    /// ‖V‖², as [`forward_triple`](Self::forward_triple).
    pub(super) fn square_triple(
        &mut self,
        parties: &mut PartySet,
        mask: MaskId,
    ) -> Result<(RightTripleShare, u64), MpcError> {
        let ahead = self.ahead.entry(mask.0).or_default();
        if let Some(item) = ahead.squares.pop_front() {
            return Ok(item);
        }
        let planned = ahead.planned.squares;
        let rows = self.mask(mask)?.rows;
        let n = batch(planned, 1 + rows.div_ceil(rlwe::N), rows);
        let mut items = self.generate_squares(parties, mask, n)?.into_iter();
        let first = items.next();
        let ahead = self.ahead.entry(mask.0).or_default();
        ahead.planned.squares = planned.saturating_sub(n);
        ahead.squares.extend(items);
        first.ok_or_else(|| MpcError::Usage("an empty batch of right triples".into()))
    }

    /// `count` one-column right triples against Uᵀ, each with this
    /// party's share of ‖V‖² = Σ V_0² + Σ V_1² + 2·V_0·V_1: the cross
    /// term has the leader encrypt its V_0 columns, the other party
    /// return each inner product with its V_1 masked (coefficient N − 1
    /// of one ciphertext a column), the leader decrypt its share.
    fn generate_squares(
        &mut self,
        parties: &mut PartySet,
        mask: MaskId,
        count: usize,
    ) -> Result<Vec<(RightTripleShare, u64)>, MpcError> {
        let triple = self.generate_right(parties, mask, count, true)?;
        let columns: Vec<Vec<u64>> = (0..count).map(|c| triple.v.column(c).to_vec()).collect();
        let own: Vec<u64> = columns
            .iter()
            .map(|v| {
                v.iter()
                    .fold(0u64, |s, x| s.wrapping_add(x.wrapping_mul(*x)))
            })
            .collect();
        let chunks = triple.v.nrows().div_ceil(rlwe::N);
        let last = rlwe::N - 1;
        let cross: Vec<u64> = if self.leader() {
            let plain: Vec<&[u64]> = columns.iter().flat_map(|v| v.chunks(rlwe::N)).collect();
            let seeds: Vec<[u8; 32]> = plain.iter().map(|_| self.rng.random()).collect();
            let (keys, _) = self.he_keys()?;
            let frames: Vec<Vec<u8>> = plain
                .par_iter()
                .zip(seeds)
                .map(|(c, seed)| keys.encrypt_bytes(c, &mut StdRng::from_seed(seed)))
                .collect();
            let theirs = self.swap(parties, frames, count, he::CT_BYTES, PHASE_SQUARE)?;
            self.decrypt_all(parties, &theirs, rlwe::N, PHASE_SQUARE)?
                .iter()
                .map(|d| d[last])
                .collect()
        } else {
            let ch = parties.channel(self.peer)?;
            let peer = ch.peer().to_string();
            let mut encrypted = Vec::with_capacity(count * chunks);
            for _ in 0..count * chunks {
                let frame = ch.recv().map_err(link(&peer, PHASE_SQUARE))?;
                let ct = he::Ct::from_seeded(&frame).ok_or_else(|| MpcError::Malformed {
                    peer: peer.clone(),
                    phase: PHASE_SQUARE,
                    reason: format!("a frame of {} bytes, not an encrypted vector", frame.len()),
                })?;
                encrypted.push(ct);
            }
            let products: Vec<he::Ct> = columns
                .iter()
                .enumerate()
                .map(|(c, v)| he::inner_product(&encrypted[c * chunks..(c + 1) * chunks], v))
                .collect();
            let (frames, masks) = self.mask_all(products)?;
            let ch = parties.channel(self.peer)?;
            for frame in &frames {
                ch.send(frame).map_err(link(&peer, PHASE_SQUARE))?;
            }
            masks.iter().map(|m| m[last].wrapping_neg()).collect()
        };
        Ok(split_columns(triple)
            .into_iter()
            .zip(own.iter().zip(&cross))
            .map(|(t, (own, cross))| (t, own.wrapping_add(cross.wrapping_mul(2))))
            .collect())
    }
}
