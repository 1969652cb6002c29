//! Helpers shared by the end-to-end tests: node identities made by the real
//! `indomain keygen`, and loopback ports for listeners.

use std::path::Path;
use std::process::Command;

/// The `indomain` binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_indomain");

/// Runs `indomain keygen --name NAME --out DIR` and returns the
/// `NAME=sha256:…` entry it prints for peers' `--peer` flags.
pub fn keygen(name: &str, out: &Path) -> String {
    let output = Command::new(BIN)
        .args(["keygen", "--name", name, "--out"])
        .arg(out)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

/// A loopback UDP port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
