//! One party's training data: reading its CSV file with every check done
//! before any training, local standardisation, and the train/test split
//! every party computes identically from the aligned row order.
//!
//! Nothing here talks to a peer: a party learns only its own file. The
//! split depends only on the number of aligned rows and the job's seed, so
//! every party derives the same split without a message.

use crate::LearnError;
use crate::params::Task;
use indomain_core::prg::{Prg, Seed};
use ndarray::{Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

/// Which columns of a party's CSV file to use.
#[derive(Debug, Clone, PartialEq)]
pub struct CsvSpec {
    /// The id column rows are aligned on.
    pub id_column: String,
    /// The label column (the label holder only).
    pub label_column: Option<String>,
    /// The feature columns; `None` takes every other column, in file order.
    pub features: Option<Vec<String>>,
    /// The task, which decides what labels are allowed.
    pub task: Task,
}

/// A party's rows, read and checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Where the rows came from (for error messages).
    pub source: String,
    /// The id of each row.
    pub ids: Vec<String>,
    /// The physical line of each row in the file.
    pub lines: Vec<u64>,
    /// The feature columns, in order.
    pub feature_names: Vec<String>,
    /// Rows × features.
    pub x: Array2<f64>,
    /// The labels, at the label holder.
    pub y: Option<Vec<f64>>,
}

impl Table {
    /// The rows at `rows`, in that order.
    pub fn select(&self, rows: &[usize]) -> Table {
        Table {
            source: self.source.clone(),
            ids: rows.iter().map(|&r| self.ids[r].clone()).collect(),
            lines: rows.iter().map(|&r| self.lines[r]).collect(),
            feature_names: self.feature_names.clone(),
            x: self.x.select(Axis(0), rows),
            y: self
                .y
                .as_ref()
                .map(|y| rows.iter().map(|&r| y[r]).collect()),
        }
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.ids.len()
    }
}

/// Reads and checks the CSV file at `path`.
pub fn load_csv(path: &Path, spec: &CsvSpec) -> Result<Table, LearnError> {
    let file = std::fs::File::open(path).map_err(|source| LearnError::Io {
        path: path.display().to_string(),
        source,
    })?;
    read_csv(
        std::io::BufReader::new(file),
        &path.display().to_string(),
        spec,
    )
}

/// Reads and checks CSV text (with a header row) named `source` in errors.
///
/// Refused, naming the line and column: an empty, non-numeric, NaN or
/// infinite cell; a label other than 0 or 1 for logistic regression; a
/// repeated id. Refused, naming the column: a missing id, label or
/// feature column; a feature that is also the id or label.
pub fn read_csv<R: Read>(reader: R, source: &str, spec: &CsvSpec) -> Result<Table, LearnError> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(reader);
    let data_err = |m: String| LearnError::Data(format!("{source}: {m}"));
    let header: Vec<String> = rdr
        .headers()
        .map_err(|e| data_err(format!("cannot read the header row: {e}")))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    let col = |name: &str| {
        header.iter().position(|h| h == name).ok_or_else(|| {
            data_err(format!(
                "no column {name:?} (the header has {})",
                header.join(", ")
            ))
        })
    };
    let id_col = col(&spec.id_column)?;
    let label_col = spec.label_column.as_deref().map(col).transpose()?;
    let feature_names: Vec<String> = match &spec.features {
        Some(f) => f.clone(),
        None => header
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != id_col && Some(*i) != label_col)
            .map(|(_, h)| h.clone())
            .collect(),
    };
    if feature_names.is_empty() {
        return Err(data_err("no feature columns".into()));
    }
    let feature_cols = feature_names
        .iter()
        .map(|f| {
            let c = col(f)?;
            if c == id_col || Some(c) == label_col {
                return Err(data_err(format!(
                    "column {f:?} is the id or the label, not a feature"
                )));
            }
            Ok(c)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut seen_features = std::collections::HashSet::new();
    if let Some(dup) = feature_names.iter().find(|f| !seen_features.insert(*f)) {
        return Err(data_err(format!("feature {dup:?} is listed twice")));
    }

    let mut ids = Vec::new();
    let mut lines = Vec::new();
    let mut values = Vec::new();
    let mut labels = label_col.map(|_| Vec::new());
    let mut first_line: HashMap<String, u64> = HashMap::new();
    for record in rdr.records() {
        let record = record.map_err(|e| data_err(format!("malformed CSV: {e}")))?;
        let line = record.position().map_or(0, |p| p.line());
        let cell_err = |c: usize, reason: String| LearnError::Cell {
            file: source.to_string(),
            line,
            column: header[c].clone(),
            reason,
        };
        let id = record.get(id_col).unwrap_or("").trim();
        if id.is_empty() {
            return Err(cell_err(id_col, "empty id".into()));
        }
        if let Some(prev) = first_line.insert(id.to_string(), line) {
            return Err(cell_err(
                id_col,
                format!("id {id:?} repeats the row at line {prev}"),
            ));
        }
        for &c in &feature_cols {
            values.push(number(record.get(c), |r| cell_err(c, r))?);
        }
        if let (Some(c), Some(labels)) = (label_col, labels.as_mut()) {
            let v = number(record.get(c), |r| cell_err(c, r))?;
            if spec.task == Task::Logistic && v != 0.0 && v != 1.0 {
                return Err(cell_err(
                    c,
                    format!("label {v} is not 0 or 1 (logistic regression)"),
                ));
            }
            labels.push(v);
        }
        ids.push(id.to_string());
        lines.push(line);
    }
    if ids.is_empty() {
        return Err(data_err("no data rows".into()));
    }
    let x = Array2::from_shape_vec((ids.len(), feature_cols.len()), values)
        .map_err(|e| data_err(e.to_string()))?;
    Ok(Table {
        source: source.to_string(),
        ids,
        lines,
        feature_names,
        x,
        y: labels,
    })
}

/// Parses one cell as a finite number.
fn number(cell: Option<&str>, err: impl Fn(String) -> LearnError) -> Result<f64, LearnError> {
    let text = cell.unwrap_or("").trim();
    if text.is_empty() {
        return Err(err("empty cell".into()));
    }
    let v: f64 = text
        .parse()
        .map_err(|_| err(format!("{text:?} is not a number")))?;
    if !v.is_finite() {
        return Err(err(format!("{text:?} is not a finite number")));
    }
    Ok(v)
}

/// Refuses a feature list that differs from the one the model was trained
/// on (names and order).
pub fn check_features(
    expected: &[String],
    found: &[String],
    source: &str,
) -> Result<(), LearnError> {
    if expected != found {
        return Err(LearnError::Data(format!(
            "{source}: the feature columns [{}] differ from the model's [{}]; give the same columns in the same order",
            found.join(", "),
            expected.join(", ")
        )));
    }
    Ok(())
}

/// Refuses to train on fewer than `min` shared rows.
pub fn check_shared_rows(shared: usize, min: usize, with: &str) -> Result<(), LearnError> {
    if shared < min {
        return Err(LearnError::Data(format!(
            "only {shared} rows are shared with {with}; training needs at least {min}"
        )));
    }
    Ok(())
}

/// Standardised values are clipped to ±CLIP: the secure training encodes
/// features with a bound of ±64 (`vertical::FEATURE_BOUND`), and a value
/// 63 standard deviations out is an outlier whatever its sign.
pub const CLIP: f64 = 63.0;

/// Per-feature mean and standard deviation, fitted on the training rows
/// and kept in the model file so that scoring applies the same transform.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Standardizer {
    /// Mean of each feature.
    pub mean: Vec<f64>,
    /// Population standard deviation of each feature (never 0).
    pub std: Vec<f64>,
    /// Standardised values are clipped to ±clip ([`CLIP`]).
    pub clip: f64,
}

impl Standardizer {
    /// Fits on `x`; a constant column (std 0 or not finite) is refused,
    /// naming it and `source`.
    pub fn fit(x: ArrayView2<f64>, names: &[String], source: &str) -> Result<Self, LearnError> {
        let n = x.nrows() as f64;
        let mut mean = Vec::with_capacity(x.ncols());
        let mut std = Vec::with_capacity(x.ncols());
        for (j, column) in x.axis_iter(Axis(1)).enumerate() {
            let m = column.sum() / n;
            let s = (column.iter().map(|v| (v - m).powi(2)).sum::<f64>() / n).sqrt();
            let scale = m.abs().max(1.0);
            if !(s.is_finite() && s > 1e-12 * scale) {
                return Err(LearnError::Data(format!(
                    "{source}: column {:?} is constant on the training rows; drop it",
                    names.get(j).map_or("?", |s| s.as_str())
                )));
            }
            mean.push(m);
            std.push(s);
        }
        Ok(Self {
            mean,
            std,
            clip: CLIP,
        })
    }

    /// (x − mean) / std, column by column, clipped to ±clip.
    pub fn apply(&self, x: ArrayView2<f64>) -> Array2<f64> {
        let mut out = x.to_owned();
        for (j, mut column) in out.axis_iter_mut(Axis(1)).enumerate() {
            column
                .mapv_inplace(|v| ((v - self.mean[j]) / self.std[j]).clamp(-self.clip, self.clip));
        }
        out
    }
}

/// Row indices of the training and test parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    /// Training rows, in shuffled order.
    pub train: Vec<usize>,
    /// Held-out rows, in shuffled order.
    pub test: Vec<usize>,
}

/// A seeded shuffle of `0..rows` cut into train and test
/// (`round(rows × test_fraction)` test rows). Uses the AES-CTR PRG of
/// indomain-core, so the split is the same at every party and on every
/// platform.
pub fn split(rows: usize, test_fraction: f64, seed: u64) -> Split {
    let order = shuffle(rows, seed, b"split");
    let test = ((rows as f64 * test_fraction).round() as usize).min(rows);
    Split {
        train: order[test..].to_vec(),
        test: order[..test].to_vec(),
    }
}

/// A permutation of `0..n` from the public seed and a domain tag.
pub fn shuffle(n: usize, seed: u64, tag: &[u8]) -> Vec<usize> {
    let mut key = [0u8; 16];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    for (k, t) in key[8..].iter_mut().zip(tag) {
        *k = *t;
    }
    let mut prg = Prg::new(&Seed(key));
    let mut order: Vec<usize> = (0..n).collect();
    let mut draws = vec![0u64; n];
    prg.fill(&mut draws);
    // Fisher–Yates; the modulo bias (n / 2^64) is irrelevant for a split.
    for i in (1..n).rev() {
        let j = (draws[i] % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(label: bool) -> CsvSpec {
        CsvSpec {
            id_column: "id".into(),
            label_column: label.then(|| "y".into()),
            features: None,
            task: Task::Logistic,
        }
    }

    fn read(text: &str, label: bool) -> Result<Table, LearnError> {
        read_csv(text.as_bytes(), "bank.csv", &spec(label))
    }

    #[test]
    fn reads_ids_features_and_labels() {
        let t = read("id,y,a,b\nx1,1,0.5,2\nx2,0,1.5,-3\n", true).unwrap();
        assert_eq!(t.ids, ["x1", "x2"]);
        assert_eq!(t.feature_names, ["a", "b"]);
        assert_eq!(t.x.row(1).to_vec(), [1.5, -3.0]);
        assert_eq!(t.y, Some(vec![1.0, 0.0]));
        assert_eq!(t.lines, [2, 3]);
    }

    #[test]
    fn bad_cells_name_file_line_and_column() {
        for (text, needle) in [
            ("id,y,a\nx1,1,0.5\nx2,2,1\n", "line 3, column y: label 2"),
            (
                "id,y,a\nx1,1,abc\n",
                "line 2, column a: \"abc\" is not a number",
            ),
            ("id,y,a\nx1,1,\n", "line 2, column a: empty cell"),
            (
                "id,y,a\nx1,1,NaN\n",
                "line 2, column a: \"NaN\" is not a finite",
            ),
            (
                "id,y,a\nx1,1,inf\n",
                "line 2, column a: \"inf\" is not a finite",
            ),
            (
                "id,y,a\nx1,1,1\nx1,0,2\n",
                "line 3, column id: id \"x1\" repeats",
            ),
        ] {
            let err = read(text, true).unwrap_err().to_string();
            assert!(err.starts_with("bank.csv, "), "{err}");
            assert!(err.contains(needle), "{err} lacks {needle}");
        }
    }

    #[test]
    fn missing_columns_are_named() {
        let err = read("id,a\nx,1\n", true).unwrap_err().to_string();
        assert!(err.contains("no column \"y\""), "{err}");
    }

    #[test]
    fn constant_column_is_refused_by_name() {
        let t = read("id,a,b\n1,1,5\n2,2,5\n3,3,5\n", false).unwrap();
        let err = Standardizer::fit(t.x.view(), &t.feature_names, "tax.csv")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("tax.csv") && err.contains("\"b\" is constant"),
            "{err}"
        );
    }

    #[test]
    fn standardised_columns_have_zero_mean_unit_std() {
        let t = read("id,a\n1,1\n2,2\n3,6\n", false).unwrap();
        let s = Standardizer::fit(t.x.view(), &t.feature_names, "f").unwrap();
        let z = s.apply(t.x.view());
        let mean = z.column(0).sum() / 3.0;
        let var = z.column(0).iter().map(|v| v * v).sum::<f64>() / 3.0;
        assert!(mean.abs() < 1e-12 && (var - 1.0).abs() < 1e-12);
        let outlier = ndarray::array![[1e9]];
        assert_eq!(s.apply(outlier.view())[[0, 0]], CLIP);
    }

    #[test]
    fn split_is_a_seeded_partition() {
        let a = split(100, 0.25, 9);
        assert_eq!(a, split(100, 0.25, 9));
        assert_ne!(a, split(100, 0.25, 10));
        assert_eq!(a.test.len(), 25);
        let mut all: Vec<usize> = a.train.iter().chain(&a.test).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn feature_lists_must_match() {
        let a = vec!["a".to_string(), "b".to_string()];
        let b = vec!["b".to_string(), "a".to_string()];
        assert!(check_features(&a, &a, "f").is_ok());
        assert!(
            check_features(&a, &b, "new.csv")
                .unwrap_err()
                .to_string()
                .contains("new.csv")
        );
        assert!(
            check_shared_rows(3, 10, "tax-bureau")
                .unwrap_err()
                .to_string()
                .contains("tax-bureau")
        );
    }
}
