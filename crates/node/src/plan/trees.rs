//! The plan of a gradient-boosted tree job (`train` with `algorithm =
//! "gbdt"`): the label holder, 1 to 4 feature holders and the dealer, as
//! for linear training ([`super::vertical`]) — or, with `correlations =
//! "two-party"`, the label holder and one feature holder alone; each data party's listed
//! columns besides the id (and label) are its features — a text column is
//! categorical, an empty text cell a missing value.
//!
//! Parameters, with `indomain train --algorithm gbdt`'s defaults and the
//! learn crate's bounds ([`GbdtParams::check`]): `label_holder`, `dealer`
//! (unless two-party), `id_column`, `label_column` (required);
//! `correlations` (`dealer`, the default, or `two-party`); `task` (`logistic` or
//! `linear`, the squared loss), `trees` (1 to [`MAX_TREES`], default 100),
//! `max_depth` (1 to [`MAX_DEPTH`], default 6), `learning_rate` (in (0,
//! 1], 0.3), `min_child_weight` (0 to 10^6, 1), `lambda` (1/64 to 10^4,
//! 1), `gamma` (0 to 10^6, 0), `subsample` (in (0, 1], 1), `bins` (2 to
//! 1024, 32), `early_stopping` (patience in trees; with
//! `validation_fraction`, default 0.2), `frac_bits` (12 to 20, 16),
//! `seed`, `test_fraction` (between 0 and 1, 0.25), `categorical` (columns
//! read as categories even if they hold numbers), `min_rows` and
//! `min_group_size` (the fewest shared rows is the larger, default 20),
//! `contribution` (false), `leak_instance_space` (false).
//!
//! What each party learns (docs/protocols.md, "Vertical gradient-boosted
//! trees"): every data party the tree structure (which party splits each
//! node, on which of its bins) and its own thresholds and gains, so its
//! `model`; the label holder also the leaf weights and the held-out scores,
//! from which it computes the held-out evaluation, the validation loss per
//! tree and, with `contribution`, the contribution report, which it sends
//! every feature holder: every data party receives `metrics` (they are in
//! its model file too), so the job declares `model` and `metrics` for
//! every data party. By default the instance space stays hidden (no party
//! learns which rows reach which node); with `leak_instance_space = true`
//! (SecureBoost's leakage, `indomain train --leak-instance-space`) every
//! data party learns the rows of every tree node, and the dealer (if any)
//! the node sizes: [`LeakProfile::instance_space`] records it, and a node
//! takes part only under a rule with `leak_instance_space = true`. The
//! dealer learns the row count and the shapes, and receives nothing; with
//! two-party correlations each data party also receives the other's
//! uniformly masked generation messages, and [`LeakProfile::correlations`]
//! names the choice for policy (`dealers`).

use super::params::{Params, bad};
use super::vertical::{VerticalParties, nothing_to_dealer};
use super::{LeakProfile, set};
use crate::jobspec::{JobSpec, Problem};
use indomain_learn::tree::model::TreeJobSpec;
use indomain_learn::tree::params::{MAX_DEPTH, MAX_TREES};
use indomain_learn::tree::pipeline::TreeJob;
use indomain_learn::tree::{GbdtParams, InstanceSpace, Loss, TreeEarlyStopping};
use std::collections::BTreeSet;

/// The default share of the training rows held out for early stopping.
pub const DEFAULT_VALIDATION_FRACTION: f64 = 0.2;

/// The parameters a tree job takes.
const PARAMETERS: &[&str] = &[
    "algorithm",
    "label_holder",
    "dealer",
    "correlations",
    "id_column",
    "label_column",
    "task",
    "trees",
    "max_depth",
    "learning_rate",
    "min_child_weight",
    "lambda",
    "gamma",
    "subsample",
    "bins",
    "early_stopping",
    "validation_fraction",
    "frac_bits",
    "seed",
    "test_fraction",
    "categorical",
    "min_rows",
    "min_group_size",
    "contribution",
    "leak_instance_space",
];

/// A tree job's plan.
#[derive(Debug, Clone, PartialEq)]
pub struct TreePlan {
    /// The parties and their columns.
    pub vertical: VerticalParties,
    /// The hyper-parameters every party agrees on.
    pub params: GbdtParams,
    /// Share of the shared rows held out for evaluation.
    pub test_fraction: f64,
    /// Columns read as categories.
    pub categorical: Vec<String>,
    /// The fewest shared rows.
    pub min_rows: usize,
    /// Whether to make the contribution report.
    pub contribution: bool,
    /// The parties' names, in spec order.
    parties: Vec<String>,
}

impl TreePlan {
    pub(super) fn build(spec: &JobSpec) -> Result<Self, Problem> {
        let params = Params::new(spec, PARAMETERS)?;
        let vertical = VerticalParties::build(spec, &params, "a tree job")?;
        let gbdt = gbdt_params(&params)?;
        let test_fraction = params
            .number(
                "test_fraction",
                |f| f > 0.0 && f < 1.0,
                "must be between 0 and 1",
            )?
            .unwrap_or(super::train::DEFAULT_TEST_FRACTION);
        let min_rows = super::vertical::min_rows(&params)?;
        let categorical = super::vertical::categorical(spec, &params, &vertical)?;
        nothing_to_dealer(spec, vertical.roles.dealer)?;
        Ok(Self {
            vertical,
            params: gbdt,
            test_fraction,
            categorical,
            min_rows,
            contribution: params.flag("contribution")?.unwrap_or(false),
            parties: spec.parties.iter().map(|p| p.name.clone()).collect(),
        })
    }

    /// The job as [`indomain_learn::tree::pipeline::run`] takes it.
    pub fn tree_job(&self) -> TreeJob {
        TreeJob {
            spec: TreeJobSpec {
                parties: self.vertical.job_parties(&self.parties),
                id_column: self.vertical.id_column.clone(),
                test_fraction: self.test_fraction,
                params: self.params.clone(),
                categorical: self.categorical.clone(),
                contribution: self.contribution,
                nonce: String::new(),
            },
            roles: self.vertical.roles.clone(),
            min_rows: self.min_rows,
        }
    }

    pub(super) fn receives(&self) -> Vec<BTreeSet<&'static str>> {
        (0..self.parties.len())
            .map(|i| match self.vertical.is_data(i) {
                true => set(&["model", "metrics"]),
                false => set(&[]),
            })
            .collect()
    }

    pub(super) fn leaks(&self) -> LeakProfile {
        LeakProfile {
            correlations: self.vertical.correlations(&self.parties),
            contribution: self.contribution,
            bins: self.params.bins,
            instance_space: self.params.instance_space == InstanceSpace::Leaked,
            ..LeakProfile::plain()
        }
    }
}

/// The tree parameters with the CLI's defaults, each bounded as
/// [`GbdtParams::check`] bounds it, a refusal naming the parameter.
fn gbdt_params(params: &Params<'_>) -> Result<GbdtParams, Problem> {
    let d = GbdtParams::default();
    let loss = match params.choice("task", &["logistic", "linear"])? {
        Some("linear") => Loss::Squared,
        _ => Loss::Logistic,
    };
    let number = |name: &str, ok: fn(f64) -> bool, rule: &str, default: f64| {
        Ok::<f64, Problem>(params.number(name, ok, rule)?.unwrap_or(default))
    };
    let early_stopping = params
        .count("early_stopping", 1..=MAX_TREES as i64)?
        .map(|patience| -> Result<TreeEarlyStopping, Problem> {
            Ok(TreeEarlyStopping {
                validation_fraction: number(
                    "validation_fraction",
                    |f| f > 0.0 && f < 1.0,
                    "must be between 0 and 1",
                    DEFAULT_VALIDATION_FRACTION,
                )?,
                patience,
            })
        })
        .transpose()?;
    if early_stopping.is_none() && params.is_set("validation_fraction") {
        return Err(super::params::bad_param(
            "validation_fraction",
            "validation_fraction goes with early_stopping (the patience in trees)".into(),
        ));
    }
    let p = GbdtParams {
        loss,
        trees: params
            .count("trees", 1..=MAX_TREES as i64)?
            .unwrap_or(d.trees),
        max_depth: params
            .count("max_depth", 1..=MAX_DEPTH as i64)?
            .unwrap_or(d.max_depth),
        learning_rate: number(
            "learning_rate",
            |x| x > 0.0 && x <= 1.0,
            "must be in (0, 1]",
            d.learning_rate,
        )?,
        min_child_weight: number(
            "min_child_weight",
            |x| (0.0..=1e6).contains(&x),
            "must be 0 to 10^6",
            d.min_child_weight,
        )?,
        lambda: number(
            "lambda",
            |x| (1.0 / 64.0..=1e4).contains(&x),
            "must be 1/64 to 10^4",
            d.lambda,
        )?,
        gamma: number(
            "gamma",
            |x| (0.0..=1e6).contains(&x),
            "must be 0 to 10^6",
            d.gamma,
        )?,
        subsample: number(
            "subsample",
            |x| x > 0.0 && x <= 1.0,
            "must be in (0, 1]",
            d.subsample,
        )?,
        early_stopping,
        bins: params.count("bins", 2..=1024)?.unwrap_or(d.bins),
        frac_bits: params
            .int("frac_bits", 12..=20)?
            .map_or(d.frac_bits, |f| f as u32),
        seed: params.int("seed", 0..=i64::MAX)?.map_or(0, |s| s as u64),
        instance_space: match params.flag("leak_instance_space")? {
            Some(true) => InstanceSpace::Leaked,
            _ => InstanceSpace::Hidden,
        },
    };
    // The protocol's own check, which the bounds above mirror.
    p.check().map_err(|e| bad(e.to_string()))?;
    Ok(p)
}
