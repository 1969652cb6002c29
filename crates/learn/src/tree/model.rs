//! Gradient-boosted tree model files: one versioned JSON file per party
//! (format 2, `"kind": "gbdt"`), tied to its job by a SHA-256 hash.
//!
//! Every party's file holds the tree structure all parties share (node
//! ids, which party splits each node, where the leaves are), and only its
//! own part of the rest: for its own splits the feature, its bin and the
//! threshold in feature units (its binning: edges or categories) and where
//! missing values go; at the label holder the leaf weights and base
//! margin; the training parameters, the held-out metrics, the validation
//! loss per tree and the contribution report (the same in every file); and
//! feature importance — total gain and split count — of its own features
//! only (each split's gain is opened to its owner alone).
//!
//! [`load_any`] reads a model file of either kind: format-1 files are
//! linear models (`crate::model::ModelFile`), format 2 says its kind.

use super::forest::{Node, Threshold, Tree};
use super::params::{GbdtParams, InstanceSpace};
use crate::LearnError;
use crate::binning::FeatureBins;
use crate::contribution::Report;
use crate::metrics::Evaluation;
use crate::model::{JobParty, ModelFile, PartyRole, Rows};
use serde::{Deserialize, Serialize};

/// The format of tree model files.
pub const TREE_FORMAT: u32 = 2;

/// The kind of a gradient-boosted tree model file.
pub const KIND: &str = "gbdt";

/// What every party of a tree job agrees on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TreeJobSpec {
    /// Every party, in the agreed order.
    pub parties: Vec<JobParty>,
    /// The id column rows are aligned on.
    pub id_column: String,
    /// Share of the aligned rows held out for evaluation.
    pub test_fraction: f64,
    /// The tree parameters.
    pub params: GbdtParams,
    /// Columns every party reads as categorical.
    pub categorical: Vec<String>,
    /// Whether the contribution report is computed.
    pub contribution: bool,
    /// A nonce drawn by the label holder, so that two runs are two jobs.
    pub nonce: String,
}

impl TreeJobSpec {
    /// `sha256:<hex>` of the spec's bincode encoding, with a tag that keeps
    /// it apart from linear jobs.
    pub fn hash(&self) -> String {
        crate::model::job_hash(b"indomain gbdt job v1", self)
    }
}

/// A split as one party's file records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SplitRecord {
    /// The party that splits (its name).
    pub party: String,
    /// This party's own splits only: the feature, bins and threshold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub own: Option<OwnSplit>,
    /// The left child's node id.
    pub left: usize,
    /// The right child's node id.
    pub right: usize,
}

/// One of this party's splits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OwnSplit {
    /// The feature's column name.
    pub feature: String,
    /// Its position among this party's features.
    pub index: usize,
    /// The last value bin that goes left.
    pub bin: u16,
    /// The rule in feature units (`x < 3.5`, `x in {a, b}`).
    pub rule: String,
    /// Where missing values go.
    pub missing_left: bool,
    /// The split's gain (loss reduction), as opened to this party.
    pub gain: Option<f64>,
}

/// A node as a file records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeRecord {
    /// A split.
    Split(SplitRecord),
    /// A leaf and its number.
    Leaf(usize),
}

/// Importance of one of this party's features.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Importance {
    /// The feature.
    pub feature: String,
    /// Σ gain of its splits.
    pub total_gain: f64,
    /// Number of splits on it.
    pub splits: usize,
}

/// One party's tree model file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TreeModelFile {
    /// [`TREE_FORMAT`].
    pub format: u32,
    /// [`KIND`].
    pub kind: String,
    /// The hash of `job`.
    pub job_hash: String,
    /// The job.
    pub job: TreeJobSpec,
    /// The party this file belongs to.
    pub party: String,
    /// Its role.
    pub role: PartyRole,
    /// Its features and their bins (edges or categories), in order.
    pub features: Vec<FeatureBins>,
    /// The trees: nodes by id.
    pub trees: Vec<Vec<NodeRecord>>,
    /// Leaf weights per tree (label holder only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leaf_weights: Option<Vec<Vec<f64>>>,
    /// The score every row starts from (label holder only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_margin: Option<f64>,
    /// Rows trained on and held out.
    pub rows: Rows,
    /// Held-out metrics.
    pub evaluation: Option<Evaluation>,
    /// Validation loss after each tree (early stopping).
    pub validation_loss: Vec<f64>,
    /// Trees grown before early stopping kept the best.
    pub trees_grown: usize,
    /// This party's features' importance.
    pub importance: Vec<Importance>,
    /// The contribution report.
    pub contribution: Option<Report>,
    /// The trust record: where the correlated randomness of the secure
    /// products came from, `dealer NAME` or `two-party`
    /// ([`crate::model::trust_record`]; absent in files written before
    /// issue #21).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlations: Option<String>,
    /// Whether node membership was hidden or leaked to the data parties
    /// during training (`"hidden"` / `"leaked"`; files written before the
    /// mode existed have none and were hidden). Always equal to the job's
    /// `params.instance_space`.
    #[serde(default)]
    pub instance_space: InstanceSpace,
    /// The indomain version that wrote the file.
    pub written_by: String,
}

impl TreeModelFile {
    /// The forest as the scoring protocol takes it, with this party's
    /// rank (`me`) on its own splits; others' splits carry only their
    /// owner.
    pub fn forest(&self, me: usize) -> Result<Vec<Tree>, LearnError> {
        let rank_of = |name: &str| -> Result<usize, LearnError> {
            let label = self
                .job
                .parties
                .iter()
                .position(|p| p.role == PartyRole::Label)
                .ok_or_else(|| self.bad("no label holder in the job"))?;
            let mut order = vec![label];
            order.extend(
                (0..self.job.parties.len())
                    .filter(|&i| i != label && self.job.parties[i].role == PartyRole::Feature),
            );
            order
                .iter()
                .position(|&i| self.job.parties[i].name == name)
                .ok_or_else(|| self.bad(&format!("split by {name}, not a data party of the job")))
        };
        self.trees
            .iter()
            .map(|nodes| {
                let tree = Tree {
                    nodes: nodes
                        .iter()
                        .map(|n| match n {
                            NodeRecord::Leaf(leaf) => Ok(Node::Leaf { leaf: *leaf }),
                            NodeRecord::Split(s) => {
                                let party = rank_of(&s.party)?;
                                let threshold = match (&s.own, party == me) {
                                    (Some(o), true) => Threshold {
                                        feature: o.index,
                                        bin: o.bin,
                                        missing_left: o.missing_left,
                                    },
                                    (None, false) => Threshold {
                                        feature: 0,
                                        bin: 0,
                                        missing_left: false,
                                    },
                                    _ => {
                                        return Err(
                                            self.bad("a split's details do not match its owner")
                                        );
                                    }
                                };
                                Ok(Node::Split {
                                    party,
                                    threshold,
                                    left: s.left,
                                    right: s.right,
                                })
                            }
                        })
                        .collect::<Result<_, _>>()?,
                };
                tree.check().map_err(|e| self.bad(&e.to_string()))?;
                Ok(tree)
            })
            .collect()
    }

    fn bad(&self, reason: &str) -> LearnError {
        LearnError::Model {
            file: self.party.clone(),
            reason: reason.to_string(),
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

/// A model file of either kind.
#[derive(Debug, Clone, PartialEq)]
pub enum AnyModel {
    /// Vertical or horizontal linear model (format 1).
    Linear(Box<ModelFile>),
    /// Gradient-boosted trees (format 2, kind `gbdt`).
    Trees(Box<TreeModelFile>),
}

#[cfg(feature = "files")]
impl TreeModelFile {
    /// Writes the file as pretty JSON, atomically and readable only by
    /// this user.
    pub fn save(&self, path: &std::path::Path) -> Result<(), LearnError> {
        let json = serde_json::to_string_pretty(self).map_err(|e| LearnError::Model {
            file: path.display().to_string(),
            reason: e.to_string(),
        })?;
        crate::model::write_private(path, json.as_bytes())
    }
}

/// Reads a model file of either kind, checking its format, kind and job
/// hash.
#[cfg(feature = "files")]
pub fn load_any(path: &std::path::Path) -> Result<AnyModel, LearnError> {
    let file = path.display().to_string();
    let bad = |reason: String| LearnError::Model {
        file: file.clone(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|source| LearnError::Io {
        path: file.clone(),
        source,
    })?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| bad(format!("not a model file: {e}")))?;
    let format = value.get("format").and_then(serde_json::Value::as_u64);
    match (
        format,
        value.get("kind").and_then(serde_json::Value::as_str),
    ) {
        (Some(1), _) => Ok(AnyModel::Linear(Box::new(ModelFile::load(path)?))),
        (Some(2), Some(KIND)) => {
            let m: TreeModelFile = serde_json::from_value(value)
                .map_err(|e| bad(format!("not a tree model file: {e}")))?;
            if m.job.hash() != m.job_hash {
                return Err(bad(
                    "the job hash does not match the job it describes".into()
                ));
            }
            if m.instance_space != m.job.params.instance_space {
                return Err(bad(format!(
                    "it says the instance space was {}, its job says {}",
                    m.instance_space.name(),
                    m.job.params.instance_space.name()
                )));
            }
            if let Some(w) = &m.leaf_weights
                && (w.len() != m.trees.len())
            {
                return Err(bad("leaf weights for another number of trees".into()));
            }
            let me = m.job.parties.iter().position(|p| p.name == m.party);
            if me.is_none() {
                return Err(bad(format!("{} is not a party of its job", m.party)));
            }
            Ok(AnyModel::Trees(Box::new(m)))
        }
        (Some(2), kind) => Err(bad(format!(
            "a model of kind {kind:?}, which this build does not read"
        ))),
        (f, _) => Err(bad(format!(
            "format {} (this build reads formats 1 and 2)",
            f.map_or("missing".to_string(), |f| f.to_string())
        ))),
    }
}
