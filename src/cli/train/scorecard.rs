//! `indomain train --scorecard`: the label holder, a feature owner or the
//! dealer of a WOE scorecard's training, over a QUIC mesh; without
//! `--dealer`, two parties with two-party correlations.

use super::mesh_job::{self, Connected};
use super::roles::VerticalRoles;
use super::{Args, Parties, bytes};
use crate::cli::CliResult;
use crate::cli::StepResult;
use indomain_learn::binning::RawTable;
use indomain_learn::data::{CsvSpec, load_raw_csv};
use indomain_learn::model::{PartyRole, write_private};
use indomain_learn::report;
use indomain_learn::scorecard::Scale;
use indomain_learn::scorecard::model::{ScorecardFile, ScorecardJob};
use indomain_learn::scorecard::pipeline::{self, Finished, ScorecardRun};
use indomain_learn::woe::Mode;
use indomain_learn::woe::file::BinningFile;
use indomain_learn::{LearnError, Task};
use indomain_net::Counters;
use indomain_node::output::check_destination;
use std::path::{Path, PathBuf};
use std::time::Instant;

pub fn run(args: &Args, parties: &Parties) -> CliResult {
    let vertical = VerticalRoles::from_args(args, parties, "a scorecard")?;
    let role = vertical.role;
    if !args.scorecard {
        return Err(
            "--woe trains a scorecard: give --scorecard too (every party, the dealer included)"
                .into(),
        );
    }
    let scale = Scale {
        base_score: args.base_score,
        pdo: args.pdo,
        base_odds: args.base_odds,
    };
    scale.check()?;
    if !(args.min_iv.is_finite() && args.min_iv >= 0.0) {
        return Err("--min-iv must be a number ≥ 0".into());
    }
    let binning = read_binning(args, role)?;
    let model_path = card_path(args, role)?;
    let (table, refusal) = mesh_job::split_refusal(read_input(args, role, &binning)?);
    let run = job(args, parties, vertical, &binning, scale)?;

    let mut link = Connected::open(args, parties)?;
    let table = match refusal {
        Some(e) => Err(e),
        None => Ok(table.as_ref()),
    };
    let finished = train(args, &mut link, &run, &binning, table)?;
    let started = link.started;
    let counters = link.close();

    print_summary(args, &finished, started, counters);
    if let (Some(card), Some(path)) = (&finished.file, &model_path) {
        write_card(args, &finished, card, path)?;
    }
    Ok(())
}

/// Reads this party's binning file (none: the dealer), which must be its
/// own: the scorecard is trained on the bins `indomain bin` gave it.
fn read_binning(args: &Args, role: PartyRole) -> StepResult<Option<BinningFile>> {
    Ok(match (role, &args.woe) {
        (PartyRole::Dealer, None) => None,
        (PartyRole::Dealer, Some(_)) => {
            return Err(format!("{} is the dealer: drop --woe", args.me).into());
        }
        (_, None) => {
            return Err(format!(
                "{} holds data: give --woe BINNING.json, its binning file from `indomain bin`",
                args.me
            )
            .into());
        }
        (_, Some(path)) => {
            let b = BinningFile::load(path)?;
            if b.party != args.me {
                return Err(LearnError::Model {
                    file: path.display().to_string(),
                    reason: format!("it is {}'s binning file, not {}'s", b.party, args.me),
                }
                .into());
            }
            Some(b)
        }
    })
}

/// Where a data holder writes its scorecard (none: the dealer), checked
/// before any work so that no input is overwritten.
fn card_path(args: &Args, role: PartyRole) -> StepResult<Option<PathBuf>> {
    Ok(match (role, &args.model) {
        (PartyRole::Dealer, Some(_)) => {
            return Err("the dealer holds no model: drop --model".into());
        }
        (PartyRole::Dealer, None) => None,
        (_, None) => {
            return Err("give --model MODEL.json: where this party writes its scorecard".into());
        }
        (_, Some(p)) => {
            let inputs: Vec<&std::path::Path> = args
                .input
                .iter()
                .map(|p| p.as_path())
                .chain(args.woe.iter().map(|p| p.as_path()))
                .collect();
            check_destination(p, &inputs, true).map_err(|e| format!("{}: {e}", p.display()))?;
            Some(p.clone())
        }
    })
}

/// Checks `--input` and `--label-column` and reads the binning file's
/// columns before connecting to anyone; a bad file is reported to every
/// party after the job agreement.
fn read_input(
    args: &Args,
    role: PartyRole,
    binning: &Option<BinningFile>,
) -> StepResult<Result<Option<RawTable>, LearnError>> {
    if role == PartyRole::Label && args.label_column.is_none() {
        return Err("the label holder needs --label-column".into());
    }
    Ok(match (role, &args.input, binning) {
        (PartyRole::Dealer, None, _) => Ok(None),
        (PartyRole::Dealer, Some(_), _) => {
            return Err(
                format!("{} is the dealer and holds no data: drop --input", args.me).into(),
            );
        }
        (_, None, _) => return Err(format!("{} holds data: give --input FILE.csv", args.me).into()),
        (_, Some(path), Some(b)) => {
            let features: Vec<String> = b.features.iter().map(|f| f.bins.name.clone()).collect();
            let categorical: Vec<String> = b
                .features
                .iter()
                .filter(|f| {
                    matches!(
                        f.bins.kind,
                        indomain_learn::binning::BinKind::Categorical { .. }
                    )
                })
                .map(|f| f.bins.name.clone())
                .collect();
            load_raw_csv(
                path,
                &CsvSpec {
                    id_column: b.job.id_column.clone(),
                    label_column: if role == PartyRole::Label {
                        args.label_column.clone()
                    } else {
                        None
                    },
                    features: Some(features),
                    task: Task::Logistic,
                },
                &categorical,
            )
            .map(Some)
        }
        (_, Some(_), None) => Ok(None),
    })
}

/// The job every party must agree on, from the flags and the binning file.
fn job(
    args: &Args,
    parties: &Parties,
    vertical: VerticalRoles,
    binning: &Option<BinningFile>,
    scale: Scale,
) -> StepResult<ScorecardRun> {
    let job = ScorecardJob {
        binning_hash: String::new(),
        mode: Mode::Default,
        parties: vertical.job_parties(&parties.names()),
        id_column: binning
            .as_ref()
            .map_or(args.id.clone(), |b| b.job.id_column.clone()),
        test_fraction: 0.0,
        seed: 0,
        min_iv: args.min_iv,
        scale,
        params: args.scorecard_params()?,
        nonce: String::new(),
    };
    Ok(ScorecardRun {
        job,
        roles: vertical.roles,
        min_rows: args.min_rows,
    })
}

/// Runs the joint job over the links: align, train on the WOE columns,
/// evaluate.
fn train(
    args: &Args,
    link: &mut Connected,
    run: &ScorecardRun,
    binning: &Option<BinningFile>,
    table: Result<Option<&RawTable>, LearnError>,
) -> Result<Finished, LearnError> {
    link.bar.set_message("training the scorecard");
    let woe_name = args
        .woe
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let finished = pipeline::run(
        &mut link.party_set,
        run,
        binning.as_ref().map(|b| (b, woe_name.as_str())),
        table,
        &mut rand::rng(),
    );
    link.bar.finish_and_clear();
    finished
}

/// Prints what every party learns of the run: shared rows, time per phase
/// and traffic.
fn print_summary(args: &Args, finished: &Finished, started: Instant, counters: Counters) {
    let [align, train, evaluate] = finished.seconds;
    eprintln!(
        "train {} (scorecard): {} shared rows; align {align:.2} s, train {train:.2} s, evaluate {evaluate:.2} s; total {:.2} s; {}",
        args.me,
        finished.shared_rows,
        started.elapsed().as_secs_f64(),
        bytes(counters)
    );
}

/// Writes a data holder's scorecard, then its points table and figure,
/// describing the card between: the card is saved before anything is said
/// of it.
fn write_card(
    args: &Args,
    finished: &Finished,
    card: &ScorecardFile,
    path: &Path,
) -> Result<(), LearnError> {
    card.save(path)?;
    if let Some(trust) = &card.correlations {
        eprintln!("train {}: correlations: {trust}", args.me);
    }
    let mut written = path.display().to_string();
    if let Some(e) = &card.evaluation {
        eprintln!(
            "train {}: scorecard of {} features ({} mode), held-out ({} rows): AUC {:.4}, KS {:.4}",
            args.me,
            card.sizes.iter().map(Vec::len).sum::<usize>(),
            card.job.mode.name(),
            card.rows.test,
            e.auc,
            e.ks
        );
    }
    if let Some(table) = card.points_table() {
        let csv = path.with_extension("points.csv");
        write_private(&csv, table.as_bytes())?;
        written.push_str(&format!(", points table {}", csv.display()));
    }
    if let Some(roc) = &finished.roc {
        let svg_path = path.with_extension("svg");
        let svg = report::svg(
            &format!("{} — scorecard, held-out evaluation", args.me),
            roc,
            &finished.loss_per_epoch,
            &[],
            None,
        );
        write_private(&svg_path, svg.as_bytes())?;
        written.push_str(&format!(", {}", svg_path.display()));
    }
    eprintln!("train {}: scorecard written to {written}", args.me);
    Ok(())
}
