//! `indomain predict` with a gradient-boosted tree model: a data party
//! (its model file and rows) or the dealer.

use super::Args;
use crate::cli::CliResult;
use crate::cli::arg_error::{ArgError, position};

type CliError = Box<dyn std::error::Error + Send + Sync>;
use crate::cli::aggregate::parse_party;
use crate::cli::net_args::{bind_among, spinner, timeout_limits};
use indomain_learn::align::Roles;
use indomain_learn::data::{CsvSpec, load_raw_csv};
use indomain_learn::model::PartyRole;
use indomain_learn::tree::Loss;
use indomain_learn::tree::model::TreeModelFile;
use indomain_learn::tree::pipeline::{Scored, score_job};
use indomain_learn::{LearnError, Task};
use indomain_net::Counters;
use indomain_net::quic::{TrustedPeer, mesh};
use indomain_node::output::AtomicOutput;
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Instant;

/// Every party's certificate entry and address, in --party order.
type PartyList = Vec<(TrustedPeer, SocketAddr)>;

/// The party list, this party's index and the roles.
fn setup(args: &Args, label_name: &str) -> Result<(PartyList, usize, Roles), ArgError> {
    let parties = args
        .parties
        .iter()
        .map(|p| parse_party(p))
        .collect::<Result<Vec<_>, _>>()?;
    let names: Vec<String> = parties.iter().map(|(p, _)| p.name.clone()).collect();
    let find = |name: &str, what: &'static str| position(&names, name, Some(what));
    let me = find(&args.me, "this party")?;
    let label = find(label_name, "the label holder")?;
    // Without --dealer, the two data parties generate the correlated
    // randomness themselves (two-party correlations).
    let dealer = args
        .dealer
        .as_deref()
        .map(|d| find(d, "the dealer"))
        .transpose()?;
    if dealer.is_none() && names.len() != 2 {
        return Err(ArgError::TwoParties {
            parties: names.len(),
        });
    }
    let roles = Roles::new(names.len(), label, dealer)?;
    Ok((parties, me, roles))
}

/// Scores over the QUIC mesh; returns what the party got and its bytes.
fn connect_and_score(
    args: &Args,
    parties: &[(TrustedPeer, SocketAddr)],
    me: usize,
    roles: &Roles,
    model: Option<&TreeModelFile>,
    table: Option<&indomain_learn::binning::RawTable>,
) -> Result<(Scored, Counters), CliError> {
    let (endpoint, stop, addrs) =
        bind_among(&args.identity, parties, me, timeout_limits(args.timeout)?)?;
    let bar = spinner(args.quiet)?;
    bar.set_message(format!("connecting to {} parties", parties.len() - 1));
    let mut party_set = mesh(&endpoint, me, &addrs)?;
    bar.set_message("aligning and scoring");
    let scored = score_job(&mut party_set, roles, model, table, &mut rand::rng());
    bar.finish_and_clear();
    let scored = scored?;
    let counters = party_set.counters();
    stop.done();
    Ok((scored, counters))
}

/// The dealer of tree scoring.
pub fn run_dealer(args: &Args) -> CliResult {
    if args.model.is_some() || args.input.is_some() || args.output.is_some() {
        return Err(
            "the dealer holds no data and no model: drop --model, --input and --output".into(),
        );
    }
    let label = args
        .label_holder
        .as_deref()
        .ok_or("the dealer has no model to read the label holder from: give --label-holder NAME")?;
    let (parties, me, roles) = setup(args, label)?;
    let started = Instant::now();
    let (scored, counters) = connect_and_score(args, &parties, me, &roles, None, None)?;
    eprintln!(
        "predict {} (dealer): {} rows scored jointly; {:.2} s; sent {:.2} MB, received {:.2} MB",
        args.me,
        scored.rows,
        started.elapsed().as_secs_f64(),
        counters.sent as f64 / 1e6,
        counters.received as f64 / 1e6
    );
    Ok(())
}

/// A data party scoring with its tree model file.
pub fn run(args: &Args, model: &TreeModelFile, model_path: &Path, input: &Path) -> CliResult {
    let model_name = model_path.display().to_string();
    let bad_model = |reason: String| LearnError::Model {
        file: model_name.clone(),
        reason,
    };
    if model.party != args.me {
        return Err(bad_model(format!("it is {}'s model, not {}'s", model.party, args.me)).into());
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
    let label_name = model
        .job
        .parties
        .iter()
        .find(|p| p.role == PartyRole::Label)
        .map(|p| p.name.clone())
        .ok_or_else(|| bad_model("its job names no label holder".into()))?;
    if args
        .label_holder
        .as_deref()
        .is_some_and(|l| l != label_name)
    {
        return Err(format!("the model's label holder is {label_name}, not the one given").into());
    }
    // Read and check the rows before connecting to anyone.
    let features: Vec<String> = model.features.iter().map(|f| f.name.clone()).collect();
    let categorical: Vec<String> = model
        .features
        .iter()
        .filter(|f| matches!(f.kind, indomain_learn::binning::BinKind::Categorical { .. }))
        .map(|f| f.name.clone())
        .collect();
    let table = load_raw_csv(
        input,
        &CsvSpec {
            id_column: model.job.id_column.clone(),
            label_column: args.label_column.clone(),
            features: Some(features),
            task: Task::Linear,
        },
        &categorical,
    )?;
    let (parties, me, roles) = setup(args, &label_name)?;
    let started = Instant::now();
    let (scored, counters) =
        connect_and_score(args, &parties, me, &roles, Some(model), Some(&table))?;
    if let (Some((ids, margins)), Some(path)) = (&scored.scores, &args.output) {
        let mut out = AtomicOutput::create(path, &[input, model_path], args.force)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        writeln!(out, "{},score,prediction", model.job.id_column)?;
        for (id, z) in ids.iter().zip(margins) {
            let prediction = match model.job.params.loss {
                Loss::Logistic => 1.0 / (1.0 + (-z).exp()),
                Loss::Squared => *z,
            };
            writeln!(out, "{id},{z},{prediction}")?;
        }
        out.commit()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        eprintln!(
            "predict {}: {} scores written to {}",
            args.me,
            ids.len(),
            path.display()
        );
    }
    eprintln!(
        "predict {}: {} rows scored jointly with {} trees; {:.2} s; sent {:.2} MB, received {:.2} MB",
        args.me,
        scored.rows,
        model.trees.len(),
        started.elapsed().as_secs_f64(),
        counters.sent as f64 / 1e6,
        counters.received as f64 / 1e6
    );
    Ok(())
}
