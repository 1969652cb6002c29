//! PostgreSQL datasets: a table or a query, read with the synchronous
//! `postgres` client. The connection is made without TLS (`NoTls`): the
//! node reads its own database over a Unix socket or loopback, and a
//! second TLS stack (native-tls or another rustls configuration) is not
//! worth carrying for that (docs/operations.md says how to set it up).

use super::{Cell, CellType, Dataset, Select, select_sql};
use crate::error::NodeError;
use postgres::types::Type;
use postgres::{Client, NoTls};
use std::time::Duration;

/// How long a connection attempt may take when the configuration's
/// connection string sets no `connect_timeout`.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The database's message for a failed call, with the server's severity
/// and text when it is a server error.
fn message(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => db.to_string(),
        None => {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(cause) = source {
                text.push_str(&format!(": {cause}"));
                source = cause.source();
            }
            text
        }
    }
}

fn connect(ds: &Dataset, conninfo: &str) -> Result<Client, NodeError> {
    let mut config: postgres::Config = conninfo.parse().map_err(|e: postgres::Error| {
        ds.error(None, None, format!("connection string: {}", message(&e)))
    })?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    config
        .connect(NoTls)
        .map_err(|e| ds.error(None, None, format!("cannot connect: {}", message(&e))))
}

/// The column names of the table or query (the statement is prepared, not run).
pub(super) fn header(
    ds: &Dataset,
    conninfo: &str,
    select: &Select,
) -> Result<Vec<String>, NodeError> {
    let mut client = connect(ds, conninfo)?;
    let stmt = client
        .prepare(&select_sql(select, &[]))
        .map_err(|e| ds.error(None, None, message(&e)))?;
    Ok(stmt
        .columns()
        .iter()
        .map(|c| c.name().to_string())
        .collect())
}

pub(super) fn read(
    ds: &Dataset,
    conninfo: &str,
    select: &Select,
    wanted: &[(&str, CellType)],
    max_rows: Option<u64>,
) -> Result<Vec<Vec<Cell>>, NodeError> {
    let mut client = connect(ds, conninfo)?;
    let names: Vec<&str> = wanted.iter().map(|(n, _)| *n).collect();
    let mut sql = select_sql(select, &names);
    // Ask for one row past the limit, to tell "exactly at" from "over".
    if let Some(limit) = max_rows {
        sql.push_str(&format!(" LIMIT {}", limit.saturating_add(1)));
    }
    let stmt = client
        .prepare(&sql)
        .map_err(|e| ds.error(None, None, message(&e)))?;
    for (column, &(name, kind)) in stmt.columns().iter().zip(wanted) {
        check_type(column.type_(), kind, |why| ds.error(None, Some(name), why))?;
    }
    let result = client
        .query(&stmt, &[])
        .map_err(|e| ds.error(None, None, message(&e)))?;
    if let Some(limit) = max_rows
        && result.len() as u64 > limit
    {
        return Err(ds.too_many_rows(limit));
    }
    let mut rows = Vec::with_capacity(result.len());
    for (n, r) in result.iter().enumerate() {
        let number = n as u64 + 1;
        let mut row = Vec::with_capacity(wanted.len());
        for (i, &(name, kind)) in wanted.iter().enumerate() {
            let at = |why: String| ds.error(Some(number), Some(name), why);
            let ty = r.columns()[i].type_().clone();
            let cell = match kind {
                CellType::Text => r.try_get::<_, Option<String>>(i).map(|v| v.map(Cell::Text)),
                CellType::Integer => int(r, i, &ty).map(|v| v.map(Cell::Int)),
                CellType::Float => float(r, i, &ty).map(|v| v.map(Cell::Float)),
            }
            .map_err(|e| at(message(&e)))?
            .ok_or_else(|| at("NULL value".into()))?;
            if let Cell::Float(x) = cell
                && !x.is_finite()
            {
                return Err(at(format!("{x} is not a finite number")));
            }
            row.push(cell);
        }
        rows.push(row);
    }
    Ok(rows)
}

fn int(r: &postgres::Row, i: usize, ty: &Type) -> Result<Option<i64>, postgres::Error> {
    Ok(match *ty {
        Type::INT2 => r.try_get::<_, Option<i16>>(i)?.map(i64::from),
        Type::INT4 => r.try_get::<_, Option<i32>>(i)?.map(i64::from),
        _ => r.try_get::<_, Option<i64>>(i)?,
    })
}

fn float(r: &postgres::Row, i: usize, ty: &Type) -> Result<Option<f64>, postgres::Error> {
    Ok(match *ty {
        Type::FLOAT4 => r.try_get::<_, Option<f32>>(i)?.map(f64::from),
        Type::FLOAT8 => r.try_get::<_, Option<f64>>(i)?,
        _ => int(r, i, ty)?.map(|v| v as f64),
    })
}

/// Whether a column of PostgreSQL type `ty` can be read as `kind`.
fn check_type(
    ty: &Type,
    kind: CellType,
    bad: impl FnOnce(String) -> NodeError,
) -> Result<(), NodeError> {
    let ok = match kind {
        CellType::Text => matches!(*ty, Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME),
        CellType::Integer => matches!(*ty, Type::INT2 | Type::INT4 | Type::INT8),
        CellType::Float => matches!(
            *ty,
            Type::INT2 | Type::INT4 | Type::INT8 | Type::FLOAT4 | Type::FLOAT8
        ),
    };
    if ok {
        Ok(())
    } else {
        Err(bad(format!(
            "declared {kind:?} but the query gives type {ty}; cast it in the query (e.g. ::text, ::bigint, ::float8)"
        )))
    }
}
