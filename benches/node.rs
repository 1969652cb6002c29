//! What a party node adds around a job: the policy check, the signed audit
//! records, and signing and checking a receipt; and the whole of it with
//! real nodes — a job submitted on the control socket, proposed over QUIC
//! on loopback, checked against the peer's policy, recorded on both sides
//! with the peer's receipt.
//!
//!     cargo bench --bench node

use criterion::{Criterion, criterion_group, criterion_main};
use ed25519_dalek::SigningKey;
use indomain_net::quic::Identity;
use indomain_node::audit::key::{format_public_key, signing_key};
use indomain_node::audit::{AuditLog, Event, JobRecord, Outcome, Receipt, ReceiptBody};
use indomain_node::control::{self, Request, Response};
use indomain_node::daemon::Node;
use indomain_node::grade::Grade;
use indomain_node::jobspec::{JobSpec, Output, Param, Party, Protocol};
use indomain_node::policy::{PeerPolicy, Policy, Rule, check};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::SystemTime;

fn spec() -> JobSpec {
    JobSpec {
        id: "bench".into(),
        protocol: Protocol::PsiIntersection,
        purpose: "overlap".into(),
        parties: vec![
            Party {
                name: "bank".into(),
                dataset: "customers".into(),
                columns: vec!["id".into()],
            },
            Party {
                name: "tax".into(),
                dataset: "taxpayers".into(),
                columns: vec!["id".into()],
            },
        ],
        parameters: BTreeMap::from([("min_intersection".to_string(), Param::Int(10))]),
        outputs: vec![Output {
            name: "intersection".into(),
            receiver: "bank".into(),
        }],
    }
}

/// A policy of 20 rules where only the last one allows the job.
fn policy() -> Policy {
    let grades: BTreeMap<String, Grade> = (0..50)
        .map(|i| (format!("c{i}"), Grade::Sensitive))
        .chain([("id".to_string(), Grade::Internal)])
        .collect();
    let mut allow: Vec<Rule> = (0..19)
        .map(|i| Rule {
            protocols: vec![Protocol::Aggregate],
            datasets: vec!["taxpayers".into()],
            columns: Some(vec![format!("c{i}")]),
            grades: vec![Grade::Sensitive],
            ..Rule::default()
        })
        .collect();
    allow.push(Rule {
        protocols: vec![Protocol::PsiIntersection],
        datasets: vec!["taxpayers".into()],
        columns: Some(vec!["id".into()]),
        grades: vec![Grade::Internal],
        outputs: BTreeMap::from([("intersection".to_string(), vec!["bank".to_string()])]),
        min_intersection: Some(10),
        ..Rule::default()
    });
    Policy {
        me: "tax".into(),
        catalog: BTreeMap::from([("taxpayers".to_string(), grades)]),
        peers: BTreeMap::from([("bank".to_string(), PeerPolicy { allow })]),
    }
}

fn job_event(spec: &JobSpec, outcome: Outcome) -> Event {
    Event::Job(JobRecord {
        job_id: spec.id.clone(),
        spec_hash: spec.hash().to_string(),
        proposer: "bank".into(),
        peers: vec!["bank".into(), "tax".into()],
        protocol: spec.protocol,
        purpose: spec.purpose.clone(),
        dataset: "taxpayers".into(),
        columns: Vec::new(),
        parameters: spec.parameters.clone(),
        outputs: Vec::new(),
        bytes_sent: 0,
        bytes_received: 0,
        outcome,
        started_ms: 0,
        finished_ms: 0,
    })
}

fn parts(c: &mut Criterion) {
    let spec = spec();
    let policy = policy();
    let dir = tempfile::tempdir().unwrap();
    let mut log = AuditLog::open(
        &dir.path().join("audit.jsonl"),
        SigningKey::from_bytes(&[1; 32]),
    )
    .unwrap();
    let peer = SigningKey::from_bytes(&[2; 32]);
    let peer_public = peer.verifying_key();
    let body = ReceiptBody::new(
        ("bank", &spec.id),
        &spec.hash().to_string(),
        indomain_node::audit::ReceiptOutcome::Completed,
        Vec::new(),
        &"ab".repeat(32),
    );
    let mut group = c.benchmark_group("node");
    group.bench_function("policy check (20 rules, last matches)", |b| {
        b.iter(|| check(&policy, "bank", &spec, SystemTime::now()).unwrap())
    });
    group.bench_function("spec hash", |b| b.iter(|| spec.hash()));
    group.bench_function("audit append (hash, sign, write, fsync)", |b| {
        b.iter(|| log.append(job_event(&spec, Outcome::Completed)).unwrap())
    });
    group.bench_function("receipt sign + verify", |b| {
        b.iter(|| {
            Receipt::sign(body.clone(), "tax", &peer)
                .verify(&peer_public)
                .unwrap()
        })
    });
    // One side's bookkeeping for a job: the check, four records (proposed,
    // accepted, receipt, completed), one receipt signed and one verified.
    group.bench_function("per job: check + 4 records + receipt", |b| {
        b.iter(|| {
            check(&policy, "bank", &spec, SystemTime::now()).unwrap();
            log.append(job_event(&spec, Outcome::Proposed)).unwrap();
            log.append(job_event(&spec, Outcome::Accepted { rule: "r".into() }))
                .unwrap();
            let receipt = Receipt::sign(body.clone(), "tax", &peer);
            receipt.verify(&peer_public).unwrap();
            log.append(Event::Receipt(receipt)).unwrap();
            log.append(job_event(&spec, Outcome::Completed)).unwrap();
        })
    });
    group.finish();
}

fn write_node(
    dir: &Path,
    name: &str,
    port: u16,
    peer: (&str, u16, &Path),
    policy: &str,
) -> std::path::PathBuf {
    let peer_identity = Identity::load(peer.2).unwrap();
    std::fs::write(dir.join("people.csv"), "id\na\nb\n").unwrap();
    let text = format!(
        "name = \"{name}\"\nidentity = \"identity\"\nlisten = \"127.0.0.1:{port}\"\naudit_log = \"audit.jsonl\"\n\
         control_socket = \"control.sock\"\n[peers.{p}]\naddress = \"127.0.0.1:{pp}\"\nfingerprint = \"{fp}\"\n\
         audit_key = \"{key}\"\n[datasets.people]\ncsv = \"people.csv\"\n[datasets.people.columns]\n\
         id = {{ type = \"text\", grade = \"internal\" }}\n{policy}",
        p = peer.0,
        pp = peer.1,
        fp = peer_identity.fingerprint(),
        key = format_public_key(&signing_key(peer.2).unwrap().verifying_key()),
    );
    let path = dir.join("node.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn free_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn real_nodes(c: &mut Criterion) {
    let root = tempfile::tempdir().unwrap();
    let (bank, tax) = (root.path().join("bank"), root.path().join("tax"));
    for (dir, name) in [(&bank, "bank"), (&tax, "tax")] {
        Identity::generate(name)
            .unwrap()
            .save(&dir.join("identity"))
            .unwrap();
    }
    let (bank_port, tax_port) = (free_port(), free_port());
    let bank_config = write_node(
        &bank,
        "bank",
        bank_port,
        ("tax", tax_port, &tax.join("identity")),
        "",
    );
    let tax_policy = "[[policy.peers.bank.allow]]\nprotocols = [\"psi-intersection\"]\ndatasets = [\"people\"]\n\
                      grades = [\"internal\"]\noutputs = { intersection = [\"bank\"] }\n";
    let tax_config = write_node(
        &tax,
        "tax",
        tax_port,
        ("bank", bank_port, &bank.join("identity")),
        tax_policy,
    );
    for config in [&bank_config, &tax_config] {
        let node = Node::start(config).unwrap();
        std::thread::spawn(move || node.serve());
    }
    let mut job = spec();
    job.id.clear();
    job.parties[0].dataset = "people".into();
    job.parties[1].dataset = "people".into();
    job.parameters.clear();
    let socket = bank.join("control.sock");
    let mut group = c.benchmark_group("node");
    group.sample_size(30);
    // The protocol's own time of each run, as the proposer's node reports it.
    let mut protocol_ms = Vec::new();
    group.bench_function(
        "submit -> propose -> policy -> PSI over QUIC -> outputs, audit, receipts -> result",
        |b| {
            b.iter(|| {
                let id = match control::call(
                    &socket,
                    &Request::Submit {
                        spec: job.clone(),
                        wait_secs: None,
                    },
                )
                .unwrap()
                {
                    Response::Job(s) if s.state == "running" => s.job_id,
                    other => panic!("{other:?}"),
                };
                let detail = loop {
                    let status =
                        control::call(&socket, &Request::Status { job_id: id.clone() }).unwrap();
                    match status {
                        Response::Job(s) if s.state == "running" => {
                            std::thread::sleep(std::time::Duration::from_micros(200));
                        }
                        Response::Job(s) if s.state == "completed" => break s.detail,
                        other => panic!("{other:?}"),
                    }
                };
                match control::call(&socket, &Request::Result { job_id: id }).unwrap() {
                    Response::Outputs { files, .. } if files.len() == 1 => {}
                    other => panic!("{other:?}"),
                }
                let ms = detail
                    .strip_prefix("protocol ")
                    .and_then(|d| d.split(' ').next())
                    .and_then(|m| m.parse::<f64>().ok())
                    .unwrap();
                protocol_ms.push(ms);
            })
        },
    );
    group.finish();
    protocol_ms.sort_by(f64::total_cmp);
    println!(
        "the PSI's own time in those runs: median {:.2} ms over {} runs",
        protocol_ms[protocol_ms.len() / 2],
        protocol_ms.len()
    );
    // The nodes' threads end with the process.
}

criterion_group!(benches, parts, real_nodes);
criterion_main!(benches);
