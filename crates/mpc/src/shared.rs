//! A party's additive share of a ring vector, and the local operations on
//! shares: adding shares, adding or multiplying by public values.
//!
//! Nothing here communicates and nothing is learned: local operations on
//! shares give shares of the result. Values are fixed-point with f
//! fractional bits (the session's codec); multiplying by a public
//! fixed-point constant doubles them, which [`crate::Session::truncate`]
//! undoes.

use crate::MpcError;
use crate::roster::LEADER;
use indomain_core::ring;

/// This party's share of a secret ring vector.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Shared(pub Vec<u64>);

fn usage(e: indomain_core::CoreError) -> MpcError {
    MpcError::Core {
        phase: "local operation on shares",
        source: e,
    }
}

impl Shared {
    /// A sharing of zero (every party holds zeros).
    pub fn zeros(len: usize) -> Self {
        Self(vec![0; len])
    }

    /// A sharing of a public vector: the leader holds it, every other rank
    /// zeros.
    pub fn public(values: &[u64], rank: usize) -> Self {
        if rank == LEADER {
            Self(values.to_vec())
        } else {
            Self::zeros(values.len())
        }
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The share as a slice.
    pub fn as_slice(&self) -> &[u64] {
        &self.0
    }

    /// A share of the sum of the elements, as a one-element vector (local:
    /// each party adds up its own share). Fixed-point values keep their
    /// fractional bits; the inner product of two shared vectors is
    /// [`Session::dot`](crate::Session::dot).
    pub fn sum(&self) -> Shared {
        Shared(vec![
            self.0.iter().fold(0u64, |acc, &v| acc.wrapping_add(v)),
        ])
    }

    /// self += other.
    pub fn add_assign(&mut self, other: &Shared) -> Result<(), MpcError> {
        ring::add_assign(&mut self.0, &other.0).map_err(usage)
    }

    /// self −= other.
    pub fn sub_assign(&mut self, other: &Shared) -> Result<(), MpcError> {
        ring::sub_assign(&mut self.0, &other.0).map_err(usage)
    }

    /// self + other.
    pub fn add(&self, other: &Shared) -> Result<Shared, MpcError> {
        let mut out = self.clone();
        out.add_assign(other)?;
        Ok(out)
    }

    /// self − other.
    pub fn sub(&self, other: &Shared) -> Result<Shared, MpcError> {
        let mut out = self.clone();
        out.sub_assign(other)?;
        Ok(out)
    }

    /// self += public (the leader adds it; the others keep their shares).
    pub fn add_public(&mut self, public: &[u64], rank: usize) -> Result<(), MpcError> {
        if public.len() != self.len() {
            return Err(MpcError::Usage(format!(
                "adding a public vector of {} elements to a share of {}",
                public.len(),
                self.len()
            )));
        }
        if rank == LEADER {
            ring::add_assign(&mut self.0, public).map_err(usage)?;
        }
        Ok(())
    }

    /// self −= public (the leader subtracts it).
    pub fn sub_public(&mut self, public: &[u64], rank: usize) -> Result<(), MpcError> {
        if public.len() != self.len() {
            return Err(MpcError::Usage(format!(
                "subtracting a public vector of {} elements from a share of {}",
                public.len(),
                self.len()
            )));
        }
        if rank == LEADER {
            ring::sub_assign(&mut self.0, public).map_err(usage)?;
        }
        Ok(())
    }

    /// self ·= k for a public ring constant (every party scales).
    pub fn scale(&mut self, k: u64) {
        ring::scale_assign(&mut self.0, k);
    }

    /// self ·= public element-wise (every party multiplies).
    pub fn mul_public(&mut self, public: &[u64]) -> Result<(), MpcError> {
        ring::mul_assign(&mut self.0, public).map_err(usage)
    }
}
