//! Weight of evidence (WOE) and information value (IV) of binned features
//! against the label holder's labels, for credit scorecards.
//!
//! - [`math`]: WOE and IV in the clear, with the smoothing of empty bins
//!   (the label holder's own features; the reference of the tests).
//! - [`layout`]: the public shape of a job (bins per feature and party).
//! - [`file`](mod@file): each party's binning file and the IV report;
//!   [`chart`]: a feature's bins, bad rate and WOE as SVG.
//! - [`pipeline`]: a whole binning job at one party (agreement, PSI
//!   alignment, split, local binning, the protocol, the file).
//! - [`protocol`]: the binning job at one party, in three modes, over
//!   the histogram kernel ([`kernel`]) shared with gradient-boosted trees.
//!
//! What each party learns depends on the job's [`Mode`]; docs/protocols.md
//! ("WOE / IV binning") states it for each.

pub mod chart;
pub mod file;
pub mod kernel;
pub mod layout;
pub mod math;
pub mod pipeline;
pub mod protocol;
mod strict;

pub use math::{SMOOTHING, WoeIv, bin_counts, merge_lacking, woe_iv};

use serde::{Deserialize, Serialize};

/// Who learns the WOE of a feature owner's bins.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// "Label-holder view" (FATE's leakage): the label holder learns each
    /// owner bin's WOE and counts under anonymous ids in the owner's bin
    /// order; the owner learns each of its features' IV.
    #[default]
    Default,
    /// Nothing per bin is opened to anyone: only each feature's IV.
    Strict,
    /// SecretFlow's leakage: the owner also learns its bins' WOE and
    /// transforms its columns itself (only when the job asks for it).
    OwnerTransform,
}

impl Mode {
    /// The mode's name on the command line and in files.
    pub fn name(&self) -> &'static str {
        match self {
            Mode::Default => "default",
            Mode::Strict => "strict",
            Mode::OwnerTransform => "owner-transform",
        }
    }
}
