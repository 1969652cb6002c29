//! A whole binning job at one party, from its checked rows to its binning
//! file: job agreement, row alignment by PSI join ([`crate::align`]), the
//! same train/test split a scorecard's training will use, local binning of
//! the training rows, and the WOE/IV protocol ([`super::protocol`]).
//!
//! What each party learns beyond the protocol's: what the alignment
//! reveals ([`crate::align`]) and, on failure, the other party's refusal.

use super::file::{BinningFile, BinningJob};
use super::kernel::BinSums;
use super::protocol;
use crate::align::{Roles, align};
use crate::binning::{BinParams, RawTable, bin_table};
use crate::data::split;
use crate::model::{PartyRole, Rows};
use crate::{LearnError, agree};
use indomain_net::PartySet;
use indomain_net::wire::{recv_msg, send_msg};
use rand::{CryptoRng, Rng, RngExt};
use std::time::Instant;

/// A binning job as every party is given it.
#[derive(Debug, Clone, PartialEq)]
pub struct BinningRun {
    /// The job (its nonce is drawn by the label holder during the run).
    pub job: BinningJob,
    /// Who does what (a dealer is needed).
    pub roles: Roles,
    /// The fewest shared rows the parties accept.
    pub min_rows: usize,
    /// Given edges for some of this party's own numeric features (local:
    /// not part of the job).
    pub edges: Vec<(String, Vec<f64>)>,
}

/// Progress of a binning job.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// Rows aligned.
    Aligned(usize),
    /// This party's columns binned (features).
    Binned(usize),
}

/// What a party ends with.
#[derive(Debug, Clone)]
pub struct Finished {
    /// Its binning file (data parties).
    pub file: Option<BinningFile>,
    /// Rows shared by every data party.
    pub shared_rows: usize,
    /// Seconds: alignment, local binning, the WOE/IV protocol.
    pub seconds: [f64; 3],
}

/// Runs the binning job at this party. `table` is this party's rows as
/// reading its file left them (none at the dealer): an error there stops
/// every party after the job agreement, naming this party.
pub fn run<R: Rng + CryptoRng + ?Sized>(
    parties: &mut PartySet,
    run: &BinningRun,
    table: Result<Option<&RawTable>, LearnError>,
    kernel: &mut dyn BinSums,
    rng: &mut R,
    progress: &mut dyn FnMut(Event),
) -> Result<Finished, LearnError> {
    let me = parties.me();
    let roles = &run.roles;
    let is_label = me == roles.label;
    let is_data = is_label || roles.features.contains(&me);
    let started = Instant::now();
    let mut job = run.job.clone();
    job.nonce = String::new();
    agree::same_job(parties, &job.hash())?;
    let table = agree::all_ready(
        parties,
        table.and_then(|t| {
            if is_data != t.is_some() {
                return Err(LearnError::Params(
                    "a data party needs its rows and the dealer has none".into(),
                ));
            }
            if is_label && t.is_some_and(|t| t.y.is_none()) {
                return Err(LearnError::Data(
                    "the label holder's file has no label column".into(),
                ));
            }
            Ok(t)
        }),
    )?;
    if is_label {
        let nonce: [u8; 16] = rng.random();
        job.nonce = nonce.iter().map(|b| format!("{b:02x}")).collect();
        for i in parties.others().collect::<Vec<_>>() {
            send_msg(parties.channel(i)?, &job.nonce)?;
        }
    } else {
        job.nonce = recv_msg(parties.channel(roles.label)?)?;
    }
    let ids: &[String] = table.map_or(&[], |t| &t.ids);
    let (n, rows) = align(parties, roles, ids, run.min_rows, rng)?;
    progress(Event::Aligned(n));
    let parts = split(n, job.test_fraction, job.seed);
    let aligned = Instant::now();
    let params = BinParams {
        method: job.method,
        edges: run.edges.clone(),
        min_share: job.min_share,
        max_categories: job.max_categories,
    };
    let binned = table
        .zip(rows.as_ref())
        .map(|(t, rows)| {
            let train: Vec<usize> = parts.train.iter().map(|&r| rows[r]).collect();
            let part = t.select(&train);
            bin_table(&part, &params).map(|b| (b, part.y))
        })
        .transpose();
    let binned = agree::all_ready(parties, binned)?;
    if let Some((b, _)) = &binned {
        progress(Event::Binned(b.len()));
    }
    let local = Instant::now();
    let (features, labels) = binned.unwrap_or_default();
    let outcome = protocol::run(
        parties,
        roles,
        features,
        labels.as_deref(),
        &job.settings,
        kernel,
        rng,
    )?;
    let file = is_data.then(|| {
        BinningFile::new(
            job.clone(),
            parties.name(me),
            if is_label {
                PartyRole::Label
            } else {
                PartyRole::Feature
            },
            Rows {
                train: parts.train.len(),
                test: parts.test.len(),
            },
            outcome,
        )
    });
    Ok(Finished {
        file,
        shared_rows: n,
        seconds: [
            (aligned - started).as_secs_f64(),
            (local - aligned).as_secs_f64(),
            local.elapsed().as_secs_f64(),
        ],
    })
}
