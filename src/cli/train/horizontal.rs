//! `indomain train --mode horizontal`: a FedAvg client or its server. The
//! clients connect to the server only (a star); the server learns each
//! round's row-weighted sum of the clients' models and nothing else.

use super::secagg_keys::KeyTable;
use super::{Args, Parties, bytes, describe, describe_calibration};
use crate::cli::CliResult;
use crate::cli::StepResult;
use crate::cli::stop;
use indicatif::ProgressBar;
use indomain_aggregate::secagg::signing::SigningKey;
use indomain_learn::calibration::CalibrationReport;
use indomain_learn::data::{self, load_csv};
use indomain_learn::horizontal::{
    FedAvgOutcome, FedAvgParams, GlobalModel, run_client, run_client_signed, run_server,
    run_server_signed, scale_warnings,
};
use indomain_learn::horizontal_job::{HorizontalJob, client_rows, evaluate, model_file};
use indomain_learn::metrics;
use indomain_learn::metrics::Evaluation;
use indomain_learn::model::{HorizontalSpec, JobParty, JobSpec, PartyRole, Rows, write_private};
use indomain_learn::{LearnError, agree, plain, report};
use indomain_net::quic::{Endpoint, Identity, QuicChannel};
use indomain_net::wire::{recv_msg, send_msg};
use indomain_net::{Channel, Counters, Limits};
use rand::RngExt;
use std::path::Path;
use std::time::Instant;

pub fn run(args: &Args, parties: &Parties) -> CliResult {
    let names = parties.names();
    let server = parties.index(args.server.as_deref().unwrap_or_default())?;
    let is_server = parties.me == server;
    let (fedavg, columns) = fedavg_params(args, names.len())?;
    if is_server && args.input.is_some() {
        return Err(format!("{} is the server and holds no data: drop --input", args.me).into());
    }
    let model_path = args
        .model
        .clone()
        .ok_or("give --model MODEL.json: where this party writes its model")?;
    let table = read_input(args, is_server)?;
    let clients: Vec<usize> = (0..names.len()).filter(|&p| p != server).collect();
    let mut spec = job_spec(args, &names, server, columns, &fedavg);
    let (keys, agreement) = agreement(args, &names, &clients, &spec)?;

    let limits = args.limits()?;
    let identity = Identity::load(&args.identity)?;
    let bar = args.progress_bar()?;
    let started = Instant::now();
    let setup = Setup {
        args,
        parties,
        names: &names,
        server,
        clients: &clients,
        fedavg: &fedavg,
        keys: keys.as_ref(),
        agreement: &agreement,
        identity: &identity,
        limits,
    };
    let trained = if is_server {
        serve(&setup, &mut spec, &bar)?
    } else {
        train_client(&setup, table, &mut spec, &bar)?
    };
    bar.finish_and_clear();
    write_outputs(args, spec, is_server, trained, &model_path, started)
}

/// Checks the job's flags: the FedAvg parameters and the columns every
/// client has.
fn fedavg_params(args: &Args, parties: usize) -> StepResult<(FedAvgParams, Vec<String>)> {
    if args.early_stopping.is_some() {
        return Err("--early-stopping is only available in vertical training".into());
    }
    let Some(columns) = args.features.clone() else {
        return Err("horizontal training needs --features: the columns every client has".into());
    };
    // The job's parameters, DP included, are checked before any row is read.
    let fedavg = FedAvgParams {
        clients: parties - 1,
        features: columns.len(),
        rounds: args.rounds,
        local: args.local_params(),
        frac_bits: args.frac_bits,
        max_abs: args.max_abs,
        dp: args.fed_dp()?,
    };
    fedavg.validate()?;
    Ok((fedavg, columns))
}

/// Reads and checks the client's rows before connecting to anyone (none at
/// the server).
fn read_input(args: &Args, is_server: bool) -> StepResult<Option<Result<data::Table, LearnError>>> {
    if is_server {
        return Ok(None);
    }
    let input = args
        .input
        .as_ref()
        .ok_or_else(|| format!("{} is a client: give --input FILE.csv", args.me))?;
    if args.label_column.is_none() {
        return Err("every horizontal client needs --label-column".into());
    }
    // A refused file is reported to the server, which stops everyone.
    Ok(Some(load_csv(input, &args.csv_spec(true))))
}

/// The job every party must agree on, from the flags.
fn job_spec(
    args: &Args,
    names: &[String],
    server: usize,
    columns: Vec<String>,
    fedavg: &FedAvgParams,
) -> JobSpec {
    JobSpec {
        mode: "horizontal".into(),
        parties: names
            .iter()
            .enumerate()
            .map(|(i, n)| JobParty {
                name: n.clone(),
                role: if i == server {
                    PartyRole::Server
                } else {
                    PartyRole::Client
                },
            })
            .collect(),
        id_column: args.id.clone(),
        test_fraction: args.test_fraction,
        params: args.local_params(),
        horizontal: Some(HorizontalSpec {
            columns: columns.clone(),
            rounds: args.rounds,
            max_abs: args.max_abs,
            dp: fedavg.dp,
        }),
        nonce: String::new(),
    }
}

/// The clients' signing keys (none: unsigned rounds) and what every party
/// must agree on: the job's hash, and the key table.
fn agreement(
    args: &Args,
    names: &[String],
    clients: &[usize],
    spec: &JobSpec,
) -> StepResult<(Option<KeyTable>, String)> {
    let client_names: Vec<&str> = clients.iter().map(|&c| names[c].as_str()).collect();
    let keys = args
        .secagg_keys
        .as_deref()
        .map(|path| super::secagg_keys::load(path, &client_names))
        .transpose()?;
    let agreement = match &keys {
        Some(table) => format!("{} signed-secagg {}", spec.hash(), table.agreement),
        None => spec.hash(),
    };
    Ok((keys, agreement))
}

/// What both the server's and a client's side need from the checked flags.
struct Setup<'a> {
    args: &'a Args,
    parties: &'a Parties,
    /// Every party's name.
    names: &'a [String],
    /// The server's place in the party list.
    server: usize,
    /// The parties' indices of the clients, in client order.
    clients: &'a [usize],
    fedavg: &'a FedAvgParams,
    /// The clients' signing keys, when the rounds are signed.
    keys: Option<&'a KeyTable>,
    /// What every party must agree on: the job's hash, and the key table.
    agreement: &'a str,
    identity: &'a Identity,
    limits: Limits,
}

/// A party's model as it leaves the rounds, with what is written beside it.
struct Trained {
    model: GlobalModel,
    counters: Counters,
    rows: Rows,
    /// A client's evaluation and calibration on its own held-out rows,
    /// with the held-out scores and labels (none at the server).
    evaluated: Option<Evaluated>,
}

/// A client's held-out evaluation and calibration, and the held-out
/// scores and labels its figure is drawn from.
type Evaluated = (
    (Option<Evaluation>, Option<CalibrationReport>),
    Option<(Vec<f64>, Vec<f64>)>,
);

/// The server's side: accept every client, run the rounds and report
/// them; it learns each round's row-weighted sum and nothing else.
fn serve(setup: &Setup, spec: &mut JobSpec, bar: &ProgressBar) -> StepResult<Trained> {
    let (args, parties, names, server) = (setup.args, setup.parties, setup.names, setup.server);
    let (clients, fedavg, keys) = (setup.clients, setup.fedavg, setup.keys);
    let trusted = clients
        .iter()
        .map(|&c| parties.entries[c].0.clone())
        .collect();
    let endpoint = Endpoint::bind(
        setup.identity,
        parties.entries[server].1,
        trusted,
        setup.limits,
    )?;
    // A signal or a failure from here on tells the clients at once.
    let stop = stop::Guard::new(endpoint.stop_handle());
    bar.set_message(format!("waiting for {} clients", clients.len()));
    let mut links: Vec<QuicChannel> = Vec::new();
    let job = ServerJob {
        clients,
        names,
        fedavg,
        keys,
        agreement: setup.agreement,
    };
    let outcome = serve_rounds(&endpoint, &mut links, &job, spec, bar);
    if outcome.is_err() {
        // Before the links are dropped, so that they close as stopped.
        stop.failed();
    }
    let out = outcome?;
    stop.done();
    let counters = out.bytes;
    let last = out.rounds.last().map_or(0.0, |r| r.rows);
    print_rounds(args, &out, last, keys.is_some(), fedavg)?;
    drop(links);
    drop(endpoint);
    Ok(Trained {
        model: out.model,
        counters,
        rows: Rows {
            train: last as usize,
            test: 0,
        },
        evaluated: None,
    })
}

/// Prints what the server learned of the rounds (how many, signed or not,
/// how many clients and rows the last averaged) and the DP guarantee.
fn print_rounds(
    args: &Args,
    out: &FedAvgOutcome,
    last: f64,
    signed: bool,
    fedavg: &FedAvgParams,
) -> StepResult<()> {
    let rows_note = if last.is_nan() {
        String::new()
    } else {
        format!(" ({last} rows)")
    };
    eprintln!(
        "train {}: {} rounds ({} SecAgg); last round averaged {} clients{rows_note}",
        args.me,
        out.rounds.len(),
        if signed { "signed" } else { "unsigned" },
        out.rounds.last().map_or(0, |r| r.survivors.len())
    );
    if let Some(dp) = &fedavg.dp {
        let cal = dp.calibrate(fedavg)?;
        eprintln!(
            "train {}: differential privacy: ε = {:.3} (asked {}), δ = {}, ρ = {:.5} over {} rounds; updates clipped to L2 norm {}; noise σ = {:.3e} per client and coordinate, calibrated for {} survivors",
            args.me,
            cal.epsilon,
            dp.epsilon,
            dp.delta,
            cal.rho,
            fedavg.rounds,
            dp.clip_norm,
            cal.sigma as f64 / 2f64.powi(fedavg.frac_bits as i32),
            cal.honest
        );
    }
    Ok(())
}

/// A client's side: connect to the server, run the rounds on its rows and
/// evaluate the global model on its own held-out rows.
fn train_client(
    setup: &Setup,
    table: Option<Result<data::Table, LearnError>>,
    spec: &mut JobSpec,
    bar: &ProgressBar,
) -> StepResult<Trained> {
    let (args, parties, names, server) = (setup.args, setup.parties, setup.names, setup.server);
    let (clients, fedavg, keys) = (setup.clients, setup.fedavg, setup.keys);
    let table = table.ok_or("client without rows")?;
    let id = clients
        .iter()
        .position(|&c| c == parties.me)
        .ok_or("not a client")?;
    let own = keys
        .map(|t| super::secagg_keys::own_key(&args.identity, t, id, &args.me))
        .transpose()?;
    let trusted = vec![parties.entries[server].0.clone()];
    let endpoint = Endpoint::bind(
        setup.identity,
        parties.entries[parties.me].1,
        trusted,
        setup.limits,
    )?;
    bar.set_message(format!("connecting to {}", names[server]));
    let stop = stop::Guard::new(endpoint.stop_handle());
    let mut ch = endpoint.connect(parties.entries[server].1, &names[server])?;
    let rows_job = HorizontalJob {
        spec: spec.clone(),
        server,
        fedavg: fedavg.clone(),
        min_rows: 1,
    };
    let job = ClientJob {
        id,
        fedavg,
        rows_job: &rows_job,
        agreement: setup.agreement,
        signing: keys.zip(own.as_ref()),
    };
    let outcome = client_rounds(&mut ch, &job, table, spec, args, bar);
    if outcome.is_err() {
        // Before the link is dropped, so that it closes as stopped.
        stop.failed();
    }
    let (model, train, test) = outcome?;
    stop.done();
    let counters = ch.counters();
    drop(ch);
    drop(endpoint);
    // Each client's evaluation and calibration on its own held-out rows.
    let evaluated = evaluate(args.task(), &model, &test);
    let scores = plain::scores(test.x.view(), &model.weights, model.intercept);
    let held_out = test.y.clone().map(|y| (scores, y));
    Ok(Trained {
        model,
        counters,
        rows: Rows {
            train: train.rows(),
            test: test.rows(),
        },
        evaluated: Some((evaluated, held_out)),
    })
}

/// Writes the party's model file, then a client's figure, and prints the
/// held-out metrics, calibration and the run's time and traffic.
fn write_outputs(
    args: &Args,
    spec: JobSpec,
    is_server: bool,
    trained: Trained,
    model_path: &Path,
    started: Instant,
) -> CliResult {
    let Trained {
        model,
        counters,
        rows,
        evaluated,
    } = trained;
    let ((evaluation, calibration), held_out) = evaluated.unwrap_or_default();
    let file = model_file(
        spec,
        &args.me,
        is_server,
        model,
        rows,
        evaluation,
        calibration,
    );
    file.save(model_path)?;
    if let Some(e) = &file.evaluation {
        eprintln!(
            "train {}: held-out ({} rows): {}",
            args.me,
            rows.test,
            describe(e)
        );
    }
    if let (Some(c), Some((scores, labels))) = (&file.calibration, &held_out) {
        eprintln!(
            "train {}: {}",
            args.me,
            describe_calibration("held-out calibration", &c.held_out)
        );
        let probabilities: Vec<f64> = scores.iter().map(|&s| plain::sigmoid(s)).collect();
        let svg_path = model_path.with_extension("svg");
        let svg = report::svg(
            &format!("{} — held-out evaluation of the FedAvg model", args.me),
            &metrics::roc(&probabilities, labels),
            &[],
            &[],
            Some(c),
        );
        write_private(&svg_path, svg.as_bytes())?;
        eprintln!(
            "train {}: figure written to {}",
            args.me,
            svg_path.display()
        );
    }
    eprintln!(
        "train {}: model written to {}; {:.2} s; {}",
        args.me,
        model_path.display(),
        started.elapsed().as_secs_f64(),
        bytes(counters)
    );
    Ok(())
}

/// What the server's rounds need besides the links.
struct ServerJob<'a> {
    /// The parties' indices of the clients, in client order.
    clients: &'a [usize],
    /// Every party's name.
    names: &'a [String],
    fedavg: &'a FedAvgParams,
    /// The clients' signing keys, when the rounds are signed.
    keys: Option<&'a KeyTable>,
    /// What every client must agree on: the job's hash, and the key table.
    agreement: &'a str,
}

/// The server's job once its endpoint is up: accept every client into
/// `links` (in client order), agree on the job, send the nonce, learn that
/// every client is ready, and run the rounds.
fn serve_rounds(
    endpoint: &Endpoint,
    links: &mut Vec<QuicChannel>,
    job: &ServerJob,
    spec: &mut JobSpec,
    bar: &ProgressBar,
) -> StepResult<FedAvgOutcome> {
    let (clients, names, fedavg) = (job.clients, job.names, job.fedavg);
    let mut slots: Vec<Option<QuicChannel>> = (0..clients.len()).map(|_| None).collect();
    for _ in 0..clients.len() {
        let ch = endpoint.accept()?;
        let slot = clients
            .iter()
            .position(|&c| names[c] == ch.peer())
            .ok_or_else(|| format!("{} is not a client of this job", ch.peer()))?;
        slots[slot] = Some(ch);
    }
    links.extend(slots.into_iter().flatten());
    for ch in links.iter_mut() {
        agree::same_job_with(ch, job.agreement)?;
    }
    spec.nonce = hex(&rand::rng().random::<[u8; 16]>());
    for ch in links.iter_mut() {
        send_msg(ch, &spec.nonce)?;
    }
    agree::ready_from_clients(links)?;
    let mut progress = |round: usize, info: &indomain_learn::horizontal::RoundInfo| {
        bar.set_message(format!(
            "round {}/{}: {} clients{}{}",
            round + 1,
            fedavg.rounds,
            info.survivors.len(),
            if info.rows.is_nan() {
                String::new()
            } else {
                format!(", {} rows", info.rows)
            },
            if info.dropped.is_empty() {
                String::new()
            } else {
                format!(", dropped {:?}", info.dropped)
            }
        ))
    };
    let out = match job.keys {
        Some(table) => {
            run_server_signed(links, fedavg, &table.pki, &mut rand::rng(), &mut progress)?
        }
        None => run_server(links, fedavg, &mut rand::rng(), &mut progress)?,
    };
    Ok(out)
}

/// What a client's rounds need besides its link and rows.
struct ClientJob<'a> {
    /// This client's index among the clients.
    id: usize,
    fedavg: &'a FedAvgParams,
    /// The job as the rows check reads it (columns, split, fewest rows).
    rows_job: &'a HorizontalJob,
    /// What the server must agree on: the job's hash, and the key table.
    agreement: &'a str,
    /// The key table and this client's signing key, when rounds are signed.
    signing: Option<(&'a KeyTable, &'a SigningKey)>,
}

/// A client's job once it is connected: agree on the job, receive the
/// nonce, report its rows ready (or its refusal) and train. Returns the
/// global model with the training and held-out rows.
fn client_rounds(
    ch: &mut QuicChannel,
    job: &ClientJob,
    table: Result<data::Table, LearnError>,
    spec: &mut JobSpec,
    args: &Args,
    bar: &ProgressBar,
) -> StepResult<(GlobalModel, data::Table, data::Table)> {
    let (id, fedavg) = (job.id, job.fedavg);
    agree::same_job_with(ch, job.agreement)?;
    spec.nonce = recv_msg(ch)?;
    // The rows checked and split as a node's client checks them.
    let (train, test) =
        agree::ready_to_server(ch, table.and_then(|t| client_rows(&t, job.rows_job)))?;
    // The client's own columns, told to it alone.
    let columns = args.features.clone().unwrap_or_default();
    for warning in scale_warnings(train.x.view(), &columns) {
        bar.suspend(|| eprintln!("train {}: warning: {warning}", args.me));
    }
    bar.set_message(format!("training with {} rows", train.rows()));
    let y = train.y.clone().unwrap_or_default();
    let rng = &mut rand::rng();
    let model = match job.signing {
        Some((table, key)) => {
            run_client_signed(ch, id, fedavg, (key, &table.pki), (train.x.view(), &y), rng)?
        }
        None => run_client(ch, id, fedavg, train.x.view(), &y, rng)?,
    };
    Ok((model, train, test))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
