//! One party's raw columns as data: a numeric column may have missing
//! values (empty cells), and a text column is categorical. Binning
//! ([`super`]) reads these; nothing here talks to a peer.

/// The code of a missing value in a categorical column.
pub const MISSING_CODE: u32 = u32::MAX;

/// One feature column.
#[derive(Debug, Clone, PartialEq)]
pub enum Column {
    /// Finite numbers; `NaN` marks a missing value (an empty cell).
    Numeric(Vec<f64>),
    /// Text values, dictionary-encoded: `codes[i]` indexes `levels`, or
    /// is [`MISSING_CODE`] for a missing value.
    Categorical {
        /// The distinct values, in order of first appearance.
        levels: Vec<String>,
        /// One code per row.
        codes: Vec<u32>,
    },
}

impl Column {
    /// Number of rows.
    pub fn len(&self) -> usize {
        match self {
            Column::Numeric(v) => v.len(),
            Column::Categorical { codes, .. } => codes.len(),
        }
    }

    /// Whether the column has no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A categorical column from text cells (`None` = missing).
    pub fn categorical<S: AsRef<str>>(cells: &[Option<S>]) -> Column {
        let mut builder = CategoricalBuilder::default();
        for cell in cells {
            builder.push(cell.as_ref().map(|s| s.as_ref()));
        }
        builder.finish()
    }

    /// The rows at `rows`, in that order.
    pub fn select(&self, rows: &[usize]) -> Column {
        match self {
            Column::Numeric(v) => Column::Numeric(rows.iter().map(|&r| v[r]).collect()),
            Column::Categorical { levels, codes } => Column::Categorical {
                levels: levels.clone(),
                codes: rows.iter().map(|&r| codes[r]).collect(),
            },
        }
    }
}

/// Builds a dictionary-encoded categorical column cell by cell.
#[derive(Debug, Default)]
pub(crate) struct CategoricalBuilder {
    levels: Vec<String>,
    lookup: std::collections::HashMap<String, u32>,
    codes: Vec<u32>,
}

impl CategoricalBuilder {
    /// Appends one cell (`None` = missing).
    pub(crate) fn push(&mut self, cell: Option<&str>) {
        let code = match cell {
            None => MISSING_CODE,
            Some(text) => match self.lookup.get(text) {
                Some(&c) => c,
                None => {
                    let c = self.levels.len() as u32;
                    self.levels.push(text.to_string());
                    self.lookup.insert(text.to_string(), c);
                    c
                }
            },
        };
        self.codes.push(code);
    }

    /// Distinct values so far.
    pub(crate) fn levels(&self) -> usize {
        self.levels.len()
    }

    pub(crate) fn finish(self) -> Column {
        Column::Categorical {
            levels: self.levels,
            codes: self.codes,
        }
    }
}

/// A party's rows with raw columns (missing values and text kept as data).
#[derive(Debug, Clone, PartialEq)]
pub struct RawTable {
    /// Where the rows came from (for error messages).
    pub source: String,
    /// The id of each row.
    pub ids: Vec<String>,
    /// The physical line of each row in the file.
    pub lines: Vec<u64>,
    /// The feature columns' names, in order.
    pub feature_names: Vec<String>,
    /// The feature columns, in the same order.
    pub columns: Vec<Column>,
    /// The labels, at the label holder.
    pub y: Option<Vec<f64>>,
}

impl RawTable {
    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.ids.len()
    }

    /// The rows at `rows`, in that order.
    pub fn select(&self, rows: &[usize]) -> RawTable {
        RawTable {
            source: self.source.clone(),
            ids: rows.iter().map(|&r| self.ids[r].clone()).collect(),
            lines: rows.iter().map(|&r| self.lines[r]).collect(),
            feature_names: self.feature_names.clone(),
            columns: self.columns.iter().map(|c| c.select(rows)).collect(),
            y: self
                .y
                .as_ref()
                .map(|y| rows.iter().map(|&r| y[r]).collect()),
        }
    }
}
