//! A whole vertical training job at one party, from its checked rows to its
//! model file: job agreement, row alignment by PSI join, the split and
//! local standardisation, the secure training, joint scoring of the
//! held-out rows for the label holder, the contribution report, and the
//! label holder's release of the held-out metrics and the report to every
//! data party.
//!
//! The secure training and scoring come through [`SecureTrainer`], so this
//! sequence does not depend on how the shared arithmetic is done.
//!
//! What each party learns, beyond what [`crate::align`] and the trainer
//! reveal (its own weights; the label holder the training loss per epoch):
//! the parties of [`Releases::metrics`] learn the held-out metrics of the
//! joint model, the loss per epoch and, with the contribution report, the
//! report; when any party does, the label holder learns the held-out
//! scores (it computes the metrics from them — with one feature holder,
//! that holder's partial scores on the held-out rows, since it knows its
//! own), and with the report the scores of every re-run. A data party
//! outside [`Releases::metrics`] receives none of it. For logistic
//! regression the label holder also computes the calibration report of
//! [`crate::calibration`] (when it evaluates) and any recalibration, which
//! stay in its own model file. The dealer learns nothing but the row count
//! and the job's shape. [`run`] releases to every data party, as
//! `indomain train` does; [`run_with`] takes the releases a job declares.

use crate::align::{Roles, align};
use crate::calibration::{CalibrationReport, Recalibration};
use crate::contribution::{self, Report, Scores};
use crate::data::{Standardizer, Table, split};
use crate::metrics::{self, Evaluation, RocPoint};
use crate::model::{FORMAT_VERSION, JobSpec, ModelFile, PartyRole, Rows, TrainingEnd};
use crate::params::{Task, TrainParams};
use crate::{LearnError, agree, plain};
use indomain_net::PartySet;
use indomain_net::wire::{recv_msg, send_msg};
use ndarray::{Array2, ArrayView2};
use rand::{CryptoRng, Rng, RngExt};
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// A party's part of a trained model.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Trained {
    /// The weights of this party's columns.
    pub weights: Vec<f64>,
    /// The intercept, at the label holder.
    pub intercept: Option<f64>,
    /// Training loss per epoch, where the trainer reveals it.
    pub loss_per_epoch: Vec<f64>,
    /// Validation loss per epoch with a validation split, where the
    /// trainer reveals it.
    pub validation_loss: Vec<f64>,
    /// Epochs run.
    pub epochs: usize,
    /// Whether the convergence test ended training.
    pub converged: bool,
    /// The epoch whose weights were kept (1-based).
    pub kept_epoch: usize,
    /// The validation rows' linear scores under the kept weights and
    /// their labels, at the label holder: what a recalibration is fitted
    /// on.
    pub validation_scores: Vec<f64>,
    /// See `validation_scores`.
    pub validation_labels: Vec<f64>,
}

/// The secure training and joint scoring a vertical job runs.
pub trait SecureTrainer {
    /// Trains on the aligned training rows: `x` is this party's
    /// standardised columns (no columns at the dealer, or at a data party
    /// left out of a contribution run), `y` the labels at the label holder.
    /// `epoch` is called after each epoch with the training loss if the
    /// label holder learns it. Every random choice comes from `rng`.
    #[allow(clippy::too_many_arguments)]
    fn train(
        &mut self,
        parties: &mut PartySet,
        roles: &Roles,
        x: ArrayView2<f64>,
        y: Option<&[f64]>,
        params: &TrainParams,
        epoch: &mut dyn FnMut(usize, Option<f64>),
        rng: &mut dyn CryptoRng,
    ) -> Result<Trained, LearnError>;

    /// Scores rows jointly: each party's partial scores x·w (+ b) are
    /// combined so that only the label holder learns the sums (linear
    /// scores, before the link function); `None` at other parties.
    fn score(
        &mut self,
        parties: &mut PartySet,
        roles: &Roles,
        x: ArrayView2<f64>,
        model: &Trained,
        rng: &mut dyn CryptoRng,
    ) -> Result<Option<Vec<f64>>, LearnError>;
}

/// A vertical job as every party is given it.
#[derive(Debug, Clone, PartialEq)]
pub struct VerticalJob {
    /// The job (its nonce is drawn by the label holder during the run).
    pub spec: JobSpec,
    /// Who does what.
    pub roles: Roles,
    /// The fewest shared rows the parties accept.
    pub min_rows: usize,
    /// Whether to add the contribution report (re-runs the training).
    pub contribution: bool,
}

/// What a party ends with.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The model file to write (data parties).
    pub model: Option<ModelFile>,
    /// The ROC curve of the joint model (label holder).
    pub roc: Option<Vec<RocPoint>>,
    /// Rows shared by every data party.
    pub shared_rows: usize,
    /// Seconds spent aligning, training (all runs) and evaluating.
    pub seconds: Phases,
}

/// Wall time of each phase, in seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Phases {
    /// Job agreement and PSI join.
    pub align: f64,
    /// The joint model's training.
    pub train: f64,
    /// Joint scoring and metrics of the joint model.
    pub evaluate: f64,
    /// The contribution runs.
    pub contribution: f64,
}

/// Progress of a job, for the command line.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// Rows aligned.
    Aligned(usize),
    /// An epoch of a training run ended (run 0 is the joint model).
    Epoch {
        /// Which run of [`contribution::runs`].
        run: usize,
        /// The epoch (1-based).
        epoch: usize,
        /// The training loss, where known.
        loss: Option<f64>,
    },
    /// A contribution run started, with these feature holders.
    Contribution(Vec<String>),
}

/// Who receives what the end of a job reveals: the node's declared
/// outputs, agreed by every party (they are part of the job agreement).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Releases {
    /// The data parties (set indices) that receive the held-out
    /// evaluation, the loss per epoch and the contribution report. The
    /// label holder computes them, so it is one of them whenever any party
    /// is; empty: the held-out rows are not scored at all and no report is
    /// made.
    pub metrics: Vec<usize>,
}

impl Releases {
    /// Everything to every data party, as `indomain train` releases it.
    pub fn every_data_party(roles: &Roles) -> Self {
        let mut metrics = vec![roles.label];
        metrics.extend(&roles.features);
        metrics.sort_unstable();
        Self { metrics }
    }

    /// Nothing beyond each party's own weights (and the label holder's
    /// training loss, which training opens to it).
    pub fn weights_only() -> Self {
        Self {
            metrics: Vec::new(),
        }
    }

    /// Checks the releases against the roles and the job.
    pub fn check(&self, roles: &Roles, contribution: bool) -> Result<(), LearnError> {
        let data = |p: &usize| *p == roles.label || roles.features.contains(p);
        if let Some(p) = self.metrics.iter().find(|p| !data(p)) {
            return Err(LearnError::Params(format!(
                "party {p} receives the metrics but holds no data"
            )));
        }
        if !self.metrics.is_empty() && !self.metrics.contains(&roles.label) {
            return Err(LearnError::Params(
                "the label holder computes the metrics from the held-out scores: it is a receiver whenever another party is".into(),
            ));
        }
        if contribution && self.metrics.is_empty() {
            return Err(LearnError::Params(
                "the contribution report goes with the metrics: name their receivers".into(),
            ));
        }
        Ok(())
    }

    /// What the parties agree on: the job's hash and these releases.
    fn agreement(&self, job_hash: &str) -> String {
        let mut metrics = self.metrics.clone();
        metrics.sort_unstable();
        metrics.dedup();
        format!("{job_hash}; metrics to parties {metrics:?}")
    }
}

/// What the label holder sends every receiver of the metrics at the end.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Release {
    evaluation: Evaluation,
    loss_per_epoch: Vec<f64>,
    validation_loss: Vec<f64>,
    contribution: Option<Report>,
}

/// Runs the job at this party, releasing the metrics to every data party
/// ([`Releases::every_data_party`]): [`run_with`].
pub fn run<R: Rng + CryptoRng>(
    parties: &mut PartySet,
    job: &VerticalJob,
    table: Result<Option<&Table>, LearnError>,
    trainer: &mut dyn SecureTrainer,
    rng: &mut R,
    progress: &mut dyn FnMut(Event),
) -> Result<Outcome, LearnError> {
    let releases = Releases::every_data_party(&job.roles);
    run_with(parties, job, &releases, table, trainer, rng, progress)
}

/// Runs the job at this party, releasing to each party what `releases`
/// says. `table` is this party's rows as reading and checking its file
/// left them (none at the dealer): an error there is announced to every
/// party after the job agreement, so all of them stop before any training,
/// naming this party. All randomness comes from `rng` (with a seeded
/// generator at every party the run is reproducible).
pub fn run_with<R: Rng + CryptoRng>(
    parties: &mut PartySet,
    job: &VerticalJob,
    releases: &Releases,
    table: Result<Option<&Table>, LearnError>,
    trainer: &mut dyn SecureTrainer,
    rng: &mut R,
    progress: &mut dyn FnMut(Event),
) -> Result<Outcome, LearnError> {
    let me = parties.me();
    let roles = &job.roles;
    releases.check(roles, job.contribution)?;
    let evaluated = !releases.metrics.is_empty();
    let receives = releases.metrics.contains(&me);
    let is_label = me == roles.label;
    let is_data = is_label || roles.features.contains(&me);
    if table.as_ref().is_ok_and(|t| is_data != t.is_some()) {
        return Err(LearnError::Params(
            "a data party needs its rows and the dealer has none".into(),
        ));
    }
    let mut phases = Phases::default();
    let started = Instant::now();

    // Agreement on everything but the nonce, then the label holder's nonce.
    let mut spec = job.spec.clone();
    spec.nonce = String::new();
    agree::same_job(parties, &releases.agreement(&spec.hash()))?;
    let table = agree::all_ready(parties, table)?;
    if is_label {
        let nonce: [u8; 16] = rng.random();
        spec.nonce = nonce.iter().map(|b| format!("{b:02x}")).collect();
        for i in parties.others().collect::<Vec<_>>() {
            send_msg(parties.channel(i)?, &spec.nonce)?;
        }
    } else {
        spec.nonce = recv_msg(parties.channel(roles.label)?)?;
    }
    let job_hash = spec.hash();

    let ids: &[String] = table.map_or(&[], |t| &t.ids);
    let (n, rows) = align(parties, roles, ids, job.min_rows, rng)?;
    progress(Event::Aligned(n));
    let parts = split(n, spec.test_fraction, spec.params.seed);
    let prepared = table
        .zip(rows.as_ref())
        .map(|(t, rows)| prepare(t, rows, &parts.train, &parts.test, is_label))
        .transpose();
    let prepared = agree::all_ready(parties, prepared)?;
    phases.align = started.elapsed().as_secs_f64();

    let empty = Array2::<f64>::zeros((parts.train.len(), 0));
    let empty_test = Array2::<f64>::zeros((parts.test.len(), 0));
    let names = parties.names().to_vec();
    let feature_names: Vec<String> = roles.features.iter().map(|&f| names[f].clone()).collect();
    let runs = if job.contribution {
        contribution::runs(&feature_names)
    } else {
        vec![feature_names.clone()]
    };
    let mut results: Vec<(Trained, Option<Vec<f64>>)> = Vec::new();
    for (run, included) in runs.iter().enumerate() {
        let run_started = Instant::now();
        if run > 0 {
            progress(Event::Contribution(included.clone()));
        }
        let takes_part = is_label || included.contains(&names[me]);
        let (x, xt, y) = match (&prepared, takes_part) {
            (Some(p), true) => (p.x_train.view(), p.x_test.view(), p.y_train.as_deref()),
            (Some(p), false) => (empty.view(), empty_test.view(), p.y_train.as_deref()),
            (None, _) => (empty.view(), empty_test.view(), None),
        };
        let trained = trainer.train(
            parties,
            roles,
            x,
            y,
            &spec.params,
            &mut |epoch, loss| progress(Event::Epoch { run, epoch, loss }),
            rng,
        )?;
        let scoring = Instant::now();
        let scores = match evaluated {
            true => trainer.score(parties, roles, xt, &trained, rng)?,
            false => None,
        };
        if run == 0 {
            phases.train = (scoring - run_started).as_secs_f64();
            phases.evaluate = scoring.elapsed().as_secs_f64();
        } else {
            phases.contribution += run_started.elapsed().as_secs_f64();
        }
        results.push((trained, scores));
    }

    // The label holder fits any recalibration on its validation split
    // (whether or not anyone receives metrics), evaluates, and releases the
    // metrics and the report to their receivers; the calibration report and
    // the recalibration stay in its own file.
    let recalibration = match (is_label, spec.params.task, spec.params.recalibration) {
        (true, Task::Logistic, Some(method)) => {
            let trained = &results[0].0;
            Some(Recalibration::fit(
                method,
                &trained.validation_scores,
                &trained.validation_labels,
            )?)
        }
        _ => None,
    };
    let mut roc = None;
    let mut calibration = None;
    let release = if !evaluated {
        None
    } else if is_label {
        let y_test = prepared
            .as_ref()
            .and_then(|p| p.y_test.clone())
            .unwrap_or_default();
        let evaluate = |scores: &Option<Vec<f64>>| -> Result<Vec<f64>, LearnError> {
            scores.clone().ok_or_else(|| {
                LearnError::Params("the trainer gave the label holder no scores".into())
            })
        };
        let joint = evaluate(&results[0].1)?;
        let outputs: Vec<f64> = joint
            .iter()
            .map(|&s| plain::link(spec.params.task, s))
            .collect();
        let evaluation = match spec.params.task {
            Task::Logistic => {
                Evaluation::Classification(metrics::classification(&outputs, &y_test))
            }
            Task::Linear => Evaluation::Regression(metrics::regression(&outputs, &y_test)),
        };
        roc = Some(metrics::roc(&outputs, &y_test));
        if spec.params.task == Task::Logistic {
            calibration = Some(CalibrationReport::new(
                &joint,
                &y_test,
                recalibration.as_ref(),
            ));
        }
        let contribution = if job.contribution {
            let mut scored = results.iter().map(|(_, s)| evaluate(s));
            Some(contribution::build(
                &names[roles.label],
                &feature_names,
                |_| {
                    let s = scored
                        .next()
                        .ok_or_else(|| LearnError::Params("missing contribution run".into()))??;
                    Ok(Scores {
                        auc: metrics::auc(&s, &y_test),
                        ks: metrics::ks(&s, &y_test),
                    })
                },
            )?)
        } else {
            None
        };
        let release = Release {
            evaluation,
            loss_per_epoch: results[0].0.loss_per_epoch.clone(),
            validation_loss: results[0].0.validation_loss.clone(),
            contribution,
        };
        for &f in roles
            .features
            .iter()
            .filter(|f| releases.metrics.contains(f))
        {
            send_msg(parties.channel(f)?, &release)?;
        }
        Some(release)
    } else if is_data && receives {
        Some(recv_msg::<Release>(parties.channel(roles.label)?)?)
    } else {
        None
    };

    let model = match prepared {
        Some(p) => {
            let (trained, _) = results.swap_remove(0);
            // The label holder learned its training loss in training; the
            // rest only with the metrics.
            let (evaluation, loss_per_epoch, validation_loss, contribution) = match release {
                Some(r) => (
                    Some(r.evaluation),
                    r.loss_per_epoch,
                    r.validation_loss,
                    r.contribution,
                ),
                None if is_label => (
                    None,
                    trained.loss_per_epoch.clone(),
                    trained.validation_loss.clone(),
                    None,
                ),
                None => (None, Vec::new(), Vec::new(), None),
            };
            Some(ModelFile {
                format: FORMAT_VERSION,
                job_hash,
                job: spec.clone(),
                party: names[me].clone(),
                role: if is_label {
                    PartyRole::Label
                } else {
                    PartyRole::Feature
                },
                features: p.features,
                standardizer: Some(p.standardizer),
                weights: trained.weights,
                intercept: trained.intercept,
                roc: roc
                    .as_deref()
                    .map(|r| metrics::thin(r, crate::model::ROC_POINTS))
                    .unwrap_or_default(),
                rows: Rows {
                    train: parts.train.len(),
                    test: parts.test.len(),
                },
                evaluation,
                loss_per_epoch,
                validation_loss_per_epoch: validation_loss,
                contribution,
                correlations: spec.correlations(),
                written_by: format!("indomain {}", env!("CARGO_PKG_VERSION")),
                training: Some(TrainingEnd {
                    epochs: trained.epochs,
                    converged: trained.converged,
                    kept_epoch: trained.kept_epoch,
                }),
                calibration,
                recalibration,
            })
        }
        None => None,
    };
    Ok(Outcome {
        model,
        roc,
        shared_rows: n,
        seconds: phases,
    })
}

/// A data party's rows after alignment, split and standardisation.
struct Prepared {
    features: Vec<String>,
    standardizer: Standardizer,
    x_train: Array2<f64>,
    x_test: Array2<f64>,
    y_train: Option<Vec<f64>>,
    y_test: Option<Vec<f64>>,
}

fn prepare(
    table: &Table,
    rows: &[usize],
    train: &[usize],
    test: &[usize],
    is_label: bool,
) -> Result<Prepared, LearnError> {
    let aligned = table.select(rows);
    let tr = aligned.select(train);
    let te = aligned.select(test);
    let standardizer = Standardizer::fit(tr.x.view(), &tr.feature_names, &table.source)?;
    if is_label && tr.y.is_none() {
        return Err(LearnError::Data(format!(
            "{}: the label holder's file has no label column",
            table.source
        )));
    }
    Ok(Prepared {
        features: table.feature_names.clone(),
        x_train: standardizer.apply(tr.x.view()),
        x_test: standardizer.apply(te.x.view()),
        standardizer,
        y_train: tr.y,
        y_test: te.y,
    })
}
