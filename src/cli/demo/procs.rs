//! Running party processes: each party of a demo job is a real `indomain`
//! process, started with its own arguments and awaited with a deadline.

use std::io::Read;
use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// What a finished party process left behind.
pub struct Finished {
    /// The party's label in the report.
    pub label: String,
    /// What it printed on stdout.
    pub stdout: String,
    /// What it printed on stderr (its summary).
    pub stderr: String,
}

/// One party to start: a label and the arguments after `indomain`.
pub struct PartyCmd {
    /// The party's label in the report.
    pub label: String,
    /// Arguments after the executable.
    pub args: Vec<String>,
}

impl PartyCmd {
    /// A party labelled `label` running `indomain <args>`.
    pub fn new(label: &str, args: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self {
            label: label.to_string(),
            args: args.into_iter().map(Into::into).collect(),
        }
    }
}

/// A loopback address with a port that was free a moment ago.
pub fn free_udp_addr() -> std::io::Result<SocketAddr> {
    UdpSocket::bind("127.0.0.1:0")?.local_addr()
}

/// Runs `indomain <args>` once and returns its stdout; an error carries its stderr.
pub fn run_one(exe: &Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new(exe)
        .args(args)
        .output()
        .map_err(|e| format!("cannot start {}: {e}", exe.display()))?;
    if !out.status.success() {
        return Err(format!(
            "`indomain {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn drain(mut pipe: impl Read + Send + 'static) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = pipe.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    })
}

/// Starts every party (the first one first, so listeners are up before the
/// others dial), waits for all of them, and fails if any fails or the
/// deadline passes; then every party still running is stopped.
pub fn run_parties(
    exe: &Path,
    parties: Vec<PartyCmd>,
    deadline: Duration,
) -> Result<Vec<Finished>, String> {
    let start = Instant::now();
    let mut running: Vec<(
        String,
        Child,
        thread::JoinHandle<String>,
        thread::JoinHandle<String>,
    )> = Vec::new();
    for (i, p) in parties.into_iter().enumerate() {
        let mut child = match Command::new(exe)
            .args(&p.args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
        {
            Ok(c) => c,
            Err(e) => {
                kill_all(&mut running);
                return Err(format!("cannot start party {}: {e}", p.label));
            }
        };
        let out = drain(child.stdout.take().expect("stdout was piped"));
        let err = drain(child.stderr.take().expect("stderr was piped"));
        running.push((p.label, child, out, err));
        if i == 0 {
            // Give the listener a moment to bind before the others connect.
            thread::sleep(Duration::from_millis(300));
        }
    }
    let mut statuses = vec![None; running.len()];
    while statuses.iter().any(Option::is_none) {
        for (i, (_, child, _, _)) in running.iter_mut().enumerate() {
            if statuses[i].is_none() {
                statuses[i] = child.try_wait().ok().flatten();
            }
        }
        if start.elapsed() > deadline {
            kill_all(&mut running);
            return Err(format!(
                "job did not finish within {} s",
                deadline.as_secs()
            ));
        }
        thread::sleep(Duration::from_millis(20));
    }
    let mut finished = Vec::new();
    let mut failures = Vec::new();
    for ((label, _, out, err), status) in running.into_iter().zip(statuses) {
        let stdout = out.join().unwrap_or_default();
        let stderr = err.join().unwrap_or_default();
        if !status.is_some_and(|s| s.success()) {
            failures.push(format!("party {label} failed:\n{}", indent(stderr.trim())));
        }
        finished.push(Finished {
            label,
            stdout,
            stderr,
        });
    }
    if failures.is_empty() {
        Ok(finished)
    } else {
        Err(failures.join("\n"))
    }
}

fn kill_all(
    running: &mut [(
        String,
        Child,
        thread::JoinHandle<String>,
        thread::JoinHandle<String>,
    )],
) {
    for (_, child, _, _) in running.iter_mut() {
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// Indents every line by four spaces, for the report.
pub fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
