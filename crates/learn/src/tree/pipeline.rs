//! A whole gradient-boosted tree job at one party, from its raw rows to
//! its model file: job agreement, row alignment by PSI join, the 75/25
//! split, local binning on the training rows (quantiles, missing values,
//! categories: [`crate::binning`]), the secure training, joint scoring of
//! the held-out rows for the label holder, the contribution report, and
//! the label holder's release of the held-out metrics, validation curve
//! and report to every data party.
//!
//! What each party learns, beyond [`crate::align`], [`super::train`] and
//! [`super::score`]: every data party, the held-out metrics of the joint
//! model, the validation loss per tree and the contribution report; the
//! label holder, the held-out scores; the dealer, the row count and the
//! shapes.

use super::model::{
    Importance, KIND, NodeRecord, OwnSplit, SplitRecord, TREE_FORMAT, TreeJobSpec, TreeModelFile,
};
use super::{BinnedFeatures, InstanceSpace, Loss, Node, Progress, TreeOutcome};
use crate::align::{Roles, align};
use crate::binning::{BinKind, BinParams, FeatureBins, RawTable, bin_table};
use crate::contribution::{self, Report, Scores};
use crate::data::split;
use crate::metrics::{self, Evaluation, RocPoint};
use crate::model::{PartyRole, Rows};
use crate::{LearnError, agree};
use indomain_net::PartySet;
use indomain_net::wire::{recv_msg, send_msg};
use rand::{CryptoRng, Rng, RngExt};
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// A tree job as every party is given it.
#[derive(Debug, Clone, PartialEq)]
pub struct TreeJob {
    /// The job (its nonce is drawn by the label holder during the run).
    pub spec: TreeJobSpec,
    /// Who does what.
    pub roles: Roles,
    /// The fewest shared rows the parties accept.
    pub min_rows: usize,
}

/// Progress of a job.
#[derive(Debug, Clone, PartialEq)]
pub enum TreeEvent {
    /// Rows aligned.
    Aligned(usize),
    /// A training run's progress (run 0 is the joint model).
    Training {
        /// Which run of [`contribution::runs`].
        run: usize,
        /// The tree or level finished.
        progress: Progress,
    },
    /// A contribution run started, with these feature holders.
    Contribution(Vec<String>),
}

/// Wall time of each phase, in seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TreePhases {
    /// Job agreement, PSI join and binning.
    pub prepare: f64,
    /// The joint model's training.
    pub train: f64,
    /// Joint scoring and metrics of the joint model.
    pub evaluate: f64,
    /// The contribution runs.
    pub contribution: f64,
}

/// What a party ends with.
#[derive(Debug, Clone)]
pub struct TreeJobOutcome {
    /// The model file to write (data parties).
    pub model: Option<TreeModelFile>,
    /// The ROC curve of the joint model (label holder).
    pub roc: Option<Vec<RocPoint>>,
    /// Rows shared by every data party.
    pub shared_rows: usize,
    /// Seconds per phase.
    pub seconds: TreePhases,
}

/// What the label holder sends every data party at the end.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Release {
    evaluation: Evaluation,
    validation_loss: Vec<f64>,
    trees_grown: usize,
    contribution: Option<Report>,
}

/// A data party's rows after alignment, split and binning.
struct Prepared {
    bins: Vec<FeatureBins>,
    train: BinnedFeatures,
    test: BinnedFeatures,
    y_train: Option<Vec<f64>>,
    y_test: Option<Vec<f64>>,
}

/// Refuses unless every party (the dealer too) trains in the same
/// instance-space mode, naming the mismatch: the job hash alone would only
/// say that the jobs differ.
fn same_instance_space(parties: &mut PartySet, mine: InstanceSpace) -> Result<(), LearnError> {
    let others: Vec<usize> = parties.others().collect();
    for &i in &others {
        send_msg(parties.channel(i)?, &mine.is_hidden())?;
    }
    let describe = |hidden: bool| match hidden {
        true => "with the instance space hidden (no --leak-instance-space)",
        false => "with --leak-instance-space (node membership leaked to the data parties)",
    };
    for &i in &others {
        let hidden: bool = recv_msg(parties.channel(i)?)?;
        if hidden != mine.is_hidden() {
            return Err(LearnError::Disagreement {
                peer: parties.name(i).to_string(),
                what: format!(
                    "it trains {}, this party {}",
                    describe(hidden),
                    describe(mine.is_hidden())
                ),
            });
        }
    }
    Ok(())
}

fn prepare(
    table: &RawTable,
    rows: &[usize],
    train: &[usize],
    test: &[usize],
    bins: usize,
) -> Result<Prepared, LearnError> {
    let aligned = table.select(rows);
    let tr = aligned.select(train);
    let te = aligned.select(test);
    let binned = bin_table(&tr, &BinParams::quantile(bins))?;
    let test_index = binned
        .iter()
        .zip(&te.columns)
        .map(|(b, column)| {
            Ok(crate::binning::Binned {
                bins: b.bins.clone(),
                index: b.bins.assign(column, &te.source, &te.lines)?,
            })
        })
        .collect::<Result<Vec<_>, LearnError>>()?;
    Ok(Prepared {
        bins: binned.iter().map(|b| b.bins.clone()).collect(),
        train: BinnedFeatures::from_binned(&binned, tr.rows())?,
        test: BinnedFeatures::from_binned(&test_index, te.rows())?,
        y_train: tr.y,
        y_test: te.y,
    })
}

/// Runs the job at this party. `table` is this party's rows as reading
/// its file left them (none at the dealer): an error there is announced
/// to every party after the job agreement, so all of them stop before any
/// training, naming this party.
pub fn run<R: Rng + CryptoRng + ?Sized>(
    parties: &mut PartySet,
    job: &TreeJob,
    table: Result<Option<&RawTable>, LearnError>,
    rng: &mut R,
    progress: &mut dyn FnMut(TreeEvent),
) -> Result<TreeJobOutcome, LearnError> {
    let me = parties.me();
    let roles = &job.roles;
    let is_label = me == roles.label;
    let is_data = is_label || roles.features.contains(&me);
    if table.as_ref().is_ok_and(|t| is_data != t.is_some()) {
        return Err(LearnError::Params(
            "a data party needs its rows and the dealer has none".into(),
        ));
    }
    let params = &job.spec.params;
    let mut phases = TreePhases::default();
    let started = Instant::now();
    let mut spec = job.spec.clone();
    spec.nonce = String::new();
    same_instance_space(parties, params.instance_space)?;
    agree::same_job(parties, &spec.hash())?;
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
    progress(TreeEvent::Aligned(n));
    let parts = split(n, spec.test_fraction, params.seed);
    let prepared = table
        .zip(rows.as_ref())
        .map(|(t, rows)| prepare(t, rows, &parts.train, &parts.test, params.bins))
        .transpose();
    let prepared = agree::all_ready(parties, prepared)?;
    if is_label && prepared.as_ref().is_some_and(|p| p.y_train.is_none()) {
        return Err(LearnError::Data(
            "the label holder's file has no label column".into(),
        ));
    }
    phases.prepare = started.elapsed().as_secs_f64();

    let names = parties.names().to_vec();
    let feature_names: Vec<String> = roles.features.iter().map(|&f| names[f].clone()).collect();
    let runs = if spec.contribution {
        contribution::runs(&feature_names)
    } else {
        vec![feature_names.clone()]
    };
    let (empty_train, empty_test) = (
        BinnedFeatures::empty(parts.train.len()),
        BinnedFeatures::empty(parts.test.len()),
    );
    let mut joint: Option<TreeOutcome> = None;
    let mut scored: Vec<Option<Vec<f64>>> = Vec::new();
    for (run, included) in runs.iter().enumerate() {
        let run_started = Instant::now();
        if run > 0 {
            progress(TreeEvent::Contribution(included.clone()));
        }
        let takes_part = is_label || included.contains(&names[me]);
        let (train, test, y) = match (&prepared, takes_part) {
            (Some(p), true) => (Some(&p.train), Some(&p.test), p.y_train.as_deref()),
            (Some(p), false) => (Some(&empty_train), Some(&empty_test), p.y_train.as_deref()),
            (None, _) => (None, None, None),
        };
        let outcome = super::train(
            parties,
            roles,
            train,
            y,
            params,
            &mut |p| progress(TreeEvent::Training { run, progress: p }),
            rng,
        )?;
        let scoring = Instant::now();
        let weights = outcome.leaf_weights.as_deref().zip(outcome.base_margin);
        let scores = super::score(
            parties,
            roles,
            test,
            &outcome.trees,
            weights,
            params.frac_bits,
            rng,
        )?;
        if run == 0 {
            phases.train = (scoring - run_started).as_secs_f64();
            phases.evaluate = scoring.elapsed().as_secs_f64();
            joint = Some(outcome);
        } else {
            phases.contribution += run_started.elapsed().as_secs_f64();
        }
        scored.push(scores);
    }
    let joint = joint.unwrap_or_default();

    let output = |z: f64| match params.loss {
        Loss::Logistic => 1.0 / (1.0 + (-z).exp()),
        Loss::Squared => z,
    };
    let mut roc = None;
    let release = if is_label {
        let y_test = prepared
            .as_ref()
            .and_then(|p| p.y_test.clone())
            .unwrap_or_default();
        let scores_of = |s: &Option<Vec<f64>>| -> Result<Vec<f64>, LearnError> {
            s.clone().ok_or_else(|| {
                LearnError::Params("joint scoring gave the label holder no scores".into())
            })
        };
        let outputs: Vec<f64> = scores_of(&scored[0])?.into_iter().map(output).collect();
        let evaluation = match params.loss {
            Loss::Logistic => {
                Evaluation::Classification(metrics::classification(&outputs, &y_test))
            }
            Loss::Squared => Evaluation::Regression(metrics::regression(&outputs, &y_test)),
        };
        roc = Some(metrics::roc(&outputs, &y_test));
        let contribution = if spec.contribution {
            let mut each = scored.iter().map(scores_of);
            Some(contribution::build(
                &names[roles.label],
                &feature_names,
                |_| {
                    let s = each
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
            validation_loss: joint.validation_loss.clone(),
            trees_grown: joint.trees_grown,
            contribution,
        };
        for &f in &roles.features {
            send_msg(parties.channel(f)?, &release)?;
        }
        Some(release)
    } else if is_data {
        Some(recv_msg::<Release>(parties.channel(roles.label)?)?)
    } else {
        None
    };

    let model = match (prepared, release) {
        (Some(p), Some(release)) => Some(model_file(
            &spec,
            job_hash,
            &names[me],
            &p,
            &joint,
            release,
            is_label,
            rank_of(roles, me),
        )),
        _ => None,
    };
    Ok(TreeJobOutcome {
        model,
        roc,
        shared_rows: n,
        seconds: phases,
    })
}

/// This data party's rank: the label holder 0, feature holders by set
/// order from 1.
fn rank_of(roles: &Roles, me: usize) -> usize {
    if me == roles.label {
        return 0;
    }
    let mut f = roles.features.clone();
    f.sort_unstable();
    f.iter()
        .position(|&x| x == me)
        .map_or(usize::MAX, |p| p + 1)
}

/// The rule a split applies, in feature units.
pub fn rule(bins: &FeatureBins, bin: u16) -> String {
    match &bins.kind {
        BinKind::Numeric { edges } => match edges.get(bin as usize) {
            Some(e) => format!("{} < {e}", bins.name),
            None => format!("{} is not missing", bins.name),
        },
        BinKind::Categorical { groups, other } => {
            let mut cats: Vec<String> = groups
                .iter()
                .take(bin as usize + 1)
                .flatten()
                .cloned()
                .collect();
            if other.is_some_and(|o| o <= bin as usize) {
                cats.push("(unseen)".into());
            }
            format!("{} in {{{}}}", bins.name, cats.join(", "))
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn model_file(
    spec: &TreeJobSpec,
    job_hash: String,
    party: &str,
    p: &Prepared,
    joint: &TreeOutcome,
    release: Release,
    is_label: bool,
    rank: usize,
) -> TreeModelFile {
    let names: Vec<String> = {
        let mut order = vec![
            spec.parties
                .iter()
                .find(|x| x.role == PartyRole::Label)
                .map_or(String::new(), |x| x.name.clone()),
        ];
        order.extend(
            spec.parties
                .iter()
                .filter(|x| x.role == PartyRole::Feature)
                .map(|x| x.name.clone()),
        );
        order
    };
    let gain_of = |t: usize, node: usize| {
        joint
            .own_gains
            .iter()
            .find(|g| g.0 == t && g.1 == node)
            .map(|g| g.2)
    };
    let mut importance: Vec<Importance> = p
        .bins
        .iter()
        .map(|b| Importance {
            feature: b.name.clone(),
            total_gain: 0.0,
            splits: 0,
        })
        .collect();
    let trees = joint
        .trees
        .iter()
        .enumerate()
        .map(|(t, tree)| {
            tree.nodes
                .iter()
                .enumerate()
                .map(|(id, node)| match *node {
                    Node::Leaf { leaf } => NodeRecord::Leaf(leaf),
                    Node::Split {
                        party: owner,
                        threshold,
                        left,
                        right,
                    } => {
                        let own = (owner == rank).then(|| {
                            let bins = &p.bins[threshold.feature];
                            let gain = gain_of(t, id);
                            let imp = &mut importance[threshold.feature];
                            imp.splits += 1;
                            imp.total_gain += gain.unwrap_or(0.0);
                            OwnSplit {
                                feature: bins.name.clone(),
                                index: threshold.feature,
                                bin: threshold.bin,
                                rule: rule(bins, threshold.bin),
                                missing_left: threshold.missing_left,
                                gain,
                            }
                        });
                        NodeRecord::Split(SplitRecord {
                            party: names.get(owner).cloned().unwrap_or_default(),
                            own,
                            left,
                            right,
                        })
                    }
                })
                .collect()
        })
        .collect();
    TreeModelFile {
        format: TREE_FORMAT,
        kind: KIND.into(),
        job_hash,
        job: spec.clone(),
        party: party.to_string(),
        role: if is_label {
            PartyRole::Label
        } else {
            PartyRole::Feature
        },
        features: p.bins.clone(),
        trees,
        leaf_weights: joint.leaf_weights.clone(),
        base_margin: joint.base_margin,
        rows: Rows {
            train: p.train.rows(),
            test: p.test.rows(),
        },
        evaluation: Some(release.evaluation),
        validation_loss: release.validation_loss,
        trees_grown: release.trees_grown,
        importance,
        contribution: release.contribution,
        correlations: Some(crate::model::trust_record(&spec.parties)),
        instance_space: spec.params.instance_space,
        written_by: format!("indomain {}", env!("CARGO_PKG_VERSION")),
    }
}

/// What joint scoring with tree model files gives a party.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scored {
    /// Rows every data party holds.
    pub rows: usize,
    /// At the label holder: the ids of those rows, in the common order,
    /// and their margins (before the link function).
    pub scores: Option<(Vec<String>, Vec<f64>)>,
}

/// Scores rows jointly with tree model files (`indomain predict`): the
/// data parties check that their files come from one job, align their
/// rows by PSI join, bin them with their own model's bins and run
/// [`super::score`]; the dealer (`model` and `table` `None`) takes part in
/// the alignment (it learns the row count) and serves the products.
pub fn score_job<R: Rng + CryptoRng + ?Sized>(
    parties: &mut PartySet,
    roles: &Roles,
    model: Option<&TreeModelFile>,
    table: Option<&RawTable>,
    rng: &mut R,
) -> Result<Scored, LearnError> {
    let me = parties.me();
    let is_label = me == roles.label;
    let data: Vec<usize> = std::iter::once(roles.label)
        .chain(roles.features.iter().copied())
        .collect();
    if let Some(m) = model {
        // The job hash, compared among the data parties.
        let mine: Vec<u64> = m
            .job_hash
            .bytes()
            .chain(std::iter::repeat(0))
            .take(80)
            .map(u64::from)
            .collect();
        let mut group = data.clone();
        group.sort_unstable();
        let lens = vec![mine.len(); group.len()];
        let all = indomain_mpc::open::exchange(parties, &group, mine.clone(), &lens)?;
        for (theirs, &i) in all.iter().zip(&group) {
            if *theirs != mine {
                return Err(LearnError::Model {
                    file: m.party.clone(),
                    reason: format!(
                        "party {}'s model file comes from another training job (ours is {}); give every party its model file of the same job",
                        parties.name(i),
                        m.job_hash
                    ),
                });
            }
        }
    }
    let ids: &[String] = table.map_or(&[], |t| &t.ids);
    let (n, rows) = align(parties, roles, ids, 1, rng)?;
    let (own, trees, weights, frac_bits, aligned_ids) = match (model, table, rows) {
        (Some(m), Some(t), Some(rows)) => {
            let aligned = t.select(&rows);
            if aligned.feature_names.len() != m.features.len()
                || aligned
                    .feature_names
                    .iter()
                    .zip(&m.features)
                    .any(|(a, b)| *a != b.name)
            {
                return Err(LearnError::Data(format!(
                    "{}: the feature columns [{}] differ from the model's [{}]",
                    t.source,
                    aligned.feature_names.join(", "),
                    m.features
                        .iter()
                        .map(|f| f.name.clone())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
            let binned = m
                .features
                .iter()
                .zip(&aligned.columns)
                .map(|(b, column)| {
                    Ok(crate::binning::Binned {
                        bins: b.clone(),
                        index: b.assign(column, &aligned.source, &aligned.lines)?,
                    })
                })
                .collect::<Result<Vec<_>, LearnError>>()?;
            let own = BinnedFeatures::from_binned(&binned, aligned.rows())?;
            let trees = m.forest(rank_of(roles, me))?;
            let weights = m.leaf_weights.clone().zip(m.base_margin);
            if is_label && weights.is_none() {
                return Err(LearnError::Model {
                    file: m.party.clone(),
                    reason: "the label holder's file has no leaf weights".into(),
                });
            }
            (
                Some(own),
                trees,
                weights,
                m.job.params.frac_bits,
                Some(aligned.ids),
            )
        }
        _ => (None, Vec::new(), None, 16, None),
    };
    let margins = super::score(
        parties,
        roles,
        own.as_ref(),
        &trees,
        weights.as_ref().map(|(w, b)| (&w[..], *b)),
        frac_bits,
        rng,
    )?;
    Ok(Scored {
        rows: n,
        scores: margins.zip(aligned_ids).map(|(z, ids)| (ids, z)),
    })
}
