//! `indomain train --mode vertical`: the label holder, a feature holder or
//! the dealer of a vertical training job, over a QUIC mesh.

use super::roles::VerticalRoles;
use super::{Args, Parties, bytes, describe, describe_calibration, describe_end};
use crate::cli::CliResult;
use crate::cli::net_args::bind_among;
use indomain_learn::data::load_csv;
use indomain_learn::model::{JobSpec, PartyRole, write_private};
use indomain_learn::pipeline::{self, Event, VerticalJob};
use indomain_learn::report;
use indomain_net::quic::mesh;
use std::time::Instant;

pub fn run(args: &Args, parties: &Parties) -> CliResult {
    let names = parties.names();
    let vertical = VerticalRoles::from_args(args, parties, "vertical training")?;
    let (me, role) = (parties.me, vertical.role);
    if args.dp_epsilon.is_some() {
        return Err("--dp-epsilon is available in horizontal training only".into());
    }
    if args.server.is_some() {
        return Err("--server is for horizontal training".into());
    }
    // Check the flags before connecting to anyone; a bad input file is
    // reported to every party after the job agreement, so that all stop.
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
            load_csv(path, &args.csv_spec(role == PartyRole::Label)).map(Some)
        }
    };
    let (table, refusal) = match table {
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
    let job = VerticalJob {
        spec: JobSpec {
            mode: "vertical".into(),
            parties: vertical.job_parties(&names),
            id_column: args.id.clone(),
            test_fraction: args.test_fraction,
            params: args.params(),
            horizontal: None,
            nonce: String::new(),
        },
        roles: vertical.roles.clone(),
        min_rows: args.min_rows,
        contribution: !args.no_contribution,
    };

    let (endpoint, stop, addrs) = bind_among(&args.identity, &parties.entries, me, args.limits()?)?;
    let bar = args.progress_bar()?;
    bar.set_message(format!("connecting to {} parties", addrs.len() - 1));
    let started = Instant::now();
    let mut party_set = mesh(&endpoint, me, &addrs)?;
    let mut trainer = indomain_learn::secure::Trainer::new(job.spec.params.frac_bits);
    let epochs = job.spec.params.epochs;
    let cap = if job.spec.params.convergence.is_some() {
        format!("at most {epochs}")
    } else {
        epochs.to_string()
    };
    let quiet = args.quiet;
    let outcome = pipeline::run(
        &mut party_set,
        &job,
        match refusal {
            Some(e) => Err(e),
            None => Ok(table.as_ref()),
        },
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
    let outcome = outcome?;
    let counters = party_set.counters();
    stop.done();
    drop(party_set);
    drop(endpoint);

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
    if let (Some(model), Some(path)) = (&outcome.model, &model_path) {
        model.save(path)?;
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
                    describe_calibration(
                        &format!("after {:?} recalibration", r.method),
                        &r.held_out
                    ),
                    r.log_loss,
                    r.auc
                );
            }
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
    }
    Ok(())
}
