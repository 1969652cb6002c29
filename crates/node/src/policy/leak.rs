//! Policy over what leaks: the choices of a job, beyond its declared
//! outputs, that decide what a party learns or what the job may cost —
//! who deals the correlated randomness, whether counts are opened to a
//! decider, whether training re-runs without each party for a
//! contribution report, and how large a job may be. Each is a field of an
//! `allow` rule, checked against the job's plan ([`LeakProfile`]) once
//! every other check of the rule passed, and a refusal names it
//! (`policy.peers.bank.allow[0].dealers`).
//!
//! | key | absent | checks |
//! |---|---|---|
//! | `dealers` | any party may deal | the job's dealer (or, with [`TWO_PARTY`] in the list, correlations generated between two parties) is listed |
//! | `open_counts_to_decider` | `false` | a statistics job without a dealer, which opens every group's count to its first receiver, is allowed |
//! | `contribution` | `true` | a training job may make a contribution report (leave-one-out re-runs) |
//! | `max_categories` | no limit | categories of a statistics job's group-by column |
//! | `max_bins` | no limit | bins of a histogram column, tails included |
//! | `max_epochs` | no limit | training epochs |
//! | `max_items` | no limit | keys a PSI peer may bring (the job's `max_peer_items`) |
//! | `leak_instance_space` | `false` | a tree job may open node membership of rows to the feature holders (SecureBoost's leakage; the trees' hidden mode never does) |
//! | `binning_modes` | `["default", "strict"]` | a binning job's mode is listed (`owner-transform`, SecretFlow's leakage, only when listed; `["strict"]` to keep every bin's WOE hidden) |
//! | `shared_permutation` | `false` | a binning job may use one permutation for all of an owner's features (the label holder learns how its bins co-occur) |
//!
//! `dealers` and `contribution` keep, when absent, what the node allowed
//! before they existed; set them to close those choices (a dealer that
//! colludes with the label holder learns a feature holder's whole matrix).
//!
//! **Adding a leak mode** (instance space for trees, compatible or
//! owner-transform binning, differential privacy, two-party correlations):
//! one field in [`crate::plan::LeakProfile`], set by the plan that has the
//! mode; one field here, with its key in the configuration's `allow` rule
//! and its default — refused unless the rule allows it, for a mode that
//! reveals more than the protocol's default; and one check in
//! [`LeakRules::check`] that names the key. Nothing else in policy
//! changes.

use super::Refusal;
use crate::plan::{Correlations, LeakProfile};
use indomain_learn::woe::Mode;

/// The binning modes a rule without `binning_modes` allows: the
/// label-holder view and strict, not the owner transform.
pub const DEFAULT_BINNING_MODES: [Mode; 2] = [Mode::Default, Mode::Strict];

/// The entry of `dealers` that stands for correlations generated between
/// the two computing parties, with no dealer (issue #21's
/// `correlations = "two-party"`).
pub const TWO_PARTY: &str = "two-party";

/// Who a rule accepts as the source of a job's correlated randomness.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DealerChoice {
    /// This party (a configured peer, or this node) as the dealer.
    Party(String),
    /// Correlations generated between the two computing parties.
    TwoParty,
}

impl DealerChoice {
    /// The configuration's entry: [`TWO_PARTY`] or a party name.
    pub fn parse(entry: &str) -> Self {
        match entry {
            TWO_PARTY => DealerChoice::TwoParty,
            name => DealerChoice::Party(name.to_string()),
        }
    }

    fn allows(&self, correlations: &Correlations) -> bool {
        match (self, correlations) {
            (DealerChoice::Party(a), Correlations::Dealer(b)) => a == b,
            (DealerChoice::TwoParty, Correlations::TwoParty) => true,
            _ => false,
        }
    }
}

/// The leak fields of one `allow` rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeakRules {
    /// The dealers this rule approves; `None`: any.
    pub dealers: Option<Vec<DealerChoice>>,
    /// Whether a statistics job may open every group's count to a decider.
    pub open_counts_to_decider: bool,
    /// Whether a training job may make a contribution report.
    pub contribution: bool,
    /// The most categories of a statistics job's group-by column.
    pub max_categories: Option<u64>,
    /// The most bins of a histogram column (tails included).
    pub max_bins: Option<u64>,
    /// The most training epochs.
    pub max_epochs: Option<u64>,
    /// The most keys a PSI peer may bring.
    pub max_items: Option<u64>,
    /// Whether a tree job may open node membership to feature holders.
    pub leak_instance_space: bool,
    /// The binning modes allowed.
    pub binning_modes: Vec<Mode>,
    /// Whether a binning job may share one permutation across an owner's
    /// features.
    pub shared_permutation: bool,
}

impl Default for LeakRules {
    /// What a rule without leak fields allows: any dealer and the
    /// contribution report (as before these rules), no counts opened to a
    /// decider, no limits beyond the plans' own.
    fn default() -> Self {
        Self {
            dealers: None,
            open_counts_to_decider: false,
            contribution: true,
            max_categories: None,
            max_bins: None,
            max_epochs: None,
            max_items: None,
            leak_instance_space: false,
            binning_modes: DEFAULT_BINNING_MODES.to_vec(),
            shared_permutation: false,
        }
    }
}

impl LeakRules {
    /// Checks a job's leak profile against the rule at `path`
    /// (`policy.peers.<peer>.allow[<i>]`); a refusal names the field.
    pub fn check(&self, path: &str, job: &LeakProfile) -> Result<(), Refusal> {
        let refuse = |key: &str, reason: String| {
            Err(Refusal {
                rule: format!("{path}.{key}"),
                reason,
            })
        };
        if let Some(dealers) = &self.dealers {
            let named = match &job.correlations {
                Correlations::None => None,
                Correlations::Dealer(name) => Some(format!("dealer {name}")),
                Correlations::TwoParty => Some("two-party correlations".to_string()),
            };
            if let Some(named) = named
                && !dealers.iter().any(|d| d.allows(&job.correlations))
            {
                return refuse(
                    "dealers",
                    format!(
                        "the job's correlated randomness comes from {named}, which the rule does not approve"
                    ),
                );
            }
        }
        if let Some(decider) = &job.counts_opened_to
            && !self.open_counts_to_decider
        {
            return refuse(
                "open_counts_to_decider",
                format!(
                    "the job opens every group's count to {decider}, which the rule does not allow (name a dealer instead)"
                ),
            );
        }
        if job.contribution && !self.contribution {
            return refuse(
                "contribution",
                "the job re-runs training without each party for a contribution report, which the rule does not allow".into(),
            );
        }
        if job.instance_space && !self.leak_instance_space {
            return refuse(
                "leak_instance_space",
                "the job opens which rows reach which tree node to the feature holders, which the rule does not allow".into(),
            );
        }
        if let Some(mode) = job.binning_mode
            && !self.binning_modes.contains(&mode)
        {
            return refuse(
                "binning_modes",
                format!(
                    "the job bins in the {} mode, which the rule does not allow",
                    mode.name()
                ),
            );
        }
        if job.shared_permutation && !self.shared_permutation {
            return refuse(
                "shared_permutation",
                "the job shares one permutation across an owner's features (its bins' co-occurrence shows), which the rule does not allow".into(),
            );
        }
        let limits = [
            (
                "max_categories",
                self.max_categories,
                job.categories,
                "categories",
            ),
            (
                "max_bins",
                self.max_bins,
                job.bins,
                "bins a histogram column",
            ),
            ("max_epochs", self.max_epochs, job.epochs, "epochs"),
            (
                "max_items",
                self.max_items,
                job.peer_items,
                "keys from a peer (max_peer_items)",
            ),
        ];
        for (key, limit, value, what) in limits {
            if let Some(limit) = limit
                && value as u64 > limit
            {
                return refuse(
                    key,
                    format!("the job asks for {value} {what}, at most {limit} allowed"),
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
