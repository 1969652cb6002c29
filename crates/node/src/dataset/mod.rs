//! Datasets: named, typed and graded tables a node computes on, read from
//! a CSV file, an SQLite table or query (the embedded default), or a
//! PostgreSQL query. Every source gives the same thing: the requested
//! columns, in the requested order, as typed cells. Errors name the
//! dataset, the row (for CSV, the file's line) and the column; a query that
//! fails reports the database's own message.
//!
//! Nothing is read until a job that policy accepted asks for it, and then
//! only the columns the job declared, up to the rule's row limit.

mod csv_source;
mod postgres_source;
mod sqlite_source;

use crate::error::NodeError;
use crate::grade::Grade;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// A column's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CellType {
    /// UTF-8 text.
    Text,
    /// A signed 64-bit integer.
    Integer,
    /// A 64-bit float.
    Float,
}

/// One typed value.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// A text value.
    Text(String),
    /// An integer value.
    Int(i64),
    /// A float value.
    Float(f64),
}

/// A column's declaration in the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnDef {
    /// Its type.
    #[serde(rename = "type")]
    pub kind: CellType,
    /// Its grade.
    pub grade: Grade,
}

/// What an SQL source reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Select {
    /// Every row of a table.
    Table(String),
    /// The rows of a query.
    Query(String),
}

/// Where a dataset's rows come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A CSV file with a header row.
    Csv(PathBuf),
    /// An SQLite database file, opened read-only.
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// The table or query.
        select: Select,
    },
    /// A PostgreSQL server, reached without TLS (a Unix socket or loopback).
    Postgres {
        /// The libpq-style connection string (`host=... user=... dbname=...`).
        conninfo: String,
        /// The table or query.
        select: Select,
    },
}

/// A dataset as the configuration declares it.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// Its name in the configuration.
    pub name: String,
    /// Where its rows come from.
    pub source: Source,
    /// Its columns, their types and grades.
    pub columns: BTreeMap<String, ColumnDef>,
}

/// Rows read from a dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// The column names, in the order asked for.
    pub columns: Vec<String>,
    /// The rows; each has one cell per column.
    pub rows: Vec<Vec<Cell>>,
}

impl Dataset {
    /// An error about this dataset.
    pub(crate) fn error(
        &self,
        row: Option<u64>,
        column: Option<&str>,
        reason: impl Into<String>,
    ) -> NodeError {
        NodeError::Dataset {
            dataset: self.name.clone(),
            row,
            column: column.map(str::to_string),
            reason: reason.into(),
        }
    }

    /// Opens the source and checks that every declared column is there,
    /// without reading any row.
    pub fn check(&self) -> Result<(), NodeError> {
        let found = match &self.source {
            Source::Csv(path) => csv_source::header(self, path)?,
            Source::Sqlite { path, select } => sqlite_source::header(self, path, select)?,
            Source::Postgres { conninfo, select } => {
                postgres_source::header(self, conninfo, select)?
            }
        };
        for name in self.columns.keys() {
            if !found.contains(name) {
                return Err(self.error(
                    None,
                    Some(name),
                    format!(
                        "declared in the configuration but not in the source (it has {found:?})"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Reads `columns` (each declared in the configuration) from every row.
    /// More than `max_rows` rows is an error rather than a silent cut.
    pub fn read(&self, columns: &[String], max_rows: Option<u64>) -> Result<Table, NodeError> {
        let mut wanted = Vec::with_capacity(columns.len());
        for c in columns {
            let def = self
                .columns
                .get(c)
                .ok_or_else(|| self.error(None, Some(c), "not declared in the configuration"))?;
            wanted.push((c.as_str(), def.kind));
        }
        let rows = match &self.source {
            Source::Csv(path) => csv_source::read(self, path, &wanted, max_rows)?,
            Source::Sqlite { path, select } => {
                sqlite_source::read(self, path, select, &wanted, max_rows)?
            }
            Source::Postgres { conninfo, select } => {
                postgres_source::read(self, conninfo, select, &wanted, max_rows)?
            }
        };
        Ok(Table {
            columns: columns.to_vec(),
            rows,
        })
    }

    /// The error for reading past the row limit.
    pub(crate) fn too_many_rows(&self, limit: u64) -> NodeError {
        NodeError::RowLimit {
            dataset: self.name.clone(),
            limit,
        }
    }
}

/// `name` quoted as an SQL identifier (for SQLite and PostgreSQL alike).
pub(crate) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The SQL that reads `columns` from `select`.
pub(crate) fn select_sql(select: &Select, columns: &[&str]) -> String {
    let list = if columns.is_empty() {
        "*".to_string()
    } else {
        columns
            .iter()
            .map(|c| quote_ident(c))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match select {
        Select::Table(t) => format!("SELECT {list} FROM {}", quote_ident(t)),
        Select::Query(q) => format!("SELECT {list} FROM ({q}) AS indomain_query"),
    }
}

#[cfg(test)]
mod tests;
