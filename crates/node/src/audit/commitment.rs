//! Output commitments: what receipts and audit records say about an
//! output's bytes without revealing them.
//!
//! A commitment is the SHA-256 of a domain tag, a 256-bit random salt and
//! the output's bytes. The salt is drawn afresh for every output a node
//! releases and given only to that output's receivers (beside the
//! completion receipt) and kept beside the output file; everyone else —
//! non-receivers, the dealer, a reader of an audit log — sees a hash over
//! 256 unknown bits and learns that the output exists, nothing about its
//! content, however few values it could take. A receiver can hand the
//! output and its salt to a third party, who recomputes the commitment and
//! compares it with the one in the signed receipt ([`Salt::commit`],
//! `indomain audit commitment`).
//!
//! Version-1 receipts and records (before salts) quote the plain SHA-256
//! of the bytes; they still verify, and `docs/threat-model.md` says what
//! they reveal.

use rand::Rng;
use sha2::{Digest, Sha256};

const COMMITMENT_DOMAIN: &[u8] = b"indomain/output-commitment/v2\n";

/// The suffix of the file that holds an output's salt, beside the output.
pub const SALT_SUFFIX: &str = ".salt";

/// A 256-bit commitment salt.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Salt(pub [u8; 32]);

impl std::fmt::Debug for Salt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A salt opens a commitment: it is never printed by accident.
        f.write_str("Salt(..)")
    }
}

impl Salt {
    /// A fresh salt from the operating system's CSPRNG.
    pub fn random() -> Salt {
        let mut salt = [0u8; 32];
        rand::rng().fill_bytes(&mut salt);
        Salt(salt)
    }

    /// The salt written as 64 hex digits (as in `OUT.salt` files).
    pub fn to_hex(&self) -> String {
        crate::hex::encode(&self.0)
    }

    /// Parses 64 hex digits (surrounding whitespace allowed).
    pub fn from_hex(s: &str) -> Option<Salt> {
        crate::hex::decode::<32>(s.trim()).map(Salt)
    }

    /// The hex commitment of `bytes` under this salt.
    pub fn commit(&self, bytes: &[u8]) -> String {
        let mut h = Sha256::new();
        h.update(COMMITMENT_DOMAIN);
        h.update(self.0);
        h.update(bytes);
        crate::hex::encode(&h.finalize())
    }

    /// Whether `commitment` is this salt's commitment of `bytes`.
    pub fn opens(&self, commitment: &str, bytes: &[u8]) -> bool {
        self.commit(bytes).eq_ignore_ascii_case(commitment)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_commitment_is_pinned_and_opens_only_with_its_salt_and_bytes() {
        // SHA-256("indomain/output-commitment/v2\n" ‖ 01^32 ‖ "sum\n9149\n"),
        // computed with Python's hashlib.
        let salt = Salt([1; 32]);
        let c = salt.commit(b"sum\n9149\n");
        assert_eq!(
            c,
            "cc12de8030b6bb767dd16dae2f3b836738dc4f9cebd4702b881386719a4e9166"
        );
        assert!(salt.opens(&c, b"sum\n9149\n"));
        assert!(!salt.opens(&c, b"sum\n9148\n"));
        assert!(!Salt([2; 32]).opens(&c, b"sum\n9149\n"));
        assert_eq!(Salt::from_hex(&salt.to_hex()), Some(salt));
        assert_eq!(format!("{salt:?}"), "Salt(..)");
    }

    #[test]
    fn fresh_salts_differ() {
        assert_ne!(Salt::random(), Salt::random());
    }
}
