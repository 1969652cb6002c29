//! Typed job plans: what a job spec asks for, parsed once, bounded, and
//! checked against what its protocol reveals, before any party accepts.
//!
//! [`JobSpec::plan`] turns a structurally valid [`JobSpec`] into a [`JobPlan`],
//! one variant a protocol, each in a file of its own
//! (`psi.rs`, `psi_sum.rs`, `aggregate.rs`, `train.rs`, `horizontal.rs`,
//! `predict.rs`, `trees.rs`, `scorecard.rs`, `binning.rs`; what vertical
//! jobs share is in `vertical.rs`):
//!
//! - every parameter is parsed from its text into the protocol's own types
//!   (a statistics job's [`indomain_aggregate::stats::StatsJob`], a
//!   training job's [`indomain_learn::TrainParams`]), within the bounds
//!   the protocol crates export (party counts, cells, fractional bits) and
//!   the node's own (epochs, peer items); a parameter the protocol does not
//!   take is refused, not ignored;
//! - each plan states what each party receives ([`JobPlan::receives`]),
//!   which must be exactly the outputs the spec declares: where the
//!   protocol can leave a party out (a PSI sender, a statistics party, the
//!   metrics of training) the plan runs it so, and where it cannot (a PSI
//!   receiver learns its result, every data party of a training job its
//!   own weights) a spec that does not declare it is refused;
//! - [`JobPlan::leaks`] gathers the choices a node's policy rules on
//!   beyond the outputs (`crate::policy::leak`): the dealer, counts opened
//!   to a decider, contribution re-runs, sizes.
//!
//! [`JobSpec::validate`] builds the plan, so `job submit` refuses a typo or
//! an out-of-range value on the spec's line and a peer refuses it before it
//! decides, with rule `job`. What each party learns is stated in each
//! plan's file.

pub mod aggregate;
pub mod binning;
pub mod horizontal;
mod params;
pub mod predict;
pub mod psi;
pub mod psi_sum;
pub mod scorecard;
pub mod train;
pub mod trees;
pub mod vertical;

use crate::jobspec::{JobSpec, Part, Problem, Protocol};
use std::collections::BTreeSet;

pub use aggregate::AggregatePlan;
pub use binning::BinningPlan;
pub use horizontal::HorizontalPlan;
pub use predict::{ModelKind, PredictPlan};
pub use psi::PsiPlan;
pub use psi_sum::PsiSumPlan;
pub use scorecard::ScorecardPlan;
pub use train::TrainPlan;
pub use trees::TreePlan;

/// A job's plan: its protocol with every parameter parsed and bounded.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum JobPlan {
    /// PSI between two nodes: intersection, cardinality or join.
    Psi(PsiPlan),
    /// Intersection-sum between two nodes.
    PsiSum(PsiSumPlan),
    /// Secure statistics among 2 to 16 parties.
    Aggregate(AggregatePlan),
    /// Vertical training.
    Train(TrainPlan),
    /// Horizontal training (FedAvg over secure aggregation, with or
    /// without distributed DP): `train` with `mode = "horizontal"`.
    Horizontal(HorizontalPlan),
    /// Joint scoring with a trained model.
    Predict(PredictPlan),
    /// Vertical gradient-boosted trees (`train`, `algorithm = "gbdt"`).
    Trees(TreePlan),
    /// WOE/IV binning.
    Binning(BinningPlan),
    /// A scorecard's training (`train`, `algorithm = "scorecard"`).
    Scorecard(ScorecardPlan),
}

/// Where a job's correlated randomness comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Correlations {
    /// The job needs none (PSI, scoring, statistics that open the counts).
    None,
    /// A dealer: the named party, which holds no data but knows every mask
    /// (colluding with a data party it learns the others' inputs).
    Dealer(String),
    /// Generated between the two computing parties, no third one (the
    /// two-party correlations of issue #21: a training job's
    /// `correlations = "two-party"`).
    TwoParty,
}

/// The choices of a plan that decide what leaks beyond its declared
/// outputs, or what it may cost, for a node's policy to rule on
/// (`crate::policy::leak`). A new leak mode is one more field here.
#[derive(Debug, Clone, PartialEq)]
pub struct LeakProfile {
    /// Where the correlated randomness comes from.
    pub correlations: Correlations,
    /// The party that sees every group's count of a statistics job decided
    /// without a dealer.
    pub counts_opened_to: Option<String>,
    /// Whether a training job re-runs without each party for a
    /// contribution report (leave-one-out models: their weights at the
    /// parties that take part, their held-out scores at the label holder).
    pub contribution: bool,
    /// Categories of a statistics job's group-by column (0 without).
    pub categories: usize,
    /// Bins of each histogram column, the two tails included (0 for other
    /// statistics).
    pub bins: usize,
    /// Training epochs (0 for other jobs).
    pub epochs: usize,
    /// The most items a PSI peer may bring (0 for other jobs).
    pub peer_items: usize,
    /// With differential privacy: the zCDP ρ the release spends, which a
    /// rule's `dp` budget is charged (issue #22).
    pub dp_rho: Option<f64>,
    /// Whether a tree job opens node membership of rows to the feature
    /// holders (SecureBoost's leakage; no job asks for it yet: the trees'
    /// only mode keeps the instance space hidden).
    pub instance_space: bool,
    /// A binning job's mode: who learns the owners' per-bin WOE.
    pub binning_mode: Option<indomain_learn::woe::Mode>,
    /// Whether a binning job's histogram kernel uses one permutation for
    /// all of an owner's features (the label holder learns how the
    /// owner's bins co-occur).
    pub shared_permutation: bool,
}

impl LeakProfile {
    /// A profile with nothing to rule on.
    fn plain() -> Self {
        Self {
            correlations: Correlations::None,
            counts_opened_to: None,
            contribution: false,
            categories: 0,
            bins: 0,
            epochs: 0,
            peer_items: 0,
            dp_rho: None,
            instance_space: false,
            binning_mode: None,
            shared_permutation: false,
        }
    }
}

impl JobPlan {
    /// The outputs each party receives, in the order of the spec's
    /// parties: what the protocol, run as this plan runs it, reveals to it.
    pub fn receives(&self) -> Vec<BTreeSet<&'static str>> {
        match self {
            JobPlan::Psi(p) => p.receives(),
            JobPlan::PsiSum(p) => p.receives(),
            JobPlan::Aggregate(p) => p.receives(),
            JobPlan::Train(p) => p.receives(),
            JobPlan::Horizontal(p) => p.receives(),
            JobPlan::Predict(p) => p.receives(),
            JobPlan::Trees(p) => p.receives(),
            JobPlan::Binning(p) => p.receives(),
            JobPlan::Scorecard(p) => p.receives(),
        }
    }

    /// What the job decides that leaks beyond its outputs, for policy.
    pub fn leaks(&self) -> LeakProfile {
        match self {
            JobPlan::Psi(p) => p.leaks(),
            JobPlan::PsiSum(p) => p.leaks(),
            JobPlan::Aggregate(p) => p.leaks(),
            JobPlan::Train(p) => p.leaks(),
            JobPlan::Horizontal(p) => p.leaks(),
            JobPlan::Predict(p) => p.leaks(),
            JobPlan::Trees(p) => p.leaks(),
            JobPlan::Binning(p) => p.leaks(),
            JobPlan::Scorecard(p) => p.leaks(),
        }
    }
}

/// Builds the plan of a structurally valid spec (`JobSpec::validate`
/// checks the structure first) and checks that its declared outputs are
/// exactly what the plan reveals.
pub(crate) fn build(spec: &JobSpec) -> Result<JobPlan, Problem> {
    let plan = match spec.protocol {
        Protocol::PsiIntersection | Protocol::PsiCardinality | Protocol::PsiJoin => {
            JobPlan::Psi(PsiPlan::build(spec)?)
        }
        Protocol::PsiSum => JobPlan::PsiSum(PsiSumPlan::build(spec)?),
        Protocol::Aggregate => JobPlan::Aggregate(AggregatePlan::build(spec)?),
        Protocol::Train if spec.is_horizontal() => {
            JobPlan::Horizontal(HorizontalPlan::build(spec)?)
        }
        Protocol::Train => match train::algorithm(spec)? {
            train::Algorithm::Linear => JobPlan::Train(TrainPlan::build(spec)?),
            train::Algorithm::Trees => JobPlan::Trees(TreePlan::build(spec)?),
            train::Algorithm::Scorecard => JobPlan::Scorecard(ScorecardPlan::build(spec)?),
        },
        Protocol::Predict => JobPlan::Predict(PredictPlan::build(spec)?),
        Protocol::Binning => JobPlan::Binning(BinningPlan::build(spec)?),
    };
    check_declared(spec, &plan.receives())?;
    Ok(plan)
}

/// Refuses a spec whose declared outputs differ from what the plan
/// reveals, party by party.
fn check_declared(spec: &JobSpec, receives: &[BTreeSet<&'static str>]) -> Result<(), Problem> {
    for (i, party) in spec.parties.iter().enumerate() {
        let reveals = receives.get(i).cloned().unwrap_or_default();
        for output in &reveals {
            let declared = spec
                .outputs
                .iter()
                .any(|o| o.name == *output && o.receiver == party.name);
            if !declared {
                return Err(Problem {
                    at: Part::Whole,
                    reason: format!(
                        "{} reveals the {output} to {}: the job must declare output {output:?} for it",
                        spec.protocol, party.name
                    ),
                });
            }
        }
        if let Some(at) = spec
            .outputs
            .iter()
            .position(|o| o.receiver == party.name && !reveals.contains(o.name.as_str()))
        {
            return Err(Problem {
                at: Part::Receiver(at),
                reason: format!(
                    "{} does not reveal the {} to {}: drop that output",
                    spec.protocol, spec.outputs[at].name, party.name
                ),
            });
        }
    }
    Ok(())
}

/// A set of output names, for `receives`.
fn set(names: &[&'static str]) -> BTreeSet<&'static str> {
    names.iter().copied().collect()
}

#[cfg(test)]
mod test_specs;
#[cfg(test)]
mod tests;
