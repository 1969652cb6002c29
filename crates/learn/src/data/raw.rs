//! Reading a party's CSV file into a [`RawTable`] (feature `files`) for
//! binning: an empty cell is a missing value, and a text column is
//! categorical — both are data here, not errors.
//!
//! Which columns are categorical: those the caller lists, and every
//! column whose first non-empty cell is not a number. A column that starts
//! with numbers and later holds text is refused at that cell (a typo in a
//! numeric column should not silently turn it into categories): list the
//! column as categorical if it really is one. A number that is not finite
//! (`NaN`, `inf`) is refused too: write an empty cell for a missing value.

use super::CsvSpec;
use super::read::{Layout, Rows, number};
use crate::LearnError;
use crate::binning::column::{CategoricalBuilder, Column, RawTable};
use std::io::Read;
use std::path::Path;

/// Reads the CSV file at `path` (see [`read_raw_csv`]).
pub fn load_raw_csv(
    path: &Path,
    spec: &CsvSpec,
    categorical: &[String],
) -> Result<RawTable, LearnError> {
    let file = std::fs::File::open(path).map_err(|source| LearnError::Io {
        path: path.display().to_string(),
        source,
    })?;
    read_raw_csv(
        std::io::BufReader::new(file),
        &path.display().to_string(),
        spec,
        categorical,
    )
}

/// One column while reading: its kind is decided by its first non-empty
/// cell (or by the caller's list).
enum Builder {
    Undecided { missing: usize },
    Numeric(Vec<f64>),
    Categorical(CategoricalBuilder),
}

/// Reads CSV text (with a header row) named `source` in errors; the
/// columns named in `categorical` are read as text whatever they hold.
///
/// Refused, naming the line and column: a number that is not finite, text
/// in a column that started with numbers, an empty or repeated id, a
/// missing or non-numeric label (not 0 or 1 for logistic regression).
/// Refused, naming the column: a missing id, label or feature column (or
/// a listed categorical column that is not a feature).
pub fn read_raw_csv<R: Read>(
    reader: R,
    source: &str,
    spec: &CsvSpec,
    categorical: &[String],
) -> Result<RawTable, LearnError> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(reader);
    let layout = Layout::read(&mut rdr, source, spec)?;
    if let Some(c) = categorical
        .iter()
        .find(|c| !layout.feature_names.contains(c))
    {
        return Err(layout.data_err(format!(
            "{c:?} is listed as categorical but is not one of the feature columns"
        )));
    }
    let mut builders: Vec<Builder> = layout
        .feature_names
        .iter()
        .map(|name| {
            if categorical.contains(name) {
                Builder::Categorical(CategoricalBuilder::default())
            } else {
                Builder::Undecided { missing: 0 }
            }
        })
        .collect();
    let mut rows = Rows::new(&layout, spec.task);
    for record in rdr.records() {
        let record = record.map_err(|e| layout.data_err(format!("malformed CSV: {e}")))?;
        let line = rows.push(&record)?;
        for (builder, &c) in builders.iter_mut().zip(&layout.feature_cols) {
            let text = record.get(c).unwrap_or("").trim();
            let err = |r: String| layout.cell_err(line, c, r);
            push_cell(builder, text, err)?;
        }
    }
    let (ids, lines, y) = rows.finish()?;
    let columns = builders
        .into_iter()
        .map(|b| match b {
            // An all-empty column is numeric with every value missing.
            Builder::Undecided { missing } => Column::Numeric(vec![f64::NAN; missing]),
            Builder::Numeric(v) => Column::Numeric(v),
            Builder::Categorical(c) => c.finish(),
        })
        .collect();
    Ok(RawTable {
        source: source.to_string(),
        ids,
        lines,
        feature_names: layout.feature_names,
        columns,
        y,
    })
}

/// Appends one cell to its column, deciding the column's kind at its
/// first non-empty cell.
fn push_cell(
    builder: &mut Builder,
    text: &str,
    err: impl Fn(String) -> LearnError,
) -> Result<(), LearnError> {
    if let Builder::Undecided { missing } = *builder {
        if text.is_empty() {
            *builder = Builder::Undecided {
                missing: missing + 1,
            };
            return Ok(());
        }
        *builder = if text.parse::<f64>().is_ok() {
            Builder::Numeric(vec![f64::NAN; missing])
        } else {
            let mut c = CategoricalBuilder::default();
            (0..missing).for_each(|_| c.push(None));
            Builder::Categorical(c)
        };
    }
    match builder {
        Builder::Numeric(values) if text.is_empty() => values.push(f64::NAN),
        Builder::Numeric(values) => {
            let v = number(Some(text), |r| {
                err(format!(
                    "{r} in a numeric column (list the column as categorical if it holds categories)"
                ))
            })?;
            values.push(v);
        }
        Builder::Categorical(c) => {
            c.push((!text.is_empty()).then_some(text));
            if c.levels() > MAX_LEVELS_READ {
                return Err(err(format!(
                    "more than {MAX_LEVELS_READ} distinct values in a categorical column"
                )));
            }
        }
        Builder::Undecided { .. } => unreachable!("decided above"),
    }
    Ok(())
}

/// Distinct values a categorical column may hold while reading (binning
/// refuses far fewer by default, `BinParams::max_categories`); bounds the
/// memory an identifier-like text column can take.
const MAX_LEVELS_READ: usize = 1 << 16;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::Task;

    fn spec(label: bool) -> CsvSpec {
        CsvSpec {
            id_column: "id".into(),
            label_column: label.then(|| "y".into()),
            features: None,
            task: Task::Logistic,
        }
    }

    #[test]
    fn empty_cells_are_missing_and_text_is_categorical() {
        let text = "id,y,a,b,c,d\nr1,1,,x,1,\nr2,0,2.5,,2,\nr3,1,3,x,3,\nr4,0,-1,y,4,\n";
        let t = read_raw_csv(text.as_bytes(), "bank.csv", &spec(true), &["c".into()]).unwrap();
        assert_eq!(t.feature_names, ["a", "b", "c", "d"]);
        match &t.columns[0] {
            Column::Numeric(v) => {
                assert!(v[0].is_nan());
                assert_eq!(&v[1..], &[2.5, 3.0, -1.0]);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            t.columns[1],
            Column::Categorical {
                levels: vec!["x".into(), "y".into()],
                codes: vec![0, crate::binning::column::MISSING_CODE, 0, 1],
            }
        );
        assert!(matches!(&t.columns[2], Column::Categorical { levels, .. } if levels.len() == 4));
        assert!(matches!(&t.columns[3], Column::Numeric(v) if v.iter().all(|v| v.is_nan())));
        assert_eq!(t.y, Some(vec![1.0, 0.0, 1.0, 0.0]));
    }

    #[test]
    fn bad_cells_name_file_line_and_column() {
        for (text, needle) in [
            (
                "id,y,a\nr1,1,1\nr2,0,abc\n",
                "line 3, column a: \"abc\" is not a number in a numeric column",
            ),
            (
                "id,y,a\nr1,1,inf\n",
                "line 2, column a: \"inf\" is not a finite",
            ),
            ("id,y,a\nr1,,1\n", "line 2, column y: empty cell"),
            (
                "id,y,a\nr1,1,1\nr1,0,2\n",
                "line 3, column id: id \"r1\" repeats",
            ),
        ] {
            let err = read_raw_csv(text.as_bytes(), "bank.csv", &spec(true), &[])
                .unwrap_err()
                .to_string();
            assert!(err.starts_with("bank.csv, "), "{err}");
            assert!(err.contains(needle), "{err} lacks {needle}");
        }
        let err = read_raw_csv(
            "id,a\nr,1\n".as_bytes(),
            "tax.csv",
            &spec(false),
            &["b".into()],
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("tax.csv") && err.contains("\"b\" is listed"),
            "{err}"
        );
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use crate::params::Task;
    use proptest::prelude::*;

    proptest! {
        /// Random bytes are read or refused, never a panic.
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let spec = CsvSpec {
                id_column: "id".into(),
                label_column: None,
                features: None,
                task: Task::Logistic,
            };
            let mut text = b"id,a,b\n".to_vec();
            text.extend(bytes);
            let _ = read_raw_csv(text.as_slice(), "f.csv", &spec, &[]);
        }
    }
}
