//! `indomain predict`: one party of joint scoring with the model files of a
//! vertical training job. Rows are aligned by PSI join on the model's id
//! column. Linear models: each party computes its partial scores from its
//! own columns and weights; a secure sum opens their totals to the label
//! holder only. Tree models: each party evaluates its own splits and the
//! leaves are combined by secure products with the dealer's help
//! (`indomain_learn::tree::score`); only the label holder learns scores.
//! With a scorecard (`indomain train --scorecard`) the parties sum their
//! rows' points jointly instead ([`scorecard`]).

mod scorecard;

use super::CliResult;
use super::aggregate::parse_party;
use super::net_args::{bind_among, spinner, timeout_limits};
use indomain_learn::align::{Roles, align};
use indomain_learn::data::{CsvSpec, check_features, load_csv};
use indomain_learn::model::PartyRole;
use indomain_learn::pipeline::Trained;
use indomain_learn::tree::model::{AnyModel, load_any};
use indomain_learn::{LearnError, Task, agree, secure};
use indomain_net::quic::mesh;
use indomain_node::output::{AtomicOutput, check_destination};
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

mod trees;

const AFTER_HELP: &str = "\
Run one process per data party of the training job, each with its own
model file from that job and the same --party list. A linear model needs
no dealer. A tree model (--algorithm gbdt) trained with a dealer is scored
with one: list it in --party, name it with --dealer at every party, and
run it with only --identity, --me, --party and --dealer; with two parties
and no --dealer they generate the correlated randomness themselves. Text and empty cells are read as in training. The parties first check that their model files come from the same
job; a model file from another job is refused. Each party's --input must
have the model's feature columns, in the model's order (an extra label
column is ignored with --label-column).

Only the label holder learns the scores; it writes OUT.csv with the
columns id,score,prediction (the linear score, and the probability for a
logistic model — recalibrated by the map in the label holder's model file
if training fitted one with --recalibrate), for the ids every party holds,
in an order common to all parties.

With a scorecard file: in the default and strict modes the job's dealer
takes part too (--dealer NAME in every process; the dealer gives no
--model or --input, and --scorecard with --label-holder); a scorecard
trained by two parties without a dealer is scored by the same two, without
--dealer. The score is the
sum of the row's points; OUT.csv has id,score,probability. Each party
prints the population stability index of its features between the
training rows and these rows (the label holder also of the score);
--stability FILE.csv writes them.";

/// Arguments of `indomain predict`.
#[derive(clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    /// Directory with this node's node.crt and node.key.
    #[arg(long, value_name = "DIR")]
    identity: PathBuf,

    /// This party's name (its entry in the --party list).
    #[arg(long, value_name = "NAME")]
    me: String,

    /// Every data party, as NAME=sha256:<fingerprint>@HOST:PORT, in the
    /// same order at every party.
    #[arg(long = "party", value_name = "NAME=FINGERPRINT@ADDR", required = true)]
    parties: Vec<String>,

    /// This party's model file (from `indomain train`); not for the dealer.
    #[arg(long, value_name = "MODEL.json")]
    model: Option<PathBuf>,

    /// The CSV file with the rows to score (with a header row); not for
    /// the dealer.
    #[arg(long, value_name = "FILE.csv")]
    input: Option<PathBuf>,

    /// Tree models, and scorecards in the default and strict modes: the
    /// dealer of correlated randomness (holds no data; in every process of
    /// the job).
    #[arg(long, value_name = "NAME")]
    dealer: Option<String>,

    /// At the dealer (which has no model to read it from): the party
    /// holding the labels.
    #[arg(long, value_name = "NAME")]
    label_holder: Option<String>,

    /// At the dealer: the job scores a scorecard (the data parties read
    /// it from their scorecard files); without it the dealer serves a
    /// tree model's scoring.
    #[arg(long)]
    scorecard: bool,

    /// Scorecards: where to write the stability index of this party's
    /// features (and, at the label holder, of the score).
    #[arg(long, value_name = "FILE.csv")]
    stability: Option<PathBuf>,

    /// A label column in --input to ignore.
    #[arg(long, value_name = "COL")]
    label_column: Option<String>,

    /// Where the label holder writes the scores.
    #[arg(long, value_name = "OUT.csv")]
    output: Option<PathBuf>,

    /// Replace --output if it exists.
    #[arg(long)]
    force: bool,

    /// Seconds to wait for a peer's next message.
    #[arg(long, value_name = "SECS", default_value_t = 120.0)]
    timeout: f64,

    /// No progress display.
    #[arg(long)]
    quiet: bool,
}

pub fn run(args: Args) -> CliResult {
    if args.scorecard || args.model.as_deref().is_some_and(scorecard::is_scorecard) {
        return scorecard::run(args);
    }
    if args.dealer.as_deref() == Some(args.me.as_str()) {
        return trees::run_dealer(&args);
    }
    let (model_path, input) = match (&args.model, &args.input) {
        (Some(m), Some(i)) => (m.clone(), i.clone()),
        _ => return Err("a data party gives --model MODEL.json and --input FILE.csv".into()),
    };
    if let Some(path) = &args.output {
        check_destination(path, &[&input, &model_path], args.force)
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    let model = match load_any(&model_path)? {
        AnyModel::Linear(m) => *m,
        AnyModel::Trees(m) => return trees::run(&args, &m, &model_path, &input),
    };
    if args.dealer.is_some() {
        return Err(format!(
            "{} is a linear model, scored without a dealer: drop --dealer",
            model_path.display()
        )
        .into());
    }
    let model_name = model_path.display().to_string();
    let bad_model = |reason: String| LearnError::Model {
        file: model_name.clone(),
        reason,
    };
    if model.party != args.me {
        return Err(bad_model(format!("it is {}'s model, not {}'s", model.party, args.me)).into());
    }
    if !matches!(model.role, PartyRole::Label | PartyRole::Feature) {
        return Err(bad_model("joint scoring takes vertical models".into()).into());
    }
    let is_label = model.role == PartyRole::Label;
    if is_label != args.output.is_some() {
        return Err(if is_label {
            "this party holds the labels and learns the scores: give --output OUT.csv"
        } else {
            "only the label holder learns the scores: drop --output"
        }
        .into());
    }
    // Check the input against the model before connecting to anyone.
    let table = load_csv(
        &input,
        &CsvSpec {
            id_column: model.job.id_column.clone(),
            label_column: args.label_column.clone(),
            features: None,
            task: Task::Linear,
        },
    )?;
    check_features(
        &model.features,
        &table.feature_names,
        &input.display().to_string(),
    )?;

    let parties = args
        .parties
        .iter()
        .map(|p| parse_party(p))
        .collect::<Result<Vec<_>, _>>()?;
    let names: Vec<String> = parties.iter().map(|(p, _)| p.name.clone()).collect();
    let me = names
        .iter()
        .position(|n| *n == args.me)
        .ok_or_else(|| format!("{} is not in the --party list", args.me))?;
    let label_name = model
        .job
        .parties
        .iter()
        .find(|p| p.role == PartyRole::Label)
        .map(|p| p.name.clone())
        .ok_or_else(|| bad_model("its job names no label holder".into()))?;
    let label = names
        .iter()
        .position(|n| *n == label_name)
        .ok_or_else(|| format!("the label holder {label_name} is not in the --party list"))?;
    let roles = Roles::new(names.len(), label, None)?;

    let limits = timeout_limits(args.timeout)?;
    let (endpoint, stop, addrs) = bind_among(&args.identity, &parties, me, limits)?;
    let bar = spinner(args.quiet)?;
    let started = Instant::now();
    bar.set_message(format!("connecting to {} parties", names.len() - 1));
    let mut party_set = mesh(&endpoint, me, &addrs)?;
    bar.set_message("checking the model files");
    agree::same_job(&mut party_set, &model.job_hash).map_err(|e| match e {
        LearnError::Protocol { peer, .. } => LearnError::Model {
            file: model_name.clone(),
            reason: format!(
                "party {peer}'s model file comes from another training job (ours is {}); give every party its model file of the same job",
                model.job_hash
            ),
        },
        other => other,
    })?;
    bar.set_message("aligning rows");
    let (n, rows) = align(&mut party_set, &roles, &table.ids, 1, &mut rand::rng())?;
    let rows = rows.unwrap_or_default();
    let aligned = table.select(&rows);
    let x = match &model.standardizer {
        Some(s) => s.apply(aligned.x.view()),
        None => aligned.x.clone(),
    };
    bar.set_message(format!("scoring {n} rows"));
    let trained = Trained {
        weights: model.weights.clone(),
        intercept: model.intercept,
        ..Trained::default()
    };
    let scores = secure::joint_scores(
        &mut party_set,
        &roles,
        x.view(),
        &trained,
        model.job.params.frac_bits,
    )?;
    bar.finish_and_clear();
    let counters = party_set.counters();
    stop.done();
    drop(party_set);
    drop(endpoint);
    if let (Some(scores), Some(path)) = (scores, &args.output) {
        let mut out = AtomicOutput::create(path, &[&input, &model_path], args.force)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        writeln!(out, "{},score,prediction", model.job.id_column)?;
        for (id, s) in aligned.ids.iter().zip(&scores) {
            writeln!(out, "{id},{s},{}", model.prediction(*s))?;
        }
        out.commit()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        eprintln!(
            "predict {}: {n} scores written to {}",
            args.me,
            path.display()
        );
    }
    eprintln!(
        "predict {}: {n} rows scored jointly; {:.2} s; sent {:.2} MB, received {:.2} MB",
        args.me,
        started.elapsed().as_secs_f64(),
        counters.sent as f64 / 1e6,
        counters.received as f64 / 1e6
    );
    Ok(())
}
