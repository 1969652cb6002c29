//! The node configuration (`node.toml`): the node's name and identity, its
//! QUIC listen address, its audit log and control socket, its peers (name,
//! address, certificate fingerprint, audit key), its datasets and its
//! policy. Unknown keys are errors; every error names the file and the
//! line (and the key) it is about. Relative paths are resolved against the
//! directory of the configuration file, made absolute, so every path the
//! node reports (result files, the audit log) is absolute whatever
//! directory it was started in.

use crate::audit::key::parse_public_key;
use crate::dataset::{ColumnDef, Dataset, Select, Source};
use crate::dp_ledger::MonthlyBudget;
use crate::error::{Location, NodeError};
use crate::grade::Grade;
use crate::jobspec::{Known, Protocol, is_name};
use crate::policy::{PeerPolicy, Policy, Rule, leak};
use ed25519_dalek::VerifyingKey;
use indomain_net::quic::Fingerprint;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::Spanned;

/// A peer this node works with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// Its name (the one in its certificate).
    pub name: String,
    /// Its QUIC address.
    pub address: SocketAddr,
    /// The SHA-256 fingerprint of its certificate.
    pub fingerprint: Fingerprint,
    /// The ed25519 key it signs its audit records and receipts with.
    pub audit_key: VerifyingKey,
}

/// A loaded and checked node configuration.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// The file it was read from.
    pub path: PathBuf,
    /// This node's name.
    pub name: String,
    /// The identity directory (`node.crt`, `node.key`).
    pub identity: PathBuf,
    /// The QUIC listen address.
    pub listen: SocketAddr,
    /// The audit log file.
    pub audit_log: PathBuf,
    /// Where the hash of the audit log's last record is kept after every
    /// record (`audit_head_file`; best on another disk or host): the log
    /// must reach it at start.
    pub audit_head_file: Option<PathBuf>,
    /// The control socket's path.
    pub control_socket: PathBuf,
    /// The peers by name.
    pub peers: BTreeMap<String, Peer>,
    /// The datasets by name.
    pub datasets: BTreeMap<String, Dataset>,
    /// The policy (with the datasets' grades).
    pub policy: Policy,
    /// How long a job this node accepted waits for its proposer to start
    /// it before it fails (`start_timeout_secs`, default
    /// [`DEFAULT_START_TIMEOUT`]).
    pub start_timeout: Duration,
    /// The most proposals of one peer this node refuses in a minute
    /// (`max_refused_per_minute`, default [`DEFAULT_MAX_REFUSED_PER_MINUTE`]);
    /// beyond it, further proposals are turned away unrecorded.
    pub max_refused_per_minute: u32,
    /// The operator's console (`console = "ADDR"`), off when `None`.
    pub console: Option<ConsoleSettings>,
    /// The operator's verification store (`verify_store`, the directory
    /// `indomain verify serve` serves), shown by the console.
    pub verify_store: Option<PathBuf>,
    /// The per-client quota the verification service enforces
    /// (`verify_quota`, default the service's own), for the console's
    /// usage page.
    pub verify_quota: u64,
}

/// Where and how the operator's console listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSettings {
    /// The address it listens on (port 0: any free port).
    pub listen: SocketAddr,
    /// Its certificate chain and private key (PEM), required unless it
    /// listens on a loopback address.
    pub tls: Option<ConsoleTls>,
    /// The operator token's file: `console.token` beside the control
    /// socket.
    pub token_file: PathBuf,
}

/// The console's TLS certificate chain and key (PEM files).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleTls {
    /// `console_tls_cert`.
    pub cert: PathBuf,
    /// `console_tls_key`.
    pub key: PathBuf,
}

/// The file of the console's operator token, beside `control_socket`.
pub fn console_token_file(control_socket: &Path) -> PathBuf {
    control_socket
        .parent()
        .unwrap_or(Path::new("."))
        .join("console.token")
}

/// How many proposals of one peer are refused (and recorded) in a minute
/// by default.
pub const DEFAULT_MAX_REFUSED_PER_MINUTE: u32 = 10;

/// How long an accepted job waits for its proposer by default: longer than
/// a proposer may spend proposing to its other peers (each connection
/// attempt is retried for up to the 120 s receive timeout).
pub const DEFAULT_START_TIMEOUT: Duration = Duration::from_secs(180);

impl NodeConfig {
    /// What this node knows about job parties, to check a spec before
    /// proposing it.
    pub fn known(&self) -> Known<'_> {
        Known {
            me: &self.name,
            peers: self.peers.keys().map(String::as_str).collect(),
            catalog: &self.policy.catalog,
        }
    }

    /// Reads and checks `path`. Datasets are checked for existence of their
    /// files here; [`Dataset::check`] opens them.
    pub fn load(path: &Path) -> Result<NodeConfig, NodeError> {
        let text = std::fs::read_to_string(path).map_err(|e| crate::error::io_error(path, e))?;
        NodeConfig::from_toml(path, &text)
    }

    /// Parses and checks configuration `text` read from `path`.
    pub fn from_toml(path: &Path, text: &str) -> Result<NodeConfig, NodeError> {
        let at = |offset: Option<usize>, reason: String| NodeError::Config {
            at: Location::at(path, text, offset),
            reason,
        };
        let raw: RawConfig =
            toml::from_str(text).map_err(|e| at(e.span().map(|s| s.start), e.message().into()))?;
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let base = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
        let resolve = |p: &Path| {
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                base.join(p)
            }
        };
        let start = |s: &std::ops::Range<usize>| Some(s.start);

        if !is_name(raw.name.get_ref()) {
            return Err(at(
                start(&raw.name.span()),
                format!("name {:?}: not a valid node name", raw.name.get_ref()),
            ));
        }
        let name = raw.name.get_ref().clone();
        let listen =
            parse_addr(&raw.listen).map_err(|r| at(start(&raw.listen.span()), r.to_string()))?;

        let mut peers = BTreeMap::new();
        for (peer_name, p) in &raw.peers {
            let here = start(&peer_name.span());
            let n = peer_name.get_ref();
            if !is_name(n) || *n == name {
                return Err(at(
                    here,
                    format!("peer {n:?}: not a valid peer name (or this node's own)"),
                ));
            }
            let address = parse_addr(&p.address)
                .map_err(|r| at(start(&p.address.span()), format!("peers.{n}.address: {r}")))?;
            let fingerprint: Fingerprint = p.fingerprint.get_ref().parse().map_err(|e| {
                at(
                    start(&p.fingerprint.span()),
                    format!("peers.{n}.fingerprint: {e}"),
                )
            })?;
            let audit_key = parse_public_key(p.audit_key.get_ref()).map_err(|e| {
                at(
                    start(&p.audit_key.span()),
                    format!("peers.{n}.audit_key: {e}"),
                )
            })?;
            peers.insert(
                n.clone(),
                Peer {
                    name: n.clone(),
                    address,
                    fingerprint,
                    audit_key,
                },
            );
        }

        let start_timeout = match &raw.start_timeout_secs {
            None => DEFAULT_START_TIMEOUT,
            Some(s) if *s.get_ref() > 0 => Duration::from_secs(*s.get_ref()),
            Some(s) => {
                return Err(at(
                    start(&s.span()),
                    "start_timeout_secs: must be at least 1".into(),
                ));
            }
        };

        let max_refused_per_minute = match &raw.max_refused_per_minute {
            None => DEFAULT_MAX_REFUSED_PER_MINUTE,
            Some(s) if *s.get_ref() > 0 => *s.get_ref(),
            Some(s) => {
                return Err(at(
                    start(&s.span()),
                    "max_refused_per_minute: must be at least 1".into(),
                ));
            }
        };

        let mut datasets = BTreeMap::new();
        for (ds_name, d) in &raw.datasets {
            let n = ds_name.get_ref();
            let ds = d.to_dataset(n, &resolve).map_err(|(offset, r)| {
                at(
                    offset.or(start(&ds_name.span())),
                    format!("datasets.{n}: {r}"),
                )
            })?;
            datasets.insert(n.clone(), ds);
        }

        let catalog: BTreeMap<String, BTreeMap<String, Grade>> = datasets
            .iter()
            .map(|(n, d)| {
                (
                    n.clone(),
                    d.columns
                        .iter()
                        .map(|(c, def)| (c.clone(), def.grade))
                        .collect(),
                )
            })
            .collect();
        let mut policy = Policy {
            me: name.clone(),
            catalog,
            peers: BTreeMap::new(),
        };
        for (peer_name, pp) in &raw.policy.peers {
            let n = peer_name.get_ref();
            if !peers.contains_key(n) {
                return Err(at(
                    start(&peer_name.span()),
                    format!("policy.peers.{n}: unknown peer {n:?} (not in [peers])"),
                ));
            }
            let mut allow = Vec::new();
            for (i, r) in pp.allow.iter().enumerate() {
                let rule =
                    r.to_rule(&policy.catalog, &peers, &name)
                        .map_err(|(offset, reason)| {
                            at(offset, format!("policy.peers.{n}.allow[{i}]: {reason}"))
                        })?;
                allow.push(rule);
            }
            policy.peers.insert(n.clone(), PeerPolicy { allow });
        }

        let control_socket = resolve(&raw.control_socket);
        let console = match &raw.console {
            None => None,
            Some(addr) => {
                let listen = parse_addr(addr)
                    .map_err(|r| at(start(&addr.span()), format!("console: {r}")))?;
                let tls = match (&raw.console_tls_cert, &raw.console_tls_key) {
                    (Some(cert), Some(key)) => Some(ConsoleTls {
                        cert: resolve(cert),
                        key: resolve(key),
                    }),
                    (None, None) => None,
                    _ => {
                        return Err(at(
                            start(&addr.span()),
                            "console: give both console_tls_cert and console_tls_key, or neither"
                                .into(),
                        ));
                    }
                };
                if tls.is_none() && !listen.ip().is_loopback() {
                    return Err(at(
                        start(&addr.span()),
                        format!(
                            "console = \"{listen}\" is not a loopback address: a console reachable \
                             from other hosts needs TLS (set console_tls_cert and console_tls_key, \
                             see docs/operations.md), or listen on 127.0.0.1"
                        ),
                    ));
                }
                Some(ConsoleSettings {
                    listen,
                    tls,
                    token_file: console_token_file(&control_socket),
                })
            }
        };
        let verify_quota = match &raw.verify_quota {
            None => indomain_verify::service::Limits::default().quota,
            Some(q) => *q.get_ref(),
        };

        Ok(NodeConfig {
            path: path.to_path_buf(),
            name,
            identity: resolve(&raw.identity),
            listen,
            audit_log: resolve(&raw.audit_log),
            audit_head_file: raw.audit_head_file.as_deref().map(resolve),
            control_socket,
            peers,
            datasets,
            policy,
            start_timeout,
            max_refused_per_minute,
            console,
            verify_store: raw.verify_store.as_deref().map(resolve),
            verify_quota,
        })
    }
}

/// An address of the configuration; the error says what it is not.
fn parse_addr(s: &Spanned<String>) -> Result<SocketAddr, NotAnAddress> {
    s.get_ref()
        .parse()
        .map_err(|_| NotAnAddress(s.get_ref().clone()))
}

/// Text that is not an IP address and port.
#[derive(Debug, thiserror::Error)]
#[error("{0:?} is not an IP address and port")]
struct NotAnAddress(String);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    name: Spanned<String>,
    identity: PathBuf,
    listen: Spanned<String>,
    audit_log: PathBuf,
    audit_head_file: Option<PathBuf>,
    control_socket: PathBuf,
    start_timeout_secs: Option<Spanned<u64>>,
    max_refused_per_minute: Option<Spanned<u32>>,
    #[serde(default)]
    peers: BTreeMap<Spanned<String>, RawPeer>,
    #[serde(default)]
    datasets: BTreeMap<Spanned<String>, RawDataset>,
    #[serde(default)]
    policy: RawPolicy,
    console: Option<Spanned<String>>,
    console_tls_cert: Option<PathBuf>,
    console_tls_key: Option<PathBuf>,
    verify_store: Option<PathBuf>,
    verify_quota: Option<Spanned<u64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPeer {
    address: Spanned<String>,
    fingerprint: Spanned<String>,
    audit_key: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDataset {
    csv: Option<Spanned<PathBuf>>,
    sqlite: Option<Spanned<PathBuf>>,
    postgres: Option<String>,
    table: Option<String>,
    query: Option<String>,
    columns: BTreeMap<String, ColumnDef>,
}

impl RawDataset {
    /// The dataset, or the offset (when more precise than the table's) and
    /// reason of its first problem.
    fn to_dataset(
        &self,
        name: &str,
        resolve: &dyn Fn(&Path) -> PathBuf,
    ) -> Result<Dataset, (Option<usize>, String)> {
        let whole = |reason: &str| (None, reason.to_string());
        if !is_name(name) {
            return Err(whole("not a valid dataset name"));
        }
        let select = match (&self.table, &self.query) {
            (Some(t), None) => Some(Select::Table(t.clone())),
            (None, Some(q)) => Some(Select::Query(q.clone())),
            (None, None) => None,
            (Some(_), Some(_)) => return Err(whole("give `table` or `query`, not both")),
        };
        let source = match (&self.csv, &self.sqlite, &self.postgres, select) {
            (Some(file), None, None, None) => {
                let path = resolve(file.get_ref());
                if !path.is_file() {
                    let reason = format!("CSV file {} does not exist", path.display());
                    return Err((Some(file.span().start), reason));
                }
                Source::Csv(path)
            }
            (None, Some(file), None, Some(select)) => {
                let path = resolve(file.get_ref());
                if !path.is_file() {
                    let reason = format!("SQLite database {} does not exist", path.display());
                    return Err((Some(file.span().start), reason));
                }
                Source::Sqlite { path, select }
            }
            (None, None, Some(conninfo), Some(select)) => Source::Postgres {
                conninfo: conninfo.clone(),
                select,
            },
            (Some(_), None, None, Some(_)) => {
                return Err(whole("a CSV dataset takes no `table` or `query`"));
            }
            (None, Some(_), None, None) | (None, None, Some(_), None) => {
                return Err(whole("an SQL dataset needs a `table` or a `query`"));
            }
            _ => {
                return Err(whole(
                    "give exactly one source: `csv`, `sqlite` or `postgres`",
                ));
            }
        };
        if self.columns.is_empty() {
            return Err(whole("declares no columns"));
        }
        Ok(Dataset {
            name: name.to_string(),
            source,
            columns: self.columns.clone(),
        })
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    #[serde(default)]
    peers: BTreeMap<Spanned<String>, RawPeerPolicy>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPeerPolicy {
    #[serde(default)]
    allow: Vec<RawRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    protocols: Spanned<Vec<Protocol>>,
    purposes: Option<Vec<String>>,
    datasets: Vec<Spanned<String>>,
    columns: Option<Vec<Spanned<String>>>,
    grades: Spanned<Vec<Grade>>,
    #[serde(default)]
    outputs: BTreeMap<String, Vec<Spanned<String>>>,
    min_group_size: Option<i64>,
    min_intersection: Option<i64>,
    max_rows: Option<u64>,
    max_jobs_per_hour: Option<u32>,
    not_before: Option<Spanned<toml::value::Datetime>>,
    not_after: Option<Spanned<toml::value::Datetime>>,
    // What leaks beyond the outputs (policy/leak.rs).
    dealers: Option<Vec<Spanned<String>>>,
    open_counts_to_decider: Option<bool>,
    contribution: Option<bool>,
    max_categories: Option<u64>,
    max_bins: Option<u64>,
    max_epochs: Option<u64>,
    max_items: Option<u64>,
    leak_instance_space: Option<bool>,
    binning_modes: Option<Vec<indomain_learn::woe::Mode>>,
    shared_permutation: Option<bool>,
    // Differential privacy's budget (issue #22).
    dp: Option<Spanned<RawDp>>,
}

/// `dp = { epsilon = E, delta = D, per = "month" }`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDp {
    epsilon: f64,
    delta: f64,
    per: String,
}

impl RawRule {
    /// The rule, or the offset and reason of its first problem.
    fn to_rule(
        &self,
        catalog: &BTreeMap<String, BTreeMap<String, Grade>>,
        peers: &BTreeMap<String, Peer>,
        me: &str,
    ) -> Result<Rule, (Option<usize>, String)> {
        let here = |s: std::ops::Range<usize>, reason: String| (Some(s.start), reason);
        if self.protocols.get_ref().is_empty() {
            return Err(here(
                self.protocols.span(),
                "protocols: allows no protocol".into(),
            ));
        }
        if self.grades.get_ref().is_empty() {
            return Err(here(self.grades.span(), "grades: allows no grade".into()));
        }
        for d in &self.datasets {
            if !catalog.contains_key(d.get_ref()) {
                return Err(here(
                    d.span(),
                    format!("datasets: no dataset {:?} in [datasets]", d.get_ref()),
                ));
            }
        }
        for c in self.columns.iter().flatten() {
            let known = self
                .datasets
                .iter()
                .any(|d| catalog[d.get_ref()].contains_key(c.get_ref()));
            if !known {
                return Err(here(
                    c.span(),
                    format!(
                        "columns: no column {:?} in the rule's datasets",
                        c.get_ref()
                    ),
                ));
            }
        }
        for (output, receivers) in &self.outputs {
            for r in receivers {
                let n = r.get_ref();
                if n != me && !peers.contains_key(n) {
                    return Err(here(
                        r.span(),
                        format!("outputs.{output}: unknown receiver {n:?}"),
                    ));
                }
            }
        }
        let time = |t: &Option<Spanned<toml::value::Datetime>>| match t {
            None => Ok(None),
            Some(t) => crate::time::from_toml(t.get_ref())
                .map(Some)
                .ok_or_else(|| {
                    here(
                        t.span(),
                        format!(
                            "{} needs a date, or a time with its UTC offset",
                            t.get_ref()
                        ),
                    )
                }),
        };
        let not_before = time(&self.not_before)?;
        let not_after = time(&self.not_after)?;
        if let (Some(a), Some(b), Some(span)) = (not_before, not_after, self.not_after.as_ref())
            && b < a
        {
            return Err(here(span.span(), "not_after is before not_before".into()));
        }
        let mut dealers = Vec::new();
        for d in self.dealers.iter().flatten() {
            let n = d.get_ref();
            if n != me && n != leak::TWO_PARTY && !peers.contains_key(n) {
                return Err(here(d.span(), format!("dealers: unknown party {n:?}")));
            }
            dealers.push(leak::DealerChoice::parse(n));
        }
        let dp = match &self.dp {
            None => None,
            Some(dp) => {
                let raw = dp.get_ref();
                if raw.per != "month" {
                    return Err(here(
                        dp.span(),
                        format!(
                            "dp.per = {:?}: budgets are kept per \"month\" (UTC calendar month) only",
                            raw.per
                        ),
                    ));
                }
                let budget = MonthlyBudget::new(raw.epsilon, raw.delta).map_err(|_| {
                    here(
                        dp.span(),
                        format!(
                            "dp: epsilon = {}, delta = {}: give epsilon > 0 (finite) and delta in (0, 1)",
                            raw.epsilon, raw.delta
                        ),
                    )
                })?;
                Some(budget)
            }
        };
        let defaults = leak::LeakRules::default();
        let leaks = leak::LeakRules {
            dealers: self.dealers.is_some().then_some(dealers),
            open_counts_to_decider: self
                .open_counts_to_decider
                .unwrap_or(defaults.open_counts_to_decider),
            contribution: self.contribution.unwrap_or(defaults.contribution),
            max_categories: self.max_categories,
            max_bins: self.max_bins,
            max_epochs: self.max_epochs,
            max_items: self.max_items,
            leak_instance_space: self
                .leak_instance_space
                .unwrap_or(defaults.leak_instance_space),
            binning_modes: self
                .binning_modes
                .clone()
                .unwrap_or(defaults.binning_modes.clone()),
            shared_permutation: self
                .shared_permutation
                .unwrap_or(defaults.shared_permutation),
        };
        Ok(Rule {
            protocols: self.protocols.get_ref().clone(),
            purposes: self.purposes.clone(),
            datasets: self.datasets.iter().map(|d| d.get_ref().clone()).collect(),
            columns: self
                .columns
                .as_ref()
                .map(|cs| cs.iter().map(|c| c.get_ref().clone()).collect()),
            grades: self.grades.get_ref().clone(),
            outputs: self
                .outputs
                .iter()
                .map(|(o, rs)| (o.clone(), rs.iter().map(|r| r.get_ref().clone()).collect()))
                .collect(),
            min_group_size: self.min_group_size,
            min_intersection: self.min_intersection,
            max_rows: self.max_rows,
            max_jobs_per_hour: self.max_jobs_per_hour,
            not_before,
            not_after,
            leaks,
            dp,
        })
    }
}

#[cfg(test)]
mod tests;
