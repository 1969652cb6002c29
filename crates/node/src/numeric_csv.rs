//! Reading numeric columns, and optionally a category column, from a CSV
//! file for a statistics job.
//!
//! The file has a header row; columns are found by header name. Cells are
//! trimmed. Every problem — a missing column, an empty or non-numeric cell,
//! a value outside the job's range, a category the job does not list, a
//! row with the wrong number of fields — is an error naming the file, the
//! line and the column.

use crate::lines::line_of_position;
use indomain_aggregate::stats::LocalData;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// What to read.
#[derive(Debug, Clone, PartialEq)]
pub struct NumericSpec {
    /// The numeric columns, by header name.
    pub columns: Vec<String>,
    /// The group-by column and its agreed categories.
    pub group_by: Option<(String, Vec<String>)>,
    /// The bound on |x| every value must respect.
    pub max_abs: f64,
}

/// A problem with the input file.
#[derive(Debug, Error)]
pub enum NumericCsvError {
    /// The file cannot be opened or read.
    #[error("{}: {reason}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
    /// A column the job needs is not in the header.
    #[error("{}:{line}: no column {column:?} in the header (it has: {header})", path.display())]
    MissingColumn {
        /// The file.
        path: PathBuf,
        /// The header's line.
        line: u64,
        /// The missing column.
        column: String,
        /// The header's columns.
        header: String,
    },
    /// A row is not well-formed CSV (e.g. the wrong number of fields).
    #[error("{}:{line}: {reason}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// The line of the row.
        line: u64,
        /// What the CSV reader said.
        reason: String,
    },
    /// A cell cannot be used.
    #[error("{}:{line}:{field}: column {column:?}: {reason}", path.display())]
    Cell {
        /// The file.
        path: PathBuf,
        /// The line of the row.
        line: u64,
        /// The 1-based field number.
        field: usize,
        /// The column's header name.
        column: String,
        /// What is wrong.
        reason: String,
    },
}

/// Reads the columns (and groups) `spec` names from the CSV file at `path`.
pub fn read_numeric(path: &Path, spec: &NumericSpec) -> Result<LocalData, NumericCsvError> {
    let read_err = |reason: String| NumericCsvError::Read {
        path: path.to_path_buf(),
        reason,
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(|e| read_err(e.to_string()))?;
    let header = reader
        .headers()
        .map_err(|e| read_err(e.to_string()))?
        .clone();
    let header_line = line_of_position(path, header.position()).unwrap_or(1);
    let find = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| NumericCsvError::MissingColumn {
                path: path.to_path_buf(),
                line: header_line,
                column: name.to_string(),
                header: header.iter().collect::<Vec<_>>().join(", "),
            })
    };
    let value_fields = spec
        .columns
        .iter()
        .map(|c| find(c))
        .collect::<Result<Vec<_>, _>>()?;
    let group_field = match &spec.group_by {
        Some((column, categories)) => Some((find(column)?, column, categories)),
        None => None,
    };
    let mut data = LocalData {
        groups: Vec::new(),
        columns: vec![Vec::new(); spec.columns.len()],
    };
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                let line = line_of_position(path, e.position()).unwrap_or(0);
                return Err(NumericCsvError::Malformed {
                    path: path.to_path_buf(),
                    line,
                    reason: e.to_string(),
                });
            }
        }
        let position = record.position().cloned();
        let cell_err = |field: usize, column: &str, reason: String| NumericCsvError::Cell {
            path: path.to_path_buf(),
            line: line_of_position(path, position.as_ref()).unwrap_or(0),
            field: field + 1,
            column: column.to_string(),
            reason,
        };
        let group = match &group_field {
            Some((field, column, categories)) => {
                let cell = record.get(*field).unwrap_or("");
                categories.iter().position(|c| c == cell).ok_or_else(|| {
                    cell_err(
                        *field,
                        column,
                        format!(
                            "category {cell:?} is not one of the job's categories ({})",
                            categories.join(", ")
                        ),
                    )
                })?
            }
            None => 0,
        };
        for ((&field, name), out) in value_fields
            .iter()
            .zip(&spec.columns)
            .zip(&mut data.columns)
        {
            let cell = record.get(field).unwrap_or("");
            out.push(parse_value(cell, spec.max_abs, |reason| {
                cell_err(field, name, reason)
            })?);
        }
        data.groups.push(group);
    }
    Ok(data)
}

/// A cell as a number within the job's range; `bad` places what is wrong
/// with it.
fn parse_value<E>(cell: &str, max_abs: f64, bad: impl FnOnce(String) -> E) -> Result<f64, E> {
    if cell.is_empty() {
        return Err(bad("empty cell, expected a number".into()));
    }
    let x: f64 = match cell.parse() {
        Ok(x) => x,
        Err(_) => return Err(bad(format!("{cell:?} is not a number"))),
    };
    if !x.is_finite() {
        return Err(bad(format!("{cell:?} is not a finite number")));
    }
    if x.abs() > max_abs {
        return Err(bad(format!(
            "value {x} is outside the job's fixed-point range (|x| ≤ {max_abs})"
        )));
    }
    Ok(x)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file(contents: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(contents.as_bytes()).unwrap();
        f
    }

    fn spec(grouped: bool) -> NumericSpec {
        NumericSpec {
            columns: vec!["income".into(), "age".into()],
            group_by: grouped.then(|| ("region".into(), vec!["north".into(), "south".into()])),
            max_abs: 1000.0,
        }
    }

    #[test]
    fn reads_columns_and_groups() {
        let f = file("id,region,age,income\n1,north,30,12.5\n2, south ,40,-3\n");
        let d = read_numeric(f.path(), &spec(true)).unwrap();
        assert_eq!(d.groups, vec![0, 1]);
        assert_eq!(d.columns, vec![vec![12.5, -3.0], vec![30.0, 40.0]]);
    }

    #[test]
    fn every_problem_names_file_line_and_column() {
        let cases = [
            (
                "region,age,income\nnorth,30,abc\n",
                ":2:3: column \"income\"",
                "not a number",
            ),
            (
                "region,age,income\nnorth,30,1\nnorth,,2\n",
                ":3:2: column \"age\"",
                "empty",
            ),
            (
                "region,age,income\nnorth,30,1e9\n",
                ":2:3: column \"income\"",
                "range",
            ),
            (
                "region,age,income\neast,30,1\n",
                ":2:1: column \"region\"",
                "east",
            ),
            (
                "region,age\nnorth,30\n",
                ":1: no column \"income\"",
                "region, age",
            ),
            ("region,age,income\nnorth,30\n", ":2", "fields"),
        ];
        for (contents, place, what) in cases {
            let f = file(contents);
            let err = read_numeric(f.path(), &spec(true)).unwrap_err().to_string();
            let expected = format!("{}{place}", f.path().display());
            assert!(
                err.starts_with(&expected),
                "{err} does not start with {expected}"
            );
            assert!(err.contains(what), "{err} does not mention {what}");
        }
    }

    #[test]
    fn errors_name_the_physical_line_whatever_the_line_endings() {
        for eol in ["\n", "\r\n", "\r"] {
            for (bad_row, line) in [(0usize, 2u64), (2, 4)] {
                let mut text = format!("region,age,income{eol}");
                for i in 0..4 {
                    let income = if i == bad_row { "abc" } else { "1" };
                    text.push_str(&format!("north,30,{income}{eol}"));
                }
                let mut f = tempfile::NamedTempFile::new().unwrap();
                f.write_all(text.as_bytes()).unwrap();
                let spec = NumericSpec {
                    columns: vec!["income".into()],
                    group_by: None,
                    max_abs: 10.0,
                };
                let err = read_numeric(f.path(), &spec).unwrap_err().to_string();
                let place = format!("{}:{line}:3:", f.path().display());
                assert!(err.starts_with(&place), "{eol:?}: {err} is not at {place}");
            }
        }
    }
}
