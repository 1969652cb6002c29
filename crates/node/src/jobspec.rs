//! Job specs: what a job computes (its protocol), which party contributes
//! which dataset and columns, its parameters, and every output with the
//! party that receives it. A spec is written in TOML by the operator who
//! submits the job; peers receive it as JSON and check it against their
//! policy. Its identity is [`JobSpec::hash`], the SHA-256 of a canonical
//! serialisation (not of the TOML text), which receipts and audit records
//! quote.

use crate::bounds;
use crate::error::{Location, NodeError};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;
use toml::Spanned;

/// The longest job id, party name, dataset or column name accepted.
const MAX_NAME_LEN: usize = 128;
/// Upper bounds on a spec's size, so a peer cannot send an unbounded one
/// (each protocol's own party counts are tighter: [`Protocol::party_count`]).
pub(crate) const MAX_COLUMNS: usize = 1024;
const MAX_OUTPUTS: usize = 64;
const MAX_PARAMETERS: usize = 64;

/// The computation a job runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Protocol {
    /// PSI: the matching keys.
    PsiIntersection,
    /// PSI: only the number of matching keys.
    PsiCardinality,
    /// PSI: the number of matches and the sum of the sender's values over them.
    PsiSum,
    /// PSI: both parties learn which of their rows match, in a common order.
    PsiJoin,
    /// N-party secure statistics (sum, count, mean, variance, histogram).
    Aggregate,
    /// Federated model training.
    Train,
    /// Inference with a trained model.
    Predict,
    /// WOE/IV binning of every party's features against the label
    /// holder's labels.
    Binning,
}

impl Protocol {
    /// The outputs a job of this protocol may declare.
    pub fn outputs(self) -> &'static [&'static str] {
        match self {
            Protocol::PsiIntersection => &["intersection"],
            Protocol::PsiCardinality => &["cardinality"],
            Protocol::PsiSum => &["cardinality", "sum"],
            Protocol::PsiJoin => &["alignment"],
            Protocol::Aggregate => &["statistics"],
            Protocol::Train => &["model", "metrics"],
            Protocol::Predict => &["predictions"],
            Protocol::Binning => &["binning", "iv"],
        }
    }

    /// How many parties a job of this protocol has: (fewest, most), as the
    /// protocol crates take them. A statistics job: 2 to
    /// [`indomain_aggregate::stats::MAX_PARTIES`], the dealer included; a
    /// training job: the label holder, 1 to
    /// [`indomain_learn::align::MAX_FEATURE_HOLDERS`] feature holders and
    /// the dealer (no dealer with two-party correlations), or a
    /// horizontal job's server and 2 to
    /// [`crate::plan::horizontal::MAX_CLIENTS`] clients (each plan checks
    /// its own count); a scoring job: the same data parties and, for trees
    /// and scorecards, the dealer; a binning job: as a vertical training
    /// job, with its dealer or (two-party correlations) without.
    pub fn party_count(self) -> (usize, usize) {
        let features = indomain_learn::align::MAX_FEATURE_HOLDERS;
        match self {
            Protocol::PsiIntersection
            | Protocol::PsiCardinality
            | Protocol::PsiSum
            | Protocol::PsiJoin => (2, 2),
            Protocol::Aggregate => (2, indomain_aggregate::stats::MAX_PARTIES),
            Protocol::Train => (
                2,
                (features + 2).max(crate::plan::horizontal::MAX_CLIENTS + 1),
            ),
            Protocol::Binning => (2, features + 2),
            Protocol::Predict => (2, features + 2),
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::PsiIntersection => "psi-intersection",
            Protocol::PsiCardinality => "psi-cardinality",
            Protocol::PsiSum => "psi-sum",
            Protocol::PsiJoin => "psi-join",
            Protocol::Aggregate => "aggregate",
            Protocol::Train => "train",
            Protocol::Predict => "predict",
            Protocol::Binning => "binning",
        })
    }
}

/// One party of a job: a node, the dataset it contributes and the columns
/// of that dataset the job reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Party {
    /// The node's name.
    pub name: String,
    /// The dataset, by its name in that node's configuration.
    pub dataset: String,
    /// The columns the job reads from it.
    pub columns: Vec<String>,
}

/// One output of a job and the party that receives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Output {
    /// What the output is (one of [`Protocol::outputs`]).
    pub name: String,
    /// The party that receives it.
    pub receiver: String,
}

/// A job parameter's value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Param {
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// A string.
    Text(String),
}

impl fmt::Display for Param {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Param::Bool(b) => write!(f, "{b}"),
            Param::Int(i) => write!(f, "{i}"),
            Param::Float(x) => write!(f, "{x}"),
            Param::Text(s) => write!(f, "{s:?}"),
        }
    }
}

/// A validated job spec.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobSpec {
    /// The job's id; the submitting node assigns one when the file has none.
    pub id: String,
    /// What the job computes.
    pub protocol: Protocol,
    /// Why: free text that policy may restrict.
    pub purpose: String,
    /// The parties in protocol order.
    pub parties: Vec<Party>,
    /// Protocol parameters (e.g. `min_group_size`, `min_intersection`).
    pub parameters: BTreeMap<String, Param>,
    /// Every output and its receiver.
    pub outputs: Vec<Output>,
}

/// The SHA-256 identity of a job spec.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SpecHash(pub [u8; 32]);

impl fmt::Display for SpecHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::hex::encode(&self.0))
    }
}

impl fmt::Debug for SpecHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Domain separation for the spec hash.
const SPEC_HASH_DOMAIN: &[u8] = b"indomain/job-spec/v1\n";

impl JobSpec {
    /// The canonical serialisation: compact JSON with fields in declaration
    /// order and parameters sorted by name, so two nodes that parse the same
    /// job (from TOML or from JSON) get the same bytes.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        // Serialising plain structs, Vecs and BTreeMaps to a Vec cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// SHA-256 over a domain tag and [`JobSpec::canonical_bytes`].
    pub fn hash(&self) -> SpecHash {
        let mut h = Sha256::new();
        h.update(SPEC_HASH_DOMAIN);
        h.update(self.canonical_bytes());
        SpecHash(h.finalize().into())
    }

    /// The party entry of `name`, if it takes part.
    pub fn party(&self, name: &str) -> Option<&Party> {
        self.parties.iter().find(|p| p.name == name)
    }

    /// An integer parameter, if present and an integer.
    pub fn int_param(&self, name: &str) -> Option<i64> {
        match self.parameters.get(name) {
            Some(Param::Int(i)) => Some(*i),
            _ => None,
        }
    }

    /// Whether `name` is the dealer of a training, statistics, binning or
    /// scoring job (parameter `dealer`) or the server of a horizontal
    /// training job (parameter `server`): a party that reads no data and so
    /// names no dataset.
    pub fn is_dealer(&self, name: &str) -> bool {
        let param = if self.is_horizontal() {
            "server"
        } else {
            "dealer"
        };
        matches!(
            self.protocol,
            Protocol::Train | Protocol::Aggregate | Protocol::Binning | Protocol::Predict
        ) && self.text_param(param) == Some(name)
    }

    /// Whether this is a horizontal training job (`train` with parameter
    /// `mode = "horizontal"`; without `mode`, training is vertical).
    pub fn is_horizontal(&self) -> bool {
        self.protocol == Protocol::Train && self.text_param("mode") == Some("horizontal")
    }

    /// A text parameter, if present and text.
    pub fn text_param(&self, name: &str) -> Option<&str> {
        match self.parameters.get(name) {
            Some(Param::Text(s)) => Some(s),
            _ => None,
        }
    }

    /// A number parameter (integer or float), if present and a number.
    pub fn number_param(&self, name: &str) -> Option<f64> {
        match self.parameters.get(name) {
            Some(Param::Int(i)) => Some(*i as f64),
            Some(Param::Float(x)) => Some(*x),
            _ => None,
        }
    }

    /// The receivers of `output`, in the order of the parties.
    pub fn receivers(&self, output: &str) -> Vec<usize> {
        self.parties
            .iter()
            .enumerate()
            .filter(|(_, p)| {
                self.outputs
                    .iter()
                    .any(|o| o.name == output && o.receiver == p.name)
            })
            .map(|(i, _)| i)
            .collect()
    }

    /// Reads and validates a spec from a TOML file, and checks it against
    /// what the submitting node knows when `known` is given; errors name
    /// the file and line.
    pub fn load(path: &Path, known: Option<&Known<'_>>) -> Result<JobSpec, NodeError> {
        let text = std::fs::read_to_string(path).map_err(|e| crate::error::io_error(path, e))?;
        JobSpec::from_toml(path, &text, known)
    }

    /// Parses and validates a spec from TOML `text` read from `path` (and
    /// checks it against `known`, if given).
    pub fn from_toml(
        path: &Path,
        text: &str,
        known: Option<&Known<'_>>,
    ) -> Result<JobSpec, NodeError> {
        let err = |offset: Option<usize>, reason: String| NodeError::JobSpec {
            at: Location::at(path, text, offset),
            reason,
        };
        let raw: RawSpec =
            toml::from_str(text).map_err(|e| err(e.span().map(|s| s.start), e.message().into()))?;
        let spec = JobSpec {
            id: raw
                .id
                .as_ref()
                .map(|s| s.get_ref().clone())
                .unwrap_or_default(),
            protocol: raw.protocol,
            purpose: raw.purpose.clone(),
            parties: raw
                .parties
                .iter()
                .map(|p| Party {
                    name: p.name.get_ref().clone(),
                    dataset: p
                        .dataset
                        .as_ref()
                        .map(|d| d.get_ref().clone())
                        .unwrap_or_default(),
                    columns: p
                        .columns
                        .as_ref()
                        .map(|c| c.get_ref().clone())
                        .unwrap_or_default(),
                })
                .collect(),
            parameters: raw
                .parameters
                .iter()
                .map(|(k, v)| (k.get_ref().clone(), v.clone()))
                .collect(),
            outputs: raw
                .outputs
                .iter()
                .map(|o| Output {
                    name: o.name.get_ref().clone(),
                    receiver: o.receiver.get_ref().clone(),
                })
                .collect(),
        };
        // Validate, then place the first problem on the line it comes from.
        let problem = spec
            .problem()
            .or_else(|| known.and_then(|k| spec.problem_known(k)));
        match problem {
            None => Ok(spec),
            Some(problem) => {
                let offset = match &problem.at {
                    Part::Id => raw.id.as_ref().map(|s| s.span().start),
                    Part::Whole => None,
                    Part::Party(i) => raw.parties.get(*i).map(|p| p.name.span().start),
                    Part::Dataset(i) => raw
                        .parties
                        .get(*i)
                        .map(|p| p.dataset.as_ref().map_or(p.name.span(), |d| d.span()).start),
                    Part::Columns(i) => raw
                        .parties
                        .get(*i)
                        .map(|p| p.columns.as_ref().map_or(p.name.span(), |c| c.span()).start),
                    Part::OutputName(i) => raw.outputs.get(*i).map(|o| o.name.span().start),
                    Part::Receiver(i) => raw.outputs.get(*i).map(|o| o.receiver.span().start),
                    Part::Parameter(name) => raw
                        .parameters
                        .keys()
                        .find(|k| k.get_ref() == name)
                        .map(|k| k.span().start),
                };
                Err(err(offset, problem.reason))
            }
        }
    }

    /// The job's typed plan ([`crate::plan`]): every parameter parsed and
    /// bounded, and the outputs each party receives equal to what the
    /// spec declares. [`JobSpec::validate`] builds it too, so a spec that
    /// passed validation has a plan.
    pub fn plan(&self) -> Result<crate::plan::JobPlan, NodeError> {
        if let Some(p) = self.structure_problem() {
            return Err(NodeError::InvalidJob(p.reason));
        }
        crate::plan::build(self).map_err(|p| NodeError::InvalidJob(p.reason))
    }

    /// Checks a spec that arrived as JSON (from a peer or the control
    /// socket), its size ([`bounds::MAX_SPEC_BYTES`]) and its plan
    /// included.
    pub fn validate(&self) -> Result<(), NodeError> {
        self.checked_plan().map(drop)
    }

    /// [`JobSpec::validate`], returning the plan it built: what a node
    /// keeps of a job it accepts, so nothing is parsed again at run time.
    pub fn checked_plan(&self) -> Result<crate::plan::JobPlan, NodeError> {
        let size = self.canonical_bytes().len();
        if size > bounds::MAX_SPEC_BYTES {
            return Err(NodeError::InvalidJob(format!(
                "the spec is {size} bytes, more than the {} allowed",
                bounds::MAX_SPEC_BYTES
            )));
        }
        self.plan()
    }

    /// Checks a valid spec against what the submitting node knows.
    pub fn check_known(&self, known: &Known<'_>) -> Result<(), NodeError> {
        match self.problem_known(known) {
            None => Ok(()),
            Some(p) => Err(NodeError::InvalidJob(p.reason)),
        }
    }

    /// The first thing the submitting node knows to be wrong: a party that
    /// is neither it nor a configured peer, or its own dataset or columns
    /// missing.
    fn problem_known(&self, known: &Known<'_>) -> Option<Problem> {
        let bad = |at: Part, reason: String| Some(Problem { at, reason });
        let Some(mine) = self.parties.iter().position(|p| p.name == known.me) else {
            return bad(
                Part::Whole,
                format!("this node ({}) is not a party of the job", known.me),
            );
        };
        if let Some(i) = self
            .parties
            .iter()
            .position(|p| p.name != known.me && !known.peers.contains(&p.name.as_str()))
        {
            let name = &self.parties[i].name;
            return bad(
                Part::Party(i),
                format!("party {name:?} is not a configured peer"),
            );
        }
        let party = &self.parties[mine];
        if self.is_dealer(&party.name) {
            return None;
        }
        let Some(columns) = known.catalog.get(&party.dataset) else {
            return bad(
                Part::Dataset(mine),
                format!("no dataset {:?} on this node", party.dataset),
            );
        };
        if let Some(c) = party.columns.iter().find(|c| !columns.contains_key(*c)) {
            return bad(
                Part::Columns(mine),
                format!("dataset {:?} has no column {c:?}", party.dataset),
            );
        }
        None
    }

    /// The first thing wrong with the spec, if any: its structure, then its
    /// plan. Reasons quote the spec's own text only as names that passed
    /// the name rule, or cut.
    fn problem(&self) -> Option<Problem> {
        self.structure_problem()
            .or_else(|| crate::plan::build(self).err())
    }

    /// The first thing wrong with the spec's structure: ids and names,
    /// party count, datasets and columns, declared outputs.
    fn structure_problem(&self) -> Option<Problem> {
        let bad = |at: Part, reason: String| Some(Problem { at, reason });
        if !self.id.is_empty() && !is_job_id(&self.id) {
            return bad(
                Part::Id,
                format!("job id {}: {JOB_ID_RULE}", shown(&self.id)),
            );
        }
        if let Err(e) = bounds::check_len("the purpose", &self.purpose, bounds::MAX_PURPOSE) {
            return bad(Part::Whole, e.to_string());
        }
        for (name, value) in &self.parameters {
            if !is_name(name) {
                return bad(
                    Part::Whole,
                    format!("parameter {}: {NAME_RULE}", shown(name)),
                );
            }
            if let Param::Text(text) = value
                && let Err(e) =
                    bounds::check_len(&format!("parameter {name}"), text, bounds::MAX_TEXT_PARAM)
            {
                return bad(Part::Whole, e.to_string());
            }
        }
        let (fewest, most) = self.protocol.party_count();
        if self.parties.len() < fewest || self.parties.len() > most {
            return bad(
                Part::Whole,
                format!(
                    "{} takes {fewest}..={most} parties, the spec names {}",
                    self.protocol,
                    self.parties.len()
                ),
            );
        }
        if self.parameters.len() > MAX_PARAMETERS || self.outputs.len() > MAX_OUTPUTS {
            return bad(Part::Whole, "too many parameters or outputs".into());
        }
        let mut names = BTreeSet::new();
        for (i, p) in self.parties.iter().enumerate() {
            if !is_name(&p.name) {
                return bad(Part::Party(i), format!("{}: {NAME_RULE}", shown(&p.name)));
            }
            if self.is_dealer(&p.name) {
                if !p.dataset.is_empty() || !p.columns.is_empty() {
                    return bad(
                        Part::Dataset(i),
                        format!(
                            "party {:?} is the {}, which reads no data: leave out its dataset and columns",
                            p.name,
                            if self.is_horizontal() {
                                "server"
                            } else {
                                "dealer"
                            }
                        ),
                    );
                }
                if !names.insert(p.name.as_str()) {
                    return bad(
                        Part::Party(i),
                        format!("party {:?} is listed twice", p.name),
                    );
                }
                continue;
            }
            if p.dataset.is_empty() {
                return bad(
                    Part::Dataset(i),
                    format!(
                        "party {:?} names no dataset (only the dealer of a training, aggregate, binning or scoring job, or a horizontal training job's server, may leave it out)",
                        p.name
                    ),
                );
            }
            for name in [&p.name, &p.dataset].into_iter().chain(&p.columns) {
                if !is_name(name) {
                    return bad(Part::Party(i), format!("{}: {NAME_RULE}", shown(name)));
                }
            }
            if p.columns.is_empty() || p.columns.len() > MAX_COLUMNS {
                return bad(
                    Part::Party(i),
                    format!("party {:?} names no columns", p.name),
                );
            }
            if !names.insert(p.name.as_str()) {
                return bad(
                    Part::Party(i),
                    format!("party {:?} is listed twice", p.name),
                );
            }
        }
        if self.outputs.is_empty() {
            return bad(Part::Whole, "the spec declares no output".into());
        }
        let mut declared = BTreeSet::new();
        for (i, o) in self.outputs.iter().enumerate() {
            if !self.protocol.outputs().contains(&o.name.as_str()) {
                return bad(
                    Part::OutputName(i),
                    format!(
                        "{} has no output {} (it has {:?})",
                        self.protocol,
                        shown(&o.name),
                        self.protocol.outputs()
                    ),
                );
            }
            if !names.contains(o.receiver.as_str()) {
                return bad(
                    Part::Receiver(i),
                    format!(
                        "output {:?} goes to {}, which is not a party of the job",
                        o.name,
                        shown(&o.receiver)
                    ),
                );
            }
            if !declared.insert((&o.name, &o.receiver)) {
                return bad(
                    Part::OutputName(i),
                    format!("output {:?} to {:?} is declared twice", o.name, o.receiver),
                );
            }
        }
        None
    }
}

const NAME_RULE: &str = "names use ASCII letters, digits, '-', '_' or '.' (1 to 128)";
const JOB_ID_RULE: &str =
    "job ids use ASCII letters, digits, '-', '_' or '.' (1 to 128), and do not begin with '.'";

/// Whether `s` is an acceptable id or name.
pub fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_NAME_LEN
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Whether `s` is an acceptable job id: a name that does not begin with a
/// dot (so `.` and `..` never name a directory of results, and no job's
/// files are hidden).
pub fn is_job_id(s: &str) -> bool {
    is_name(s) && !s.starts_with('.')
}

/// A name from a spec as an error may quote it: escaped and cut.
fn shown(name: &str) -> String {
    format!("\"{}\"", bounds::printable(name, 64))
}

/// What the submitting node knows, to check a spec against before
/// proposing it.
pub struct Known<'a> {
    /// The node's name.
    pub me: &'a str,
    /// Its configured peers.
    pub peers: Vec<&'a str>,
    /// Its datasets and their columns' grades.
    pub catalog: &'a BTreeMap<String, BTreeMap<String, crate::grade::Grade>>,
}

/// Which part of a spec a problem is in, to find its line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Part {
    Id,
    Whole,
    Party(usize),
    Dataset(usize),
    Columns(usize),
    OutputName(usize),
    Receiver(usize),
    /// A parameter, by name.
    Parameter(String),
}

/// The first thing wrong with a spec, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    pub at: Part,
    pub reason: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpec {
    id: Option<Spanned<String>>,
    protocol: Protocol,
    #[serde(default)]
    purpose: String,
    parties: Vec<RawParty>,
    #[serde(default)]
    parameters: BTreeMap<Spanned<String>, Param>,
    outputs: Vec<RawOutput>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawParty {
    name: Spanned<String>,
    // Absent only for a training or aggregate job's dealer, which reads no data.
    dataset: Option<Spanned<String>>,
    columns: Option<Spanned<Vec<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOutput {
    name: Spanned<String>,
    receiver: Spanned<String>,
}

#[cfg(test)]
mod tests;
