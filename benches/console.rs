//! The operator console's server time to render its two heaviest pages,
//! through the same router the network side calls (access checks and
//! rendering included, sockets left out): the jobs list of a node with
//! 10^4 jobs in its history, and the audit page of a log of 10^5 records
//! with `audit verify`'s verdict on top (kept current by the feed, so no
//! page view rescans the log). Target: under 100 ms each.
//!
//! `cargo bench --bench console`

use criterion::{Criterion, criterion_group, criterion_main};
use ed25519_dalek::{SigningKey, VerifyingKey};
use indomain_node::audit::{AuditLog, Event, JobRecord, Outcome, OutputRecord, Record};
use indomain_node::config::NodeConfig;
use indomain_node::console::http::Req;
use indomain_node::console::routes::dispatch;
use indomain_node::console::{AuditFeed, Console, NodeView};
use indomain_node::control::{JobSummary, Request, Response};
use indomain_node::jobspec::Protocol;
use indomain_node::state::NodeState;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

const JOBS: usize = 10_000;
/// Records per job: proposed, accepted, seven releases, completed.
const PER_JOB: usize = 10;

/// A node answering from its history, as the daemon does for jobs of
/// earlier runs.
struct Bench {
    config: NodeConfig,
    key: VerifyingKey,
    state: NodeState,
}

impl NodeView for Bench {
    fn config(&self) -> &NodeConfig {
        &self.config
    }
    fn audit_key(&self) -> VerifyingKey {
        self.key
    }
    fn fingerprint(&self) -> String {
        format!("sha256:{}", "ab".repeat(32))
    }
    fn read_state(&self, read: &mut dyn FnMut(&NodeState)) {
        read(&self.state)
    }
    fn control(&self, request: Request) -> Response {
        match request {
            Request::List => Response::Jobs {
                jobs: self
                    .state
                    .history()
                    .jobs()
                    .map(|j| JobSummary {
                        job_id: j.key.id.clone(),
                        spec_hash: j.spec_hash.clone(),
                        protocol: j.protocol.to_string(),
                        proposer: j.key.proposer.clone(),
                        state: indomain_node::control::JobState::of(&j.outcome),
                        detail: String::new(),
                        phase: String::new(),
                        progress: String::new(),
                    })
                    .collect(),
            },
            _ => Response::Error {
                message: "not in this bench".into(),
            },
        }
    }
}

fn job(i: usize, outcome: Outcome) -> Event {
    Event::Job(JobRecord {
        job_id: format!("job-{i}"),
        spec_hash: format!("{i:064x}"),
        proposer: "tax".into(),
        peers: vec!["tax".into(), "bank".into()],
        protocol: Protocol::PsiCardinality,
        purpose: format!("customer overlap, quarter {}", i % 4 + 1),
        dataset: "people".into(),
        columns: vec![],
        parameters: BTreeMap::new(),
        outputs: vec![OutputRecord {
            name: "cardinality".into(),
            receiver: "tax".into(),
            hash: None,
        }],
        bytes_sent: 1000,
        bytes_received: 2000,
        outcome,
        started_ms: 1,
        finished_ms: 2,
    })
}

/// A console over a log of `JOBS * PER_JOB` records, and a session cookie.
fn console() -> (tempfile::TempDir, Console, String) {
    // On tmpfs where there is one: every append is synced.
    let base = std::path::Path::new("/dev/shm");
    let dir = if base.is_dir() {
        tempfile::tempdir_in(base).unwrap()
    } else {
        tempfile::tempdir().unwrap()
    };
    let text = "name = \"bank\"\nidentity = \"identity\"\nlisten = \"127.0.0.1:7000\"\n\
                audit_log = \"audit.jsonl\"\ncontrol_socket = \"control.sock\"\n\
                console = \"127.0.0.1:0\"\n";
    let config = NodeConfig::from_toml(&dir.path().join("node.toml"), text).unwrap();
    let key = SigningKey::from_bytes(&[7; 32]);
    let feed = Arc::new(AuditFeed::new(&config.audit_log));
    let mut log = AuditLog::open(&config.audit_log, key.clone()).unwrap();
    feed.start_verified();
    let records: Arc<Mutex<Vec<Record>>> = Arc::default();
    let (fed, kept) = (Arc::clone(&feed), Arc::clone(&records));
    log.observe(move |r| {
        fed.appended(r);
        kept.lock().unwrap().push(r.clone());
    });
    for i in 0..JOBS {
        log.append(job(i, Outcome::Proposed)).unwrap();
        log.append(job(
            i,
            Outcome::Accepted {
                rule: "policy.peers.tax.allow[0]".into(),
            },
        ))
        .unwrap();
        for k in 0..PER_JOB - 3 {
            log.append(Event::Released {
                job_id: format!("job-{i}"),
                output: format!("part-{k}"),
                receiver: "tax".into(),
                hash: "cd".repeat(32),
            })
            .unwrap();
        }
        log.append(job(i, Outcome::Completed)).unwrap();
    }
    let state = NodeState::rebuild("bank", records.lock().unwrap().iter());
    let token_file = config.console.as_ref().unwrap().token_file.clone();
    let view = Arc::new(Bench {
        config,
        key: key.verifying_key(),
        state,
    });
    let console = Console::new(view, feed, &token_file, false).unwrap();
    let get = |path: &str, cookies: &str| Req {
        method: "GET".into(),
        path: path.into(),
        cookies: cookies.into(),
        ..Req::default()
    };
    let form = dispatch(&console, &get("/login", ""));
    let pair = form
        .get("Set-Cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let login = Req {
        method: "POST".into(),
        path: "/login".into(),
        cookies: pair.clone(),
        form: vec![
            (
                "token".into(),
                std::fs::read_to_string(&token_file).unwrap().trim().into(),
            ),
            ("csrf".into(), pair.split_once('=').unwrap().1.into()),
        ],
        ..Req::default()
    };
    let session = dispatch(&console, &login)
        .get("Set-Cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    (dir, console, session)
}

fn render(c: &mut Criterion) {
    let (_dir, console, session) = console();
    let get = |path: &str| Req {
        method: "GET".into(),
        path: path.into(),
        cookies: session.clone(),
        ..Req::default()
    };
    let jobs = get("/jobs");
    let audit = get("/audit");
    // Each page renders, whole, with what it must show.
    let page = dispatch(&console, &jobs);
    assert_eq!(page.status, 200);
    assert!(String::from_utf8_lossy(&page.body).contains(&format!("{JOBS} jobs")));
    let page = dispatch(&console, &audit);
    assert!(String::from_utf8_lossy(&page.body).contains("data-verdict=\"verified\""));
    let mut group = c.benchmark_group("console");
    group.sample_size(20);
    group.bench_function("jobs list, 10^4 jobs", |b| {
        b.iter(|| dispatch(&console, &jobs))
    });
    group.bench_function("audit page, 10^5 records, verdict included", |b| {
        b.iter(|| dispatch(&console, &audit))
    });
    group.bench_function("jobs list, 10^4 jobs, text filter", |b| {
        let mut filtered = get("/jobs");
        filtered.query = vec![("q".into(), "quarter 3".into())];
        b.iter(|| dispatch(&console, &filtered))
    });
    group.finish();
}

criterion_group!(benches, render);
criterion_main!(benches);
