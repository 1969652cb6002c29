//! The protocols run over in-memory party sets, with their data handed in
//! (no node, no QUIC): what each party produces, and what a threshold
//! keeps from it.

use super::*;
use crate::dataset::Cell;
use std::path::Path;

/// A party's data, handed to the protocol as its dataset would give it.
struct Given {
    name: String,
    table: Table,
}

impl OwnData for Given {
    fn name(&self) -> &str {
        &self.name
    }

    fn read(&self, max_rows: Option<u64>) -> Result<Table, JobError> {
        match max_rows {
            Some(limit) if self.table.rows.len() as u64 > limit => Err(JobError::RowLimit {
                dataset: self.name.clone(),
                limit,
            }),
            _ => Ok(Table {
                columns: self.table.columns.clone(),
                rows: self.table.rows.clone(),
            }),
        }
    }

    fn model_part(&self, model: &str) -> Result<PathBuf, JobError> {
        Err(JobError::Model(format!("no model {model} here")))
    }

    fn binning_file(&self, job: &str) -> Result<PathBuf, JobError> {
        Err(JobError::Model(format!("no binning job {job} here")))
    }
}

/// Progress goes nowhere.
struct Quiet;

impl Report for Quiet {
    fn phase(&self, _: &str) {}
    fn count(&self, _: u64, _: u64, _: &str) {}
    fn opening(&self) {}
}

fn spec(text: &str) -> JobSpec {
    JobSpec::from_toml(Path::new("job.toml"), text, None).unwrap()
}

fn table(columns: &[&str], rows: &[&[&str]]) -> Table {
    Table {
        columns: columns.iter().map(|c| c.to_string()).collect(),
        rows: rows
            .iter()
            .map(|r| r.iter().map(|c| Cell::Text(c.to_string())).collect())
            .collect(),
    }
}

/// Runs `spec`'s protocol at every party at once, party `i` with
/// `tables[i]`; each party's outputs or error, in party order.
fn run_all(spec: &JobSpec, tables: Vec<Table>) -> Vec<Result<Vec<Produced>, JobError>> {
    let plan = spec.plan().unwrap();
    let names: Vec<&str> = spec.parties.iter().map(|p| p.name.as_str()).collect();
    let sets = indomain_net::memory::mesh(&names);
    std::thread::scope(|s| {
        let runs: Vec<_> = sets
            .into_iter()
            .zip(tables)
            .enumerate()
            .map(|(i, (mut parties, table))| {
                let (plan, name) = (&plan, names[i].to_string());
                s.spawn(move || {
                    let own = Given { name, table };
                    protocol_of(plan).run(JobRun {
                        spec,
                        parties: &mut parties,
                        max_rows: None,
                        progress: &Quiet,
                        own: &own,
                    })
                })
            })
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    })
}

const PSI_SUM: &str = r#"
protocol = "psi-sum"

[parameters]
value_column = "paid"
min_intersection = 2

[[parties]]
name = "bank"
dataset = "customers"
columns = ["id"]

[[parties]]
name = "tax"
dataset = "taxpayers"
columns = ["id", "paid"]

[[outputs]]
name = "cardinality"
receiver = "bank"

[[outputs]]
name = "cardinality"
receiver = "tax"

[[outputs]]
name = "sum"
receiver = "tax"
"#;

/// The sender puts 2^i on keys of its choice: with one match, the sum
/// would say which key the receiver holds. Below `min_intersection` the
/// receiver sends no sum, so the sender learns none.
#[test]
fn psi_sum_with_one_match_below_the_minimum_gives_the_sender_no_sum() {
    let receiver = table(&["id"], &[&["k1"], &["r2"], &["r3"]]);
    let sender = table(
        &["id", "paid"],
        &[&["k0", "1"], &["k1", "2"], &["k2", "4"], &["k3", "8"]],
    );
    let runs = run_all(&spec(PSI_SUM), vec![receiver.clone(), sender.clone()]);
    for (party, run) in ["bank", "tax"].iter().zip(&runs) {
        assert!(
            matches!(
                run,
                Err(JobError::BelowMinimum {
                    parameter: "min_intersection",
                    minimum: 2,
                    ..
                })
            ),
            "{party}: {run:?}"
        );
    }

    // With the minimum met the sender learns the sum, the receiver only
    // the count.
    let receiver = table(&["id"], &[&["k1"], &["k3"], &["r3"]]);
    let runs = run_all(&spec(PSI_SUM), vec![receiver, sender]);
    let [bank, tax] = [&runs[0], &runs[1]].map(|r| r.as_ref().unwrap());
    assert_eq!(bank.len(), 1);
    assert_eq!(bank[0].bytes, b"intersection_size\n2\n");
    assert_eq!(tax[1].output, "sum");
    assert_eq!(tax[1].bytes, b"sum\n10\n");
}

const PSI: &str = r#"
protocol = "psi-intersection"

[parameters]
min_intersection = 2

[[parties]]
name = "bank"
dataset = "customers"
columns = ["id"]

[[parties]]
name = "tax"
dataset = "taxpayers"
columns = ["id"]

[[outputs]]
name = "intersection"
receiver = "bank"
"#;

/// Below `min_intersection` the receiver stops before it learns or sends
/// anything about the matches; at the minimum it gets them, the sender
/// (no declared output) nothing.
#[test]
fn psi_below_the_minimum_releases_nothing_and_at_it_the_receivers_keys() {
    let sender = table(&["id"], &[&["a"], &["b"], &["c"]]);
    let runs = run_all(
        &spec(PSI),
        vec![table(&["id"], &[&["a"], &["z"]]), sender.clone()],
    );
    // The sender, which learns no result, hears nothing of it either.
    assert!(
        matches!(runs[0], Err(JobError::BelowMinimum { .. })),
        "{runs:?}"
    );
    assert!(matches!(&runs[1], Ok(p) if p.is_empty()), "{runs:?}");
    let runs = run_all(
        &spec(PSI),
        vec![table(&["id"], &[&["c"], &["a"], &["z"], &["a"]]), sender],
    );
    let bank = runs[0].as_ref().unwrap();
    assert_eq!(bank.len(), 1);
    assert_eq!(bank[0].file, "intersection.csv");
    // In the receiver's own order, a repeated key once.
    assert_eq!(bank[0].bytes, b"id\nc\na\n");
    assert_eq!(runs[1].as_ref().unwrap(), &Vec::new());
}

/// A row limit is the one failure another party may hear the reason of.
#[test]
fn only_a_policy_limit_is_shared_with_the_other_parties() {
    let limit = JobError::RowLimit {
        dataset: "customers".into(),
        limit: 2,
    };
    assert_eq!(
        limit.shared().as_deref(),
        Some("its policy lets the job read at most 2 rows (max_rows)")
    );
    let data = JobError::Data {
        at: at("customers", 0, "income"),
        reason: "\"secret\" is not a number".into(),
    };
    assert_eq!(data.shared(), None);
}

/// A scoring job runs with exactly the training job's data parties: one
/// left out, one added, or the dealer taking part is refused.
#[test]
fn a_model_scores_only_with_the_data_parties_it_was_trained_by() {
    use indomain_learn::model::{JobParty, PartyRole};
    let trained = [
        ("bank", PartyRole::Label),
        ("tax", PartyRole::Feature),
        ("stats", PartyRole::Dealer),
    ]
    .map(|(name, role)| JobParty {
        name: name.into(),
        role,
    });
    let parties = |names: &[&str]| -> Vec<crate::jobspec::Party> {
        names
            .iter()
            .map(|n| crate::jobspec::Party {
                name: n.to_string(),
                dataset: "d".into(),
                columns: vec!["id".into()],
            })
            .collect()
    };
    assert!(predict::bound_to_training("t1", &trained, &parties(&["tax", "bank"])).is_ok());
    for wrong in [
        vec!["bank"],
        vec!["bank", "tax", "other"],
        vec!["bank", "other"],
        vec!["bank", "tax", "stats"],
    ] {
        let e = predict::bound_to_training("t1", &trained, &parties(&wrong)).unwrap_err();
        assert!(
            e.to_string()
                .contains("scores with its data parties (bank, tax)"),
            "{wrong:?}: {e}"
        );
    }
}
