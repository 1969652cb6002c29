//! Helpers of the `indomain node` end-to-end tests: node sites (identity,
//! audit key, port), node processes, the `job` commands and waiting for a
//! job to settle.
// Each test binary uses a subset of these helpers.
#![allow(dead_code)]

use crate::common::{BIN, free_port, keygen};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// A running node, stopped when dropped.
pub struct NodeProcess(pub Child);

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn start(config: &Path) -> NodeProcess {
    let mut child = Command::new(BIN)
        .args(["node", "--config"])
        .arg(config)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let node = NodeProcess(child);
    assert!(line.contains("ready"), "node did not start: {line:?}");
    node
}

pub fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

pub struct Site {
    pub dir: PathBuf,
    pub fingerprint: String,
    pub audit_key: String,
    pub port: u16,
}

pub fn site(root: &Path, name: &str) -> Site {
    let dir = root.join(name);
    let entry = keygen(name, &dir.join("identity"));
    let fingerprint = entry.split_once('=').unwrap().1.to_string();
    let key = run(&[
        "audit",
        "key",
        "--identity",
        dir.join("identity").to_str().unwrap(),
    ]);
    assert!(key.status.success(), "{}", text(&key));
    Site {
        dir,
        fingerprint,
        audit_key: String::from_utf8(key.stdout).unwrap().trim().to_string(),
        port: free_port(),
    }
}

/// The job id `job submit` printed first on its output.
pub fn job_id(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// The state `job status` reports for `id`.
pub fn state(cfg: &str, id: &str) -> String {
    let o = run(&["job", "status", "--config", cfg, id]);
    String::from_utf8_lossy(&o.stdout)
        .split("  ")
        .nth(2)
        .unwrap_or_default()
        .to_string()
}

/// Polls `job status` until the job has finished running; returns its
/// final state and the status text.
pub fn settled(cfg: &str, id: &str) -> (String, String) {
    for _ in 0..3000 {
        let st = state(cfg, id);
        if st != "running" && st != "accepted" && st != "proposed" {
            let o = run(&["job", "status", "--config", cfg, id]);
            return (st, text(&o));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("job {id} never finished on {cfg}");
}

/// Writes `node.toml` for `me` named `name`, with each of `peers` (name,
/// site) as a peer, the `datasets` and `policy` TOML appended, and returns
/// its path.
pub fn write_node_config(
    me: &Site,
    name: &str,
    peers: &[(&str, &Site)],
    datasets: &str,
    policy: &str,
) -> PathBuf {
    let mut text = format!(
        r#"name = "{name}"
identity = "identity"
listen = "127.0.0.1:{port}"
audit_log = "audit.jsonl"
control_socket = "control.sock"
"#,
        port = me.port
    );
    for (peer, site) in peers {
        text.push_str(&format!(
            r#"
[peers.{peer}]
address = "127.0.0.1:{port}"
fingerprint = "{fp}"
audit_key = "{key}"
"#,
            port = site.port,
            fp = site.fingerprint,
            key = site.audit_key,
        ));
    }
    text.push_str(datasets);
    text.push_str(policy);
    let path = me.dir.join("node.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Submits the spec file at `spec` on the node of `cfg`, asserts it was
/// accepted, and returns the job id.
pub fn submit(cfg: &str, spec: &Path) -> String {
    let o = run(&["job", "submit", "--config", cfg, spec.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    job_id(&o)
}

/// `job result` of a completed job: its outputs as printed on stdout.
pub fn result(cfg: &str, id: &str) -> String {
    let o = run(&["job", "result", "--config", cfg, id]);
    assert!(o.status.success(), "{}", text(&o));
    String::from_utf8(o.stdout).unwrap()
}

/// Nodes that all know each other: a site each, under one temporary root.
pub struct Cluster {
    pub root: tempfile::TempDir,
    pub names: Vec<String>,
    pub sites: Vec<Site>,
    pub configs: Vec<PathBuf>,
}

impl Cluster {
    /// Sites for `names`, each with every other as a peer; node i gets the
    /// datasets and policy TOML `config(i)` returns.
    pub fn new(names: &[&str], config: impl Fn(usize) -> (String, String)) -> Cluster {
        let root = tempfile::tempdir().unwrap();
        let sites: Vec<Site> = names.iter().map(|n| site(root.path(), n)).collect();
        let configs = names
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let peers: Vec<(&str, &Site)> = names
                    .iter()
                    .zip(&sites)
                    .filter(|(n, _)| *n != name)
                    .map(|(n, s)| (*n, s))
                    .collect();
                let (datasets, policy) = config(i);
                write_node_config(&sites[i], name, &peers, &datasets, &policy)
            })
            .collect();
        Cluster {
            root,
            names: names.iter().map(|n| n.to_string()).collect(),
            sites,
            configs,
        }
    }

    pub fn cfg(&self, i: usize) -> &str {
        self.configs[i].to_str().unwrap()
    }

    pub fn start(&self, i: usize) -> NodeProcess {
        start(&self.configs[i])
    }

    /// Writes a job spec into node `i`'s directory.
    pub fn spec(&self, i: usize, name: &str, text: &str) -> PathBuf {
        let path = self.sites[i].dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    /// `job submit` of `spec` at node `i`.
    pub fn submit(&self, i: usize, spec: &Path) -> Output {
        run(&[
            "job",
            "submit",
            "--config",
            self.cfg(i),
            spec.to_str().unwrap(),
        ])
    }
}

/// The mode bits of `path`.
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// The dataset `accounts` of `file` with `columns` after `id` (`y` an
/// integer label, the others floats).
pub fn accounts(file: &str, columns: &[&str]) -> String {
    let mut text = format!(
        "\n[datasets.accounts]\ncsv = \"{file}\"\n[datasets.accounts.columns]\nid = {{ type = \"text\", grade = \"internal\" }}\n"
    );
    for c in columns {
        let kind = if *c == "y" { "integer" } else { "float" };
        text.push_str(&format!(
            "{c} = {{ type = \"{kind}\", grade = \"sensitive\" }}\n"
        ));
    }
    text
}
