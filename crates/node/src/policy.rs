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
//! numbered from 0), so the proposer's operator can fix the spec. Its
//! reason never quotes free text of the spec back, and for data the peer
//! may not use it is one sentence ([`DATA_NOT_ALLOWED`]) whether the
//! dataset or column exists here or not, with no grade: a refusal does not
//! map this node's schema. What leaks beyond the outputs — the dealer,
//! counts opened to a decider, contribution re-runs, sizes — is ruled on by
//! the rule's leak fields ([`leak`]), against the job's plan.
//!
//! A rule with `dp = { epsilon = E, delta = D, per = "month" }` requires
//! differential privacy of every job it admits on this node's data
//! (issue #22): a job without `dp_epsilon` is refused (`….dp`), and so is
//! one whose release alone spends more than the month's (E, D). The
//! budget travels with the [`Grant`]; the node charges it to its ledger
//! ([`crate::dp_ledger`]) per (dataset, receiver) and UTC month when it
//! accepts the job, and refuses a job the month's remainder cannot pay
//! for, naming what remains.

use crate::dp_ledger::MonthlyBudget;
use crate::grade::Grade;
use crate::jobspec::{JobSpec, Protocol};
use std::collections::BTreeMap;
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

pub mod leak;

/// The reason of every refusal of a dataset or column the peer may not
/// use, existing or not.
pub const DATA_NOT_ALLOWED: &str =
    "the job names a dataset or column that this node does not allow to the proposer";

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
    /// The DP budget per (dataset, receiver) and UTC month; with it the
    /// rule admits only jobs released with differential privacy.
    pub dp: Option<MonthlyBudget>,
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
#[derive(Debug, Clone, PartialEq)]
pub struct Grant {
    /// The peer the job came from.
    pub peer: String,
    /// The rule's index in the peer's `allow` list.
    pub rule: usize,
    /// The most rows the job may read from this node's dataset.
    pub max_rows: Option<u64>,
    /// The most jobs per hour under this rule.
    pub max_jobs_per_hour: Option<u32>,
    /// The rule's DP budget, when the job reads this node's data under a
    /// rule that has one: the job's ρ is charged to it.
    pub dp: Option<MonthlyBudget>,
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
    // of a rule apply to it. A dataset this node does not have has no
    // columns: the rules refuse it exactly as a dataset they do not allow.
    let none = BTreeMap::new();
    let columns = if spec.is_dealer(&mine.name) {
        &none
    } else {
        policy.catalog.get(&mine.dataset).unwrap_or(&none)
    };
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
            (!spec.is_dealer(&mine.name)).then_some(mine.dataset.as_str()),
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
                    dp: rule.dp.filter(|_| !spec.is_dealer(&mine.name)),
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
    /// A column not listed, or of a grade not allowed (one stage: which of
    /// the two refuses must not depend on whether the column exists).
    Column,
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
    dataset: Option<&str>,
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
            "the job's purpose is not one the rule allows".into(),
        );
    }
    // A dealer reads no dataset; every other party's must be allowed.
    if let Some(dataset) = dataset
        && !rule.datasets.iter().any(|d| d == dataset)
    {
        return refuse(Stage::Dataset, "datasets", DATA_NOT_ALLOWED.into());
    }
    for c in used {
        // A column must be listed (when the rule lists columns) and of a
        // grade the rule allows; one the dataset does not have is neither.
        // The refusal names the rule's `columns` when it lists them, else
        // its `grades`: by the rule's shape, never by what exists here.
        let listed = rule.columns.as_ref().is_none_or(|cs| cs.contains(c));
        let graded = grades.get(c).is_some_and(|g| rule.grades.contains(g));
        if !(listed && graded) {
            let key = if rule.columns.is_some() {
                "columns"
            } else {
                "grades"
            };
            return refuse(Stage::Column, key, DATA_NOT_ALLOWED.into());
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
    // A dealer reads no data: the budget is of the data's rows.
    if let (Some(budget), Some(dataset)) = (&rule.dp, dataset) {
        match profile.and_then(|p| p.dp_rho) {
            None => {
                return refuse(
                    Stage::Leak,
                    "dp",
                    "the rule requires differential privacy: the job sets no dp_epsilon".into(),
                );
            }
            Some(rho) if rho > budget.rho() => {
                let refusal = crate::dp_ledger::Refusal::ExceedsBudget {
                    account: format!("dataset {dataset}"),
                    rho,
                    budget_rho: budget.rho(),
                    budget_epsilon: budget.epsilon,
                    budget_delta: budget.delta,
                };
                return refuse(Stage::Leak, "dp", refusal.to_string());
            }
            Some(_) => {}
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

/// Admits one more job under `grant` when `admitted` jobs were admitted
/// under the same rule in the last hour (the node's restart-proof count,
/// [`crate::state::NodeState::admitted_last_hour`]), or refuses it when
/// the rule's hourly limit is reached.
pub fn rate_limit(grant: &Grant, admitted: usize) -> Result<(), Refusal> {
    match grant.max_jobs_per_hour {
        Some(limit) if admitted >= limit as usize => Err(Refusal {
            rule: format!(
                "policy.peers.{}.allow[{}].max_jobs_per_hour",
                grant.peer, grant.rule
            ),
            reason: format!("{limit} jobs in the last hour already"),
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests;
