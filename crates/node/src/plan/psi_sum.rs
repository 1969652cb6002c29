//! The plan of an intersection-sum job (`psi-sum`): the first party is
//! the receiver (its columns are the key), the second the sender (its
//! columns are the key and the `value_column`, a non-negative integer per
//! key).
//!
//! Parameters: `value_column` (required), `min_intersection` and
//! `max_peer_items` as for PSI ([`super::psi`]). The minimum travels into
//! the protocol: below it the receiver sends no count and no encrypted
//! sum, so a sender that put values 2^i on keys of its choice decrypts
//! nothing.
//!
//! What each party learns: both the other's set size and the number of
//! matching keys (output `cardinality`, which the job declares for both);
//! the sender the sum of its values over the matches (output `sum`, for the
//! sender only); never which keys match.

use super::params::{Params, bad, bad_param};
use super::psi::{key_spec, two_parties};
use super::{LeakProfile, set};
use crate::jobspec::{JobSpec, Problem};
use indomain_psi::session::DEFAULT_MAX_PEER_ITEMS;
use indomain_psi::{Construction, Job, Mode};
use std::collections::BTreeSet;

/// The parameters a psi-sum job takes.
const PARAMETERS: &[&str] = &["value_column", "min_intersection", "max_peer_items"];

/// An intersection-sum job's plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PsiSumPlan {
    /// The sender's column of values.
    pub value_column: String,
    /// Key columns at each party.
    pub key_columns: usize,
    /// The fewest matches for which the count and the sum are revealed.
    pub min_intersection: usize,
    /// The most keys either party accepts from the other.
    pub max_peer_items: usize,
}

impl PsiSumPlan {
    pub(super) fn build(spec: &JobSpec) -> Result<Self, Problem> {
        let params = Params::new(spec, PARAMETERS)?;
        let (first, second) = two_parties(spec)?;
        let value_column = params.required_text("value_column", "the sender's value column")?;
        let sender = &spec.parties[1];
        if !sender.columns.iter().any(|c| c == value_column) {
            return Err(bad_param(
                "value_column",
                format!("{second} does not list value_column {value_column:?}"),
            ));
        }
        let key_columns = sender.columns.len() - 1;
        if key_columns == 0 || spec.parties[0].columns.len() != key_columns {
            return Err(bad(format!(
                "{first} lists the key columns and {second} the same number plus {value_column:?}: they list {} and {}",
                spec.parties[0].columns.len(),
                sender.columns.len()
            )));
        }
        let declared = |output: &str, to: &str| {
            spec.outputs
                .iter()
                .any(|o| o.name == output && o.receiver == to)
        };
        if !declared("cardinality", first) || !declared("cardinality", second) {
            return Err(bad(format!(
                "both parties learn the cardinality of a psi-sum: the job must declare it for {first} and {second}"
            )));
        }
        if !declared("sum", second) || declared("sum", first) {
            return Err(bad(format!(
                "the sender ({second}) learns the sum and {first} never does: declare output \"sum\" for {second} only"
            )));
        }
        let most = DEFAULT_MAX_PEER_ITEMS as i64;
        Ok(Self {
            value_column: value_column.to_string(),
            key_columns,
            min_intersection: params.count("min_intersection", 0..=most)?.unwrap_or(0),
            max_peer_items: params
                .count("max_peer_items", 1..=most)?
                .unwrap_or(DEFAULT_MAX_PEER_ITEMS),
        })
    }

    /// The PSI job both parties run (ECDH with exponential ElGamal).
    pub fn job(&self) -> Job {
        let mut job = Job::new(Mode::IntersectionSum)
            .with_construction(Construction::Ecdh)
            .with_min_intersection(self.min_intersection);
        job.max_peer_items = self.max_peer_items;
        job.key_spec = key_spec(self.key_columns);
        job
    }

    pub(super) fn receives(&self) -> Vec<BTreeSet<&'static str>> {
        vec![set(&["cardinality"]), set(&["cardinality", "sum"])]
    }

    pub(super) fn leaks(&self) -> LeakProfile {
        LeakProfile {
            peer_items: self.max_peer_items,
            ..LeakProfile::plain()
        }
    }
}
