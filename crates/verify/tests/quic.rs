//! The service over QUIC with mutual TLS: many concurrent clients on one
//! hub, per-certificate quotas holding under concurrency, answers equal to
//! the plaintext look-up, and an unknown certificate refused at the
//! handshake.

mod common;

use common::*;
use indomain_net::quic::{Endpoint, Hub, Identity, TrustedPeer};
use indomain_net::{Limits as NetLimits, NetError};
use indomain_verify::client::Verifier;
use indomain_verify::messages::{Refusal, Reply, Request};
use indomain_verify::oprf::{Blind, OprfKey};
use indomain_verify::service::{Limits, replay_usage};
use indomain_verify::{driver, session};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn limits() -> NetLimits {
    NetLimits {
        max_frame: 4 << 20,
        recv_timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(5),
    }
}

fn bind(me: &Identity, trusted: &[&Identity]) -> Endpoint {
    let trusted: Vec<TrustedPeer> = trusted.iter().map(|i| i.trusted_entry()).collect();
    Endpoint::bind(me, "127.0.0.1:0".parse().unwrap(), trusted, limits()).unwrap()
}

/// A shared log buffer the test can read while the driver writes to it.
#[derive(Clone, Default)]
struct SharedLog(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for SharedLog {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn quotas_hold_under_concurrent_clients_and_answers_are_right() {
    let d = dataset(100, 11);
    let key = OprfKey::random(&mut rand::rng());
    let p = publish(&d, 1, &key);
    let quota = 25;
    let mut svc = service(
        &p,
        &key,
        Limits {
            quota,
            ..Limits::default()
        },
    );
    let operator = Identity::generate("operator").unwrap();
    let banks: Vec<Identity> = ["bank-a", "bank-b", "bank-c"]
        .iter()
        .map(|n| Identity::generate(n).unwrap())
        .collect();
    let stranger = Identity::generate("mallory").unwrap();
    let hub = Hub::start(bind(&operator, &banks.iter().collect::<Vec<_>>()), 64);
    let addr = hub.local_addr();
    let stop = AtomicBool::new(false);
    let log = SharedLog::default();
    std::thread::scope(|s| {
        let mut log_w = log.clone();
        let stop_ref = &stop;
        let server = s.spawn(move || driver::serve(&hub, &mut svc, &mut log_w, stop_ref));
        // Two connections per bank, all at once, each asking 20 single
        // evaluations: 40 asked per bank against a quota of 25.
        let clients: Vec<_> = banks
            .iter()
            .flat_map(|b| [b, b])
            .map(|bank| {
                let operator = &operator;
                s.spawn(move || {
                    let ep = bind(bank, &[operator]);
                    let mut ch = ep.connect(addr, "operator").unwrap();
                    let (mut served, mut refused) = (0, 0);
                    for i in 0..20 {
                        let blinded = Blind::random(&mut rand::rng()).blind(&[i]).unwrap();
                        let req = Request::Evaluate {
                            version: 1,
                            elements: blinded.to_vec(),
                        };
                        indomain_net::wire::send_msg(&mut ch, &req).unwrap();
                        match indomain_net::wire::recv_msg::<Reply>(&mut ch).unwrap() {
                            Reply::Evaluated { .. } => served += 1,
                            Reply::Refused(Refusal::OverQuota { quota: 25, .. }) => refused += 1,
                            other => panic!("{other:?}"),
                        }
                    }
                    (bank.name().to_string(), served, refused)
                })
            })
            .collect();
        let mut served: HashMap<String, u64> = HashMap::new();
        for c in clients {
            let (name, ok, refused) = c.join().unwrap();
            assert_eq!(ok + refused, 20);
            *served.entry(name).or_default() += ok;
        }
        for b in &banks {
            assert_eq!(served.get(b.name()), Some(&quota), "{}", b.name());
        }

        // A full session from one more (fresh) client of a listed bank is
        // refused once over quota, with a clear reason.
        let ep = bind(&banks[0], &[&operator]);
        let mut ch = ep.connect(addr, "operator").unwrap();
        let welcome = session::hello(&mut ch).unwrap();
        assert_eq!(welcome.quota_left, 0);
        let table = session::fetch_table(&mut ch, &welcome.commitment, &mut |_, _| {}).unwrap();
        let v = Verifier::new(signer().verifying_key(), welcome.commitment, &table).unwrap();
        let err = session::verify(
            &mut ch,
            &v,
            &queries(&d, 1)[..1],
            session::Batching {
                max_entries: 64,
                max_records: usize::MAX,
            },
            &mut |_| {},
        )
        .unwrap_err();
        assert!(err.to_string().contains("over quota"), "{err}");

        // An unlisted certificate is refused at the handshake.
        let ep = bind(&stranger, &[&operator]);
        match ep.connect(addr, "operator") {
            Err(NetError::Connect { reason, .. }) => {
                assert!(reason.contains("list this node's fingerprint"), "{reason}")
            }
            other => panic!("expected a refused handshake, got {other:?}"),
        }
        stop.store(true, Ordering::Relaxed);
        server.join().unwrap().unwrap();
    });
    let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    let used = replay_usage(text.lines());
    for b in &banks {
        assert_eq!(used.get(b.name()), Some(&quota));
    }
    assert!(!text.contains("mallory"));
}

#[test]
fn answers_over_quic_equal_plaintext_lookups() {
    let d = dataset(150, 12);
    let key = OprfKey::random(&mut rand::rng());
    let p = publish(&d, 3, &key);
    let mut svc = service(&p, &key, Limits::default());
    let (operator, bank) = (
        Identity::generate("operator").unwrap(),
        Identity::generate("bank").unwrap(),
    );
    let hub = Hub::start(bind(&operator, &[&bank]), 8);
    let addr = hub.local_addr();
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        let stop_ref = &stop;
        let server = s.spawn(move || driver::serve(&hub, &mut svc, &mut std::io::sink(), stop_ref));
        let ep = bind(&bank, &[&operator]);
        let mut ch = ep.connect(addr, "operator").unwrap();
        let welcome = session::hello(&mut ch).unwrap();
        let table = session::fetch_table(&mut ch, &welcome.commitment, &mut |_, _| {}).unwrap();
        let v = Verifier::new(signer().verifying_key(), welcome.commitment, &table).unwrap();
        let qs = queries(&d, 13);
        let answers = session::verify(
            &mut ch,
            &v,
            &qs,
            session::Batching {
                max_entries: welcome.max_batch,
                max_records: 7,
            },
            &mut |_| {},
        )
        .unwrap();
        assert_eq!(strip(&answers), plaintext(&d, &qs));
        assert!(answers.iter().all(|a| a.version == 3));
        stop.store(true, Ordering::Relaxed);
        server.join().unwrap().unwrap();
    });
}
