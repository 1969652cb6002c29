//! The parameters of a statistics job, which every party must hold
//! identically, and each party's local input.

use crate::AggregateError;
use serde::{Deserialize, Serialize};

/// The most parties a statistics job takes.
pub const MAX_PARTIES: usize = 16;

/// The smallest minimum group size a job accepts. With k = 1 or 2 a
/// released group can be one other party's single row, or two rows one of
/// which a colluding party knows; 3 is the smallest threshold national
/// statistics offices use for frequency tables.
pub const MIN_GROUP_SIZE_FLOOR: u64 = 3;

/// The default fractional bits: 32 bits hold 9 decimal digits, so 10^7
/// values with cents add up exactly to the cent (rounding error at most
/// 10^7 · 2^−33 < 0.002).
pub const DEFAULT_FRAC_BITS: u32 = 32;

/// The default bound on |x|: 10^9. With [`DEFAULT_FRAC_BITS`] a sum of
/// squares of 10^7 such values needs 2^115 of the 2^127 the ring holds.
pub const DEFAULT_MAX_ABS: f64 = 1e9;

/// The most fractional bits a job takes: an encoded value must fit 64
/// bits, so that its square fits the 128-bit ring.
pub const MAX_FRAC_BITS: u32 = 48;

/// The most ring elements of local aggregates a job may ask each party
/// for: groups × (1 + columns × elements per column). Every party holds a
/// few vectors of this many 16-byte elements, so 2^22 bounds a job at
/// about 64 MiB a vector, whatever the categories and bins it names.
pub const MAX_CELLS: usize = 1 << 22;

/// Which statistic a job computes for each column and group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Statistic {
    /// Rows per group (no columns needed).
    Count,
    /// Column totals.
    Sum,
    /// Column means (receivers also learn the totals).
    Mean,
    /// Column sample variances (receivers also learn totals and sums of
    /// squares).
    Variance,
    /// Column histograms over fixed, increasing bin edges.
    Histogram {
        /// Bin edges e_0 < e_1 < … < e_k: k bins.
        edges: Vec<f64>,
    },
}

impl Statistic {
    /// Ring elements per column and group.
    pub fn per_column(&self) -> usize {
        match self {
            Statistic::Count => 0,
            Statistic::Sum | Statistic::Mean => 1,
            Statistic::Variance => 2,
            // below, the k = edges − 1 bins, above
            Statistic::Histogram { edges } => edges.len() + 1,
        }
    }
}

/// A statistics job: the same value at every party (checked at the start).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatsJob {
    /// The statistic.
    pub statistic: Statistic,
    /// Column names, in the order of [`LocalData::columns`].
    pub columns: Vec<String>,
    /// The agreed, public categories of the group-by column; `None` for one
    /// group of all rows.
    pub categories: Option<Vec<String>>,
    /// The parties (indices into the party list) that receive the result,
    /// in the order results are sent to them.
    pub receivers: Vec<usize>,
    /// A group is released only if, for every receiver, the parties other
    /// than that receiver hold at least this many of its rows (at least
    /// [`MIN_GROUP_SIZE_FLOOR`]).
    pub min_group_size: u64,
    /// Fractional bits of the fixed-point encoding.
    pub frac_bits: u32,
    /// The bound on |x| every input value must respect.
    pub max_abs: f64,
}

impl StatsJob {
    /// A job of `statistic` over `columns` (none for
    /// [`Statistic::Count`]), one group of all rows, released to the
    /// parties `receivers` (set indices, in the order results are sent)
    /// for groups where, for every receiver, the other parties hold at
    /// least `min_group_size` rows (at least [`MIN_GROUP_SIZE_FLOOR`]); the
    /// default encoding ([`DEFAULT_FRAC_BITS`], [`DEFAULT_MAX_ABS`]). Checked
    /// when it runs ([`StatsJob::validate`]).
    ///
    /// ```
    /// # mod indomain { pub use indomain_aggregate as aggregate; }
    /// use indomain::aggregate::stats::{Statistic, StatsJob};
    /// use indomain::aggregate::sum::RealEncoding;
    ///
    /// let job = StatsJob::new(Statistic::Mean, ["income"], vec![0], 5)
    ///     .with_categories(["north", "south"])
    ///     .with_encoding(RealEncoding { frac_bits: 16, max_abs: 1e6 });
    /// assert_eq!(job.groups(), 2);
    /// job.validate(3)?;
    /// # Ok::<(), indomain_aggregate::AggregateError>(())
    /// ```
    pub fn new<S: Into<String>>(
        statistic: Statistic,
        columns: impl IntoIterator<Item = S>,
        receivers: Vec<usize>,
        min_group_size: u64,
    ) -> Self {
        Self {
            statistic,
            columns: columns.into_iter().map(Into::into).collect(),
            categories: None,
            receivers,
            min_group_size,
            frac_bits: DEFAULT_FRAC_BITS,
            max_abs: DEFAULT_MAX_ABS,
        }
    }

    /// The same job grouped by the public `categories` of a group-by column
    /// ([`LocalData::groups`] indexes them).
    pub fn with_categories<S: Into<String>>(
        mut self,
        categories: impl IntoIterator<Item = S>,
    ) -> Self {
        self.categories = Some(categories.into_iter().map(Into::into).collect());
        self
    }

    /// The same job with another fixed-point encoding.
    pub fn with_encoding(mut self, encoding: crate::sum::RealEncoding) -> Self {
        self.frac_bits = encoding.frac_bits;
        self.max_abs = encoding.max_abs;
        self
    }

    /// The number of groups.
    pub fn groups(&self) -> usize {
        self.categories.as_ref().map_or(1, Vec::len)
    }

    /// The name of group `g` (`"all"` without grouping).
    pub fn group_name(&self, g: usize) -> &str {
        match &self.categories {
            Some(c) => c.get(g).map_or("?", String::as_str),
            None => "all",
        }
    }

    /// Ring elements of one group's statistics (the count excluded).
    pub fn group_width(&self) -> usize {
        self.columns.len() * self.statistic.per_column()
    }

    /// Checks the job for `parties` parties.
    pub fn validate(&self, parties: usize) -> Result<(), AggregateError> {
        let bad = |m: String| Err(AggregateError::BadParameters(m));
        if !(2..=MAX_PARTIES).contains(&parties) {
            return bad(format!(
                "a statistics job takes 2 to {MAX_PARTIES} parties, not {parties}"
            ));
        }
        if self.receivers.is_empty() {
            return bad("the job names no result receiver".into());
        }
        for (i, &r) in self.receivers.iter().enumerate() {
            if r >= parties {
                return bad(format!("receiver {r} is not one of the {parties} parties"));
            }
            if self.receivers[..i].contains(&r) {
                return bad(format!("receiver {r} is listed twice"));
            }
        }
        let cells = self
            .statistic
            .per_column()
            .checked_mul(self.columns.len())
            .and_then(|w| w.checked_add(1))
            .and_then(|w| w.checked_mul(self.groups()))
            .filter(|&c| c <= MAX_CELLS);
        if cells.is_none() {
            return bad(format!(
                "{} groups of {} columns with {} elements each exceed {MAX_CELLS} cells",
                self.groups(),
                self.columns.len(),
                self.statistic.per_column()
            ));
        }
        if self.statistic != Statistic::Count && self.columns.is_empty() {
            return bad("the statistic needs at least one column".into());
        }
        if let Some(c) = &self.categories {
            if c.is_empty() {
                return bad("grouping needs at least one category".into());
            }
            let mut seen = std::collections::HashSet::with_capacity(c.len());
            if let Some(name) = c.iter().find(|name| !seen.insert(name.as_str())) {
                return bad(format!("category {name:?} is listed twice"));
            }
        }
        if self.min_group_size < MIN_GROUP_SIZE_FLOOR {
            return bad(format!(
                "a minimum group size of {} would release single rows: use at least {MIN_GROUP_SIZE_FLOOR}",
                self.min_group_size
            ));
        }
        if self.frac_bits > MAX_FRAC_BITS {
            return bad(format!(
                "{} fractional bits leave too little room for sums of squares (use at most {MAX_FRAC_BITS})",
                self.frac_bits
            ));
        }
        // An encoded value fits 63 bits, so its square fits the ring.
        let limit = 2f64.powi(63 - self.frac_bits as i32);
        if !(self.max_abs.is_finite() && self.max_abs > 0.0 && self.max_abs < limit) {
            return bad(format!(
                "the value bound {} must be positive and below 2^(63 − {}) = {limit}",
                self.max_abs, self.frac_bits
            ));
        }
        if let Statistic::Histogram { edges } = &self.statistic {
            if edges.len() < 2 {
                return bad("a histogram needs at least two bin edges".into());
            }
            if edges.iter().any(|e| !e.is_finite()) || edges.windows(2).any(|w| w[0] >= w[1]) {
                return bad("histogram bin edges must be finite and strictly increasing".into());
            }
        }
        Ok(())
    }
}

/// One party's rows: a group index per row and one value vector per job
/// column, all of the same length.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LocalData {
    /// The group (index into the job's categories; 0 without grouping) of
    /// each row.
    pub groups: Vec<usize>,
    /// One vector per job column.
    pub columns: Vec<Vec<f64>>,
}

impl LocalData {
    /// Rows without grouping.
    pub fn ungrouped(columns: Vec<Vec<f64>>) -> Self {
        let rows = columns.first().map_or(0, Vec::len);
        Self {
            groups: vec![0; rows],
            columns,
        }
    }

    /// The number of rows.
    pub fn rows(&self) -> usize {
        self.groups.len()
    }
}
