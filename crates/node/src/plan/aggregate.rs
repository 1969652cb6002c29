//! The plan of a statistics job (`aggregate`): every data party lists its
//! numeric columns (the same number at each; the result is labelled with
//! the first one's names) and, with grouping, the `group_by` column.
//!
//! Parameters: `statistic` (`count`, `sum`, `mean`, `variance` or
//! `histogram`), `min_group_size` (required, at least
//! [`MIN_GROUP_SIZE_FLOOR`]), optionally `group_by` with `categories`
//! (comma-separated), `bins` (comma-separated edges, for a histogram),
//! `frac_bits`, `max_abs`; and how suppression is decided: `dealer`
//! naming a party without data (secure comparison, no count opened) or
//! `open_counts_to_decider = true`. Groups × cells stay within
//! [`MAX_CELLS`], whatever the categories and bins.
//!
//! What each party learns: the receivers of `statistics` the released
//! groups' statistics (the statistics protocol sends to them only); every
//! data party which groups were released; without a dealer the first
//! receiver (the decider) every group's count and the other receivers the
//! candidates'; the dealer the number of groups and cells.

use super::params::{Params, bad, bad_param};
use super::{Correlations, LeakProfile};
use crate::jobspec::{JobSpec, Part, Problem};
use indomain_aggregate::stats::job::{
    DEFAULT_FRAC_BITS, DEFAULT_MAX_ABS, MAX_FRAC_BITS, MIN_GROUP_SIZE_FLOOR,
};
use indomain_aggregate::stats::{CountDecision, MAX_CELLS, Statistic, StatsJob};
use std::collections::BTreeSet;

/// The parameters a statistics job takes.
const PARAMETERS: &[&str] = &[
    "statistic",
    "group_by",
    "categories",
    "bins",
    "min_group_size",
    "frac_bits",
    "max_abs",
    "dealer",
    "open_counts_to_decider",
];

/// A statistics job's plan.
#[derive(Debug, Clone, PartialEq)]
pub struct AggregatePlan {
    /// The protocol's job, checked for the job's parties.
    pub job: StatsJob,
    /// The group-by column, listed by every data party.
    pub group_by: Option<String>,
    /// How suppression is decided (the dealer by its place in the spec).
    pub decision: CountDecision,
    /// The parties' names, in spec order.
    parties: Vec<String>,
}

impl AggregatePlan {
    pub(super) fn build(spec: &JobSpec) -> Result<Self, Problem> {
        let params = Params::new(spec, PARAMETERS)?;
        let decision = decision(spec, &params)?;
        let statistic = match params.choice(
            "statistic",
            &["count", "sum", "mean", "variance", "histogram"],
        )? {
            Some("count") => Statistic::Count,
            Some("sum") => Statistic::Sum,
            Some("mean") => Statistic::Mean,
            Some("variance") => Statistic::Variance,
            Some(_) => {
                let edges = params
                    .list("bins", MAX_CELLS)?
                    .ok_or_else(|| {
                        bad("a histogram needs the parameter bins = \"E0,E1,...\"".into())
                    })?
                    .iter()
                    .map(|e| e.parse::<f64>())
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| bad_param("bins", format!("parameter bins: {e}")))?;
                Statistic::Histogram { edges }
            }
            None => return Err(bad("the job sets no parameter statistic".into())),
        };
        if params.text("bins")?.is_some() && !matches!(statistic, Statistic::Histogram { .. }) {
            return Err(bad_param(
                "bins",
                "parameter bins: only a histogram takes bin edges".into(),
            ));
        }
        let group_by = params.text("group_by")?.map(str::to_string);
        let categories = params
            .list("categories", MAX_CELLS)?
            .map(|c| c.into_iter().map(str::to_string).collect::<Vec<_>>());
        if group_by.is_some() != categories.is_some() {
            return Err(bad(
                "grouping needs both parameters group_by and categories".into(),
            ));
        }
        let numeric = |columns: &[String]| -> Vec<String> {
            columns
                .iter()
                .filter(|c| Some(*c) != group_by.as_ref())
                .cloned()
                .collect()
        };
        // The dealer lists no columns; the result is labelled with the
        // first data party's names.
        let mut data = spec
            .parties
            .iter()
            .enumerate()
            .filter(|(_, p)| !spec.is_dealer(&p.name));
        let (_, head) = data
            .next()
            .ok_or_else(|| bad("the job has no data party".into()))?;
        let first = numeric(&head.columns);
        for (i, p) in std::iter::once((0, head)).chain(data) {
            if let Some(g) = &group_by
                && !p.columns.contains(g)
            {
                return Err(Problem {
                    at: Part::Columns(i),
                    reason: format!("party {} does not list the group_by column {g:?}", p.name),
                });
            }
            if statistic != Statistic::Count && numeric(&p.columns).len() != first.len() {
                return Err(Problem {
                    at: Part::Columns(i),
                    reason: format!(
                        "party {} lists {} numeric columns, {} lists {}: every party gives the same number",
                        p.name,
                        numeric(&p.columns).len(),
                        head.name,
                        first.len()
                    ),
                });
            }
        }
        let min_group_size = params
            .int("min_group_size", MIN_GROUP_SIZE_FLOOR as i64..=1 << 40)?
            .ok_or_else(|| bad("the job sets no parameter min_group_size".into()))?;
        let frac_bits = params
            .int("frac_bits", 0..=i64::from(MAX_FRAC_BITS))?
            .map_or(DEFAULT_FRAC_BITS, |f| f as u32);
        let max_abs = params
            .number("max_abs", |x| x > 0.0, "must be positive")?
            .unwrap_or(DEFAULT_MAX_ABS);
        let job = StatsJob {
            columns: if statistic == Statistic::Count {
                Vec::new()
            } else {
                first
            },
            statistic,
            categories,
            receivers: spec.receivers("statistics"),
            min_group_size: min_group_size as u64,
            frac_bits,
            max_abs,
        };
        job.validate(spec.parties.len())
            .map_err(|e| bad(e.to_string()))?;
        Ok(Self {
            job,
            group_by,
            decision,
            parties: spec.parties.iter().map(|p| p.name.clone()).collect(),
        })
    }

    pub(super) fn receives(&self) -> Vec<BTreeSet<&'static str>> {
        (0..self.parties.len())
            .map(|i| match self.job.receivers.contains(&i) {
                true => super::set(&["statistics"]),
                false => super::set(&[]),
            })
            .collect()
    }

    pub(super) fn leaks(&self) -> LeakProfile {
        let (correlations, counts_opened_to) = match self.decision {
            CountDecision::Compared { dealer } => {
                (Correlations::Dealer(self.parties[dealer].clone()), None)
            }
            _ => (
                Correlations::None,
                self.job.receivers.first().map(|&r| self.parties[r].clone()),
            ),
        };
        LeakProfile {
            correlations,
            counts_opened_to,
            categories: self.job.categories.as_ref().map_or(0, Vec::len),
            bins: match &self.job.statistic {
                Statistic::Histogram { .. } => self.job.statistic.per_column(),
                _ => 0,
            },
            ..LeakProfile::plain()
        }
    }
}

/// How suppression is decided: with a dealer (a party of the job that is
/// not a receiver) no party learns a suppressed group's count; without one
/// the job must say that the first receiver may see every group's count.
fn decision(spec: &JobSpec, params: &Params<'_>) -> Result<CountDecision, Problem> {
    let opened = params.flag("open_counts_to_decider")?;
    let Some(dealer) = params.party("dealer")? else {
        if opened == Some(true) {
            return Ok(CountDecision::OpenedToDecider);
        }
        return Err(bad(
            "an aggregate job names a dealer (parameter dealer = \"<party>\", a party of the job that names no dataset) so that suppression is decided without opening any count, or sets open_counts_to_decider = true to let the first receiver of statistics see every group's count".into(),
        ));
    };
    if opened.is_some() {
        return Err(bad(
            "parameters dealer and open_counts_to_decider exclude each other: give one".into(),
        ));
    }
    let name = &spec.parties[dealer].name;
    if let Some(i) = spec.outputs.iter().position(|o| &o.receiver == name) {
        return Err(Problem {
            at: Part::Receiver(i),
            reason: format!(
                "{name:?} is the dealer, which holds no data and learns no statistics: drop output {:?} to it",
                spec.outputs[i].name
            ),
        });
    }
    if spec.parties.len() < 3 {
        return Err(bad(
            "a job with a dealer needs two data parties besides the dealer".into(),
        ));
    }
    Ok(CountDecision::Compared { dealer })
}
