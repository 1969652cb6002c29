//! Private verification, every party in one process: an operator publishes
//! a dataset version and serves it over QUIC on loopback; one client
//! fetches the table and verifies a batch of records, end to end.
//!
//! Then CLIENTS clients (threads, each its own QUIC connection) verify
//! BATCH records between them with one request a record, the online use.
//!
//! `cargo run --release --example verify -- [RECORDS] [BATCH] [CLIENTS]`
//! (defaults 100000, 10000 and 8). Prints the time to publish, the table
//! size per record, the table fetch, each phase's time end to end, and for
//! each phase the operator's CPU an evaluation next to the bound (the
//! cores divided by the CPU cost of one BlindEvaluate): the operator's
//! threads (QUIC endpoint, accept threads, driver, evaluation pool) are
//! told apart from the clients' through /proc, so the figure holds however
//! much CPU the clients in the same process take.

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
use std::collections::{HashMap, HashSet};
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
    stat_cpu_seconds("/proc/self/stat")
}

/// The ids of this process's threads (Linux; empty elsewhere).
fn threads() -> HashSet<String> {
    std::fs::read_dir("/proc/self/task")
        .map(|d| {
            d.filter_map(|e| Some(e.ok()?.file_name().to_string_lossy().into_owned()))
                .collect()
        })
        .unwrap_or_default()
}

/// The id of the calling thread (Linux; empty elsewhere).
fn this_thread() -> String {
    std::fs::read_link("/proc/thread-self")
        .ok()
        .and_then(|p| Some(p.file_name()?.to_string_lossy().into_owned()))
        .unwrap_or_default()
}

/// CPU seconds the threads `tids` of this process have used so far.
fn threads_cpu(tids: &HashSet<String>) -> f64 {
    tids.iter()
        .map(|t| stat_cpu_seconds(&format!("/proc/self/task/{t}/stat")))
        .sum()
}

/// User + system CPU seconds from a /proc `stat` file.
fn stat_cpu_seconds(path: &str) -> f64 {
    let stat = std::fs::read_to_string(path).unwrap_or_default();
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

/// `m` queries; every fourth claims a wrong phone.
fn queries(n: usize, m: usize) -> Vec<Query> {
    (0..m)
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
        .collect()
}

/// The operator's throughput and CPU over one phase, next to the bound.
struct Bound {
    cores: usize,
    /// CPU seconds of one BlindEvaluate.
    cost: f64,
}

impl Bound {
    fn report(&self, phase: &str, evaluations: usize, secs: f64, operator_cpu: f64) {
        let bound = self.cores as f64 / self.cost;
        let rate = evaluations as f64 / secs;
        let per = operator_cpu / evaluations as f64;
        println!(
            "{phase}: {evaluations} evaluations in {secs:.2} s = {rate:.0}/s, {:.2} of the bound \
             ({bound:.0}/s = {} cores / {:.1} µs); operator CPU {operator_cpu:.2} s = {:.1} µs \
             an evaluation ({:.2} of the bound's rate per CPU-second), i.e. {:.0}/s on {} cores \
             of its own",
            rate / bound,
            self.cores,
            self.cost * 1e6,
            per * 1e6,
            self.cost / per,
            self.cores as f64 / per,
            self.cores
        );
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<usize>());
    let n = args.next().transpose()?.unwrap_or(100_000);
    let m = args.next().transpose()?.unwrap_or(10_000);
    let clients = args.next().transpose()?.unwrap_or(8);
    let dataset = Dataset {
        attributes: ATTRIBUTES.iter().map(|s| s.to_string()).collect(),
        label_columns: vec!["status".into()],
        records: (0..n).map(record).collect(),
    };

    let key = OprfKey::random(&mut rand::rng());
    let bound = Bound {
        cores: std::thread::available_parallelism().map_or(1, |c| c.get()),
        cost: evaluation_cpu_cost(&key),
    };
    println!(
        "BlindEvaluate of one element: {:.1} µs of CPU (one thread); the bound: {} cores / \
         {0:.1} µs = {:.0} evaluations/s",
        bound.cost * 1e6,
        bound.cores,
        bound.cores as f64 / bound.cost
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
    // Every thread started from here until the clients' belongs to the
    // operator: its QUIC endpoint, the hub's accept threads and the pool
    // its evaluations run on (the clients use rayon's global pool).
    let before = threads();
    let hub = Hub::start(
        Endpoint::bind(&operator, any, vec![bank.trusted_entry()], limits)?,
        clients + 16,
    );
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(bound.cores)
        .thread_name(|i| format!("operator-eval-{i}"))
        .build()?;
    let mut operator_threads: HashSet<String> = threads().difference(&before).cloned().collect();
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
        let (tid_tx, tid_rx) = std::sync::mpsc::channel();
        let pool = &pool;
        let server = s.spawn(move || {
            let _ = tid_tx.send(this_thread());
            // The driver runs on a pool thread, so its batches' parallel
            // evaluations stay in the operator's pool.
            pool.install(move || driver::serve(&hub, &mut svc, &mut std::io::sink(), stop_ref))
        });
        operator_threads.insert(tid_rx.recv()?);
        let operator_cpu = || threads_cpu(&operator_threads);
        let connect = || -> Result<_, Box<dyn std::error::Error + Send + Sync>> {
            let client = Endpoint::bind(&bank, any, vec![operator.trusted_entry()], limits)?;
            let mut ch = client.connect(addr, "operator")?;
            let welcome = session::hello(&mut ch)?;
            Ok((client, ch, welcome))
        };
        let t = Instant::now();
        let (_client, mut ch, welcome) = connect().map_err(|e| e.to_string())?;
        let table = session::fetch_table(&mut ch, &welcome.commitment, &mut |_, _| {})?;
        let verifier = Verifier::new(signer.verifying_key(), welcome.commitment, &table)?;
        let fetch_secs = t.elapsed().as_secs_f64();
        let queries = queries(n, m);
        let t = Instant::now();
        let cpu = operator_cpu();
        let batching = session::Batching {
            max_entries: welcome.max_batch,
            max_records: usize::MAX,
        };
        let answers = session::verify(&mut ch, &verifier, &queries, batching, &mut |_| {})?;
        let batch_secs = t.elapsed().as_secs_f64();
        let batch_cpu = operator_cpu() - cpu;
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
        bound.report(
            "batched requests",
            m * ATTRIBUTES.len(),
            batch_secs,
            batch_cpu,
        );

        if clients > 0 {
            // Each client connects, then all start together; one request a
            // record.
            let shares: Vec<&[Query]> = queries.chunks(m.div_ceil(clients).max(1)).collect();
            let start = std::sync::Barrier::new(shares.len() + 1);
            let spawned = shares.len();
            // The clients borrow this phase's locals: a scope of their own.
            let (t, cpu, singles_full) = std::thread::scope(|c| -> Result<_, String> {
                let handles: Vec<_> = shares
                    .into_iter()
                    .map(|mine| {
                        let (start, verifier, connect) = (&start, &verifier, &connect);
                        c.spawn(move || -> Result<usize, String> {
                            let connected = connect().map_err(|e| e.to_string());
                            start.wait();
                            let (_client, mut ch, welcome) = connected?;
                            let one = session::Batching {
                                max_entries: welcome.max_batch,
                                max_records: 1,
                            };
                            let answers =
                                session::verify(&mut ch, verifier, mine, one, &mut |_| {})
                                    .map_err(|e| e.to_string())?;
                            Ok(answers.iter().filter(|a| a.labels.is_some()).count())
                        })
                    })
                    .collect();
                start.wait();
                let (t, cpu) = (Instant::now(), operator_cpu());
                let mut singles_full = 0;
                for h in handles {
                    singles_full += h.join().map_err(|_| "a client panicked")??;
                }
                Ok((t, cpu, singles_full))
            })?;
            let secs = t.elapsed().as_secs_f64();
            let single_cpu = operator_cpu() - cpu;
            assert_eq!(singles_full, full, "the same answers one record a request");
            println!(
                "{spawned} clients, one request a record: {m} records in {secs:.2} s ({:.0} \
                 records/s)",
                m as f64 / secs
            );
            bound.report(
                "single-record requests",
                m * ATTRIBUTES.len(),
                secs,
                single_cpu,
            );
        }
        stop.store(true, Ordering::Relaxed);
        server.join().map_err(|_| "the operator panicked")??;
        Ok(())
    })
}
