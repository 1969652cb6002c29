//! Shared test helpers: generated datasets, the plaintext look-up the
//! protocol must agree with, and an operator thread over a memory channel
//! that records every frame it receives.
#![allow(dead_code)]

use ed25519_dalek::SigningKey;
use indomain_net::Channel;
use indomain_net::memory::{MemoryChannel, pair};
use indomain_verify::client::{Answer, Verifier};
use indomain_verify::oprf::OprfKey;
use indomain_verify::publish::{Dataset, Published, Publisher};
use indomain_verify::record::{Query, Record};
use indomain_verify::service::{Handled, Limits, Service};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

/// What a correct answer says: per claim, match or not; the labels.
pub type Expected = (Vec<(String, bool)>, Option<Vec<(String, String)>>);

pub const ATTRS: [&str; 3] = ["name", "phone", "city"];

pub fn signer() -> SigningKey {
    SigningKey::from_bytes(&[42; 32])
}

fn word(rng: &mut StdRng, prefix: &str) -> String {
    format!("{prefix}-{:012x}", rng.random::<u64>() & 0xffff_ffff_ffff)
}

/// `n` records with three attributes and two label columns.
pub fn dataset(n: usize, seed: u64) -> Dataset {
    let mut rng = StdRng::seed_from_u64(seed);
    let records = (0..n)
        .map(|i| Record {
            key: format!("ID{i:06}-{}", word(&mut rng, "k")),
            values: ATTRS.iter().map(|a| word(&mut rng, a)).collect(),
            labels: vec![
                ["valid", "revoked", "suspended"][i % 3].to_string(),
                format!("class-{}", i % 5),
            ],
        })
        .collect();
    Dataset {
        attributes: ATTRS.iter().map(|s| s.to_string()).collect(),
        label_columns: vec!["status".into(), "class".into()],
        records,
    }
}

/// Queries with full matches, one wrong attribute, partial claims and
/// unknown keys.
pub fn queries(d: &Dataset, seed: u64) -> Vec<Query> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut out = Vec::new();
    for (i, r) in d.records.iter().enumerate().take(60) {
        let mut claims: Vec<(String, String)> = ATTRS
            .iter()
            .zip(&r.values)
            .map(|(a, v)| (a.to_string(), v.clone()))
            .collect();
        match i % 4 {
            0 => {}
            1 => {
                let j = rng.random_range(0..3);
                claims[j].1 = word(&mut rng, "wrong");
            }
            2 => {
                claims.remove(rng.random_range(0..3));
            }
            _ => claims.reverse(),
        }
        out.push(Query {
            key: r.key.clone(),
            claims,
        });
    }
    for _ in 0..20 {
        out.push(Query {
            key: word(&mut rng, "unknown"),
            claims: ATTRS
                .iter()
                .map(|a| (a.to_string(), word(&mut rng, a)))
                .collect(),
        });
    }
    out
}

/// The answers a plaintext look-up gives.
pub fn plaintext(d: &Dataset, queries: &[Query]) -> Vec<Expected> {
    let by_key: HashMap<&str, &Record> = d.records.iter().map(|r| (r.key.as_str(), r)).collect();
    queries
        .iter()
        .map(|q| {
            let rec = by_key.get(q.key.as_str());
            let matches: Vec<(String, bool)> = q
                .claims
                .iter()
                .map(|(a, v)| {
                    let j = d.attributes.iter().position(|x| x == a).unwrap();
                    (a.clone(), rec.is_some_and(|r| &r.values[j] == v))
                })
                .collect();
            let full = q.claims.len() == d.attributes.len() && matches.iter().all(|m| m.1);
            let labels = full.then(|| {
                d.label_columns
                    .iter()
                    .cloned()
                    .zip(rec.unwrap().labels.iter().cloned())
                    .collect()
            });
            (matches, labels)
        })
        .collect()
}

pub fn strip(answers: &[Answer]) -> Vec<Expected> {
    answers
        .iter()
        .map(|a| (a.matches.clone(), a.labels.clone()))
        .collect()
}

pub fn publish(d: &Dataset, version: u64, key: &OprfKey) -> Published {
    let signer = signer();
    Publisher {
        service: "operator",
        key,
        signer: &signer,
        now: 0,
    }
    .publish(d, version)
    .unwrap()
}

pub fn service(p: &Published, key: &OprfKey, limits: Limits) -> Service {
    Service::new(
        key.clone(),
        p.commitment.clone(),
        Arc::new(p.bytes.clone()),
        limits,
        HashMap::new(),
    )
}

/// Runs `service` on a memory channel until the client hangs up; returns
/// every frame the operator received.
pub fn operator_thread(
    mut service: Service,
    client_name: &str,
) -> (MemoryChannel, std::thread::JoinHandle<Vec<Vec<u8>>>) {
    let (client, mut server) = pair(client_name, "operator");
    let name = client_name.to_string();
    let handle = std::thread::spawn(move || {
        let mut transcript = Vec::new();
        while let Ok(frame) = server.recv() {
            let Handled { reply, .. } = service.handle(&name, &frame, Instant::now());
            transcript.push(frame);
            if server.send(&reply).is_err() {
                break;
            }
        }
        transcript
    });
    (client, handle)
}

pub fn verifier(p: &Published) -> Verifier {
    Verifier::new(signer().verifying_key(), p.commitment.clone(), &p.bytes).unwrap()
}

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
