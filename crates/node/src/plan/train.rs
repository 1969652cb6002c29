//! The plan of a vertical training job (`train`, `mode = "vertical"` or
//! no `mode`): the label holder, 1 to
//! [`MAX_FEATURE_HOLDERS`](indomain_learn::align::MAX_FEATURE_HOLDERS) feature
//! holders and the dealer (a party that names no dataset) — or, with
//! `correlations = "two-party"`, the label holder and one feature holder
//! alone, generating the correlated randomness between themselves
//! (issue #21; no third party, no `dealer`). Every data party lists the
//! `id_column`; the label holder also the `label_column`; every other
//! column a data party lists is a feature (each lists at least one).
//!
//! Parameters: `label_holder`, `dealer` (unless two-party), `id_column`,
//! `label_column` (required); `correlations` (`dealer`, the default, or
//! `two-party`: refused with more than two parties, as the library
//! refuses them); `task` (`logistic` or `linear`), `epochs` (1 to
//! [`MAX_EPOCHS`]; a cap unless `convergence = false`), `convergence`,
//! `tolerance`, `early_stopping` (a patience in epochs: stop when the
//! validation loss has not improved for that many epochs and keep the best
//! epoch's weights, in place of the convergence test),
//! `validation_fraction` (of the training rows, for either), `optimizer` (`bound-newton` or `gradient-descent`),
//! `learning_rate`, `l2`, `batch_size`, `frac_bits`, `sigmoid` (`fourier`,
//! `linear` or `clamped`), `recalibration` (`none`, `platt` or
//! `isotonic`), `seed`, `test_fraction` (between 0
//! and 1), `min_rows` and `min_group_size` (the fewest shared rows is the
//! larger), `contribution` (the contribution report). This is the only
//! place a node turns them into [`TrainParams`]; the protocol's own checks
//! ([`TrainParams::check`]) run here, before anyone accepts.
//!
//! What each party learns: every data party its own part of the model (the
//! training opens each party's weights to it alone), so the job declares
//! `model` for every data party, and the label holder the training loss per
//! epoch; the receivers of `metrics` the held-out evaluation, the loss per
//! epoch and, with `contribution`, the contribution report — the label
//! holder computes them from the held-out scores, so it is one of them
//! whenever any party is (with one feature holder, those scores give it
//! that holder's partial scores on the held-out rows); with no receiver
//! the held-out rows are not scored. The dealer learns the row count and
//! the job's shape, and receives nothing; with two-party correlations
//! each data party also receives the other's messages of the correlation
//! generation, which are uniformly masked (`docs/protocols.md`). The plan's
//! [`LeakProfile::correlations`] names the choice for policy (`dealers`,
//! with [`TWO_PARTY`](crate::policy::leak::TWO_PARTY)) and the audit record
//! carries the parameter.

use super::params::{Params, bad, bad_param};
use super::vertical::VerticalParties;
use super::{Correlations, LeakProfile, set};
use crate::jobspec::{JobSpec, Part, Problem};
use indomain_learn::align::Roles;
use indomain_learn::calibration::Method;
use indomain_learn::model::{JobParty, JobSpec as LearnSpec, PartyRole};
use indomain_learn::pipeline::{Releases, VerticalJob};
use indomain_learn::{Convergence, EarlyStopping, Optimizer, Sigmoid, Task, TrainParams};
use std::collections::BTreeSet;

/// The most epochs a training job may ask for.
pub const MAX_EPOCHS: usize = 100_000;

/// The fewest shared rows a training job accepts unless it says otherwise.
pub const DEFAULT_MIN_ROWS: usize = 20;

/// The default share of the shared rows held out for evaluation.
pub const DEFAULT_TEST_FRACTION: f64 = 0.25;

/// The largest row count a parameter may name.
const MAX_ROWS: i64 = 1 << 32;

/// The parameters a training job takes.
const PARAMETERS: &[&str] = &[
    "mode",
    "algorithm",
    "label_holder",
    "dealer",
    "correlations",
    "id_column",
    "label_column",
    "task",
    "epochs",
    "learning_rate",
    "l2",
    "batch_size",
    "frac_bits",
    "sigmoid",
    "optimizer",
    "convergence",
    "tolerance",
    "early_stopping",
    "validation_fraction",
    "recalibration",
    "seed",
    "test_fraction",
    "min_rows",
    "min_group_size",
    "contribution",
];

/// A training job's plan.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainPlan {
    /// Who does what, by party index.
    pub roles: Roles,
    /// The column the rows are aligned on.
    pub id_column: String,
    /// The label holder's label column.
    pub label_column: String,
    /// The hyper-parameters every party agrees on.
    pub params: TrainParams,
    /// Share of the shared rows held out for evaluation.
    pub test_fraction: f64,
    /// The fewest shared rows.
    pub min_rows: usize,
    /// Whether to make the contribution report.
    pub contribution: bool,
    /// Who receives the metrics (and the report).
    pub releases: Releases,
    /// The parties' names, in spec order.
    parties: Vec<String>,
}

impl TrainPlan {
    pub(super) fn build(spec: &JobSpec) -> Result<Self, Problem> {
        let params = Params::new(spec, PARAMETERS)?;
        params.choice("mode", &["vertical", "horizontal"])?;
        // The parties, roles and columns as every vertical job reads them
        // (with `correlations = "two-party"` no dealer).
        let VerticalParties {
            roles,
            id_column,
            label_column,
        } = VerticalParties::build(spec, &params, "a training job")?;
        let train = train_params(&params)?;
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
        let contribution = params.flag("contribution")?.unwrap_or(false);
        let releases = releases(spec, &roles)?;
        if contribution && releases.metrics.is_empty() {
            return Err(bad_param(
                "contribution",
                "the contribution report goes with the metrics: declare output \"metrics\" for the label holder".into(),
            ));
        }
        Ok(Self {
            roles,
            id_column,
            label_column,
            params: train,
            test_fraction,
            min_rows,
            contribution,
            releases,
            parties: spec.parties.iter().map(|p| p.name.clone()).collect(),
        })
    }

    /// The job as [`indomain_learn::pipeline::run_with`] takes it (with
    /// [`TrainPlan::releases`]): the parties and roles in spec order, the
    /// parameters, the fewest rows and the report.
    pub fn vertical_job(&self) -> VerticalJob {
        let role = |i: usize| {
            if i == self.roles.label {
                PartyRole::Label
            } else if Some(i) == self.roles.dealer {
                PartyRole::Dealer
            } else {
                PartyRole::Feature
            }
        };
        VerticalJob {
            spec: LearnSpec {
                mode: "vertical".into(),
                parties: self
                    .parties
                    .iter()
                    .enumerate()
                    .map(|(i, name)| JobParty {
                        name: name.clone(),
                        role: role(i),
                    })
                    .collect(),
                id_column: self.id_column.clone(),
                test_fraction: self.test_fraction,
                params: self.params.clone(),
                horizontal: None,
                nonce: String::new(),
            },
            roles: self.roles.clone(),
            min_rows: self.min_rows,
            contribution: self.contribution,
        }
    }

    pub(super) fn receives(&self) -> Vec<BTreeSet<&'static str>> {
        (0..self.parties.len())
            .map(|i| {
                if Some(i) == self.roles.dealer {
                    set(&[])
                } else if self.releases.metrics.contains(&i) {
                    set(&["model", "metrics"])
                } else {
                    set(&["model"])
                }
            })
            .collect()
    }

    pub(super) fn leaks(&self) -> LeakProfile {
        let dealer = self.roles.dealer.map(|d| self.parties[d].clone());
        LeakProfile {
            correlations: dealer.map_or(Correlations::TwoParty, Correlations::Dealer),
            contribution: self.contribution,
            epochs: self.params.epochs,
            ..LeakProfile::plain()
        }
    }
}

/// The hyper-parameters, with the CLI's defaults, checked as the protocol
/// checks them.
fn train_params(params: &Params<'_>) -> Result<TrainParams, Problem> {
    let defaults = TrainParams::default();
    let task = match params.choice("task", &["logistic", "linear"])? {
        Some("linear") => Task::Linear,
        _ => Task::Logistic,
    };
    let sigmoid = match params.choice("sigmoid", &["fourier", "linear", "clamped"])? {
        Some("fourier") => Sigmoid::Fourier,
        Some("linear") => Sigmoid::Linear,
        Some("clamped") => Sigmoid::Clamped,
        _ => defaults.sigmoid,
    };
    let optimizer = match params.choice("optimizer", &["bound-newton", "gradient-descent"])? {
        Some("bound-newton") => Optimizer::DEFAULT,
        Some("gradient-descent") => Optimizer::GradientDescent,
        _ => defaults.optimizer,
    };
    let validation_fraction = params
        .number(
            "validation_fraction",
            |f| f > 0.0 && f < 1.0,
            "must be between 0 and 1",
        )?
        .unwrap_or(Convergence::default().validation_fraction);
    // Early stopping, when asked for, takes the place of the convergence
    // test (as `indomain train --early-stopping` does).
    let early_stopping = params
        .count("early_stopping", 1..=MAX_EPOCHS as i64)?
        .map(|patience| EarlyStopping {
            validation_fraction,
            patience,
        });
    // The convergence test is on unless the job asks for a fixed number of
    // epochs (convergence = false) or early stopping.
    let convergence = match params.flag("convergence")? {
        Some(false) => None,
        Some(true) if early_stopping.is_some() => {
            return Err(bad_param(
                "early_stopping",
                "parameters early_stopping and convergence = true exclude each other: give one"
                    .into(),
            ));
        }
        _ if early_stopping.is_some() => None,
        _ => Some(Convergence {
            tolerance: params
                .number("tolerance", |t| t > 0.0, "must be positive")?
                .unwrap_or(Convergence::default().tolerance),
            validation_fraction,
            ..Convergence::default()
        }),
    };
    let recalibration = match params.choice("recalibration", &["none", "platt", "isotonic"])? {
        Some("platt") => Some(Method::Platt),
        Some("isotonic") => Some(Method::Isotonic),
        _ => None,
    };
    let finite = |_: f64| true;
    let train = TrainParams {
        task,
        epochs: params
            .count("epochs", 1..=MAX_EPOCHS as i64)?
            .unwrap_or(defaults.epochs),
        learning_rate: params
            .number("learning_rate", finite, "must be a number")?
            .unwrap_or(defaults.learning_rate),
        l2: params
            .number("l2", finite, "must be a number")?
            .unwrap_or(defaults.l2),
        batch_size: params.count("batch_size", 1..=MAX_ROWS)?,
        early_stopping,
        frac_bits: params
            .int("frac_bits", 0..=64)?
            .map_or(defaults.frac_bits, |f| f as u32),
        seed: params.int("seed", 0..=i64::MAX)?.map_or(0, |s| s as u64),
        sigmoid,
        optimizer,
        convergence,
        recalibration,
    };
    // The protocol's own checks, one parameter at a time so that a refusal
    // names it, then together.
    let alone = |name: &str, p: TrainParams| {
        p.check()
            .map_err(|e| bad_param(name, format!("parameter {name}: {e}")))
    };
    alone(
        "learning_rate",
        TrainParams {
            learning_rate: train.learning_rate,
            ..defaults.clone()
        },
    )?;
    alone(
        "l2",
        TrainParams {
            l2: train.l2,
            ..defaults.clone()
        },
    )?;
    alone(
        "frac_bits",
        TrainParams {
            frac_bits: train.frac_bits,
            ..defaults.clone()
        },
    )?;
    train.check().map_err(|e| bad(e.to_string()))?;
    Ok(train)
}

/// Who receives the metrics: the declared receivers of `metrics`, which
/// must include the label holder when there are any; `model` goes to every
/// data party and nothing to the dealer.
fn releases(spec: &JobSpec, roles: &Roles) -> Result<Releases, Problem> {
    let label = &spec.parties[roles.label].name;
    let dealer_name = roles.dealer.map(|d| spec.parties[d].name.as_str());
    if let Some(dealer_name) = dealer_name
        && let Some(i) = spec.outputs.iter().position(|o| o.receiver == dealer_name)
    {
        return Err(Problem {
            at: Part::Receiver(i),
            reason: format!(
                "{dealer_name} is the dealer and learns no model and no metrics: drop output {:?} to it",
                spec.outputs[i].name
            ),
        });
    }
    for &p in std::iter::once(&roles.label).chain(&roles.features) {
        let name = &spec.parties[p].name;
        if !spec
            .outputs
            .iter()
            .any(|o| o.name == "model" && &o.receiver == name)
        {
            return Err(bad(format!(
                "training opens each data party's weights to it: declare output \"model\" for {name}"
            )));
        }
    }
    let metrics = spec.receivers("metrics");
    if !metrics.is_empty() && !metrics.contains(&roles.label) {
        return Err(bad(format!(
            "the label holder ({label}) computes the metrics from the held-out scores, so it learns them: declare output \"metrics\" for {label} too"
        )));
    }
    let releases = Releases { metrics };
    releases
        .check(roles, false)
        .map_err(|e| bad(e.to_string()))?;
    Ok(releases)
}

/// What a training job trains (parameter `algorithm`): linear or logistic
/// regression (`linear`, the default), gradient-boosted trees (`gbdt`,
/// `super::trees`) or a WOE scorecard (`scorecard`, `super::scorecard`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// Vertical linear or logistic regression.
    Linear,
    /// Gradient-boosted trees.
    Trees,
    /// A scorecard on a binning job's WOE.
    Scorecard,
}

/// The algorithm a training spec asks for.
pub(super) fn algorithm(spec: &JobSpec) -> Result<Algorithm, Problem> {
    // Read before the algorithm's own parameter list is known.
    let params = Params::unchecked(spec);
    Ok(
        match params.choice("algorithm", &["linear", "gbdt", "scorecard"])? {
            Some("gbdt") => Algorithm::Trees,
            Some("scorecard") => Algorithm::Scorecard,
            _ => Algorithm::Linear,
        },
    )
}
