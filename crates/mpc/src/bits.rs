//! Packed boolean shares on a [`Session`]: XOR-opening, AND gates on 64
//! bits a word (`indomain_core::bits`), and conversion of boolean shares
//! to arithmetic ones with daBits.
//!
//! - [`Session::open_bits`]: every party sends its words to every other
//!   and XORs what it receives.
//! - [`Session::and_bits`]: one packed AND triple per word and one opening
//!   of d ‖ e: 2 × 8 bytes to each other party per 64 gates.
//! - [`Session::bits_to_ring`]: with a daBit ρ (the same random bit shared
//!   both ways), the parties open c = b ⊕ ρ and compute b = c + ρ − 2c·ρ
//!   locally in the ring: one packed opening and no product.
//!
//! What each party learns: the opened d, e (the inputs masked by uniformly
//! random triple masks) and c = b ⊕ ρ (b masked by a uniformly random
//! bit): nothing about the shared bits.

use crate::MpcError;
use crate::correlations::Correlations;
use crate::error::core;
use crate::open;
use crate::session::Session;
use crate::shared::Shared;
use indomain_core::bits::{bit, words};

/// This party's XOR share of `len` packed bits.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SharedBits {
    /// The share's words (bit e is bit e % 64 of word e / 64).
    pub words: Vec<u64>,
    /// The number of bits.
    pub len: usize,
}

impl SharedBits {
    /// A share of `len` bits from its words (⌈len/64⌉ of them).
    pub fn new(words_: Vec<u64>, len: usize) -> Result<Self, MpcError> {
        if words_.len() != words(len) {
            return Err(MpcError::Usage(format!(
                "{} words for {len} packed bits",
                words_.len()
            )));
        }
        Ok(Self { words: words_, len })
    }

    /// self ⊕= other (local).
    pub fn xor_assign(&mut self, other: &SharedBits) -> Result<(), MpcError> {
        if self.len != other.len {
            return Err(MpcError::Usage(format!(
                "XOR of {} and {} bits",
                self.len, other.len
            )));
        }
        self.words
            .iter_mut()
            .zip(&other.words)
            .for_each(|(a, b)| *a ^= b);
        Ok(())
    }

    /// self ⊕= public words: only the leader (rank 0) XORs them in.
    pub fn xor_public(&mut self, public: &[u64], rank: usize) {
        if rank == 0 {
            self.words.iter_mut().zip(public).for_each(|(a, b)| *a ^= b);
        }
    }

    /// ¬self: the leader flips its share.
    pub fn not(mut self, rank: usize) -> Self {
        if rank == 0 {
            self.words.iter_mut().for_each(|w| *w = !*w);
        }
        self
    }
}

impl<C: Correlations> Session<'_, C> {
    /// XOR-opens packed words to every computing party.
    pub fn open_bits(&mut self, share: &[u64]) -> Result<Vec<u64>, MpcError> {
        let lens = vec![share.len(); self.roster().len()];
        let rank = self.rank();
        let computing = self.roster().computing().to_vec();
        let all = open::exchange(self.parties_mut(), &computing, share.to_vec(), &lens)?;
        let mut out = share.to_vec();
        for (k, theirs) in all.iter().enumerate() {
            if k != rank {
                out.iter_mut().zip(theirs).for_each(|(a, b)| *a ^= b);
            }
        }
        Ok(out)
    }

    /// x ∧ y word by word for XOR-shared words of equal length: one packed
    /// triple request and one opening, whatever the length.
    pub fn and_bits(&mut self, x: &[u64], y: &[u64]) -> Result<Vec<u64>, MpcError> {
        let phase = "AND of packed bits";
        if x.len() != y.len() {
            return Err(MpcError::Usage(format!(
                "AND of {} and {} words",
                x.len(),
                y.len()
            )));
        }
        if x.is_empty() {
            return Ok(Vec::new());
        }
        let triple = {
            let (parties, corr, _) = self.parts();
            corr.bit_triples(parties, x.len())?
        };
        let masked = triple.mask(x, y).map_err(core(phase))?;
        let opened = self.open_bits(&masked)?;
        triple
            .finish(&opened, self.is_leader())
            .map_err(core(phase))
    }

    /// Additive ring shares (0 or 1) of XOR-shared bits, with daBits.
    pub fn bits_to_ring(&mut self, b: &SharedBits) -> Result<Shared, MpcError> {
        let dabits = {
            let (parties, corr, _) = self.parts();
            corr.dabits(parties, b.len)?
        };
        let masked: Vec<u64> = b
            .words
            .iter()
            .zip(&dabits.bools)
            .map(|(b, r)| b ^ r)
            .collect();
        let c = self.open_bits(&masked)?;
        let leader = self.is_leader();
        Ok(Shared(
            dabits
                .arith
                .iter()
                .enumerate()
                .map(|(e, &rho)| {
                    if bit(&c, e) == 1 {
                        // 1 − ρ: the leader adds 1, every party negates.
                        (leader as u64).wrapping_sub(rho)
                    } else {
                        rho
                    }
                })
                .collect(),
        ))
    }
}
