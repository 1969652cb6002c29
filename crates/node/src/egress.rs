//! The egress guard: the only way a running job releases an output. It is
//! made from an accepted job's spec and holds the declared outputs and
//! their receivers; a release to anyone else, of an undeclared output, or
//! of an output already released is refused and the refusal is written to
//! the audit log. Each release draws a fresh salt and is logged with the
//! salted commitment of its bytes ([`crate::audit::commitment`]), which the
//! job's final record and receipts quote; the salt stays with the guard
//! (and is written beside the output), never in the log.

use crate::audit::{AuditLog, Event, OutputRecord, Salt};
use crate::jobspec::JobSpec;
use std::sync::{Arc, Mutex};

/// Why a release was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EgressError {
    /// The output is not declared for that receiver.
    #[error(
        "job {job_id}: output {output:?} to {receiver:?} is not declared by the job; not released"
    )]
    Undeclared {
        /// The job.
        job_id: String,
        /// The output.
        output: String,
        /// The receiver asked for.
        receiver: String,
    },
    /// The output was released to that receiver already.
    #[error("job {job_id}: output {output:?} to {receiver:?} was released already")]
    Repeated {
        /// The job.
        job_id: String,
        /// The output.
        output: String,
        /// The receiver.
        receiver: String,
    },
    /// The audit log could not record the release; nothing was released.
    #[error("job {job_id}: the audit log failed, so nothing was released: {reason}")]
    Audit {
        /// The job.
        job_id: String,
        /// The log's error.
        reason: String,
    },
}

/// An accepted job's permit to release its declared outputs.
pub struct EgressGuard {
    job_id: String,
    outputs: Vec<OutputRecord>,
    /// The salt of each released output, by output name.
    salts: Vec<(String, Salt)>,
    log: Arc<Mutex<AuditLog>>,
}

/// A release: the commitment the records quote, and the salt that opens it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Released {
    /// The hex salted commitment of the bytes.
    pub commitment: String,
    /// Its salt, for the output's receivers only.
    pub salt: Salt,
}

impl EgressGuard {
    /// The guard of an accepted job.
    pub fn new(spec: &JobSpec, log: Arc<Mutex<AuditLog>>) -> EgressGuard {
        EgressGuard {
            job_id: spec.id.clone(),
            outputs: spec
                .outputs
                .iter()
                .map(|o| OutputRecord {
                    name: o.name.clone(),
                    receiver: o.receiver.clone(),
                    hash: None,
                })
                .collect(),
            salts: Vec::new(),
            log,
        }
    }

    /// Authorises releasing `bytes` as `output` to `receiver`: logs it and
    /// returns the salted commitment the job's records quote with its
    /// salt, or refuses (and logs the refusal). The caller sends the bytes
    /// only on `Ok`.
    pub fn release(
        &mut self,
        output: &str,
        receiver: &str,
        bytes: &[u8],
    ) -> Result<Released, EgressError> {
        let job_id = self.job_id.clone();
        let Some(slot) = self
            .outputs
            .iter_mut()
            .find(|o| o.name == output && o.receiver == receiver)
        else {
            let err = EgressError::Undeclared {
                job_id: job_id.clone(),
                output: output.into(),
                receiver: receiver.into(),
            };
            let refused = Event::EgressRefused {
                job_id: job_id.clone(),
                output: output.into(),
                receiver: receiver.into(),
                reason: "not declared by the job".into(),
            };
            // The refusal stands whether or not the log takes it.
            if let Err(e) = append(&self.log, refused) {
                tracing::error!("job {job_id}: egress refusal not logged: {e}");
            }
            return Err(err);
        };
        if slot.hash.is_some() {
            return Err(EgressError::Repeated {
                job_id,
                output: output.into(),
                receiver: receiver.into(),
            });
        }
        let salt = Salt::random();
        let commitment = salt.commit(bytes);
        let released = Event::Released {
            job_id: job_id.clone(),
            output: output.into(),
            receiver: receiver.into(),
            hash: commitment.clone(),
        };
        append(&self.log, released).map_err(|e| EgressError::Audit {
            job_id,
            reason: e.to_string(),
        })?;
        slot.hash = Some(commitment.clone());
        self.salts.push((output.to_string(), salt));
        Ok(Released { commitment, salt })
    }

    /// The declared outputs, with the commitments of those released so far.
    pub fn outputs(&self) -> &[OutputRecord] {
        &self.outputs
    }

    /// The salts of the outputs released so far, by output name.
    pub fn salts(&self) -> &[(String, Salt)] {
        &self.salts
    }
}

fn append(log: &Mutex<AuditLog>, event: Event) -> Result<(), crate::NodeError> {
    // A thread that panicked holding the log left it as consistent as any
    // append does (one record written whole or not at all).
    let mut log = log.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    log.append(event).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::verify::read_records;
    use crate::jobspec::{Output, Party, Protocol};
    use ed25519_dalek::SigningKey;
    use sha2::Digest;

    fn spec() -> JobSpec {
        let party = |n: &str| Party {
            name: n.into(),
            dataset: "d".into(),
            columns: vec!["id".into()],
        };
        JobSpec {
            id: "j7".into(),
            protocol: Protocol::PsiSum,
            purpose: String::new(),
            parties: vec![party("bank"), party("tax")],
            parameters: Default::default(),
            outputs: vec![
                Output {
                    name: "sum".into(),
                    receiver: "tax".into(),
                },
                Output {
                    name: "cardinality".into(),
                    receiver: "bank".into(),
                },
            ],
        }
    }

    #[test]
    fn releases_only_declared_outputs_once_and_logs_everything() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let log = Arc::new(Mutex::new(
            AuditLog::open(&path, SigningKey::from_bytes(&[1; 32])).unwrap(),
        ));
        let mut guard = EgressGuard::new(&spec(), log);
        let released = guard.release("sum", "tax", b"42").unwrap();
        assert!(released.salt.opens(&released.commitment, b"42"));
        // Not the plain hash of the bytes: nothing to brute-force.
        assert_ne!(
            released.commitment,
            crate::hex::encode(&sha2::Sha256::digest(b"42"))
        );
        // Declared output, undeclared receiver.
        let e = guard.release("sum", "bank", b"42").unwrap_err();
        assert!(matches!(e, EgressError::Undeclared { .. }), "{e}");
        // Undeclared output.
        assert!(matches!(
            guard.release("intersection", "bank", b"x"),
            Err(EgressError::Undeclared { .. })
        ));
        // A second release of the same output.
        assert!(matches!(
            guard.release("sum", "tax", b"43"),
            Err(EgressError::Repeated { .. })
        ));
        guard.release("cardinality", "bank", b"3").unwrap();
        assert!(guard.outputs().iter().all(|o| o.hash.is_some()));
        assert_eq!(guard.salts().len(), 2);

        let events: Vec<Event> = read_records(&path)
            .unwrap()
            .into_iter()
            .map(|r| r.event)
            .collect();
        assert_eq!(events.len(), 4);
        assert!(
            matches!(&events[0], Event::Released { output, receiver, .. } if output == "sum" && receiver == "tax")
        );
        assert!(
            matches!(&events[1], Event::EgressRefused { output, receiver, .. } if output == "sum" && receiver == "bank")
        );
        assert!(
            matches!(&events[2], Event::EgressRefused { output, .. } if output == "intersection")
        );
        assert!(matches!(&events[3], Event::Released { output, .. } if output == "cardinality"));
    }
}
