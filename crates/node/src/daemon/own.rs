//! What a running job's protocol reads at this node: its own dataset
//! ([`Node::read_own`], the one place a job reads data, with the row limit
//! its policy granted), the model parts and binning files earlier jobs
//! released to it, and
//! where its progress goes.
//!
//! What each side learns: nothing; this is local.

use super::error::JobError;
use super::jobs::Progress;
use super::protocols::{OwnData, Report};
use super::{Node, lock};
use crate::dataset::Table;
use crate::jobspec::{Party, is_job_id, is_name};
use crate::state::JobKey;
use std::path::PathBuf;
use std::sync::Arc;

impl Node {
    /// Reads `party`'s columns of its dataset at this node, at most
    /// `max_rows` rows (more is [`JobError::RowLimit`]).
    pub(super) fn read_own(&self, party: &Party, max_rows: Option<u64>) -> Result<Table, JobError> {
        let dataset =
            self.config.datasets.get(&party.dataset).ok_or_else(|| {
                JobError::Job(format!("no dataset {:?} on this node", party.dataset))
            })?;
        dataset
            .read(&party.columns, max_rows)
            .map_err(JobError::reading)
    }

    /// The model file that job `model` (`<id>`, or `<proposer>/<id>` when
    /// several proposers used the id) released to this node.
    pub(super) fn model_part(&self, model: &str) -> Result<PathBuf, JobError> {
        self.released(model, "model.json", "training job", "model")
    }

    /// The file `file` that the `kind` named by parameter `param` (`<id>`,
    /// or `<proposer>/<id>`) released to this node.
    fn released(
        &self,
        job: &str,
        file: &str,
        kind: &str,
        param: &str,
    ) -> Result<PathBuf, JobError> {
        let shown = crate::bounds::printable(job, 80);
        // A job key, not a path: no way out of results/.
        let key = match JobKey::parse(job) {
            Some(key) => key,
            None => {
                let keys = lock(&self.state).history().with_id(job).to_vec();
                match keys.as_slice() {
                    [key] => key.clone(),
                    [] => {
                        return Err(JobError::Model(format!("no {kind} {shown:?} on this node")));
                    }
                    _ => {
                        return Err(JobError::Model(format!(
                            "{kind} {shown:?} is ambiguous here: give {param} = \"<proposer>/<id>\""
                        )));
                    }
                }
            }
        };
        if !is_job_id(&key.id) || !is_name(&key.proposer) {
            return Err(JobError::Model(format!(
                "parameter {param} = {shown:?} is not a job"
            )));
        }
        let path = self.results_dir(&key).join(file);
        if !path.exists() {
            return Err(JobError::Model(format!(
                "{kind} {key} released no {file} to this node ({} is missing)",
                path.display()
            )));
        }
        Ok(path)
    }

    /// What job `key`'s protocol reads here as `party`.
    pub(super) fn own<'a>(&'a self, key: &'a JobKey, party: &'a Party) -> Own<'a> {
        Own {
            node: self,
            key,
            party,
        }
    }

    /// Where job `key`'s progress goes.
    pub(super) fn reporter<'a>(&'a self, key: &'a JobKey) -> Reporter<'a> {
        Reporter {
            node: self,
            key,
            progress: self.progress(key),
        }
    }
}

/// A job's view of this node's data.
pub(super) struct Own<'a> {
    node: &'a Node,
    key: &'a JobKey,
    party: &'a Party,
}

impl OwnData for Own<'_> {
    fn name(&self) -> &str {
        &self.node.config.name
    }

    fn read(&self, max_rows: Option<u64>) -> Result<Table, JobError> {
        // A cancelled job reads nothing.
        self.node.check_cancelled(self.key)?;
        self.node.read_own(self.party, max_rows)
    }

    fn model_part(&self, model: &str) -> Result<PathBuf, JobError> {
        self.node.model_part(model)
    }

    fn binning_file(&self, job: &str) -> Result<PathBuf, JobError> {
        self.node
            .released(job, "binning.json", "binning job", "binning")
    }
}

/// A job's progress, for `job status`.
pub(super) struct Reporter<'a> {
    node: &'a Node,
    key: &'a JobKey,
    progress: Arc<Progress>,
}

impl Report for Reporter<'_> {
    fn phase(&self, phase: &str) {
        self.progress.phase(phase);
    }

    fn count(&self, done: u64, total: u64, unit: &str) {
        self.progress.count(done, total, unit);
    }

    fn opening(&self) {
        self.node.mark_opened(self.key);
    }
}
