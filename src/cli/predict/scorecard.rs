//! `indomain predict` with a scorecard file: joint scoring of new rows
//! (only the label holder learns the scores) and the population stability
//! index of every party's features and of the score.

use super::Args;
use crate::cli::CliResult;
use crate::cli::aggregate::parse_party;
use crate::cli::net_args::{bind_among, spinner, timeout_limits};
use crate::cli::stop;
use indomain_learn::align::Roles;
use indomain_learn::binning::BinKind;
use indomain_learn::data::{CsvSpec, load_raw_csv};
use indomain_learn::model::PartyRole;
use indomain_learn::scorecard::model::ScorecardFile;
use indomain_learn::scorecard::pipeline;
use indomain_learn::stability::verdict;
use indomain_learn::{LearnError, Task};
use indomain_net::quic::{Endpoint, mesh};
use indomain_node::output::{AtomicOutput, check_destination};
use std::io::Write;
use std::path::Path;
use std::time::Instant;

/// Whether the file at `path` is a scorecard.
pub(super) fn is_scorecard(path: &Path) -> bool {
    ScorecardFile::is_scorecard(path)
}

pub(super) fn run(args: Args) -> CliResult {
    let card = match &args.model {
        Some(path) => {
            let c = ScorecardFile::load(path)?;
            if c.party != args.me {
                return Err(LearnError::Model {
                    file: path.display().to_string(),
                    reason: format!("it is {}'s scorecard, not {}'s", c.party, args.me),
                }
                .into());
            }
            Some(c)
        }
        None => None,
    };
    let parties = args
        .parties
        .iter()
        .map(|p| parse_party(p))
        .collect::<Result<Vec<_>, _>>()?;
    let names: Vec<String> = parties.iter().map(|(p, _)| p.name.clone()).collect();
    let index = |name: &str| {
        names
            .iter()
            .position(|n| n == name)
            .ok_or_else(|| format!("{name} is not in the --party list ({})", names.join(", ")))
    };
    let me = index(&args.me)?;
    let dealer = args.dealer.as_deref().map(index).transpose()?;
    let is_dealer = dealer == Some(me);
    if is_dealer && (args.model.is_some() || args.input.is_some() || args.output.is_some()) {
        return Err(format!(
            "{} is the dealer: drop --model, --input and --output",
            args.me
        )
        .into());
    }
    let Some(card) = card else {
        if !is_dealer {
            return Err("give --model SCORECARD.json".into());
        }
        let label = index(args.label_holder.as_deref().ok_or(
            "the dealer needs --label-holder NAME (the data parties read it from their scorecards)",
        )?)?;
        let roles = Roles::new(names.len(), label, dealer)?;
        let (mut party_set, endpoint, guard) = connect(&args, &parties, me)?;
        pipeline::predict(&mut party_set, &roles, None, Ok(None), &mut rand::rng())?;
        guard.done();
        drop(party_set);
        drop(endpoint);
        eprintln!("predict {}: dealt for the joint scoring", args.me);
        return Ok(());
    };
    let label_name = card
        .job
        .parties
        .iter()
        .find(|p| p.role == PartyRole::Label)
        .map(|p| p.name.clone())
        .ok_or("the scorecard's job names no label holder")?;
    let label = index(&label_name)?;
    if args
        .label_holder
        .as_deref()
        .is_some_and(|l| l != label_name)
    {
        return Err(format!(
            "the scorecard's label holder is {label_name}, not {}",
            args.label_holder.as_deref().unwrap_or_default()
        )
        .into());
    }
    let is_label = me == label;
    if is_label != args.output.is_some() {
        return Err(if is_label {
            "this party holds the labels and learns the scores: give --output OUT.csv"
        } else {
            "only the label holder learns the scores: drop --output"
        }
        .into());
    }
    let input = args.input.clone().ok_or("give --input FILE.csv")?;
    for path in args.output.iter().chain(&args.stability) {
        check_destination(path, &[&input], args.force)
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    let features: Vec<String> = card.features.iter().map(|f| f.bins.name.clone()).collect();
    let categorical: Vec<String> = card
        .features
        .iter()
        .filter(|f| matches!(f.bins.kind, BinKind::Categorical { .. }))
        .map(|f| f.bins.name.clone())
        .collect();
    let table = load_raw_csv(
        &input,
        &CsvSpec {
            id_column: card.job.id_column.clone(),
            label_column: None,
            features: Some(features),
            task: Task::Logistic,
        },
        &categorical,
    );
    let roles = Roles::new(names.len(), label, dealer)?;
    let model_name = args
        .model
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let started = Instant::now();
    let (mut party_set, endpoint, guard) = connect(&args, &parties, me)?;
    let bar = spinner(args.quiet)?;
    bar.set_message("scoring with the scorecard");
    let out = pipeline::predict(
        &mut party_set,
        &roles,
        Some((&card, model_name.as_str())),
        table.as_ref().map(Some).map_err(clone_err),
        &mut rand::rng(),
    );
    bar.finish_and_clear();
    let out = out?;
    let counters = party_set.counters();
    guard.done();
    drop(party_set);
    drop(endpoint);
    if let (Some(scores), Some(path)) = (&out.scores, &args.output) {
        let mut w = AtomicOutput::create(path, &[&input], args.force)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        writeln!(w, "{},score,probability", card.job.id_column)?;
        let (offset, factor) = (card.job.scale.offset(), card.job.scale.factor());
        for (id, s) in out.ids.iter().zip(scores) {
            let p = indomain_learn::plain::sigmoid((offset - s) / factor);
            writeln!(w, "{id},{s:.4},{p:.6}")?;
        }
        w.commit().map_err(|e| format!("{}: {e}", path.display()))?;
        eprintln!(
            "predict {}: {} scores written to {}",
            args.me,
            scores.len(),
            path.display()
        );
    }
    let mut lines: Vec<(String, f64)> = out.stability.clone();
    if let Some(s) = out.score_stability {
        lines.push(("(score)".into(), s));
    }
    for (name, psi) in &lines {
        eprintln!(
            "predict {}: stability of {name}: PSI {psi:.4} ({})",
            args.me,
            verdict(*psi)
        );
    }
    if let Some(path) = &args.stability {
        let mut w = AtomicOutput::create(path, &[&input], args.force)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        writeln!(w, "party,feature,psi,reading")?;
        for (name, psi) in &lines {
            writeln!(w, "{},{name},{psi:.6},{}", args.me, verdict(*psi))?;
        }
        w.commit().map_err(|e| format!("{}: {e}", path.display()))?;
    }
    eprintln!(
        "predict {}: {} rows scored jointly; {:.2} s; sent {:.2} MB, received {:.2} MB",
        args.me,
        out.ids.len(),
        started.elapsed().as_secs_f64(),
        counters.sent as f64 / 1e6,
        counters.received as f64 / 1e6
    );
    Ok(())
}

fn clone_err(e: &LearnError) -> LearnError {
    LearnError::Data(e.to_string())
}

type Connected = (indomain_net::PartySet, Endpoint, stop::Guard);

fn connect(
    args: &Args,
    parties: &[(indomain_net::quic::TrustedPeer, std::net::SocketAddr)],
    me: usize,
) -> Result<Connected, Box<dyn std::error::Error + Send + Sync>> {
    let limits = timeout_limits(args.timeout)?;
    let (endpoint, guard, addrs) = bind_among(&args.identity, parties, me, limits)?;
    let set = mesh(&endpoint, me, &addrs)?;
    Ok((set, endpoint, guard))
}
