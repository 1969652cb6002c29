//! The demo's party nodes: each organisation gets a directory with its
//! SQLite database, its `node.toml` (peers, datasets with graded columns,
//! policy) and its audit log, and runs as a real `indomain node` process on
//! loopback. The demo then talks to each node over its control socket,
//! exactly as `indomain job submit | status | result` does.

use super::Node;
use super::error::DemoError;
use super::procs;
use indomain_node::config::NodeConfig;
use indomain_node::control::{self, BudgetLine, JobState, JobSummary, Request, Response};
use indomain_node::jobspec::JobSpec;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long a node may take to print its ready line.
const START_DEADLINE: Duration = Duration::from_secs(60);

/// One organisation's node directory and what its peers need to know.
pub struct Site {
    /// The organisation.
    pub name: &'static str,
    /// Its directory (database, `node.toml`, audit log, control socket,
    /// results, `node.log`).
    pub dir: PathBuf,
    /// Its `node.toml`.
    pub config: PathBuf,
    identity: PathBuf,
    fingerprint: String,
    audit_key: String,
    port: u16,
}

impl Site {
    /// A directory for `node` under `root`, with the audit key of its
    /// identity and a free loopback port.
    pub fn new(exe: &Path, root: &Path, node: &Node) -> Result<Site, DemoError> {
        let dir = root.join("nodes").join(node.name);
        std::fs::create_dir_all(&dir).map_err(DemoError::io(&dir))?;
        let identity = node.identity.to_string_lossy().into_owned();
        let audit_key = procs::run_one(exe, &["audit", "key", "--identity", &identity])?
            .trim()
            .to_string();
        let fingerprint = node
            .peer_entry
            .split_once('=')
            .map(|(_, fp)| fp.to_string())
            .ok_or_else(|| DemoError::Printed {
                command: format!("keygen for {}", node.name),
                what: "fingerprint",
                output: node.peer_entry.clone(),
            })?;
        let port = procs::free_udp_addr().map_err(DemoError::Port)?.port();
        Ok(Site {
            name: node.name,
            config: dir.join("node.toml"),
            dir,
            identity: node.identity.clone(),
            fingerprint,
            audit_key,
            port,
        })
    }

    /// Writes `node.toml`: every other site is a peer; `datasets` and
    /// `policy` are TOML tables of this site's own.
    pub fn write_config(
        &self,
        sites: &[Site],
        datasets: &str,
        policy: &str,
    ) -> Result<(), DemoError> {
        // Relative to this file (the identity is two levels up, in the
        // demo's directory), so that a kept directory still works.
        let identity = self
            .identity
            .file_name()
            .map(|f| Path::new("../..").join(f))
            .unwrap_or_else(|| self.identity.clone());
        let mut text = format!(
            "name = \"{}\"\nidentity = \"{}\"\nlisten = \"127.0.0.1:{}\"\n\
             audit_log = \"audit.jsonl\"\ncontrol_socket = \"control.sock\"\n",
            self.name,
            identity.display(),
            self.port
        );
        for peer in sites.iter().filter(|s| s.name != self.name) {
            text.push_str(&format!(
                "\n[peers.{}]\naddress = \"127.0.0.1:{}\"\nfingerprint = \"{}\"\naudit_key = \"{}\"\n",
                peer.name, peer.port, peer.fingerprint, peer.audit_key
            ));
        }
        text.push('\n');
        text.push_str(datasets);
        text.push('\n');
        text.push_str(policy);
        std::fs::write(&self.config, text).map_err(DemoError::io(&self.config))
    }

    /// Turns on the operator console of this site's node, on a free
    /// loopback port (its address is on the node's ready line).
    pub fn enable_console(&self) -> Result<(), DemoError> {
        let text = std::fs::read_to_string(&self.config).map_err(DemoError::io(&self.config))?;
        std::fs::write(&self.config, format!("console = \"127.0.0.1:0\"\n{text}"))
            .map_err(DemoError::io(&self.config))
    }

    fn unexpected(&self, answer: Response) -> DemoError {
        DemoError::Answer {
            node: self.name.to_string(),
            answer: format!("{answer:?}"),
        }
    }

    fn socket(&self) -> PathBuf {
        self.dir.join("control.sock")
    }

    fn call(&self, request: &Request) -> Result<Response, DemoError> {
        match control::call(&self.socket(), request) {
            Ok(Response::Error { message }) => Err(DemoError::Refused {
                node: self.name.to_string(),
                message,
            }),
            Ok(r) => Ok(r),
            Err(source) => Err(DemoError::Control {
                node: self.name.to_string(),
                source,
            }),
        }
    }

    /// Writes `spec` to `jobs/<file>` and submits it to this node, checked
    /// against the node's configuration first (as `indomain job submit
    /// --config` does). Returns the job as the node reports it after every
    /// peer answered: running, or refused with the rule.
    pub fn submit(&self, file: &str, spec: &str) -> Result<JobSummary, DemoError> {
        let jobs = self.dir.join("jobs");
        std::fs::create_dir_all(&jobs).map_err(DemoError::io(&jobs))?;
        let path = jobs.join(file);
        std::fs::write(&path, spec).map_err(DemoError::io(&path))?;
        let config = NodeConfig::load(&self.config)?;
        let spec = JobSpec::load(&path, Some(&config.known()))?;
        match self.call(&Request::Submit {
            spec,
            wait_secs: Some(60),
        })? {
            Response::Job(job) => Ok(job),
            other => Err(self.unexpected(other)),
        }
    }

    /// The job's state on this node.
    pub fn status(&self, job_id: &str) -> Result<JobSummary, DemoError> {
        match self.call(&Request::Status {
            job_id: job_id.to_string(),
        })? {
            Response::Job(job) => Ok(job),
            other => Err(self.unexpected(other)),
        }
    }

    /// Waits until the job has left `proposed`, `accepted` and `running`
    /// on this node, printing each change of state from `last` on, with
    /// the time since `since`.
    pub fn settle(
        &self,
        job_id: &str,
        since: Instant,
        mut last: Option<JobState>,
        deadline: Duration,
    ) -> Result<JobSummary, DemoError> {
        loop {
            let job = self.status(job_id)?;
            if Some(job.state) != last {
                progress(since, self.name, job.state.name());
                last = Some(job.state);
            }
            if !job.state.is_open() {
                return Ok(job);
            }
            if since.elapsed() > deadline {
                return Err(DemoError::Unsettled {
                    job: job_id.to_string(),
                    state: job.state.to_string(),
                    node: self.name.to_string(),
                    secs: deadline.as_secs(),
                });
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// The files of the outputs this node received for a completed job.
    pub fn result_files(&self, job_id: &str) -> Result<Vec<PathBuf>, DemoError> {
        match self.call(&Request::Result {
            job_id: job_id.to_string(),
        })? {
            Response::Outputs { files, .. } => Ok(files),
            other => Err(self.unexpected(other)),
        }
    }

    /// The DP budgets of this node's policy, with what remains this month
    /// (as `indomain job budget` shows them).
    pub fn budgets(&self) -> Result<Vec<BudgetLine>, DemoError> {
        match self.call(&Request::Budget)? {
            Response::Budget { budgets } => Ok(budgets),
            other => Err(self.unexpected(other)),
        }
    }

    /// `indomain audit verify --config node.toml`: its summary line.
    pub fn audit_verify(&self, exe: &Path) -> Result<String, DemoError> {
        let config = self.config.to_string_lossy().into_owned();
        procs::run_one(exe, &["audit", "verify", "--config", &config])
            .map(|out| out.trim().to_string())
    }
}

/// One line of a job's progress: the time since it was submitted, the
/// node, and what it says.
pub fn progress(since: Instant, node: &str, what: &str) {
    println!(
        "    {:>6.2} s  {node:<18} {what}",
        since.elapsed().as_secs_f64()
    );
}

/// The running node processes, stopped when dropped.
pub struct Running(Vec<Child>);

impl Drop for Running {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Starts `indomain node --config` for every site (its log in
/// `node.log`) and waits for each to print its ready line, which it
/// returns.
pub fn start(exe: &Path, sites: &[Site]) -> Result<(Running, Vec<String>), DemoError> {
    let mut running = Running(Vec::new());
    let mut ready = Vec::new();
    for site in sites {
        let log_path = site.dir.join("node.log");
        let log = indomain_node::private::create(&log_path).map_err(DemoError::io(&log_path))?;
        let mut child = Command::new(exe)
            .arg("node")
            .arg("--config")
            .arg(&site.config)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .map_err(|source| DemoError::Start {
                program: format!("the {} node", site.name),
                source,
            })?;
        let stdout = child.stdout.take();
        running.0.push(child);
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let Some(stdout) = stdout else { return };
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let _ = tx.send(line);
            // Keep reading, so that the node never writes into a closed pipe.
            let _ = reader.read_to_end(&mut Vec::new());
        });
        let line = rx.recv_timeout(START_DEADLINE).unwrap_or_default();
        if !line.contains("ready") {
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            return Err(DemoError::NodeStart {
                node: site.name.to_string(),
                log: procs::indent(log.trim()),
            });
        }
        ready.push(line.trim().to_string());
    }
    Ok((running, ready))
}
