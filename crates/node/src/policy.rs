//! Policy: which peer may run which job on this node's data. Per peer, a
//! list of `allow` rules; a job is accepted when one rule allows all of it:
//! its protocol and purpose, this node's dataset, columns and their grades,
//! every output's receiver, the job's minimum group or intersection size,
//! and the rule's validity period. Row and rate limits travel with the
//! [`Grant`] and are enforced while the job reads and when it is admitted.
//!
//! [`check`] only looks at the spec and the configuration: it runs before
//! any data is read. A [`Refusal`] names the rule that refused, as a path
//! into the configuration (`policy.peers.tax.allow[1].columns`; rules are
//! numbered from 0). What leaks beyond the outputs — the dealer, counts
//! opened to a decider, contribution re-runs, sizes — is ruled on by the
//! rule's leak fields ([`leak`]), against the job's plan.

use crate::grade::Grade;
use crate::jobspec::{JobSpec, Protocol};
use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

pub mod leak;

/// A node's policy, with the grades of its own datasets' columns.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// This node's name.
    pub me: String,
    /// For each of this node's datasets, its columns and their grades.
    pub catalog: BTreeMap<String, BTreeMap<String, Grade>>,
    /// The rules per peer name; a peer without an entry may run nothing.
    pub peers: BTreeMap<String, PeerPolicy>,
}

/// What one peer may do.
#[derive(Debug, Clone, Default)]
pub struct PeerPolicy {
    /// The rules, tried in order; the first that allows the whole job wins.
    pub allow: Vec<Rule>,
}

/// One `allow` rule.
#[derive(Debug, Clone, Default)]
pub struct Rule {
    /// The protocols allowed.
    pub protocols: Vec<Protocol>,
    /// The purposes allowed; `None` allows any.
    pub purposes: Option<Vec<String>>,
    /// This node's datasets the job may read.
    pub datasets: Vec<String>,
    /// The columns it may read; `None` allows any column whose grade is allowed.
    pub columns: Option<Vec<String>>,
    /// The grades of the columns it may read.
    pub grades: Vec<Grade>,
    /// Per output name, the parties it may be released to.
    pub outputs: BTreeMap<String, Vec<String>>,
    /// For aggregate, train and predict jobs: the smallest `min_group_size`
    /// parameter accepted.
    pub min_group_size: Option<i64>,
    /// For PSI jobs: the smallest `min_intersection` parameter accepted.
    pub min_intersection: Option<i64>,
    /// The most rows a job may read from the dataset.
    pub max_rows: Option<u64>,
    /// The most jobs admitted under this rule in any hour.
    pub max_jobs_per_hour: Option<u32>,
    /// Unix seconds before which the rule does not apply.
    pub not_before: Option<u64>,
    /// Unix seconds after which the rule no longer applies.
    pub not_after: Option<u64>,
    /// What the rule allows to leak beyond the outputs ([`leak`]).
    pub leaks: leak::LeakRules,
}

/// Why a job was refused: the rule (a path into the configuration) and
/// the reason.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Refusal {
    /// The rule, e.g. `policy.peers.tax.allow[1].columns`.
    pub rule: String,
    /// What in the job the rule does not allow.
    pub reason: String,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.rule, self.reason)
    }
}

impl std::error::Error for Refusal {}

/// The rule that accepted a job, with the limits it imposes on the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The peer the job came from.
    pub peer: String,
    /// The rule's index in the peer's `allow` list.
    pub rule: usize,
    /// The most rows the job may read from this node's dataset.
    pub max_rows: Option<u64>,
    /// The most jobs per hour under this rule.
    pub max_jobs_per_hour: Option<u32>,
}

/// Checks `spec`, proposed by `peer`, against `policy` at time `now`.
pub fn check(
    policy: &Policy,
    peer: &str,
    spec: &JobSpec,
    now: SystemTime,
) -> Result<Grant, Refusal> {
    let refuse = |rule: &str, reason: String| Refusal {
        rule: rule.to_string(),
        reason,
    };
    let Some(peer_policy) = policy.peers.get(peer) else {
        return Err(refuse(
            "policy.peers",
            format!("no entry for peer {peer:?}"),
        ));
    };
    if spec.party(peer).is_none() {
        return Err(refuse(
            "job.parties",
            format!("the proposing peer {peer:?} is not a party of the job"),
        ));
    }
    let Some(mine) = spec.party(&policy.me) else {
        return Err(refuse(
            "job.parties",
            format!("this node ({:?}) is not a party of the job", policy.me),
        ));
    };
    // A training or aggregate job's dealer reads no data: only the dataset-free checks
    // of a rule apply to it.
    let none = BTreeMap::new();
    let columns = if spec.is_dealer(&mine.name) {
        Some(&none)
    } else {
        policy.catalog.get(&mine.dataset)
    };
    let Some(columns) = columns else {
        return Err(refuse(
            "datasets",
            format!("no dataset {:?} on this node", mine.dataset),
        ));
    };
    for c in &mine.columns {
        if !columns.contains_key(c) {
            return Err(refuse(
                &format!("datasets.{}.columns", mine.dataset),
                format!("dataset {:?} has no column {c:?}", mine.dataset),
            ));
        }
    }
    if peer_policy.allow.is_empty() {
        return Err(refuse(
            &format!("policy.peers.{peer}.allow"),
            "no rule allows any job".into(),
        ));
    }
    let now = now
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    // The node validates every spec, its plan included, before its policy:
    // a spec without a plan has no leak profile to rule on.
    let profile = spec.plan().ok().map(|p| p.leaks());
    // Report the refusal of the rule that came closest to allowing the job:
    // it is the one the operator most likely meant.
    let mut closest: Option<(Stage, Refusal)> = None;
    for (i, rule) in peer_policy.allow.iter().enumerate() {
        let path = format!("policy.peers.{peer}.allow[{i}]");
        match check_rule(
            rule,
            &path,
            spec,
            &mine.dataset,
            &mine.columns,
            columns,
            profile.as_ref(),
            now,
        ) {
            Ok(()) => {
                return Ok(Grant {
                    peer: peer.to_string(),
                    rule: i,
                    max_rows: rule.max_rows,
                    max_jobs_per_hour: rule.max_jobs_per_hour,
                });
            }
            Err((stage, refusal)) => {
                if closest.as_ref().is_none_or(|(s, _)| stage > *s) {
                    closest = Some((stage, refusal));
                }
            }
        }
    }
    // `allow` is not empty, so some rule refused.
    Err(closest
        .map(|(_, r)| r)
        .unwrap_or_else(|| refuse("policy", "refused".into())))
}

/// How far a job got through a rule's checks, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    Protocol,
    Purpose,
    Dataset,
    Column,
    Grade,
    Output,
    Size,
    Leak,
    Validity,
}

#[allow(clippy::too_many_arguments)]
fn check_rule(
    rule: &Rule,
    path: &str,
    spec: &JobSpec,
    dataset: &str,
    used: &[String],
    grades: &BTreeMap<String, Grade>,
    profile: Option<&crate::plan::LeakProfile>,
    now: u64,
) -> Result<(), (Stage, Refusal)> {
    let refuse = |stage: Stage, key: &str, reason: String| {
        Err((
            stage,
            Refusal {
                rule: format!("{path}.{key}"),
                reason,
            },
        ))
    };
    if !rule.protocols.contains(&spec.protocol) {
        return refuse(
            Stage::Protocol,
            "protocols",
            format!("protocol {} not allowed", spec.protocol),
        );
    }
    if let Some(purposes) = &rule.purposes
        && !purposes.contains(&spec.purpose)
    {
        return refuse(
            Stage::Purpose,
            "purposes",
            format!("purpose {:?} not allowed", spec.purpose),
        );
    }
    if !dataset.is_empty() && !rule.datasets.iter().any(|d| d == dataset) {
        return refuse(
            Stage::Dataset,
            "datasets",
            format!("dataset {dataset:?} not allowed"),
        );
    }
    for c in used {
        let grade = grades.get(c).copied().unwrap_or(Grade::Core);
        if let Some(columns) = &rule.columns
            && !columns.contains(c)
        {
            return refuse(
                Stage::Column,
                "columns",
                format!("column {c:?} (grade {grade}) not allowed"),
            );
        }
        if !rule.grades.contains(&grade) {
            return refuse(
                Stage::Grade,
                "grades",
                format!("column {c:?} has grade {grade}, which is not allowed"),
            );
        }
    }
    for o in &spec.outputs {
        let allowed = rule
            .outputs
            .get(&o.name)
            .is_some_and(|to| to.contains(&o.receiver));
        if !allowed {
            return refuse(
                Stage::Output,
                "outputs",
                format!(
                    "output {:?} may not be released to {:?}",
                    o.name, o.receiver
                ),
            );
        }
    }
    let is_psi = matches!(
        spec.protocol,
        Protocol::PsiIntersection | Protocol::PsiCardinality | Protocol::PsiSum | Protocol::PsiJoin
    );
    let minimums = [
        ("min_group_size", rule.min_group_size, !is_psi),
        ("min_intersection", rule.min_intersection, is_psi),
    ];
    for (key, minimum, applies) in minimums {
        if let (Some(minimum), true) = (minimum, applies) {
            match spec.int_param(key) {
                Some(v) if v >= minimum => {}
                Some(v) => {
                    return refuse(
                        Stage::Size,
                        key,
                        format!("the job's {key} is {v}, at least {minimum} required"),
                    );
                }
                None => {
                    return refuse(
                        Stage::Size,
                        key,
                        format!("the job sets no {key}; at least {minimum} required"),
                    );
                }
            }
        }
    }
    if let Some(profile) = profile {
        rule.leaks
            .check(path, profile)
            .map_err(|r| (Stage::Leak, r))?;
    }
    if let Some(t) = rule.not_before
        && now < t
    {
        return refuse(
            Stage::Validity,
            "not_before",
            format!("the rule applies from {} only", crate::time::format(t)),
        );
    }
    if let Some(t) = rule.not_after
        && now > t
    {
        return refuse(
            Stage::Validity,
            "not_after",
            format!("the rule expired at {}", crate::time::format(t)),
        );
    }
    Ok(())
}

/// Counts the jobs admitted under each rule over the last hour, for the
/// rules' `max_jobs_per_hour`.
#[derive(Debug, Default)]
pub struct RateLimiter {
    admitted: BTreeMap<(String, usize), VecDeque<u64>>,
}

impl RateLimiter {
    /// Admits one more job under `grant` at `now`, or refuses it when the
    /// rule's hourly limit is reached.
    pub fn admit(&mut self, grant: &Grant, now: SystemTime) -> Result<(), Refusal> {
        let Some(limit) = grant.max_jobs_per_hour else {
            return Ok(());
        };
        let now = now
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let times = self
            .admitted
            .entry((grant.peer.clone(), grant.rule))
            .or_default();
        while times.front().is_some_and(|&t| t + 3600 <= now) {
            times.pop_front();
        }
        if times.len() >= limit as usize {
            return Err(Refusal {
                rule: format!(
                    "policy.peers.{}.allow[{}].max_jobs_per_hour",
                    grant.peer, grant.rule
                ),
                reason: format!("{limit} jobs in the last hour already"),
            });
        }
        times.push_back(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests;
