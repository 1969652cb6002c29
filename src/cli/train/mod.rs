//! `indomain train`: one party of a joint training job — vertical
//! (label holder, feature holders, dealer; rows aligned by PSI join) or
//! horizontal (FedAvg clients and their server, over secure aggregation).

mod args;
mod horizontal;
mod params;
mod roles;
mod scorecard;
mod secagg_keys;
mod trees;
mod vertical;

pub use args::Args;
use args::{AlgorithmArg, ModeArg, TaskArg};

use super::CliResult;
use super::arg_error::{self, ArgError};
use indomain_learn::TrainParams;
use indomain_learn::calibration::Calibration;
use indomain_learn::metrics::Evaluation;
use indomain_learn::model::PartyRole;
use indomain_learn::model::TrainingEnd;
use indomain_net::Counters;
use indomain_net::quic::TrustedPeer;
use std::net::SocketAddr;

/// The parsed party list and this party's place in it.
struct Parties {
    entries: Vec<(TrustedPeer, SocketAddr)>,
    me: usize,
}

impl Parties {
    fn parse(args: &Args) -> Result<Self, ArgError> {
        let entries = args
            .parties
            .iter()
            .map(|p| super::aggregate::parse_party(p))
            .collect::<Result<Vec<_>, _>>()?;
        let parties = Self { entries, me: 0 };
        let me = parties.index(&args.me)?;
        Ok(Self { me, ..parties })
    }

    fn names(&self) -> Vec<String> {
        self.entries.iter().map(|(p, _)| p.name.clone()).collect()
    }

    fn index(&self, name: &str) -> Result<usize, ArgError> {
        arg_error::position(&self.names(), name, None)
    }
}

pub fn run(args: Args) -> CliResult {
    let parties = Parties::parse(&args)?;
    if args.scorecard || args.woe.is_some() {
        if args.mode != ModeArg::Vertical {
            return Err("--scorecard is a vertical job".into());
        }
        if matches!(args.algorithm, AlgorithmArg::Gbdt) {
            return Err(
                "--scorecard trains a logistic regression on WOE columns: drop --algorithm gbdt"
                    .into(),
            );
        }
        return scorecard::run(&args, &parties);
    }
    match (args.mode, args.algorithm) {
        (ModeArg::Vertical, AlgorithmArg::Gbdt) => trees::run(&args, &parties),
        (ModeArg::Vertical, AlgorithmArg::Lr) => vertical::run(&args, &parties),
        (ModeArg::Horizontal, AlgorithmArg::Lr) => horizontal::run(&args, &parties),
        (ModeArg::Horizontal, AlgorithmArg::Gbdt) => {
            Err("gradient-boosted trees are vertical: drop --mode horizontal".into())
        }
    }
}

/// The spinner's message for a contribution run among `with` (the
/// feature holders kept; none: the label holder alone).
fn contribution_message(with: &[String]) -> String {
    if with.is_empty() {
        "contribution run with the label holder alone".to_string()
    } else {
        format!("contribution run with {}", with.join(", "))
    }
}

/// How a vertical job's summary names a party's role.
fn role_name(role: PartyRole) -> &'static str {
    match role {
        PartyRole::Label => "label holder",
        PartyRole::Dealer => "dealer",
        _ => "feature holder",
    }
}

/// One line of metrics.
fn describe(e: &Evaluation) -> String {
    match e {
        Evaluation::Classification(c) => format!(
            "AUC {:.4}, KS {:.4}, accuracy {:.4}, log-loss {:.4}",
            c.auc, c.ks, c.accuracy, c.log_loss
        ),
        Evaluation::Regression(r) => format!("RMSE {:.4}, R² {:.4}", r.rmse, r.r2),
    }
}

/// The reliability table and ECE, one line per decile.
fn describe_calibration(what: &str, c: &Calibration) -> String {
    let mut out = format!(
        "{what}: expected calibration error {:.4}; by decile of predicted probability (rows: mean predicted / observed):",
        c.ece
    );
    for (k, b) in c.bins.iter().enumerate() {
        out.push_str(&format!(
            "\n  {:>2}. {:>6} rows: {:.4} / {:.4}",
            k + 1,
            b.rows,
            b.predicted,
            b.observed
        ));
    }
    out
}

/// How training ended, in words.
fn describe_end(end: &TrainingEnd, params: &TrainParams) -> String {
    match (params.convergence, params.early_stopping) {
        (Some(c), _) if end.converged => format!(
            "converged after {} epochs: no validation prediction moved by more than {} for {} epochs",
            end.epochs, c.tolerance, c.patience
        ),
        (Some(_), _) => format!(
            "did NOT converge: stopped at the cap of {} epochs (raise --epochs)",
            end.epochs
        ),
        (None, Some(_)) => format!(
            "early stopping after {} epochs, kept epoch {}",
            end.epochs, end.kept_epoch
        ),
        (None, None) => format!("{} epochs (fixed)", end.epochs),
    }
}

fn bytes(c: Counters) -> String {
    // Exact below a megabyte: a small job's traffic is not "0.00 MB".
    let amount = |n: u64| {
        if n < 1_000_000 {
            format!("{n} bytes")
        } else {
            format!("{:.2} MB", n as f64 / 1e6)
        }
    };
    format!("sent {}, received {}", amount(c.sent), amount(c.received))
}
