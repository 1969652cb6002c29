//! The long-running node (`indomain node --config node.toml`): it loads and
//! checks its configuration, identity, datasets and policy, opens its audit
//! log, listens on its control socket for the operator and on its QUIC
//! address for peers, and keeps serving whatever a job does.
//!
//! What runs today: a job submitted at this node is checked locally, then
//! proposed to every other party over QUIC; each peer checks it against its
//! policy before reading any data and accepts or refuses with the rule
//! named; both sides record it in their audit logs. Once every party
//! accepted, the proposer opens the job's protocol channel and both sides
//! run it (`daemon/run.rs`): PSI jobs (intersection, cardinality, join and
//! sum) between two nodes; statistics, training and scoring jobs among all
//! the parties of the job over links between every two of them
//! (`daemon/mesh.rs`, `daemon/run_mesh.rs`). `job cancel` stops a job on
//! every party (`daemon/cancel.rs`); a job accepted here fails if its
//! proposer does not start it within the configured start timeout; the
//! QUIC links notice a vanished peer within seconds ([`Liveness::PROMPT`]).

mod answer;
mod cancel;
mod jobs;
mod mesh;
pub mod propose;
mod run;
mod run_aggregate;
mod run_mesh;
mod run_predict;
mod run_psi_sum;
mod run_train;
mod submit;

use crate::audit::{AuditLog, Event, JobRecord, Outcome, OutputRecord, Touched};
use crate::config::NodeConfig;
use crate::control::{self, JobSummary, Request, Response};
use crate::error::NodeError;
use crate::grade::Grade;
use crate::jobspec::JobSpec;
use crate::policy::RateLimiter;
use ed25519_dalek::SigningKey;
use indomain_net::Limits;
use indomain_net::quic::{Endpoint, Identity, Liveness, TrustedPeer};
use jobs::{Job, State};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

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
    /// Links between parties of jobs, until each job takes its own.
    links: mesh::Links,
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
        // A peer killed mid-job must fail the job within seconds, not after
        // the lenient idle timeout of one-shot commands.
        endpoint
            .set_liveness(Liveness::PROMPT)
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
            links: mesh::Links::default(),
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
                    std::thread::spawn(move || node.serve_channel(channel));
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
    pub fn handle(self: &Arc<Self>, request: Request) -> Response {
        let result = match request {
            Request::Submit { spec } => self.submit(spec).map(Response::Job),
            Request::List => {
                let jobs = lock(&self.jobs);
                let list = lock(&self.order)
                    .iter()
                    .filter_map(|id| jobs.get(id))
                    .map(Job::summary)
                    .collect();
                Ok(Response::Jobs { jobs: list })
            }
            Request::Status { job_id } => {
                self.with_job(&job_id, |job| Ok(Response::Job(job.summary())))
            }
            Request::Cancel { job_id } => self.cancel(&job_id).map(Response::Job),
            Request::Result { job_id } => self.with_job(&job_id, |job| {
                if job.state != State::Completed {
                    return Err(format!(
                        "job {job_id} is {}: it has no result{}",
                        job.summary().state,
                        if job.detail.is_empty() {
                            String::new()
                        } else {
                            format!(" ({})", job.detail)
                        }
                    ));
                }
                Ok(Response::Outputs {
                    job_id: job_id.clone(),
                    outputs: job.outputs.clone(),
                    files: job.files.clone(),
                })
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
                max_rows: None,
                outputs: spec
                    .outputs
                    .iter()
                    .map(|o| OutputRecord {
                        name: o.name.clone(),
                        receiver: o.receiver.clone(),
                        hash: None,
                    })
                    .collect(),
                files: Vec::new(),
                stop: Default::default(),
            },
        );
        order.push(spec.id.clone());
        Ok(())
    }

    /// Sets the job's state, unless it was cancelled meanwhile.
    fn set_state(&self, job_id: &str, state: State, detail: String) -> Option<JobSummary> {
        let mut jobs = lock(&self.jobs);
        let job = jobs.get_mut(job_id)?;
        if job.state != State::Cancelled {
            job.state = state;
            job.detail = detail;
        }
        Some(job.summary())
    }
}
