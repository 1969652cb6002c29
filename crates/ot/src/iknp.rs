//! Correlated OT extension (Ishai–Kilian–Nissim–Petrank 2003, semi-honest),
//! from 128 base OTs to any number of correlated OTs with one global Δ.
//!
//! The side holding Δ (the COT sender) is the base-OT receiver with the
//! bits of Δ as choices and learns k_i^{Δ_i}; the other side (the COT
//! receiver) holds both base keys of each of the 128 columns. For choice
//! bits r, the receiver sends u^i = G(k_i^0) ⊕ G(k_i^1) ⊕ r; the sender
//! forms q^i = G(k_i^{Δ_i}) ⊕ Δ_i·u^i = t^i ⊕ Δ_i·r. Read by rows, q_j =
//! t_j ⊕ r_j·Δ: the sender holds q_j, the receiver t_j and r_j. The sender
//! sees only u, which is r masked by a pseudo-random string.

use crate::base_ot;
use crate::prf::Aes;
use crate::{OtError, Phase};
use indomain_net::Channel;
use rand::CryptoRng;

/// The COT sender's side of `m` transfers: returns q (one block each).
pub fn send<C, R>(ch: &mut C, delta: u128, m: usize, rng: &mut R) -> Result<Vec<u128>, OtError>
where
    C: Channel + ?Sized,
    R: CryptoRng + ?Sized,
{
    CotSender::setup(ch, delta, rng)?.extend(ch, m)
}

/// The COT receiver's side, one transfer per choice bit: returns t.
pub fn receive<C, R>(ch: &mut C, choices: &[bool], rng: &mut R) -> Result<Vec<u128>, OtError>
where
    C: Channel + ?Sized,
    R: CryptoRng + ?Sized,
{
    CotReceiver::setup(ch, rng)?.extend(ch, choices)
}

/// The COT sender after its 128 base OTs: extends them any number of
/// times (each extension continues the PRG streams where the last one
/// stopped, so no stream position is used twice).
pub struct CotSender {
    delta: u128,
    keys: Vec<Aes>,
    position: u128,
}

impl CotSender {
    /// Runs the base OTs, with the bits of `delta` as choices.
    pub fn setup<C, R>(ch: &mut C, delta: u128, rng: &mut R) -> Result<Self, OtError>
    where
        C: Channel + ?Sized,
        R: CryptoRng + ?Sized,
    {
        let choices: Vec<bool> = (0..128).map(|i| (delta >> i) & 1 == 1).collect();
        let keys = base_ot::receive(ch, &choices, rng)?;
        Ok(Self {
            delta,
            keys: keys.into_iter().map(Aes::new).collect(),
            position: 0,
        })
    }

    /// The global correlation Δ.
    pub fn delta(&self) -> u128 {
        self.delta
    }

    /// `m` more transfers: q (one block each), from the receiver's next
    /// frame of masked columns.
    pub fn extend<C: Channel + ?Sized>(
        &mut self,
        ch: &mut C,
        m: usize,
    ) -> Result<Vec<u128>, OtError> {
        let peer = ch.peer().to_string();
        let phase = Phase::OtExtension;
        let blocks = m.div_ceil(128);
        let expected = 128 * blocks * 16;
        let frame = ch.recv().map_err(OtError::net(&peer, phase))?;
        if frame.len() != expected {
            return Err(OtError::BatchLength {
                peer,
                phase,
                expected,
                got: frame.len(),
            });
        }
        let mut columns = vec![0u128; 128 * blocks];
        for (i, column) in columns.chunks_exact_mut(blocks).enumerate() {
            self.keys[i].keystream(self.position, column);
            if (self.delta >> i) & 1 == 1 {
                let u = &frame[i * blocks * 16..(i + 1) * blocks * 16];
                for (c, u) in column.iter_mut().zip(u.chunks_exact(16)) {
                    *c ^= read_block(u);
                }
            }
        }
        self.position += blocks as u128;
        Ok(transpose(&columns, blocks, m))
    }
}

/// The COT receiver after its 128 base OTs (as their sender).
pub struct CotReceiver {
    keys: Vec<[Aes; 2]>,
    position: u128,
}

impl CotReceiver {
    /// Runs the base OTs as their sender.
    pub fn setup<C, R>(ch: &mut C, rng: &mut R) -> Result<Self, OtError>
    where
        C: Channel + ?Sized,
        R: CryptoRng + ?Sized,
    {
        let keys = base_ot::send(ch, 128, rng)?;
        Ok(Self {
            keys: keys
                .into_iter()
                .map(|[k0, k1]| [Aes::new(k0), Aes::new(k1)])
                .collect(),
            position: 0,
        })
    }

    /// One more transfer per choice bit: sends the masked columns as one
    /// frame and returns t.
    pub fn extend<C: Channel + ?Sized>(
        &mut self,
        ch: &mut C,
        choices: &[bool],
    ) -> Result<Vec<u128>, OtError> {
        let m = choices.len();
        let blocks = m.div_ceil(128);
        let mut r = vec![0u128; blocks];
        for (j, &c) in choices.iter().enumerate() {
            r[j / 128] |= (c as u128) << (j % 128);
        }
        let mut columns = vec![0u128; 128 * blocks];
        let mut msg = Vec::with_capacity(128 * blocks * 16);
        let mut other = vec![0u128; blocks];
        for (i, column) in columns.chunks_exact_mut(blocks).enumerate() {
            self.keys[i][0].keystream(self.position, column);
            self.keys[i][1].keystream(self.position, &mut other);
            for ((t, o), r) in column.iter().zip(&other).zip(&r) {
                msg.extend_from_slice(&(t ^ o ^ r).to_le_bytes());
            }
        }
        self.position += blocks as u128;
        ch.send(&msg)
            .map_err(OtError::net(ch.peer(), Phase::OtExtension))?;
        Ok(transpose(&columns, blocks, m))
    }
}

/// Rows of the 128 × (128·blocks) bit matrix stored by columns: row j has
/// bit i equal to bit j of column i. Only the first `m` rows.
fn transpose(columns: &[u128], blocks: usize, m: usize) -> Vec<u128> {
    let mut rows = vec![0u128; blocks * 128];
    for b in 0..blocks {
        let mut square: [u128; 128] = core::array::from_fn(|i| columns[i * blocks + b]);
        transpose_square(&mut square);
        rows[b * 128..(b + 1) * 128].copy_from_slice(&square);
    }
    rows.truncate(m);
    rows
}

/// In-place transpose of a 128 × 128 bit matrix (a[i] bit j ↔ a[j] bit i),
/// by swapping ever smaller blocks.
fn transpose_square(a: &mut [u128; 128]) {
    let mut width = 64;
    let mut mask: u128 = (1u128 << 64) - 1;
    while width > 0 {
        let mut i = 0;
        while i < 128 {
            for k in i..i + width {
                let lo = a[k];
                let hi = a[k + width];
                // Bits j+width of row k swap with bits j of row k+width.
                let t = ((lo >> width) ^ hi) & mask;
                a[k] = lo ^ (t << width);
                a[k + width] = hi ^ t;
            }
            i += 2 * width;
        }
        width /= 2;
        mask ^= mask << width;
    }
}

fn read_block(bytes: &[u8]) -> u128 {
    let mut b = [0u8; 16];
    b.copy_from_slice(bytes);
    u128::from_le_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use indomain_net::memory;
    use rand::{RngExt, SeedableRng, rngs::StdRng};

    #[test]
    fn square_transpose_matches_the_definition() {
        let mut rng = StdRng::seed_from_u64(5);
        let a: [u128; 128] = core::array::from_fn(|_| rng.random());
        let mut t = a;
        transpose_square(&mut t);
        for (i, row) in a.iter().enumerate() {
            for (j, column) in t.iter().enumerate() {
                assert_eq!((column >> i) & 1, (row >> j) & 1);
            }
        }
    }

    #[test]
    fn correlated_ots_hold_t_equals_q_plus_r_delta() {
        let (mut a, mut b) = memory::pair("s", "r");
        let mut rng = StdRng::seed_from_u64(9);
        let delta: u128 = rng.random();
        let choices: Vec<bool> = (0..300).map(|_| rng.random()).collect();
        let (q, t) = std::thread::scope(|s| {
            let h = s.spawn(move || send(&mut a, delta, 300, &mut StdRng::seed_from_u64(1)));
            let t = receive(&mut b, &choices, &mut StdRng::seed_from_u64(2)).unwrap();
            (h.join().unwrap().unwrap(), t)
        });
        assert_eq!(q.len(), 300);
        for j in 0..300 {
            let want = q[j] ^ if choices[j] { delta } else { 0 };
            assert_eq!(t[j], want);
        }
        assert!(q.iter().zip(&t).any(|(q, t)| q != t));
    }
}
