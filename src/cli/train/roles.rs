//! Who is who in a vertical job (linear, tree or scorecard training): the
//! label holder and the optional dealer from the flags, and this party's
//! role.

use super::{Args, Parties};
use crate::cli::StepResult;
use indomain_learn::align::Roles;
use indomain_learn::model::{JobParty, PartyRole};

/// The roles of a vertical job's parties.
pub(super) struct VerticalRoles {
    /// The label holder's place in the party list.
    pub label: usize,
    /// The dealer's place; none: two-party correlations.
    pub dealer: Option<usize>,
    /// The roles as the protocols take them.
    pub roles: Roles,
    /// This party's role.
    pub role: PartyRole,
}

impl VerticalRoles {
    /// Reads `--label-holder` and `--dealer`. Without `--dealer` the label
    /// holder and the one feature holder generate the correlated
    /// randomness themselves (two-party correlations, no third
    /// organisation trusted), so the job (`job` names it in the refusal)
    /// must have exactly two parties.
    pub fn from_args(args: &Args, parties: &Parties, job: &str) -> StepResult<Self> {
        let names = parties.names();
        let label = parties.index(args.label_holder.as_deref().unwrap_or_default())?;
        let dealer = args
            .dealer
            .as_deref()
            .map(|d| parties.index(d))
            .transpose()?;
        if dealer.is_none() && names.len() != 2 {
            return Err(format!(
                "without --dealer, {job} takes exactly two parties (two-party \
                 correlations), not {}; name a --dealer for more",
                names.len()
            )
            .into());
        }
        let roles = Roles::new(names.len(), label, dealer)?;
        let mut this = Self {
            label,
            dealer,
            roles,
            role: PartyRole::Feature,
        };
        this.role = this.role_of(parties.me);
        Ok(this)
    }

    /// The role of the party at place `i`.
    pub fn role_of(&self, i: usize) -> PartyRole {
        if i == self.label {
            PartyRole::Label
        } else if Some(i) == self.dealer {
            PartyRole::Dealer
        } else {
            PartyRole::Feature
        }
    }

    /// The job's party list: each of `names` with its role.
    pub fn job_parties(&self, names: &[String]) -> Vec<JobParty> {
        names
            .iter()
            .enumerate()
            .map(|(i, n)| JobParty {
                name: n.clone(),
                role: self.role_of(i),
            })
            .collect()
    }
}
