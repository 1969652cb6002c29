//! Criterion benches: private verification (issue #9).
//!
//! - `verify_ops`: the operator's online cost per OPRF evaluation
//!   (BlindEvaluate of one element, and per element in batches of 256 on
//!   all cores); the client's cost per entry (blind, then finalize); the
//!   operator's offline cost per entry (`evaluate_batch`, publication).
//! - `verify_publish`: publishing 10^4 records with 3 verifiable attributes
//!   and a label column.
//!
//! `cargo bench --bench verify` runs everything (about a minute on 2 cores).
//! The bound of the online service is cores / (BlindEvaluate of one
//! element); `docs/benchmarks.md` compares the measured rate with it.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ed25519_dalek::SigningKey;
use indomain_verify::oprf::{Blind, OprfKey};
use indomain_verify::publish::{Dataset, Publisher};
use indomain_verify::record::Record;
use std::hint::black_box;

fn dataset(n: usize) -> Dataset {
    Dataset {
        attributes: vec!["name".into(), "phone".into(), "city".into()],
        label_columns: vec!["status".into()],
        records: (0..n)
            .map(|i| Record {
                key: format!("1101{i:014}"),
                values: vec![
                    format!("Name {i}"),
                    format!("138{i:08}"),
                    format!("City {}", i % 300),
                ],
                labels: vec![["valid", "revoked"][i % 2].into()],
            })
            .collect(),
    }
}

fn verify_ops(c: &mut Criterion) {
    let mut rng = rand::rng();
    let key = OprfKey::random(&mut rng);
    let blind = Blind::random(&mut rng);
    let input = b"indomain/verify/v1/entry 110100000000000042 phone 13800000042";
    let one = blind.blind(input).unwrap();
    let many: Vec<u8> = (0..256u32)
        .flat_map(|i| Blind::random(&mut rng).blind(&i.to_le_bytes()).unwrap())
        .collect();
    let evaluated = key.blind_evaluate(&one).unwrap();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let mut g = c.benchmark_group("verify_ops");
    g.throughput(Throughput::Elements(1));
    g.bench_function("blind_evaluate_1_one_core", |b| {
        pool.install(|| b.iter(|| key.blind_evaluate(black_box(&one)).unwrap()))
    });
    g.bench_function("client_blind", |b| {
        b.iter(|| blind.blind(black_box(input)).unwrap())
    });
    g.bench_function("client_finalize", |b| {
        b.iter(|| {
            blind
                .finalize(black_box(input), black_box(&evaluated))
                .unwrap()
        })
    });
    g.throughput(Throughput::Elements(256));
    g.bench_function("blind_evaluate_256_one_core", |b| {
        pool.install(|| b.iter(|| key.blind_evaluate(black_box(&many)).unwrap()))
    });
    g.bench_function("blind_evaluate_256_all_cores", |b| {
        b.iter(|| key.blind_evaluate(black_box(&many)).unwrap())
    });
    let inputs: Vec<Vec<u8>> = (0..4096u32)
        .map(|i| format!("entry {i}").into_bytes())
        .collect();
    g.throughput(Throughput::Elements(4096));
    g.bench_function("evaluate_batch_4096_all_cores", |b| {
        b.iter(|| key.evaluate_batch(inputs.len(), |i| &inputs[i]).unwrap())
    });
    g.finish();
}

fn verify_publish(c: &mut Criterion) {
    let d = dataset(10_000);
    let key = OprfKey::random(&mut rand::rng());
    let signer = SigningKey::from_bytes(&[1; 32]);
    let publisher = Publisher {
        service: "bench",
        key: &key,
        signer: &signer,
        now: 0,
    };
    let mut g = c.benchmark_group("verify_publish");
    g.sample_size(10);
    g.throughput(Throughput::Elements(d.records.len() as u64));
    g.bench_function("publish_10k_records_3_attributes", |b| {
        b.iter(|| publisher.publish(black_box(&d), 1).unwrap())
    });
    g.finish();
}

criterion_group!(benches, verify_ops, verify_publish);
criterion_main!(benches);
