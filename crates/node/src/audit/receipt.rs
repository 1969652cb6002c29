//! Receipts: at the end of a job each party signs (job id, spec hash,
//! outcome, output commitments, the head of its audit log) with its audit
//! key and gives it to the others, who store it in their own audit log. A
//! node thereby holds proof of what each peer agreed the job produced and
//! how far that peer's log reached; a forged or altered receipt fails
//! [`Receipt::verify`] against the peer's key from the configuration.
//!
//! What a receipt reveals to whoever holds it (every other party of the
//! job, the dealer included, and every reader of their logs): the job id,
//! spec hash and outcome, which outputs the signer released to whom, and
//! the signer's audit head — never an output's content. Since version 2 an
//! output is quoted by its salted commitment ([`super::commitment`]); the
//! salt travels beside the receipt ([`CompletionReceipt`]) only to the
//! output's receivers. Version-1 receipts quoted the plain SHA-256 of the
//! bytes, which gives small results away to a brute force; they still
//! verify (old logs), but a node no longer accepts one from a peer.

use super::commitment::Salt;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};

const RECEIPT_DOMAIN_V1: &[u8] = b"indomain/receipt/v1\n";
const RECEIPT_DOMAIN_V2: &[u8] = b"indomain/receipt/v2\n";

/// The receipt version this node signs.
pub const RECEIPT_VERSION: u32 = 2;

/// An output's name, receiver and what the signer commits to about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputHash {
    /// The output.
    pub name: String,
    /// Who received it.
    pub receiver: String,
    /// Version 2: the hex salted commitment of its bytes
    /// ([`Salt::commit`]); version 1: the hex SHA-256 of its bytes.
    pub hash: String,
}

fn is_v1(v: &u32) -> bool {
    *v == 1
}

fn v1() -> u32 {
    1
}

/// What a receipt says happened to the job. In JSON (and so in the signed
/// bytes) it is the lower-case word it always was; a word this version does
/// not know (an older or newer node's) is kept as it came, so every receipt
/// in a log reads back to the bytes that were signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
#[non_exhaustive]
pub enum ReceiptOutcome {
    /// The signer accepted the proposal.
    Accepted,
    /// The signer refused the proposal.
    Refused,
    /// The job completed at the signer with the receipt's outputs.
    Completed,
    /// The job failed at the signer.
    Failed,
    /// The job was cancelled.
    Cancelled,
    /// A word this version does not know, kept as it was signed.
    Other(String),
}

impl ReceiptOutcome {
    /// The word that stands for it.
    pub fn as_str(&self) -> &str {
        match self {
            ReceiptOutcome::Accepted => "accepted",
            ReceiptOutcome::Refused => "refused",
            ReceiptOutcome::Completed => "completed",
            ReceiptOutcome::Failed => "failed",
            ReceiptOutcome::Cancelled => "cancelled",
            ReceiptOutcome::Other(word) => word,
        }
    }
}

impl From<String> for ReceiptOutcome {
    fn from(word: String) -> Self {
        match word.as_str() {
            "accepted" => ReceiptOutcome::Accepted,
            "refused" => ReceiptOutcome::Refused,
            "completed" => ReceiptOutcome::Completed,
            "failed" => ReceiptOutcome::Failed,
            "cancelled" => ReceiptOutcome::Cancelled,
            _ => ReceiptOutcome::Other(word),
        }
    }
}

impl From<ReceiptOutcome> for String {
    fn from(outcome: ReceiptOutcome) -> String {
        outcome.as_str().to_string()
    }
}

impl std::fmt::Display for ReceiptOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a receipt vouches for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptBody {
    /// The receipt's version: 1 (absent in old logs) or
    /// [`RECEIPT_VERSION`].
    #[serde(default = "v1", skip_serializing_if = "is_v1")]
    pub version: u32,
    /// The job id.
    pub job_id: String,
    /// The job's proposer (version 2): job ids are unique per proposer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proposer: Option<String>,
    /// Hex SHA-256 of the job spec.
    pub spec_hash: String,
    /// What the signer vouches happened to the job.
    pub outcome: ReceiptOutcome,
    /// The outputs released.
    pub outputs: Vec<OutputHash>,
    /// The rule of the signer's policy that decided (version 2, receipts of
    /// an `accepted` or `refused` decision).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// The hash of the last record of the signer's audit log when it
    /// signed (version 2), so every peer holds a head the signer's log
    /// must keep reaching (`indomain audit verify --head`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_head: Option<String>,
}

impl ReceiptBody {
    /// A current-version body.
    pub fn new(
        (proposer, job_id): (&str, &str),
        spec_hash: &str,
        outcome: ReceiptOutcome,
        outputs: Vec<OutputHash>,
        audit_head: &str,
    ) -> ReceiptBody {
        ReceiptBody {
            version: RECEIPT_VERSION,
            job_id: job_id.to_string(),
            proposer: Some(proposer.to_string()),
            spec_hash: spec_hash.to_string(),
            outcome,
            outputs,
            rule: None,
            audit_head: Some(audit_head.to_string()),
        }
    }

    /// The body with the deciding `rule` (a decision's receipt).
    pub fn with_rule(mut self, rule: &str) -> ReceiptBody {
        self.rule = Some(rule.to_string());
        self
    }
}

/// One output's salt, as a completion receipt's signer gives it to another
/// receiver of that output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputSalt {
    /// The output (the signer's copy, released to the signer).
    pub name: String,
    /// The salt, 64 hex digits.
    pub salt: String,
}

impl OutputSalt {
    /// The salt, if it is 64 hex digits.
    pub fn salt(&self) -> Option<Salt> {
        Salt::from_hex(&self.salt)
    }
}

/// What a party sends each other party at the end of a job: its signed
/// receipt, and the salts of the outputs the addressee also receives (and
/// no other).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompletionReceipt {
    /// The signed receipt (the same for every party).
    pub receipt: Receipt,
    /// Salts for the addressee only.
    pub salts: Vec<OutputSalt>,
}

/// A party's signed receipt.
///
/// In the audit log (JSON) it is an object; on the wire (bincode, which
/// cannot skip absent fields) it travels as the bytes of that same JSON,
/// so a receipt reads back exactly as it was signed either way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The signed content.
    pub body: ReceiptBody,
    /// The signing party's name.
    pub signer: String,
    /// Hex ed25519 signature over the domain tag and the body's JSON.
    pub signature: String,
}

/// [`Receipt`]'s fields, as JSON holds them.
#[derive(Serialize, Deserialize)]
struct ReceiptFields {
    body: ReceiptBody,
    signer: String,
    signature: String,
}

impl Serialize for Receipt {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let fields = ReceiptFields {
            body: self.body.clone(),
            signer: self.signer.clone(),
            signature: self.signature.clone(),
        };
        if s.is_human_readable() {
            fields.serialize(s)
        } else {
            let json = serde_json::to_vec(&fields).map_err(serde::ser::Error::custom)?;
            s.serialize_bytes(&json)
        }
    }
}

impl<'de> Deserialize<'de> for Receipt {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Receipt, D::Error> {
        let fields = if d.is_human_readable() {
            ReceiptFields::deserialize(d)?
        } else {
            let json: Vec<u8> = Vec::deserialize(d)?;
            serde_json::from_slice(&json).map_err(serde::de::Error::custom)?
        };
        Ok(Receipt {
            body: fields.body,
            signer: fields.signer,
            signature: fields.signature,
        })
    }
}

fn message(body: &ReceiptBody) -> Vec<u8> {
    let mut m = match body.version {
        1 => RECEIPT_DOMAIN_V1.to_vec(),
        _ => RECEIPT_DOMAIN_V2.to_vec(),
    };
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

    /// Checks the signature against the signer's public key (a receipt of
    /// a version this node does not know fails).
    pub fn verify(&self, key: &VerifyingKey) -> Result<(), ReceiptError> {
        let signer = self.signer.clone();
        if !(1..=RECEIPT_VERSION).contains(&self.body.version) {
            return Err(ReceiptError::UnknownVersion {
                signer,
                version: self.body.version,
            });
        }
        let bytes = crate::hex::decode::<64>(&self.signature)
            .ok_or_else(|| ReceiptError::NotHex(signer.clone()))?;
        key.verify(&message(&self.body), &Signature::from_bytes(&bytes))
            .map_err(|_| ReceiptError::Forged(signer))
    }
}

/// Why a receipt does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReceiptError {
    /// Its version is not one this node knows.
    #[error("receipt of {signer}: version {version} is unknown here")]
    UnknownVersion {
        /// Who signed it.
        signer: String,
        /// Its version.
        version: u32,
    },
    /// Its signature is not 128 hex digits.
    #[error("receipt of {0}: the signature is not 128 hex digits")]
    NotHex(String),
    /// Its signature does not verify against the signer's key.
    #[error("receipt of {0}: the signature does not verify")]
    Forged(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body() -> ReceiptBody {
        ReceiptBody::new(
            ("bank", "j1"),
            &"ab".repeat(32),
            ReceiptOutcome::Completed,
            vec![OutputHash {
                name: "intersection".into(),
                receiver: "bank".into(),
                hash: "cd".repeat(32),
            }],
            &"ef".repeat(32),
        )
    }

    #[test]
    fn receipts_cross_the_wire_whole() {
        // bincode cannot skip absent fields: a receipt travels as its JSON.
        let key = SigningKey::from_bytes(&[7; 32]);
        for body in [body(), body().with_rule("policy.peers.bank.allow[0]")] {
            let receipt = Receipt::sign(body, "tax", &key);
            let wire = CompletionReceipt {
                receipt: receipt.clone(),
                salts: vec![OutputSalt {
                    name: "intersection".into(),
                    salt: "ab".repeat(32),
                }],
            };
            let (mut a, mut b) = indomain_net::memory::pair("bank", "tax");
            indomain_net::wire::send_msg(&mut a, &wire).unwrap();
            let back: CompletionReceipt = indomain_net::wire::recv_msg(&mut b).unwrap();
            assert_eq!(back, wire);
            back.receipt.verify(&key.verifying_key()).unwrap();
            // In JSON it is the plain object the log has always held.
            let json = serde_json::to_string(&receipt).unwrap();
            assert!(json.starts_with("{\"body\":{"), "{json}");
        }
    }

    #[test]
    fn version_1_receipts_keep_their_bytes_and_verify() {
        // A receipt as version 1 wrote it (no version, no head): it reads
        // back, serialises to the same bytes and verifies under the v1 tag.
        let key = SigningKey::from_bytes(&[7; 32]);
        let old = ReceiptBody {
            version: 1,
            proposer: None,
            rule: None,
            audit_head: None,
            ..body()
        };
        let signed = Receipt::sign(old, "tax", &key);
        let json = serde_json::to_string(&signed).unwrap();
        assert!(
            !["version", "audit_head", "proposer", "rule"]
                .iter()
                .any(|f| json.contains(f)),
            "{json}"
        );
        let back: Receipt = serde_json::from_str(&json).unwrap();
        assert_eq!(serde_json::to_string(&back).unwrap(), json);
        back.verify(&key.verifying_key()).unwrap();
        // The same body under the version-2 tag is another signature.
        let mut relabelled = back;
        relabelled.body.version = 2;
        assert!(relabelled.verify(&key.verifying_key()).is_err());
        relabelled.body.version = 3;
        assert!(
            relabelled
                .verify(&key.verifying_key())
                .unwrap_err()
                .to_string()
                .contains("version 3")
        );
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
        altered.body.outcome = ReceiptOutcome::Failed;
        assert!(altered.verify(&key.verifying_key()).is_err());
        let mut garbled = receipt;
        garbled.signature = "zz".into();
        assert!(
            garbled
                .verify(&key.verifying_key())
                .unwrap_err()
                .to_string()
                .contains("hex")
        );
    }

    /// Receipts signed before the outcome was typed (version 1, and
    /// version 2 of an acceptance, a completion and a refusal, as the
    /// previous code wrote them): they read back to the same bytes and
    /// verify.
    #[test]
    fn receipts_signed_with_the_outcome_as_text_still_verify() {
        let key = SigningKey::from_bytes(&[7; 32]).verifying_key();
        let signed = [
            (
                ReceiptOutcome::Accepted,
                r#"{"body":{"job_id":"j1","spec_hash":"abababababababababababababababababababababababababababababababab","outcome":"accepted","outputs":[{"name":"intersection","receiver":"bank","hash":"cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd"}]},"signer":"tax","signature":"4e271f6d006a4329a8712eb43a4ac90242c722c3f32246e4d6d0d3fb3f1b6e247440b6518cb8afaa538a31203e3a0ae598bb0403078dd574881496de555f570e"}"#,
            ),
            (
                ReceiptOutcome::Completed,
                r#"{"body":{"version":2,"job_id":"j1","proposer":"bank","spec_hash":"abababababababababababababababababababababababababababababababab","outcome":"completed","outputs":[{"name":"intersection","receiver":"bank","hash":"cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd"}],"audit_head":"efefefefefefefefefefefefefefefefefefefefefefefefefefefefefefefef"},"signer":"tax","signature":"0fe60cf56b6c1b6442799c1a133b6df0759af339ca4dc9c05884732cc834f9ed812d1d6af5d91d443ae3379978881ba70048484b2efc13f1b7b783b9d6bf1804"}"#,
            ),
            (
                ReceiptOutcome::Refused,
                r#"{"body":{"version":2,"job_id":"j1","proposer":"bank","spec_hash":"abababababababababababababababababababababababababababababababab","outcome":"refused","outputs":[],"rule":"policy.peers.bank.allow[0]","audit_head":"efefefefefefefefefefefefefefefefefefefefefefefefefefefefefefefef"},"signer":"tax","signature":"110a5fbdc0f51ee9270d1fd9f85ac002c3db7e528e0c39f824f103942732588679a22afee8ad2fbffd0c28efa6074e5e44b67c07ec2f60a64aa2acf6728f2b0d"}"#,
            ),
        ];
        for (outcome, json) in signed {
            let receipt: Receipt = serde_json::from_str(json).unwrap();
            assert_eq!(receipt.body.outcome, outcome);
            assert_eq!(serde_json::to_string(&receipt).unwrap(), json);
            receipt.verify(&key).unwrap();
        }
        // A word this version does not know is kept as signed.
        let unknown = ReceiptOutcome::from("withdrawn".to_string());
        assert_eq!(unknown, ReceiptOutcome::Other("withdrawn".into()));
        assert_eq!(serde_json::to_string(&unknown).unwrap(), "\"withdrawn\"");
    }
}
