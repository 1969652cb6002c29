//! A scorecard's whole training job at one party, from its rows and its
//! binning file to its scorecard file: the binning files checked to come
//! from one binning job, job agreement, the same alignment and split as
//! the binning job, every party's rows binned by its own file, features
//! kept by IV, the training ([`super::train`], or in the owner-transform
//! mode [`crate::vertical::train`] on columns each party transforms
//! itself), joint scoring of the held-out rows for the label holder, and
//! the release of the held-out metrics to every data party.
//!
//! What each party learns beyond the training's and scoring's: which
//! features of every party are kept (their IVs are known to their owner
//! and the label holder already); the held-out metrics. In the
//! owner-transform mode every owner sends the label holder its features'
//! weights, so that the label holder can read the whole points table.

use super::card::{Trained, card_file, woe_shares};
use super::model::{ScorecardFile, ScorecardJob};
use super::{score, train};

pub use super::predict::{Predicted, predict};
use crate::align::{Roles, align};
use crate::binning::{BinIndex, RawTable};
use crate::data::split;
use crate::metrics::{self, RocPoint};
use crate::woe::Mode;
use crate::woe::file::BinningFile;
use crate::{LearnError, agree, vertical};
use indomain_core::FixedPoint;
use indomain_mpc::Shared;
use indomain_net::PartySet;
use indomain_net::wire::{recv_msg, send_msg};
use ndarray::Array2;
use rand::{CryptoRng, Rng, RngExt};
use std::time::Instant;

/// A scorecard job as every party is given it (the binning-derived fields
/// of `job` are filled from the label holder's binning file).
#[derive(Debug, Clone, PartialEq)]
pub struct ScorecardRun {
    /// The job.
    pub job: ScorecardJob,
    /// Who does what: a dealer, or none with one feature holder (two-party
    /// correlations).
    pub roles: Roles,
    /// The fewest shared rows the parties accept.
    pub min_rows: usize,
}

/// What a party ends with.
#[derive(Debug, Clone)]
pub struct Finished {
    /// Its scorecard file (data parties).
    pub file: Option<ScorecardFile>,
    /// The held-out ROC curve, at the label holder.
    pub roc: Option<Vec<RocPoint>>,
    /// The training loss per epoch, at the label holder.
    pub loss_per_epoch: Vec<f64>,
    /// Rows shared by every data party.
    pub shared_rows: usize,
    /// Seconds: alignment, training, evaluation.
    pub seconds: [f64; 3],
}

/// The binning-derived fields the label holder sends every party.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct FromBinning {
    hash: String,
    mode: Mode,
    test_fraction: f64,
    seed: u64,
}

/// Runs the job at this party. `binning` is this party's binning file and
/// its name (none at the dealer); `table` its rows with the binning
/// file's features, as reading its file left them.
pub fn run<R: Rng + CryptoRng + ?Sized>(
    parties: &mut PartySet,
    run: &ScorecardRun,
    binning: Option<(&BinningFile, &str)>,
    table: Result<Option<&RawTable>, LearnError>,
    rng: &mut R,
) -> Result<Finished, LearnError> {
    let me = parties.me();
    let roles = &run.roles;
    roles.check(parties.len())?;
    let is_label = me == roles.label;
    let started = Instant::now();

    let (job, table) = agree_job(parties, run, binning, table, rng)?;

    let ids: &[String] = table.map_or(&[], |t| &t.ids);
    let (n, rows) = align(parties, roles, ids, run.min_rows, rng)?;
    let expected = binning.map(|(b, _)| b.rows.train + b.rows.test);
    let same_rows = match expected {
        Some(e) if e != n => Err(LearnError::Data(format!(
            "{n} rows are shared now, {e} were when binning: bin the same files again"
        ))),
        _ => Ok(()),
    };
    agree::all_ready(parties, same_rows)?;
    let parts = split(n, job.test_fraction, job.seed);
    // Every own feature's bin on every aligned row.
    let binned = table
        .zip(rows.as_ref())
        .zip(binning)
        .map(|((t, rows), (b, _))| {
            let aligned = t.select(rows);
            b.features
                .iter()
                .zip(&aligned.columns)
                .map(|(f, c)| f.bins.assign(c, &t.source, &aligned.lines))
                .collect::<Result<Vec<BinIndex>, _>>()
                .map(|idx| (idx, aligned.y))
        })
        .transpose();
    let binned = agree::all_ready(parties, binned)?;
    let aligned_at = Instant::now();

    let computing: Vec<usize> = std::iter::once(roles.label)
        .chain(roles.features.iter().copied())
        .collect();
    let mut out = Finished {
        file: None,
        roc: None,
        loss_per_epoch: Vec::new(),
        shared_rows: n,
        seconds: [(aligned_at - started).as_secs_f64(), 0.0, 0.0],
    };
    let Some(((index, y), (file, _))) = binning.and_then(|b| binned.map(|x| (x, b))) else {
        deal(parties, roles, &job, rng)?;
        return Ok(out);
    };

    // The features on the card: IV at least the threshold.
    let rank = computing.iter().position(|&c| c == me).unwrap_or(0);
    let kept_own: Vec<bool> = file.features.iter().map(|f| f.iv >= job.min_iv).collect();
    let lens: Vec<usize> = file.sizes.iter().map(Vec::len).collect();
    let mine: Vec<u64> = kept_own.iter().map(|&k| k as u64).collect();
    let all = indomain_mpc::open::exchange(parties, &computing, mine, &lens)?;
    let kept: Vec<Vec<bool>> = all
        .into_iter()
        .enumerate()
        .map(|(r, v)| {
            if r == rank {
                kept_own.clone()
            } else {
                v.into_iter().map(|b| b == 1).collect()
            }
        })
        .collect();
    if kept.iter().flatten().all(|k| !k) {
        return Err(LearnError::Params(format!(
            "no feature has an IV of at least {}: lower --min-iv",
            job.min_iv
        )));
    }
    let own_f: Vec<usize> = (0..kept_own.len()).filter(|&f| kept_own[f]).collect();
    let sizes: Vec<usize> = own_f
        .iter()
        .map(|&f| file.features[f].bins.bins())
        .collect();
    let fp = FixedPoint::new(job.params.frac_bits)?;
    let pick = |rows: &[usize]| -> Vec<BinIndex> {
        own_f.iter().map(|&f| index[f].select(rows)).collect()
    };
    let (train_bins, test_bins) = (pick(&parts.train), pick(&parts.test));
    let y_train: Option<Vec<f64>> = y
        .as_ref()
        .map(|y| parts.train.iter().map(|&r| y[r]).collect());
    let y_test: Option<Vec<f64>> = y
        .as_ref()
        .map(|y| parts.test.iter().map(|&r| y[r]).collect());

    let trained = match job.mode {
        Mode::Default | Mode::Strict => {
            let woe = woe_shares(file, &kept, rank, fp, job.params.frac_bits)?;
            train_on_shares(
                parties,
                roles,
                &job,
                &woe,
                &sizes,
                &train_bins,
                &test_bins,
                y_train.as_deref(),
                &computing,
                rng,
                &mut out,
            )?
        }
        Mode::OwnerTransform => owner_transform(
            parties,
            roles,
            &job,
            file,
            &own_f,
            &train_bins,
            &test_bins,
            y_train.as_deref(),
            &computing,
            rng,
            &mut out,
        )?,
    };
    let trained_at = Instant::now();

    // The label holder evaluates and tells every data party.
    let evaluation = if is_label {
        let scores = trained.test_scores.clone().unwrap_or_default();
        let y_test = y_test.unwrap_or_default();
        let factor = job.scale.factor();
        let prob: Vec<f64> = scores
            .iter()
            .map(|&s| crate::plain::sigmoid((job.scale.offset() - s) / factor))
            .collect();
        let e = metrics::classification(&prob, &y_test);
        out.roc = Some(metrics::roc(&prob, &y_test));
        for &f in &roles.features {
            send_msg(parties.channel(f)?, &e)?;
        }
        e
    } else {
        recv_msg(parties.channel(roles.label)?)?
    };
    out.loss_per_epoch = trained.loss.clone();
    out.seconds[2] = trained_at.elapsed().as_secs_f64();
    out.file = Some(card_file(
        &job,
        file,
        &own_f,
        &kept,
        is_label,
        trained,
        evaluation,
        &parts,
        parties.name(me),
    ));
    Ok(out)
}

/// The default and strict modes: the scorecard trained on one-hot bins
/// times shared WOE, the held-out rows scored jointly, and the points the
/// label holder may read opened to it.
#[allow(clippy::too_many_arguments)]
fn train_on_shares<R: Rng + CryptoRng + ?Sized>(
    parties: &mut PartySet,
    roles: &Roles,
    job: &ScorecardJob,
    woe: &Shared,
    sizes: &[usize],
    train_bins: &[BinIndex],
    test_bins: &[BinIndex],
    y_train: Option<&[f64]>,
    computing: &[usize],
    rng: &mut R,
    out: &mut Finished,
) -> Result<Trained, LearnError> {
    let started = Instant::now();
    let fp = FixedPoint::new(job.params.frac_bits)?;
    let o = train::train(
        parties,
        roles,
        train::Input {
            bins: train_bins,
            sizes,
            woe,
            labels: y_train,
        },
        &job.params,
        &job.scale,
        job.mode == Mode::Default,
        rng,
    )?;
    out.seconds[1] = started.elapsed().as_secs_f64();
    let scores = score::score(
        parties,
        roles,
        test_bins,
        sizes,
        &o.sizes,
        &o.points,
        job.params.frac_bits,
        rng,
    )?;
    // The label holder reads its own points, and the owners' in
    // the default mode.
    let readable = if job.mode == Mode::Default {
        o.points.len()
    } else {
        o.sizes[0].iter().sum()
    };
    let opened =
        indomain_mpc::open::open_to(parties, computing, roles.label, &o.points.0[..readable])?;
    Ok(Trained {
        intercept: o.intercept,
        own_weights: o.own_weights,
        all_weights: o.all_weights,
        points: opened.map(|v| fp.decode_slice(&v)),
        points_shares: Some(o.points.0),
        sizes: o.sizes,
        test_scores: scores,
        train_scores: o
            .train_scores
            .map(|z| z.iter().map(|&z| job.scale.score(z)).collect()),
        loss: o.loss_per_epoch,
    })
}

/// Checks that every data party's binning file comes from the label
/// holder's binning job and the same parties, fills the job's
/// binning-derived fields, agrees on the job, checks this party's rows,
/// and takes the label holder's nonce.
fn agree_job<'t, R: Rng + CryptoRng + ?Sized>(
    parties: &mut PartySet,
    run: &ScorecardRun,
    binning: Option<(&BinningFile, &str)>,
    table: Result<Option<&'t RawTable>, LearnError>,
    rng: &mut R,
) -> Result<(ScorecardJob, Option<&'t RawTable>), LearnError> {
    let roles = &run.roles;
    let is_label = parties.me() == roles.label;
    let is_data = is_label || roles.features.contains(&parties.me());
    // Every data party's binning file must come from the label holder's
    // binning job.
    let mut job = run.job.clone();
    let from = if is_label {
        let (b, _) = binning
            .ok_or_else(|| LearnError::Params("the label holder needs its binning file".into()))?;
        let from = FromBinning {
            hash: b.job_hash.clone(),
            mode: b.mode(),
            test_fraction: b.job.test_fraction,
            seed: b.job.seed,
        };
        for i in parties.others().collect::<Vec<_>>() {
            send_msg(parties.channel(i)?, &from)?;
        }
        from
    } else {
        recv_msg(parties.channel(roles.label)?)?
    };
    let same_binning = match binning {
        Some((b, name)) => b.check_job(&from.hash, name).and_then(|_| {
            if b.job.parties != run.job.parties {
                return Err(LearnError::Model {
                    file: name.to_string(),
                    reason: "its binning job had another party list or other roles: give the parties in the same order and roles as when binning".into(),
                });
            }
            Ok(())
        }),
        None if is_data => Err(LearnError::Params(
            "a data party needs its binning file".into(),
        )),
        None => Ok(()),
    };
    agree::all_ready(parties, same_binning)?;
    job.binning_hash = from.hash;
    job.mode = from.mode;
    job.test_fraction = from.test_fraction;
    job.seed = from.seed;
    job.nonce = String::new();
    agree::same_job(parties, &job.hash())?;
    let table = agree::all_ready(
        parties,
        table.and_then(|t| check_table(t, binning, is_label)),
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

    Ok((job, table))
}

/// The dealer's part: it deals for the training and, in the default and
/// strict modes, for the scoring.
fn deal<R: Rng + CryptoRng + ?Sized>(
    parties: &mut PartySet,
    roles: &Roles,
    job: &ScorecardJob,
    rng: &mut R,
) -> Result<(), LearnError> {
    let dealer_roles = roles.clone();

    match job.mode {
        Mode::OwnerTransform => {
            vertical::train(
                parties,
                &dealer_roles,
                Array2::zeros((0, 0)).view(),
                None,
                &job.params,
                &mut |_, _| {},
                rng,
            )?;
        }
        _ => {
            let empty = train::Input {
                bins: &[],
                sizes: &[],
                woe: &Shared::default(),
                labels: None,
            };
            train::train(
                parties,
                &dealer_roles,
                empty,
                &job.params,
                &job.scale,
                false,
                rng,
            )?;
            score::score(
                parties,
                &dealer_roles,
                &[],
                &[],
                &[],
                &Shared::default(),
                job.params.frac_bits,
                rng,
            )?;
        }
    }
    Ok(())
}

/// Refuses a table that does not hold the binning file's features.
fn check_table<'t>(
    t: Option<&'t RawTable>,
    binning: Option<(&BinningFile, &str)>,
    is_label: bool,
) -> Result<Option<&'t RawTable>, LearnError> {
    if let (Some(t), Some((b, name))) = (t, binning) {
        let names: Vec<String> = b.features.iter().map(|f| f.bins.name.clone()).collect();
        crate::data::check_features(
            &names,
            &t.feature_names,
            &format!("{} (binned in {name})", t.source),
        )?;
        if is_label && t.y.is_none() {
            return Err(LearnError::Data(format!(
                "{}: the label holder's file has no label column",
                t.source
            )));
        }
    }
    Ok(t)
}

/// The owner-transform mode: each party's WOE columns in the clear,
/// vertical logistic regression, the owners' weights to the label holder.
#[allow(clippy::too_many_arguments)]
fn owner_transform<R: Rng + CryptoRng + ?Sized>(
    parties: &mut PartySet,
    roles: &Roles,
    job: &ScorecardJob,
    file: &BinningFile,
    own_f: &[usize],
    train_bins: &[BinIndex],
    test_bins: &[BinIndex],
    y_train: Option<&[f64]>,
    computing: &[usize],
    rng: &mut R,
    out: &mut Finished,
) -> Result<Trained, LearnError> {
    let started = Instant::now();
    let woe: Vec<&Vec<f64>> = own_f
        .iter()
        .map(|&f| {
            file.features[f]
                .woe
                .as_ref()
                .ok_or_else(|| LearnError::Model {
                    file: file.party.clone(),
                    reason: "an owner-transform binning file without its WOE".into(),
                })
        })
        .collect::<Result<_, _>>()?;
    let columns = |bins: &[BinIndex]| {
        let rows = bins.first().map_or(0, BinIndex::len);
        Array2::from_shape_fn((rows, bins.len()), |(r, j)| woe[j][bins[j].get(r)])
    };
    let (x_train, x_test) = (columns(train_bins), columns(test_bins));
    let o = vertical::train(
        parties,
        roles,
        x_train.view(),
        y_train,
        &job.params,
        &mut |_, _| {},
        rng,
    )?;
    out.seconds[1] = started.elapsed().as_secs_f64();
    let fb = job.params.frac_bits;
    let label = roles.label;
    let test = vertical::predict(
        parties,
        roles,
        label,
        x_test.view(),
        &o.weights,
        o.intercept,
        fb,
        rng,
    )?;
    let train_z = vertical::predict(
        parties,
        roles,
        label,
        x_train.view(),
        &o.weights,
        o.intercept,
        fb,
        rng,
    )?;
    // The owners' weights go to the label holder (this mode only).
    let all_weights = if parties.me() == label {
        let mut all = o.weights.clone();
        for &k in &computing[1..] {
            let theirs: Vec<f64> = recv_msg(parties.channel(k)?)?;
            all.extend(theirs);
        }
        Some(all)
    } else {
        send_msg(parties.channel(label)?, &o.weights)?;
        None
    };
    let scale = job.scale;
    Ok(Trained {
        intercept: o.intercept,
        own_weights: o.weights,
        all_weights,
        points: None,
        points_shares: None,
        sizes: Vec::new(),
        test_scores: test.map(|z| z.iter().map(|&z| scale.score(z)).collect()),
        train_scores: train_z.map(|z| z.iter().map(|&z| scale.score(z)).collect()),
        loss: o.loss_per_epoch,
    })
}
