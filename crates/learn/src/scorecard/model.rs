//! The scorecard model file: one JSON file per party of a scorecard's
//! training job. Each holds that party's kept features' bins (to bin new
//! rows), the training rows per bin (the reference of the stability
//! index), its share of every bin's points (for joint scoring), and only
//! what the job's mode lets it read: the label holder its own features'
//! WOE, weights and points, and in the default and owner-transform modes
//! the owners' too under anonymous bin ids; an owner in the
//! owner-transform mode its own WOE and weights. It is tied to its job and
//! to the binning job by their hashes.

use super::points::{PointsRow, Scale, points_csv};
use crate::LearnError;
use crate::binning::FeatureBins;
use crate::metrics::Classification;
use crate::model::{JobParty, PartyRole, Rows};
use crate::params::TrainParams;
use crate::stability::ScoreBands;
use crate::woe::Mode;
use serde::{Deserialize, Serialize};

/// The scorecard file format this build writes and reads.
pub const SCORECARD_FORMAT: u32 = 1;

/// What every party of a scorecard job agrees on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScorecardJob {
    /// The hash of the binning job whose WOE the card uses.
    pub binning_hash: String,
    /// The binning job's mode.
    pub mode: Mode,
    /// Every party, in the agreed order.
    pub parties: Vec<JobParty>,
    /// The id column rows are aligned on.
    pub id_column: String,
    /// Share of the aligned rows held out (the binning job's).
    pub test_fraction: f64,
    /// Seed of the split (the binning job's).
    pub seed: u64,
    /// Features with a lower IV are left out.
    pub min_iv: f64,
    /// Base score, PDO, odds at the base score.
    pub scale: Scale,
    /// The logistic regression's parameters.
    pub params: TrainParams,
    /// Makes two runs distinct jobs.
    pub nonce: String,
}

impl ScorecardJob {
    /// `sha256:<hex>` of the job's bincode encoding.
    pub fn hash(&self) -> String {
        crate::model::job_hash(b"", self)
    }
}

/// One of the party's own features on the card.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CardFeature {
    /// Edges or categories.
    #[serde(flatten)]
    pub bins: FeatureBins,
    /// A readable label per bin.
    pub labels: Vec<String>,
    /// Training rows per bin.
    pub rows: Vec<u64>,
    /// The feature's IV.
    pub iv: f64,
    /// WOE per bin, where this party knows it.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub woe: Option<Vec<f64>>,
    /// The feature's weight, where this party knows it.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub weight: Option<f64>,
    /// Points per bin, where this party may read them.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub points: Option<Vec<f64>>,
}

/// An owner's feature on the card, as the label holder knows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForeignCard {
    /// The owner.
    pub party: String,
    /// The feature.
    pub name: String,
    /// Bins (anonymous ids 1..bins in the owner's order).
    pub bins: usize,
    /// The feature's IV.
    pub iv: f64,
    /// WOE per bin (default and owner-transform modes).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub woe: Option<Vec<f64>>,
    /// The weight (default and owner-transform modes).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub weight: Option<f64>,
    /// Points per bin (default and owner-transform modes).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub points: Option<Vec<f64>>,
}

/// A party's scorecard file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScorecardFile {
    /// [`SCORECARD_FORMAT`] when written.
    pub format: u32,
    /// Always `scorecard`.
    pub kind: String,
    /// The hash of `job`.
    pub job_hash: String,
    /// The job.
    pub job: ScorecardJob,
    /// The party this file belongs to.
    pub party: String,
    /// Its role.
    pub role: PartyRole,
    /// Rows trained on and held out.
    pub rows: Rows,
    /// Its own features on the card (those with IV ≥ the threshold).
    pub features: Vec<CardFeature>,
    /// The owners' features on the card, at the label holder.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub foreign: Vec<ForeignCard>,
    /// Bins per card feature of every computing party (label holder
    /// first).
    pub sizes: Vec<Vec<usize>>,
    /// The intercept, at the label holder.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub intercept: Option<f64>,
    /// This party's share of every bin's points (default and strict
    /// modes; ring elements with the job's fractional bits).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub points_shares: Option<Vec<u64>>,
    /// Held-out metrics, as the label holder computed them.
    pub evaluation: Option<Classification>,
    /// The training scores' bands, at the label holder (for the score's
    /// stability index).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub score_bands: Option<ScoreBands>,
    /// The trust record: where the correlated randomness of the secure
    /// products came from, `dealer NAME` or `two-party`
    /// ([`crate::model::trust_record`]; absent in files written before
    /// issue #21).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlations: Option<String>,
    /// The indomain version that wrote the file.
    pub written_by: String,
}

impl ScorecardFile {
    /// Checks that the file is whole; `file` names it in errors.
    pub fn check(&self, file: &str) -> Result<(), LearnError> {
        let bad = |reason: String| LearnError::Model {
            file: file.to_string(),
            reason,
        };
        if self.kind != "scorecard" {
            return Err(bad(format!("a {} file, not a scorecard", self.kind)));
        }
        if self.format != SCORECARD_FORMAT {
            return Err(bad(format!(
                "format {} (this build reads format {SCORECARD_FORMAT})",
                self.format
            )));
        }
        if self.job.hash() != self.job_hash {
            return Err(bad(
                "the job hash does not match the job it describes".into()
            ));
        }
        let total: usize = self.sizes.iter().flatten().sum();
        let per_bin_ok = self.features.iter().all(|f| {
            let k = f.bins.bins();
            f.rows.len() == k
                && f.woe.as_ref().is_none_or(|v| v.len() == k)
                && f.points.as_ref().is_none_or(|v| v.len() == k)
        });
        if !per_bin_ok
            || self
                .points_shares
                .as_ref()
                .is_some_and(|p| p.len() != total)
        {
            return Err(bad("its per-bin lists do not match its bins".into()));
        }
        Ok(())
    }

    /// The rows of the readable points table: every bin whose WOE and
    /// points this party may read, its own features first.
    pub fn points_rows(&self) -> Vec<PointsRow> {
        let mut rows = Vec::new();
        for f in &self.features {
            let (Some(woe), Some(points)) = (&f.woe, &f.points) else {
                continue;
            };
            for ((label, w), p) in f.labels.iter().zip(woe).zip(points) {
                rows.push(PointsRow {
                    party: self.party.clone(),
                    feature: f.bins.name.clone(),
                    bin: label.clone(),
                    woe: *w,
                    points: *p,
                });
            }
        }
        for f in &self.foreign {
            let (Some(woe), Some(points)) = (&f.woe, &f.points) else {
                continue;
            };
            for (i, (w, p)) in woe.iter().zip(points).enumerate() {
                rows.push(PointsRow {
                    party: f.party.clone(),
                    feature: f.name.clone(),
                    bin: format!("bin {}", i + 1),
                    woe: *w,
                    points: *p,
                });
            }
        }
        rows
    }

    /// The readable points table (what this party may read), as CSV.
    pub fn points_table(&self) -> Option<String> {
        let rows = self.points_rows();
        (!rows.is_empty()).then(|| points_csv(&rows, &self.job.scale))
    }
}

#[cfg(feature = "files")]
impl ScorecardFile {
    /// Writes the file as pretty JSON, atomically, readable by this user.
    pub fn save(&self, path: &std::path::Path) -> Result<(), LearnError> {
        let json = serde_json::to_string_pretty(self).map_err(|e| LearnError::Model {
            file: path.display().to_string(),
            reason: e.to_string(),
        })?;
        crate::model::write_private(path, json.as_bytes())
    }

    /// Whether the file at `path` says it is a scorecard (its `kind`); a
    /// file that cannot be read as JSON is not.
    pub fn is_scorecard(path: &std::path::Path) -> bool {
        #[derive(Deserialize)]
        struct Kind {
            kind: Option<String>,
        }
        std::fs::read_to_string(path)
            .ok()
            .and_then(|t| serde_json::from_str::<Kind>(&t).ok())
            .and_then(|k| k.kind)
            .is_some_and(|k| k == "scorecard")
    }

    /// Reads and checks a scorecard file.
    pub fn load(path: &std::path::Path) -> Result<Self, LearnError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| LearnError::Io {
            path: file.clone(),
            source,
        })?;
        let s: ScorecardFile = serde_json::from_str(&text).map_err(|e| LearnError::Model {
            file: file.clone(),
            reason: format!("not a scorecard file: {e}"),
        })?;
        s.check(&file)?;
        Ok(s)
    }
}
