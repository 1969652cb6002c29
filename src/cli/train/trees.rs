//! `indomain train --algorithm gbdt`: the label holder, a feature holder
//! or the dealer of a gradient-boosted tree job, over a QUIC mesh.

use super::roles::VerticalRoles;
use super::{AlgorithmArg, Args, Parties, TaskArg, bytes, describe};
use crate::cli::CliResult;
use crate::cli::net_args::bind_among;
use indomain_learn::data::{CsvSpec, load_raw_csv};
use indomain_learn::model::{PartyRole, write_private};
use indomain_learn::report;
use indomain_learn::tree::model::TreeJobSpec;
use indomain_learn::tree::pipeline::{self, TreeEvent, TreeJob};
use indomain_learn::tree::{GbdtParams, InstanceSpace, Loss, Progress, TreeEarlyStopping};
use indomain_learn::{LearnError, Task};
use indomain_net::quic::mesh;
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
    let names = parties.names();
    let vertical = VerticalRoles::from_args(args, parties, "--algorithm gbdt")?;
    let (me, role) = (parties.me, vertical.role);
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
    // Check the flags and read the file before connecting to anyone; a bad
    // file is reported to every party after the job agreement.
    let table = match (role, &args.input) {
        (PartyRole::Dealer, None) => Ok(None),
        (PartyRole::Dealer, Some(_)) => {
            return Err(
                format!("{} is the dealer and holds no data: drop --input", args.me).into(),
            );
        }
        (_, None) => return Err(format!("{} holds data: give --input FILE.csv", args.me).into()),
        (_, Some(path)) => {
            if role == PartyRole::Label && args.label_column.is_none() {
                return Err("the label holder needs --label-column".into());
            }
            if role == PartyRole::Feature && args.label_column.is_some() {
                return Err(format!(
                    "{} is a feature holder: only the label holder gives --label-column",
                    args.me
                )
                .into());
            }
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
            load_raw_csv(path, &spec, &mine).map(Some)
        }
    };
    let (table, refusal): (_, Option<LearnError>) = match table {
        Ok(t) => (t, None),
        Err(e) => (None, Some(e)),
    };
    let model_path = match (role, &args.model) {
        (PartyRole::Dealer, Some(_)) => {
            return Err("the dealer holds no model: drop --model".into());
        }
        (PartyRole::Dealer, None) => None,
        (_, None) => {
            return Err("give --model MODEL.json: where this party writes its model".into());
        }
        (_, Some(p)) => Some(p.clone()),
    };
    if !(args.test_fraction > 0.0 && args.test_fraction < 1.0) {
        return Err("--test-fraction must be between 0 and 1".into());
    }
    let job = TreeJob {
        spec: TreeJobSpec {
            parties: vertical.job_parties(&names),
            id_column: args.id.clone(),
            test_fraction: args.test_fraction,
            params,
            categorical: args.categorical.clone(),
            contribution: !args.no_contribution,
            nonce: String::new(),
        },
        roles: vertical.roles,
        min_rows: args.min_rows,
    };

    let (endpoint, stop, addrs) = bind_among(&args.identity, &parties.entries, me, args.limits()?)?;
    let bar = args.progress_bar()?;
    bar.set_message(format!("connecting to {} parties", addrs.len() - 1));
    let started = Instant::now();
    let mut party_set = mesh(&endpoint, me, &addrs)?;
    let total = job.spec.params.trees;
    let depth = job.spec.params.max_depth;
    let quiet = args.quiet;
    let mut last_tree = Instant::now();
    let outcome = pipeline::run(
        &mut party_set,
        &job,
        match refusal {
            Some(e) => Err(e),
            None => Ok(table.as_ref()),
        },
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
    let outcome = outcome?;
    let counters = party_set.counters();
    stop.done();
    drop(party_set);
    drop(endpoint);

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
    if let (Some(model), Some(path)) = (&outcome.model, &model_path) {
        model.save(path)?;
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
            eprintln!(
                "train {}: contribution: joint AUC {:.4}, {} alone {:.4}{}",
                args.me,
                c.joint.scores.auc,
                c.label_holder,
                c.label_only.scores.auc,
                c.leave_one_out
                    .iter()
                    .map(|l| format!(", without {} {:.4}", l.left_out, l.entry.scores.auc))
                    .collect::<String>()
            );
        }
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
    }
    Ok(())
}
