//! Logistic regression on WOE columns that no single party holds: each
//! party's features enter as their one-hot bin indicators (known to their
//! owner alone) times the shared WOE of those bins, so the WOE-transformed
//! columns X_j = I_j · WOE_j never exist in anyone's clear.
//!
//! **Construction.** With I = [1 | I_0 | I_1 | …] the intercept column and
//! every computing party's one-hot block (rank order; block k known to
//! rank k only, entries plain integers 0/1) and WOE the shared WOE of every
//! bin, the model z = b + Σ_j w_j·WOE_j\[bin_j\] is z = I · v with
//! v = [b ; expand(w) ⊙ WOE] (each feature's weight repeated over its
//! bins). The matrix I is opened once under a mask per chunk of rows
//! (SecureML's mask reuse, `indomain_mpc::matrix`: the same machinery as
//! [`crate::vertical`]), so each step costs:
//!
//! 1. v: one Beaver product of expand(w) and WOE (one element a bin),
//!    truncated;
//! 2. z = I·v (I is integer, so z keeps f fractional bits: no
//!    truncation), err = σ̃(z) − y (the sigmoid of [`crate::vertical`],
//!    linear or clamped), y subtracted by the label holder;
//! 3. G = Iᵀ·err per bin (with Σ err² from the same opening), truncated by
//!    t = ⌊log2 rows⌋ to keep the next product small;
//! 4. the gradient of w_j is Σ_{i ∈ j} WOE_i · G_i: a Beaver product per
//!    bin, summed per feature, truncated; the intercept's is G_0;
//! 5. w ← w − lr·(g · 2^t / rows + l2·w) (the intercept not regularised),
//!    as in [`crate::vertical`].
//!
//! At the end the shared weights give each bin's points (the scale of
//! [`super::points`]): p = −(expand(w) ⊙ WOE + b/m)·factor + offset/m, one
//! more Beaver product a bin; the points stay shared.
//!
//! **What each party learns.** Every computing party: the row count, the
//! bins per feature of every party, the parameters, and masked values
//! (uniformly random). The label holder learns the training loss per
//! epoch (one number), the intercept and its own features' weights, and
//! — only when the job reveals the owners' WOE to it (the default mode) —
//! every owner feature's weight, so that it can read the points of the
//! owners' bins under anonymous ids. A feature owner learns nothing of
//! the model: its features' points stay secret-shared. The dealer learns
//! shapes only. Without a dealer (one feature holder) the two computing
//! parties generate the correlated randomness themselves
//! ([`indomain_mpc::TwoParty`], chosen by [`Roles::correlations`]): each
//! also receives the other's generation messages, which are uniformly
//! masked (docs/protocols.md, "Two parties without a dealer").
//!
//! **Cost.** Opening I costs rows × (1 + Σ bins) ring elements a party
//! once (dense in the bins: the scorecard trains on the features kept by
//! the IV threshold, not on every candidate); each step then costs what a
//! vertical step costs plus two Beaver products of Σ bins elements.

use super::points::Scale;
use crate::LearnError;
use crate::align::Roles;
use crate::binning::BinIndex;
use crate::params::{Optimizer, Sigmoid, Task, TrainParams};
use crate::woe::layout::Layout;
use indomain_core::FixedPoint;
use indomain_mpc::dealer::{self, DealerLimits};
use indomain_mpc::{Correlations, FixedMatrix, Roster, Session, Shared};
use indomain_net::PartySet;
use ndarray::Array2;
use rand::{CryptoRng, Rng};

/// A computing party's session, on the dealer's items or on two-party
/// ones.
type Party<'a> = Session<'a, Box<dyn Correlations>>;

/// The label holder's rank: first of the computing parties.
const LEAD: usize = 0;

/// The most ring elements of one chunk of the opened matrix (the dealer's
/// item limit).
const CHUNK_ELEMENTS: usize = 1 << 23;

/// One party's inputs.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    /// Each own feature's bin per row (none at the dealer).
    pub bins: &'a [BinIndex],
    /// Bins of each own feature.
    pub sizes: &'a [usize],
    /// This party's share of the WOE of every bin of every party's
    /// features (rank order: the label holder's first), f fractional bits.
    pub woe: &'a Shared,
    /// The 0/1 labels, at the label holder.
    pub labels: Option<&'a [f64]>,
}

/// What one party ends training with.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    /// The intercept, at the label holder.
    pub intercept: Option<f64>,
    /// Weights of this party's own features, at the label holder (the
    /// owners learn none).
    pub own_weights: Vec<f64>,
    /// Every feature's weight (rank order), at the label holder when
    /// `reveal_to_label`.
    pub all_weights: Option<Vec<f64>>,
    /// This party's share of every bin's points (rank order), f bits.
    pub points: Shared,
    /// The training loss per epoch, at the label holder.
    pub loss_per_epoch: Vec<f64>,
    /// The final model's log-odds z on every training row, at the label
    /// holder (what scoring those rows would tell it).
    pub train_scores: Option<Vec<f64>>,
    /// The agreed bins per feature of every rank.
    pub sizes: Vec<Vec<usize>>,
}

/// Trains a WOE scorecard; every party of `parties` calls it (`roles` by
/// set index: with a dealer, or without one and exactly one feature
/// holder, the two computing parties generating the correlations). The computing parties are ranked label
/// holder first, then the feature holders in set order. With
/// `reveal_to_label`, every weight is opened to the label holder.
#[allow(clippy::too_many_arguments)]
pub fn train<R: Rng + CryptoRng + ?Sized>(
    parties: &mut PartySet,
    roles: &Roles,
    input: Input<'_>,
    params: &TrainParams,
    scale: &Scale,
    reveal_to_label: bool,
    rng: &mut R,
) -> Result<Outcome, LearnError> {
    check(params, scale)?;
    let (label, dealer_index, computing) = parties_of(parties, roles, "a scorecard's training")?;
    if Some(parties.me()) == dealer_index {
        dealer::serve_ordered(parties, &computing, DealerLimits::default(), rng)?;
        return Ok(Outcome::default());
    }
    let roster = Roster::ordered(parties, computing.clone(), dealer_index)?;
    let rank = roster.rank();
    let rows = input.bins.first().map_or(0, BinIndex::len);
    if input.bins.len() != input.sizes.len() || input.bins.iter().any(|b| b.len() != rows) {
        return Err(LearnError::Input(
            "one bin index of the same rows per feature".into(),
        ));
    }
    let labels = match (rank == LEAD, input.labels) {
        (true, Some(y)) => Some(y),
        (true, None) => return Err(LearnError::Input("the label holder has no labels".into())),
        (false, None) => None,
        (false, Some(_)) => {
            return Err(LearnError::Input(
                "only the label holder passes labels".into(),
            ));
        }
    };
    let layout = Layout::agree(parties, &computing, input.sizes)?;
    let rows = agree_rows(parties, &computing, rows, input.sizes.is_empty())?;
    if let Some(y) = labels
        && (y.len() != rows || y.iter().any(|&v| v != 0.0 && v != 1.0))
    {
        return Err(LearnError::Input(format!(
            "{} labels for {rows} rows, each 0 or 1",
            y.len()
        )));
    }
    if input.woe.len() != layout.total_bins() {
        return Err(LearnError::Input(format!(
            "a WOE share of {} bins, the job has {}",
            input.woe.len(),
            layout.total_bins()
        )));
    }
    if layout.total_features() == 0 || rows == 0 {
        return Err(LearnError::Input(
            "no features or no rows to train on".into(),
        ));
    }
    let fp = FixedPoint::new(params.frac_bits)?;
    let client = roles.correlations(&roster, "a scorecard's training")?;
    let mut s = Session::new(parties, roster, fp, client);
    let widths: Vec<usize> = (0..computing.len())
        .map(|r| layout.rank_bins(r) + (r == LEAD) as usize)
        .collect();
    let cols: usize = widths.iter().sum();
    let chunk_rows = (CHUNK_ELEMENTS / cols.max(1)).clamp(1, 1 << 16);
    let mut chunks = Vec::new();
    for start in (0..rows).step_by(chunk_rows) {
        let end = (start + chunk_rows).min(rows);
        let block = one_hot(input.bins, input.sizes, start..end, rank == LEAD);
        let matrix = s.fix_matrix(block.view(), &widths)?;
        let y = labels
            .map(|y| fp.encode_slice(&y[start..end]))
            .transpose()?
            .unwrap_or_default();
        chunks.push((matrix, y));
    }
    let trainer = Steps::new(params, fp, &layout)?;
    // w = [b, w_0 … w_{F−1}], shared, from 0.
    let mut w = Shared::zeros(1 + layout.total_features());
    let mut outcome = Outcome {
        sizes: layout.sizes.clone(),
        ..Outcome::default()
    };
    for _ in 0..params.epochs {
        let squares = trainer.step(&mut s, &chunks, input.woe, &mut w, rows)?;
        if let Some(v) = s.open_to(&Shared(vec![squares]), label)? {
            let mean = (v[0] as i64) as f64 / (fp.scale() * fp.scale()) / rows as f64;
            outcome
                .loss_per_epoch
                .push(std::f64::consts::LN_2 - 0.5 + 2.0 * mean);
        }
    }
    outcome.points = trainer.points(&mut s, &w, input.woe, scale)?;
    let v = trainer.model_vector(&mut s, &w, input.woe)?;
    let mut z = Vec::new();
    for (matrix, _) in &chunks {
        let zc = s.fixed_times(matrix, &v)?;
        if let Some(opened) = s.open_to(&zc, label)? {
            z.extend(fp.decode_slice(&opened));
        }
    }
    outcome.train_scores = (rank == LEAD).then_some(z);
    // The label holder learns the intercept and its own weights, or all.
    let own = layout.feature_offset(rank)..layout.feature_offset(rank) + input.sizes.len();
    let opened = if reveal_to_label {
        s.open_to(&w, label)?
    } else {
        let lead = 0..1 + layout.sizes[LEAD].len();
        s.open_to(&Shared(w.0[lead].to_vec()), label)?
    };
    if let Some(v) = opened {
        let v = fp.decode_slice(&v);
        outcome.intercept = Some(v[0]);
        outcome.own_weights = v[1 + own.start..1 + own.end].to_vec();
        if reveal_to_label {
            outcome.all_weights = Some(v[1..].to_vec());
        }
    }
    s.finish()?;
    Ok(outcome)
}

/// The label holder, the dealer (if any) and the computing parties (label
/// holder first) of `roles`; without a dealer, `what` (the step) takes
/// exactly one feature holder.
pub(super) fn parties_of(
    parties: &PartySet,
    roles: &Roles,
    what: &str,
) -> Result<(usize, Option<usize>, Vec<usize>), LearnError> {
    roles.check(parties.len())?;
    roles.two_party(what)?;
    let computing = std::iter::once(roles.label)
        .chain(roles.features.iter().copied())
        .collect();
    Ok((roles.label, roles.dealer, computing))
}

/// Checks what every party must accept before anything is sent.
fn check(params: &TrainParams, scale: &Scale) -> Result<(), LearnError> {
    scale.check()?;
    let bad = |m: &str| Err(LearnError::Params(m.to_string()));
    if params.task != Task::Logistic {
        return bad("a scorecard is a logistic regression");
    }
    if params.early_stopping.is_some() || params.batch_size.is_some() {
        return bad(
            "a WOE scorecard trains full-batch without early stopping (set --epochs instead)",
        );
    }
    if !matches!(params.optimizer, Optimizer::GradientDescent)
        || params.convergence.is_some()
        || params.recalibration.is_some()
    {
        return bad(
            "a WOE scorecard trains by gradient descent for exactly --epochs epochs \
             (TrainParams::gradient_descent): no bound-Newton optimizer, convergence test or \
             recalibration",
        );
    }
    if params.epochs == 0 || !(params.learning_rate > 0.0 && params.learning_rate <= 16.0) {
        return bad("epochs ≥ 1 and a learning rate in (0, 16]");
    }
    if !(params.l2.is_finite() && (0.0..=16.0).contains(&params.l2)) {
        return bad("the L2 strength must be in [0, 16]");
    }
    if !(8..=20).contains(&params.frac_bits) {
        return bad("8 to 20 fractional bits");
    }
    Ok(())
}

/// Every computing party announces its rows (a party without features
/// takes the others'); they must agree.
fn agree_rows(
    parties: &mut PartySet,
    group: &[usize],
    rows: usize,
    without_features: bool,
) -> Result<usize, LearnError> {
    let mine = if without_features {
        u64::MAX
    } else {
        rows as u64
    };
    let all = indomain_mpc::open::exchange(parties, group, vec![mine], &vec![1; group.len()])?;
    let me = parties.me();
    let mut agreed = (!without_features).then_some(rows as u64);
    for (theirs, &i) in all.iter().zip(group) {
        if i == me || theirs[0] == u64::MAX {
            continue;
        }
        match agreed {
            Some(r) if r != theirs[0] => {
                return Err(LearnError::Disagreement {
                    peer: parties.name(i).to_string(),
                    what: format!("it has {} rows, this party {r}", theirs[0]),
                });
            }
            _ => agreed = Some(theirs[0]),
        }
    }
    agreed
        .map(|r| r as usize)
        .ok_or_else(|| LearnError::Input("no party has any rows".into()))
}

/// This party's one-hot block of `rows` (plain integers 0/1), with a
/// leading column of ones at the label holder.
pub(super) fn one_hot(
    bins: &[BinIndex],
    sizes: &[usize],
    rows: std::ops::Range<usize>,
    intercept: bool,
) -> Array2<u64> {
    let lead = intercept as usize;
    let width = lead + sizes.iter().sum::<usize>();
    let mut block = Array2::zeros((rows.len(), width));
    if intercept {
        block.column_mut(0).fill(1);
    }
    let mut offset = lead;
    for (index, &k) in bins.iter().zip(sizes) {
        for (i, r) in rows.clone().enumerate() {
            block[[i, offset + index.get(r)]] = 1;
        }
        offset += k;
    }
    block
}

/// The arithmetic of a step, with every public constant encoded once.
struct Steps {
    fp: FixedPoint,
    sigmoid: Sigmoid,
    learning_rate: f64,
    /// lr·l2 per coordinate of w (0 for the intercept), encoded.
    decay: Vec<u64>,
    /// The feature of every bin (all ranks).
    feature_of_bin: Vec<usize>,
    features: usize,
}

impl Steps {
    fn new(params: &TrainParams, fp: FixedPoint, layout: &Layout) -> Result<Self, LearnError> {
        let features = layout.total_features();
        let decay_value = fp.encode(params.learning_rate * params.l2)?;
        let mut decay = vec![decay_value; 1 + features];
        decay[0] = 0;
        Ok(Self {
            fp,
            sigmoid: params.sigmoid,
            learning_rate: params.learning_rate,
            decay,
            feature_of_bin: layout.feature_of_bin(),
            features,
        })
    }

    /// expand(w) ⊙ WOE: each bin's weight times its WOE (f bits).
    fn bin_weights(
        &self,
        s: &mut Party<'_>,
        w: &Shared,
        woe: &Shared,
    ) -> Result<Shared, LearnError> {
        let expanded = Shared(self.feature_of_bin.iter().map(|&f| w.0[1 + f]).collect());
        Ok(s.mul_fixed(&expanded, woe)?)
    }

    /// v = [b ; expand(w) ⊙ WOE]: z = I·v.
    fn model_vector(
        &self,
        s: &mut Party<'_>,
        w: &Shared,
        woe: &Shared,
    ) -> Result<Shared, LearnError> {
        let mut v = vec![w.0[0]];
        v.extend(self.bin_weights(s, w, woe)?.0);
        Ok(Shared(v))
    }

    /// One full-batch gradient step; returns this party's share of Σ err²
    /// (2f bits).
    fn step(
        &self,
        s: &mut Party<'_>,
        chunks: &[(FixedMatrix, Vec<u64>)],
        woe: &Shared,
        w: &mut Shared,
        rows: usize,
    ) -> Result<u64, LearnError> {
        let f = self.fp.frac_bits();
        let rank = s.rank();
        let v = self.model_vector(s, w, woe)?;
        let mut g_bins = Shared::zeros(v.len());
        let mut squares = 0u64;
        for (matrix, y) in chunks {
            let z = s.fixed_times(matrix, &v)?;
            let mut err = match self.sigmoid {
                Sigmoid::Linear => s.sigmoid(z, 0)?,
                Sigmoid::Clamped => s.sigmoid_clamped(z, 0)?,
                Sigmoid::Fourier => s.sigmoid_fourier(&z, 0)?,
            };
            if rank == LEAD {
                err.sub_public(y, rank)?;
            }
            let (g, sq) = s.fixed_t_times_square(matrix, &err)?;
            g_bins.add_assign(&g)?;
            squares = squares.wrapping_add(sq);
        }
        // 2^t ≤ rows: G / 2^t stays small for the products below; the
        // factor 2^t / rows is folded into the step size.
        let t = usize::BITS - 1 - rows.leading_zeros();
        let g_bins = s.truncate(g_bins, t)?;
        let weighted = s.mul(&Shared(g_bins.0[1..].to_vec()), woe)?;
        let mut grad = vec![0u64; 1 + self.features];
        for (&fe, &x) in self.feature_of_bin.iter().zip(&weighted.0) {
            grad[1 + fe] = grad[1 + fe].wrapping_add(x);
        }
        let mut grad = s.truncate(Shared(grad), f)?;
        grad.0[0] = g_bins.0[0];
        let step = self.learning_rate * (1u64 << t) as f64 / rows as f64;
        grad.scale(self.fp.encode(step)?);
        let mut decay = w.clone();
        decay.mul_public(&self.decay)?;
        grad.add_assign(&decay)?;
        let update = s.truncate(grad, f)?;
        w.sub_assign(&update)?;
        Ok(squares)
    }

    /// Shares of every bin's points: −(w_j·WOE_i + b/m)·factor + offset/m.
    fn points(
        &self,
        s: &mut Party<'_>,
        w: &Shared,
        woe: &Shared,
        scale: &Scale,
    ) -> Result<Shared, LearnError> {
        let m = self.features as f64;
        let mut z = self.bin_weights(s, w, woe)?;
        let b_share = w.0[0];
        // + b/m on every bin: b is shared, 1/m public.
        let per = s.mul_public_real(Shared(vec![b_share; z.len()]), &vec![1.0 / m; z.len()])?;
        z.add_assign(&per)?;
        let mut points = s.mul_public_real(z, &vec![-scale.factor(); woe.len()])?;
        let base = self.fp.encode(scale.offset() / m)?;
        let rank = s.rank();
        points.add_public(&vec![base; woe.len()], rank)?;
        Ok(points)
    }
}
