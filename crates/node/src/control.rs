//! The local control socket: how `indomain job submit | list | status |
//! cancel | result | budget` talk to the running node. A Unix socket of mode 0600,
//! so only the operator's account (and root) can open it; the node also
//! checks each connection's user id and answers only its own (and root).
//! One JSON request a line, one JSON response a line.
//!
//! The socket is bound inside a fresh directory of mode 0700 beside its
//! path, given its mode, then renamed into place, so there is no moment
//! when anyone else could connect to it.
//!
//! Requests are bounded ([`MAX_REQUEST`]: a job spec is refused above
//! [`crate::bounds::MAX_SPEC_BYTES`] anyway); responses may be longer (a
//! long `job list`), up to [`MAX_RESPONSE`].

use crate::audit::OutputRecord;
use crate::error::NodeError;
use crate::jobspec::JobSpec;
use serde::{Deserialize, Serialize};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The longest request line the node reads.
pub const MAX_REQUEST: u64 = 1 << 20;
/// The longest response line a client reads.
pub const MAX_RESPONSE: u64 = 64 << 20;
/// How long a client waits for the node's answer beyond what the request
/// itself waits for.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);

/// A request to the node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// Check a job against this node's datasets and propose it to its peers.
    Submit {
        /// The job.
        spec: JobSpec,
        /// How long to wait for every other party's answer before
        /// replying (the job stays pending after that if some have not
        /// answered); `None` replies once the proposals are sent.
        #[serde(default)]
        wait_secs: Option<u64>,
    },
    /// Every job this node knows.
    List,
    /// One job's state.
    Status {
        /// The job.
        job_id: String,
    },
    /// Stop a job.
    Cancel {
        /// The job.
        job_id: String,
    },
    /// A finished job's outputs.
    Result {
        /// The job.
        job_id: String,
    },
    /// The DP budgets of this node's policy, with what remains this month.
    Budget,
}

/// One DP budget of the policy, for one dataset and receiver, this month.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BudgetLine {
    /// The rule's `dp` key, e.g. `policy.peers.tax.allow[0].dp`.
    pub rule: String,
    /// This node's dataset.
    pub dataset: String,
    /// The receiver of releases.
    pub receiver: String,
    /// The UTC month, `YYYY-MM`.
    pub month: String,
    /// The month's ε.
    pub epsilon: f64,
    /// The month's δ.
    pub delta: f64,
    /// The month's ρ (zCDP).
    pub rho: f64,
    /// ρ left this month (reservations of running jobs count as spent).
    pub remaining_rho: f64,
    /// The ε that ρ left gives at δ.
    pub remaining_epsilon: f64,
}

/// A job as the control socket shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobSummary {
    /// The job id.
    pub job_id: String,
    /// Hex SHA-256 of its spec.
    pub spec_hash: String,
    /// Its protocol.
    pub protocol: String,
    /// Who proposed it.
    pub proposer: String,
    /// Where it stands.
    pub state: JobState,
    /// The refusal, error or other detail, if any.
    pub detail: String,
    /// What the job is doing now (`waiting for answers`, `reading data`,
    /// `running the protocol`, …), while it runs.
    #[serde(default)]
    pub phase: String,
    /// How far the protocol has got (`1200/5000 keys`), when it says.
    #[serde(default)]
    pub progress: String,
}

/// Where a job stands on a node; on the wire its lower-case name
/// (`proposed`, `accepted`, `running`, `completed`, `refused`, `failed`,
/// `cancelled`, `withdrawn`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    /// Submitted here, waiting for the other parties' answers.
    Proposed,
    /// Accepted here, waiting for its proposer to start it.
    Accepted,
    /// Its protocol is running.
    Running,
    /// It ended with its outputs released.
    Completed,
    /// A party's policy refused it.
    Refused,
    /// It failed; nothing was released.
    Failed,
    /// An operator of one of its parties cancelled it; nothing was released.
    Cancelled,
    /// Its proposer withdrew it (another party refused it).
    Withdrawn,
}

impl JobState {
    /// Its lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            JobState::Proposed => "proposed",
            JobState::Accepted => "accepted",
            JobState::Running => "running",
            JobState::Completed => "completed",
            JobState::Refused => "refused",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
            JobState::Withdrawn => "withdrawn",
        }
    }

    /// Whether the job can still change state.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            JobState::Proposed | JobState::Accepted | JobState::Running
        )
    }

    /// Where a job whose latest audit record has `outcome` stands.
    pub fn of(outcome: &crate::audit::Outcome) -> JobState {
        use crate::audit::Outcome;
        match outcome {
            Outcome::Proposed => JobState::Proposed,
            Outcome::Accepted { .. } => JobState::Accepted,
            Outcome::Refused { .. } => JobState::Refused,
            Outcome::Completed => JobState::Completed,
            Outcome::Failed { .. } => JobState::Failed,
            Outcome::Cancelled { .. } => JobState::Cancelled,
            Outcome::Withdrawn { .. } => JobState::Withdrawn,
        }
    }

    /// Its lower-case name (as [`JobState::name`]).
    pub fn as_str(&self) -> &'static str {
        self.name()
    }
}

impl std::fmt::Display for JobState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl PartialEq<str> for JobState {
    fn eq(&self, other: &str) -> bool {
        self.name() == other
    }
}

impl PartialEq<&str> for JobState {
    fn eq(&self, other: &&str) -> bool {
        self.name() == *other
    }
}

/// The node's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Response {
    /// The job, as it stands after the request.
    Job(JobSummary),
    /// Every job.
    Jobs {
        /// The jobs, oldest first.
        jobs: Vec<JobSummary>,
    },
    /// A job's outputs (with their hashes once released).
    Outputs {
        /// The job.
        job_id: String,
        /// Its outputs.
        outputs: Vec<OutputRecord>,
        /// The files holding the outputs this node received, written
        /// atomically once the job completed (absolute paths).
        #[serde(default)]
        files: Vec<PathBuf>,
        /// Beside each, the file holding its commitment's salt.
        #[serde(default)]
        salts: Vec<PathBuf>,
    },
    /// The DP budgets, each with what remains this month.
    Budget {
        /// One line per rule with a budget, dataset and receiver.
        budgets: Vec<BudgetLine>,
    },
    /// The request failed.
    Error {
        /// Why.
        message: String,
    },
}

/// Binds the control socket at `path` with mode 0600, replacing a stale
/// socket left by a node that is no longer running.
pub fn bind(path: &Path) -> Result<UnixListener, NodeError> {
    let err = |e: std::io::Error| crate::error::io_error(path, e);
    if path.exists() {
        if UnixStream::connect(path).is_ok() {
            return Err(NodeError::Control(format!(
                "{}: another node is listening there",
                path.display()
            )));
        }
        std::fs::remove_file(path).map_err(err)?;
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    // A directory only this account can enter: the socket is bound in it,
    // narrowed, and only then moved to where clients look.
    let private = tempfile::Builder::new()
        .prefix(".indomain-control-")
        .tempdir_in(dir)
        .map_err(|e| crate::error::io_error(dir, e))?;
    std::fs::set_permissions(private.path(), std::fs::Permissions::from_mode(0o700))
        .map_err(|e| crate::error::io_error(private.path(), e))?;
    let staging = private.path().join("control.sock");
    let listener = UnixListener::bind(&staging).map_err(err)?;
    std::fs::set_permissions(&staging, std::fs::Permissions::from_mode(0o600))
        .and_then(|()| std::fs::rename(&staging, path))
        .map_err(err)?;
    Ok(listener)
}

/// The user id of the process at the other end of `stream`.
pub fn peer_uid(stream: &UnixStream) -> std::io::Result<u32> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: `cred` and `len` are valid for writes of the sizes given, and
    // the descriptor is open for the duration of the call.
    let rc = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(cred.uid)
}

/// Whether a client of user `uid` may use this node's socket: the node's
/// own account, or root.
pub fn uid_allowed(uid: u32) -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    uid == me || uid == 0
}

/// Reads one line of at most `max` bytes; `None` at end of stream.
fn read_line(reader: &mut impl BufRead, max: u64) -> Result<Option<String>, NodeError> {
    let mut line = String::new();
    let n = reader
        .take(max + 1)
        .read_line(&mut line)
        .map_err(|e| NodeError::Control(e.to_string()))?;
    if n == 0 {
        return Ok(None);
    }
    if n as u64 > max {
        return Err(NodeError::Control(format!(
            "a line longer than {max} bytes"
        )));
    }
    Ok(Some(line))
}

/// Serves one connection: answers each request line with `handle` until the
/// client hangs up. Malformed requests get an error response, not a hang-up;
/// a client of another user gets one error and the connection ends.
pub fn serve_connection(
    stream: UnixStream,
    handle: &dyn Fn(Request) -> Response,
) -> Result<(), NodeError> {
    let mut writer = stream
        .try_clone()
        .map_err(|e| NodeError::Control(e.to_string()))?;
    let uid = peer_uid(&stream).map_err(|e| NodeError::Control(e.to_string()))?;
    if !uid_allowed(uid) {
        let refusal = Response::Error {
            message: format!("user {uid} may not use this node's control socket"),
        };
        let mut out = serde_json::to_vec(&refusal).unwrap_or_default();
        out.push(b'\n');
        let _ = writer.write_all(&out);
        return Err(NodeError::Control(format!(
            "refused a control connection from user {uid}"
        )));
    }
    let mut reader = BufReader::new(stream);
    while let Some(line) = read_line(&mut reader, MAX_REQUEST)? {
        let response = match serde_json::from_str::<Request>(&line) {
            Ok(request) => handle(request),
            Err(e) => Response::Error {
                message: format!(
                    "malformed request (line 1, column {}): not a request this node knows",
                    e.column()
                ),
            },
        };
        let mut out =
            serde_json::to_vec(&response).map_err(|e| NodeError::Control(e.to_string()))?;
        out.push(b'\n');
        writer
            .write_all(&out)
            .map_err(|e| NodeError::Control(e.to_string()))?;
    }
    Ok(())
}

/// Sends one request to the node listening at `path` and returns its answer.
pub fn call(path: &Path, request: &Request) -> Result<Response, NodeError> {
    let stream = UnixStream::connect(path).map_err(|e| {
        NodeError::Control(format!(
            "{}: {e} (is `indomain node` running?)",
            path.display()
        ))
    })?;
    let waits = match request {
        Request::Submit { wait_secs, .. } => Duration::from_secs(wait_secs.unwrap_or(0)),
        _ => Duration::ZERO,
    };
    stream
        .set_read_timeout(Some(CLIENT_TIMEOUT + waits))
        .map_err(|e| NodeError::Control(e.to_string()))?;
    let mut line = serde_json::to_vec(request).map_err(|e| NodeError::Control(e.to_string()))?;
    line.push(b'\n');
    (&stream)
        .write_all(&line)
        .map_err(|e| NodeError::Control(e.to_string()))?;
    let mut reader = BufReader::new(stream);
    let answer = read_line(&mut reader, MAX_RESPONSE)
        .map_err(|e| match e {
            // A read timeout shows as "Resource temporarily unavailable".
            NodeError::Control(m) if m.contains("temporarily unavailable") => {
                NodeError::Control(format!(
                    "the node did not answer within {} s; the request may still take effect \
                     (see `indomain job list`)",
                    (CLIENT_TIMEOUT + waits).as_secs()
                ))
            }
            other => other,
        })?
        .ok_or_else(|| {
            NodeError::Control("the node closed the connection without answering".into())
        })?;
    serde_json::from_str(&answer)
        .map_err(|e| NodeError::Control(format!("malformed response: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn echo(request: Request) -> Response {
        match request {
            Request::Status { job_id } => Response::Job(JobSummary {
                job_id,
                spec_hash: String::new(),
                protocol: "aggregate".into(),
                proposer: "bank".into(),
                state: JobState::Accepted,
                detail: String::new(),
                phase: String::new(),
                progress: String::new(),
            }),
            _ => Response::Jobs { jobs: vec![] },
        }
    }

    #[test]
    fn socket_is_private_and_answers_requests() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("control.sock");
        let listener = bind(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        // Nothing is left of the private directory it was bound in.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        let server = std::thread::spawn(move || {
            for _ in 0..2 {
                let (stream, _) = listener.accept().unwrap();
                serve_connection(stream, &echo).unwrap();
            }
        });
        let answer = call(
            &path,
            &Request::Status {
                job_id: "j9".into(),
            },
        )
        .unwrap();
        assert!(
            matches!(answer, Response::Job(ref s) if s.job_id == "j9" && s.state == "accepted")
        );
        // Garbage gets an error answer, and the connection stays usable.
        let mut stream = UnixStream::connect(&path).unwrap();
        stream
            .write_all(b"{\"op\":\"launch\"}\n{\"op\":\"list\"}\n")
            .unwrap();
        stream.shutdown(std::net::Shutdown::Write).unwrap();
        let mut text = String::new();
        stream.read_to_string(&mut text).unwrap();
        let replies: Vec<Response> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        // The reply does not echo what the client sent.
        assert!(matches!(&replies[0], Response::Error { message }
            if message.contains("malformed request") && !message.contains("launch")));
        assert_eq!(replies[1], Response::Jobs { jobs: vec![] });
        server.join().unwrap();
        // A live socket is not taken over; a stale one is replaced.
        let again = bind(&path);
        assert!(
            again.is_ok(),
            "stale socket should be replaced: {:?}",
            again.err()
        );
    }

    #[test]
    fn a_second_node_cannot_take_a_live_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("control.sock");
        let _live = bind(&path).unwrap();
        assert!(matches!(bind(&path), Err(NodeError::Control(m)) if m.contains("another node")));
    }

    #[test]
    fn this_account_and_root_may_connect() {
        let (a, _b) = UnixStream::pair().unwrap();
        let uid = peer_uid(&a).unwrap();
        assert!(uid_allowed(uid));
        assert!(uid_allowed(0));
        assert!(!uid_allowed(uid.wrapping_add(12345)));
    }

    #[test]
    fn overlong_lines_are_refused() {
        let mut input = std::io::Cursor::new(vec![b'x'; MAX_REQUEST as usize + 10]);
        assert!(read_line(&mut input, MAX_REQUEST).is_err());
    }
}
