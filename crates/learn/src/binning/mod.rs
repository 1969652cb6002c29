//! Local binning of one party's own columns: the first step of WOE/IV
//! scorecards ([`crate::woe`]) and of gradient-boosted trees, shared by
//! both.
//!
//! **What each party learns.** Nothing is sent: a party bins only its own
//! columns, on its own rows, and keeps the edges and categories. What the
//! bins later reveal to others is said by the protocol that uses them.
//!
//! - Numeric columns ([`Method`]): quantile bins (the default, 10 for WOE,
//!   as trees ask 32), equal-width bins, or edges given per feature. Bin i
//!   holds e_i ≤ x < e_(i+1) ([`numeric`]).
//! - Categorical columns (text): one bin per category, in sorted order,
//!   rare categories merged into one bin that also takes unseen ones; more
//!   than [`BinParams::max_categories`] distinct categories are refused.
//! - Missing values (empty cells) get a bin of their own, always the last
//!   one, when the column has any; it is never merged.
//! - Adjacent value bins with fewer than [`BinParams::min_share`] of the
//!   rows are merged ([`numeric::merge_small`]); monotone merging of the
//!   event rate ([`monotone`]) needs the labels, so it is a separate step
//!   ([`FeatureBins::merge_adjacent`] applies a plan of merged bins).
//!
//! Output per feature: its [`FeatureBins`] (edges or categories) and one
//! bin number per row ([`BinIndex`], a byte each up to 256 bins).

pub mod categorical;
pub mod column;
pub mod index;
pub mod monotone;
pub mod numeric;

pub use column::{Column, RawTable};
pub use index::BinIndex;
pub use monotone::{Direction, monotone_blocks};

use crate::LearnError;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::ops::Range;

/// The most bins a numeric feature may ask for.
pub const MAX_BINS: usize = 1024;

/// How a numeric column is cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Method {
    /// Bins of (about) equal row counts.
    Quantile {
        /// Bins asked for (ties may leave fewer).
        bins: usize,
    },
    /// Bins of equal width between the column's minimum and maximum.
    EqualWidth {
        /// Bins asked for.
        bins: usize,
    },
}

impl Method {
    fn bins(&self) -> usize {
        match *self {
            Method::Quantile { bins } | Method::EqualWidth { bins } => bins,
        }
    }
}

/// How a party bins its columns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BinParams {
    /// How numeric columns are cut (unless given edges).
    pub method: Method,
    /// Given edges for named numeric features, overriding `method`
    /// (strictly increasing, finite).
    pub edges: Vec<(String, Vec<f64>)>,
    /// The smallest share of all rows a value bin may hold; smaller bins
    /// are merged with a neighbour (0 keeps every bin).
    pub min_share: f64,
    /// The most distinct categories a categorical column may have.
    pub max_categories: usize,
}

impl Default for BinParams {
    /// WOE's defaults: 10 quantile bins, at least 5 % of the rows a bin,
    /// at most 256 categories.
    fn default() -> Self {
        Self {
            method: Method::Quantile { bins: 10 },
            edges: Vec::new(),
            min_share: 0.05,
            max_categories: 256,
        }
    }
}

impl BinParams {
    /// `bins` quantile bins without a minimum share (what trees use).
    pub fn quantile(bins: usize) -> Self {
        Self {
            method: Method::Quantile { bins },
            min_share: 0.0,
            ..Self::default()
        }
    }

    /// Refuses unusable settings, naming them.
    pub fn check(&self) -> Result<(), LearnError> {
        let bad = |m: String| Err(LearnError::Params(m));
        let bins = self.method.bins();
        if !(2..=MAX_BINS).contains(&bins) {
            return bad(format!("{bins} bins asked for: give 2 to {MAX_BINS}"));
        }
        if !(self.min_share.is_finite() && (0.0..0.5).contains(&self.min_share)) {
            return bad(format!(
                "a minimum share of rows per bin of {} (give 0 to 0.5, e.g. 0.05)",
                self.min_share
            ));
        }
        if !(1..=u16::MAX as usize).contains(&self.max_categories) {
            return bad(format!(
                "at most {} categories: give 1 to {}",
                self.max_categories,
                u16::MAX
            ));
        }
        for (name, edges) in &self.edges {
            if edges.len() >= MAX_BINS
                || edges.iter().any(|e| !e.is_finite())
                || edges.windows(2).any(|w| w[0] >= w[1])
            {
                return bad(format!(
                    "the edges given for {name:?} must be finite, strictly increasing and fewer than {MAX_BINS}"
                ));
            }
        }
        Ok(())
    }

    /// The fewest rows a value bin may hold among `rows` rows.
    fn min_count(&self, rows: usize) -> u64 {
        (self.min_share * rows as f64).ceil() as u64
    }
}

/// What the value bins of a feature are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BinKind {
    /// A numeric feature: `edges.len() + 1` value bins.
    Numeric {
        /// The cut points, strictly increasing.
        edges: Vec<f64>,
    },
    /// A categorical feature: one value bin per group of categories.
    Categorical {
        /// The categories of each value bin.
        groups: Vec<Vec<String>>,
        /// The bin that takes rare categories and categories not seen
        /// when binning (if any category was rare).
        other: Option<usize>,
    },
}

/// The bins of one feature, known to its owner only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureBins {
    /// The feature's column name.
    pub name: String,
    /// Edges or categories.
    #[serde(flatten)]
    pub kind: BinKind,
    /// Whether the last bin holds missing values.
    pub missing: bool,
}

/// A binned feature: its bins and every row's bin.
#[derive(Debug, Clone, PartialEq)]
pub struct Binned {
    /// The bins.
    pub bins: FeatureBins,
    /// One bin per row.
    pub index: BinIndex,
}

impl FeatureBins {
    /// Value bins (without the missing-value bin).
    pub fn value_bins(&self) -> usize {
        match &self.kind {
            BinKind::Numeric { edges } => edges.len() + 1,
            BinKind::Categorical { groups, .. } => groups.len(),
        }
    }

    /// All bins, the missing-value bin included.
    pub fn bins(&self) -> usize {
        self.value_bins() + self.missing as usize
    }

    /// The missing-value bin, if any.
    pub fn missing_bin(&self) -> Option<usize> {
        self.missing.then(|| self.value_bins())
    }

    /// A readable label of every bin: `[1.5, 3)`, `{a, b}`, `missing`.
    pub fn labels(&self) -> Vec<String> {
        let mut out: Vec<String> = match &self.kind {
            BinKind::Numeric { edges } => (0..=edges.len())
                .map(|i| {
                    let lo = i
                        .checked_sub(1)
                        .map_or("-inf".to_string(), |j| edges[j].to_string());
                    let hi = edges.get(i).map_or("+inf".to_string(), |e| e.to_string());
                    format!("[{lo}, {hi})")
                })
                .collect(),
            BinKind::Categorical { groups, other } => groups
                .iter()
                .enumerate()
                .map(|(b, g)| {
                    let unseen = if *other == Some(b) { ", (unseen)" } else { "" };
                    format!("{{{}{unseen}}}", g.join(", "))
                })
                .collect(),
        };
        if self.missing {
            out.push("missing".into());
        }
        out
    }

    /// The bin of every row of `column` (of the same kind), for rows read
    /// from `source` at `lines` (for errors; may be empty). A missing
    /// value without a missing-value bin, or an unseen category without an
    /// "other" bin, is refused naming the line and column.
    pub fn assign(
        &self,
        column: &Column,
        source: &str,
        lines: &[u64],
    ) -> Result<BinIndex, LearnError> {
        let err = |row: usize, reason: String| LearnError::Cell {
            file: source.to_string(),
            line: lines.get(row).copied().unwrap_or(row as u64 + 2),
            column: self.name.clone(),
            reason,
        };
        let missing = |row: usize| {
            self.missing_bin().map(|b| b as u16).ok_or_else(|| {
                err(
                    row,
                    "a missing value, and the binning saw none in this column".into(),
                )
            })
        };
        let values: Vec<u16> = match (&self.kind, column) {
            (BinKind::Numeric { edges }, Column::Numeric(v)) => v
                .iter()
                .enumerate()
                .map(|(row, &x)| {
                    if x.is_nan() {
                        missing(row)
                    } else {
                        Ok(numeric::bin_of(edges, x) as u16)
                    }
                })
                .collect::<Result<_, _>>()?,
            (BinKind::Categorical { groups, other }, Column::Categorical { levels, codes }) => {
                let mut bin_of: std::collections::HashMap<&str, u16> = Default::default();
                for (b, g) in groups.iter().enumerate() {
                    for c in g {
                        bin_of.insert(c.as_str(), b as u16);
                    }
                }
                let level_bins: Vec<Option<u16>> = levels
                    .iter()
                    .map(|l| bin_of.get(l.as_str()).copied().or(other.map(|o| o as u16)))
                    .collect();
                codes
                    .iter()
                    .enumerate()
                    .map(|(row, &c)| {
                        if c == column::MISSING_CODE {
                            return missing(row);
                        }
                        level_bins[c as usize].ok_or_else(|| {
                            err(
                                row,
                                format!(
                                    "category {:?} was not seen when binning, and no bin takes unseen categories",
                                    levels[c as usize]
                                ),
                            )
                        })
                    })
                    .collect::<Result<_, _>>()?
            }
            (BinKind::Numeric { .. }, Column::Categorical { .. }) => {
                return Err(LearnError::Data(format!(
                    "{source}: column {:?} holds text, but it was binned as numeric",
                    self.name
                )));
            }
            (BinKind::Categorical { .. }, Column::Numeric(_)) => {
                return Err(LearnError::Data(format!(
                    "{source}: column {:?} holds numbers, but it was binned as categorical (list it as categorical)",
                    self.name
                )));
            }
        };
        Ok(BinIndex::pack(&values, self.bins()))
    }

    /// Merges adjacent value bins: `blocks` are consecutive ranges covering
    /// `0..value_bins()` in order (the missing-value bin stays as it is).
    /// Returns the merged bins and the map from old to new bin numbers.
    pub fn merge_adjacent(
        &self,
        blocks: &[Range<usize>],
    ) -> Result<(FeatureBins, Vec<u16>), LearnError> {
        let n = self.value_bins();
        let covers = blocks.first().map(|b| b.start) == Some(0)
            && blocks.last().map(|b| b.end) == Some(n)
            && blocks.iter().all(|b| b.start < b.end)
            && blocks.windows(2).all(|w| w[0].end == w[1].start);
        if !covers {
            return Err(LearnError::Params(format!(
                "feature {:?}: a merge of its {n} bins must cover them in order",
                self.name
            )));
        }
        let mut map = vec![0u16; self.bins()];
        for (new, b) in blocks.iter().enumerate() {
            map[b.clone()].iter_mut().for_each(|m| *m = new as u16);
        }
        if let Some(m) = self.missing_bin() {
            map[m] = blocks.len() as u16;
        }
        let kind = match &self.kind {
            BinKind::Numeric { edges } => BinKind::Numeric {
                edges: blocks[1..].iter().map(|b| edges[b.start - 1]).collect(),
            },
            BinKind::Categorical { groups, other } => BinKind::Categorical {
                groups: blocks.iter().map(|b| groups[b.clone()].concat()).collect(),
                other: other.map(|o| map[o] as usize),
            },
        };
        Ok((
            FeatureBins {
                name: self.name.clone(),
                kind,
                missing: self.missing,
            },
            map,
        ))
    }
}

impl Binned {
    /// Applies [`FeatureBins::merge_adjacent`] to the bins and the rows.
    pub fn merge_adjacent(&self, blocks: &[Range<usize>]) -> Result<Binned, LearnError> {
        let (bins, map) = self.bins.merge_adjacent(blocks)?;
        let index = self.index.remap(&map, bins.bins());
        Ok(Binned { bins, index })
    }
}

/// Bins one column named `name` (rows from `source`, for errors).
pub fn bin_column(
    name: &str,
    column: &Column,
    params: &BinParams,
    source: &str,
) -> Result<Binned, LearnError> {
    params.check()?;
    let rows = column.len();
    let min_count = params.min_count(rows);
    let data_err = |m: String| LearnError::Data(format!("{source}: column {name:?}: {m}"));
    let bins = match column {
        Column::Numeric(values) => {
            let mut sorted: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
            if sorted.is_empty() {
                return Err(data_err("every value is missing".into()));
            }
            let given = params.edges.iter().find(|(n, _)| n == name);
            let asked = given.map_or(params.method.bins(), |(_, e)| e.len() + 1);
            if given.is_none() && sorted.len() < asked {
                return Err(data_err(format!(
                    "{} rows with a value are too few for {asked} bins",
                    sorted.len()
                )));
            }
            sorted.sort_unstable_by(f64::total_cmp);
            let edges = match (given, params.method) {
                (Some((_, e)), _) => e.clone(),
                (None, Method::Quantile { bins }) => numeric::quantile_edges(&sorted, bins),
                (None, Method::EqualWidth { bins }) => {
                    numeric::equal_width_edges(sorted[0], sorted[sorted.len() - 1], bins)
                }
            };
            FeatureBins {
                name: name.to_string(),
                kind: BinKind::Numeric { edges },
                missing: sorted.len() < rows,
            }
        }
        Column::Categorical { .. } if params.edges.iter().any(|(n, _)| n == name) => {
            return Err(data_err(
                "edges are given, but the column holds text (categories)".into(),
            ));
        }
        Column::Categorical { levels, codes } => {
            let seen = {
                let mut seen = vec![false; levels.len()];
                codes
                    .iter()
                    .filter(|&&c| c != column::MISSING_CODE)
                    .for_each(|&c| seen[c as usize] = true);
                seen.iter().filter(|&&s| s).count()
            };
            if seen == 0 {
                return Err(data_err("every value is missing".into()));
            }
            if seen > params.max_categories {
                return Err(data_err(format!(
                    "{seen} categories, more than the {} allowed (raise the limit, or bin a numeric column as numeric)",
                    params.max_categories
                )));
            }
            let g = categorical::group(levels, codes, min_count);
            FeatureBins {
                name: name.to_string(),
                kind: BinKind::Categorical {
                    groups: g.groups,
                    other: g.other,
                },
                missing: codes.contains(&column::MISSING_CODE),
            }
        }
    };
    let index = bins.assign(column, source, &[])?;
    let binned = Binned { bins, index };
    if min_count == 0 || matches!(binned.bins.kind, BinKind::Categorical { .. }) {
        return Ok(binned);
    }
    let counts = binned.index.counts(binned.bins.bins());
    let blocks = numeric::merge_small(&counts[..binned.bins.value_bins()], min_count);
    if blocks.len() == binned.bins.value_bins() {
        return Ok(binned);
    }
    binned.merge_adjacent(&blocks)
}

/// Bins every feature of `table` (columns in parallel).
pub fn bin_table(table: &RawTable, params: &BinParams) -> Result<Vec<Binned>, LearnError> {
    params.check()?;
    if let Some((name, _)) = params
        .edges
        .iter()
        .find(|(n, _)| !table.feature_names.contains(n))
    {
        return Err(LearnError::Params(format!(
            "edges are given for {name:?}, which is not a feature of {}",
            table.source
        )));
    }
    table
        .feature_names
        .par_iter()
        .zip(&table.columns)
        .map(|(name, column)| bin_column(name, column, params, &table.source))
        .collect()
}

#[cfg(test)]
mod tests;
