//! CSV datasets: a header row names the columns; cells are parsed to the
//! declared types. Rows are numbered by their line in the file.

use super::{Cell, CellType, Dataset};
use crate::error::NodeError;
use std::path::Path;

fn open(ds: &Dataset, path: &Path) -> Result<csv::Reader<std::fs::File>, NodeError> {
    csv::ReaderBuilder::new()
        .has_headers(true)
        .from_path(path)
        .map_err(|e| ds.error(None, None, format!("{}: {e}", path.display())))
}

/// The column names in the header row.
pub(super) fn header(ds: &Dataset, path: &Path) -> Result<Vec<String>, NodeError> {
    let mut reader = open(ds, path)?;
    let header = reader
        .headers()
        .map_err(|e| ds.error(Some(1), None, format!("{}: {e}", path.display())))?;
    Ok(header.iter().map(|h| h.trim().to_string()).collect())
}

pub(super) fn read(
    ds: &Dataset,
    path: &Path,
    wanted: &[(&str, CellType)],
    max_rows: Option<u64>,
) -> Result<Vec<Vec<Cell>>, NodeError> {
    let found = header(ds, path)?;
    let mut index = Vec::with_capacity(wanted.len());
    for (name, _) in wanted {
        let i = found
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| ds.error(Some(1), Some(name), "no such column in the header"))?;
        index.push(i);
    }
    let mut reader = open(ds, path)?;
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map(|p| p.line());
            ds.error(line, None, e.to_string())
        })?;
        let line = record.position().map(|p| p.line());
        if max_rows.is_some_and(|limit| rows.len() as u64 >= limit) {
            return Err(ds.too_many_rows(max_rows.unwrap_or(0)));
        }
        let mut row = Vec::with_capacity(wanted.len());
        for (&i, &(name, kind)) in index.iter().zip(wanted) {
            let text = record
                .get(i)
                .ok_or_else(|| ds.error(line, Some(name), "the row is too short"))?
                .trim();
            row.push(parse(text, kind, |why| ds.error(line, Some(name), why))?);
        }
        rows.push(row);
    }
    Ok(rows)
}

/// A CSV cell as the declared type; `bad` places what is wrong with it.
fn parse(
    text: &str,
    kind: CellType,
    bad: impl FnOnce(String) -> NodeError,
) -> Result<Cell, NodeError> {
    match kind {
        CellType::Text => Ok(Cell::Text(text.to_string())),
        CellType::Integer => text
            .parse()
            .map(Cell::Int)
            .map_err(|_| bad(format!("{text:?} is not an integer"))),
        CellType::Float => match text.parse::<f64>() {
            Ok(x) if x.is_finite() => Ok(Cell::Float(x)),
            _ => Err(bad(format!("{text:?} is not a finite number"))),
        },
    }
}
