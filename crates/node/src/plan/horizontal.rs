//! The plan of a horizontal training job (`train` with `mode =
//! "horizontal"`): FedAvg over secure aggregation
//! ([`indomain_learn::horizontal_job`]) between a server (a party that
//! names no dataset) and 2 to [`MAX_CLIENTS`] clients, each with rows of
//! the same columns. Every client lists the same columns in the same
//! order: the `label_column`, optionally the `id_column` (left out of the
//! features), and the features.
//!
//! Parameters: `mode = "horizontal"`, `server`, `label_column`
//! (required); `id_column`, `task` (`logistic` or `linear`), `rounds` (1
//! to [`MAX_ROUNDS`], default 10), `epochs` (local epochs a round, 1 to
//! [`super::train::MAX_EPOCHS`], default 20), `learning_rate` (default
//! 0.5), `l2`, `batch_size`, `frac_bits`, `max_abs`, `seed`,
//! `test_fraction`, `min_rows` and `min_group_size` (the fewest training
//! rows at each client is the larger, default
//! [`super::train::DEFAULT_MIN_ROWS`]).
//!
//! Differential privacy (issue #22): `dp_epsilon` (> 0, finite) trains
//! with distributed DP ([`indomain_learn::fed_dp`]): each client clips its
//! update to L2 norm `clip_norm` (required with it) and adds its share of
//! the noise before SecAgg; `dp_delta` (in (0, 1), default
//! [`indomain_aggregate::dp::DEFAULT_DELTA`]) and `dp_coalition` (clients
//! that might pool their noise with the server, default 0). The whole
//! calibration runs here, so a job whose noise does not fit is refused
//! before any party accepts; the plan's ρ is what each client's DP budget
//! is charged. For policy (`max_epochs`), a job's epochs are its rounds ×
//! its local epochs.
//!
//! What each party learns: the server the global model after every round
//! (with DP, a differentially private sum of clipped updates a round) and
//! which clients dropped; every client the global model after every round.
//! So the job declares `model` for every party; `metrics` (a client's
//! evaluation of the final model on its own held-out rows) may be declared
//! for a client, to itself only. No party receives another client's rows,
//! update or row count.

use super::params::{Params, bad, bad_param};
use super::train::{DEFAULT_MIN_ROWS, DEFAULT_TEST_FRACTION, MAX_EPOCHS};
use super::{LeakProfile, set};
use crate::jobspec::{JobSpec, Part, Problem};
use indomain_learn::fed_dp::FedDp;
use indomain_learn::horizontal::FedAvgParams;
use indomain_learn::horizontal_job::HorizontalJob;
use indomain_learn::model::{HorizontalSpec, JobParty, JobSpec as LearnSpec, PartyRole};
use indomain_learn::{Task, TrainParams};
use std::collections::BTreeSet;

/// The most clients of a horizontal job under the node (the node links
/// every pair of a job's parties).
pub const MAX_CLIENTS: usize = 16;

/// The most rounds a horizontal job may ask for.
pub const MAX_ROUNDS: usize = 10_000;

/// The largest row count a parameter may name.
const MAX_ROWS: i64 = 1 << 32;

/// The parameters a horizontal training job takes.
const PARAMETERS: &[&str] = &[
    "mode",
    "server",
    "label_column",
    "id_column",
    "task",
    "rounds",
    "epochs",
    "learning_rate",
    "l2",
    "batch_size",
    "frac_bits",
    "max_abs",
    "seed",
    "test_fraction",
    "min_rows",
    "min_group_size",
    "dp_epsilon",
    "dp_delta",
    "clip_norm",
    "dp_coalition",
];

/// A horizontal training job's plan.
#[derive(Debug, Clone, PartialEq)]
pub struct HorizontalPlan {
    /// The server's index in the spec's parties.
    pub server: usize,
    /// The label column every client lists.
    pub label_column: String,
    /// The id column, left out of the features, if the job names one.
    pub id_column: Option<String>,
    /// The feature columns, in every client's order.
    pub features: Vec<String>,
    /// The FedAvg parameters, DP included, checked by the protocol.
    pub fedavg: FedAvgParams,
    /// Share of each client's rows held out for its evaluation.
    pub test_fraction: f64,
    /// The fewest training rows at each client.
    pub min_rows: usize,
    /// With DP: the zCDP ρ the whole training spends.
    pub dp_rho: Option<f64>,
    /// The clients that receive their own `metrics`.
    pub metrics: Vec<usize>,
    /// The parties' names, in spec order.
    parties: Vec<String>,
}

impl HorizontalPlan {
    pub(super) fn build(spec: &JobSpec) -> Result<Self, Problem> {
        let params = Params::new(spec, PARAMETERS)?;
        let server = params.party("server")?.ok_or_else(|| {
            bad("a horizontal training job names its server (parameter server)".into())
        })?;
        let clients = spec.parties.len() - 1;
        if !(2..=MAX_CLIENTS).contains(&clients) {
            return Err(bad(format!(
                "horizontal training takes a server and 2 to {MAX_CLIENTS} clients, not {clients}"
            )));
        }
        let label_column = params.required_text("label_column", "the clients' label column")?;
        let id_column = params.text("id_column")?;
        if id_column == Some(label_column) {
            return Err(bad_param(
                "id_column",
                "the id column is not the label column".into(),
            ));
        }
        let first = (0..spec.parties.len())
            .find(|&p| p != server)
            .unwrap_or_default();
        let columns = &spec.parties[first].columns;
        for (p, party) in spec.parties.iter().enumerate() {
            if p == server {
                continue;
            }
            let own = std::iter::once(label_column).chain(id_column);
            if let Some(missing) = own
                .into_iter()
                .find(|c| !party.columns.iter().any(|x| x == c))
            {
                return Err(Problem {
                    at: Part::Columns(p),
                    reason: format!("party {} does not list column {missing:?}", party.name),
                });
            }
            if &party.columns != columns {
                return Err(Problem {
                    at: Part::Columns(p),
                    reason: format!(
                        "party {} lists other columns than {}: every client lists the same columns in the same order",
                        party.name, spec.parties[first].name
                    ),
                });
            }
        }
        let features: Vec<String> = columns
            .iter()
            .filter(|c| c.as_str() != label_column && Some(c.as_str()) != id_column)
            .cloned()
            .collect();
        if features.is_empty() {
            return Err(Problem {
                at: Part::Columns(first),
                reason: "the clients list no feature column".into(),
            });
        }
        let task = match params.choice("task", &["logistic", "linear"])? {
            Some("linear") => Task::Linear,
            _ => Task::Logistic,
        };
        let frac_bits = params
            .int("frac_bits", 0..=64)?
            .map_or(TrainParams::default().frac_bits, |f| f as u32);
        let local = TrainParams {
            task,
            l2: params
                .number("l2", |l| l >= 0.0, "must be 0 or more")?
                .unwrap_or(0.0),
            batch_size: params.count("batch_size", 1..=MAX_ROWS)?,
            frac_bits,
            seed: params.int("seed", 0..=i64::MAX)?.map_or(0, |s| s as u64),
            ..TrainParams::gradient_descent(
                params.count("epochs", 1..=MAX_EPOCHS as i64)?.unwrap_or(20),
                params
                    .number("learning_rate", |r| r > 0.0, "must be above 0")?
                    .unwrap_or(0.5),
            )
        };
        let rounds = params.count("rounds", 1..=MAX_ROUNDS as i64)?.unwrap_or(10);
        let dp = dp_params(&params)?;
        let fedavg = FedAvgParams {
            clients,
            features: features.len(),
            rounds,
            local,
            frac_bits,
            max_abs: params
                .number("max_abs", |x| x > 0.0, "must be above 0")?
                .unwrap_or(1e9),
            dp,
        };
        fedavg.validate().map_err(|e| bad(e.to_string()))?;
        let dp_rho = match &fedavg.dp {
            Some(dp) => Some(
                dp.calibrate(&fedavg)
                    .map_err(|e| bad(format!("differential privacy: {e}")))?
                    .rho,
            ),
            None => None,
        };
        let test_fraction = params
            .number(
                "test_fraction",
                |f| f > 0.0 && f < 1.0,
                "must be between 0 and 1",
            )?
            .unwrap_or(DEFAULT_TEST_FRACTION);
        let min_rows = params
            .count("min_rows", 1..=MAX_ROWS)?
            .unwrap_or(DEFAULT_MIN_ROWS)
            .max(params.count("min_group_size", 0..=MAX_ROWS)?.unwrap_or(0));
        let metrics = spec.receivers("metrics");
        if metrics.contains(&server) {
            return Err(bad(format!(
                "{} is the server: it holds no rows to evaluate on, drop output \"metrics\" to it",
                spec.parties[server].name
            )));
        }
        Ok(Self {
            server,
            label_column: label_column.to_string(),
            id_column: id_column.map(str::to_string),
            features,
            fedavg,
            test_fraction,
            min_rows,
            dp_rho,
            metrics,
            parties: spec.parties.iter().map(|p| p.name.clone()).collect(),
        })
    }

    /// The job as [`indomain_learn::horizontal_job::run_horizontal`] takes it.
    pub fn horizontal_job(&self) -> HorizontalJob {
        HorizontalJob {
            spec: LearnSpec {
                mode: "horizontal".into(),
                parties: self
                    .parties
                    .iter()
                    .enumerate()
                    .map(|(i, name)| JobParty {
                        name: name.clone(),
                        role: if i == self.server {
                            PartyRole::Server
                        } else {
                            PartyRole::Client
                        },
                    })
                    .collect(),
                id_column: self.id_column.clone().unwrap_or_default(),
                test_fraction: self.test_fraction,
                params: self.fedavg.local.clone(),
                horizontal: Some(HorizontalSpec {
                    columns: self.features.clone(),
                    rounds: self.fedavg.rounds,
                    max_abs: self.fedavg.max_abs,
                    dp: self.fedavg.dp,
                }),
                nonce: String::new(),
            },
            server: self.server,
            fedavg: self.fedavg.clone(),
            min_rows: self.min_rows,
        }
    }

    pub(super) fn receives(&self) -> Vec<BTreeSet<&'static str>> {
        (0..self.parties.len())
            .map(|i| match self.metrics.contains(&i) {
                true => set(&["model", "metrics"]),
                false => set(&["model"]),
            })
            .collect()
    }

    pub(super) fn leaks(&self) -> LeakProfile {
        LeakProfile {
            epochs: self.fedavg.rounds.saturating_mul(self.fedavg.local.epochs),
            dp_rho: self.dp_rho,
            ..LeakProfile::plain()
        }
    }
}

/// The job's DP parameters: `None` without `dp_epsilon`, whose companions
/// are refused without it.
fn dp_params(params: &Params<'_>) -> Result<Option<FedDp>, Problem> {
    let clip_norm = |epsilon| {
        params
            .number("clip_norm", |c| c > 0.0, "give a finite number above 0")?
            .ok_or_else(|| {
                bad(format!(
                    "dp_epsilon = {epsilon} needs parameter clip_norm: the L2 norm each client's update is clipped to, which sets how much one client can change a round"
                ))
            })
    };
    let Some(dp) = super::params::dp_params(params, "clip_norm", MAX_CLIENTS, clip_norm)? else {
        return Ok(None);
    };
    let dp = FedDp {
        epsilon: dp.epsilon,
        delta: dp.delta,
        clip_norm: dp.clip,
        coalition: dp.coalition.unwrap_or(0),
    };
    dp.check()
        .map_err(|e| bad(format!("differential privacy: {e}")))?;
    Ok(Some(dp))
}

#[cfg(test)]
mod tests;
