//! Reading PSI keys (and, for intersection-sum, a value) from a CSV file.
//!
//! Each key is one or several named columns. Normalisation: every key cell
//! is trimmed of surrounding whitespace and, if asked, case-folded
//! (Unicode lowercase); both parties must normalise the same way, which the
//! PSI job checks through [`KeySpec::describe`]. A key repeated on several
//! rows is an error, or, if asked, only its first row is kept; either way
//! the repeats are counted and reported. Every problem in the file is an
//! error naming the file and the line.

use crate::lines::{line_at, line_of_position};
use crate::psi_job::PsiJobError;
use indomain_psi::Items;
use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// What to do with a key that occurs on more than one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Duplicates {
    /// Refuse the input, naming the first repeated key's lines.
    Error,
    /// Keep the first row of each key, drop the rest.
    KeepFirst,
}

/// Which columns make the key and how they are normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySpec {
    /// The key columns, by header name.
    pub columns: Vec<String>,
    /// Lowercase the key cells after trimming.
    pub case_fold: bool,
    /// How repeated keys are handled.
    pub duplicates: Duplicates,
    /// A column of non-negative integers carried with each key
    /// (intersection-sum).
    pub value_column: Option<String>,
}

impl KeySpec {
    /// The normalisation as both parties must agree on it (the column count
    /// and the rules, not the column names, which may differ).
    pub fn describe(&self) -> String {
        format!(
            "{} key column{}, trimmed{}",
            self.columns.len(),
            if self.columns.len() == 1 { "" } else { "s" },
            if self.case_fold {
                ", case-folded"
            } else {
                ", case kept"
            }
        )
    }

    fn normalise(&self, cell: &str) -> String {
        let cell = cell.trim();
        if self.case_fold {
            cell.to_lowercase()
        } else {
            cell.to_string()
        }
    }
}

/// The distinct keys of a file, with where each came from.
#[derive(Debug)]
pub struct KeyTable {
    /// The file read.
    pub path: PathBuf,
    /// The header row.
    pub headers: Vec<String>,
    /// Positions of the key columns in the header.
    pub key_columns: Vec<usize>,
    /// The distinct normalised keys, in file order.
    pub items: Items,
    /// For each item, its data row (0 = the first row after the header).
    pub rows: Vec<u32>,
    /// For each item, its value (when a value column was asked for).
    pub values: Option<Vec<u64>>,
    /// Data rows read.
    pub rows_read: usize,
    /// Rows dropped because their key repeated an earlier row's.
    pub duplicates_dropped: usize,
}

fn csv_error(path: &Path, line: Option<u64>, reason: impl Into<String>) -> PsiJobError {
    PsiJobError::Csv {
        path: path.to_path_buf(),
        line,
        reason: reason.into(),
    }
}

/// Opens `path` as a CSV reader with a header row and a fixed field count.
pub(crate) fn open(path: &Path) -> Result<csv::Reader<std::fs::File>, PsiJobError> {
    csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_path(path)
        .map_err(|e| csv_error(path, line_of_position(path, e.position()), e.to_string()))
}

/// The physical line of a record of the file at `path`, for messages.
pub(crate) fn line_of(path: &Path, record: &csv::StringRecord) -> Option<u64> {
    line_of_position(path, record.position())
}

/// The normalised key of `record`, encoded as the PSI sees it.
pub(crate) fn key_of(
    spec: &KeySpec,
    key_columns: &[usize],
    record: &csv::StringRecord,
    path: &Path,
) -> Result<Items, PsiJobError> {
    let mut cells = Vec::with_capacity(key_columns.len());
    for (&c, name) in key_columns.iter().zip(&spec.columns) {
        let cell = spec.normalise(record.get(c).unwrap_or_default());
        if cell.is_empty() {
            return Err(csv_error(
                path,
                line_of(path, record),
                format!("empty key column {name:?}"),
            ));
        }
        cells.push(cell);
    }
    let mut one = Items::new();
    one.push_columns(&cells);
    Ok(one)
}

/// Where the columns a job needs are in a file: its header row and the
/// positions of the key columns (and of the value column, if asked for).
#[derive(Debug, Clone)]
pub struct Layout {
    /// The file.
    pub path: PathBuf,
    /// The header row.
    pub headers: Vec<String>,
    /// Positions of the key columns in the header.
    pub key_columns: Vec<usize>,
    /// Position of the value column, if the spec names one.
    pub value_column: Option<usize>,
}

/// Opens `path` and finds the columns `spec` names in its header row,
/// returning the reader positioned at the first data row.
pub fn read_layout(
    path: &Path,
    spec: &KeySpec,
) -> Result<(Layout, csv::Reader<std::fs::File>), PsiJobError> {
    if spec.columns.is_empty() {
        return Err(csv_error(path, None, "no key column given"));
    }
    let mut reader = open(path)?;
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| csv_error(path, line_of_position(path, e.position()), e.to_string()))?
        .iter()
        .map(str::to_string)
        .collect();
    let find = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim() == name)
            .ok_or_else(|| {
                csv_error(
                    path,
                    Some(1),
                    format!(
                        "no column {name:?} in the header (columns: {})",
                        headers.join(", ")
                    ),
                )
            })
    };
    let key_columns = spec
        .columns
        .iter()
        .map(|c| find(c))
        .collect::<Result<Vec<_>, _>>()?;
    let value_column = spec.value_column.as_deref().map(find).transpose()?;
    let layout = Layout {
        path: path.to_path_buf(),
        headers,
        key_columns,
        value_column,
    };
    Ok((layout, reader))
}

/// The next record of `reader` into `record`; `false` at the end.
pub(crate) fn next_record(
    reader: &mut csv::Reader<std::fs::File>,
    record: &mut csv::StringRecord,
    path: &Path,
) -> Result<bool, PsiJobError> {
    reader
        .read_record(record)
        .map_err(|e| csv_error(path, line_of_position(path, e.position()), e.to_string()))
}

/// Encodes the normalised key of `record` into `out` (cleared first), as
/// [`Items::push_columns`] does.
pub(crate) fn encode_key(
    spec: &KeySpec,
    key_columns: &[usize],
    record: &csv::StringRecord,
    path: &Path,
    out: &mut Vec<u8>,
) -> Result<(), PsiJobError> {
    out.clear();
    for (&c, name) in key_columns.iter().zip(&spec.columns) {
        let cell = record.get(c).unwrap_or_default().trim();
        let folded;
        let cell = if spec.case_fold {
            folded = cell.to_lowercase();
            folded.as_str()
        } else {
            cell
        };
        if cell.is_empty() {
            return Err(csv_error(
                path,
                line_of(path, record),
                format!("empty key column {name:?}"),
            ));
        }
        // One column is its bytes, several are each length-prefixed: the
        // PSI hello (version 3) says every party encodes keys so.
        if key_columns.len() > 1 {
            out.extend_from_slice(&(cell.len() as u64).to_le_bytes());
        }
        out.extend_from_slice(cell.as_bytes());
    }
    Ok(())
}

/// Reads the keys of `path` according to `spec`.
pub fn read_keys(path: &Path, spec: &KeySpec) -> Result<KeyTable, PsiJobError> {
    let (layout, mut reader) = read_layout(path, spec)?;
    let Layout {
        headers,
        key_columns,
        value_column,
        ..
    } = layout;

    let mut items = Items::new();
    // Byte offsets of the rows, turned into lines only for a message.
    let mut offsets: Vec<u64> = Vec::new();
    let mut values = value_column.map(|_| Vec::new());
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                return Err(csv_error(
                    path,
                    line_of_position(path, e.position()),
                    e.to_string(),
                ));
            }
        }
        let key = key_of(spec, &key_columns, &record, path)?;
        items.push_raw(key.get(0).unwrap_or_default());
        offsets.push(record.position().map_or(0, |p| p.byte()));
        if let (Some(col), Some(values)) = (value_column, values.as_mut()) {
            let cell = record.get(col).unwrap_or_default().trim();
            let v = cell.parse::<u64>().map_err(|_| {
                csv_error(
                    path,
                    line_of(path, &record),
                    format!("value {cell:?} is not a non-negative integer"),
                )
            })?;
            values.push(v);
        }
    }
    let rows_read = items.len();
    if rows_read > u32::MAX as usize {
        return Err(csv_error(path, None, "more than 2^32 − 1 rows"));
    }

    // Repeated keys: sort row indices by key; in each run of equal keys all
    // but the first row are repeats.
    let mut order: Vec<u32> = (0..rows_read as u32).collect();
    order.par_sort_unstable_by(|&a, &b| {
        items
            .get(a as usize)
            .cmp(&items.get(b as usize))
            .then(a.cmp(&b))
    });
    let mut repeat = vec![false; rows_read];
    let mut first_repeat: Option<(u32, u32)> = None;
    let mut run_start = 0usize;
    for i in 1..order.len() {
        if items.get(order[i] as usize) == items.get(order[run_start] as usize) {
            repeat[order[i] as usize] = true;
            let pair = (order[run_start], order[i]);
            if first_repeat.is_none_or(|f| pair.1 < f.1) {
                first_repeat = Some(pair);
            }
        } else {
            run_start = i;
        }
    }
    drop(order);
    let duplicates_dropped = repeat.iter().filter(|&&r| r).count();
    if let (Duplicates::Error, Some((first, again))) = (spec.duplicates, first_repeat) {
        return Err(repeat_error(
            path,
            offsets[again as usize],
            offsets[first as usize],
            duplicates_dropped as u64,
        ));
    }
    let mut kept = Items::new();
    let mut rows = Vec::with_capacity(rows_read - duplicates_dropped);
    for (i, key) in items.iter().enumerate() {
        if !repeat[i] {
            kept.push_raw(key);
            rows.push(i as u32);
        }
    }
    let values = values.map(|v| rows.iter().map(|&r| v[r as usize]).collect());
    Ok(KeyTable {
        path: path.to_path_buf(),
        headers,
        key_columns,
        items: kept,
        rows,
        values,
        rows_read,
        duplicates_dropped,
    })
}

/// The error for a key repeated at byte offset `again` of `path`, first
/// seen at offset `first`, with `repeats` repeated rows in the file.
pub(crate) fn repeat_error(path: &Path, again: u64, first: u64, repeats: u64) -> PsiJobError {
    csv_error(
        path,
        line_at(path, again),
        format!(
            "key repeats the key of line {} ({repeats} repeated rows in the file; --duplicates first keeps each key's first row)",
            line_at(path, first).unwrap_or_default(),
        ),
    )
}

/// The `columns` key columns of an encoded key (the inverse of
/// `Items::push_columns`: one column is the key's bytes).
pub fn decode_columns(key: &[u8], columns: usize) -> Vec<String> {
    if columns == 1 {
        return vec![String::from_utf8_lossy(key).into_owned()];
    }
    let mut out = Vec::new();
    let mut rest = key;
    while rest.len() >= 8 {
        let (len, tail) = rest.split_at(8);
        let mut l = [0u8; 8];
        l.copy_from_slice(len);
        let len = (u64::from_le_bytes(l) as usize).min(tail.len());
        let (cell, tail) = tail.split_at(len);
        out.push(String::from_utf8_lossy(cell).into_owned());
        rest = tail;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f
    }

    fn spec(columns: &[&str], case_fold: bool, duplicates: Duplicates) -> KeySpec {
        KeySpec {
            columns: columns.iter().map(|c| c.to_string()).collect(),
            case_fold,
            duplicates,
            value_column: None,
        }
    }

    #[test]
    fn keys_are_trimmed_folded_and_multi_column() {
        let f = file("id,name,x\n A1 , Bob ,1\na1,bob,2\n");
        let t = read_keys(
            f.path(),
            &spec(&["id", "name"], true, Duplicates::KeepFirst),
        )
        .unwrap();
        assert_eq!(
            (t.rows_read, t.duplicates_dropped, t.items.len()),
            (2, 1, 1)
        );
        assert_eq!(decode_columns(t.items.get(0).unwrap(), 2), ["a1", "bob"]);
        let t = read_keys(f.path(), &spec(&["id", "name"], false, Duplicates::Error)).unwrap();
        assert_eq!(decode_columns(t.items.get(1).unwrap(), 2), ["a1", "bob"]);
        assert_eq!(decode_columns(t.items.get(0).unwrap(), 2), ["A1", "Bob"]);
        // One column: the key is the cell's bytes, as `Items::from_raw` has it.
        let t = read_keys(f.path(), &spec(&["name"], true, Duplicates::KeepFirst)).unwrap();
        assert_eq!(t.items, indomain_psi::Items::from_raw(["bob"]));
        assert_eq!(decode_columns(t.items.get(0).unwrap(), 1), ["bob"]);
    }

    #[test]
    fn duplicates_are_refused_with_both_lines_or_dropped() {
        let f = file("id\na\nb\na\nb\nb\n");
        let e = read_keys(f.path(), &spec(&["id"], false, Duplicates::Error))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(":4:") && e.contains("line 2") && e.contains("3 repeated"),
            "{e}"
        );
        let t = read_keys(f.path(), &spec(&["id"], false, Duplicates::KeepFirst)).unwrap();
        assert_eq!(t.rows, [0, 1]);
        assert_eq!(t.duplicates_dropped, 3);
    }

    #[test]
    fn malformed_rows_name_the_file_and_line() {
        let f = file("id,v\na,1\nb\n");
        let e = read_keys(f.path(), &spec(&["id"], false, Duplicates::Error))
            .unwrap_err()
            .to_string();
        assert!(e.contains(&format!("{}:3", f.path().display())), "{e}");
        let f = file("id,v\na,1\nb,-2\n");
        let mut s = spec(&["id"], false, Duplicates::Error);
        s.value_column = Some("v".into());
        let e = read_keys(f.path(), &s).unwrap_err().to_string();
        assert!(e.contains(":3:") && e.contains("\"-2\""), "{e}");
        let e = read_keys(f.path(), &spec(&["nope"], false, Duplicates::Error))
            .unwrap_err()
            .to_string();
        assert!(e.contains("no column \"nope\""), "{e}");
        let f = file("id,v\n ,1\n");
        let e = read_keys(f.path(), &spec(&["id"], false, Duplicates::Error))
            .unwrap_err()
            .to_string();
        assert!(e.contains(":2:") && e.contains("empty key"), "{e}");
    }

    #[test]
    fn empty_input_has_no_keys() {
        let f = file("id\n");
        let t = read_keys(f.path(), &spec(&["id"], false, Duplicates::Error)).unwrap();
        assert!(t.items.is_empty());
    }

    #[test]
    fn crlf_files_name_physical_lines() {
        let f = file("id,v\r\na,x\r\n");
        let mut s = spec(&["id"], false, Duplicates::Error);
        s.value_column = Some("v".into());
        let e = read_keys(f.path(), &s).unwrap_err().to_string();
        assert!(e.contains(":2:") && e.contains("\"x\""), "{e}");
        let f = file("id\r\na\r\nb\r\na\r\n");
        let e = read_keys(f.path(), &spec(&["id"], false, Duplicates::Error))
            .unwrap_err()
            .to_string();
        assert!(e.contains(":4:") && e.contains("line 2"), "{e}");
    }
}
