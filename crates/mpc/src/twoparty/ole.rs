//! Gilboa's product over Z_2^64 on correlated OT, as a vector OLE
//! (Gilboa, CRYPTO 1999; the OT-based offline phase of SecureML and ABY).
//!
//! The receiver holds scalars y_i (of `bits` bits), the sender one vector
//! x_i of L ring elements per y_i. For every bit l of y_i the parties run
//! one correlated OT (IKNP, [`indomain_ot::iknp`]) with that bit c as the
//! receiver's choice; the two random-OT keys are the TMMO hash of q and
//! q ⊕ Δ under a tweak used once ([`Aes::tmmo`]), expanded to L elements
//! p0, p1 (the receiver can compute p_c only). The sender sends
//! d = p0 − p1 + x_i mod 2^(64−l) — only the low 64 − l bits matter once
//! multiplied by 2^l — and keeps −2^l·p0; the receiver keeps
//! 2^l·(p_c + c·d) = 2^l·(p0 + c·x_i). Over the bits of y_i the two shares
//! add up to x_i·y_i. Products are summed into groups (a row of a matrix
//! product) before they are returned.
//!
//! What each side learns: the sender, IKNP's masked columns, pseudo-random
//! whatever the choices; the receiver, every d, which is x_i masked by
//! p_{1−c}, pseudo-random to it by the correlation robustness of the hash.
//!
//! Cost of one 64-bit product with L = 1: 64 correlated OTs (IKNP sends
//! 16 bytes each: 1,024 bytes) and Σ_l (64 − l) = 2,080 bits of d (260
//! bytes); with L elements, 1,024 + 260·L bytes.

use super::{PHASE_OT, ot_error};
use crate::MpcError;
use indomain_net::Channel;
use indomain_ot::iknp::{CotReceiver, CotSender};
use indomain_ot::prf::Aes;
use rand::{CryptoRng, RngExt};
use rayon::prelude::*;

/// The most elements of one x_i handled in one pass (longer vectors are
/// cut into segments, each a pass with OTs of its own).
const SEGMENT: usize = 1 << 14;
/// The most correlated OTs a batch (one IKNP frame of 16 bytes each).
const MAX_COTS: usize = 1 << 20;
/// The most bytes of d a batch (one frame).
const MAX_MESSAGE: usize = 1 << 24;
/// The fixed public key of the TMMO hash.
const HASH_KEY: u128 = 0x243f_6a88_85a3_08d3_1319_8a2e_0370_7344;

/// Correlated OT in both directions between the two computing parties.
pub(super) struct Ole {
    sender: CotSender,
    receiver: CotReceiver,
    /// Transfers this party has sent (the tweak of the next one).
    sent: u128,
    /// Transfers this party has received.
    received: u128,
    hash: Aes,
}

/// Bits of d per element for a value of `bits` bits: Σ_{l<bits} (64 − l).
fn message_bits(bits: u32) -> usize {
    (0..bits as usize).map(|l| 64 - l).sum()
}

/// Bytes of d for one value and `width` elements.
fn value_bytes(bits: u32, width: usize) -> usize {
    (message_bits(bits) * width).div_ceil(8)
}

/// Values of one batch, within both limits (at least one).
fn batch_values(bits: u32, width: usize) -> usize {
    (MAX_COTS / bits.max(1) as usize)
        .min(MAX_MESSAGE / value_bytes(bits, width).max(1))
        .max(1)
}

/// Expands a key into `out.len()` ring elements.
fn expand(key: u128, out: &mut [u64]) {
    if out.len() <= 2 {
        let halves = [key as u64, (key >> 64) as u64];
        out.copy_from_slice(&halves[..out.len()]);
        return;
    }
    let mut blocks = vec![0u128; out.len().div_ceil(2)];
    Aes::new(key).keystream(0, &mut blocks);
    for (o, v) in out
        .iter_mut()
        .zip(blocks.iter().flat_map(|b| [*b as u64, (*b >> 64) as u64]))
    {
        *o = v;
    }
}

/// Writes values of varying widths into a little-endian bit stream.
struct BitWriter {
    bytes: Vec<u8>,
    acc: u128,
    filled: u32,
}

impl BitWriter {
    fn with_capacity(bytes: usize) -> Self {
        Self {
            bytes: Vec::with_capacity(bytes),
            acc: 0,
            filled: 0,
        }
    }

    fn put(&mut self, value: u64, width: u32) {
        let value = if width == 64 {
            value
        } else {
            value & ((1u64 << width) - 1)
        };
        self.acc |= (value as u128) << self.filled;
        self.filled += width;
        while self.filled >= 8 {
            self.bytes.push(self.acc as u8);
            self.acc >>= 8;
            self.filled -= 8;
        }
    }

    fn finish(mut self) -> Vec<u8> {
        if self.filled > 0 {
            self.bytes.push(self.acc as u8);
        }
        self.bytes
    }
}

/// Reads what [`BitWriter`] wrote (the caller checked the length).
struct BitReader<'a> {
    bytes: &'a [u8],
    at: usize,
    acc: u128,
    filled: u32,
}

impl<'a> BitReader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self {
            bytes,
            at: 0,
            acc: 0,
            filled: 0,
        }
    }

    fn take(&mut self, width: u32) -> u64 {
        while self.filled < width {
            let byte = self.bytes.get(self.at).copied().unwrap_or_default();
            self.acc |= (byte as u128) << self.filled;
            self.at += 1;
            self.filled += 8;
        }
        let v = if width == 64 {
            self.acc as u64
        } else {
            (self.acc as u64) & ((1u64 << width) - 1)
        };
        self.acc >>= width;
        self.filled -= width;
        v
    }
}

/// What a product pass needs to know about its values: `bits` bits per
/// scalar, x_i of `len` elements, value i summed into group `group(i)`.
pub(super) struct Shape<'a> {
    pub bits: u32,
    pub len: usize,
    pub groups: usize,
    pub group: &'a (dyn Fn(usize) -> usize + Sync),
}

impl Ole {
    /// Runs the base OTs of both directions: the leader is the COT sender
    /// first, so the two parties' calls pair up.
    pub fn setup<C, R>(ch: &mut C, leader: bool, rng: &mut R) -> Result<Self, MpcError>
    where
        C: Channel + ?Sized,
        R: CryptoRng + ?Sized,
    {
        let delta: u128 = rng.random();
        let (sender, receiver) = if leader {
            let s = CotSender::setup(ch, delta, rng).map_err(ot_error(PHASE_OT))?;
            let r = CotReceiver::setup(ch, rng).map_err(ot_error(PHASE_OT))?;
            (s, r)
        } else {
            let r = CotReceiver::setup(ch, rng).map_err(ot_error(PHASE_OT))?;
            let s = CotSender::setup(ch, delta, rng).map_err(ot_error(PHASE_OT))?;
            (s, r)
        };
        Ok(Self {
            sender,
            receiver,
            sent: 0,
            received: 0,
            hash: Aes::new(HASH_KEY),
        })
    }

    /// `m` random OTs as their sender (this party's COT direction): the
    /// two keys of each, TMMO-hashed under fresh tweaks.
    pub fn random_send<C: Channel + ?Sized>(
        &mut self,
        ch: &mut C,
        m: usize,
        phase: &'static str,
    ) -> Result<(Vec<u128>, Vec<u128>), MpcError> {
        let q = self.sender.extend(ch, m).map_err(ot_error(phase))?;
        let delta = self.sender.delta();
        let mut k0 = q.clone();
        self.hash.tmmo(&mut k0, self.sent);
        let mut k1: Vec<u128> = q.iter().map(|q| q ^ delta).collect();
        self.hash.tmmo(&mut k1, self.sent);
        self.sent += m as u128;
        Ok((k0, k1))
    }

    /// Random OTs as their receiver, one per choice bit: the chosen keys.
    pub fn random_receive<C: Channel + ?Sized>(
        &mut self,
        ch: &mut C,
        choices: &[bool],
        phase: &'static str,
    ) -> Result<Vec<u128>, MpcError> {
        let mut k = self.receiver.extend(ch, choices).map_err(ot_error(phase))?;
        self.hash.tmmo(&mut k, self.received);
        self.received += choices.len() as u128;
        Ok(k)
    }

    /// The sender's side: `xs` holds x_i for every value (values × len,
    /// row-major). Returns this party's shares, groups × len.
    pub fn send<C: Channel + ?Sized>(
        &mut self,
        ch: &mut C,
        shape: &Shape<'_>,
        xs: &[u64],
        phase: &'static str,
    ) -> Result<Vec<u64>, MpcError> {
        let len = shape.len;
        let values = xs.len().checked_div(len).unwrap_or(0);
        let bits = shape.bits;
        let mut out = vec![0u64; shape.groups * len];
        for seg in (0..len).step_by(SEGMENT) {
            let width = SEGMENT.min(len - seg);
            let per_batch = batch_values(bits, width);
            for first in (0..values).step_by(per_batch) {
                let count = per_batch.min(values - first);
                let cots = count * bits as usize;
                let q = self.sender.extend(ch, cots).map_err(ot_error(phase))?;
                let delta = self.sender.delta();
                let mut k0 = q.clone();
                self.hash.tmmo(&mut k0, self.sent);
                let mut k1: Vec<u128> = q.iter().map(|q| q ^ delta).collect();
                self.hash.tmmo(&mut k1, self.sent);
                self.sent += cots as u128;
                let parts: Vec<(Vec<u8>, Vec<u64>)> = (0..count)
                    .into_par_iter()
                    .map(|v| {
                        let x = &xs[(first + v) * len + seg..(first + v) * len + seg + width];
                        let mut w = BitWriter::with_capacity(value_bytes(bits, width));
                        let mut own = vec![0u64; width];
                        let (mut p0, mut p1) = (vec![0u64; width], vec![0u64; width]);
                        for l in 0..bits {
                            let j = v * bits as usize + l as usize;
                            expand(k0[j], &mut p0);
                            expand(k1[j], &mut p1);
                            for e in 0..width {
                                let d = p0[e].wrapping_sub(p1[e]).wrapping_add(x[e]);
                                w.put(d, 64 - l);
                                own[e] = own[e].wrapping_sub(p0[e] << l);
                            }
                        }
                        (w.finish(), own)
                    })
                    .collect();
                let mut frame = Vec::with_capacity(count * value_bytes(bits, width));
                for (v, (bytes, own)) in parts.into_iter().enumerate() {
                    frame.extend_from_slice(&bytes);
                    let g = (shape.group)(first + v);
                    let row = &mut out[g * len + seg..g * len + seg + width];
                    row.iter_mut()
                        .zip(own)
                        .for_each(|(o, s)| *o = o.wrapping_add(s));
                }
                ch.send(&frame).map_err(super::link(ch.peer(), phase))?;
            }
        }
        Ok(out)
    }

    /// The receiver's side: one scalar y_i a value. Returns this party's
    /// shares, groups × len.
    pub fn receive<C: Channel + ?Sized>(
        &mut self,
        ch: &mut C,
        shape: &Shape<'_>,
        ys: &[u64],
        phase: &'static str,
    ) -> Result<Vec<u64>, MpcError> {
        let len = shape.len;
        let values = ys.len();
        let bits = shape.bits;
        let mut out = vec![0u64; shape.groups * len];
        for seg in (0..len).step_by(SEGMENT) {
            let width = SEGMENT.min(len - seg);
            let per_batch = batch_values(bits, width);
            for first in (0..values).step_by(per_batch) {
                let count = per_batch.min(values - first);
                let cots = count * bits as usize;
                let choices: Vec<bool> = ys[first..first + count]
                    .iter()
                    .flat_map(|y| (0..bits).map(move |l| (y >> l) & 1 == 1))
                    .collect();
                let mut k = self
                    .receiver
                    .extend(ch, &choices)
                    .map_err(ot_error(phase))?;
                self.hash.tmmo(&mut k, self.received);
                self.received += cots as u128;
                let peer = ch.peer().to_string();
                let frame = ch.recv().map_err(super::link(&peer, phase))?;
                let each = value_bytes(bits, width);
                if frame.len() != count * each {
                    return Err(MpcError::Malformed {
                        peer,
                        phase,
                        reason: format!(
                            "a product frame of {} bytes, expected {}",
                            frame.len(),
                            count * each
                        ),
                    });
                }
                let parts: Vec<Vec<u64>> = frame
                    .par_chunks_exact(each.max(1))
                    .take(count)
                    .enumerate()
                    .map(|(v, bytes)| {
                        let mut r = BitReader::new(bytes);
                        let mut own = vec![0u64; width];
                        let mut p = vec![0u64; width];
                        for l in 0..bits {
                            let j = v * bits as usize + l as usize;
                            let c = choices[j] as u64;
                            expand(k[j], &mut p);
                            for e in 0..width {
                                let d = r.take(64 - l);
                                let got = p[e].wrapping_add(c.wrapping_mul(d));
                                own[e] = own[e].wrapping_add(got << l);
                            }
                        }
                        own
                    })
                    .collect();
                for (v, own) in parts.into_iter().enumerate() {
                    let g = (shape.group)(first + v);
                    let row = &mut out[g * len + seg..g * len + seg + width];
                    row.iter_mut()
                        .zip(own)
                        .for_each(|(o, s)| *o = o.wrapping_add(s));
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_streams_round_trip_every_width() {
        let widths: Vec<u32> = (1..=64).rev().chain(1..=64).collect();
        let values: Vec<u64> = (0..widths.len() as u64)
            .map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15))
            .collect();
        let mut w = BitWriter::with_capacity(0);
        for (v, &b) in values.iter().zip(&widths) {
            w.put(*v, b);
        }
        let bytes = w.finish();
        let total: u32 = widths.iter().sum();
        assert_eq!(bytes.len(), (total as usize).div_ceil(8));
        let mut r = BitReader::new(&bytes);
        for (v, &b) in values.iter().zip(&widths) {
            let mask = if b == 64 { u64::MAX } else { (1 << b) - 1 };
            assert_eq!(r.take(b), v & mask);
        }
        assert_eq!(message_bits(64), 2080);
        assert_eq!(value_bytes(64, 1), 260);
        assert_eq!(value_bytes(1, 3), 24);
    }
}
