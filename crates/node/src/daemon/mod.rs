//! The long-running node (`indomain node --config node.toml`): it loads and
//! checks its configuration, identity, datasets and policy, opens its audit
//! log, listens on its control socket for the operator and on its QUIC
//! address for peers, and keeps serving whatever a job does.
//!
//! What runs today: a job submitted at this node is checked locally, then
//! proposed to every other party over QUIC at once; each peer checks it
//! against its policy before reading any data and accepts or refuses with
//! the rule named; both sides record it in their audit logs. A refusal by
//! any party withdraws the job at every party that accepted it. Once every
//! party accepted, the proposer opens the job's links — one between every
//! two parties, a PSI job's two included (`daemon/mesh.rs`) — and every
//! party runs its side with one executor (`daemon/executor.rs`) and the
//! job's protocol, one file each under `daemon/protocols/` (PSI
//! intersection, cardinality and join; PSI sum; statistics; training;
//! scoring), dispatched once from the job's plan. `job cancel` stops a job on
//! every party (`daemon/cancel.rs`); a job accepted here fails if its
//! proposer does not start it within the configured start timeout; the
//! QUIC links notice a vanished peer within seconds ([`Liveness::PROMPT`]).
//!
//! What survives a restart is rebuilt from the audit log by
//! [`crate::state`]: the job history (`job list` shows earlier jobs), the
//! rate-limit counters, and the job ids in use, which are keyed by
//! proposer and id ([`JobKey`]). A job the log leaves open is recorded as
//! failed at start: the node that ran it is gone. So does the DP budget
//! ledger (`daemon/budget.rs`): a reservation the log leaves open is
//! recorded as spent at start.

mod answer;
mod budget;
mod cancel;
pub mod error;
mod executor;
mod jobs;
mod mesh;
mod own;
pub mod propose;
mod protocols;
mod receipts;
mod submit;

use crate::audit::{AuditLog, Event, JobRecord, Outcome, OutputRecord, Touched};
use crate::config::NodeConfig;
use crate::console::AuditFeed;
use crate::control::{self, JobSummary, Request, Response};
use crate::error::NodeError;
use crate::grade::Grade;
use crate::jobspec::JobSpec;
use crate::plan::JobPlan;
use crate::state::{JobKey, NodeState};
use ed25519_dalek::SigningKey;
pub use error::JobError;
use indomain_net::Limits;
use indomain_net::quic::{Endpoint, Identity, Liveness, TrustedPeer};
use jobs::{Job, State};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The most jobs the node keeps in its live table.
const MAX_JOBS: usize = 10_000;

/// A running node.
pub struct Node {
    config: NodeConfig,
    /// The audit key, which also signs the receipts this node gives.
    key: SigningKey,
    audit: Arc<Mutex<AuditLog>>,
    /// What the log says, kept up to date with every record appended. Lock
    /// order: the audit log before the state, never the other way.
    state: Arc<Mutex<NodeState>>,
    jobs: Mutex<BTreeMap<JobKey, Job>>,
    /// Live jobs in the order they arrived, for listing.
    order: Mutex<Vec<JobKey>>,
    endpoint: Endpoint,
    control: Mutex<Option<UnixListener>>,
    /// Links between parties of jobs, until each job takes its own.
    links: mesh::Links,
    /// Cancels that came before their job's proposal.
    early_cancels: cancel::EarlyCancels,
    /// The operator console's view of the audit log, fed every record
    /// (when `console` is set in `node.toml`).
    console_feed: Option<Arc<AuditFeed>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking handler thread must not stop the node: the data behind a
    // poisoned lock is still consistent (every update is a single insert or
    // assignment).
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Node {
    /// Loads `config_path` and everything it names, opens and verifies the
    /// audit log (rebuilding the node's state from it), and binds the
    /// control socket and the QUIC address. Any problem is an error before
    /// the node serves anything.
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
        let mut state = NodeState::new(&config.name);
        let console_feed = config
            .console
            .as_ref()
            .map(|_| Arc::new(AuditFeed::new(&config.audit_log)));
        let mut audit = AuditLog::open_with(
            &config.audit_log,
            key.clone(),
            config.audit_head_file.as_deref(),
            &mut |r| {
                state.apply(r);
                if let Some(feed) = &console_feed {
                    feed.verified(r);
                }
            },
        )?;
        if let Some(feed) = &console_feed {
            feed.start_verified();
        }
        let state = Arc::new(Mutex::new(state));
        let observed = Arc::clone(&state);
        let fed = console_feed.clone();
        audit.observe(move |r| {
            lock(&observed).apply(r);
            if let Some(feed) = &fed {
                feed.appended(r);
            }
        });
        audit.append(Event::NodeStarted {
            node: config.name.clone(),
            config_hash: crate::hex::encode(&Sha256::digest(&config_bytes)),
        })?;
        // Jobs the log leaves open ran in a process that is gone.
        let open: Vec<JobRecord> = lock(&state)
            .open_jobs()
            .into_iter()
            .map(|j| {
                let reason = format!(
                    "the node stopped while the job was {}; it did not finish",
                    j.state()
                );
                j.record(Outcome::Failed { reason }, crate::time::now_millis())
            })
            .collect();
        for record in open {
            audit.append(Event::Job(record))?;
        }
        // Whether their results went out is not known: the budget assumes
        // they did.
        let unsettled = lock(&state).ledger().open_jobs();
        for job in unsettled {
            audit.append(Event::Budget {
                change: crate::dp_ledger::LedgerEvent::Released { job },
            })?;
        }
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
            state,
            jobs: Mutex::new(BTreeMap::new()),
            order: Mutex::new(Vec::new()),
            endpoint,
            control: Mutex::new(Some(control)),
            links: mesh::Links::default(),
            early_cancels: Default::default(),
            console_feed,
        }))
    }

    /// Reads the state rebuilt from the audit log (the console's job
    /// history).
    pub fn with_state<R>(&self, read: impl FnOnce(&NodeState) -> R) -> R {
        read(&lock(&self.state))
    }

    /// The audit key's public half.
    pub fn audit_key(&self) -> ed25519_dalek::VerifyingKey {
        self.key.verifying_key()
    }

    /// The console's view of the audit log (when `console` is set).
    pub fn console_feed(&self) -> Option<Arc<AuditFeed>> {
        self.console_feed.clone()
    }

    /// The node's configuration.
    pub fn config(&self) -> &NodeConfig {
        &self.config
    }

    /// The QUIC address actually bound.
    pub fn quic_addr(&self) -> std::net::SocketAddr {
        self.endpoint.local_addr()
    }

    /// Stops every running job's links saying the node is stopping, so its
    /// peers fail the job at once; returns how many jobs were running.
    pub fn stop_running(&self, why: &str) -> usize {
        let stops: Vec<_> = lock(&self.jobs)
            .values()
            .filter(|j| j.state() == State::Running)
            .map(|j| Arc::clone(&j.stop))
            .collect();
        for stop in &stops {
            stop.stop_links(why);
        }
        stops.len()
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
            Request::Submit { spec, wait_secs } => self
                .submit(spec, wait_secs.map(Duration::from_secs))
                .map(Response::Job),
            Request::List => Ok(Response::Jobs { jobs: self.list() }),
            Request::Status { job_id } => self
                .resolve(&job_id)
                .and_then(|key| self.summary(&key))
                .map(Response::Job),
            Request::Cancel { job_id } => self
                .resolve(&job_id)
                .and_then(|key| self.cancel(&key))
                .map(Response::Job),
            Request::Result { job_id } => self.resolve(&job_id).and_then(|key| self.result(&key)),
            Request::Budget => Ok(Response::Budget {
                budgets: self.budgets(crate::time::unix_secs(std::time::SystemTime::now())),
            }),
        };
        result.unwrap_or_else(|e| Response::Error {
            message: e.to_string(),
        })
    }

    /// Every job: those of earlier runs from the history, then the live
    /// ones, each once, in the order they first appeared.
    fn list(&self) -> Vec<JobSummary> {
        let jobs = lock(&self.jobs);
        let order = lock(&self.order);
        let state = lock(&self.state);
        let earlier = state
            .history()
            .jobs()
            .filter(|j| !jobs.contains_key(&j.key))
            .map(jobs::summary_of);
        let live = order.iter().filter_map(|k| jobs.get(k)).map(Job::summary);
        earlier.chain(live).collect()
    }

    /// The job an operator names: `proposer/id`, or an id that only one
    /// proposer used here.
    fn resolve(&self, text: &str) -> Result<JobKey, JobError> {
        if let Some(key) = JobKey::parse(text) {
            return Ok(key);
        }
        let shown = crate::bounds::printable(text, 80);
        let mut keys: Vec<JobKey> = lock(&self.jobs)
            .keys()
            .filter(|k| k.id == text)
            .cloned()
            .collect();
        for key in lock(&self.state).history().with_id(text) {
            if !keys.contains(key) {
                keys.push(key.clone());
            }
        }
        match keys.as_slice() {
            [key] => Ok(key.clone()),
            [] => Err(JobError::Unknown(format!("no job {shown:?} on this node"))),
            _ => Err(JobError::Unknown(format!(
                "job id {shown:?} was used by several proposers here; name one: {}",
                keys.iter()
                    .map(JobKey::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    fn summary(&self, key: &JobKey) -> Result<JobSummary, JobError> {
        if let Some(job) = lock(&self.jobs).get(key) {
            return Ok(job.summary());
        }
        lock(&self.state)
            .history()
            .job(key)
            .map(jobs::summary_of)
            .ok_or_else(|| no_job(key))
    }

    /// A completed job's outputs and the files this node received.
    fn result(&self, key: &JobKey) -> Result<Response, JobError> {
        let (state, detail, outputs, files, salts) = match lock(&self.jobs).get(key) {
            Some(job) => (
                job.state(),
                job.detail.clone(),
                job.outputs.clone(),
                job.files.clone(),
                job.salts.clone(),
            ),
            None => {
                let history = lock(&self.state);
                let job = history.history().job(key).ok_or_else(|| no_job(key))?;
                // The files of a job of an earlier run, where it wrote them.
                let dir = self.results_dir(key);
                let mut files = Vec::new();
                let mut salts = Vec::new();
                for o in &job.outputs {
                    if o.receiver == self.config.name && o.hash.is_some() {
                        // `sum.csv` is output `sum`; its salt file
                        // `sum.csv.salt` has the stem `sum.csv`.
                        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                            let path = entry.path();
                            if path.file_stem().and_then(|s| s.to_str()) == Some(o.name.as_str()) {
                                salts.push(salt_path(&path));
                                files.push(path);
                            }
                        }
                    }
                }
                (
                    State::of(&job.outcome),
                    jobs::summary_of(job).detail,
                    job.outputs.clone(),
                    files,
                    salts,
                )
            }
        };
        if state != State::Completed {
            return Err(JobError::Unknown(format!(
                "job {key} is {state}: it has no result{}",
                if detail.is_empty() {
                    String::new()
                } else {
                    format!(" ({detail})")
                }
            )));
        }
        Ok(Response::Outputs {
            job_id: key.id.clone(),
            outputs,
            files,
            salts,
        })
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

    /// Appends `event` to the audit log; a job's final record also
    /// settles its DP budget reservation (`daemon/budget.rs`).
    fn log(&self, event: Event) -> Result<(), JobError> {
        let ended = match &event {
            Event::Job(j) => match j.outcome {
                Outcome::Completed => Some((JobKey::new(&j.proposer, &j.job_id), true)),
                Outcome::Failed { .. } | Outcome::Cancelled { .. } | Outcome::Withdrawn { .. } => {
                    Some((JobKey::new(&j.proposer, &j.job_id), false))
                }
                _ => None,
            },
            _ => None,
        };
        let mut audit = lock(&self.audit);
        audit.append(event).map_err(JobError::Audit)?;
        if let Some((key, completed)) = ended {
            self.settle_budget(&mut audit, &key, completed);
        }
        Ok(())
    }

    /// The head of this node's audit log now (quoted in its receipts).
    fn audit_head(&self) -> String {
        lock(&self.audit).head().to_string()
    }

    /// Where the outputs of job `key` go: `results/<proposer>/<id>/` beside
    /// the audit log.
    fn results_dir(&self, key: &JobKey) -> PathBuf {
        self.config
            .audit_log
            .parent()
            .unwrap_or(Path::new("."))
            .join("results")
            .join(&key.proposer)
            .join(&key.id)
    }

    /// Registers a new job; refuses a job id its proposer already used
    /// here (in this run or, by the log, an earlier one).
    fn register(
        &self,
        key: &JobKey,
        (spec, plan): (&JobSpec, &JobPlan),
        state: State,
        detail: String,
        started_ms: u64,
    ) -> Result<(), JobError> {
        let mut jobs = lock(&self.jobs);
        if jobs.contains_key(key) || lock(&self.state).id_in_use(key) {
            return Err(JobError::Unknown(reused(key)));
        }
        let mut order = lock(&self.order);
        if jobs.len() >= MAX_JOBS {
            // Forget finished jobs, oldest first (their records stay in the
            // audit log and the history), so peers cannot grow the table
            // without bound.
            let mut kept = Vec::with_capacity(order.len());
            for k in order.drain(..) {
                let finished = jobs.get(&k).is_none_or(|j| !j.state().is_open());
                if finished && jobs.len() > MAX_JOBS / 2 {
                    jobs.remove(&k);
                } else {
                    kept.push(k);
                }
            }
            *order = kept;
            if jobs.len() >= MAX_JOBS {
                return Err(JobError::Busy(MAX_JOBS));
            }
        }
        jobs.insert(
            key.clone(),
            Job::new(
                key.clone(),
                (spec.clone(), plan.clone()),
                (state, detail),
                started_ms,
            ),
        );
        order.push(key.clone());
        Ok(())
    }

    /// Moves job `key` to `state` saying `detail`, if its state allows
    /// ([`State::may_become`]; a cancel wins over what comes after it);
    /// the job's summary either way.
    fn set_state(&self, key: &JobKey, state: State, detail: String) -> Option<JobSummary> {
        let mut jobs = lock(&self.jobs);
        let job = jobs.get_mut(key)?;
        job.transition(state, detail);
        Some(job.summary())
    }

    /// Enters `phase` of the running job `key` (for `job status`).
    fn phase(&self, key: &JobKey, phase: &str) {
        if let Some(job) = lock(&self.jobs).get(key) {
            job.progress.phase(phase);
        }
    }

    /// The progress of job `key`, for its protocol thread to update.
    fn progress(&self, key: &JobKey) -> Arc<jobs::Progress> {
        lock(&self.jobs)
            .get(key)
            .map(|j| Arc::clone(&j.progress))
            .unwrap_or_default()
    }
}

/// The error for a job this node does not know.
fn no_job(key: &JobKey) -> JobError {
    JobError::Unknown(format!("no job {key} on this node"))
}

/// Why a proposal with a used id is refused.
fn reused(key: &JobKey) -> String {
    format!(
        "job id {} was already used by {} on this node; give the job a new id",
        key.id, key.proposer
    )
}

/// The salt file of output file `path`.
fn salt_path(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(crate::audit::commitment::SALT_SUFFIX);
    PathBuf::from(p)
}
