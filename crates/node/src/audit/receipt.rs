//! Receipts: at the end of a job each party signs (job id, spec hash,
//! outcome, output hashes) with its audit key and gives it to the others,
//! who store it in their own audit log. A node thereby holds proof of what
//! each peer agreed the job produced; a forged or altered receipt fails
//! [`Receipt::verify`] against the peer's key from the configuration.

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};

const RECEIPT_DOMAIN: &[u8] = b"indomain/receipt/v1\n";

/// An output's name, receiver and the hex SHA-256 of its bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputHash {
    /// The output.
    pub name: String,
    /// Who received it.
    pub receiver: String,
    /// Hex SHA-256 of its bytes.
    pub hash: String,
}

/// What a receipt vouches for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptBody {
    /// The job id.
    pub job_id: String,
    /// Hex SHA-256 of the job spec.
    pub spec_hash: String,
    /// `completed`, `failed`, `refused` or `cancelled`.
    pub outcome: String,
    /// The outputs released.
    pub outputs: Vec<OutputHash>,
}

/// A party's signed receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// The signed content.
    pub body: ReceiptBody,
    /// The signing party's name.
    pub signer: String,
    /// Hex ed25519 signature over the domain tag and the body's JSON.
    pub signature: String,
}

fn message(body: &ReceiptBody) -> Vec<u8> {
    let mut m = RECEIPT_DOMAIN.to_vec();
    // A plain struct of strings always serialises.
    m.extend(serde_json::to_vec(body).unwrap_or_default());
    m
}

impl Receipt {
    /// `signer`'s receipt over `body`.
    pub fn sign(body: ReceiptBody, signer: &str, key: &SigningKey) -> Receipt {
        let signature = key.sign(&message(&body));
        Receipt {
            body,
            signer: signer.to_string(),
            signature: crate::hex::encode(&signature.to_bytes()),
        }
    }

    /// Checks the signature against the signer's public key.
    pub fn verify(&self, key: &VerifyingKey) -> Result<(), String> {
        let bytes = crate::hex::decode::<64>(&self.signature).ok_or_else(|| {
            format!(
                "receipt of {}: the signature is not 128 hex digits",
                self.signer
            )
        })?;
        key.verify(&message(&self.body), &Signature::from_bytes(&bytes))
            .map_err(|_| format!("receipt of {}: the signature does not verify", self.signer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body() -> ReceiptBody {
        ReceiptBody {
            job_id: "j1".into(),
            spec_hash: "ab".repeat(32),
            outcome: "completed".into(),
            outputs: vec![OutputHash {
                name: "intersection".into(),
                receiver: "bank".into(),
                hash: "cd".repeat(32),
            }],
        }
    }

    #[test]
    fn signed_receipts_verify_and_forgeries_do_not() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let other = SigningKey::from_bytes(&[8; 32]);
        let receipt = Receipt::sign(body(), "tax", &key);
        receipt.verify(&key.verifying_key()).unwrap();
        // Signed by someone else.
        assert!(receipt.verify(&other.verifying_key()).is_err());
        // Altered after signing.
        let mut altered = receipt.clone();
        altered.body.outputs[0].hash = "ce".repeat(32);
        assert!(altered.verify(&key.verifying_key()).is_err());
        let mut altered = receipt.clone();
        altered.body.outcome = "failed".into();
        assert!(altered.verify(&key.verifying_key()).is_err());
        let mut garbled = receipt;
        garbled.signature = "zz".into();
        assert!(
            garbled
                .verify(&key.verifying_key())
                .unwrap_err()
                .contains("hex")
        );
    }
}
