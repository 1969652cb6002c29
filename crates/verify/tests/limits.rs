//! Abuse limits of the service state machine: rate, burst, quota, batch
//! size, refunds, and the usage log (counts only, replayable).

mod common;

use common::*;
use indomain_verify::messages::{Refusal, Reply, Request};
use indomain_verify::oprf::{Blind, OprfKey};
use indomain_verify::service::{Handled, Limits, Outcome, Service, replay_usage, reset_line};
use std::time::{Duration, Instant};

fn request(n: usize) -> Vec<u8> {
    let mut rng = rand::rng();
    let elements: Vec<u8> = (0..n)
        .flat_map(|i| {
            Blind::random(&mut rng)
                .blind(format!("guess {i}").as_bytes())
                .unwrap()
        })
        .collect();
    encode(&Request::Evaluate {
        version: 1,
        elements,
    })
}

fn encode(r: &Request) -> Vec<u8> {
    bincode::serde::encode_to_vec(r, bincode::config::standard()).unwrap()
}

fn reply(h: &Handled) -> Reply {
    indomain_net::wire::decode_msg("operator", &h.reply).unwrap()
}

fn setup(limits: Limits) -> Service {
    let d = dataset(10, 1);
    let key = OprfKey::random(&mut rand::rng());
    service(&publish(&d, 1, &key), &key, limits)
}

#[test]
fn rate_burst_quota_and_batch_size_are_enforced_per_client() {
    let limits = Limits {
        rate_per_sec: 10.0,
        burst: 5,
        quota: 12,
        max_batch: 8,
    };
    let mut s = setup(limits);
    let t0 = Instant::now();
    assert!(
        matches!(reply(&s.handle("a", &request(5), t0)), Reply::Evaluated { ref elements, .. } if elements.len() == 160)
    );
    let limited = s.handle("a", &request(1), t0);
    assert_eq!(
        reply(&limited),
        Reply::Refused(Refusal::RateLimited {
            retry_after_ms: 100
        })
    );
    assert_eq!(limited.usage.unwrap().outcome, Outcome::RateLimited);
    // Another client has its own budget.
    assert!(matches!(
        reply(&s.handle("b", &request(5), t0)),
        Reply::Evaluated { .. }
    ));
    let t1 = t0 + Duration::from_secs(1);
    assert!(matches!(
        reply(&s.handle("a", &request(5), t1)),
        Reply::Evaluated { .. }
    ));
    let t2 = t1 + Duration::from_secs(1);
    let over = s.handle("a", &request(3), t2);
    assert_eq!(
        reply(&over),
        Reply::Refused(Refusal::OverQuota {
            used: 10,
            quota: 12,
            asked: 3
        })
    );
    assert_eq!(over.usage.unwrap().outcome, Outcome::OverQuota);
    assert!(matches!(
        reply(&s.handle("a", &request(2), t2)),
        Reply::Evaluated { .. }
    ));
    assert!(matches!(
        reply(&s.handle("a", &request(1), t2)),
        Reply::Refused(Refusal::OverQuota { used: 12, .. })
    ));
    assert_eq!(
        reply(&s.handle("b", &request(9), t2)),
        Reply::Refused(Refusal::BatchTooLarge { max: 8 })
    );
    let text = Refusal::OverQuota {
        used: 12,
        quota: 12,
        asked: 1,
    }
    .to_string();
    assert!(text.contains("over quota") && text.contains("12"), "{text}");
}

#[test]
fn invalid_elements_are_refused_and_refunded() {
    let mut s = setup(Limits {
        quota: 4,
        ..Limits::default()
    });
    let t = Instant::now();
    let bad = encode(&Request::Evaluate {
        version: 1,
        elements: vec![0xff; 4 * 32],
    });
    assert!(matches!(
        reply(&s.handle("a", &bad, t)),
        Reply::Refused(Refusal::Malformed { .. })
    ));
    assert!(matches!(
        reply(&s.handle("a", &request(4), t)),
        Reply::Evaluated { .. }
    ));
    let stale = encode(&Request::Evaluate {
        version: 2,
        elements: vec![0; 32],
    });
    assert_eq!(
        reply(&s.handle("b", &stale, t)),
        Reply::Refused(Refusal::StaleVersion { current: 1 })
    );
}

#[test]
fn the_usage_log_has_counts_only_and_replays_into_the_quota() {
    let limits = Limits {
        quota: 6,
        ..Limits::default()
    };
    let mut s = setup(limits);
    let t = Instant::now();
    let mut lines = Vec::new();
    for (client, n) in [("bank-a", 2), ("bank-b", 3), ("bank-a", 3), ("bank-a", 2)] {
        let h = s.handle(client, &request(n), t);
        lines.push(h.usage.unwrap().line(1));
    }
    assert!(lines[3].contains("outcome=over-quota"), "{}", lines[3]);
    for l in &lines {
        assert!(!l.contains("guess"), "query content in the log: {l}");
    }
    let used = replay_usage(lines.iter().map(String::as_str));
    assert_eq!(used.get("bank-a"), Some(&5));
    assert_eq!(used.get("bank-b"), Some(&3));
    // An explicit reset starts every quota afresh; later lines count.
    let reset: Vec<String> = lines
        .iter()
        .cloned()
        .chain([reset_line(2)])
        .chain(lines[..1].iter().cloned())
        .collect();
    let after = replay_usage(reset.iter().map(String::as_str));
    assert_eq!(after.get("bank-a"), Some(&2));
    assert_eq!(after.get("bank-b"), None);
    let d = dataset(10, 1);
    let key = OprfKey::random(&mut rand::rng());
    let p = publish(&d, 1, &key);
    let mut restarted = Service::new(
        key,
        p.commitment.clone(),
        std::sync::Arc::new(p.bytes.clone()),
        limits,
        used,
    );
    assert!(matches!(
        reply(&restarted.handle("bank-a", &request(2), t)),
        Reply::Refused(Refusal::OverQuota { used: 5, .. })
    ));
    match reply(&restarted.handle("bank-a", &encode(&Request::Hello), t)) {
        Reply::Welcome { quota_left, .. } => assert_eq!(quota_left, 1),
        other => panic!("{other:?}"),
    }
}
