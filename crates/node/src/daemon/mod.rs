//! The long-running node (`indomain node --config node.toml`): it loads and
//! checks its configuration, identity, datasets and policy, opens its audit
//! log, listens on its control socket for the operator and on its QUIC
//! address for peers, and keeps serving whatever a job does.
//!
//! What runs today: a job submitted at this node is checked locally, then
//! proposed to every other party over QUIC; each peer checks it against its
//! policy before reading any data and accepts or refuses with the rule
//! named; both sides record it in their audit logs. Running the protocol
//! itself under the node is not built yet (TODO(#8)): accepted jobs stay
//! `accepted`.

mod jobs;
pub mod propose;

use crate::audit::{
    AuditLog, Event, JobRecord, Outcome, OutputRecord, Receipt, ReceiptBody, Touched,
};
use crate::config::NodeConfig;
use crate::control::{self, JobSummary, Request, Response};
use crate::error::NodeError;
use crate::grade::Grade;
use crate::jobspec::JobSpec;
use crate::policy::{self, RateLimiter};
use ed25519_dalek::SigningKey;
use indomain_net::quic::{Endpoint, Identity, QuicChannel, TrustedPeer};
use indomain_net::{Channel, Limits, wire};
use jobs::{Job, State};
use propose::{Answer, Hello};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

/// The most jobs the node keeps in its table.
const MAX_JOBS: usize = 10_000;

/// A running node.
pub struct Node {
    config: NodeConfig,
    /// The audit key, which also signs the receipts this node gives.
    key: SigningKey,
    audit: Arc<Mutex<AuditLog>>,
    jobs: Mutex<BTreeMap<String, Job>>,
    /// Job ids in the order they arrived, for listing.
    order: Mutex<Vec<String>>,
    limiter: Mutex<RateLimiter>,
    endpoint: Endpoint,
    control: Mutex<Option<UnixListener>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking handler thread must not stop the node: the data behind a
    // poisoned lock is still consistent (every update is a single insert or
    // assignment).
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Node {
    /// Loads `config_path` and everything it names, and binds the control
    /// socket and the QUIC address. Any problem is an error before the node
    /// serves anything.
    pub fn start(config_path: &Path) -> Result<Arc<Node>, NodeError> {
        let config = NodeConfig::load(config_path)?;
        let identity =
            Identity::load(&config.identity).map_err(|e| NodeError::Key(e.to_string()))?;
        if identity.name() != config.name {
            return Err(NodeError::Key(format!(
                "{}: the identity is for {:?}, the configuration is for {:?}",
                config.identity.display(),
                identity.name(),
                config.name
            )));
        }
        let key = crate::audit::key::signing_key(&config.identity)?;
        for dataset in config.datasets.values() {
            dataset.check()?;
        }
        let config_bytes =
            std::fs::read(config_path).map_err(|e| crate::error::io_error(config_path, e))?;
        let mut audit = AuditLog::open(&config.audit_log, key.clone())?;
        audit.append(Event::NodeStarted {
            node: config.name.clone(),
            config_hash: crate::hex::encode(&Sha256::digest(&config_bytes)),
        })?;
        let control = control::bind(&config.control_socket)?;
        let trusted = config
            .peers
            .values()
            .map(|p| TrustedPeer {
                name: p.name.clone(),
                fingerprint: p.fingerprint,
            })
            .collect();
        let endpoint = Endpoint::bind(&identity, config.listen, trusted, Limits::default())
            .map_err(|e| NodeError::Control(format!("QUIC on {}: {e}", config.listen)))?;
        Ok(Arc::new(Node {
            config,
            key,
            audit: Arc::new(Mutex::new(audit)),
            jobs: Mutex::new(BTreeMap::new()),
            order: Mutex::new(Vec::new()),
            limiter: Mutex::new(RateLimiter::default()),
            endpoint,
            control: Mutex::new(Some(control)),
        }))
    }

    /// The node's configuration.
    pub fn config(&self) -> &NodeConfig {
        &self.config
    }

    /// The QUIC address actually bound.
    pub fn quic_addr(&self) -> std::net::SocketAddr {
        self.endpoint.local_addr()
    }

    /// Serves peers and the operator until the process ends. Each
    /// connection is handled on its own thread, so one failing or slow job
    /// does not hold up the others.
    pub fn serve(self: Arc<Self>) -> Result<(), NodeError> {
        let listener = lock(&self.control)
            .take()
            .ok_or_else(|| NodeError::Control("the node is already serving".into()))?;
        let peers = Arc::clone(&self);
        std::thread::spawn(move || peers.serve_peers());
        for stream in listener.incoming() {
            let stream = match stream {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!("control socket: {e}");
                    continue;
                }
            };
            let node = Arc::clone(&self);
            std::thread::spawn(move || {
                if let Err(e) = control::serve_connection(stream, &|r| node.handle(r)) {
                    tracing::warn!("{e}");
                }
            });
        }
        Ok(())
    }

    fn serve_peers(self: Arc<Self>) {
        loop {
            let waited = Instant::now();
            match self.endpoint.accept() {
                Ok(channel) => {
                    let node = Arc::clone(&self);
                    std::thread::spawn(move || node.answer_proposal(channel));
                }
                // No peer connected within the receive timeout, or a
                // connection was refused at the handshake: keep listening,
                // without spinning if the error came at once.
                Err(e) => {
                    tracing::debug!("waiting for peers: {e}");
                    if waited.elapsed() < Duration::from_secs(1) {
                        std::thread::sleep(Duration::from_millis(200));
                    }
                }
            }
        }
    }

    /// Answers one control request.
    pub fn handle(&self, request: Request) -> Response {
        let result = match request {
            Request::Submit { spec } => self.submit(spec).map(Response::Job),
            Request::List => {
                let jobs = lock(&self.jobs);
                let list = lock(&self.order).iter().filter_map(|id| jobs.get(id)).map(Job::summary).collect();
                Ok(Response::Jobs { jobs: list })
            }
            Request::Status { job_id } => self.with_job(&job_id, |job| Ok(Response::Job(job.summary()))),
            Request::Cancel { job_id } => self.cancel(&job_id).map(Response::Job),
            // TODO(#8): jobs do not run under the node yet, so none has a
            // result; once they do, answer with `Response::Outputs`.
            Request::Result { job_id } => self.with_job(&job_id, |job| {
                Err(format!(
                    "job {job_id} is {}: it has no result (running protocols under the node is not built yet)",
                    job.summary().state
                ))
            }),
        };
        result.unwrap_or_else(|message| Response::Error { message })
    }

    fn with_job(
        &self,
        job_id: &str,
        f: impl FnOnce(&Job) -> Result<Response, String>,
    ) -> Result<Response, String> {
        let jobs = lock(&self.jobs);
        let job = jobs
            .get(job_id)
            .ok_or_else(|| format!("no job {job_id:?} on this node"))?;
        f(job)
    }

    /// The audit record of `job` reaching `outcome`.
    fn record(&self, spec: &JobSpec, proposer: &str, started_ms: u64, outcome: Outcome) -> Event {
        let mine = spec.party(&self.config.name);
        let grades = mine.and_then(|p| self.config.policy.catalog.get(&p.dataset));
        Event::Job(JobRecord {
            job_id: spec.id.clone(),
            spec_hash: spec.hash().to_string(),
            proposer: proposer.to_string(),
            peers: spec.parties.iter().map(|p| p.name.clone()).collect(),
            protocol: spec.protocol,
            purpose: spec.purpose.clone(),
            dataset: mine.map(|p| p.dataset.clone()).unwrap_or_default(),
            columns: mine
                .map(|p| {
                    p.columns
                        .iter()
                        .map(|c| Touched {
                            column: c.clone(),
                            grade: grades
                                .and_then(|g| g.get(c))
                                .copied()
                                .unwrap_or(Grade::Core),
                        })
                        .collect()
                })
                .unwrap_or_default(),
            parameters: spec.parameters.clone(),
            outputs: spec
                .outputs
                .iter()
                .map(|o| OutputRecord {
                    name: o.name.clone(),
                    receiver: o.receiver.clone(),
                    hash: None,
                })
                .collect(),
            bytes_sent: 0,
            bytes_received: 0,
            outcome,
            started_ms,
            finished_ms: crate::time::now_millis(),
        })
    }

    fn log(&self, event: Event) -> Result<(), String> {
        lock(&self.audit)
            .append(event)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// Registers a new job; refuses a job id already in use.
    fn register(
        &self,
        spec: &JobSpec,
        proposer: &str,
        state: State,
        detail: String,
        started_ms: u64,
    ) -> Result<(), String> {
        let mut jobs = lock(&self.jobs);
        if jobs.contains_key(&spec.id) {
            return Err(format!(
                "job id {:?} is already in use on this node",
                spec.id
            ));
        }
        let mut order = lock(&self.order);
        if jobs.len() >= MAX_JOBS {
            // Forget finished jobs, oldest first (their records stay in the
            // audit log), so peers cannot grow the table without bound.
            let mut kept = Vec::with_capacity(order.len());
            for id in order.drain(..) {
                let finished = jobs.get(&id).is_none_or(|j| !j.state.is_open());
                if finished && jobs.len() > MAX_JOBS / 2 {
                    jobs.remove(&id);
                } else {
                    kept.push(id);
                }
            }
            *order = kept;
            if jobs.len() >= MAX_JOBS {
                return Err(format!("{MAX_JOBS} jobs are open on this node; try later"));
            }
        }
        jobs.insert(
            spec.id.clone(),
            Job {
                spec: spec.clone(),
                spec_hash: spec.hash().to_string(),
                proposer: proposer.to_string(),
                state,
                detail,
                started_ms,
            },
        );
        order.push(spec.id.clone());
        Ok(())
    }

    fn set_state(&self, job_id: &str, state: State, detail: String) -> Option<JobSummary> {
        let mut jobs = lock(&self.jobs);
        let job = jobs.get_mut(job_id)?;
        job.state = state;
        job.detail = detail;
        Some(job.summary())
    }

    /// Checks a job submitted by the operator and proposes it to the peers.
    fn submit(&self, mut spec: JobSpec) -> Result<JobSummary, String> {
        if spec.id.is_empty() {
            spec.id = format!("job-{}", crate::hex::encode(&rand::random::<[u8; 8]>()));
        }
        spec.validate().map_err(|e| e.to_string())?;
        let me = &self.config.name;
        let mine = spec
            .party(me)
            .ok_or_else(|| format!("this node ({me}) is not a party of the job"))?;
        let grades = self
            .config
            .policy
            .catalog
            .get(&mine.dataset)
            .ok_or_else(|| format!("no dataset {:?} on this node", mine.dataset))?;
        if let Some(c) = mine.columns.iter().find(|c| !grades.contains_key(*c)) {
            return Err(format!("dataset {:?} has no column {c:?}", mine.dataset));
        }
        let others: Vec<&str> = spec
            .parties
            .iter()
            .map(|p| p.name.as_str())
            .filter(|n| n != me)
            .collect();
        if let Some(unknown) = others.iter().find(|n| !self.config.peers.contains_key(**n)) {
            return Err(format!("party {unknown:?} is not a configured peer"));
        }
        let started = crate::time::now_millis();
        self.register(&spec, me, State::Proposed, String::new(), started)?;
        self.log(self.record(&spec, me, started, Outcome::Proposed))?;

        let spec_json = spec.canonical_bytes();
        let spec_hash = spec.hash().to_string();
        let mut accepted = Vec::new();
        for peer in others {
            let answer = self.propose_to(peer, spec_json.clone());
            let refusal = match answer {
                Ok(Answer::Accept {
                    spec_hash: theirs, ..
                }) if theirs != spec_hash => (
                    format!("peers.{peer}"),
                    format!("{peer} hashed the spec to {theirs}, this node to {spec_hash}"),
                ),
                Ok(Answer::Accept { rule, receipt, .. }) => {
                    match self.keep_receipt(peer, &spec, "accepted", receipt) {
                        Ok(()) => {
                            accepted.push(format!("{peer} ({rule})"));
                            continue;
                        }
                        Err(e) => (format!("peers.{peer}.audit_key"), e),
                    }
                }
                Ok(Answer::Refuse {
                    rule,
                    reason,
                    receipt,
                }) => {
                    if let Some(receipt) = receipt
                        && let Err(e) = self.keep_receipt(peer, &spec, "refused", receipt)
                    {
                        tracing::warn!("{e}");
                    }
                    (rule, format!("{reason} (refused by {peer})"))
                }
                Err(e) => (
                    format!("peers.{peer}"),
                    format!("could not propose to {peer}: {e}"),
                ),
            };
            let (rule, reason) = refusal;
            self.log(self.record(
                &spec,
                me,
                started,
                Outcome::Refused {
                    rule: rule.clone(),
                    reason: reason.clone(),
                },
            ))?;
            return self
                .set_state(&spec.id, State::Refused, format!("{rule}: {reason}"))
                .ok_or_else(|| "the job vanished".to_string());
        }
        let rule = format!("accepted by {}", accepted.join(", "));
        self.log(self.record(&spec, me, started, Outcome::Accepted { rule: rule.clone() }))?;
        // TODO(#8): run the job's protocol here, under an EgressGuard, then
        // record its outcome and exchange receipts.
        self.set_state(&spec.id, State::Accepted, rule)
            .ok_or_else(|| "the job vanished".to_string())
    }

    /// Checks a peer's receipt for `spec` (signer, signature against the
    /// peer's audit key, job, spec hash, outcome) and stores it in the log.
    fn keep_receipt(
        &self,
        peer: &str,
        spec: &JobSpec,
        outcome: &str,
        receipt: Receipt,
    ) -> Result<(), String> {
        let key = self
            .config
            .peers
            .get(peer)
            .map(|p| p.audit_key)
            .ok_or("not a configured peer")?;
        let body = &receipt.body;
        if receipt.signer != peer
            || body.job_id != spec.id
            || body.spec_hash != spec.hash().to_string()
            || body.outcome != outcome
        {
            return Err(format!(
                "{peer}'s receipt does not match the job and its answer"
            ));
        }
        receipt.verify(&key)?;
        self.log(Event::Receipt(receipt))
    }

    fn propose_to(&self, peer: &str, spec_json: Vec<u8>) -> Result<Answer, String> {
        let address = self
            .config
            .peers
            .get(peer)
            .map(|p| p.address)
            .ok_or("not a configured peer")?;
        let mut channel = self
            .endpoint
            .connect(address, peer)
            .map_err(|e| e.to_string())?;
        propose::propose(&mut channel, spec_json).map_err(|e| e.to_string())
    }

    /// Answers a peer's proposal: policy first, before any data is read.
    fn answer_proposal(&self, mut channel: QuicChannel) {
        let peer = channel.peer().to_string();
        let answer = match wire::recv_msg::<Hello>(&mut channel) {
            Ok(Hello::Propose { spec_json }) => self.decide(&peer, &spec_json),
            Err(e) => {
                tracing::warn!("proposal from {peer}: {e}");
                return;
            }
        };
        if let Err(e) = wire::send_msg(&mut channel, &answer) {
            tracing::warn!("answering {peer}: {e}");
        }
    }

    fn decide(&self, peer: &str, spec_json: &[u8]) -> Answer {
        let refuse = |rule: &str, reason: String| Answer::Refuse {
            rule: rule.to_string(),
            reason,
            receipt: None,
        };
        let spec: JobSpec = match serde_json::from_slice(spec_json) {
            Ok(s) => s,
            Err(e) => return refuse("job", format!("malformed job spec: {e}")),
        };
        if let Err(e) = spec.validate() {
            return refuse("job", e.to_string());
        }
        if spec.id.is_empty() {
            return refuse("job", "the job has no id".into());
        }
        let now = SystemTime::now();
        let started = crate::time::now_millis();
        let decision = policy::check(&self.config.policy, peer, &spec, now)
            .and_then(|grant| lock(&self.limiter).admit(&grant, now).map(|()| grant));
        let spec_hash = spec.hash().to_string();
        let receipt = |outcome: &str| {
            let body = ReceiptBody {
                job_id: spec.id.clone(),
                spec_hash: spec_hash.clone(),
                outcome: outcome.to_string(),
                outputs: Vec::new(),
            };
            Receipt::sign(body, &self.config.name, &self.key)
        };
        let (state, outcome, answer) = match decision {
            Ok(grant) => {
                let rule = format!("policy.peers.{peer}.allow[{}]", grant.rule);
                (
                    State::Accepted,
                    Outcome::Accepted { rule: rule.clone() },
                    Answer::Accept {
                        rule,
                        spec_hash: spec_hash.clone(),
                        receipt: receipt("accepted"),
                    },
                )
            }
            Err(refusal) => (
                State::Refused,
                Outcome::Refused {
                    rule: refusal.rule.clone(),
                    reason: refusal.reason.clone(),
                },
                Answer::Refuse {
                    rule: refusal.rule,
                    reason: refusal.reason,
                    receipt: Some(receipt("refused")),
                },
            ),
        };
        let detail = match &answer {
            Answer::Accept { rule, .. } => rule.clone(),
            Answer::Refuse { rule, reason, .. } => format!("{rule}: {reason}"),
        };
        if let Err(e) = self.register(&spec, peer, state, detail, started) {
            return refuse("job", e);
        }
        if let Err(e) = self.log(self.record(&spec, peer, started, outcome)) {
            // Nothing is agreed to without its audit record.
            self.set_state(&spec.id, State::Failed, e.clone());
            return refuse("audit", e);
        }
        // TODO(#8): on acceptance, wait for the proposer to open the job's
        // protocol channels and run this node's side under an EgressGuard.
        answer
    }

    fn cancel(&self, job_id: &str) -> Result<JobSummary, String> {
        let (spec, proposer, started) = {
            let jobs = lock(&self.jobs);
            let job = jobs
                .get(job_id)
                .ok_or_else(|| format!("no job {job_id:?} on this node"))?;
            if !job.state.is_open() {
                return Err(format!("job {job_id} is already {}", job.summary().state));
            }
            (job.spec.clone(), job.proposer.clone(), job.started_ms)
        };
        self.log(self.record(&spec, &proposer, started, Outcome::Cancelled))?;
        self.set_state(job_id, State::Cancelled, "cancelled by the operator".into())
            .ok_or_else(|| "the job vanished".to_string())
    }
}
