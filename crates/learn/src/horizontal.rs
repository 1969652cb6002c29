//! Horizontal FedAvg logistic (or linear) regression over secure
//! aggregation (McMahan et al., AISTATS 2017, with the update combined by
//! SecAgg+ as in Bonawitz et al., CCS 2017).
//!
//! N clients hold rows with the same columns; a server coordinates. Each
//! round:
//!
//! 1. the server sends every live client the global model (weights and
//!    intercept, raw little-endian f64 bits, length-checked);
//! 2. each client trains locally from it for `local.epochs` epochs of the
//!    plaintext gradient descent of [`crate::plain`] on its own rows, and
//!    builds the vector (w·n, b·n, n) of its new model scaled by its row
//!    count n;
//! 3. the vectors are summed by one round of
//!    [`indomain_aggregate::secagg`] (the job nonce and the round number
//!    bound into its keys and signatures);
//! 4. the server divides by the summed row count: the new global model is
//!    the row-weighted mean of the survivors' local models.
//!
//! A client that drops out (at any step of the round) is left out of that
//! round's mean by SecAgg's unmasking and of every later round; the round
//! goes on while at least the SecAgg threshold of clients remain. After the
//! last round the server sends the global model to every live client.
//!
//! What each party learns: the **server** learns, per round, the sum over
//! the surviving clients of (w·n, b·n, n) — hence the global model and the
//! total row count — and which clients dropped, never one client's model
//! or row count (SecAgg's guarantee, with its non-collusion condition). A
//! **client** learns the global model after each round and what a SecAgg
//! client learns. Rows never leave a client.
//!
//! Before the first round the server and the clients agree on a job
//! nonce ([`secagg::nonce`]: every client contributes fresh randomness,
//! and checks its contribution is in what the nonce is made of); each
//! round's SecAgg binds (job nonce, round number) into every signature and
//! derived key, so a server cannot replay a client's signed message from
//! an earlier job, whose rounds were numbered from 0 too.
//!
//! With [`FedAvgParams::dp`] the clients send clipped, noised updates
//! instead and the server adds their unweighted mean ([`crate::fed_dp`]):
//! the server then learns only a differentially private sum per round.
//!
//! [`run_server`] / [`run_client`] run unsigned SecAgg rounds (a
//! semi-honest server); [`run_server_signed`] / [`run_client_signed`] run
//! signed ones (signed keys and the consistency check against a malicious
//! server), given every client's ed25519 identity key ([`secagg::Pki`]).
//! [`FedAvgOutcome::bytes`] counts what the server's links moved, and
//! [`scale_warnings`] tells a client its columns are not standardised (a
//! model of unscaled columns trains poorly, AUC near 0.5).

use crate::fed_dp::{self, FedDp};
use crate::params::TrainParams;
use crate::{LearnError, plain};
use indomain_aggregate::secagg::driver::drive;
use indomain_aggregate::secagg::server::ServerRound;
use indomain_aggregate::secagg::signing::SigningKey;
use indomain_aggregate::secagg::{self, Pki, nonce};
use indomain_net::wire::{recv_msg, recv_u64s, send_msg, send_u64s};
use indomain_net::{Channel, Counters, NetError};
use ndarray::ArrayView2;
use rand::CryptoRng;
use serde::{Deserialize, Serialize};

/// The parameters of a FedAvg job, identical at the server and every client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FedAvgParams {
    /// Number of clients (ids 0..clients).
    pub clients: usize,
    /// Number of feature columns.
    pub features: usize,
    /// Rounds of local training + secure averaging.
    pub rounds: usize,
    /// The local training: task, epochs per round, learning rate, L2,
    /// batch size, seed (early stopping is not used).
    pub local: TrainParams,
    /// Fractional bits of the secure aggregation's fixed-point encoding.
    pub frac_bits: u32,
    /// The bound on every aggregated value |w·n|, |b·n| and n (without
    /// DP; with DP the bound follows from the clipping norm and the noise).
    pub max_abs: f64,
    /// Distributed differential privacy: clients clip and noise their
    /// updates ([`crate::fed_dp`]).
    #[serde(default)]
    pub dp: Option<FedDp>,
}

impl FedAvgParams {
    /// The SecAgg parameters of round `round`: default neighbourhood,
    /// vector (w, b, n) — or, with DP, the clipped update (w, b) with the
    /// bound of [`fed_dp::FedDpCalibration::bound`].
    pub fn secagg(&self, round: usize) -> Result<secagg::Params, LearnError> {
        let (len, max_abs) = match &self.dp {
            Some(dp) => (self.features + 1, dp.calibrate(self)?.bound),
            None => (self.features + 2, self.max_abs),
        };
        let mut p = secagg::Params::new(self.clients, len, self.frac_bits, max_abs)
            .map_err(|e| LearnError::Params(e.to_string()))?;
        p.round = round as u64;
        Ok(p)
    }

    /// Checks the parameters.
    pub fn validate(&self) -> Result<(), LearnError> {
        if self.rounds == 0 || self.features == 0 {
            return Err(LearnError::Params(
                "FedAvg needs at least one round and one feature".into(),
            ));
        }
        if self.local.early_stopping.is_some() || self.local.convergence.is_some() {
            return Err(LearnError::Params(
                "horizontal training runs a fixed number of local epochs: no early stopping or convergence test".into(),
            ));
        }
        if self.local.optimizer != crate::Optimizer::GradientDescent {
            return Err(LearnError::Params(
                "FedAvg's local steps are gradient descent (TrainParams::gradient_descent)".into(),
            ));
        }
        if let Some(dp) = &self.dp {
            dp.calibrate(self)?;
        }
        self.secagg(0).map(|_| ())
    }
}

/// The server's announcement before each round, then the model as raw f64
/// bits (features + 1 values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum Announce {
    /// Train from the model that follows, then aggregate round `0`.
    Round(u64),
    /// Training is over; the model that follows is final.
    Done,
}

/// A global model: weights and intercept.
#[derive(Debug, Clone, PartialEq)]
pub struct GlobalModel {
    /// One weight per feature.
    pub weights: Vec<f64>,
    /// The intercept.
    pub intercept: f64,
}

/// What happened in one round, as the server saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct RoundInfo {
    /// Clients whose update is in the mean.
    pub survivors: Vec<usize>,
    /// Clients that dropped (in this round or earlier), increasing; one
    /// that dropped after its masked update arrived is a survivor too.
    pub dropped: Vec<usize>,
    /// Total rows of the survivors (NaN with DP: no row count is
    /// aggregated).
    pub rows: f64,
}

/// The server's result.
#[derive(Debug, Clone, PartialEq)]
pub struct FedAvgOutcome {
    /// The final global model.
    pub model: GlobalModel,
    /// Each round.
    pub rounds: Vec<RoundInfo>,
    /// What the server's links to the clients moved during the job.
    pub bytes: Counters,
}

fn send_model<C: Channel + ?Sized>(
    ch: &mut C,
    announce: Announce,
    model: &GlobalModel,
) -> Result<(), NetError> {
    send_msg(ch, &announce)?;
    let bits: Vec<u64> = model
        .weights
        .iter()
        .chain(std::iter::once(&model.intercept))
        .map(|v| v.to_bits())
        .collect();
    send_u64s(ch, &bits)
}

/// A client's link as the server uses it: live, or dead after the client
/// dropped (every call fails at once, so a dropped client costs no
/// timeout in later rounds).
enum Link<'a, C: Channel + ?Sized> {
    Live(&'a mut C),
    Dead(String),
}

impl<C: Channel + ?Sized> Channel for Link<'_, C> {
    fn send(&mut self, frame: &[u8]) -> Result<(), NetError> {
        match self {
            Link::Live(c) => c.send(frame),
            Link::Dead(peer) => Err(NetError::Closed { peer: peer.clone() }),
        }
    }
    fn recv(&mut self) -> Result<Vec<u8>, NetError> {
        match self {
            Link::Live(c) => c.recv(),
            Link::Dead(peer) => Err(NetError::Closed { peer: peer.clone() }),
        }
    }
    fn peer(&self) -> &str {
        match self {
            Link::Live(c) => c.peer(),
            Link::Dead(peer) => peer,
        }
    }
    fn counters(&self) -> Counters {
        match self {
            Link::Live(c) => c.counters(),
            Link::Dead(_) => Counters::default(),
        }
    }
}

fn kill<C: Channel + ?Sized>(link: &mut Link<'_, C>) {
    let peer = link.peer().to_string();
    *link = Link::Dead(peer);
}

/// Runs the server: `clients[i]` is the link to client i. Returns the
/// final model and what happened each round.
pub fn run_server<C: Channel, R: CryptoRng + ?Sized>(
    clients: &mut [C],
    params: &FedAvgParams,
    rng: &mut R,
    progress: &mut dyn FnMut(usize, &RoundInfo),
) -> Result<FedAvgOutcome, LearnError> {
    serve(clients, params, None, rng, progress)
}

/// [`run_server`] with signed SecAgg rounds: `pki` holds every client's
/// identity key.
pub fn run_server_signed<C: Channel, R: CryptoRng + ?Sized>(
    clients: &mut [C],
    params: &FedAvgParams,
    pki: &Pki,
    rng: &mut R,
    progress: &mut dyn FnMut(usize, &RoundInfo),
) -> Result<FedAvgOutcome, LearnError> {
    serve(clients, params, Some(pki), rng, progress)
}

fn serve<C: Channel, R: CryptoRng + ?Sized>(
    clients: &mut [C],
    params: &FedAvgParams,
    pki: Option<&Pki>,
    rng: &mut R,
    progress: &mut dyn FnMut(usize, &RoundInfo),
) -> Result<FedAvgOutcome, LearnError> {
    params.validate()?;
    if clients.len() != params.clients {
        return Err(LearnError::Params(format!(
            "{} client links for {} clients",
            clients.len(),
            params.clients
        )));
    }
    let d = params.features;
    let before: Counters = clients
        .iter()
        .map(Channel::counters)
        .fold(Counters::default(), |a, b| a + b);
    let mut links: Vec<Link<C>> = clients.iter_mut().map(Link::Live).collect();
    let (job, failed) = nonce::server_agree(&mut links);
    for &u in &failed {
        kill(&mut links[u]);
    }
    let mut model = GlobalModel {
        weights: vec![0.0; d],
        intercept: 0.0,
    };
    let mut rounds = Vec::with_capacity(params.rounds);
    for round in 0..params.rounds {
        for link in links.iter_mut() {
            if send_model(link, Announce::Round(round as u64), &model).is_err() {
                kill(link);
            }
        }
        let mut secagg_params = params.secagg(round)?;
        secagg_params.job = job;
        let out = match pki {
            Some(pki) => ServerRound::signed(&secagg_params, pki.clone(), rng),
            None => ServerRound::new(&secagg_params, rng),
        }
        .and_then(|state| drive(&mut links, state))
        .map(|(out, _)| out)
        .map_err(|source| LearnError::Aggregate { round, source })?;
        let dropped: Vec<usize> = out
            .left_out
            .iter()
            .chain(&out.dropped_after_input)
            .map(|d| d.client)
            .collect();
        for &u in &dropped {
            kill(&mut links[u]);
        }
        let rows = if params.dp.is_some() {
            model = fed_dp::apply_mean_update(&model, &out.sum, out.survivors.len());
            f64::NAN
        } else {
            let rows = out.sum[d + 1];
            if rows < 0.5 {
                return Err(LearnError::Protocol {
                    peer: "clients".into(),
                    phase: "averaging",
                    reason: format!("reported {rows} rows in total in round {round}"),
                });
            }
            model = GlobalModel {
                weights: out.sum[..d].iter().map(|v| v / rows).collect(),
                intercept: out.sum[d] / rows,
            };
            rows
        };
        let info = RoundInfo {
            survivors: out.survivors,
            dropped,
            rows,
        };
        progress(round, &info);
        rounds.push(info);
    }
    for link in links.iter_mut() {
        // A client gone by now only misses the final model.
        let _ = send_model(link, Announce::Done, &model);
    }
    drop(links);
    let after: Counters = clients
        .iter()
        .map(Channel::counters)
        .fold(Counters::default(), |a, b| a + b);
    let bytes = Counters {
        sent: after.sent - before.sent,
        received: after.received - before.received,
    };
    Ok(FedAvgOutcome {
        model,
        rounds,
        bytes,
    })
}

/// Runs client `id` on its rows `x` (rows × features) and labels `y`;
/// returns the final global model.
pub fn run_client<C: Channel + ?Sized, R: CryptoRng + ?Sized>(
    server: &mut C,
    id: usize,
    params: &FedAvgParams,
    x: ArrayView2<f64>,
    y: &[f64],
    rng: &mut R,
) -> Result<GlobalModel, LearnError> {
    train(server, id, params, None, (x, y), None, rng)
}

/// [`run_client`] of a job with DP, with this client's noise for every
/// round drawn by the caller ([`fed_dp::draw_noise`]) so that it knows
/// it: what tests use to check the model against
/// [`fed_dp::plain_fedavg_dp`] given the same noise.
pub fn run_client_with_noise<C: Channel + ?Sized, R: CryptoRng + ?Sized>(
    server: &mut C,
    id: usize,
    params: &FedAvgParams,
    (x, y): (ArrayView2<f64>, &[f64]),
    noise: &[Vec<i64>],
    rng: &mut R,
) -> Result<GlobalModel, LearnError> {
    train(server, id, params, None, (x, y), Some(noise), rng)
}

/// [`run_client`] with signed SecAgg rounds: `identity` is this client's
/// ed25519 key and `pki` every client's public key.
pub fn run_client_signed<C: Channel + ?Sized, R: CryptoRng + ?Sized>(
    server: &mut C,
    id: usize,
    params: &FedAvgParams,
    identity: (&SigningKey, &Pki),
    (x, y): (ArrayView2<f64>, &[f64]),
    rng: &mut R,
) -> Result<GlobalModel, LearnError> {
    train(server, id, params, Some(identity), (x, y), None, rng)
}

fn train<C: Channel + ?Sized, R: CryptoRng + ?Sized>(
    server: &mut C,
    id: usize,
    params: &FedAvgParams,
    signer: Option<(&SigningKey, &Pki)>,
    (x, y): (ArrayView2<f64>, &[f64]),
    noise: Option<&[Vec<i64>]>,
    rng: &mut R,
) -> Result<GlobalModel, LearnError> {
    params.validate()?;
    // With DP, this client's noise for every round, drawn before any data
    // is touched.
    let noise: Option<Vec<Vec<i64>>> = match (&params.dp, noise) {
        (Some(_), Some(given)) if given.len() == params.rounds => Some(given.to_vec()),
        (Some(_), Some(given)) => {
            return Err(LearnError::Params(format!(
                "noise for {} rounds, the job has {}",
                given.len(),
                params.rounds
            )));
        }
        (Some(dp), None) => Some(fed_dp::draw_noise(&dp.calibrate(params)?, params, rng)),
        (None, Some(_)) => {
            return Err(LearnError::Params(
                "noise given for a job without DP parameters".into(),
            ));
        }
        (None, None) => None,
    };
    if x.ncols() != params.features || x.nrows() != y.len() || x.nrows() == 0 {
        return Err(LearnError::Params(format!(
            "client {id}: {} rows × {} features and {} labels for a job of {} features",
            x.nrows(),
            x.ncols(),
            y.len(),
            params.features
        )));
    }
    let d = params.features;
    let n = x.nrows() as f64;
    let peer = server.peer().to_string();
    let job = nonce::client_agree(server, id, params.clients, rng)
        .map_err(|source| LearnError::Aggregate { round: 0, source })?;
    let phase = "receiving the global model";
    let mut expected = 0u64;
    loop {
        let announce: Announce = recv_msg(server)?;
        let bits = recv_u64s(server, d + 1)?;
        let values: Vec<f64> = bits.into_iter().map(f64::from_bits).collect();
        if values.iter().any(|v| !v.is_finite()) {
            return Err(LearnError::Protocol {
                peer,
                phase,
                reason: "sent a model with a value that is not finite".into(),
            });
        }
        let model = GlobalModel {
            weights: values[..d].to_vec(),
            intercept: values[d],
        };
        let round = match announce {
            Announce::Done => return Ok(model),
            Announce::Round(r) if r == expected && (r as usize) < params.rounds => r as usize,
            Announce::Round(r) => {
                return Err(LearnError::Protocol {
                    peer,
                    phase,
                    reason: format!("announced round {r}, expected round {expected}"),
                });
            }
        };
        let update = local_update(x, y, params, &model)?;
        let (input, round_noise): (Vec<f64>, Option<&[i64]>) = match (&params.dp, &noise) {
            (Some(dp), Some(noise)) => (
                fed_dp::clipped_update(&update, &model, dp.clip_norm),
                Some(&noise[round]),
            ),
            _ => (
                update
                    .weights
                    .iter()
                    .chain(std::iter::once(&update.intercept))
                    .map(|v| v * n)
                    .chain(std::iter::once(n))
                    .collect(),
                None,
            ),
        };
        let mut secagg_params = params.secagg(round)?;
        secagg_params.job = job;
        match (signer, round_noise) {
            (Some(me), noise) => secagg::run_client_signed_noised(
                server,
                id,
                &secagg_params,
                me,
                (&input, noise),
                rng,
            ),
            (None, Some(noise)) => {
                secagg::run_client_noised(server, id, &secagg_params, &input, noise, rng)
            }
            (None, None) => secagg::run_client(server, id, &secagg_params, &input, rng),
        }
        .map_err(|source| LearnError::Aggregate { round, source })?;
        expected += 1;
    }
}

/// What a client should hear about its columns before training: one
/// sentence for each column whose mean is beyond 10 standard deviations
/// from 0, or whose standard deviation is outside [0.1, 10] — plain
/// gradient descent from zero weights barely moves on such a column (a
/// model near AUC 0.5); standardise it first. Computed on the client's own
/// rows, shown to it alone.
pub fn scale_warnings(x: ArrayView2<f64>, names: &[String]) -> Vec<String> {
    let rows = x.nrows() as f64;
    if rows < 2.0 {
        return Vec::new();
    }
    x.columns()
        .into_iter()
        .enumerate()
        .filter_map(|(j, col)| {
            let mean = col.sum() / rows;
            let var = col.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (rows - 1.0);
            let sd = var.sqrt();
            let name = names.get(j).map_or_else(|| format!("#{j}"), Clone::clone);
            if mean.abs() > 10.0 * sd {
                Some(format!(
                    "column {name}: mean {mean:.4} is {:.0} standard deviations ({sd:.4}) from 0; \
                     standardise it (subtract its mean, divide by its standard deviation)",
                    if sd > 0.0 {
                        mean.abs() / sd
                    } else {
                        f64::INFINITY
                    }
                ))
            } else if !(0.1..=10.0).contains(&sd) {
                Some(format!(
                    "column {name}: standard deviation {sd:.4} is outside [0.1, 10]; \
                     standardise it (subtract its mean, divide by its standard deviation)"
                ))
            } else {
                None
            }
        })
        .collect()
}

/// A client's local training from the global model.
pub fn local_update(
    x: ArrayView2<f64>,
    y: &[f64],
    params: &FedAvgParams,
    global: &GlobalModel,
) -> Result<GlobalModel, LearnError> {
    let fit = plain::train_from(x, y, &params.local, &global.weights, global.intercept)?;
    Ok(GlobalModel {
        weights: fit.weights,
        intercept: fit.intercept,
    })
}

/// Plaintext FedAvg, the oracle: in round r, the clients in
/// `participants[r]` train locally and their models are averaged weighted
/// by rows.
pub fn plain_fedavg(
    data: &[(ArrayView2<f64>, &[f64])],
    params: &FedAvgParams,
    participants: &[Vec<usize>],
) -> Result<GlobalModel, LearnError> {
    let mut model = GlobalModel {
        weights: vec![0.0; params.features],
        intercept: 0.0,
    };
    for members in participants.iter().take(params.rounds) {
        let mut w = vec![0.0; params.features];
        let mut b = 0.0;
        let mut rows = 0.0;
        for &c in members {
            let (x, y) = data[c];
            let u = local_update(x, y, params, &model)?;
            let n = x.nrows() as f64;
            w.iter_mut().zip(&u.weights).for_each(|(a, v)| *a += v * n);
            b += u.intercept * n;
            rows += n;
        }
        model = GlobalModel {
            weights: w.iter().map(|v| v / rows).collect(),
            intercept: b / rows,
        };
    }
    Ok(model)
}
