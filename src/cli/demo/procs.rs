//! Running `indomain` commands for the demo, and what the report prints
//! of them.

use super::error::DemoError;
use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::process::Command;

/// What a finished party process left behind.
pub struct Finished {
    /// The party's label in the report.
    pub label: String,
    /// What it printed on stdout.
    pub stdout: String,
    /// What it printed on stderr (its summary).
    pub stderr: String,
}

/// A loopback address with a port that was free a moment ago.
pub fn free_udp_addr() -> std::io::Result<SocketAddr> {
    UdpSocket::bind("127.0.0.1:0")?.local_addr()
}

/// Runs `indomain <args>` once and returns its stdout; an error carries its stderr.
pub fn run_one(exe: &Path, args: &[&str]) -> Result<String, DemoError> {
    let out = Command::new(exe)
        .args(args)
        .output()
        .map_err(|source| DemoError::Start {
            program: exe.display().to_string(),
            source,
        })?;
    if !out.status.success() {
        return Err(DemoError::Command {
            command: args.join(" "),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Indents every line by four spaces, for the report.
pub fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
