//! `indomain train --mode vertical`: the label holder, a feature holder or
//! the dealer of a vertical training job, over a QUIC mesh.

use super::mesh_job::{self, Connected};
use super::roles::VerticalRoles;
use super::{Args, Parties, bytes, describe, describe_calibration, describe_end};
use crate::cli::CliResult;
use crate::cli::StepResult;
use indomain_learn::LearnError;
use indomain_learn::data::{Table, load_csv};
use indomain_learn::model::{JobSpec, ModelFile, PartyRole, write_private};
use indomain_learn::pipeline::{self, Event, Outcome, VerticalJob};
use indomain_learn::report;
use indomain_net::Counters;
use std::path::Path;
use std::time::Instant;

pub fn run(args: &Args, parties: &Parties) -> CliResult {
    let vertical = VerticalRoles::from_args(args, parties, "vertical training")?;
    let role = vertical.role;
    if args.dp_epsilon.is_some() {
        return Err("--dp-epsilon is available in horizontal training only".into());
    }
    if args.server.is_some() {
        return Err("--server is for horizontal training".into());
    }
    let (table, refusal) = mesh_job::split_refusal(read_input(args, role)?);
    let model_path = mesh_job::model_path(args, role)?;
    let job = job(args, parties, &vertical);

    let mut link = Connected::open(args, parties)?;
    let table = match refusal {
        Some(e) => Err(e),
        None => Ok(table.as_ref()),
    };
    let outcome = train(args, &mut link, &job, table)?;
    let started = link.started;
    let counters = link.close();

    print_summary(args, role, &job, &outcome, started, counters);
    if let (Some(model), Some(path)) = (&outcome.model, &model_path) {
        write_model(args, &outcome, model, path)?;
    }
    Ok(())
}

/// Checks the flags and reads the input before connecting to anyone; a
/// bad input file is reported to every party after the job agreement, so
/// that all stop.
fn read_input(args: &Args, role: PartyRole) -> StepResult<Result<Option<Table>, LearnError>> {
    Ok(match mesh_job::data_holder_input(args, role)? {
        None => Ok(None),
        Some(path) => load_csv(path, &args.csv_spec(role == PartyRole::Label)).map(Some),
    })
}

/// The job every party must agree on, from the flags.
fn job(args: &Args, parties: &Parties, vertical: &VerticalRoles) -> VerticalJob {
    VerticalJob {
        spec: JobSpec {
            mode: "vertical".into(),
            parties: vertical.job_parties(&parties.names()),
            id_column: args.id.clone(),
            test_fraction: args.test_fraction,
            params: args.params(),
            horizontal: None,
            nonce: String::new(),
        },
        roles: vertical.roles.clone(),
        min_rows: args.min_rows,
        contribution: !args.no_contribution,
    }
}

/// Runs the joint job over the links (align, train, evaluate, the
/// contribution runs), showing each epoch on the spinner.
fn train(
    args: &Args,
    link: &mut Connected,
    job: &VerticalJob,
    table: Result<Option<&Table>, LearnError>,
) -> Result<Outcome, LearnError> {
    let bar = &link.bar;
    let mut trainer = indomain_learn::secure::Trainer::new(job.spec.params.frac_bits);
    let epochs = job.spec.params.epochs;
    let cap = if job.spec.params.convergence.is_some() {
        format!("at most {epochs}")
    } else {
        epochs.to_string()
    };
    let quiet = args.quiet;
    let outcome = pipeline::run(
        &mut link.party_set,
        job,
        table,
        &mut trainer,
        &mut rand::rng(),
        &mut |event| match event {
            Event::Aligned(n) => bar.set_message(format!("{n} rows shared by every party")),
            Event::Epoch { run, epoch, loss } => {
                let what = if run == 0 {
                    "training"
                } else {
                    "contribution run"
                };
                let loss = loss.map_or(String::new(), |l| format!(", loss {l:.4}"));
                bar.set_message(format!("{what}: epoch {epoch} ({cap}){loss}"));
                if run == 0 && !quiet {
                    bar.suspend(|| eprintln!("epoch {epoch} ({cap}){loss}"));
                }
            }
            Event::Contribution(with) => bar.set_message(super::contribution_message(&with)),
        },
    );
    bar.finish_and_clear();
    outcome
}

/// Prints what every party learns of the run: shared rows, time per
/// phase, traffic and where the correlations came from.
fn print_summary(
    args: &Args,
    role: PartyRole,
    job: &VerticalJob,
    outcome: &Outcome,
    started: Instant,
    counters: Counters,
) {
    let s = outcome.seconds;
    eprintln!(
        "train {} ({}): {} shared rows; align {:.2} s, train {:.2} s, evaluate {:.2} s, contribution {:.2} s; total {:.2} s; {}",
        args.me,
        super::role_name(role),
        outcome.shared_rows,
        s.align,
        s.train,
        s.evaluate,
        s.contribution,
        started.elapsed().as_secs_f64(),
        bytes(counters)
    );
    if let Some(trust) = job.spec.correlations() {
        eprintln!("train {}: correlations: {trust}", args.me);
    }
}

/// Writes a data holder's model (and its figure), describing the model
/// between the two: the model file is saved before anything is said of it.
fn write_model(
    args: &Args,
    outcome: &Outcome,
    model: &ModelFile,
    path: &Path,
) -> Result<(), LearnError> {
    model.save(path)?;
    describe_model(args, model);
    let mut written = path.display().to_string();
    if let Some(roc) = &outcome.roc {
        let svg_path = path.with_extension("svg");
        let svg = report::svg(
            &format!("{} — held-out evaluation", args.me),
            roc,
            &model.loss_per_epoch,
            &model.validation_loss_per_epoch,
            model.calibration.as_ref(),
        );
        write_private(&svg_path, svg.as_bytes())?;
        written.push_str(&format!(" and {}", svg_path.display()));
    }
    eprintln!("train {}: model written to {written}", args.me);
    Ok(())
}

/// Prints how training ended and the model's held-out metrics,
/// calibration and contribution runs.
fn describe_model(args: &Args, model: &ModelFile) {
    if let Some(end) = &model.training {
        eprintln!(
            "train {}: {}",
            args.me,
            describe_end(end, &model.job.params)
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
    if let Some(c) = &model.calibration {
        eprintln!(
            "train {}: {}",
            args.me,
            describe_calibration("held-out calibration", &c.held_out)
        );
        if let Some(r) = &c.recalibrated {
            eprintln!(
                "train {}: {}; log-loss {:.4}, AUC {:.4}",
                args.me,
                describe_calibration(&format!("after {:?} recalibration", r.method), &r.held_out),
                r.log_loss,
                r.auc
            );
        }
    }
    if let Some(c) = &model.contribution {
        mesh_job::print_contribution(&args.me, c);
    }
}
