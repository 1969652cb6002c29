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
        ReceiptBody::new(
            ("bank", "j1"),
            &spec_hash,
            crate::audit::ReceiptOutcome::Completed,
            vec![OutputHash {
                name: "intersection".into(),
                receiver: "bank".into(),
                hash: "cd".repeat(32),
            }],
            &"ee".repeat(32),
        ),
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

#[test]
fn a_field_added_inside_an_event_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_log(dir.path());
    let mut l = lines(&path);
    // Parsing would drop the unknown field and the recomputed hash would
    // match: only the stored bytes tell.
    l[2] = l[2].replacen("\"job_id\":", "\"note\":\"x\",\"job_id\":", 1);
    write_lines(&path, &l);
    let (record, reason) = first_bad(&path);
    assert_eq!(record, 2);
    assert!(reason.contains("stored bytes"), "{reason}");
    // Reordered fields, or whitespace, are caught the same way.
    let dir = tempfile::tempdir().unwrap();
    let path = write_log(dir.path());
    let mut l = lines(&path);
    l[1] = l[1].replacen(':', ": ", 1);
    write_lines(&path, &l);
    assert_eq!(first_bad(&path).0, 1);
}

#[test]
fn records_cut_off_the_end_are_caught_with_a_head_kept_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_log(dir.path());
    let head = verify(&path).unwrap().head;
    let mut l = lines(&path);
    l.truncate(4);
    write_lines(&path, &l);
    // The chain alone cannot tell.
    assert_eq!(verify(&path).unwrap().records, 4);
    let heads = [head.clone()];
    let checks = verify::Checks {
        receipts: verify::Receipts::Unchecked,
        heads: &heads,
    };
    let e =
        verify::verify_log(&path, &node_key().verifying_key(), checks, &mut |_| {}).unwrap_err();
    assert!(
        e.to_string()
            .contains(&format!("does not reach head {head}")),
        "{e}"
    );
    // A node with that head in its head file does not start on the log.
    let head_file = dir.path().join("head");
    std::fs::write(&head_file, format!("{head}\n")).unwrap();
    let opened = AuditLog::open_with(&path, node_key(), Some(&head_file), &mut |_| {});
    assert!(opened.is_err());
}

#[test]
fn the_head_file_follows_every_record_and_the_marker_guards_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let head_file = dir.path().join("elsewhere.head");
    let mut log = AuditLog::open_with(&path, node_key(), Some(&head_file), &mut |_| {}).unwrap();
    log.append(Event::NodeStarted {
        node: "bank".into(),
        config_hash: "ef".repeat(32),
    })
    .unwrap();
    assert_eq!(
        std::fs::read_to_string(&head_file).unwrap().trim(),
        log.head()
    );
    assert_eq!(crate::private::mode(&path).unwrap(), 0o600);
    drop(log);
    // Emptied, or removed: refused while the marker says a log was here.
    std::fs::write(&path, "").unwrap();
    let e = AuditLog::open(&path, node_key()).err().unwrap();
    assert!(e.to_string().contains("the log is empty"), "{e}");
    std::fs::remove_file(&path).unwrap();
    let e = AuditLog::open(&path, node_key()).err().unwrap();
    assert!(e.to_string().contains("the log is missing"), "{e}");
    // Removing the marker is the operator's deliberate new start.
    std::fs::remove_file(log::marker_path(&path)).unwrap();
    AuditLog::open(&path, node_key()).unwrap();
}

#[test]
fn a_torn_last_line_is_named_and_only_repair_drops_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_log(dir.path());
    let whole = std::fs::read(&path).unwrap();
    let mut torn = whole.clone();
    torn.extend_from_slice(b"{\"version\":2,\"seq\":6,\"ti");
    std::fs::write(&path, &torn).unwrap();
    let (record, reason) = first_bad(&path);
    assert_eq!(record, RECORDS);
    assert!(
        reason.contains("torn") && reason.contains("audit repair"),
        "{reason}"
    );
    assert!(AuditLog::open(&path, node_key()).is_err());
    let dropped = log::repair(&path).unwrap().unwrap();
    assert_eq!(dropped.line, RECORDS);
    assert_eq!(dropped.bytes, b"{\"version\":2,\"seq\":6,\"ti");
    assert_eq!(std::fs::read(&path).unwrap(), whole);
    assert_eq!(log::repair(&path).unwrap(), None);
    verify(&path).unwrap();
}

#[test]
fn version_1_logs_written_before_salted_commitments_still_verify() {
    // Logs written by the node before record version 2 (a psi-sum job and a
    // refused one, between real nodes), with their audit keys.
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v1");
    let bank = crate::audit::key::parse_public_key(
        "ed25519:22a940ae531057b48e8573481524833c7202260fe97b118a06a40ead40f6d90a",
    )
    .unwrap();
    let tax = crate::audit::key::parse_public_key(
        "ed25519:e71a4e06616a0527536938f4d0830e49de6ad13b7a01de7cffb82143ecbe0c88",
    )
    .unwrap();
    let peers = BTreeMap::from([("tax".to_string(), tax), ("bank".to_string(), bank)]);
    let v = verify_records(&fixtures.join("bank.audit.jsonl"), &bank, &peers, true).unwrap();
    assert_eq!((v.records, v.receipts), (10, 3));
    let v = verify_records(&fixtures.join("tax.audit.jsonl"), &tax, &peers, true).unwrap();
    assert_eq!((v.records, v.receipts), (7, 1));
    // The node's state is rebuilt from them.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("audit.jsonl");
    std::fs::copy(fixtures.join("bank.audit.jsonl"), &copy).unwrap();
    let records = read_records(&copy).unwrap();
    assert!(records.iter().all(|r| r.version == 1));
    let state = crate::state::NodeState::rebuild("bank", &records);
    assert_eq!(state.history().len(), 2);
}
