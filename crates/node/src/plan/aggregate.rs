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
//! Differential privacy (issue #22): `dp_epsilon` (> 0, finite) releases
//! the result with noise added inside the secret-shared sums
//! ([`indomain_aggregate::stats::run_statistics_dp`]); with it
//! `dp_delta` (in (0, 1), default [`indomain_aggregate::dp::DEFAULT_DELTA`]), `clip = "LO,HI"`
//! (required for sum, mean and variance, refused for count) and
//! `dp_coalition` (the most data parties whose noise a receiver may know;
//! default all but one). Without a dealer the noisy counts decide
//! suppression ([`CountDecision::NoisyCounts`]; `open_counts_to_decider`
//! is refused: exact counts would bypass the noise). The whole DP check
//! ([`DpCalibration::new`]: bounds within `max_abs`, noise within the
//! ring) runs here, so a bad DP job is refused before any party accepts.
//!
//! What each party learns: the receivers of `statistics` the released
//! groups' statistics (the statistics protocol sends to them only); every
//! data party which groups were released; without a dealer the first
//! receiver (the decider) every group's count and the other receivers the
//! candidates'; the dealer the number of groups and cells.

use super::params::{Params, bad, bad_param};
use super::{Correlations, LeakProfile};
use crate::jobspec::{JobSpec, Part, Problem};
use indomain_aggregate::dp::{Clip, DpSpec};
use indomain_aggregate::stats::job::{
    DEFAULT_FRAC_BITS, DEFAULT_MAX_ABS, MAX_FRAC_BITS, MIN_GROUP_SIZE_FLOOR,
};
use indomain_aggregate::stats::{CountDecision, DpCalibration, MAX_CELLS, Statistic, StatsJob};
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
    "dp_epsilon",
    "dp_delta",
    "clip",
    "dp_coalition",
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
    /// Differential privacy for the release, if the job asks for it.
    pub dp: Option<DpSpec>,
    /// With DP: the zCDP ρ the release spends (at most the spec's).
    pub dp_rho: Option<f64>,
    /// The parties' names, in spec order.
    parties: Vec<String>,
}

impl AggregatePlan {
    pub(super) fn build(spec: &JobSpec) -> Result<Self, Problem> {
        let params = Params::new(spec, PARAMETERS)?;
        let dp = dp_params(&params)?;
        let decision = decision(spec, &params, dp.is_some())?;
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
        let dp_rho = match &dp {
            Some((dp, clip_given)) => {
                check_clip(&job.statistic, dp, *clip_given)?;
                let parties = decision.data_parties(spec.parties.len());
                let calibration = DpCalibration::new(&job, dp, parties)
                    .map_err(|e| bad(format!("differential privacy: {e}")))?;
                Some(calibration.rho())
            }
            None => None,
        };
        Ok(Self {
            job,
            group_by,
            decision,
            dp: dp.map(|(dp, _)| dp),
            dp_rho,
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
            // Noisy counts are covered by the release's DP guarantee.
            CountDecision::NoisyCounts => (Correlations::None, None),
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
            dp_rho: self.dp_rho,
            ..LeakProfile::plain()
        }
    }
}

/// How suppression is decided: with a dealer (a party of the job that is
/// not a receiver) no party learns a suppressed group's count; without one
/// the job must say that the first receiver may see every group's count.
fn decision(spec: &JobSpec, params: &Params<'_>, dp: bool) -> Result<CountDecision, Problem> {
    let opened = params.flag("open_counts_to_decider")?;
    let Some(dealer) = params.party("dealer")? else {
        if dp && opened.is_some() {
            return Err(bad_param(
                "open_counts_to_decider",
                "with dp_epsilon the noisy counts are opened to the first receiver: drop open_counts_to_decider (exact counts would bypass the noise)".into(),
            ));
        }
        if dp {
            return Ok(CountDecision::NoisyCounts);
        }
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

/// The job's DP parameters, each checked on its own: the spec (with the
/// clip bounds, if given) and whether `clip` was given.
fn dp_params(params: &Params<'_>) -> Result<Option<(DpSpec, bool)>, Problem> {
    let Some(dp) = super::params::dp_params(params, "clip", MAX_DP_COALITION, |_| clip(params))?
    else {
        return Ok(None);
    };
    let spec = DpSpec {
        epsilon: dp.epsilon,
        delta: dp.delta,
        clip: dp.clip,
        coalition: dp.coalition,
    };
    Ok(Some((spec, dp.clip.is_some())))
}

/// The most data parties whose noise a receiver may be assumed to know.
const MAX_DP_COALITION: usize = 64;

/// Parameter `clip = "LO,HI"`, if given.
fn clip(params: &Params<'_>) -> Result<Option<Clip>, Problem> {
    Ok(match params.list("clip", 3)? {
        None => None,
        Some(bounds) => {
            let parsed: Vec<f64> = bounds
                .iter()
                .map(|b| b.parse::<f64>())
                .collect::<Result<_, _>>()
                .map_err(|e| bad_param("clip", format!("parameter clip: {e}")))?;
            match parsed.as_slice() {
                [lo, hi] => Some(Clip::new(*lo, *hi).map_err(|_| {
                    bad_param(
                        "clip",
                        format!("parameter clip = \"{lo},{hi}\": give finite bounds LO < HI"),
                    )
                })?),
                _ => {
                    return Err(bad_param(
                        "clip",
                        "parameter clip takes two bounds \"LO,HI\"".into(),
                    ));
                }
            }
        }
    })
}

/// Clip bounds where the statistic sums values, none for a count.
fn check_clip(statistic: &Statistic, dp: &DpSpec, given: bool) -> Result<(), Problem> {
    match (statistic, given) {
        (Statistic::Count, true) => Err(bad_param(
            "clip",
            "a count reads no values: drop parameter clip".into(),
        )),
        (Statistic::Sum | Statistic::Mean | Statistic::Variance, false) => Err(bad(format!(
            "dp_epsilon = {} with a sum, mean or variance needs parameter clip = \"LO,HI\": the bounds every value is clipped to, which set how much one row can change the result",
            dp.epsilon
        ))),
        _ => Ok(()),
    }
}
