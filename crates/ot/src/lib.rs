//! indomain-ot: the oblivious-transfer stack shared by the protocols above
//! it — RR22 PSI (`indomain-psi`) and the two-party correlations of
//! `indomain-mpc` — all semi-honest, between two parties over a
//! [`indomain_net::Channel`]:
//!
//! - [`base_ot`]: Chou–Orlandi "simplest OT" on ristretto255;
//! - [`iknp`]: IKNP correlated-OT extension with one global Δ;
//! - [`pprf`]: GGM punctured PRFs (single-point VOLE);
//! - [`ggm`]: GGM trees grown many at once, level by level, over any
//!   domain size (the two-party bin-sum masks);
//! - [`vole`]: silent random VOLE over GF(2^128);
//! - [`code`]: the expand-convolute dual encoder that compresses it;
//! - [`gf128`], [`prf`]: GF(2^128) arithmetic and AES-128 on blocks.
//!
//! Each module's documentation says what each side learns. The domain
//! strings of the hashes still read `indomain/psi/rr22/v1/…`: they are part
//! of RR22 PSI's wire behaviour, which moving the code did not change.
#![warn(missing_docs)]

pub mod base_ot;
pub mod code;
pub mod error;
pub mod gf128;
pub mod ggm;
pub mod iknp;
pub mod pprf;
pub mod prf;
pub mod vole;

pub use error::{OtError, Phase};
