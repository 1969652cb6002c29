//! `indomain train --algorithm gbdt`: the label holder, a feature holder
//! or the dealer of a gradient-boosted tree job, over a QUIC mesh.

use super::mesh_job::{self, Connected};
use super::roles::VerticalRoles;
use super::{AlgorithmArg, Args, Parties, TaskArg, bytes, describe};
use crate::cli::CliResult;
use crate::cli::StepResult;
use indomain_learn::binning::RawTable;
use indomain_learn::data::{CsvSpec, load_raw_csv};
use indomain_learn::model::{PartyRole, write_private};
use indomain_learn::report;
use indomain_learn::tree::model::{TreeJobSpec, TreeModelFile};
use indomain_learn::tree::pipeline::{self, TreeEvent, TreeJob, TreeJobOutcome};
use indomain_learn::tree::{GbdtParams, InstanceSpace, Loss, Progress, TreeEarlyStopping};
use indomain_learn::{LearnError, Task};
use indomain_net::Counters;
use std::path::Path;
use std::time::Instant;

/// The tree parameters from the flags.
fn params(args: &Args) -> GbdtParams {
    GbdtParams {
        loss: match args.task {
            TaskArg::Logistic => Loss::Logistic,
            TaskArg::Linear => Loss::Squared,
        },
        trees: args.trees,
        max_depth: args.max_depth,
        learning_rate: args.learning_rate.unwrap_or(0.3),
        min_child_weight: args.min_child_weight,
        lambda: args.lambda,
        gamma: args.gamma,
        subsample: args.subsample,
        early_stopping: args.early_stopping.map(|patience| TreeEarlyStopping {
            validation_fraction: args.validation_fraction,
            patience,
        }),
        bins: args.bins,
        frac_bits: args.frac_bits,
        seed: args.seed,
        instance_space: if args.leak_instance_space {
            InstanceSpace::Leaked
        } else {
            InstanceSpace::Hidden
        },
    }
}

pub fn run(args: &Args, parties: &Parties) -> CliResult {
    debug_assert!(args.algorithm == AlgorithmArg::Gbdt);
    let vertical = VerticalRoles::from_args(args, parties, "--algorithm gbdt")?;
    let role = vertical.role;
    if args.server.is_some() {
        return Err("--server is for horizontal training".into());
    }
    if args.dp_epsilon.is_some() {
        return Err("--dp-epsilon is available in horizontal training only".into());
    }
    if args.batch_size.is_some() {
        return Err("--batch-size is for regression: trees use every row".into());
    }
    let params = params(args);
    params.check()?;
    let task = match params.loss {
        Loss::Logistic => Task::Logistic,
        Loss::Squared => Task::Linear,
    };
    let (table, refusal) = mesh_job::split_refusal(read_input(args, role, task)?);
    let model_path = mesh_job::model_path(args, role)?;
    let job = job(args, parties, vertical, params);

    let mut link = Connected::open(args, parties)?;
    let table = match refusal {
        Some(e) => Err(e),
        None => Ok(table.as_ref()),
    };
    let outcome = train(args, &mut link, &job, table)?;
    let started = link.started;
    let counters = link.close();

    print_summary(args, role, &outcome, started, counters);
    if let (Some(model), Some(path)) = (&outcome.model, &model_path) {
        write_model(args, &outcome, model, path)?;
    }
    Ok(())
}

/// Checks the flags and reads the file before connecting to anyone; a bad
/// file is reported to every party after the job agreement.
fn read_input(
    args: &Args,
    role: PartyRole,
    task: Task,
) -> StepResult<Result<Option<RawTable>, LearnError>> {
    let Some(path) = mesh_job::data_holder_input(args, role)? else {
        return Ok(Ok(None));
    };
    let spec = CsvSpec {
        id_column: args.id.clone(),
        label_column: if role == PartyRole::Label {
            args.label_column.clone()
        } else {
            None
        },
        features: args.features.clone(),
        task,
    };
    let mine: Vec<String> = args
        .categorical
        .iter()
        .filter(|c| args.features.as_ref().is_none_or(|f| f.contains(c)))
        .cloned()
        .collect();
    Ok(load_raw_csv(path, &spec, &mine).map(Some))
}

/// The job every party must agree on, from the flags.
fn job(args: &Args, parties: &Parties, vertical: VerticalRoles, params: GbdtParams) -> TreeJob {
    TreeJob {
        spec: TreeJobSpec {
            parties: vertical.job_parties(&parties.names()),
            id_column: args.id.clone(),
            test_fraction: args.test_fraction,
            params,
            categorical: args.categorical.clone(),
            contribution: !args.no_contribution,
            nonce: String::new(),
        },
        roles: vertical.roles,
        min_rows: args.min_rows,
    }
}

/// Runs the joint job over the links (align, grow the trees, evaluate, the
/// contribution runs), showing each level and tree on the spinner.
fn train(
    args: &Args,
    link: &mut Connected,
    job: &TreeJob,
    table: Result<Option<&RawTable>, LearnError>,
) -> Result<TreeJobOutcome, LearnError> {
    let (bar, started) = (&link.bar, link.started);
    let total = job.spec.params.trees;
    let depth = job.spec.params.max_depth;
    let quiet = args.quiet;
    let mut last_tree = Instant::now();
    let outcome = pipeline::run(
        &mut link.party_set,
        job,
        table,
        &mut rand::rng(),
        &mut |event| match event {
            TreeEvent::Aligned(n) => {
                last_tree = Instant::now();
                bar.set_message(format!("{n} rows shared by every party"))
            }
            TreeEvent::Training { run, progress } => {
                let what = if run == 0 {
                    "training"
                } else {
                    "contribution run"
                };
                match progress {
                    Progress::Level { tree, depth: d } => bar.set_message(format!(
                        "{what}: tree {}/{total}, level {}/{depth}",
                        tree + 1,
                        d + 1
                    )),
                    Progress::Tree {
                        tree,
                        validation_loss,
                    } => {
                        let loss = validation_loss
                            .map_or(String::new(), |l| format!(", validation loss {l:.4}"));
                        bar.set_message(format!("{what}: tree {}/{total}{loss}", tree + 1));
                        // The tree's own time: a flat series shows that a
                        // long run's total can be read off its first trees.
                        let now = Instant::now();
                        let took = (now - last_tree).as_secs_f64();
                        last_tree = now;
                        if run == 0 && !quiet {
                            bar.suspend(|| {
                                eprintln!(
                                    "tree {}/{total}{loss}: {took:.2} s (since start {:.2} s)",
                                    tree + 1,
                                    (now - started).as_secs_f64()
                                )
                            });
                        }
                    }
                }
            }
            TreeEvent::Contribution(with) => bar.set_message(super::contribution_message(&with)),
        },
    );
    bar.finish_and_clear();
    outcome
}

/// Prints what every party learns of the run: shared rows, time per phase
/// and traffic.
fn print_summary(
    args: &Args,
    role: PartyRole,
    outcome: &TreeJobOutcome,
    started: Instant,
    counters: Counters,
) {
    let s = outcome.seconds;
    eprintln!(
        "train {} ({}): {} shared rows; prepare {:.2} s, train {:.2} s, evaluate {:.2} s, contribution {:.2} s; total {:.2} s; {}",
        args.me,
        super::role_name(role),
        outcome.shared_rows,
        s.prepare,
        s.train,
        s.evaluate,
        s.contribution,
        started.elapsed().as_secs_f64(),
        bytes(counters)
    );
}

/// Writes a data holder's model (and its figure), describing the model
/// between the two: the model file is saved before anything is said of it.
fn write_model(
    args: &Args,
    outcome: &TreeJobOutcome,
    model: &TreeModelFile,
    path: &Path,
) -> Result<(), LearnError> {
    model.save(path)?;
    describe_model(args, model);
    let mut written = path.display().to_string();
    if let Some(roc) = &outcome.roc {
        let svg_path = path.with_extension("svg");
        let svg = report::svg(
            &format!("{} — gradient-boosted trees, held-out evaluation", args.me),
            roc,
            &[],
            &model.validation_loss,
            None,
        );
        write_private(&svg_path, svg.as_bytes())?;
        written.push_str(&format!(" and {}", svg_path.display()));
    }
    eprintln!("train {}: model written to {written}", args.me);
    Ok(())
}

/// Prints the forest's size, this party's most important features, the
/// held-out metrics and the contribution runs.
fn describe_model(args: &Args, model: &TreeModelFile) {
    let splits: usize = model.importance.iter().map(|i| i.splits).sum();
    eprintln!(
        "train {}: {} trees kept of {} grown; {} splits on this party's features",
        args.me,
        model.trees.len(),
        model.trees_grown,
        splits
    );
    let mut ranked = model.importance.clone();
    ranked.sort_by(|a, b| b.total_gain.total_cmp(&a.total_gain));
    for i in ranked.iter().filter(|i| i.splits > 0).take(5) {
        eprintln!(
            "train {}: importance {}: gain {:.3} over {} splits",
            args.me, i.feature, i.total_gain, i.splits
        );
    }
    if let Some(e) = &model.evaluation {
        eprintln!(
            "train {}: held-out ({} rows): {}",
            args.me,
            model.rows.test,
            describe(e)
        );
    }
    if let Some(c) = &model.contribution {
        mesh_job::print_contribution(&args.me, c);
    }
}
