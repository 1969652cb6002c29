//! The plan of a scorecard's training (`train` with `algorithm =
//! "scorecard"`): the parties of a binning job that ran under these nodes
//! (`binning`, its job id), in the same order and roles, train logistic
//! regression on their WOE columns and turn it into a points table, as
//! `indomain train --woe BINNING.json --scorecard` does. Each data party
//! uses the binning file that job released to it, and lists the id column
//! and its binned features (the label holder the label column too).
//!
//! Parameters, with the CLI's defaults: `label_holder`, `dealer` (unless
//! two-party), `id_column`, `label_column`, `binning` (required);
//! `correlations` (`dealer`, the default, or `two-party`: two parties and
//! no dealer, as the binning job had — its files record its party list); `min_iv` (≥ 0,
//! 0.02: features with a lower IV are left out), `base_score` (600),
//! `pdo` (20), `base_odds` (50), `epochs` (1 to
//! [`super::train::MAX_EPOCHS`], 20), `learning_rate` (0.5), `l2`,
//! `batch_size`, `frac_bits`, `sigmoid` (`linear` or `clamped`), `seed`,
//! `min_rows` and `min_group_size`. The split and the mode are the binning
//! job's.
//!
//! What each party learns (docs/protocols.md, "Scorecards"): which
//! features of every party are kept; every data party its own weights and
//! the held-out evaluation, which the label holder computes from the
//! held-out scores and sends every feature holder, so the job declares
//! `model` (its scorecard file) and `metrics` for every data party; the
//! label holder the points it may read (its own features', and in the
//! binning job's default mode the owners' under anonymous bin ids; in the
//! owner-transform mode the owners' weights). The dealer learns the
//! shapes and receives nothing; with two-party correlations each data
//! party also receives the other's uniformly masked generation messages,
//! and [`LeakProfile::correlations`] names the choice for policy.

use super::params::{Params, bad, bad_param};
use super::vertical::{VerticalParties, nothing_to_dealer};
use super::{LeakProfile, set};
use crate::jobspec::{JobSpec, Problem, is_job_id};
use indomain_learn::scorecard::Scale;
use indomain_learn::scorecard::model::ScorecardJob;
use indomain_learn::scorecard::pipeline::ScorecardRun;
use indomain_learn::woe::Mode;
use indomain_learn::{Sigmoid, TrainParams};
use std::collections::BTreeSet;

/// The parameters a scorecard job takes.
const PARAMETERS: &[&str] = &[
    "algorithm",
    "label_holder",
    "dealer",
    "correlations",
    "id_column",
    "label_column",
    "binning",
    "min_iv",
    "base_score",
    "pdo",
    "base_odds",
    "epochs",
    "learning_rate",
    "l2",
    "batch_size",
    "frac_bits",
    "sigmoid",
    "seed",
    "min_rows",
    "min_group_size",
];

/// A scorecard job's plan.
#[derive(Debug, Clone, PartialEq)]
pub struct ScorecardPlan {
    /// The parties and their columns.
    pub vertical: VerticalParties,
    /// The binning job whose files the parties use (a job id, or
    /// `<proposer>/<id>`).
    pub binning: String,
    /// Features with a lower IV are left out.
    pub min_iv: f64,
    /// The points' scale.
    pub scale: Scale,
    /// The logistic regression's parameters.
    pub params: TrainParams,
    /// The fewest shared rows.
    pub min_rows: usize,
    /// The parties' names, in spec order.
    parties: Vec<String>,
}

impl ScorecardPlan {
    pub(super) fn build(spec: &JobSpec) -> Result<Self, Problem> {
        let params = Params::new(spec, PARAMETERS)?;
        let vertical = VerticalParties::build(spec, &params, "a scorecard job")?;
        let binning = params.required_text("binning", "its binning job (the job's id)")?;
        // A job id or `<proposer>/<id>`, never a path.
        let parts: Vec<&str> = binning.split('/').collect();
        if parts.len() > 2 || !parts.iter().all(|p| is_job_id(p)) {
            return Err(bad_param(
                "binning",
                format!(
                    "parameter binning = {:?} is not a job id",
                    crate::bounds::printable(binning, 64)
                ),
            ));
        }
        let scale = Scale {
            base_score: params
                .number("base_score", |x| x.abs() <= 1e6, "must be within ±10^6")?
                .unwrap_or(600.0),
            pdo: params
                .number("pdo", |x| x > 0.0 && x <= 1e4, "must be in (0, 10^4]")?
                .unwrap_or(20.0),
            base_odds: params
                .number("base_odds", |x| x > 0.0, "must be positive")?
                .unwrap_or(50.0),
        };
        scale.check().map_err(|e| bad(e.to_string()))?;
        let min_iv = params
            .number("min_iv", |x| x >= 0.0, "must be 0 or more")?
            .unwrap_or(0.02);
        let defaults = TrainParams::default();
        let train = TrainParams {
            l2: params
                .number("l2", |x| (0.0..=16.0).contains(&x), "must be 0 to 16")?
                .unwrap_or(defaults.l2),
            batch_size: params.count("batch_size", 1..=1 << 32)?,
            frac_bits: params
                .int("frac_bits", 8..=20)?
                .map_or(defaults.frac_bits, |f| f as u32),
            seed: params.int("seed", 0..=i64::MAX)?.map_or(0, |s| s as u64),
            sigmoid: match params.choice("sigmoid", &["linear", "clamped"])? {
                Some("clamped") => Sigmoid::Clamped,
                _ => Sigmoid::Linear,
            },
            ..TrainParams::gradient_descent(
                params
                    .count("epochs", 1..=super::train::MAX_EPOCHS as i64)?
                    .unwrap_or(20),
                params
                    .number(
                        "learning_rate",
                        |x| x > 0.0 && x <= 16.0,
                        "must be in (0, 16]",
                    )?
                    .unwrap_or(0.5),
            )
        };
        train.check().map_err(|e| bad(e.to_string()))?;
        nothing_to_dealer(spec, vertical.roles.dealer)?;
        Ok(Self {
            binning: binning.to_string(),
            min_iv,
            scale,
            params: train,
            min_rows: super::vertical::min_rows(&params)?,
            vertical,
            parties: spec.parties.iter().map(|p| p.name.clone()).collect(),
        })
    }

    /// The job as [`indomain_learn::scorecard::pipeline::run`] takes it
    /// (the binning-derived fields are filled from the label holder's
    /// binning file when it runs).
    pub fn scorecard_run(&self) -> ScorecardRun {
        ScorecardRun {
            job: ScorecardJob {
                binning_hash: String::new(),
                mode: Mode::Default,
                parties: self.vertical.job_parties(&self.parties),
                id_column: self.vertical.id_column.clone(),
                test_fraction: 0.0,
                seed: 0,
                min_iv: self.min_iv,
                scale: self.scale,
                params: self.params.clone(),
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
            epochs: self.params.epochs,
            ..LeakProfile::plain()
        }
    }
}
