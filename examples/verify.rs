//! Private verification, every party in one process: an operator publishes
//! a dataset version and serves it over QUIC on loopback; one client
//! fetches the table and verifies a batch of records, end to end.
//!
//! `cargo run --release --example verify -- [RECORDS] [BATCH]`
//! (defaults 100000 and 10000). Prints the time to publish, the table size
//! per record, the table fetch, and the batch's time end to end.

use indomain::ed25519_dalek::SigningKey;
use indomain::net::Limits;
use indomain::net::quic::{Endpoint, Hub, Identity};
use indomain::rand;
use indomain::verify::client::Verifier;
use indomain::verify::oprf::OprfKey;
use indomain::verify::publish::{Dataset, Publisher};
use indomain::verify::record::{Query, Record};
use indomain::verify::service::{self, Service};
use indomain::verify::{driver, session};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

const ATTRIBUTES: [&str; 3] = ["name", "phone", "city"];

fn record(i: usize) -> Record {
    Record {
        key: format!("1101{i:014}"),
        values: vec![
            format!("Name {i}"),
            format!("138{i:08}"),
            format!("City {}", i % 300),
        ],
        labels: vec![["valid", "revoked", "suspended"][i % 3].into()],
    }
}

/// This process's CPU time (user + system) in seconds, from /proc (Linux);
/// unlike wall time it does not count time other processes held the cores.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after ')'.
    (ticks(11) + ticks(12)) / 100.0
}

/// CPU time of one BlindEvaluate of a single element (the operator's cost
/// per online evaluation), on one thread.
fn evaluation_cpu_cost(key: &OprfKey) -> f64 {
    let element = indomain::verify::oprf::Blind::random(&mut rand::rng())
        .blind(b"entry")
        .expect("a short input");
    let rounds = 20_000;
    let start = cpu_seconds();
    for _ in 0..rounds {
        std::hint::black_box(key.blind_evaluate(std::hint::black_box(&element)).ok());
    }
    (cpu_seconds() - start) / rounds as f64
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<usize>());
    let n = args.next().transpose()?.unwrap_or(100_000);
    let m = args.next().transpose()?.unwrap_or(10_000);
    let dataset = Dataset {
        attributes: ATTRIBUTES.iter().map(|s| s.to_string()).collect(),
        label_columns: vec!["status".into()],
        records: (0..n).map(record).collect(),
    };

    let key = OprfKey::random(&mut rand::rng());
    println!(
        "BlindEvaluate of one element: {:.1} µs of CPU (one thread)",
        evaluation_cpu_cost(&key) * 1e6
    );
    let started = Instant::now();
    let cpu = cpu_seconds();
    let signer = SigningKey::from_bytes(&[7; 32]);
    let published = Publisher {
        service: "example",
        key: &key,
        signer: &signer,
        now: 0,
    }
    .publish(&dataset, 1)?;
    let publish_secs = started.elapsed().as_secs_f64();
    let publish_cpu = cpu_seconds() - cpu;
    println!(
        "published {n} records x {} attributes in {publish_secs:.2} s ({publish_cpu:.2} s of CPU, \
         {:.1} µs of CPU an entry); table {} bytes, {:.1} bytes a record",
        ATTRIBUTES.len(),
        publish_cpu * 1e6 / (n * ATTRIBUTES.len()) as f64,
        published.bytes.len(),
        published.bytes.len() as f64 / n as f64
    );

    let (operator, bank) = (Identity::generate("operator")?, Identity::generate("bank")?);
    let any = "127.0.0.1:0".parse()?;
    let limits = Limits::default();
    let hub = Hub::start(
        Endpoint::bind(&operator, any, vec![bank.trusted_entry()], limits)?,
        16,
    );
    let addr = hub.local_addr();
    let mut svc = Service::new(
        key,
        published.commitment.clone(),
        Arc::new(published.bytes.clone()),
        service::Limits {
            rate_per_sec: 1e9,
            burst: u64::MAX / 2,
            quota: u64::MAX / 2,
            max_batch: 4096,
        },
        HashMap::new(),
    );
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| -> Result<(), Box<dyn std::error::Error>> {
        let stop_ref = &stop;
        let server = s.spawn(move || driver::serve(&hub, &mut svc, &mut std::io::sink(), stop_ref));
        let client = Endpoint::bind(&bank, any, vec![operator.trusted_entry()], limits)?;
        let t = Instant::now();
        let mut ch = client.connect(addr, "operator")?;
        let welcome = session::hello(&mut ch)?;
        let table = session::fetch_table(&mut ch, &welcome.commitment, &mut |_, _| {})?;
        let verifier = Verifier::new(signer.verifying_key(), welcome.commitment, &table)?;
        let fetch_secs = t.elapsed().as_secs_f64();
        // Every fourth query claims a wrong phone.
        let queries: Vec<Query> = (0..m)
            .map(|j| {
                let r = record((j * 7919) % n);
                let mut claims: Vec<(String, String)> = ATTRIBUTES
                    .iter()
                    .map(|a| a.to_string())
                    .zip(r.values)
                    .collect();
                if j % 4 == 3 {
                    claims[1].1 = "wrong".into();
                }
                Query { key: r.key, claims }
            })
            .collect();
        let t = Instant::now();
        let batching = session::Batching {
            max_entries: welcome.max_batch,
            max_records: usize::MAX,
        };
        let answers = session::verify(&mut ch, &verifier, &queries, batching, &mut |_| {})?;
        let batch_secs = t.elapsed().as_secs_f64();
        let full = answers.iter().filter(|a| a.labels.is_some()).count();
        assert_eq!(
            full,
            m - m / 4,
            "every query but the wrong phones matches fully"
        );
        println!(
            "client: table fetched and checked in {fetch_secs:.2} s; {m} records ({} entries) \
             verified end to end in {batch_secs:.2} s ({:.0} records/s), {full} full matches \
             with labels",
            m * ATTRIBUTES.len(),
            m as f64 / batch_secs
        );
        stop.store(true, Ordering::Relaxed);
        server.join().map_err(|_| "the operator panicked")??;
        Ok(())
    })
}
