use super::*;
use std::io::Write;

fn columns(defs: &[(&str, CellType, Grade)]) -> BTreeMap<String, ColumnDef> {
    defs.iter()
        .map(|&(n, kind, grade)| (n.to_string(), ColumnDef { kind, grade }))
        .collect()
}

fn people_columns() -> BTreeMap<String, ColumnDef> {
    columns(&[
        ("id", CellType::Text, Grade::Internal),
        ("age", CellType::Integer, Grade::Sensitive),
        ("income", CellType::Float, Grade::Core),
    ])
}

fn csv_dataset(text: &str) -> (tempfile::NamedTempFile, Dataset) {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    let ds = Dataset {
        name: "people".into(),
        source: Source::Csv(f.path().to_path_buf()),
        columns: people_columns(),
    };
    (f, ds)
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn csv_reads_typed_columns_in_the_order_asked() {
    let (_f, ds) = csv_dataset("id,age,income\na,30,1.5\nb,41,2\n");
    ds.check().unwrap();
    let t = ds.read(&strings(&["income", "id"]), None).unwrap();
    assert_eq!(t.columns, strings(&["income", "id"]));
    assert_eq!(
        t.rows,
        vec![
            vec![Cell::Float(1.5), Cell::Text("a".into())],
            vec![Cell::Float(2.0), Cell::Text("b".into())]
        ]
    );
}

#[test]
fn csv_errors_name_dataset_line_and_column() {
    let (_f, ds) = csv_dataset("id,age,income\na,30,1.5\nb,forty,2\n");
    let e = ds.read(&strings(&["age"]), None).unwrap_err().to_string();
    assert_eq!(
        e,
        "dataset people, row 3, column \"age\": \"forty\" is not an integer"
    );
    let (_f, ds) = csv_dataset("id,age\na,30\n");
    let e = ds.check().unwrap_err().to_string();
    assert!(
        e.starts_with("dataset people, column \"income\": declared"),
        "{e}"
    );
    let e = ds
        .read(&strings(&["salary"]), None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("\"salary\": not declared"), "{e}");
}

#[test]
fn row_limit_refuses_rather_than_cuts() {
    let (_f, ds) = csv_dataset("id,age,income\na,1,1\nb,2,2\nc,3,3\n");
    assert_eq!(ds.read(&strings(&["id"]), Some(3)).unwrap().rows.len(), 3);
    let e = ds.read(&strings(&["id"]), Some(2)).unwrap_err().to_string();
    assert!(e.contains("more than 2 rows"), "{e}");
}

fn sqlite_dataset(select: Select) -> (tempfile::TempDir, Dataset) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("people.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "CREATE TABLE people (id TEXT, age INTEGER, income REAL, note TEXT);
         INSERT INTO people VALUES ('a', 30, 1.5, 'x'), ('b', 41, 2, NULL), ('c', NULL, 3.25, 'z');",
    )
    .unwrap();
    let ds = Dataset {
        name: "people".into(),
        source: Source::Sqlite { path, select },
        columns: people_columns(),
    };
    (dir, ds)
}

#[test]
fn sqlite_table_and_query() {
    let (_d, ds) = sqlite_dataset(Select::Table("people".into()));
    ds.check().unwrap();
    let t = ds.read(&strings(&["id", "income"]), None).unwrap();
    assert_eq!(t.rows.len(), 3);
    assert_eq!(t.rows[1], vec![Cell::Text("b".into()), Cell::Float(2.0)]);
    let (_d, ds) = sqlite_dataset(Select::Query(
        "SELECT id, age, income FROM people WHERE age > 35".into(),
    ));
    ds.check().unwrap();
    let t = ds.read(&strings(&["id", "age"]), None).unwrap();
    assert_eq!(t.rows, vec![vec![Cell::Text("b".into()), Cell::Int(41)]]);
}

#[test]
fn sqlite_errors_name_row_column_and_database_message() {
    let (_d, ds) = sqlite_dataset(Select::Table("people".into()));
    let e = ds.read(&strings(&["age"]), None).unwrap_err().to_string();
    assert_eq!(e, "dataset people, row 3, column \"age\": NULL value");
    let (_d, ds) = sqlite_dataset(Select::Table("persons".into()));
    let e = ds.check().unwrap_err().to_string();
    assert!(e.contains("no such table: persons"), "{e}");
    let (_d, ds) = sqlite_dataset(Select::Query("SELEC id FROM people".into()));
    let e = ds.check().unwrap_err().to_string();
    assert!(e.contains("syntax error"), "{e}");
    let mut ds = ds;
    ds.source = Source::Sqlite {
        path: "/nonexistent/x.db".into(),
        select: Select::Table("people".into()),
    };
    assert!(
        ds.check()
            .unwrap_err()
            .to_string()
            .contains("no such database file")
    );
}

#[test]
fn identifiers_are_quoted() {
    assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    assert_eq!(
        select_sql(&Select::Table("t".into()), &["x", "y"]),
        "SELECT \"x\", \"y\" FROM \"t\""
    );
}
