//! What the plans of vertical jobs (linear and tree training, scorecards,
//! binning) share: the label holder, the dealer and 1 to
//! [`MAX_FEATURE_HOLDERS`] feature holders named by parameters — or, with
//! `correlations = "two-party"`, the label holder and one feature holder
//! alone, generating the correlated randomness between themselves (issue
//! #21; no `dealer`) — every data party listing the id column (the label
//! holder the label column too) and at least one feature, and outputs that
//! go to data parties only.

use super::Correlations;
use super::params::{Params, bad, bad_param};
use crate::jobspec::{JobSpec, Part, Problem};
use crate::policy::leak::TWO_PARTY;
use indomain_learn::align::{MAX_FEATURE_HOLDERS, Roles};
use indomain_learn::model::{JobParty, PartyRole};

/// The parties of a vertical job, by index, with the columns they align
/// and label on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerticalParties {
    /// Who does what, by party index (no dealer with two-party
    /// correlations).
    pub roles: Roles,
    /// The column the rows are aligned on.
    pub id_column: String,
    /// The label holder's label column.
    pub label_column: String,
}

impl VerticalParties {
    /// Reads parameters `label_holder`, `correlations` (`dealer`, the
    /// default, or `two-party`), `dealer` (unless two-party), `id_column`
    /// and `label_column` and checks every data party's columns; `job`
    /// names the job in refusals ("a training job").
    pub(super) fn build(spec: &JobSpec, params: &Params<'_>, job: &str) -> Result<Self, Problem> {
        let at = |name: &str, what: &str| -> Result<usize, Problem> {
            params
                .party(name)?
                .ok_or_else(|| bad(format!("{job} names its {what} (parameter {name})")))
        };
        let label = at("label_holder", "label holder")?;
        let dealer = match params.choice("correlations", &["dealer", TWO_PARTY])? {
            Some(TWO_PARTY) => {
                if params.is_set("dealer") {
                    return Err(bad_param(
                        "dealer",
                        "with correlations = \"two-party\" no party deals: drop parameter dealer"
                            .into(),
                    ));
                }
                if spec.parties.len() != 2 {
                    return Err(bad(format!(
                        "two-party correlations take exactly two parties, the label holder and one feature holder, not {}; name a dealer for more",
                        spec.parties.len()
                    )));
                }
                None
            }
            _ => Some(at("dealer", "dealer")?),
        };
        let roles = Roles::new(spec.parties.len(), label, dealer).map_err(|e| {
            bad(format!(
                "{e} (1 to {MAX_FEATURE_HOLDERS} feature holders besides the label holder and the dealer)"
            ))
        })?;
        let id_column = params.required_text("id_column", "the rows' id column")?;
        let label_column =
            params.required_text("label_column", "the label holder's label column")?;
        for &p in std::iter::once(&label).chain(&roles.features) {
            let party = &spec.parties[p];
            let mut own = vec![id_column];
            if p == label {
                own.push(label_column);
            }
            if let Some(missing) = own.iter().find(|c| !party.columns.iter().any(|x| x == *c)) {
                return Err(Problem {
                    at: Part::Columns(p),
                    reason: format!("party {} does not list column {missing:?}", party.name),
                });
            }
            if party.columns.iter().all(|c| own.contains(&c.as_str())) {
                return Err(Problem {
                    at: Part::Columns(p),
                    reason: format!("party {} lists no feature column", party.name),
                });
            }
        }
        if id_column == label_column {
            return Err(bad_param(
                "label_column",
                "the label column is not the id column".into(),
            ));
        }
        Ok(Self {
            roles,
            id_column: id_column.to_string(),
            label_column: label_column.to_string(),
        })
    }

    /// Where the correlated randomness comes from, for policy: the dealer
    /// by name (`names` in spec order), or the two data parties.
    pub fn correlations(&self, names: &[String]) -> Correlations {
        self.roles.dealer.map_or(Correlations::TwoParty, |d| {
            Correlations::Dealer(names[d].clone())
        })
    }

    /// Whether party `i` holds data (the label holder or a feature holder).
    pub fn is_data(&self, i: usize) -> bool {
        i == self.roles.label || self.roles.features.contains(&i)
    }

    /// Every party of `names` (spec order) with its role, as the learn
    /// crate's job descriptions list them.
    pub fn job_parties(&self, names: &[String]) -> Vec<JobParty> {
        names
            .iter()
            .enumerate()
            .map(|(i, name)| JobParty {
                name: name.clone(),
                role: if i == self.roles.label {
                    PartyRole::Label
                } else if Some(i) == self.roles.dealer {
                    PartyRole::Dealer
                } else {
                    PartyRole::Feature
                },
            })
            .collect()
    }
}

/// Refuses an output to the dealer of a vertical job (if it has one).
pub(super) fn nothing_to_dealer(spec: &JobSpec, dealer: Option<usize>) -> Result<(), Problem> {
    let Some(dealer) = dealer else {
        return Ok(());
    };
    let dealer_name = &spec.parties[dealer].name;
    match spec.outputs.iter().position(|o| &o.receiver == dealer_name) {
        Some(i) => Err(Problem {
            at: Part::Receiver(i),
            reason: format!(
                "{dealer_name} is the dealer, which receives no output: drop output {:?} to it",
                spec.outputs[i].name
            ),
        }),
        None => Ok(()),
    }
}

/// The largest row count a parameter may name.
const MAX_ROWS: i64 = 1 << 32;

/// Parameters `min_rows` (default [`super::train::DEFAULT_MIN_ROWS`]) and
/// `min_group_size`: the fewest shared rows is the larger.
pub(super) fn min_rows(params: &Params<'_>) -> Result<usize, Problem> {
    Ok(params
        .count("min_rows", 1..=MAX_ROWS)?
        .unwrap_or(super::train::DEFAULT_MIN_ROWS)
        .max(params.count("min_group_size", 0..=MAX_ROWS)?.unwrap_or(0)))
}

/// Parameter `categorical`: columns of data parties read as categories
/// even if they hold numbers; each must be listed by a data party.
pub(super) fn categorical(
    spec: &JobSpec,
    params: &Params<'_>,
    vertical: &VerticalParties,
) -> Result<Vec<String>, Problem> {
    let listed = params
        .list("categorical", crate::jobspec::MAX_COLUMNS)?
        .unwrap_or_default();
    for c in &listed {
        let known = spec
            .parties
            .iter()
            .enumerate()
            .any(|(i, p)| vertical.is_data(i) && p.columns.iter().any(|x| x == c));
        if !known {
            return Err(super::params::bad_param(
                "categorical",
                format!(
                    "parameter categorical: no data party lists column {:?}",
                    crate::bounds::printable(c, 64)
                ),
            ));
        }
    }
    Ok(listed.into_iter().map(String::from).collect())
}
