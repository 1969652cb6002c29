//! A data party's rows with raw columns, as trees, binning and scorecards
//! take them ([`indomain_learn::binning::RawTable`]): read through the
//! dataset's reader with the row limit policy granted, then typed as
//! `indomain train --algorithm gbdt` and `indomain bin` type a CSV file's
//! columns — a column is numeric if its first non-empty cell is a number
//! (an empty text cell is then a missing value), else categorical (one
//! level per text, an empty cell missing); the job's `categorical`
//! columns are categorical whatever they hold.
//!
//! Nothing here talks to a peer: what each side learns is nothing.

use super::{JobRun, at, cell_number, cell_text};
use crate::daemon::error::JobError;
use crate::dataset::{Cell, Table};
use crate::plan::vertical::VerticalParties;
use indomain_learn::binning::{Column, RawTable};
use std::collections::HashMap;

/// Which columns of a party's listed ones are what.
pub(super) struct RawColumns<'a> {
    /// The column the rows are aligned on.
    pub id: &'a str,
    /// The label column (0/1), at the label holder.
    pub label: Option<&'a str>,
    /// Columns read as categories whatever they hold.
    pub categorical: &'a [String],
}

/// Reads this node's rows for a vertical job (trees, binning, a
/// scorecard) if it holds data there: the job's id column, the label
/// column at the label holder, `categorical` read as categories; `None`
/// at the dealer, which reads nothing.
pub(super) fn read_if_data(
    job: &JobRun<'_>,
    vertical: &VerticalParties,
    categorical: &[String],
) -> Result<Option<RawTable>, JobError> {
    let me = job.parties.me();
    if !vertical.is_data(me) {
        return Ok(None);
    }
    let columns = RawColumns {
        id: &vertical.id_column,
        label: (me == vertical.roles.label).then_some(vertical.label_column.as_str()),
        categorical,
    };
    read_raw(job, &columns).map(Some)
}

/// Reads this node's listed columns of its dataset (at most the job's
/// `max_rows`) as a raw table: the id, the label where given, every other
/// listed column a feature.
pub(super) fn read_raw(job: &JobRun<'_>, columns: &RawColumns<'_>) -> Result<RawTable, JobError> {
    job.progress.phase("reading data");
    let table = job.own.read(job.max_rows)?;
    let me = job.parties.me();
    raw_table(&table, columns, &job.spec.parties[me].dataset)
}

/// `table` as a raw table; an empty or repeated id, a label other than 0
/// or 1, or text in a numeric column is an error naming the dataset, row
/// and column.
pub(super) fn raw_table(
    table: &Table,
    columns: &RawColumns<'_>,
    dataset: &str,
) -> Result<RawTable, JobError> {
    let find = |name: &str| {
        table.columns.iter().position(|c| c == name).ok_or_else(|| {
            JobError::Job(format!(
                "the job's columns of dataset {dataset:?} lack {name:?}"
            ))
        })
    };
    let id_at = find(columns.id)?;
    let label_at = columns.label.map(find).transpose()?;
    let feature_at: Vec<usize> = (0..table.columns.len())
        .filter(|&i| i != id_at && Some(i) != label_at)
        .collect();
    let bad = |r: usize, i: usize, reason: String| JobError::Data {
        at: at(dataset, r, &table.columns[i]),
        reason,
    };
    let n = table.rows.len();
    let mut ids = Vec::with_capacity(n);
    let mut labels = label_at.map(|_| Vec::with_capacity(n));
    let mut seen: HashMap<&str, usize> = HashMap::with_capacity(n);
    for (r, row) in table.rows.iter().enumerate() {
        let id = match &row[id_at] {
            Cell::Text(s) => s.trim().to_string(),
            other => cell_text(other),
        };
        if id.is_empty() {
            return Err(bad(r, id_at, "empty id".into()));
        }
        ids.push(id);
        if let (Some(i), Some(labels)) = (label_at, labels.as_mut()) {
            let y = cell_number(&row[i], || at(dataset, r, &table.columns[i]))?;
            if y != 0.0 && y != 1.0 {
                return Err(bad(r, i, format!("label {y} is not 0 or 1")));
            }
            labels.push(y);
        }
    }
    for (r, id) in ids.iter().enumerate() {
        if let Some(first) = seen.insert(id, r + 1) {
            return Err(bad(r, id_at, format!("id {id:?} repeats row {first}")));
        }
    }
    if ids.is_empty() {
        return Err(JobError::Job(format!("dataset {dataset:?} has no rows")));
    }
    let features = feature_at
        .iter()
        .map(|&i| {
            let categorical = columns.categorical.contains(&table.columns[i]);
            column(table, i, categorical).map_err(|(r, e)| bad(r, i, e))
        })
        .collect::<Result<Vec<Column>, JobError>>()?;
    Ok(RawTable {
        source: format!("dataset {dataset:?}"),
        lines: (1..=n as u64).collect(),
        ids,
        feature_names: feature_at
            .iter()
            .map(|&i| table.columns[i].clone())
            .collect(),
        columns: features,
        y: labels,
    })
}

/// Column `i` of `table`, numeric or categorical; an error gives the row.
fn column(table: &Table, i: usize, categorical: bool) -> Result<Column, (usize, String)> {
    let text = |cell: &Cell| match cell {
        Cell::Text(s) => s.trim().to_string(),
        other => cell_text(other),
    };
    let first = table
        .rows
        .iter()
        .map(|row| text(&row[i]))
        .find(|t| !t.is_empty());
    let numeric = !categorical && first.is_none_or(|t| t.parse::<f64>().is_ok());
    if !numeric {
        let cells: Vec<Option<String>> = table
            .rows
            .iter()
            .map(|row| Some(text(&row[i])).filter(|t| !t.is_empty()))
            .collect();
        return Ok(Column::categorical(&cells));
    }
    table
        .rows
        .iter()
        .enumerate()
        .map(|(r, row)| match &row[i] {
            Cell::Text(s) if s.trim().is_empty() => Ok(f64::NAN),
            cell => cell_number(cell, String::new).map_err(|e| {
                let reason = match e {
                    JobError::Data { reason, .. } => reason,
                    other => other.to_string(),
                };
                (
                    r,
                    format!(
                        "{reason} in a numeric column (list the column in parameter categorical if it holds categories)"
                    ),
                )
            }),
        })
        .collect::<Result<Vec<f64>, _>>()
        .map(Column::Numeric)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_text_cells_are_missing_and_text_columns_categorical() {
        let t = Table {
            columns: ["id", "y", "a", "b", "c"].map(String::from).to_vec(),
            rows: vec![
                vec![
                    Cell::Text("r1".into()),
                    Cell::Int(1),
                    Cell::Text(String::new()),
                    Cell::Text("x".into()),
                    Cell::Int(3),
                ],
                vec![
                    Cell::Text("r2".into()),
                    Cell::Int(0),
                    Cell::Text("2.5".into()),
                    Cell::Text(String::new()),
                    Cell::Int(4),
                ],
            ],
        };
        let cols = RawColumns {
            id: "id",
            label: Some("y"),
            categorical: &["c".to_string()],
        };
        let raw = raw_table(&t, &cols, "bank").unwrap();
        assert_eq!(raw.feature_names, ["a", "b", "c"]);
        assert_eq!(raw.y, Some(vec![1.0, 0.0]));
        match &raw.columns[0] {
            Column::Numeric(v) => assert!(v[0].is_nan() && v[1] == 2.5),
            other => panic!("{other:?}"),
        }
        assert!(matches!(&raw.columns[1], Column::Categorical { levels, .. } if levels == &["x"]));
        assert!(matches!(&raw.columns[2], Column::Categorical { levels, .. } if levels.len() == 2));
        let mut bad = t.clone();
        bad.rows[0][2] = Cell::Text("1".into());
        bad.rows[1][2] = Cell::Text("lots".into());
        let err = raw_table(&bad, &cols, "bank").unwrap_err().to_string();
        assert!(
            err.contains("dataset \"bank\", row 2, column \"a\""),
            "{err}"
        );
        bad.rows[1][1] = Cell::Int(2);
        let err = raw_table(&bad, &cols, "bank").unwrap_err().to_string();
        assert!(err.contains("label 2 is not 0 or 1"), "{err}");
    }
}
