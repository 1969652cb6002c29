//! The plan of a WOE/IV binning job (`protocol = "binning"`): the label
//! holder, 1 to 4 feature owners and the dealer, as for training
//! ([`super::vertical`]) — or, with `correlations = "two-party"`, the
//! label holder and one feature owner alone; each data party's listed columns besides the id
//! (and label) are its features, binned locally on the training rows.
//!
//! Parameters, with `indomain bin`'s defaults and the learn crate's
//! bounds: `label_holder`, `dealer` (unless two-party), `id_column`,
//! `label_column` (required); `correlations` (`dealer`, the default, or
//! `two-party`); `mode` (`default`, the label-holder view; `strict`; or
//! `owner-transform`), `bins` (2 to [`MAX_BINS`], 10), `method`
//! (`quantile` or `equal-width`), `min_share` (0 to 0.5, 0.05),
//! `max_categories` (1 to [`MAX_CATEGORIES`], 256), `min_events` (0),
//! `monotone` (false; not in strict mode), `shared_permutation` (false),
//! `test_fraction` (0 to 1, 0.25: the split a scorecard trained on the
//! binning files reuses), `seed`, `frac_bits` (8 to 20, 16),
//! `categorical`, `min_rows` and `min_group_size`.
//!
//! What each party learns, by mode (docs/protocols.md, "WOE / IV
//! binning"): every party the row count and every feature's bin count;
//! the label holder its own features in the clear and every owner
//! feature's IV, and in the `default` and `owner-transform` modes every
//! owner bin's events and non-events (so its WOE) under anonymous ids,
//! never an edge or a row's bin; an owner its features' IVs, and in the
//! `owner-transform` mode its bins' WOE. Each data party receives
//! `binning` (its binning file: its own edges or categories, the counts and
//! WOE the mode lets it know, the IVs it learned), which the job declares
//! for every data party, and, where the job declares it, `iv` (the IVs it
//! learned, ranked: nothing beyond its binning file). The dealer learns
//! the shapes and receives nothing; with two-party correlations each data
//! party also receives the other's uniformly masked generation messages,
//! and [`LeakProfile::correlations`] names the choice for policy. The mode and a shared permutation are
//! leak choices a node's policy rules on ([`LeakProfile::binning_mode`],
//! [`LeakProfile::shared_permutation`]).

use super::LeakProfile;
use super::params::{Params, bad, bad_param};
use super::vertical::{VerticalParties, nothing_to_dealer};
use crate::jobspec::{JobSpec, Problem};
use indomain_learn::binning::{BinParams, MAX_BINS, Method};
use indomain_learn::woe::Mode;
use indomain_learn::woe::file::BinningJob;
use indomain_learn::woe::pipeline::BinningRun;
use indomain_learn::woe::protocol::Settings;
use std::collections::BTreeSet;

/// The most categories a binning job may allow a column.
pub const MAX_CATEGORIES: usize = u16::MAX as usize;

/// The parameters a binning job takes.
const PARAMETERS: &[&str] = &[
    "label_holder",
    "dealer",
    "correlations",
    "id_column",
    "label_column",
    "mode",
    "bins",
    "method",
    "min_share",
    "max_categories",
    "min_events",
    "monotone",
    "shared_permutation",
    "test_fraction",
    "seed",
    "frac_bits",
    "categorical",
    "min_rows",
    "min_group_size",
];

/// A binning job's plan.
#[derive(Debug, Clone, PartialEq)]
pub struct BinningPlan {
    /// The parties and their columns.
    pub vertical: VerticalParties,
    /// How every party bins, and the mode.
    pub bins: BinParams,
    /// Mode, minimum events, monotone merging, fractional bits.
    pub settings: Settings,
    /// Share of the shared rows held out.
    pub test_fraction: f64,
    /// Seed of the split.
    pub seed: u64,
    /// Columns read as categories.
    pub categorical: Vec<String>,
    /// The fewest shared rows.
    pub min_rows: usize,
    /// The data parties that receive the IV report.
    pub iv_report: Vec<usize>,
    /// The parties' names, in spec order.
    parties: Vec<String>,
}

impl BinningPlan {
    pub(super) fn build(spec: &JobSpec) -> Result<Self, Problem> {
        let params = Params::new(spec, PARAMETERS)?;
        let vertical = VerticalParties::build(spec, &params, "a binning job")?;
        let mode = match params.choice("mode", &["default", "strict", "owner-transform"])? {
            Some("strict") => Mode::Strict,
            Some("owner-transform") => Mode::OwnerTransform,
            _ => Mode::Default,
        };
        let settings = Settings {
            mode,
            min_events: params
                .count("min_events", 0..=1 << 32)?
                .map_or(0, |m| m as u64),
            monotone: params.flag("monotone")?.unwrap_or(false),
            frac_bits: params.int("frac_bits", 8..=20)?.map_or(16, |f| f as u32),
            shared_permutation: params.flag("shared_permutation")?.unwrap_or(false),
        };
        settings
            .check()
            .map_err(|e| bad_param("monotone", e.to_string()))?;
        let defaults = BinParams::default();
        let count = params.count("bins", 2..=MAX_BINS as i64)?.unwrap_or(10);
        let method = match params.choice("method", &["quantile", "equal-width"])? {
            Some("equal-width") => Method::EqualWidth { bins: count },
            _ => Method::Quantile { bins: count },
        };
        let bins = BinParams {
            method,
            edges: Vec::new(),
            min_share: params
                .number("min_share", |s| (0.0..0.5).contains(&s), "must be 0 to 0.5")?
                .unwrap_or(defaults.min_share),
            max_categories: params
                .count("max_categories", 1..=MAX_CATEGORIES as i64)?
                .unwrap_or(defaults.max_categories),
        };
        bins.check().map_err(|e| bad(e.to_string()))?;
        let test_fraction = params
            .number(
                "test_fraction",
                |f| (0.0..1.0).contains(&f),
                "must be at least 0 and below 1",
            )?
            .unwrap_or(super::train::DEFAULT_TEST_FRACTION);
        let categorical = super::vertical::categorical(spec, &params, &vertical)?;
        nothing_to_dealer(spec, vertical.roles.dealer)?;
        let iv_report = spec.receivers("iv");
        Ok(Self {
            test_fraction,
            seed: params.int("seed", 0..=i64::MAX)?.map_or(0, |s| s as u64),
            min_rows: super::vertical::min_rows(&params)?,
            vertical,
            bins,
            settings,
            categorical,
            iv_report,
            parties: spec.parties.iter().map(|p| p.name.clone()).collect(),
        })
    }

    /// The job as [`indomain_learn::woe::pipeline::run`] takes it.
    pub fn binning_run(&self) -> BinningRun {
        BinningRun {
            job: BinningJob {
                parties: self.vertical.job_parties(&self.parties),
                id_column: self.vertical.id_column.clone(),
                test_fraction: self.test_fraction,
                seed: self.seed,
                method: self.bins.method,
                min_share: self.bins.min_share,
                max_categories: self.bins.max_categories,
                settings: self.settings,
                nonce: String::new(),
            },
            roles: self.vertical.roles.clone(),
            min_rows: self.min_rows,
            edges: Vec::new(),
        }
    }

    pub(super) fn receives(&self) -> Vec<BTreeSet<&'static str>> {
        (0..self.parties.len())
            .map(|i| {
                let mut got = BTreeSet::new();
                if self.vertical.is_data(i) {
                    got.insert("binning");
                    if self.iv_report.contains(&i) {
                        got.insert("iv");
                    }
                }
                got
            })
            .collect()
    }

    pub(super) fn leaks(&self) -> LeakProfile {
        let bins = match self.bins.method {
            Method::Quantile { bins } | Method::EqualWidth { bins } => bins,
        };
        LeakProfile {
            correlations: self.vertical.correlations(&self.parties),
            bins,
            categories: self.bins.max_categories,
            binning_mode: Some(self.settings.mode),
            shared_permutation: self.settings.shared_permutation,
            ..LeakProfile::plain()
        }
    }
}
