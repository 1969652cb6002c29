//! WOE/IV binning under the node (`protocol = "binning"`,
//! [`crate::plan::BinningPlan`]): the label holder, the feature owners and
//! the dealer run [`indomain_learn::woe::pipeline::run`] as `indomain bin`
//! does — job agreement, PSI join on the id column, the split a scorecard
//! will reuse, local binning of the training rows, and the WOE/IV
//! protocol in the job's mode.
//!
//! Outputs, to every data party: `binning` (its binning file, JSON: its
//! own edges or categories, the counts and WOE the mode lets it know, every
//! IV it learned, the job's hash for the scorecard that uses it) and, where
//! declared, `iv` (the IVs it learned, ranked, CSV).
//!
//! What each party learns: what [`crate::plan::binning`] states for the
//! job's mode; the dealer, the shapes.

use super::json_output;
use super::raw_rows::read_if_data;
use super::{JobProtocol, JobRun, Produced};
use crate::daemon::error::JobError;
use crate::plan::BinningPlan;
use indomain_learn::woe::pipeline::{self, Event};

impl JobProtocol for BinningPlan {
    /// Reads this node's rows (none at the dealer) and bins them.
    fn run(&self, job: JobRun<'_>) -> Result<Vec<Produced>, JobError> {
        let me = job.parties.me();
        let table = read_if_data(&job, &self.vertical, &self.categorical)?;
        let JobRun {
            spec,
            parties,
            progress,
            own,
            ..
        } = job;
        progress.phase("running the protocol");
        let finished = pipeline::run(
            parties,
            &self.binning_run(),
            Ok(table.as_ref()),
            &mut self.settings.kernel(),
            &mut rand::rng(),
            &mut |event| match event {
                Event::Aligned(n) => progress.phase(&format!("{n} rows shared; binning")),
                Event::Binned(f) => progress.phase(&format!("{f} features binned; WOE and IV")),
            },
        )
        .map_err(|e| JobError::protocol("binning", e))?;
        let Some(mut file) = finished.file else {
            return Ok(Vec::new());
        };
        file.written_by = format!("indomain node {} (job {})", own.name(), spec.id);
        let mut produced = vec![json_output("binning", "binning.json", &file)?];
        if self.iv_report.contains(&me) {
            produced.push(Produced {
                output: "iv",
                file: "iv.csv".into(),
                bytes: file.iv_report_csv().into_bytes(),
            });
        }
        Ok(produced)
    }
}
