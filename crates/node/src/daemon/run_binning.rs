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

use super::Node;
use super::raw_rows::RawColumns;
use super::run_mesh::Produced;
use super::run_trees::json_output;
use crate::jobspec::JobSpec;
use crate::plan::BinningPlan;
use crate::state::JobKey;
use indomain_learn::woe::pipeline::{self, Event};
use indomain_net::PartySet;

impl Node {
    /// Reads this node's rows (none at the dealer) and bins them.
    pub(super) fn compute_binning(
        &self,
        key: &JobKey,
        spec: &JobSpec,
        plan: &BinningPlan,
        parties: &mut PartySet,
        max_rows: Option<u64>,
    ) -> Result<Vec<Produced>, String> {
        let me = parties.me();
        let roles = &plan.vertical.roles;
        let table = match plan.vertical.is_data(me) {
            false => None,
            true => Some(self.read_raw(
                spec,
                me,
                max_rows,
                &RawColumns {
                    id: &plan.vertical.id_column,
                    label: (me == roles.label).then_some(plan.vertical.label_column.as_str()),
                    categorical: &plan.categorical,
                },
            )?),
        };
        let progress = self.progress(key);
        let finished = pipeline::run(
            parties,
            &plan.binning_run(),
            Ok(table.as_ref()),
            &mut plan.settings.kernel(),
            &mut rand::rng(),
            &mut |event| match event {
                Event::Aligned(n) => progress.phase(&format!("{n} rows shared; binning")),
                Event::Binned(f) => progress.phase(&format!("{f} features binned; WOE and IV")),
            },
        )
        .map_err(|e| format!("the binning failed: {e}"))?;
        let Some(mut file) = finished.file else {
            return Ok(Vec::new());
        };
        file.written_by = format!("indomain node {} (job {})", self.config.name, spec.id);
        let mut produced = vec![json_output("binning", "binning.json", &file)?];
        if plan.iv_report.contains(&me) {
            produced.push(Produced {
                output: "iv",
                file: "iv.csv".into(),
                bytes: file.iv_report_csv().into_bytes(),
            });
        }
        Ok(produced)
    }
}
