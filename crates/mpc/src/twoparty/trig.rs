//! Trigonometric masks between the two computing parties, for the Fourier
//! sigmoid ([`crate::fourier`]) with no dealer.
//!
//! Each party i draws r_i; r = r_0 + r_1, and since 2^K divides 2^64 the
//! angle of r is φ_0 + φ_1 (mod 2π) with φ_i the angle of r_i. By the
//! angle-addition formulas
//!
//!   cos(mφ) = cos(mφ_0)·cos(mφ_1) − sin(mφ_0)·sin(mφ_1)
//!   sin(mφ) = sin(mφ_0)·cos(mφ_1) + cos(mφ_0)·sin(mφ_1),
//!
//! each a sum of products of a value the leader knows with one the other
//! party knows. Both encode theirs with f fractional bits; per mask and
//! harmonic, two Gilboa products ([`super::ole`]) with the other party's
//! cos(mφ_1) and sin(mφ_1) as the scalars (offset by 2^f so that they are
//! f + 2 bits, non-negative) and the leader's (cos, sin) and (−sin, cos)
//! as the vectors give shares of both sums with 2f fractional bits, which
//! each party truncates locally by f (SecureML; values below 2^(2f+1), so
//! it is off by more than one unit with probability at most 2^(2f+2−64):
//! 2^-30 at f = 16, the order of the sine series' own final truncation).
//!
//! What each party learns: the OT messages of Gilboa's products,
//! pseudo-random whatever the other's angle. Cost a mask with M harmonics:
//! 2M·(f + 2) correlated OTs (16 bytes each) and 2M·Σ_{l<f+2}(64 − l)·2
//! bits of messages: at f = 16 and M = 12, 6.9 KB + 6.0 KB.

use super::TwoParty;
use super::ole::Shape;
use crate::MpcError;
use crate::dealer::Request;
use indomain_core::trig::{Angles, TrigMaskShare, encode_scaled, for_harmonics};
use indomain_core::truncate::{TwoPartyRole, truncate_local};
use indomain_net::PartySet;
use rand::RngExt;

const PHASE_TRIG: &str = "two-party trigonometric masks";

impl TwoParty {
    /// `len` masks with shares of their first `harmonics` cosines and sines.
    pub(super) fn angle_masks(
        &mut self,
        parties: &mut PartySet,
        len: usize,
        modulus_bits: u32,
        harmonics: usize,
        frac_bits: u32,
    ) -> Result<TrigMaskShare, MpcError> {
        if harmonics == 0 || !(1..=64).contains(&modulus_bits) || !(1..=30).contains(&frac_bits) {
            return Err(MpcError::Usage(format!(
                "trigonometric masks of {harmonics} harmonics, modulus 2^{modulus_bits}, \
                 {frac_bits} fractional bits"
            )));
        }
        self.agree(
            parties,
            &Request::TrigMasks {
                len: len as u64,
                modulus_bits,
                harmonics: harmonics as u32,
                frac_bits,
            },
        )?;
        let r: Vec<u64> = (0..len).map(|_| self.rng.random()).collect();
        let angles = Angles::new(modulus_bits);
        let scale = (frac_bits as f64).exp2();
        let one = 1u64 << frac_bits;
        let leader = self.leader();
        // Per mask and harmonic two values: the leader's vectors
        // (cos, sin) and (−sin, cos); the other's scalars cos + 2^f and
        // sin + 2^f.
        let values = len * harmonics * 2;
        let mut own = Vec::with_capacity(if leader { 2 * values } else { values });
        for &r in &r {
            for_harmonics(angles.of(r), harmonics, |_, c, s| {
                let (c, s) = (encode_scaled(c, scale), encode_scaled(s, scale));
                if leader {
                    own.extend([c, s, s.wrapping_neg(), c]);
                } else {
                    own.extend([c.wrapping_add(one), s.wrapping_add(one)]);
                }
            });
        }
        let pair = |i: usize| i / 2;
        let shape = Shape {
            bits: frac_bits + 2,
            len: 2,
            groups: len * harmonics,
            group: &pair,
        };
        let ch = parties.channel(self.peer)?;
        let ole = self
            .ole
            .as_mut()
            .ok_or_else(|| MpcError::Usage("trigonometric masks before agreement".into()))?;
        let mut shares = if leader {
            let mut out = ole.send(ch, &shape, &own, PHASE_TRIG)?;
            // The offset 2^f of the scalars: x·(y + 2^f) − 2^f·x.
            for (o, x) in out.chunks_exact_mut(2).zip(own.chunks_exact(4)) {
                o[0] = o[0].wrapping_sub(x[0].wrapping_add(x[2]).wrapping_mul(one));
                o[1] = o[1].wrapping_sub(x[1].wrapping_add(x[3]).wrapping_mul(one));
            }
            out
        } else {
            ole.receive(ch, &shape, &own, PHASE_TRIG)?
        };
        let role = if leader {
            TwoPartyRole::First
        } else {
            TwoPartyRole::Second
        };
        truncate_local(&mut shares, frac_bits, role)
            .map_err(crate::error::core("two-party trigonometric masks"))?;
        TrigMaskShare::new(r, shares, harmonics)
            .map_err(crate::error::core("two-party trigonometric masks"))
    }
}
