//! The WOE/IV binning job at one party: a label holder, 1 to 4 feature
//! owners and a dealer, rows already aligned. Each party has binned its
//! own columns locally ([`crate::binning`]); this computes every feature's
//! WOE and IV as the job's [`Mode`] allows. docs/protocols.md ("WOE / IV
//! binning") states what each party learns in each mode; in short:
//!
//! - everyone: the number of rows, every feature's bin count (before and
//!   after merging) and which adjacent bins merged;
//! - the label holder: its own features in the clear; the owners' feature
//!   names, kinds and IVs; in the default and owner-transform modes every
//!   owner bin's events and non-events (hence its WOE) under anonymous ids
//!   in the owner's order, never an edge, a category or a row's bin;
//! - an owner: its features' IVs; in the owner-transform mode also its
//!   bins' WOE; with a minimum of events per bin, whether each of its bins
//!   has enough (one bit a bin, by secure comparison in strict mode);
//! - the dealer: shapes only.
//!
//! Steps: the owners' events per bin come from the kernel ([`BinSums`]:
//! the label vector shared once, summed over each owner's private bins);
//! non-events are the owner's bin sizes minus events, in shares. Then, by
//! mode, either the counts are opened to the label holder, which merges
//! bins lacking events (telling the owner which), merges monotonically if
//! asked and computes WOE and IV in the clear ([`super::math`]); or
//! (strict) the comparisons, the logarithms and the IV are computed on
//! shares (`indomain_mpc::compare`, `indomain_mpc::log`) and only each IV
//! is opened, to the label holder and the feature's owner.

use super::kernel::BinSums;
use super::layout::Layout;
use super::math::{SMOOTHING, bin_counts, merge_lacking, woe_iv};
use super::{Mode, reveal, strict};
use crate::LearnError;
use crate::align::Roles;
use crate::binning::{BinIndex, BinKind, Binned, Direction, FeatureBins, monotone_blocks};
use indomain_core::FixedPoint;
use indomain_mpc::dealer::{self, DealerLimits};
use indomain_mpc::{Roster, Session, Shared};
use indomain_net::PartySet;
use indomain_net::wire::{recv_msg, send_msg};
use rand::{CryptoRng, Rng};
use serde::{Deserialize, Serialize};
use std::ops::Range;

/// The settings every party of a binning job agrees on.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// Who learns the owners' WOE.
    pub mode: Mode,
    /// Bins with fewer events or non-events are merged with a neighbour
    /// (0: no minimum). The missing-value bin is exempt.
    pub min_events: u64,
    /// Merge adjacent numeric bins until the WOE is monotone (not in the
    /// strict mode, where no one may see the WOE's order).
    pub monotone: bool,
    /// Fractional bits of the shared arithmetic.
    pub frac_bits: u32,
    /// One dealer permutation for all of an owner's features in the
    /// histogram kernel instead of one per feature: far fewer dealer bytes,
    /// but the other computing parties learn how the owner's bins
    /// co-occur across its features (`indomain_mpc::bins`). Off unless the
    /// job asks for it.
    pub shared_permutation: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            mode: Mode::Default,
            min_events: 0,
            monotone: false,
            frac_bits: 16,
            shared_permutation: false,
        }
    }
}

impl Settings {
    /// The histogram kernel these settings ask for.
    pub fn kernel(&self) -> super::kernel::MpcKernel {
        super::kernel::MpcKernel {
            permutations: if self.shared_permutation {
                indomain_mpc::correlations::Permutations::Shared
            } else {
                indomain_mpc::correlations::Permutations::PerFeature
            },
        }
    }
}

impl Settings {
    /// Refuses settings no party may run.
    pub fn check(&self) -> Result<(), LearnError> {
        if self.monotone && self.mode == Mode::Strict {
            return Err(LearnError::Params(
                "monotone merging needs the order of every bin's WOE, which the strict mode hides from everyone: use --mode default, or drop --monotone".into(),
            ));
        }
        if !(8..=20).contains(&self.frac_bits) {
            return Err(LearnError::Params(
                "a binning job takes 8 to 20 fractional bits".into(),
            ));
        }
        Ok(())
    }
}

/// One of this party's own features at the end of the job.
#[derive(Debug, Clone, PartialEq)]
pub struct OwnFeature {
    /// Its bins (after merging) and every row's bin.
    pub binned: Binned,
    /// Rows per bin.
    pub rows: Vec<u64>,
    /// Events per bin, where this party knows them (the label holder).
    pub events: Option<Vec<u64>>,
    /// Non-events per bin, where this party knows them.
    pub non_events: Option<Vec<u64>>,
    /// WOE per bin, where this party knows it.
    pub woe: Option<Vec<f64>>,
    /// The feature's IV.
    pub iv: f64,
    /// The direction of the WOE after monotone merging.
    pub direction: Option<Direction>,
}

/// An owner's feature as the label holder knows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForeignFeature {
    /// The owner.
    pub party: String,
    /// The feature's name.
    pub name: String,
    /// Numeric (else categorical).
    pub numeric: bool,
    /// Whether its last bin holds missing values.
    pub missing: bool,
    /// Bins (after merging).
    pub bins: usize,
    /// Events per bin (default and owner-transform modes).
    pub events: Option<Vec<u64>>,
    /// Non-events per bin (default and owner-transform modes).
    pub non_events: Option<Vec<u64>>,
    /// WOE per bin (default and owner-transform modes).
    pub woe: Option<Vec<f64>>,
    /// The feature's IV.
    pub iv: f64,
}

/// What a party ends the job with.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    /// Its own features.
    pub own: Vec<OwnFeature>,
    /// The owners' features, at the label holder.
    pub foreign: Vec<ForeignFeature>,
    /// Bins per feature of every computing party (label holder first),
    /// after merging.
    pub sizes: Vec<Vec<usize>>,
    /// Strict mode: this party's share of the WOE of every owner bin
    /// (owners in rank order), with the job's fractional bits.
    pub woe_shares: Option<Vec<u64>>,
}

/// What an owner tells the label holder about each feature.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Announced {
    pub(super) name: String,
    pub(super) numeric: bool,
    pub(super) missing: bool,
}

/// A merge plan for one feature: blocks of adjacent value bins, or none.
pub(super) type Plan = Option<Vec<(u32, u32)>>;

/// Each owner's events and non-events per bin, opened to the label holder.
pub(super) type OpenedCounts = Option<Vec<(Vec<u64>, Vec<u64>)>>;

pub(super) fn to_ranges(plan: &[(u32, u32)]) -> Vec<Range<usize>> {
    plan.iter().map(|&(a, b)| a as usize..b as usize).collect()
}

pub(super) fn to_plan(blocks: &[Range<usize>]) -> Vec<(u32, u32)> {
    blocks
        .iter()
        .map(|r| (r.start as u32, r.end as u32))
        .collect()
}

/// Runs the job at this party: see the module documentation. `features`
/// are this party's binned columns of the aligned rows (none at the
/// dealer); `labels` the 0/1 labels at the label holder.
pub fn run<R: Rng + CryptoRng + ?Sized>(
    parties: &mut PartySet,
    roles: &Roles,
    features: Vec<Binned>,
    labels: Option<&[f64]>,
    settings: &Settings,
    kernel: &mut dyn BinSums,
    rng: &mut R,
) -> Result<Outcome, LearnError> {
    settings.check()?;
    roles.two_party("a binning job")?;
    let computing: Vec<usize> = std::iter::once(roles.label)
        .chain(roles.features.iter().copied())
        .collect();
    if roles.dealer == Some(parties.me()) {
        dealer::serve_ordered(parties, &computing, DealerLimits::default(), rng)?;
        return Ok(Outcome::default());
    }
    let roster = Roster::ordered(parties, computing.clone(), roles.dealer)?;
    let rank = roster.rank();
    let is_label = rank == 0;
    let (bins, indices): (Vec<FeatureBins>, Vec<BinIndex>) =
        features.into_iter().map(|b| (b.bins, b.index)).unzip();
    let rows = check_input(is_label, &indices, labels)?;
    let own_sizes: Vec<usize> = bins.iter().map(FeatureBins::bins).collect();
    let layout = Layout::agree(parties, &computing, &own_sizes)?;
    let rows = agree_rows(parties, &computing, rows)?;
    let announced = announce(parties, &computing, rank, &bins, &layout)?;

    let fp = FixedPoint::new(settings.frac_bits)?;
    let client = roles.correlations(&roster, "a binning job")?;
    let mut s = Session::new(parties, roster, fp, client);
    let mut own = Owned { bins, indices };

    // The owners' events per bin, shared: the label vector once, summed
    // over each owner's bins.
    let y: Vec<u64> =
        labels.map_or_else(|| vec![0; rows], |y| y.iter().map(|&v| v as u64).collect());
    let v = Shared(y);
    let mut pos: Vec<Shared> = vec![Shared::default()];
    for (k, &owner) in computing.iter().enumerate().skip(1) {
        let mine = (rank == k).then_some(own.indices.as_slice());
        pos.push(kernel.bin_sums(&mut s, owner, mine, &layout.sizes[k], &v)?);
    }
    let mut result = Outcome::default();
    if is_label {
        let y = labels.unwrap_or_default();
        result.own = label_features(&mut own, y, settings)?;
    }
    match settings.mode {
        Mode::Default | Mode::OwnerTransform => {
            let neg = non_events(&pos, &own, rank, &layout);
            let counts = reveal::open_counts(&mut s, &computing, &pos, &neg)?;
            if is_label {
                result.foreign =
                    reveal::label_view(&mut s, &computing, &layout, counts, &announced, settings)?;
            } else {
                result.own = reveal::owner_view(&mut s, &computing, &mut own, settings)?;
            }
        }
        Mode::Strict => {
            let mut layout = layout;
            if settings.min_events > 0 {
                strict::merge_lacking_events(
                    &mut s,
                    &computing,
                    &mut layout,
                    &mut pos,
                    &mut own,
                    settings.min_events,
                    rows,
                )?;
            }
            let neg = non_events(&pos, &own, rank, &layout);
            let label_totals = labels.map(|y| {
                let p = y.iter().filter(|&&v| v > 0.5).count() as u64;
                (p, y.len() as u64 - p)
            });
            let (shares, ivs) =
                strict::woe_iv(&mut s, &computing, &layout, &pos, &neg, label_totals, rows)?;
            result.woe_shares = Some(shares.0);
            if is_label {
                result.foreign = announced
                    .iter()
                    .zip(ivs.all.unwrap_or_default())
                    .zip(layout.sizes[1..].iter().flatten())
                    .map(|(((party, a), iv), &bins)| ForeignFeature {
                        party: party.clone(),
                        name: a.name.clone(),
                        numeric: a.numeric,
                        missing: a.missing,
                        bins,
                        events: None,
                        non_events: None,
                        woe: None,
                        iv,
                    })
                    .collect();
            } else {
                let ivs = ivs.own.unwrap_or_default();
                result.own = reveal::own_without_counts(&own, &ivs, None);
            }
        }
    }
    let final_sizes: Vec<usize> = own.bins.iter().map(FeatureBins::bins).collect();
    result.sizes = Layout::agree(s.parties_mut(), &computing, &final_sizes)?.sizes;
    s.finish()?;
    Ok(result)
}

/// This party's features while the job runs.
pub(super) struct Owned {
    pub(super) bins: Vec<FeatureBins>,
    pub(super) indices: Vec<BinIndex>,
}

impl Owned {
    /// Rows per bin of feature `f`.
    pub(super) fn rows(&self, f: usize) -> Vec<u64> {
        self.indices[f].counts(self.bins[f].bins())
    }

    /// Merges feature `f`'s value bins by `blocks`.
    pub(super) fn merge(&mut self, f: usize, blocks: &[Range<usize>]) -> Result<(), LearnError> {
        let (bins, map) = self.bins[f].merge_adjacent(blocks)?;
        self.indices[f] = self.indices[f].remap(&map, bins.bins());
        self.bins[f] = bins;
        Ok(())
    }
}

/// Sums shares (or counts) over merged bins: `blocks` cover the value
/// bins, the bins after them (the missing-value bin) are kept.
pub(super) fn merge_values<T: Copy + std::ops::Add<Output = T>>(
    values: &[T],
    value_bins: usize,
    blocks: &[Range<usize>],
    add: impl Fn(T, T) -> T,
) -> Vec<T> {
    let mut out: Vec<T> = blocks
        .iter()
        .map(|b| {
            values[b.clone()]
                .iter()
                .copied()
                .reduce(&add)
                .unwrap_or(values[b.start])
        })
        .collect();
    out.extend_from_slice(&values[value_bins..]);
    out
}

/// Checks this party's inputs; returns its row count (`None` for an
/// owner without features, which takes the others').
fn check_input(
    is_label: bool,
    indices: &[BinIndex],
    labels: Option<&[f64]>,
) -> Result<Option<usize>, LearnError> {
    let rows = indices.first().map(BinIndex::len);
    if indices.iter().any(|i| Some(i.len()) != rows) {
        return Err(LearnError::Input(
            "every feature must bin the same rows".into(),
        ));
    }
    match (is_label, labels) {
        (true, Some(y)) => {
            if rows.is_some_and(|r| r != y.len()) {
                return Err(LearnError::Input(format!(
                    "{} labels for {} rows of features",
                    y.len(),
                    rows.unwrap_or_default()
                )));
            }
            if let Some(i) = y.iter().position(|&v| v != 0.0 && v != 1.0) {
                return Err(LearnError::Input(format!(
                    "row {i}: label {} is not 0 or 1",
                    y[i]
                )));
            }
            Ok(Some(y.len()))
        }
        (true, None) => Err(LearnError::Input("the label holder has no labels".into())),
        (false, Some(_)) => Err(LearnError::Input(
            "only the label holder passes labels".into(),
        )),
        (false, None) if indices.is_empty() => Err(LearnError::Input(
            "a feature owner of a binning job needs at least one feature".into(),
        )),
        (false, None) => Ok(rows),
    }
}

fn agree_rows(
    parties: &mut PartySet,
    group: &[usize],
    rows: Option<usize>,
) -> Result<usize, LearnError> {
    let mine = rows.map_or(u64::MAX, |r| r as u64);
    let all = indomain_mpc::open::exchange(parties, group, vec![mine], &vec![1; group.len()])?;
    let me = parties.me();
    let mut agreed = rows;
    for (theirs, &i) in all.iter().zip(group) {
        if i == me || theirs[0] == u64::MAX {
            continue;
        }
        match agreed {
            Some(r) if r as u64 != theirs[0] => {
                return Err(LearnError::Disagreement {
                    peer: parties.name(i).to_string(),
                    what: format!("it bins {} rows, this party {r}", theirs[0]),
                });
            }
            _ => agreed = Some(theirs[0] as usize),
        }
    }
    match agreed {
        Some(r) if r > 0 && r < (1 << 31) => Ok(r),
        _ => Err(LearnError::Input(
            "a binning job takes 1 to 2^31 − 1 rows".into(),
        )),
    }
}

/// Owners tell the label holder their features' names and kinds; returns
/// (owner name, announcement) per owner feature at the label holder.
fn announce(
    parties: &mut PartySet,
    computing: &[usize],
    rank: usize,
    bins: &[FeatureBins],
    layout: &Layout,
) -> Result<Vec<(String, Announced)>, LearnError> {
    if rank != 0 {
        let mine: Vec<Announced> = bins
            .iter()
            .map(|b| Announced {
                name: b.name.clone(),
                numeric: matches!(b.kind, BinKind::Numeric { .. }),
                missing: b.missing,
            })
            .collect();
        send_msg(parties.channel(computing[0])?, &mine)?;
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for (r, &k) in computing.iter().enumerate().skip(1) {
        let theirs: Vec<Announced> = recv_msg(parties.channel(k)?)?;
        let name = parties.name(k).to_string();
        if theirs.len() != layout.sizes[r].len() {
            return Err(LearnError::Protocol {
                peer: name,
                phase: "announcing features",
                reason: format!(
                    "names {} features after announcing {}",
                    theirs.len(),
                    layout.sizes[r].len()
                ),
            });
        }
        out.extend(theirs.into_iter().map(|a| (name.clone(), a)));
    }
    Ok(out)
}

/// The label holder's own features, in the clear: bins lacking events
/// merged, monotone merging if asked, then WOE and IV.
fn label_features(
    own: &mut Owned,
    y: &[f64],
    settings: &Settings,
) -> Result<Vec<OwnFeature>, LearnError> {
    let mut out = Vec::with_capacity(own.bins.len());
    for f in 0..own.bins.len() {
        let counts = |own: &Owned| bin_counts(&own.indices[f].to_vec(), y, own.bins[f].bins());
        let (mut e, mut n) = counts(own);
        if settings.min_events > 0 {
            while let Some(blocks) = lacking(&own.bins[f], &e, &n, settings.min_events) {
                own.merge(f, &blocks)?;
                (e, n) = counts(own);
            }
        }
        let mut direction = None;
        if settings.monotone && matches!(own.bins[f].kind, BinKind::Numeric { .. }) {
            let vb = own.bins[f].value_bins();
            let (blocks, dir) = monotone(&e[..vb], &n[..vb]);
            if blocks.len() < vb {
                own.merge(f, &blocks)?;
                (e, n) = counts(own);
            }
            direction = Some(dir);
        }
        let w = woe_iv(&e, &n);
        out.push(OwnFeature {
            binned: Binned {
                bins: own.bins[f].clone(),
                index: own.indices[f].clone(),
            },
            rows: own.rows(f),
            events: Some(e),
            non_events: Some(n),
            woe: Some(w.woe),
            iv: w.iv,
            direction,
        });
    }
    Ok(out)
}

/// The merge of bins lacking events, from counts in the clear.
fn lacking(bins: &FeatureBins, e: &[u64], n: &[u64], min: u64) -> Option<Vec<Range<usize>>> {
    let vb = bins.value_bins();
    let ok: Vec<bool> = (0..vb).map(|b| e[b] >= min && n[b] >= min).collect();
    let rows: Vec<u64> = (0..vb).map(|b| e[b] + n[b]).collect();
    merge_lacking(&ok, &rows)
}

pub(super) fn monotone(e: &[u64], n: &[u64]) -> (Vec<Range<usize>>, Direction) {
    let e: Vec<f64> = e.iter().map(|&v| v as f64).collect();
    let n: Vec<f64> = n.iter().map(|&v| v as f64).collect();
    monotone_blocks(&e, &n)
}

/// Shares of each owner bin's non-events: the owner's bin size minus the
/// shared events.
pub(super) fn non_events(pos: &[Shared], own: &Owned, rank: usize, layout: &Layout) -> Vec<Shared> {
    let mut neg: Vec<Shared> = pos
        .iter()
        .map(|p| Shared(p.0.iter().map(|v| v.wrapping_neg()).collect()))
        .collect();
    if rank > 0 && neg[rank].len() == layout.rank_bins(rank) {
        let sizes: Vec<u64> = (0..own.bins.len()).flat_map(|f| own.rows(f)).collect();
        for (v, n) in neg[rank].0.iter_mut().zip(sizes) {
            *v = v.wrapping_add(n);
        }
    }
    neg
}

/// The smoothing constant as used by the strict arithmetic (events and
/// non-events are doubled so that c + 1/2 is the integer 2c + 1).
pub(super) const DOUBLED_SMOOTHING: u64 = (2.0 * SMOOTHING) as u64;
