//! Reading a party's CSV file into a [`Table`] (feature `files`), with
//! every check done before any training: each refused cell is named by
//! file, line and column.

use super::{CsvSpec, Table};
use crate::LearnError;
use crate::params::Task;
use ndarray::Array2;
use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

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
    let layout = Layout::read(&mut rdr, source, spec)?;
    let mut rows = Rows::new(&layout, spec.task);
    let mut values = Vec::new();
    for record in rdr.records() {
        let record = record.map_err(|e| layout.data_err(format!("malformed CSV: {e}")))?;
        let line = rows.push(&record)?;
        for &c in &layout.feature_cols {
            values.push(number(record.get(c), |r| layout.cell_err(line, c, r))?);
        }
    }
    let (ids, lines, labels) = rows.finish()?;
    let x = Array2::from_shape_vec((ids.len(), layout.feature_cols.len()), values)
        .map_err(|e| layout.data_err(e.to_string()))?;
    Ok(Table {
        source: source.to_string(),
        ids,
        lines,
        feature_names: layout.feature_names,
        x,
        y: labels,
    })
}

/// A file's header resolved against a [`CsvSpec`]: where the id, the
/// label and every feature are. Shared by [`read_csv`] and the raw reader
/// of binning (`super::raw`).
pub(super) struct Layout {
    pub(super) source: String,
    pub(super) header: Vec<String>,
    pub(super) id_col: usize,
    pub(super) label_col: Option<usize>,
    pub(super) feature_names: Vec<String>,
    pub(super) feature_cols: Vec<usize>,
}

impl Layout {
    /// Reads the header row. Refused, naming the column: a missing id,
    /// label or feature column; a feature that is also the id or label; a
    /// feature listed twice.
    pub(super) fn read<R: Read>(
        rdr: &mut csv::Reader<R>,
        source: &str,
        spec: &CsvSpec,
    ) -> Result<Self, LearnError> {
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
        Ok(Self {
            source: source.to_string(),
            header,
            id_col,
            label_col,
            feature_names,
            feature_cols,
        })
    }

    /// An error about the file as a whole.
    pub(super) fn data_err(&self, m: String) -> LearnError {
        LearnError::Data(format!("{}: {m}", self.source))
    }

    /// An error about one cell.
    pub(super) fn cell_err(&self, line: u64, c: usize, reason: String) -> LearnError {
        LearnError::Cell {
            file: self.source.clone(),
            line,
            column: self.header[c].clone(),
            reason,
        }
    }
}

/// The ids, lines and labels of the rows read so far, checked as they
/// come: an empty or repeated id, a label that is not a number (or not 0
/// or 1 for logistic regression).
pub(super) struct Rows<'a> {
    layout: &'a Layout,
    task: Task,
    ids: Vec<String>,
    lines: Vec<u64>,
    labels: Option<Vec<f64>>,
    first_line: HashMap<String, u64>,
}

impl<'a> Rows<'a> {
    pub(super) fn new(layout: &'a Layout, task: Task) -> Self {
        Self {
            layout,
            task,
            ids: Vec::new(),
            lines: Vec::new(),
            labels: layout.label_col.map(|_| Vec::new()),
            first_line: HashMap::new(),
        }
    }

    /// Checks and keeps a record's id and label; returns its line.
    pub(super) fn push(&mut self, record: &csv::StringRecord) -> Result<u64, LearnError> {
        let line = record.position().map_or(0, |p| p.line());
        let layout = self.layout;
        let id_col = layout.id_col;
        let id = record.get(id_col).unwrap_or("").trim();
        if id.is_empty() {
            return Err(layout.cell_err(line, id_col, "empty id".into()));
        }
        if let Some(prev) = self.first_line.insert(id.to_string(), line) {
            return Err(layout.cell_err(
                line,
                id_col,
                format!("id {id:?} repeats the row at line {prev}"),
            ));
        }
        if let (Some(c), Some(labels)) = (layout.label_col, self.labels.as_mut()) {
            let v = number(record.get(c), |r| layout.cell_err(line, c, r))?;
            if self.task == Task::Logistic && v != 0.0 && v != 1.0 {
                return Err(layout.cell_err(
                    line,
                    c,
                    format!("label {v} is not 0 or 1 (logistic regression)"),
                ));
            }
            labels.push(v);
        }
        self.ids.push(id.to_string());
        self.lines.push(line);
        Ok(line)
    }

    /// The ids, lines and labels; refuses a file without data rows.
    #[allow(clippy::type_complexity)]
    pub(super) fn finish(self) -> Result<(Vec<String>, Vec<u64>, Option<Vec<f64>>), LearnError> {
        if self.ids.is_empty() {
            return Err(self.layout.data_err("no data rows".into()));
        }
        Ok((self.ids, self.lines, self.labels))
    }
}

/// Parses one cell as a finite number.
pub(super) fn number(
    cell: Option<&str>,
    err: impl Fn(String) -> LearnError,
) -> Result<f64, LearnError> {
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
}
