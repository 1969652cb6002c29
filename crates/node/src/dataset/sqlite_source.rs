//! SQLite datasets (the embedded default): a table or a query over a
//! database file opened read-only.

use super::{Cell, CellType, Dataset, Select, select_sql};
use crate::error::NodeError;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use std::path::Path;

fn open(ds: &Dataset, path: &Path) -> Result<Connection, NodeError> {
    if !path.is_file() {
        return Err(ds.error(
            None,
            None,
            format!("{}: no such database file", path.display()),
        ));
    }
    Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| ds.error(None, None, format!("{}: {e}", path.display())))
}

/// The column names of the table or query.
pub(super) fn header(ds: &Dataset, path: &Path, select: &Select) -> Result<Vec<String>, NodeError> {
    let conn = open(ds, path)?;
    let stmt = conn
        .prepare(&select_sql(select, &[]))
        .map_err(|e| ds.error(None, None, e.to_string()))?;
    Ok(stmt
        .column_names()
        .into_iter()
        .map(str::to_string)
        .collect())
}

pub(super) fn read(
    ds: &Dataset,
    path: &Path,
    select: &Select,
    wanted: &[(&str, CellType)],
    max_rows: Option<u64>,
) -> Result<Vec<Vec<Cell>>, NodeError> {
    let conn = open(ds, path)?;
    let names: Vec<&str> = wanted.iter().map(|(n, _)| *n).collect();
    let mut stmt = conn
        .prepare(&select_sql(select, &names))
        .map_err(|e| ds.error(None, None, e.to_string()))?;
    let mut cursor = stmt
        .query([])
        .map_err(|e| ds.error(None, None, e.to_string()))?;
    let mut rows = Vec::new();
    loop {
        let number = rows.len() as u64 + 1;
        let Some(r) = cursor
            .next()
            .map_err(|e| ds.error(Some(number), None, e.to_string()))?
        else {
            break;
        };
        if max_rows.is_some_and(|limit| number > limit) {
            return Err(ds.too_many_rows(max_rows.unwrap_or(0)));
        }
        let mut row = Vec::with_capacity(wanted.len());
        for (i, &(name, kind)) in wanted.iter().enumerate() {
            let value = r
                .get_ref(i)
                .map_err(|e| ds.error(Some(number), Some(name), e.to_string()))?;
            row.push(cell(value, kind, |why| {
                ds.error(Some(number), Some(name), why)
            })?);
        }
        rows.push(row);
    }
    Ok(rows)
}

/// An SQLite value as the declared type. Integers widen to floats; nothing
/// else converts silently.
fn cell(
    value: ValueRef<'_>,
    kind: CellType,
    bad: impl FnOnce(String) -> NodeError,
) -> Result<Cell, NodeError> {
    match (kind, value) {
        (_, ValueRef::Null) => Err(bad("NULL value".into())),
        (CellType::Text, ValueRef::Text(t)) => std::str::from_utf8(t)
            .map(|s| Cell::Text(s.to_string()))
            .map_err(|_| bad("text is not UTF-8".into())),
        (CellType::Integer, ValueRef::Integer(i)) => Ok(Cell::Int(i)),
        (CellType::Float, ValueRef::Integer(i)) => Ok(Cell::Float(i as f64)),
        (CellType::Float, ValueRef::Real(x)) if x.is_finite() => Ok(Cell::Float(x)),
        (kind, value) => Err(bad(format!(
            "declared {kind:?} but the database holds {:?}",
            value.data_type()
        ))),
    }
}
