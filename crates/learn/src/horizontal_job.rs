//! A whole horizontal FedAvg job over a party set, as a node runs it:
//! job agreement, every client's rows checked (or its refusal announced),
//! the job nonce, the rounds of [`crate::horizontal`] (with or without
//! the distributed DP of [`crate::fed_dp`]), and each party's model file.
//!
//! Party `server` reads no data and coordinates; every other party is a
//! client with rows of the same columns. Only the server's links to the
//! clients carry the rounds (a star); the agreement and the readiness
//! check use every link of the set, so that a client's refusal stops all
//! parties before any round.
//!
//! What each party learns: what [`crate::horizontal`] says — the server
//! the global model after each round (with DP, a differentially private
//! sum of clipped updates per round) and which clients dropped; each
//! client the global model after each round. A client evaluates the final
//! model on its own held-out rows, which nobody else sees. The model file
//! of every party records the job, with ε, δ and the clipping norm when
//! the training was private.

use crate::data::{self, Table};
use crate::horizontal::{FedAvgParams, GlobalModel, RoundInfo, run_client, run_server};
use crate::metrics::{self, Evaluation};
use crate::model::{FORMAT_VERSION, JobSpec, ModelFile, PartyRole, Rows};
use crate::{LearnError, Task, agree, plain};
use indomain_net::PartySet;
use indomain_net::wire::{recv_msg, send_msg};
use rand::{CryptoRng, Rng, RngExt};

/// A horizontal job as every party agreed on it.
#[derive(Debug, Clone, PartialEq)]
pub struct HorizontalJob {
    /// The job (mode `horizontal`, with its [`crate::model::HorizontalSpec`]);
    /// its nonce is set during the run.
    pub spec: JobSpec,
    /// The server's index in the party set.
    pub server: usize,
    /// The FedAvg parameters (clients in party order, the server left out).
    pub fedavg: FedAvgParams,
    /// The fewest rows a client trains on (after its held-out share).
    pub min_rows: usize,
}

impl HorizontalJob {
    /// The clients' party indices, in client order.
    pub fn clients(&self) -> Vec<usize> {
        (0..self.spec.parties.len())
            .filter(|&p| p != self.server)
            .collect()
    }
}

/// What the run gives this party.
#[derive(Debug, Clone, PartialEq)]
pub struct HorizontalOutcome {
    /// This party's model file: the global model, and at a client its
    /// held-out evaluation.
    pub model: ModelFile,
    /// At the server, each round as it saw it (empty at a client).
    pub rounds: Vec<RoundInfo>,
}

/// Runs the job at this party. `table` is this party's rows as reading
/// them left them (none at the server; features in the job's column
/// order, labels set); an error there, or fewer than `min_rows` training
/// rows, is announced to every party after the agreement, so all stop
/// before any round. `rounds_begin` is called once the rounds are about
/// to start: from then on the server may learn an aggregate of the
/// clients' data.
pub fn run_horizontal<R: Rng + CryptoRng>(
    parties: &mut PartySet,
    job: &HorizontalJob,
    table: Result<Option<&Table>, LearnError>,
    rng: &mut R,
    rounds_begin: &mut dyn FnMut(),
) -> Result<HorizontalOutcome, LearnError> {
    job.fedavg.validate()?;
    let me = parties.me();
    let clients = job.clients();
    if clients.len() != job.fedavg.clients || parties.len() != job.spec.parties.len() {
        return Err(LearnError::Params(format!(
            "{} parties and {} clients for a job of {} clients",
            parties.len(),
            clients.len(),
            job.fedavg.clients
        )));
    }
    let is_server = me == job.server;
    if table.as_ref().is_ok_and(|t| is_server == t.is_some()) {
        return Err(LearnError::Params(
            "a client needs its rows and the server has none".into(),
        ));
    }
    let mut spec = job.spec.clone();
    spec.nonce = String::new();
    agree::same_job(parties, &spec.hash())?;
    // A client's rows, split and checked before anyone goes on.
    let split = table.and_then(|t| t.map(|t| client_rows(t, job)).transpose());
    let split = agree::all_ready(parties, split)?;
    if is_server {
        let nonce: [u8; 16] = rng.random();
        spec.nonce = nonce.iter().map(|b| format!("{b:02x}")).collect();
        for &c in &clients {
            send_msg(parties.channel(c)?, &spec.nonce)?;
        }
    } else {
        spec.nonce = recv_msg(parties.channel(job.server)?)?;
    }
    rounds_begin();
    let (model, rounds, rows, evaluation, calibration) = match split {
        None => {
            let mut links = parties.channels(&clients)?;
            let out = run_server(&mut links, &job.fedavg, rng, &mut |_, _| {})?;
            let last = out.rounds.last().map_or(0.0, |r| r.rows);
            let rows = Rows {
                train: if last.is_finite() { last as usize } else { 0 },
                test: 0,
            };
            (out.model, out.rounds, rows, None, None)
        }
        Some((train, test)) => {
            let id = clients.iter().position(|&c| c == me).ok_or_else(|| {
                LearnError::Params(format!("party {me} is neither server nor client"))
            })?;
            let y = train.y.clone().unwrap_or_default();
            let server = parties.channel(job.server)?;
            let model = run_client(server, id, &job.fedavg, train.x.view(), &y, rng)?;
            let (evaluation, calibration) = evaluate(spec.params.task, &model, &test);
            let rows = Rows {
                train: train.rows(),
                test: test.rows(),
            };
            (model, Vec::new(), rows, evaluation, calibration)
        }
    };
    let file = model_file(
        spec,
        parties.name(me),
        is_server,
        model,
        rows,
        evaluation,
        calibration,
    );
    Ok(HorizontalOutcome {
        model: file,
        rounds,
    })
}

/// The model file of party `party` (the server, or a client with its
/// held-out `evaluation` and `calibration`) for the global `model` of the
/// job `spec` (its nonce set), with the job's columns as features.
pub fn model_file(
    spec: JobSpec,
    party: &str,
    is_server: bool,
    model: GlobalModel,
    rows: Rows,
    evaluation: Option<Evaluation>,
    calibration: Option<crate::calibration::CalibrationReport>,
) -> ModelFile {
    let features = spec
        .horizontal
        .as_ref()
        .map(|h| h.columns.clone())
        .unwrap_or_default();
    ModelFile {
        format: FORMAT_VERSION,
        job_hash: spec.hash(),
        party: party.to_string(),
        role: if is_server {
            PartyRole::Server
        } else {
            PartyRole::Client
        },
        job: spec,
        features,
        standardizer: None,
        weights: model.weights,
        intercept: Some(model.intercept),
        roc: Vec::new(),
        rows,
        evaluation,
        loss_per_epoch: Vec::new(),
        validation_loss_per_epoch: Vec::new(),
        contribution: None,
        correlations: None,
        written_by: format!("indomain {}", env!("CARGO_PKG_VERSION")),
        training: None,
        calibration,
        recalibration: None,
    }
}

/// A client's training and held-out rows, checked against the job: the
/// job's feature count, a label a row, and at least `min_rows` (and one)
/// training rows.
pub fn client_rows(table: &Table, job: &HorizontalJob) -> Result<(Table, Table), LearnError> {
    let features = job.fedavg.features;
    if table.x.ncols() != features || table.y.as_ref().map(Vec::len) != Some(table.rows()) {
        return Err(LearnError::Params(format!(
            "{}: {} feature columns and {} labels, the job has {features} features and a label a row",
            table.source,
            table.x.ncols(),
            table.y.as_ref().map_or(0, Vec::len)
        )));
    }
    let parts = data::split(table.rows(), job.spec.test_fraction, job.spec.params.seed);
    if parts.train.len() < job.min_rows.max(1) {
        return Err(LearnError::Input(format!(
            "{}: {} training rows, the job needs at least {}",
            table.source,
            parts.train.len(),
            job.min_rows.max(1)
        )));
    }
    Ok((table.select(&parts.train), table.select(&parts.test)))
}

/// A client's evaluation of the final model on its own held-out rows, and
/// its calibration report (logistic regression only); none without
/// held-out labels.
pub fn evaluate(
    task: Task,
    model: &GlobalModel,
    test: &Table,
) -> (
    Option<Evaluation>,
    Option<crate::calibration::CalibrationReport>,
) {
    let Some(y) = test.y.as_ref().filter(|y| !y.is_empty()) else {
        return (None, None);
    };
    let scores = plain::scores(test.x.view(), &model.weights, model.intercept);
    let out: Vec<f64> = scores.iter().map(|&s| plain::link(task, s)).collect();
    match task {
        Task::Logistic => (
            Some(Evaluation::Classification(metrics::classification(&out, y))),
            Some(crate::calibration::CalibrationReport::new(&scores, y, None)),
        ),
        Task::Linear => (
            Some(Evaluation::Regression(metrics::regression(&out, y))),
            None,
        ),
    }
}
