//! Dropout-tolerant secure aggregation for horizontal federated learning:
//! Bonawitz et al., "Practical Secure Aggregation for Privacy-Preserving
//! Machine Learning" (CCS 2017), with the sparse neighbourhoods of SecAgg+
//! (Bell et al., CCS 2020): unsigned rounds (semi-honest server) or signed
//! rounds with the paper's defences against a malicious server — signed
//! keys and the consistency-check round ([`signing`]).
//!
//! Many clients each hold a vector of reals (a model update); one server
//! learns their sum and nothing else. A round:
//!
//! 1. **keys** — each client sends two X25519 public keys: one for
//!    encrypting shares to its neighbours, one for pairwise masks. The
//!    server sends each client its neighbours' keys and a public seed that
//!    fixes the neighbourhood graph ([`graph`]).
//! 2. **shares** — each client draws a 128-bit self-mask seed b_u and
//!    Shamir-shares b_u and its mask secret key (threshold t, [`crate::shamir`]
//!    over the ℓ field) among its neighbours, each share encrypted with
//!    AES-128-GCM under a key agreed with that neighbour; the server only
//!    relays the ciphertexts.
//! 3. **masked input** — each client sends y_u = x_u + PRG(b_u) +
//!    Σ_v ±PRG(s_uv), where s_uv is the 128-bit seed hashed from the X25519
//!    agreement with each neighbour v that sent shares (+ if u < v, − if
//!    u > v), so pairwise masks cancel in the sum.
//! 4. **consistency check** (signed rounds) — the server names the
//!    survivors; each signs the list, and checks the signatures the server
//!    relays before it reveals anything ([`signing`]);
//! 5. **unmasking** — the server names the survivors; each survivor returns,
//!    for each neighbour, the share of b_u if that neighbour survived and of
//!    its mask key if it dropped — never both for the same client. The
//!    server rebuilds them (t shares each), removes the self masks of the
//!    survivors and the masks dropped clients left in their neighbours'
//!    inputs, and decodes the sum.
//!
//! At any step, fewer than t remaining clients (or fewer than t shares of a
//! needed secret) aborts the round with nothing released.
//!
//! Who is in the sum: every client whose masked input arrived. A client
//! that drops before that is left out of the sum; one that drops after it
//! (consistency check, unmasking) is still in it — its self mask is rebuilt
//! from its neighbours' shares. [`RoundOutput`] lists both kinds, with the
//! step at which and the reason why each dropped.
//!
//! What each party learns: the **server** learns the sum of the inputs of
//! the clients whose masked input arrived, and which clients dropped when; everything else it sees is
//! masked by PRG outputs or encrypted. A **client** learns its neighbours'
//! public keys, its shares of their secrets (fewer than t of anything) and
//! the survivor list (signed rounds: and signatures on public values). Security against the server needs that it does not
//! collude with t or more of a client's neighbours; t > k/2 is enforced.
//!
//! Values are fixed-point (`frac_bits` fractional bits) with |x| ≤
//! `max_abs`: clients refuse out-of-range inputs, [`Params::validate`]
//! refuses configurations where n in-range inputs could wrap the ring, and
//! the server checks the unmasked sum against that bound.

pub mod client;
pub mod crypto;
pub mod driver;
pub mod graph;
pub mod messages;
pub mod nonce;
pub mod parameters;
pub mod server;
pub mod signing;
pub mod sim;

pub use client::{run_client, run_client_noised, run_client_signed, run_client_signed_noised};
pub use driver::{run_server, run_server_signed};
pub use parameters::{ServerModel, Threat};
pub use server::{DropCause, Dropped, Outgoing, RoundOutput, ServerRound, Step};
pub use signing::{Mode, Pki};

use crate::AggregateError;
use serde::{Deserialize, Serialize};

/// The most clients a round takes.
pub const MAX_CLIENTS: usize = 10_000;

/// The parameters of one round, known to the server and every client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Params {
    /// Number of clients n (ids 0..n).
    pub clients: usize,
    /// Length of every client's vector.
    pub len: usize,
    /// Neighbours per client k: n − 1 for the complete graph of SecAgg,
    /// fewer (even) for the SecAgg+ graph.
    pub neighbours: usize,
    /// Shares needed to rebuild a client's secret (k/2 < t ≤ k).
    pub threshold: usize,
    /// Fractional bits of the fixed-point encoding.
    pub frac_bits: u32,
    /// The bound on |x| every input value must respect.
    pub max_abs: f64,
    /// The round number, bound into every derived key.
    pub round: u64,
    /// The job nonce, bound with the round number into every signed
    /// message and derived key, so that nothing of one job's rounds (round
    /// numbers restart at 0 in every job) is accepted in another's. Agree
    /// on a fresh one per job with [`nonce`]; [`Params::new`] leaves it
    /// zero.
    pub job: [u8; 32],
}

/// Which round of which job: what signatures and derived keys are bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoundId {
    /// The job nonce ([`Params::job`]).
    pub job: [u8; 32],
    /// The round number within the job ([`Params::round`]).
    pub round: u64,
}

/// The shape and encoding of a round by name, for [`Params::from_spec`]:
/// the positional [`Params::new`] takes two `usize` and makes them easy to
/// swap.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RoundSpec {
    /// Number of clients n (ids 0..n).
    pub clients: usize,
    /// Length of every client's vector.
    pub len: usize,
    /// The fixed-point encoding of every input value.
    pub encoding: crate::sum::RealEncoding,
}

impl Params {
    /// Parameters with the default neighbourhood ([`Params::new`]) for a
    /// round described by name.
    ///
    /// ```
    /// # mod indomain { pub use indomain_aggregate as aggregate; }
    /// use indomain::aggregate::secagg::{Params, RoundSpec};
    /// use indomain::aggregate::sum::RealEncoding;
    ///
    /// let params = Params::from_spec(RoundSpec {
    ///     clients: 10,
    ///     len: 100,
    ///     encoding: RealEncoding { frac_bits: 16, max_abs: 1.0 },
    /// })?;
    /// assert_eq!((params.clients, params.len), (10, 100));
    /// # Ok::<(), indomain_aggregate::AggregateError>(())
    /// ```
    pub fn from_spec(spec: RoundSpec) -> Result<Self, AggregateError> {
        let RoundSpec {
            clients,
            len,
            encoding,
        } = spec;
        Self::new(clients, len, encoding.frac_bits, encoding.max_abs)
    }

    /// Parameters with the default neighbourhood: the complete graph for up
    /// to 16 clients (t = ⌊k/2⌋ + 1), otherwise k and t from Bell et al.'s
    /// bounds for [`Threat::DEFAULT`] (see [`parameters`]).
    pub fn new(
        clients: usize,
        len: usize,
        frac_bits: u32,
        max_abs: f64,
    ) -> Result<Self, AggregateError> {
        if clients <= 16 {
            let k = clients.saturating_sub(1);
            return Self::with_graph(clients, len, frac_bits, max_abs, k, k / 2 + 1);
        }
        Self::for_threat(clients, len, frac_bits, max_abs, &Threat::DEFAULT)
    }

    /// Parameters whose neighbourhood size k and threshold t are chosen by
    /// Bell et al.'s bounds for `threat` ([`parameters::neighbourhood`]).
    pub fn for_threat(
        clients: usize,
        len: usize,
        frac_bits: u32,
        max_abs: f64,
        threat: &Threat,
    ) -> Result<Self, AggregateError> {
        let (k, t) = parameters::neighbourhood(clients, threat)?;
        Self::with_graph(clients, len, frac_bits, max_abs, k, t)
    }

    fn with_graph(
        clients: usize,
        len: usize,
        frac_bits: u32,
        max_abs: f64,
        neighbours: usize,
        threshold: usize,
    ) -> Result<Self, AggregateError> {
        let params = Self {
            clients,
            len,
            neighbours,
            threshold,
            frac_bits,
            max_abs,
            round: 0,
            job: [0; 32],
        };
        params.validate()?;
        Ok(params)
    }

    /// The same parameters with neighbourhood size `k` and threshold `t`.
    pub fn with_neighbourhood(mut self, k: usize, t: usize) -> Result<Self, AggregateError> {
        self.neighbours = k;
        self.threshold = t;
        self.validate()?;
        Ok(self)
    }

    /// The round of the job these parameters describe.
    pub fn round_id(&self) -> RoundId {
        RoundId {
            job: self.job,
            round: self.round,
        }
    }

    /// The scale 2^frac_bits.
    pub fn scale(&self) -> f64 {
        2f64.powi(self.frac_bits as i32)
    }

    /// Checks the parameters.
    pub fn validate(&self) -> Result<(), AggregateError> {
        let bad = |m: String| Err(AggregateError::BadParameters(m));
        let (n, k, t) = (self.clients, self.neighbours, self.threshold);
        if !(2..=MAX_CLIENTS).contains(&n) {
            return bad(format!("a round takes 2 to {MAX_CLIENTS} clients, not {n}"));
        }
        if k == 0 || k > n - 1 || (k < n - 1 && k % 2 == 1) {
            return bad(format!(
                "{k} neighbours: use n − 1 = {} (complete graph) or an even number below it",
                n - 1
            ));
        }
        if t <= k / 2 || t > k {
            return bad(format!(
                "threshold {t} must be above k/2 = {} and at most k = {k}",
                k / 2
            ));
        }
        if self.frac_bits > 40 {
            return bad(format!(
                "{} fractional bits: use at most 40",
                self.frac_bits
            ));
        }
        let bound = n as f64 * (self.max_abs * self.scale() + 0.5);
        if !(self.max_abs.is_finite() && self.max_abs > 0.0) || bound >= 2f64.powi(63) {
            return bad(format!(
                "{n} inputs of magnitude up to {} could exceed the fixed-point range 2^{}: lower the bound or the fractional bits",
                self.max_abs,
                63 - self.frac_bits
            ));
        }
        Ok(())
    }
}
