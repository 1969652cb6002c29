//! The plan of a two-party PSI job (`psi-intersection`, `psi-cardinality`,
//! `psi-join`). The first party is the PSI receiver, the second the
//! sender; each lists its key columns (the PSI hello refuses keys of
//! different column counts).
//!
//! Parameters: `min_intersection` (default 0: any), the fewest matches for
//! which anything is revealed — it travels into the protocol, where the
//! receiver stops before it sends positions or a count; `max_peer_items`
//! (default and most [`DEFAULT_MAX_PEER_ITEMS`]), the most keys either
//! party accepts from the other.
//!
//! What each party learns: both the other's set size; the receiver its
//! result (the matching keys, their number, or its rows of the join in the
//! common order), which the job must declare for it; the sender the same
//! only when the job declares it (a join always reveals it to both, so a
//! join declares it for both). Below `min_intersection`, neither learns
//! more than that the threshold was not met.

use super::params::{Params, bad};
use super::{LeakProfile, set};
use crate::jobspec::{JobSpec, Problem, Protocol};
use indomain_psi::session::DEFAULT_MAX_PEER_ITEMS;
use indomain_psi::{Construction, Job, Mode, Reveal};
use std::collections::BTreeSet;

/// The parameters a PSI job takes.
const PARAMETERS: &[&str] = &["min_intersection", "max_peer_items"];

/// A PSI job's plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PsiPlan {
    /// What it computes.
    pub mode: Mode,
    /// Whether the sender (second party) learns the result too.
    pub reveal: Reveal,
    /// The fewest matches revealed.
    pub min_intersection: usize,
    /// The most keys either party accepts from the other.
    pub max_peer_items: usize,
}

impl PsiPlan {
    pub(super) fn build(spec: &JobSpec) -> Result<Self, Problem> {
        let params = Params::new(spec, PARAMETERS)?;
        let mode = match spec.protocol {
            Protocol::PsiCardinality => Mode::Cardinality,
            Protocol::PsiJoin => Mode::Join,
            _ => Mode::Intersection,
        };
        let (first, second) = two_parties(spec)?;
        let output = output_of(mode);
        let declared = |to: &str| {
            spec.outputs
                .iter()
                .any(|o| o.name == output && o.receiver == to)
        };
        if !declared(first) {
            return Err(bad(format!(
                "the first party ({first}) is the PSI receiver and learns the {output}: the job must declare it as a receiver of {output:?}"
            )));
        }
        if mode == Mode::Join && !declared(second) {
            return Err(bad(format!(
                "a join reveals the {output} to both parties: the job must declare {second} as a receiver of {output:?} too"
            )));
        }
        let reveal = if declared(second) {
            Reveal::Both
        } else {
            Reveal::Receiver
        };
        let most = DEFAULT_MAX_PEER_ITEMS as i64;
        Ok(Self {
            mode,
            reveal,
            min_intersection: params.count("min_intersection", 0..=most)?.unwrap_or(0),
            max_peer_items: params
                .count("max_peer_items", 1..=most)?
                .unwrap_or(DEFAULT_MAX_PEER_ITEMS),
        })
    }

    /// The output's name: `intersection`, `cardinality` or `alignment`.
    pub fn output(&self) -> &'static str {
        output_of(self.mode)
    }

    /// The PSI job a party runs with `key_columns` key columns of its own:
    /// the fastest construction for the mode, the plan's reveal, minimum
    /// and peer limit, keys described by their column count (names may
    /// differ between the parties; a different count is refused in the
    /// hello, since the keys would never match).
    pub fn job(&self, key_columns: usize) -> Job {
        let mut job = Job::new(self.mode)
            .with_construction(Construction::fastest(self.mode))
            .with_reveal(self.reveal)
            .with_min_intersection(self.min_intersection);
        job.max_peer_items = self.max_peer_items;
        job.key_spec = key_spec(key_columns);
        job
    }

    pub(super) fn receives(&self) -> Vec<BTreeSet<&'static str>> {
        let sender = match self.reveal {
            Reveal::Both => set(&[self.output()]),
            Reveal::Receiver => set(&[]),
        };
        vec![set(&[self.output()]), sender]
    }

    pub(super) fn leaks(&self) -> LeakProfile {
        LeakProfile {
            peer_items: self.max_peer_items,
            ..LeakProfile::plain()
        }
    }
}

fn output_of(mode: Mode) -> &'static str {
    match mode {
        Mode::Cardinality => "cardinality",
        Mode::Join => "alignment",
        _ => "intersection",
    }
}

/// How a node describes its keys to its peer: the cells of its key columns
/// as text (names may differ between the parties, the encoding must not).
pub(super) fn key_spec(columns: usize) -> String {
    format!("node dataset cells as text, {columns} column(s)")
}

/// The names of a two-party job's parties (the structure check ensured two).
pub(super) fn two_parties(spec: &JobSpec) -> Result<(&str, &str), Problem> {
    match spec.parties.as_slice() {
        [a, b] => Ok((&a.name, &b.name)),
        _ => Err(bad(format!("{} takes exactly two parties", spec.protocol))),
    }
}
