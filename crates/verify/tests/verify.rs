//! Private verification against the plaintext computation: answers,
//! labels, the operator's transcript, tampering, staleness, updates.

mod common;

use common::*;
use indomain_verify::VerifyError;
use indomain_verify::oprf::OprfKey;
use indomain_verify::publish::Publisher;
use indomain_verify::service::Limits;
use indomain_verify::session;

#[test]
fn answers_equal_plaintext_lookups_and_the_operator_sees_no_query() {
    let d = dataset(300, 1);
    let key = OprfKey::random(&mut rand::rng());
    let p = publish(&d, 1, &key);
    let (mut ch, op) = operator_thread(service(&p, &key, Limits::default()), "bank");
    let welcome = session::hello(&mut ch).unwrap();
    let table = session::fetch_table(&mut ch, &welcome.commitment, &mut |_, _| {}).unwrap();
    let v = indomain_verify::client::Verifier::new(
        signer().verifying_key(),
        welcome.commitment,
        &table,
    )
    .unwrap();
    let qs = queries(&d, 2);
    let mut seen = 0;
    // A small batch size forces several requests.
    let answers = session::verify(
        &mut ch,
        &v,
        &qs,
        session::Batching {
            max_entries: 16,
            max_records: usize::MAX,
        },
        &mut |n| seen = n,
    )
    .unwrap();
    assert_eq!(seen, qs.len());
    assert_eq!(strip(&answers), plaintext(&d, &qs));
    assert!(answers.iter().all(|a| a.version == 1));
    let labelled = answers.iter().filter(|a| a.labels.is_some()).count();
    let mismatched = answers
        .iter()
        .filter(|a| a.matches.iter().any(|m| !m.1))
        .count();
    assert!(
        labelled >= 10 && mismatched >= 30,
        "{labelled} labelled, {mismatched} mismatched"
    );
    drop(ch);
    let transcript = op.join().unwrap().concat();
    for q in &qs {
        assert!(
            !contains(&transcript, q.key.as_bytes()),
            "key {} on the wire",
            q.key
        );
        for (a, v) in &q.claims {
            assert!(
                !contains(&transcript, v.as_bytes()),
                "value of {a} on the wire"
            );
        }
    }
    assert!(
        !contains(&transcript, b"phone"),
        "an attribute name on the wire"
    );
}

#[test]
fn a_tampered_table_a_bad_signature_and_a_stale_version_are_detected() {
    let d = dataset(50, 3);
    let key = OprfKey::random(&mut rand::rng());
    let p = publish(&d, 1, &key);
    let operator = signer().verifying_key();
    let mut bytes = p.bytes.clone();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    let tampered = indomain_verify::client::Verifier::new(operator, p.commitment.clone(), &bytes);
    assert!(
        matches!(tampered, Err(VerifyError::Tampered(_))),
        "{tampered:?}"
    );
    let mut forged = p.commitment.clone();
    forged.commitment.rows += 1;
    let forged = indomain_verify::client::Verifier::new(operator, forged, &p.bytes);
    assert!(
        matches!(forged, Err(VerifyError::Tampered(_))),
        "{forged:?}"
    );
    let impostor = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    let other = Publisher {
        service: "operator",
        key: &key,
        signer: &impostor,
        now: 0,
    }
    .publish(&d, 1)
    .unwrap();
    let wrong = indomain_verify::client::Verifier::new(operator, other.commitment, &other.bytes);
    assert!(matches!(wrong, Err(VerifyError::Tampered(_))), "{wrong:?}");

    let v = verifier(&p);
    v.check_current(&p.commitment).unwrap();
    let key2 = OprfKey::random(&mut rand::rng());
    let p2 = publish(&d, 2, &key2);
    assert!(matches!(
        v.check_current(&p2.commitment),
        Err(VerifyError::Stale {
            have: 1,
            current: 2,
            ..
        })
    ));
    // A client still on version 1 is refused by a version-2 operator.
    let (mut ch, op) = operator_thread(service(&p2, &key2, Limits::default()), "bank");
    let err = session::verify(
        &mut ch,
        &v,
        &queries(&d, 4)[..2],
        session::Batching {
            max_entries: 64,
            max_records: usize::MAX,
        },
        &mut |_| {},
    )
    .unwrap_err();
    assert!(err.to_string().contains("stale version"), "{err}");
    drop(ch);
    op.join().unwrap();
}

#[test]
fn incremental_updates_match_the_new_dataset_and_chain() {
    let mut d = dataset(200, 5);
    let key = OprfKey::random(&mut rand::rng());
    let signer = signer();
    let publisher = Publisher {
        service: "operator",
        key: &key,
        signer: &signer,
        now: 0,
    };
    let p0 = publisher.publish(&d, 7).unwrap();
    let removed: Vec<_> = d.records.drain(..20).collect();
    let mut changed = d.records[0].clone();
    let old = changed.clone();
    changed.values[1] = "new-phone".into();
    changed.labels[0] = "revoked".into();
    d.records[0] = changed.clone();
    let added_new = dataset(230, 6).records.split_off(200);
    d.records.extend(added_new.iter().cloned());
    let mut rm = removed.clone();
    rm.push(old);
    let mut add = added_new.clone();
    add.push(changed);
    let (delta, p1) = publisher.update(&p0, &rm, &add).unwrap();
    assert_eq!(p1.commitment.commitment.revision, 1);
    assert_eq!(p1.table.rows, d.records.len() as u64);

    let v0 = verifier(&p0);
    let v1 = v0.apply(&delta.encode(), p1.commitment.clone()).unwrap();
    assert_eq!(v1.table(), &p1.table);
    // A fresh full publication of the same data under the same key has the
    // same tags (labels are sealed with fresh nonces).
    let full = publisher.publish(&d, 7).unwrap();
    assert_eq!(full.table.tags, p1.table.tags);
    assert_eq!(full.table.sealed.index, p1.table.sealed.index);

    // The operator serves the delta; a client holding revision 0 catches up.
    let svc = service(&p1, &key, Limits::default()).with_deltas(vec![(
        p1.commitment.clone(),
        std::sync::Arc::new(delta.encode()),
    )]);
    let (mut ch, op) = operator_thread(svc, "bank");
    let welcome = session::hello(&mut ch).unwrap();
    assert!(v0.check_current(&welcome.commitment).is_err());
    let caught_up = session::update(&mut ch, &v0, &welcome.commitment).unwrap();
    assert_eq!(caught_up.table(), &p1.table);
    let mut qs = queries(&d, 8);
    qs.extend(queries(
        &indomain_verify::publish::Dataset {
            records: removed,
            ..d.clone()
        },
        9,
    ));
    let answers = session::verify(
        &mut ch,
        &caught_up,
        &qs,
        session::Batching {
            max_entries: 100,
            max_records: usize::MAX,
        },
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(strip(&answers), plaintext(&d, &qs));
    drop(ch);
    op.join().unwrap();

    let mut bad = delta.encode();
    bad[40] ^= 0x80;
    assert!(v0.apply(&bad, p1.commitment.clone()).is_err());
    // A delta applied to the wrong revision is refused.
    assert!(v1.apply(&delta.encode(), p1.commitment.clone()).is_err());
}

#[test]
fn a_bad_query_is_named_by_its_position_across_requests() {
    let d = dataset(20, 13);
    let key = OprfKey::random(&mut rand::rng());
    let p = publish(&d, 1, &key);
    let v = verifier(&p);
    let (mut ch, op) = operator_thread(service(&p, &key, Limits::default()), "bank");
    let mut qs = queries(&d, 14)[..5].to_vec();
    qs[3].claims.push(("salary".into(), "1".into()));
    let batching = session::Batching {
        max_entries: 64,
        max_records: 2,
    };
    let err = session::verify(&mut ch, &v, &qs, batching, &mut |_| {}).unwrap_err();
    assert!(
        err.to_string().contains("query 4: attribute salary"),
        "{err}"
    );
    qs[3].claims.pop();
    let repeated = qs[2].claims[0].clone();
    qs[2].claims.push(repeated);
    let err = session::verify(&mut ch, &v, &qs, batching, &mut |_| {}).unwrap_err();
    assert!(
        err.to_string().contains("query 3") && err.to_string().contains("twice"),
        "{err}"
    );
    drop(ch);
    op.join().unwrap();
}

#[test]
fn the_service_loop_answers_a_client_in_memory_over_a_dyn_channel() {
    use ed25519_dalek::SigningKey;
    use indomain_net::Channel;
    use indomain_net::memory::pair;
    use indomain_verify::client::Verifier;
    use indomain_verify::service::{self, Served};

    let d = dataset(120, 11);
    let key = OprfKey::random(&mut rand::rng());
    // A fresh operator key, from the same `rand` the protocols take.
    let signer = SigningKey::generate(&mut rand::rng());
    let p = Publisher {
        service: "operator",
        key: &key,
        signer: &signer,
        now: 0,
    }
    .publish(&d, 1)
    .unwrap();
    let mut operator = service(&p, &key, Limits::default());
    let (client_end, mut operator_end) = pair("bank", "operator");
    let qs = queries(&d, 12);
    let (served, answers) = std::thread::scope(|s| {
        let op = s.spawn(|| service::serve(&mut operator, &mut operator_end, "bank"));
        // The client holds its link as a trait object, as a party set
        // hands it out.
        let mut boxed: Box<dyn Channel> = Box::new(client_end);
        let ch: &mut dyn Channel = boxed.as_mut();
        let welcome = session::hello(ch).unwrap();
        let table = session::fetch_table(ch, &welcome.commitment, &mut |_, _| {}).unwrap();
        let v = Verifier::new(signer.verifying_key(), welcome.commitment, &table).unwrap();
        let batching = session::Batching {
            max_entries: welcome.max_batch,
            max_records: usize::MAX,
        };
        let answers = session::verify(ch, &v, &qs, batching, &mut |_| {}).unwrap();
        drop(boxed);
        (op.join().unwrap().unwrap(), answers)
    });
    assert_eq!(strip(&answers), plaintext(&d, &qs));
    // Every claim of every known key is one evaluation; nothing refused.
    let evaluations: usize = qs.iter().map(|q| q.claims.len()).sum();
    assert_eq!(
        served,
        Served {
            requests: served.requests,
            evaluations: evaluations as u64,
            refused: 0,
        }
    );
    assert!(served.requests >= 3, "hello, table, evaluations");
}
