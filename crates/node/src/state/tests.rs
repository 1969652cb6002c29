use super::*;
use crate::audit::record::{JobRecord, OutputRecord};
use crate::audit::{AuditLog, OutputHash, Receipt, ReceiptBody};
use crate::jobspec::Protocol;
use ed25519_dalek::SigningKey;
use std::collections::BTreeMap;

fn job(proposer: &str, id: &str, outcome: Outcome) -> Event {
    Event::Job(JobRecord {
        job_id: id.into(),
        spec_hash: format!("{id:0>64}").replace(|c: char| !c.is_ascii_hexdigit(), "0"),
        proposer: proposer.into(),
        peers: vec![proposer.into(), "tax".into()],
        protocol: Protocol::PsiCardinality,
        purpose: "overlap".into(),
        dataset: "taxpayers".into(),
        columns: Vec::new(),
        parameters: BTreeMap::new(),
        outputs: vec![OutputRecord {
            name: "cardinality".into(),
            receiver: proposer.into(),
            hash: None,
        }],
        bytes_sent: 0,
        bytes_received: 0,
        outcome,
        started_ms: 0,
        finished_ms: 0,
    })
}

fn accepted(rule: usize) -> Outcome {
    Outcome::Accepted {
        rule: format!("policy.peers.bank.allow[{rule}]"),
    }
}

/// The log of node `tax`: bank's j1 and j2 accepted under rule 0 and
/// completed, j3 refused; its own job k1 with bank's receipts.
fn log(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("audit.jsonl");
    let mut log = AuditLog::open(&path, SigningKey::from_bytes(&[3; 32])).unwrap();
    for id in ["j1", "j2"] {
        log.append(job("bank", id, accepted(0))).unwrap();
        log.append(job("bank", id, Outcome::Completed)).unwrap();
    }
    let refused = Outcome::Refused {
        rule: "policy.peers.bank.allow[0].columns".into(),
        reason: "no".into(),
    };
    log.append(job("bank", "j3", refused)).unwrap();
    log.append(job("tax", "k1", Outcome::Proposed)).unwrap();
    let bank = SigningKey::from_bytes(&[4; 32]);
    let spec_hash = format!("{:0>64}", "1");
    let decision = ReceiptBody::new(
        ("tax", "k1"),
        &spec_hash,
        crate::audit::ReceiptOutcome::Accepted,
        vec![],
        &"aa".repeat(32),
    )
    .with_rule("policy.peers.tax.allow[2]");
    log.append(Event::Receipt(Receipt::sign(decision, "bank", &bank)))
        .unwrap();
    let done = ReceiptBody::new(
        ("tax", "k1"),
        &spec_hash,
        crate::audit::ReceiptOutcome::Completed,
        vec![OutputHash {
            name: "cardinality".into(),
            receiver: "bank".into(),
            hash: "cc".repeat(32),
        }],
        &"bb".repeat(32),
    );
    log.append(Event::Receipt(Receipt::sign(done, "bank", &bank)))
        .unwrap();
    path
}

fn rebuilt(path: &std::path::Path) -> NodeState {
    let records = crate::audit::verify::read_records(path).unwrap();
    NodeState::rebuild("tax", &records)
}

#[test]
fn the_history_folds_every_job_its_decisions_and_receipts() {
    let dir = tempfile::tempdir().unwrap();
    let state = rebuilt(&log(dir.path()));
    let h = state.history();
    assert_eq!(h.len(), 4);
    let ids: Vec<String> = h.jobs().map(|j| j.key.to_string()).collect();
    assert_eq!(ids, ["bank/j1", "bank/j2", "bank/j3", "tax/k1"]);
    let j1 = h.job(&JobKey::new("bank", "j1")).unwrap();
    assert_eq!(j1.state(), "completed");
    assert_eq!(j1.decisions.len(), 1);
    assert_eq!(j1.decisions[0].party, "tax");
    assert_eq!(j1.decisions[0].rule, "policy.peers.bank.allow[0]");
    let j3 = h.job(&JobKey::new("bank", "j3")).unwrap();
    assert_eq!(j3.state(), "refused");
    assert!(!j3.decisions[0].accepted);
    // The proposer's view: the peer's decision with its rule, from its
    // receipt, and its completion receipt with the head it quoted.
    let k1 = h.job(&JobKey::new("tax", "k1")).unwrap();
    assert!(k1.is_open());
    assert_eq!(k1.decisions[0].party, "bank");
    assert_eq!(k1.decisions[0].rule, "policy.peers.tax.allow[2]");
    assert_eq!(k1.receipts.len(), 2);
    assert_eq!(
        k1.receipts[1].audit_head.as_deref(),
        Some(&*"bb".repeat(32))
    );
    assert_eq!(state.open_jobs().len(), 1);
    assert_eq!(state.records(), 8);
}

#[test]
fn counters_and_ids_survive_a_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let path = log(dir.path());
    let state = rebuilt(&path);
    let now = crate::time::now_millis() / 1000;
    assert_eq!(state.admitted_last_hour("bank", 0, now), 2);
    assert_eq!(state.admitted_last_hour("bank", 1, now), 0);
    assert_eq!(state.admitted_last_hour("bank", 0, now + 3600), 0);
    assert_eq!(state.refused_last_minute("bank", now), 1);
    assert_eq!(state.refused_last_minute("bank", now + 60), 0);
    // Ids are per proposer: bank's j1 is taken, tax's j1 is free.
    assert!(state.id_in_use(&JobKey::new("bank", "j1")));
    assert!(!state.id_in_use(&JobKey::new("tax", "j1")));
    // Following the log record by record gives the same state.
    let mut followed = NodeState::new("tax");
    for r in crate::audit::verify::read_records(&path).unwrap() {
        followed.apply(&r);
    }
    assert_eq!(followed.head(), state.head());
    assert_eq!(followed.history().len(), state.history().len());
}

#[test]
fn job_keys_read_and_print_as_proposer_slash_id() {
    let key = JobKey::new("bank", "j1");
    assert_eq!(key.to_string(), "bank/j1");
    assert_eq!(JobKey::parse("bank/j1"), Some(key));
    assert_eq!(JobKey::parse("j1"), None);
    assert_eq!(JobKey::parse("/j1"), None);
    assert_eq!(rule_index("policy.peers.bank.allow[12]", "bank"), Some(12));
    assert_eq!(rule_index("policy.peers.bank.allow[1]", "tax"), None);
    assert_eq!(rule_index("accepted by tax", "bank"), None);
}
