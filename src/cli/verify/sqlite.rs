//! Reading a dataset from an SQLite database: a whole table or the rows of
//! a query. The database is opened read-only (a missing file is an error,
//! never a new empty database). Cells become the same text a CSV export
//! would hold: integers and reals in decimal, NULL as an empty cell (claims
//! nothing, like an empty CSV cell), text trimmed; a BLOB is refused.

use super::store::{DatasetSpec, check_key};
use indomain_verify::VerifyError;
use indomain_verify::publish::Dataset;
use indomain_verify::record::Record;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use std::collections::HashSet;
use std::path::Path;

/// Where in the database the records are.
pub enum Source<'a> {
    /// Every row of a table.
    Table(&'a str),
    /// The rows a `SELECT` returns.
    Query(&'a str),
}

impl Source<'_> {
    /// How errors name the source.
    fn describe(&self) -> String {
        match self {
            Source::Table(t) => format!("table {t}"),
            Source::Query(q) => format!("query \"{q}\""),
        }
    }

    fn sql(&self) -> String {
        match self {
            // A quoted identifier: any table name, never SQL.
            Source::Table(t) => format!("SELECT * FROM \"{}\"", t.replace('"', "\"\"")),
            Source::Query(q) => q.to_string(),
        }
    }
}

/// Reads a dataset from `source` in the database at `path`. Errors name the
/// database, the table or query, and the row (1-based among the rows
/// returned) and column.
pub fn read_dataset(
    path: &Path,
    source: &Source,
    spec: &DatasetSpec,
) -> Result<Dataset, VerifyError> {
    let db = path.display().to_string();
    let what = source.describe();
    let err = |reason: String| VerifyError::Input(format!("{db}, {what}: {reason}"));
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| err(format!("cannot open the database: {e}")))?;
    let mut stmt = conn
        .prepare(&source.sql())
        .map_err(|e| err(e.to_string()))?;
    if stmt.column_count() == 0 {
        return Err(err("returns no columns (give a SELECT)".into()));
    }
    let names: Vec<String> = stmt.column_names().iter().map(|n| n.to_string()).collect();
    let column = |name: &str| {
        names
            .iter()
            .position(|n| n == name)
            .ok_or_else(|| err(format!("no column named {name}")))
    };
    let key = column(&spec.key)?;
    let attrs = spec
        .attributes
        .iter()
        .map(|a| column(a))
        .collect::<Result<Vec<_>, _>>()?;
    let labels = spec
        .labels
        .iter()
        .map(|l| column(l))
        .collect::<Result<Vec<_>, _>>()?;
    let mut rows = stmt.query([]).map_err(|e| err(e.to_string()))?;
    let mut records = Vec::new();
    let mut keys = HashSet::new();
    let mut n = 0usize;
    while let Some(row) = rows
        .next()
        .map_err(|e| err(format!("row {}: {e}", n + 1)))?
    {
        n += 1;
        let cell = |i: usize| -> Result<String, VerifyError> {
            let value = row
                .get_ref(i)
                .map_err(|e| err(format!("row {n}, column {}: {e}", names[i])))?;
            match value {
                ValueRef::Null => Ok(String::new()),
                ValueRef::Integer(v) => Ok(v.to_string()),
                ValueRef::Real(v) => Ok(v.to_string()),
                ValueRef::Text(t) => std::str::from_utf8(t)
                    .map(|s| s.trim().to_string())
                    .map_err(|_| err(format!("row {n}, column {}: text is not UTF-8", names[i]))),
                ValueRef::Blob(_) => Err(err(format!(
                    "row {n}, column {}: a BLOB cannot be verified (store text or numbers)",
                    names[i]
                ))),
            }
        };
        let r = Record {
            key: cell(key)?,
            values: attrs.iter().map(|&i| cell(i)).collect::<Result<_, _>>()?,
            labels: labels.iter().map(|&i| cell(i)).collect::<Result<_, _>>()?,
        };
        check_key(&mut keys, &r.key, &spec.key)
            .map_err(|reason| err(format!("row {n}: {reason}")))?;
        records.push(r);
    }
    Ok(Dataset {
        attributes: spec.attributes.clone(),
        label_columns: spec.labels.clone(),
        records,
    })
}
