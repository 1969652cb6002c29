//! The steps the mesh jobs (vertical regression, trees, scorecard) share:
//! checking a party's input and model flags against its role, connecting
//! to every party and closing the links, and describing the contribution
//! runs. Each party learns here only what its job's pipeline tells it.

use super::{Args, Parties};
use crate::cli::StepResult;
use crate::cli::net_args::bind_among;
use crate::cli::stop;
use indicatif::ProgressBar;
use indomain_learn::LearnError;
use indomain_learn::contribution::Report;
use indomain_learn::model::PartyRole;
use indomain_net::Counters;
use indomain_net::party::PartySet;
use indomain_net::quic::{Endpoint, mesh};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The input file a party of a vertical job reads (none: the dealer),
/// after checking `--input` and `--label-column` against its role.
pub(super) fn data_holder_input(args: &Args, role: PartyRole) -> StepResult<Option<&Path>> {
    match (role, &args.input) {
        (PartyRole::Dealer, None) => Ok(None),
        (PartyRole::Dealer, Some(_)) => {
            Err(format!("{} is the dealer and holds no data: drop --input", args.me).into())
        }
        (_, None) => Err(format!("{} holds data: give --input FILE.csv", args.me).into()),
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
            Ok(Some(path))
        }
    }
}

/// Splits the reading of a party's input into its rows and the refusal
/// that is reported to every party after the job agreement, so that all
/// stop.
pub(super) fn split_refusal<T>(
    table: Result<Option<T>, LearnError>,
) -> (Option<T>, Option<LearnError>) {
    match table {
        Ok(t) => (t, None),
        Err(e) => (None, Some(e)),
    }
}

/// Where a party of a vertical job writes its model (none: the dealer,
/// which holds no model), after checking `--test-fraction`.
pub(super) fn model_path(args: &Args, role: PartyRole) -> StepResult<Option<PathBuf>> {
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
    Ok(model_path)
}

/// A mesh job's links to every other party, with the spinner and the
/// guard that tells the others at once when this party stops.
pub(super) struct Connected {
    /// The links, one to each other party.
    pub party_set: PartySet,
    /// The job's spinner.
    pub bar: ProgressBar,
    /// When connecting began: the summary's total counts from here.
    pub started: Instant,
    stop: stop::Guard,
    endpoint: Endpoint,
}

impl Connected {
    /// Binds this party's endpoint and connects to every party: the step
    /// after which nothing more is checked alone.
    pub fn open(args: &Args, parties: &Parties) -> StepResult<Self> {
        let me = parties.me;
        let (endpoint, stop, addrs) =
            bind_among(&args.identity, &parties.entries, me, args.limits()?)?;
        let bar = args.progress_bar()?;
        bar.set_message(format!("connecting to {} parties", addrs.len() - 1));
        let started = Instant::now();
        let party_set = mesh(&endpoint, me, &addrs)?;
        Ok(Self {
            party_set,
            bar,
            started,
            stop,
            endpoint,
        })
    }

    /// Closes the links of a finished job; returns their traffic.
    pub fn close(self) -> Counters {
        let counters = self.party_set.counters();
        self.stop.done();
        drop(self.party_set);
        drop(self.endpoint);
        counters
    }
}

/// Prints the contribution runs' AUCs: the joint model's, the label
/// holder's alone and each leave-one-out run's.
pub(super) fn print_contribution(me: &str, c: &Report) {
    eprintln!(
        "train {}: contribution: joint AUC {:.4}, {} alone {:.4}{}",
        me,
        c.joint.scores.auc,
        c.label_holder,
        c.label_only.scores.auc,
        c.leave_one_out
            .iter()
            .map(|l| format!(", without {} {:.4}", l.left_out, l.entry.scores.auc))
            .collect::<String>()
    );
}
