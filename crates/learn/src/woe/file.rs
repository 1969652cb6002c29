//! The binning file: one JSON file per party of a binning job, holding
//! its own features' edges or categories, rows per bin, the WOE and counts
//! only where the job's mode lets this party know them, every IV it
//! learned, and the hash of the job, so that training refuses a binning
//! file from another job. Saved and read with the feature `files`.

use super::Mode;
use super::protocol::{ForeignFeature, Outcome, Settings};
use crate::LearnError;
use crate::binning::{Direction, FeatureBins, Method};
use crate::model::{JobParty, PartyRole, Rows};
use serde::{Deserialize, Serialize};

/// The binning file format this build writes and reads.
pub const BINNING_FORMAT: u32 = 1;

/// What every party of a binning job agrees on; its hash ties the files
/// of one job together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BinningJob {
    /// Every party, in the agreed order.
    pub parties: Vec<JobParty>,
    /// The id column rows are aligned on.
    pub id_column: String,
    /// Share of the aligned rows held out (binning uses the rest).
    pub test_fraction: f64,
    /// Seed of the split.
    pub seed: u64,
    /// How numeric columns are cut.
    pub method: Method,
    /// The smallest share of rows a bin may hold.
    pub min_share: f64,
    /// The most categories a categorical column may have.
    pub max_categories: usize,
    /// Mode, minimum events, monotone merging, fractional bits.
    pub settings: Settings,
    /// Makes two runs with the same settings distinct jobs.
    pub nonce: String,
}

impl BinningJob {
    /// `sha256:<hex>` of the job's bincode encoding.
    pub fn hash(&self) -> String {
        crate::model::job_hash(b"", self)
    }
}

/// One of the party's own features in its file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileFeature {
    /// Edges or categories (the owner's alone).
    #[serde(flatten)]
    pub bins: FeatureBins,
    /// A readable label per bin.
    pub labels: Vec<String>,
    /// Rows per bin (training rows).
    pub rows: Vec<u64>,
    /// Events per bin, where this party knows them.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub events: Option<Vec<u64>>,
    /// Non-events per bin, where this party knows them.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub non_events: Option<Vec<u64>>,
    /// WOE per bin, where this party knows it.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub woe: Option<Vec<f64>>,
    /// The feature's IV.
    pub iv: f64,
    /// `increasing` or `decreasing` after monotone merging.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub monotone: Option<String>,
}

/// A party's binning file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BinningFile {
    /// [`BINNING_FORMAT`] when written.
    pub format: u32,
    /// Always `binning`.
    pub kind: String,
    /// The hash of `job`.
    pub job_hash: String,
    /// The job.
    pub job: BinningJob,
    /// The party this file belongs to.
    pub party: String,
    /// Its role.
    pub role: PartyRole,
    /// Rows binned (the training part) and held out.
    pub rows: Rows,
    /// Its own features.
    pub features: Vec<FileFeature>,
    /// The owners' features as the label holder knows them.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub foreign: Vec<ForeignFeature>,
    /// Bins per feature of every computing party (label holder first).
    pub sizes: Vec<Vec<usize>>,
    /// Strict mode: this party's share of every owner bin's WOE (ring
    /// elements with the job's fractional bits; meaningless alone).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub woe_shares: Option<Vec<u64>>,
    /// The trust record: where the correlated randomness of the secure
    /// products came from, `dealer NAME` or `two-party`
    /// ([`crate::model::trust_record`]; absent in files written before
    /// issue #21).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlations: Option<String>,
    /// The indomain version that wrote the file.
    pub written_by: String,
}

impl BinningFile {
    /// The file of a party from its job outcome.
    pub fn new(
        job: BinningJob,
        party: &str,
        role: PartyRole,
        rows: Rows,
        outcome: Outcome,
    ) -> Self {
        let features = outcome
            .own
            .into_iter()
            .map(|f| FileFeature {
                labels: f.binned.bins.labels(),
                bins: f.binned.bins,
                rows: f.rows,
                events: f.events,
                non_events: f.non_events,
                woe: f.woe,
                iv: f.iv,
                monotone: f.direction.map(|d| {
                    match d {
                        Direction::Increasing => "increasing",
                        Direction::Decreasing => "decreasing",
                    }
                    .to_string()
                }),
            })
            .collect();
        let correlations = Some(crate::model::trust_record(&job.parties));
        Self {
            format: BINNING_FORMAT,
            kind: "binning".into(),
            job_hash: job.hash(),
            job,
            party: party.to_string(),
            role,
            rows,
            features,
            foreign: outcome.foreign,
            sizes: outcome.sizes,
            woe_shares: outcome.woe_shares,
            correlations,
            written_by: format!("indomain {}", env!("CARGO_PKG_VERSION")),
        }
    }

    /// The job's mode.
    pub fn mode(&self) -> Mode {
        self.job.settings.mode
    }

    /// Checks that the file is whole: format, kind, hash, and that every
    /// feature's lists match its bins. `file` names it in errors.
    pub fn check(&self, file: &str) -> Result<(), LearnError> {
        let bad = |reason: String| LearnError::Model {
            file: file.to_string(),
            reason,
        };
        if self.kind != "binning" {
            return Err(bad(format!("a {} file, not a binning file", self.kind)));
        }
        if self.format != BINNING_FORMAT {
            return Err(bad(format!(
                "format {} (this build reads format {BINNING_FORMAT})",
                self.format
            )));
        }
        if self.job.hash() != self.job_hash {
            return Err(bad(
                "the job hash does not match the job it describes".into()
            ));
        }
        for f in &self.features {
            let k = f.bins.bins();
            let lists_ok = f.rows.len() == k
                && f.events.as_ref().is_none_or(|v| v.len() == k)
                && f.non_events.as_ref().is_none_or(|v| v.len() == k)
                && f.woe.as_ref().is_none_or(|v| v.len() == k);
            if !lists_ok {
                return Err(bad(format!(
                    "feature {:?}: its per-bin lists do not match its {k} bins",
                    f.bins.name
                )));
            }
        }
        let owner_bins: usize = self.sizes.iter().skip(1).flatten().sum();
        if self
            .woe_shares
            .as_ref()
            .is_some_and(|s| s.len() != owner_bins)
        {
            return Err(bad("the WOE shares do not match the owners' bins".into()));
        }
        Ok(())
    }

    /// Refuses the file unless it belongs to the job hashed `job_hash`.
    pub fn check_job(&self, job_hash: &str, file: &str) -> Result<(), LearnError> {
        if self.job_hash != job_hash {
            return Err(LearnError::Model {
                file: file.to_string(),
                reason: format!(
                    "it is the binning file of job {}, not of job {job_hash}; give every party the binning file of the same binning job",
                    self.job_hash
                ),
            });
        }
        Ok(())
    }
}

#[cfg(feature = "files")]
impl BinningFile {
    /// Writes the file as pretty JSON, atomically and readable only by this
    /// user.
    pub fn save(&self, path: &std::path::Path) -> Result<(), LearnError> {
        let json = serde_json::to_string_pretty(self).map_err(|e| LearnError::Model {
            file: path.display().to_string(),
            reason: e.to_string(),
        })?;
        crate::model::write_private(path, json.as_bytes())
    }

    /// Reads and checks a binning file.
    pub fn load(path: &std::path::Path) -> Result<Self, LearnError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| LearnError::Io {
            path: file.clone(),
            source,
        })?;
        let b: BinningFile = serde_json::from_str(&text).map_err(|e| LearnError::Model {
            file: file.clone(),
            reason: format!("not a binning file: {e}"),
        })?;
        b.check(&file)?;
        Ok(b)
    }
}

/// One line of an IV report.
#[derive(Debug, Clone, PartialEq)]
pub struct IvLine {
    /// The feature's owner.
    pub party: String,
    /// The feature.
    pub feature: String,
    /// Its IV.
    pub iv: f64,
}

/// The usual reading of an IV.
pub fn strength(iv: f64) -> &'static str {
    match iv {
        v if v < 0.02 => "useless",
        v if v < 0.1 => "weak",
        v if v < 0.3 => "medium",
        v if v < 0.5 => "strong",
        _ => "suspicious (check for leakage)",
    }
}

impl BinningFile {
    /// Every feature whose IV this party knows, ranked by IV (highest
    /// first; ties by party and name).
    pub fn iv_ranking(&self) -> Vec<IvLine> {
        let mut lines: Vec<IvLine> = self
            .features
            .iter()
            .map(|f| IvLine {
                party: self.party.clone(),
                feature: f.bins.name.clone(),
                iv: f.iv,
            })
            .chain(self.foreign.iter().map(|f| IvLine {
                party: f.party.clone(),
                feature: f.name.clone(),
                iv: f.iv,
            }))
            .collect();
        lines.sort_by(|a, b| {
            b.iv.total_cmp(&a.iv)
                .then_with(|| a.party.cmp(&b.party))
                .then_with(|| a.feature.cmp(&b.feature))
        });
        lines
    }

    /// The IV report as CSV: rank, party, feature, IV, reading.
    pub fn iv_report_csv(&self) -> String {
        let mut out = String::from("rank,party,feature,iv,strength\n");
        for (i, l) in self.iv_ranking().iter().enumerate() {
            out.push_str(&format!(
                "{},{},{},{:.6},{}\n",
                i + 1,
                csv_cell(&l.party),
                csv_cell(&l.feature),
                l.iv,
                strength(l.iv)
            ));
        }
        out
    }
}

/// A CSV cell, quoted when it must be.
pub(crate) fn csv_cell(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::binning::{BinKind, BinParams};

    pub(crate) fn sample() -> BinningFile {
        let job = BinningJob {
            parties: vec![
                JobParty {
                    name: "bank".into(),
                    role: PartyRole::Label,
                },
                JobParty {
                    name: "tax".into(),
                    role: PartyRole::Feature,
                },
            ],
            id_column: "id".into(),
            test_fraction: 0.25,
            seed: 1,
            method: BinParams::default().method,
            min_share: 0.05,
            max_categories: 256,
            settings: Settings::default(),
            nonce: "n1".into(),
        };
        BinningFile {
            format: BINNING_FORMAT,
            kind: "binning".into(),
            job_hash: job.hash(),
            job,
            party: "bank".into(),
            role: PartyRole::Label,
            rows: Rows {
                train: 30,
                test: 10,
            },
            features: vec![FileFeature {
                bins: FeatureBins {
                    name: "age".into(),
                    kind: BinKind::Numeric { edges: vec![30.0] },
                    missing: false,
                },
                labels: vec!["[-inf, 30)".into(), "[30, +inf)".into()],
                rows: vec![10, 20],
                events: Some(vec![5, 2]),
                non_events: Some(vec![5, 18]),
                woe: Some(vec![1.0, -1.0]),
                iv: 0.4,
                monotone: None,
            }],
            foreign: vec![ForeignFeature {
                party: "tax".into(),
                name: "income".into(),
                numeric: true,
                missing: false,
                bins: 3,
                events: None,
                non_events: None,
                woe: None,
                iv: 0.7,
            }],
            sizes: vec![vec![2], vec![3]],
            woe_shares: None,
            correlations: Some("two-party".into()),
            written_by: "test".into(),
        }
    }

    #[test]
    fn a_file_from_another_job_or_altered_is_refused() {
        let f = sample();
        assert!(f.check("b.json").is_ok());
        assert!(f.check_job(&f.job_hash, "b.json").is_ok());
        let mut other = sample();
        other.job.nonce = "n2".into();
        other.job_hash = other.job.hash();
        let err = f
            .check_job(&other.job_hash, "b.json")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("b.json") && err.contains("another") || err.contains("not of job"),
            "{err}"
        );
        let mut tampered = sample();
        tampered.job.seed = 2;
        assert!(
            tampered
                .check("b.json")
                .unwrap_err()
                .to_string()
                .contains("hash")
        );
        let mut short = sample();
        short.features[0].rows.pop();
        assert!(short.check("b.json").is_err());
    }

    #[test]
    fn the_iv_report_ranks_every_known_feature() {
        let csv = sample().iv_report_csv();
        assert_eq!(
            csv,
            "rank,party,feature,iv,strength\n1,tax,income,0.700000,suspicious (check for leakage)\n2,bank,age,0.400000,strong\n"
        );
        let json = serde_json::to_string(&sample()).unwrap();
        let back: BinningFile = serde_json::from_str(&json).unwrap();
        assert_eq!(back, sample());
        assert!(!json.contains("woe_shares"), "{json}");
    }
}
