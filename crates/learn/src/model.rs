//! Model files: one versioned JSON file per party (saved and loaded with
//! the feature `files`), holding that party's weights and what it needs to
//! score new rows (feature names, standardisation), the training
//! parameters, the held-out metrics, the contribution report and the
//! SHA-256 hash of the job, so that scoring refuses a file from another
//! job.
//!
//! A party's file holds only its own weights: the model, split by columns,
//! is all that leaves the training.

use crate::LearnError;
use crate::calibration::{CalibrationReport, Recalibration};
use crate::contribution::Report;
use crate::data::Standardizer;
use crate::fed_dp::FedDp;
use crate::metrics::{Evaluation, RocPoint};
use crate::params::TrainParams;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
#[cfg(feature = "files")]
use std::io::Write;
#[cfg(feature = "files")]
use std::path::Path;

/// The most points of the ROC curve a model file keeps.
pub const ROC_POINTS: usize = 200;

/// The model file format this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// A party's role in a training job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PartyRole {
    /// Holds the labels and some features (vertical), and the intercept.
    Label,
    /// Holds features of the same rows (vertical).
    Feature,
    /// Deals correlated randomness; holds no data and no model.
    Dealer,
    /// Holds rows with every column (horizontal).
    Client,
    /// Aggregates the clients' updates (horizontal); holds the global model.
    Server,
}

/// One party of a job, as every party knows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobParty {
    /// The party's name (its certificate name).
    pub name: String,
    /// Its role.
    pub role: PartyRole,
}

/// What every party of a job agrees on; its hash ties the model files of
/// one job together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobSpec {
    /// `vertical` or `horizontal`.
    pub mode: String,
    /// Every party, in the agreed order.
    pub parties: Vec<JobParty>,
    /// The id column rows are aligned on (vertical).
    pub id_column: String,
    /// Share of the aligned rows held out for evaluation.
    pub test_fraction: f64,
    /// The training hyper-parameters.
    pub params: TrainParams,
    /// Horizontal jobs: the shared columns, rounds and aggregation bound.
    pub horizontal: Option<HorizontalSpec>,
    /// A nonce that makes two runs with the same parameters distinct jobs
    /// (the label holder's start time in the CLI).
    pub nonce: String,
}

/// What the parties of a horizontal job also agree on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HorizontalSpec {
    /// The feature columns every client has.
    pub columns: Vec<String>,
    /// Rounds of FedAvg.
    pub rounds: usize,
    /// The bound on every aggregated value.
    pub max_abs: f64,
    /// Differential privacy: ε, δ, the clipping norm and the coalition the
    /// training was calibrated for (`None`: none).
    #[serde(default)]
    pub dp: Option<FedDp>,
}

impl JobSpec {
    /// The trust record of a vertical job: `dealer NAME` if a party deals,
    /// otherwise `two-party`; `None` for other modes.
    pub fn correlations(&self) -> Option<String> {
        if self.mode != "vertical" {
            return None;
        }
        Some(
            self.parties
                .iter()
                .find(|p| p.role == PartyRole::Dealer)
                .map_or_else(|| "two-party".to_string(), |d| format!("dealer {}", d.name)),
        )
    }

    /// `sha256:<hex>` of the spec's canonical bytes: its bincode encoding
    /// (standard configuration, fields in declaration order), so that the
    /// hash needs no JSON library in a build without files.
    pub fn hash(&self) -> String {
        job_hash(b"", self)
    }
}

/// `sha256:<hex>` of `tag` followed by `job`'s bincode encoding (standard
/// configuration): the hash every job file of this crate names its job by.
pub(crate) fn job_hash<T: Serialize>(tag: &[u8], job: &T) -> String {
    let mut bytes = tag.to_vec();
    bytes.extend(
        bincode::serde::encode_to_vec(job, bincode::config::standard()).unwrap_or_default(),
    );
    format!("sha256:{}", hex(&Sha256::digest(&bytes)))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// One party's model file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelFile {
    /// [`FORMAT_VERSION`] when written.
    pub format: u32,
    /// The hash of `job`.
    pub job_hash: String,
    /// The job this model came from.
    pub job: JobSpec,
    /// The party this file belongs to.
    pub party: String,
    /// Its role.
    pub role: PartyRole,
    /// Its feature columns, in order.
    pub features: Vec<String>,
    /// Its standardisation, applied before the weights (none in
    /// horizontal training, where all clients share raw columns).
    pub standardizer: Option<Standardizer>,
    /// One weight per feature.
    pub weights: Vec<f64>,
    /// The intercept (label holder and horizontal models only).
    pub intercept: Option<f64>,
    /// The held-out ROC curve (at most [`ROC_POINTS`] points), in the
    /// label holder's file only: it alone has the labels and the scores.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roc: Vec<RocPoint>,
    /// Rows trained on and held out.
    pub rows: Rows,
    /// Held-out metrics, as the label holder computed them.
    pub evaluation: Option<Evaluation>,
    /// Training loss per epoch, where this party learns it.
    pub loss_per_epoch: Vec<f64>,
    /// Validation loss per epoch, with early stopping.
    #[serde(default)]
    pub validation_loss_per_epoch: Vec<f64>,
    /// The contribution report (vertical).
    pub contribution: Option<Report>,
    /// The trust record of a vertical model: where the correlated
    /// randomness of its secure products came from, `dealer NAME` (a third
    /// party trusted not to collude) or `two-party` (generated by the two
    /// data parties themselves); `None` for horizontal models.
    #[serde(default)]
    pub correlations: Option<String>,
    /// The indomain version that wrote the file.
    pub written_by: String,
    /// How training ended (vertical; absent in files written before #18).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training: Option<TrainingEnd>,
    /// The held-out calibration report of a logistic model, in the file of
    /// the party that holds the labels (absent before #18).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<CalibrationReport>,
    /// The recalibration map fitted on the validation split, which
    /// `indomain predict` applies to the scores (label holder; absent
    /// without one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recalibration: Option<Recalibration>,
}

/// How a training run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrainingEnd {
    /// Epochs run.
    pub epochs: usize,
    /// Whether the convergence test ended it (false: the cap, early
    /// stopping, or no test).
    pub converged: bool,
    /// The epoch whose weights were kept (1-based).
    pub kept_epoch: usize,
}

/// Row counts of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rows {
    /// Rows trained on.
    pub train: usize,
    /// Rows held out for evaluation.
    pub test: usize,
}

#[cfg(feature = "files")]
impl ModelFile {
    /// Writes the file as pretty JSON, atomically and readable only by
    /// this user (see [`write_private`]).
    pub fn save(&self, path: &Path) -> Result<(), LearnError> {
        let json = serde_json::to_string_pretty(self).map_err(|e| LearnError::Model {
            file: path.display().to_string(),
            reason: e.to_string(),
        })?;
        write_private(path, json.as_bytes())
    }

    /// Reads and checks a file: format version, that the hash matches the
    /// job it carries, and that weights and features agree.
    pub fn load(path: &Path) -> Result<Self, LearnError> {
        let file = path.display().to_string();
        let bad = |reason: String| LearnError::Model {
            file: file.clone(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|source| LearnError::Io {
            path: file.clone(),
            source,
        })?;
        let m: ModelFile =
            serde_json::from_str(&text).map_err(|e| bad(format!("not a model file: {e}")))?;
        if m.format != FORMAT_VERSION {
            return Err(bad(format!(
                "format {} (this build reads format {FORMAT_VERSION})",
                m.format
            )));
        }
        if m.job.hash() != m.job_hash {
            return Err(bad(
                "the job hash does not match the job it describes".into()
            ));
        }
        if let Some(r) = &m.recalibration {
            r.check().map_err(|e| bad(format!("recalibration: {e}")))?;
        }
        if m.weights.len() != m.features.len()
            || m.standardizer.as_ref().is_some_and(|s| {
                s.mean.len() != m.features.len() || s.std.len() != m.features.len()
            })
        {
            return Err(bad(
                "weights, features and standardisation differ in length".into(),
            ));
        }
        Ok(m)
    }
}

impl ModelFile {
    /// The model's output for a joint linear score: the recalibrated
    /// probability if the file has a recalibration map, otherwise the
    /// probability σ(s) (logistic) or the score (linear).
    pub fn prediction(&self, score: f64) -> f64 {
        match &self.recalibration {
            Some(map) => map.apply(score),
            None => crate::plain::link(self.job.params.task, score),
        }
    }

    /// Refuses the file unless it belongs to the job hashed `job_hash`.
    pub fn check_job(&self, job_hash: &str, file: &str) -> Result<(), LearnError> {
        if self.job_hash != job_hash {
            return Err(LearnError::Model {
                file: file.to_string(),
                reason: format!(
                    "it belongs to job {}, not to job {job_hash}; give every party the model file of the same training job",
                    self.job_hash
                ),
            });
        }
        Ok(())
    }
}

/// Writes `bytes` to a temporary file (mode 0600) beside `path` and
/// renames it into place: a failed write leaves no partial file and never
/// clobbers an earlier one.
#[cfg(feature = "files")]
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), LearnError> {
    let io = |source| LearnError::Io {
        path: path.display().to_string(),
        source,
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".indomain-partial-")
        .tempfile_in(dir)
        .map_err(io)?;
    tmp.write_all(bytes).map_err(io)?;
    tmp.as_file().sync_all().map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}

#[cfg(all(test, feature = "files"))]
mod tests {
    use super::*;

    fn sample() -> ModelFile {
        let job = JobSpec {
            mode: "vertical".into(),
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
            params: TrainParams::default(),
            horizontal: None,
            nonce: "1".into(),
        };
        ModelFile {
            format: FORMAT_VERSION,
            job_hash: job.hash(),
            job,
            party: "bank".into(),
            role: PartyRole::Label,
            features: vec!["a".into()],
            standardizer: Some(Standardizer {
                mean: vec![1.0],
                std: vec![2.0],
                clip: 63.0,
            }),
            weights: vec![0.5],
            intercept: Some(-0.1),
            roc: Vec::new(),
            rows: Rows { train: 3, test: 1 },
            evaluation: None,
            loss_per_epoch: vec![0.6, 0.5],
            validation_loss_per_epoch: Vec::new(),
            contribution: None,
            correlations: None,
            written_by: "test".into(),
            training: None,
            calibration: None,
            recalibration: None,
        }
    }

    #[test]
    fn round_trips_and_checks_the_job() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.json");
        let m = sample();
        m.save(&path).unwrap();
        let back = ModelFile::load(&path).unwrap();
        assert_eq!(back, m);
        assert!(back.check_job(&m.job_hash, "m.json").is_ok());
        let mut other = m.job.clone();
        other.nonce = "2".into();
        let err = back
            .check_job(&other.hash(), "m.json")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("m.json") && err.contains("not to job"),
            "{err}"
        );
    }

    #[test]
    fn tampered_or_foreign_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.json");
        let mut m = sample();
        m.job.params.epochs = 99;
        m.save(&path).unwrap();
        assert!(
            ModelFile::load(&path)
                .unwrap_err()
                .to_string()
                .contains("hash")
        );
        std::fs::write(&path, "{\"format\": 1}").unwrap();
        assert!(
            ModelFile::load(&path)
                .unwrap_err()
                .to_string()
                .contains("not a model file")
        );
        let mut m = sample();
        m.format = 7;
        m.save(&path).unwrap();
        assert!(
            ModelFile::load(&path)
                .unwrap_err()
                .to_string()
                .contains("format 7")
        );
    }

    #[test]
    fn calibration_and_recalibration_round_trip() {
        use crate::calibration::Method;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.json");
        let mut m = sample();
        m.job.params.recalibration = Some(Method::Isotonic);
        m.job_hash = m.job.hash();
        let scores = [-2.0, -1.0, 0.0, 1.0, 2.0];
        let labels = [0.0, 0.0, 1.0, 1.0, 1.0];
        let map = Recalibration::fit(Method::Isotonic, &scores, &labels).unwrap();
        m.calibration = Some(CalibrationReport::new(&scores, &labels, Some(&map)));
        m.recalibration = Some(map);
        m.training = Some(TrainingEnd {
            epochs: 30,
            converged: true,
            kept_epoch: 30,
        });
        m.save(&path).unwrap();
        assert_eq!(ModelFile::load(&path).unwrap(), m);
        // A map that is not monotone is refused when the file is read.
        m.recalibration = Some(Recalibration::Isotonic {
            thresholds: vec![0.2, 0.1],
            values: vec![0.3, 0.4],
        });
        m.save(&path).unwrap();
        let err = ModelFile::load(&path).unwrap_err().to_string();
        assert!(err.contains("recalibration"), "{err}");
    }

    /// TrainParams and JobSpec as format 1 had them before #18.
    #[derive(Serialize)]
    struct OldParams {
        task: crate::Task,
        epochs: usize,
        learning_rate: f64,
        l2: f64,
        batch_size: Option<usize>,
        early_stopping: Option<crate::EarlyStopping>,
        frac_bits: u32,
        seed: u64,
        sigmoid: crate::Sigmoid,
    }

    #[derive(Serialize)]
    struct OldSpec {
        mode: String,
        parties: Vec<JobParty>,
        id_column: String,
        test_fraction: f64,
        params: OldParams,
        horizontal: Option<HorizontalSpec>,
        nonce: String,
    }

    #[test]
    fn files_written_before_18_load_and_keep_their_job_hash() {
        // A format-1 file as the previous build wrote it: no optimizer,
        // convergence or recalibration in its parameters, no training,
        // calibration or recalibration fields.
        let old = OldSpec {
            mode: "vertical".into(),
            parties: sample().job.parties,
            id_column: "id".into(),
            test_fraction: 0.25,
            params: OldParams {
                task: crate::Task::Logistic,
                epochs: 20,
                learning_rate: 0.5,
                l2: 0.0,
                batch_size: None,
                early_stopping: None,
                frac_bits: 16,
                seed: 0,
                sigmoid: crate::Sigmoid::Linear,
            },
            horizontal: None,
            nonce: "1".into(),
        };
        let old_bytes = bincode::serde::encode_to_vec(&old, bincode::config::standard()).unwrap();
        let old_hash = format!("sha256:{}", hex(&Sha256::digest(&old_bytes)));
        let json = format!(
            r#"{{"format": 1, "job_hash": "{old_hash}", "job": {}, "party": "bank",
            "role": "Label", "features": ["a"], "standardizer": null, "weights": [0.5],
            "intercept": -0.1, "rows": {{"train": 3, "test": 1}}, "evaluation": null,
            "loss_per_epoch": [0.6], "contribution": null, "written_by": "indomain 0.1.0"}}"#,
            serde_json::to_string(&old).unwrap()
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.json");
        std::fs::write(&path, json).unwrap();
        let m = ModelFile::load(&path).unwrap();
        assert_eq!(m.job.hash(), old_hash);
        assert_eq!(m.job.params.optimizer, crate::Optimizer::GradientDescent);
        assert!(m.job.params.convergence.is_none() && m.recalibration.is_none());
        assert!(m.training.is_none() && m.calibration.is_none());
    }
}
