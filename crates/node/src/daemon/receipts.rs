//! Receipts between the parties of a job: each party's signed answer to a
//! proposal, and at the end of a completed job each party's signed receipt
//! of it (with the salted commitments of the outputs it released) sent to
//! every other, kept in the audit log once checked against the peer's
//! audit key, the job and its spec hash.
//!
//! What each side learns: of the other's outputs, their names, receivers
//! and salted commitments; the salts only of outputs it also receives.

use super::Node;
use super::error::JobError;
use crate::audit::{
    CompletionReceipt, Event, OutputHash, OutputRecord, OutputSalt, Receipt, ReceiptBody,
    ReceiptOutcome, Salt,
};
use crate::jobspec::JobSpec;
use crate::state::JobKey;
use indomain_net::{PartySet, wire};

impl Node {
    /// This node's signed receipt that job `key` completed with `outputs`,
    /// quoting its audit log's head now.
    fn completion_receipt(
        &self,
        key: &JobKey,
        spec: &JobSpec,
        outputs: &[OutputRecord],
    ) -> Receipt {
        let outputs = outputs
            .iter()
            .filter_map(|o| {
                Some(OutputHash {
                    name: o.name.clone(),
                    receiver: o.receiver.clone(),
                    hash: o.hash.clone()?,
                })
            })
            .collect();
        let body = ReceiptBody::new(
            (&key.proposer, &key.id),
            &spec.hash().to_string(),
            ReceiptOutcome::Completed,
            outputs,
            &self.audit_head(),
        );
        Receipt::sign(body, &self.config.name, &self.key)
    }

    /// What this node sends `peer` at the end of the job: its receipt and
    /// the salts of the outputs `peer` also receives.
    fn completion_for(
        &self,
        spec: &JobSpec,
        peer: &str,
        receipt: &Receipt,
        salts: &[(String, Salt)],
    ) -> CompletionReceipt {
        let salts = salts
            .iter()
            .filter(|(name, _)| {
                spec.outputs
                    .iter()
                    .any(|o| o.name == *name && o.receiver == peer)
            })
            .map(|(name, salt)| OutputSalt {
                name: name.clone(),
                salt: salt.to_hex(),
            })
            .collect();
        CompletionReceipt {
            receipt: receipt.clone(),
            salts,
        }
    }

    /// Sends every other party this node's signed receipt of the completed
    /// job, then keeps each party's. The job is complete either way; a
    /// missing or bad receipt is logged, not fatal.
    pub(super) fn exchange_receipts(
        &self,
        key: &JobKey,
        spec: &JobSpec,
        parties: &mut PartySet,
        (outputs, salts): (&[OutputRecord], &[(String, Salt)]),
    ) {
        let mine = self.completion_receipt(key, spec, outputs);
        let others: Vec<usize> = parties.others().collect();
        for &i in &others {
            let sent = self.completion_for(spec, parties.name(i), &mine, salts);
            let sent = parties.channel(i).and_then(|ch| wire::send_msg(ch, &sent));
            if let Err(e) = sent {
                tracing::warn!("job {key}: sending the receipt: {e}");
            }
        }
        for &i in &others {
            let peer = parties.name(i).to_string();
            let kept = parties
                .channel(i)
                .and_then(wire::recv_msg::<CompletionReceipt>)
                .map_err(|e| JobError::Receipt {
                    peer: peer.clone(),
                    reason: e.to_string(),
                })
                .and_then(|c| self.keep_completion(&peer, (key, spec), c));
            if let Err(e) = kept {
                tracing::warn!("job {key}: no valid completion receipt from {peer}: {e}");
            }
        }
    }

    /// Keeps `peer`'s completion receipt, and the salts it gave (of outputs
    /// this node also receives) beside this node's outputs.
    fn keep_completion(
        &self,
        peer: &str,
        (key, spec): (&JobKey, &JobSpec),
        completion: CompletionReceipt,
    ) -> Result<(), JobError> {
        let CompletionReceipt { receipt, salts } = completion;
        let me = self.config.name.as_str();
        for s in &salts {
            let mine = spec
                .outputs
                .iter()
                .any(|o| o.name == s.name && o.receiver == me);
            if !mine || s.salt().is_none() {
                return Err(JobError::Receipt {
                    peer: peer.to_string(),
                    reason: "it sent a salt this node has no use for".into(),
                });
            }
        }
        self.keep_receipt(peer, (key, spec), ReceiptOutcome::Completed, receipt)?;
        if !salts.is_empty() {
            let lines: String = salts
                .iter()
                .map(|s| format!("{} {}\n", s.name, s.salt))
                .collect();
            let path = self.results_dir(key).join(format!("salts-from-{peer}"));
            crate::private::write(&path, lines.as_bytes())
                .map_err(|source| JobError::Output { path, source })?;
        }
        Ok(())
    }

    /// Checks a peer's receipt for `spec` (signer, version, signature
    /// against the peer's audit key, job, spec hash, outcome) and stores
    /// it in the log.
    pub(super) fn keep_receipt(
        &self,
        peer: &str,
        (key, spec): (&JobKey, &JobSpec),
        outcome: ReceiptOutcome,
        receipt: Receipt,
    ) -> Result<(), JobError> {
        let bad = |reason: String| JobError::Receipt {
            peer: peer.to_string(),
            reason,
        };
        let audit_key = self
            .config
            .peers
            .get(peer)
            .map(|p| p.audit_key)
            .ok_or_else(|| bad("not a configured peer".into()))?;
        let body = &receipt.body;
        if receipt.signer != peer
            || body.job_id != key.id
            || body.proposer.as_deref() != Some(key.proposer.as_str())
            || body.spec_hash != spec.hash().to_string()
            || body.outcome != outcome
        {
            return Err(bad("it does not match the job and its answer".into()));
        }
        // A version-1 receipt quotes outputs by their plain hash.
        if body.version != crate::audit::receipt::RECEIPT_VERSION {
            return Err(bad(format!(
                "it is of version {}, not {}",
                body.version,
                crate::audit::receipt::RECEIPT_VERSION
            )));
        }
        receipt.verify(&audit_key).map_err(|e| bad(e.to_string()))?;
        self.log(Event::Receipt(receipt))
    }
}
