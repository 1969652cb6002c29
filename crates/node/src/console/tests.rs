//! The console's handlers without a network: every route's access control
//! (no page or action without a session, no action without the session's
//! CSRF token), login and token rotation, the audit verdict over a real
//! log, spec errors at their line, and escaping of what peers supply.

use super::access;
use super::http::{CSP, Req, Resp, security_headers};
use super::routes::{Guard, ROUTES, dispatch};
use super::*;
use crate::audit::key::format_public_key;
use crate::audit::{AuditLog, Event, JobRecord, Outcome, OutputRecord, Record};
use crate::config::NodeConfig;
use crate::console::reach::Reach;
use crate::control::{BudgetLine, JobSummary, PhaseBytes, Request, Response};
use crate::jobspec::JobSpec;
use crate::jobspec::Protocol;
use crate::state::JobKey;
use crate::state::NodeState;
use ed25519_dalek::{SigningKey, VerifyingKey};
use std::collections::BTreeMap;
use std::sync::Mutex;

/// A node with a real audit log, answering control requests from its
/// history and recording them.
pub(super) struct Fake {
    pub(super) config: NodeConfig,
    key: SigningKey,
    pub(super) state: Mutex<NodeState>,
    requests: Mutex<Vec<Request>>,
    /// What `spec`, `phases` and `Request::Budget` answer.
    pub(super) spec: Mutex<Option<JobSpec>>,
    pub(super) phases: Mutex<Vec<PhaseBytes>>,
    pub(super) budgets: Mutex<Vec<BudgetLine>>,
    reach: Reach,
}

fn summary_of(j: &crate::state::JobHistory) -> JobSummary {
    JobSummary {
        job_id: j.key.id.clone(),
        spec_hash: j.spec_hash.clone(),
        protocol: j.protocol.to_string(),
        proposer: j.key.proposer.clone(),
        state: crate::control::JobState::of(&j.outcome),
        detail: String::new(),
        phase: String::new(),
        progress: String::new(),
    }
}

impl NodeView for Fake {
    fn config(&self) -> &NodeConfig {
        &self.config
    }
    fn audit_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }
    fn fingerprint(&self) -> String {
        format!("sha256:{}", "ab".repeat(32))
    }
    fn read_state(&self, read: &mut dyn FnMut(&NodeState)) {
        read(&self.state.lock().unwrap());
    }
    fn control(&self, request: Request) -> Response {
        self.requests.lock().unwrap().push(request.clone());
        let state = self.state.lock().unwrap();
        let history = state.history();
        match request {
            Request::List => Response::Jobs {
                jobs: history.jobs().map(summary_of).collect(),
            },
            Request::Status { job_id } | Request::Cancel { job_id } => {
                match crate::state::JobKey::parse(&job_id).and_then(|k| history.job(&k)) {
                    Some(j) => Response::Job(summary_of(j)),
                    None => Response::Error {
                        message: format!("no job {job_id}"),
                    },
                }
            }
            Request::Submit { spec, .. } => Response::Job(JobSummary {
                job_id: if spec.id.is_empty() {
                    "job-new".into()
                } else {
                    spec.id.clone()
                },
                spec_hash: spec.hash().to_string(),
                protocol: spec.protocol.to_string(),
                proposer: self.config.name.clone(),
                state: crate::control::JobState::Proposed,
                detail: String::new(),
                phase: String::new(),
                progress: String::new(),
            }),
            Request::Result { .. } => Response::Error {
                message: "no result".into(),
            },
            Request::Budget => Response::Budget {
                budgets: self.budgets.lock().unwrap().clone(),
            },
        }
    }
    fn spec(&self, _key: &JobKey) -> Option<JobSpec> {
        self.spec.lock().unwrap().clone()
    }
    fn phases(&self, _key: &JobKey) -> Vec<PhaseBytes> {
        self.phases.lock().unwrap().clone()
    }
    fn reach(&self) -> Option<&Reach> {
        Some(&self.reach)
    }
}

pub(super) struct Setup {
    pub(super) dir: tempfile::TempDir,
    pub(super) console: Console,
    pub(super) fake: Arc<Fake>,
    feed: Arc<AuditFeed>,
}

fn job_record(id: &str, purpose: &str, outcome: Outcome) -> Event {
    Event::Job(JobRecord {
        job_id: id.into(),
        spec_hash: "ab".repeat(32),
        proposer: "tax".into(),
        peers: vec!["tax".into(), "bank".into()],
        protocol: Protocol::PsiCardinality,
        purpose: purpose.into(),
        dataset: "people".into(),
        columns: vec![],
        parameters: BTreeMap::new(),
        outputs: vec![OutputRecord {
            name: "cardinality".into(),
            receiver: "tax".into(),
            hash: None,
        }],
        bytes_sent: 0,
        bytes_received: 0,
        outcome,
        started_ms: 1,
        finished_ms: 2,
    })
}

/// A console over a log of a few records (one job whose purpose holds
/// markup), with a token file in the directory.
pub(super) fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("people.csv"), "id\na\n").unwrap();
    let peer_key = format_public_key(&SigningKey::from_bytes(&[2; 32]).verifying_key());
    let text = format!(
        r#"name = "bank"
identity = "identity"
listen = "127.0.0.1:7000"
audit_log = "audit.jsonl"
control_socket = "control.sock"
console = "127.0.0.1:0"

[peers.tax]
address = "127.0.0.1:7001"
fingerprint = "sha256:{fp}"
audit_key = "{peer_key}"

[datasets.people]
csv = "people.csv"
[datasets.people.columns]
id = {{ type = "text", grade = "internal" }}

[[policy.peers.tax.allow]]
protocols = ["psi-cardinality"]
datasets = ["people"]
grades = ["internal"]
outputs = {{ cardinality = ["tax"] }}
dealers = ["two-party"]
max_items = 5000
"#,
        fp = "cd".repeat(32)
    );
    let config = NodeConfig::from_toml(&dir.path().join("node.toml"), &text).unwrap();
    let key = SigningKey::from_bytes(&[1; 32]);
    let feed = Arc::new(AuditFeed::new(&config.audit_log));
    let mut log = AuditLog::open(&config.audit_log, key.clone()).unwrap();
    feed.start_verified();
    let observed = Arc::clone(&feed);
    let records: Arc<Mutex<Vec<Record>>> = Arc::default();
    let kept = Arc::clone(&records);
    log.observe(move |r| {
        observed.appended(r);
        kept.lock().unwrap().push(r.clone());
    });
    log.append(Event::NodeStarted {
        node: "bank".into(),
        config_hash: "00".repeat(32),
    })
    .unwrap();
    log.append(job_record(
        "j1",
        "<script>alert(1)</script>",
        Outcome::Proposed,
    ))
    .unwrap();
    log.append(job_record(
        "j1",
        "<script>alert(1)</script>",
        Outcome::Refused {
            rule: "policy.peers.tax".into(),
            reason: "no rule allows it".into(),
        },
    ))
    .unwrap();
    let state = NodeState::rebuild("bank", records.lock().unwrap().iter());
    let identity = indomain_net::quic::Identity::generate("bank").unwrap();
    let reach = Reach::new(&identity, &config);
    let fake = Arc::new(Fake {
        config,
        key,
        state: Mutex::new(state),
        requests: Mutex::default(),
        spec: Mutex::default(),
        phases: Mutex::default(),
        budgets: Mutex::default(),
        reach,
    });
    let token_file = fake.config.console.as_ref().unwrap().token_file.clone();
    let console = Console::new(fake.clone(), Arc::clone(&feed), &token_file, false).unwrap();
    Setup {
        dir,
        console,
        fake,
        feed,
    }
}

pub(super) fn request(method: &str, path: &str) -> Req {
    Req {
        method: method.into(),
        path: path.into(),
        ..Req::default()
    }
}

/// A concrete path for a route's pattern.
fn path_of(pattern: &str) -> String {
    pattern
        .replace("{proposer}", "tax")
        .replace("{id}", "j1")
        .replace("{file}", "binning.json")
}

impl Setup {
    fn token(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("console.token"))
            .unwrap()
            .trim()
            .to_string()
    }

    /// Logs in; returns the session cookie header and the CSRF token.
    pub(super) fn login(&self) -> (String, String) {
        let form = dispatch(&self.console, &request("GET", "/login"));
        let set = form.get("Set-Cookie").unwrap().to_string();
        let pair = set.split(';').next().unwrap().to_string();
        let login_csrf = pair.split_once('=').unwrap().1.to_string();
        let mut post = request("POST", "/login");
        post.cookies = pair;
        post.form = vec![("token".into(), self.token()), ("csrf".into(), login_csrf)];
        let r = dispatch(&self.console, &post);
        assert_eq!(r.status, 303, "{}", String::from_utf8_lossy(&r.body));
        let cookie = r.get("Set-Cookie").unwrap();
        assert!(
            cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
            "{cookie}"
        );
        let session = cookie.split(';').next().unwrap().to_string();
        let mut page = request("GET", "/");
        page.cookies = session.clone();
        let body = String::from_utf8(dispatch(&self.console, &page).body).unwrap();
        let csrf = body
            .split("name=\"csrf\" value=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_string();
        (session, csrf)
    }

    pub(super) fn get(&self, path: &str, cookies: &str) -> Resp {
        let mut r = request("GET", path);
        r.cookies = cookies.into();
        dispatch(&self.console, &r)
    }

    fn actions_seen(&self) -> usize {
        self.fake
            .requests
            .lock()
            .unwrap()
            .iter()
            .filter(|r| matches!(r, Request::Submit { .. } | Request::Cancel { .. }))
            .count()
    }
}

pub(super) fn body(r: &Resp) -> String {
    String::from_utf8_lossy(&r.body).to_string()
}

#[test]
fn no_page_or_action_without_a_session() {
    let s = setup();
    for route in ROUTES {
        for cookies in ["", "indomain-bank=forged", "indomain-tax=whatever"] {
            let mut req = request(route.method, &path_of(route.pattern));
            req.cookies = cookies.into();
            req.form = vec![
                ("csrf".into(), "x".into()),
                ("spec".into(), "protocol = 1".into()),
            ];
            let r = dispatch(&s.console, &req);
            match route.guard {
                // The login form answers anyone (a wrong token is refused
                // there); the static files are public.
                Guard::Public => assert_ne!(r.status, 404, "{}", route.pattern),
                _ => {
                    assert!(
                        r.status == 401 || (r.status == 303 && r.get("Location") == Some("/login")),
                        "{} {} without a session gave {}",
                        route.method,
                        route.pattern,
                        r.status
                    );
                    assert!(!body(&r).contains("j1"), "{}", route.pattern);
                }
            }
        }
    }
    assert_eq!(s.actions_seen(), 0);
    // Every page, fragment and action is behind a session: the only public
    // routes are the login form and the two static files.
    let public: Vec<_> = ROUTES
        .iter()
        .filter(|r| r.guard == Guard::Public)
        .map(|r| r.pattern)
        .collect();
    assert_eq!(
        public,
        [
            "/login",
            "/login",
            "/assets/console.js",
            "/assets/console.css"
        ]
    );
}

#[test]
fn no_action_without_the_sessions_csrf_token() {
    let s = setup();
    let (session, csrf) = s.login();
    let actions: Vec<_> = ROUTES.iter().filter(|r| r.guard == Guard::Action).collect();
    assert!(actions.iter().all(|r| r.method == "POST"));
    assert_eq!(actions.len(), 3);
    for route in &actions {
        for given in [None, Some(String::new()), Some("00".repeat(32))] {
            let mut req = request("POST", &path_of(route.pattern));
            req.cookies = session.clone();
            if let Some(g) = given {
                req.form.push(("csrf".into(), g));
            }
            req.form
                .push(("spec".into(), "protocol = \"psi-cardinality\"".into()));
            let r = dispatch(&s.console, &req);
            assert_eq!(r.status, 403, "{}", route.pattern);
            assert!(body(&r).contains("CSRF"), "{}", body(&r));
        }
    }
    assert_eq!(s.actions_seen(), 0);
    // With the token, the cancel reaches the node's control path.
    let mut req = request("POST", "/jobs/tax/j1/cancel");
    req.cookies = session.clone();
    req.form.push(("csrf".into(), csrf.clone()));
    assert_eq!(dispatch(&s.console, &req).status, 303);
    assert_eq!(s.actions_seen(), 1);
    // GET pages work with the session alone.
    for route in ROUTES.iter().filter(|r| r.guard == Guard::Session) {
        let r = s.get(&path_of(route.pattern), &session);
        assert!(
            r.status == 200 || r.status == 404,
            "{}: {}",
            route.pattern,
            r.status
        );
    }
}

#[test]
fn a_wrong_token_or_a_forged_login_form_opens_no_session() {
    let s = setup();
    let form = dispatch(&s.console, &request("GET", "/login"));
    let pair = form
        .get("Set-Cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let login_csrf = pair.split_once('=').unwrap().1.to_string();
    for (token, csrf, cookie) in [
        ("00".repeat(32), login_csrf.clone(), pair.clone()),
        (s.token(), "ff".repeat(32), pair.clone()),
        (s.token(), login_csrf.clone(), String::new()),
    ] {
        let mut post = request("POST", "/login");
        post.cookies = cookie;
        post.form = vec![("token".into(), token), ("csrf".into(), csrf)];
        let r = dispatch(&s.console, &post);
        assert_eq!(r.status, 403);
        assert!(
            !r.headers
                .iter()
                .any(|(_, v)| v.starts_with("indomain-bank="))
        );
    }
}

#[test]
fn a_rotated_token_logs_every_session_out() {
    let s = setup();
    let (session, _) = s.login();
    assert_eq!(s.get("/jobs", &session).status, 200);
    let old = s.token();
    let new = access::rotate(&s.dir.path().join("console.token")).unwrap();
    assert_ne!(old, new);
    assert_eq!(
        crate::private::mode(&s.dir.path().join("console.token")).unwrap(),
        0o600
    );
    let r = s.get("/jobs", &session);
    assert_eq!((r.status, r.get("Location")), (303, Some("/login")));
    assert_eq!(s.get("/jobs/rows", &session).status, 401);
    // The new token logs in.
    let (again, _) = s.login();
    assert_eq!(s.get("/jobs", &again).status, 200);
}

#[test]
fn the_token_file_is_created_private_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("console.token");
    let first = access::load_or_create(&path).unwrap();
    assert_eq!(first.len(), 64);
    assert_eq!(crate::private::mode(&path).unwrap(), 0o600);
    assert_eq!(access::load_or_create(&path).unwrap(), first);
    std::fs::write(&path, "not a token\n").unwrap();
    assert!(access::load_or_create(&path).is_err());
}

#[test]
fn every_response_carries_a_strict_content_security_policy() {
    let headers = security_headers();
    let csp = headers
        .iter()
        .find(|(k, _)| *k == "Content-Security-Policy")
        .unwrap()
        .1;
    assert_eq!(csp, CSP);
    assert!(
        csp.contains("script-src 'self'")
            && !csp.contains("unsafe-inline")
            && !csp.contains("unsafe-eval")
    );
    assert!(csp.contains("frame-ancestors 'none'") && csp.contains("form-action 'self'"));
    // No page carries an inline script: the one script is a file.
    let s = setup();
    let (session, _) = s.login();
    for route in ROUTES
        .iter()
        .filter(|r| r.method == "GET" && !r.pattern.starts_with("/assets"))
    {
        let text = body(&s.get(&path_of(route.pattern), &session));
        for part in text.split("<script").skip(1) {
            assert!(
                part.starts_with(" src=\"/assets/console.js\""),
                "{}: {part:.80}",
                route.pattern
            );
        }
    }
}

#[test]
fn what_a_peer_supplied_is_escaped() {
    let s = setup();
    let (session, _) = s.login();
    for path in ["/jobs", "/jobs/rows", "/jobs/tax/j1", "/audit"] {
        let text = body(&s.get(path, &session));
        assert!(!text.contains("<script>alert"), "{path}");
        assert!(
            text.contains("&lt;script&gt;alert(1)&lt;/script&gt;") || path == "/audit",
            "{path}"
        );
    }
    // The refused job shows the rule that refused it.
    let text = body(&s.get("/jobs/tax/j1", &session));
    assert!(
        text.contains("policy.peers.tax") && text.contains("refused"),
        "{text}"
    );
}

#[test]
fn the_overview_shows_each_rules_leak_fields_with_their_defaults() {
    let s = setup();
    let (session, _) = s.login();
    let text = body(&s.get("/", &session));
    for shown in [
        "<dt>dealers</dt><dd class=\"leak\">two-party</dd>",
        "<dt>open_counts_to_decider</dt><dd class=\"leak\">false</dd>",
        "<dt>contribution</dt><dd class=\"leak\">true</dd>",
        "<dt>max_items</dt><dd class=\"leak\">5000</dd>",
        "<dt>leak_instance_space</dt><dd class=\"leak\">false</dd>",
        "<dt>binning_modes</dt><dd class=\"leak\">default, strict</dd>",
        "<dt>shared_permutation</dt><dd class=\"leak\">false</dd>",
    ] {
        assert!(text.contains(shown), "{shown} not in {text}");
    }
    // A limit the rule does not set is not shown as one.
    assert!(!text.contains("max_epochs"), "{text}");
}

#[test]
fn a_spec_error_is_shown_at_its_line_and_nothing_is_proposed() {
    let s = setup();
    let (session, csrf) = s.login();
    let mut req = request("POST", "/submit");
    req.cookies = session;
    req.form = vec![
        ("csrf".into(), csrf),
        (
            "spec".into(),
            "protocol = \"psi-cardinality\"\npurpose = \"x\"\n\n[[parties]]\nname = \"bank\"\n\
             dataset = \"people\"\ncolumns = [\"id\"]\n\n[[parties]]\nname = \"nobody\"\ndataset = \"d\"\n\
             columns = [\"id\"]\n\n[[outputs]]\nname = \"cardinality\"\nreceiver = \"bank\"\n"
                .into(),
        ),
    ];
    let r = dispatch(&s.console, &req);
    assert_eq!(r.status, 422);
    let text = body(&r);
    assert!(text.contains("id=\"spec-error\""), "{text}");
    assert!(text.contains("class=\"bad\" data-line=\"10\""), "{text}");
    assert!(text.contains("Line 10: "), "{text}");
    assert_eq!(s.actions_seen(), 0);
}

#[test]
fn the_audit_verdict_names_the_first_bad_record_once_the_file_is_changed() {
    let s = setup();
    let (session, _) = s.login();
    let text = body(&s.get("/audit", &session));
    assert!(text.contains("data-verdict=\"verified\""), "{text}");
    assert_eq!(s.feed.len(), 3);
    // Rewrite record #1 in place, keeping the file's length.
    let log = s.dir.path().join("audit.jsonl");
    let bytes = std::fs::read_to_string(&log).unwrap();
    std::fs::write(&log, bytes.replacen("alert(1)", "alert(2)", 1)).unwrap();
    let text = body(&s.get("/audit", &session));
    assert!(text.contains("data-verdict=\"tampered\""), "{text}");
    assert!(text.contains("data-first-bad=\"1\""), "{text}");
    let peers = BTreeMap::new();
    match s.feed.verdict(&s.fake.key.verifying_key(), &peers) {
        Verdict::Tampered { record, .. } => assert_eq!(record, Some(1)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_non_loopback_console_needs_tls() {
    let dir = tempfile::tempdir().unwrap();
    let text = |console: &str| {
        format!(
            "name = \"bank\"\nidentity = \"i\"\nlisten = \"127.0.0.1:7000\"\naudit_log = \"a\"\n\
             control_socket = \"c\"\n{console}\n"
        )
    };
    let path = dir.path().join("node.toml");
    let e = NodeConfig::from_toml(&path, &text("console = \"0.0.0.0:8443\""))
        .unwrap_err()
        .to_string();
    assert!(e.contains("node.toml:6") && e.contains("needs TLS"), "{e}");
    let ok = NodeConfig::from_toml(&path, &text("console = \"127.0.0.1:0\"")).unwrap();
    assert_eq!(
        ok.console.unwrap().token_file,
        dir.path().join("console.token")
    );
    let tls = NodeConfig::from_toml(
        &path,
        &text(
            "console = \"0.0.0.0:8443\"\nconsole_tls_cert = \"c.pem\"\nconsole_tls_key = \"k.pem\"",
        ),
    )
    .unwrap();
    assert!(tls.console.unwrap().tls.is_some());
    let half = NodeConfig::from_toml(
        &path,
        &text("console = \"127.0.0.1:0\"\nconsole_tls_cert = \"c.pem\""),
    );
    assert!(half.unwrap_err().to_string().contains("both"));
}
