//! The local control socket: how `indomain job submit | list | status |
//! cancel | result` talk to the running node. A Unix socket created with
//! mode 0600, so only the operator's account (and root) can open it; one
//! JSON request a line, one JSON response a line.
//!
//! The socket is bound under a temporary name, given its mode, then renamed
//! into place, so there is no moment when it exists with wider permissions.

use crate::audit::OutputRecord;
use crate::error::NodeError;
use crate::jobspec::JobSpec;
use serde::{Deserialize, Serialize};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::time::Duration;

/// The longest request or response line accepted.
pub const MAX_LINE: u64 = 1 << 20;
/// How long a client waits for the node's answer.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);

/// A request to the node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// Check a job against this node's datasets and propose it to its peers.
    Submit {
        /// The job.
        spec: JobSpec,
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
    /// `proposed`, `accepted`, `refused`, `running`, `completed`, `failed` or `cancelled`.
    pub state: String,
    /// The refusal, error or other detail, if any.
    pub detail: String,
}

/// The node's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
        /// atomically once the job completed.
        #[serde(default)]
        files: Vec<std::path::PathBuf>,
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
    let file_name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("control.sock");
    let staging = path.with_file_name(format!(".{file_name}.{}", std::process::id()));
    let _ = std::fs::remove_file(&staging);
    let listener = UnixListener::bind(&staging).map_err(err)?;
    let placed = std::fs::set_permissions(&staging, std::fs::Permissions::from_mode(0o600))
        .and_then(|()| std::fs::rename(&staging, path));
    if let Err(e) = placed {
        let _ = std::fs::remove_file(&staging);
        return Err(err(e));
    }
    Ok(listener)
}

/// Reads one line of at most [`MAX_LINE`] bytes; `None` at end of stream.
fn read_line(reader: &mut impl BufRead) -> Result<Option<String>, NodeError> {
    let mut line = String::new();
    let n = reader
        .take(MAX_LINE + 1)
        .read_line(&mut line)
        .map_err(|e| NodeError::Control(e.to_string()))?;
    if n == 0 {
        return Ok(None);
    }
    if n as u64 > MAX_LINE {
        return Err(NodeError::Control(format!(
            "a line longer than {MAX_LINE} bytes"
        )));
    }
    Ok(Some(line))
}

/// Serves one connection: answers each request line with `handle` until the
/// client hangs up. Malformed requests get an error response, not a hang-up.
pub fn serve_connection(
    stream: UnixStream,
    handle: &dyn Fn(Request) -> Response,
) -> Result<(), NodeError> {
    let mut writer = stream
        .try_clone()
        .map_err(|e| NodeError::Control(e.to_string()))?;
    let mut reader = BufReader::new(stream);
    while let Some(line) = read_line(&mut reader)? {
        let response = match serde_json::from_str::<Request>(&line) {
            Ok(request) => handle(request),
            Err(e) => Response::Error {
                message: format!("malformed request: {e}"),
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
    stream
        .set_read_timeout(Some(CLIENT_TIMEOUT))
        .map_err(|e| NodeError::Control(e.to_string()))?;
    let mut line = serde_json::to_vec(request).map_err(|e| NodeError::Control(e.to_string()))?;
    line.push(b'\n');
    (&stream)
        .write_all(&line)
        .map_err(|e| NodeError::Control(e.to_string()))?;
    let mut reader = BufReader::new(stream);
    let answer = read_line(&mut reader)?.ok_or_else(|| {
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
                state: "accepted".into(),
                detail: String::new(),
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
        assert!(matches!(&replies[0], Response::Error { message } if message.contains("launch")));
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
    fn overlong_lines_are_refused() {
        let mut input = std::io::Cursor::new(vec![b'x'; MAX_LINE as usize + 10]);
        assert!(read_line(&mut input).is_err());
    }
}
