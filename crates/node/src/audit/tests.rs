use super::verify::{read_records, verify_records};
use super::*;
use crate::error::NodeError;
use crate::grade::Grade;
use crate::jobspec::{Param, Protocol};
use ed25519_dalek::{SigningKey, VerifyingKey};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const RECORDS: u64 = 6;

fn node_key() -> SigningKey {
    SigningKey::from_bytes(&[3; 32])
}

fn peer_key() -> SigningKey {
    SigningKey::from_bytes(&[4; 32])
}

fn peers() -> BTreeMap<String, VerifyingKey> {
    BTreeMap::from([("tax".to_string(), peer_key().verifying_key())])
}

fn job(outcome: Outcome, hash: Option<&str>) -> Event {
    Event::Job(JobRecord {
        job_id: "j1".into(),
        spec_hash: "ab".repeat(32),
        proposer: "bank".into(),
        peers: vec!["bank".into(), "tax".into()],
        protocol: Protocol::PsiIntersection,
        purpose: "overlap".into(),
        dataset: "customers".into(),
        columns: vec![Touched {
            column: "id".into(),
            grade: Grade::Internal,
        }],
        parameters: BTreeMap::from([
            ("min_intersection".to_string(), Param::Int(10)),
            ("rate".to_string(), Param::Float(0.1)),
        ]),
        outputs: vec![OutputRecord {
            name: "intersection".into(),
            receiver: "bank".into(),
            hash: hash.map(str::to_string),
        }],
        bytes_sent: 1234,
        bytes_received: 5678,
        outcome,
        started_ms: 1000,
        finished_ms: 2000,
    })
}

fn receipt(key: &SigningKey, spec_hash: String) -> Event {
    Event::Receipt(Receipt::sign(
        ReceiptBody {
            job_id: "j1".into(),
            spec_hash,
            outcome: "completed".into(),
            outputs: vec![OutputHash {
                name: "intersection".into(),
                receiver: "bank".into(),
                hash: "cd".repeat(32),
            }],
        },
        "tax",
        key,
    ))
}

/// A log of `RECORDS` records covering every kind of event.
fn write_log(dir: &Path) -> PathBuf {
    let path = dir.join("audit.jsonl");
    let mut log = AuditLog::open(&path, node_key()).unwrap();
    log.append(Event::NodeStarted {
        node: "bank".into(),
        config_hash: "ef".repeat(32),
    })
    .unwrap();
    log.append(job(Outcome::Proposed, None)).unwrap();
    log.append(job(
        Outcome::Accepted {
            rule: "policy.peers.tax.allow[0]".into(),
        },
        None,
    ))
    .unwrap();
    log.append(Event::Released {
        job_id: "j1".into(),
        output: "intersection".into(),
        receiver: "bank".into(),
        hash: "cd".repeat(32),
    })
    .unwrap();
    log.append(job(Outcome::Completed, Some(&"cd".repeat(32))))
        .unwrap();
    log.append(receipt(&peer_key(), "ab".repeat(32))).unwrap();
    assert_eq!(log.len(), RECORDS);
    path
}

fn verify(path: &Path) -> Result<verify::Verified, NodeError> {
    verify_records(path, &node_key().verifying_key(), &peers(), true)
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn write_lines(path: &Path, lines: &[String]) {
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

/// The record the verifier names as the first bad one.
fn first_bad(path: &Path) -> (u64, String) {
    match verify(path) {
        Err(NodeError::Audit {
            record: Some(r),
            reason,
            ..
        }) => (r, reason),
        other => panic!("expected a bad record, got {other:?}"),
    }
}

#[test]
fn a_written_log_verifies_and_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_log(dir.path());
    let v = verify(&path).unwrap();
    assert_eq!((v.records, v.jobs, v.receipts), (RECORDS, 3, 1));
    // Reopening continues the chain.
    let mut log = AuditLog::open(&path, node_key()).unwrap();
    assert_eq!(log.head(), v.head);
    log.append(job(Outcome::Cancelled { by: "tax".into() }, None))
        .unwrap();
    assert_eq!(verify(&path).unwrap().records, RECORDS + 1);
    let show: Vec<String> = read_records(&path)
        .unwrap()
        .iter()
        .map(show::describe)
        .collect();
    let last = show.last().unwrap();
    assert!(last.contains("CANCELLED by tax"), "{last}");
    assert!(
        show[2].contains("accepted under policy.peers.tax.allow[0]"),
        "{}",
        show[2]
    );
    assert!(show[2].contains("id (internal)"), "{}", show[2]);
    assert!(
        show[5].starts_with("#5 ") && show[5].contains("receipt from tax"),
        "{}",
        show[5]
    );
}

#[test]
fn altering_any_record_is_detected_and_named() {
    for target in 0..RECORDS as usize {
        let dir = tempfile::tempdir().unwrap();
        let path = write_log(dir.path());
        let mut l = lines(&path);
        let mut v: serde_json::Value = serde_json::from_str(&l[target]).unwrap();
        v["time_ms"] = serde_json::json!(v["time_ms"].as_u64().unwrap() + 1);
        l[target] = v.to_string();
        write_lines(&path, &l);
        let (record, reason) = first_bad(&path);
        assert_eq!(record, target as u64);
        assert!(reason.contains("altered"), "{reason}");
        // The node refuses to append to it.
        assert!(AuditLog::open(&path, node_key()).is_err());
    }
}

#[test]
fn a_recomputed_hash_without_the_key_fails_the_signature() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_log(dir.path());
    let mut records = read_records(&path).unwrap();
    if let Event::Job(j) = &mut records[4].event {
        j.bytes_sent = 0;
    }
    records[4].hash = crate::hex::encode(&records[4].compute_hash());
    let l: Vec<String> = records
        .iter()
        .map(|r| serde_json::to_string(r).unwrap())
        .collect();
    write_lines(&path, &l);
    // Record 4 now has a matching hash but no valid signature.
    let (record, reason) = first_bad(&path);
    assert_eq!(record, 4);
    assert!(reason.contains("signature"), "{reason}");
}

#[test]
fn removing_any_record_but_the_last_is_detected() {
    for target in 0..RECORDS as usize - 1 {
        let dir = tempfile::tempdir().unwrap();
        let path = write_log(dir.path());
        let mut l = lines(&path);
        l.remove(target);
        write_lines(&path, &l);
        let (record, reason) = first_bad(&path);
        assert_eq!(record, target as u64);
        assert!(reason.contains("removed"), "{reason}");
    }
}

#[test]
fn reordering_records_is_detected() {
    for target in 0..RECORDS as usize - 1 {
        let dir = tempfile::tempdir().unwrap();
        let path = write_log(dir.path());
        let mut l = lines(&path);
        l.swap(target, target + 1);
        write_lines(&path, &l);
        assert_eq!(first_bad(&path).0, target as u64);
    }
}

#[test]
fn renumbering_a_removed_gap_still_breaks_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_log(dir.path());
    let mut records = read_records(&path).unwrap();
    records.remove(2);
    for (i, r) in records.iter_mut().enumerate() {
        r.seq = i as u64;
    }
    let l: Vec<String> = records
        .iter()
        .map(|r| serde_json::to_string(r).unwrap())
        .collect();
    write_lines(&path, &l);
    assert_eq!(first_bad(&path).0, 2);
}

#[test]
fn forged_receipts_are_detected() {
    // Signed by a key that is not the peer's.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let mut log = AuditLog::open(&path, node_key()).unwrap();
    log.append(job(Outcome::Completed, None)).unwrap();
    log.append(receipt(&SigningKey::from_bytes(&[9; 32]), "ab".repeat(32)))
        .unwrap();
    let (record, reason) = first_bad(&path);
    assert_eq!(record, 1);
    assert!(
        reason.contains("receipt of tax: the signature does not verify"),
        "{reason}"
    );

    // Genuinely signed, but for another spec than the job's.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let mut log = AuditLog::open(&path, node_key()).unwrap();
    log.append(job(Outcome::Completed, None)).unwrap();
    log.append(receipt(&peer_key(), "00".repeat(32))).unwrap();
    let (record, reason) = first_bad(&path);
    assert_eq!(record, 1);
    assert!(reason.contains("another spec hash"), "{reason}");

    // From a signer the configuration does not know.
    let no_peers = verify_records(&path, &node_key().verifying_key(), &BTreeMap::new(), true);
    assert!(matches!(
        no_peers,
        Err(NodeError::Audit {
            record: Some(1),
            ..
        })
    ));
}

#[test]
fn a_log_signed_by_another_node_fails_on_its_first_record() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_log(dir.path());
    let other = SigningKey::from_bytes(&[5; 32]).verifying_key();
    let e = verify_records(&path, &other, &peers(), true).unwrap_err();
    assert!(
        matches!(
            e,
            NodeError::Audit {
                record: Some(0),
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn garbage_lines_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_log(dir.path());
    let mut l = lines(&path);
    l[3] = "{not json".into();
    write_lines(&path, &l);
    let (record, reason) = first_bad(&path);
    assert_eq!(record, 3);
    assert!(reason.starts_with("line 4:"), "{reason}");
}
