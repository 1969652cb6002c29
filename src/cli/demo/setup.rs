//! The demo organisations' nodes before they start: each one's SQLite
//! database (the bank's customers, the tax bureau's taxpayers, everyone's
//! incomes, the training rows), the datasets section of its `node.toml`
//! with a grade on every column, and its policy: what each peer may ask of
//! it.

use super::data::{PsiData, RegionRows};
use super::dp_budget::{BUDGET_DELTA, BUDGET_EPSILON, PURPOSE};
use super::error::DemoError;
use super::jobs::{MIN_GROUP, read_csv};
use super::node_jobs::{MIN_INTERSECTION, Sites};
use super::nodes::Site;
use super::training::MIN_ROWS;
use rusqlite::{Connection, params};
use std::path::{Path, PathBuf};

/// Writes each organisation's database: the bank's customers, the tax
/// bureau's taxpayers, and everyone's incomes by region.
pub fn write_databases(
    sites: &Sites,
    psi: &PsiData,
    incomes: &[RegionRows],
    training: &(PathBuf, PathBuf),
) -> Result<(), DemoError> {
    let open = |site: &Site| {
        let path = site.dir.join(format!("{}.db", site.name));
        let _ = std::fs::remove_file(&path);
        Connection::open(&path).map_err(DemoError::Sqlite)
    };
    let keyed = |conn: &mut Connection, table: &str, value: &str, rows: &[(String, u64)]| {
        let tx = conn.transaction().map_err(DemoError::Sqlite)?;
        tx.execute(
            &format!("CREATE TABLE {table} (id TEXT NOT NULL, {value} INTEGER NOT NULL)"),
            [],
        )
        .map_err(DemoError::Sqlite)?;
        {
            let mut insert = tx
                .prepare(&format!("INSERT INTO {table} VALUES (?1, ?2)"))
                .map_err(DemoError::Sqlite)?;
            for (id, v) in rows {
                insert
                    .execute(params![id, *v as i64])
                    .map_err(DemoError::Sqlite)?;
            }
        }
        tx.commit().map_err(DemoError::Sqlite)
    };
    let regional = |conn: &mut Connection, rows: &RegionRows| {
        let tx = conn.transaction().map_err(DemoError::Sqlite)?;
        tx.execute(
            "CREATE TABLE incomes (region TEXT NOT NULL, income REAL NOT NULL)",
            [],
        )
        .map_err(DemoError::Sqlite)?;
        {
            let mut insert = tx
                .prepare("INSERT INTO incomes VALUES (?1, ?2)")
                .map_err(DemoError::Sqlite)?;
            for (region, income) in &rows.rows {
                insert
                    .execute(params![region, income])
                    .map_err(DemoError::Sqlite)?;
            }
        }
        tx.commit().map_err(DemoError::Sqlite)
    };
    let [bank_in, tax_in, stats_in] = incomes else {
        return Err(DemoError::Missing("the demo has three organisations"));
    };
    let mut bank = open(sites.bank)?;
    keyed(&mut bank, "customers", "balance", &psi.bank)?;
    regional(&mut bank, bank_in)?;
    import_csv(&mut bank, "credit", &training.0)?;
    let mut tax = open(sites.tax)?;
    keyed(&mut tax, "taxpayers", "tax_paid", &psi.tax)?;
    regional(&mut tax, tax_in)?;
    import_csv(&mut tax, "credit", &training.1)?;
    let mut stats = open(sites.stats)?;
    regional(&mut stats, stats_in)?;
    Ok(())
}

/// Copies a CSV file whose first column is the text `id` and whose other
/// columns are numbers into a new table (`default`, the label, as an
/// integer).
fn import_csv(conn: &mut Connection, table: &str, path: &Path) -> Result<(), DemoError> {
    let (header, rows) = read_csv(path)?;
    let sql_type = |c: &str| match c {
        "id" => "TEXT",
        "default" => "INTEGER",
        _ => "REAL",
    };
    let columns: Vec<String> = header
        .iter()
        .map(|c| format!("\"{c}\" {} NOT NULL", sql_type(c)))
        .collect();
    let tx = conn.transaction().map_err(DemoError::Sqlite)?;
    tx.execute(
        &format!("CREATE TABLE {table} ({})", columns.join(", ")),
        [],
    )
    .map_err(DemoError::Sqlite)?;
    {
        let marks: Vec<String> = (1..=header.len()).map(|i| format!("?{i}")).collect();
        let mut insert = tx
            .prepare(&format!(
                "INSERT INTO {table} VALUES ({})",
                marks.join(", ")
            ))
            .map_err(DemoError::Sqlite)?;
        for row in &rows {
            let values: Vec<rusqlite::types::Value> = header
                .iter()
                .zip(row)
                .map(|(c, v)| match sql_type(c) {
                    "TEXT" => Ok(rusqlite::types::Value::Text(v.clone())),
                    "INTEGER" => v
                        .parse()
                        .map(rusqlite::types::Value::Integer)
                        .map_err(|e| cell(path, v, e)),
                    _ => v
                        .parse()
                        .map(rusqlite::types::Value::Real)
                        .map_err(|e| cell(path, v, e)),
                })
                .collect::<Result<_, DemoError>>()?;
            insert
                .execute(rusqlite::params_from_iter(values))
                .map_err(DemoError::Sqlite)?;
        }
    }
    tx.commit().map_err(DemoError::Sqlite)
}

/// A cell of `path` that does not parse as a number.
fn cell(path: &Path, value: &str, reason: impl std::fmt::Display) -> DemoError {
    DemoError::Cell {
        path: path.to_path_buf(),
        value: value.to_string(),
        reason: reason.to_string(),
    }
}

/// The datasets section of `node.toml` for `site`, with graded columns.
pub fn datasets(site: &Site, sites: &Sites) -> String {
    let db = format!("{}.db", site.name);
    let incomes = format!(
        "[datasets.incomes]\nsqlite = \"{db}\"\ntable = \"incomes\"\n\
         [datasets.incomes.columns]\n\
         region = {{ type = \"text\", grade = \"public\" }}\n\
         income = {{ type = \"float\", grade = \"sensitive\" }}\n"
    );
    let keyed = |name: &str, value: &str| {
        format!(
            "[datasets.{name}]\nsqlite = \"{db}\"\ntable = \"{name}\"\n\
             [datasets.{name}.columns]\n\
             id = {{ type = \"text\", grade = \"internal\" }}\n\
             {value} = {{ type = \"integer\", grade = \"core\" }}\n\n"
        )
    };
    let credit = |columns: &[(&str, &str)]| {
        let mut text = format!(
            "\n[datasets.credit]\nsqlite = \"{db}\"\ntable = \"credit\"\n\
             [datasets.credit.columns]\nid = {{ type = \"text\", grade = \"internal\" }}\n"
        );
        for (c, t) in columns {
            text.push_str(&format!(
                "{c} = {{ type = \"{t}\", grade = \"sensitive\" }}\n"
            ));
        }
        text
    };
    if site.name == sites.bank.name {
        keyed("customers", "balance")
            + &incomes
            + &credit(&[
                ("default", "integer"),
                ("age", "float"),
                ("balance", "float"),
                ("card_utilisation", "float"),
            ])
    } else if site.name == sites.tax.name {
        keyed("taxpayers", "tax_paid")
            + &incomes
            + &credit(&[
                ("income", "float"),
                ("tax_arrears", "float"),
                ("late_filings", "float"),
            ])
    } else {
        incomes
    }
}

/// The policy section of `node.toml` for `site`: what each peer may ask.
pub fn policy(site: &Site, sites: &Sites) -> String {
    let (bank, tax, office) = (sites.bank.name, sites.tax.name, sites.stats.name);
    // The statistics office may compute statistics over the incomes by
    // region, for itself alone, never releasing a group under the minimum
    // size (the bank contributes rows, the tax bureau deals).
    let statistics = format!(
        "\n[[policy.peers.{office}.allow]]\nprotocols = [\"aggregate\"]\n\
         purposes = [\"income statistics\"]\n\
         datasets = [\"incomes\"]\ngrades = [\"public\", \"sensitive\"]\n\
         outputs = {{ statistics = [\"{office}\"] }}\nmin_group_size = {MIN_GROUP}\n"
    );
    // For a release, the bank requires differential privacy, within a
    // monthly budget for the statistics office.
    let release = format!(
        "\n[[policy.peers.{office}.allow]]\nprotocols = [\"aggregate\"]\n\
         purposes = [\"{PURPOSE}\"]\n\
         datasets = [\"incomes\"]\ngrades = [\"public\", \"sensitive\"]\n\
         outputs = {{ statistics = [\"{office}\"] }}\nmin_group_size = {MIN_GROUP}\n\
         dp = {{ epsilon = {BUDGET_EPSILON:?}, delta = {BUDGET_DELTA:e}, per = \"month\" }}\n"
    );
    // The bank may train a credit model (logistic regression or trees)
    // with the tax bureau's features and the statistics office as dealer;
    // each data party keeps its own model part, and may receive the
    // metrics (a tree job sends them to every data party).
    let training = |datasets: &str, grades: &str| {
        format!(
            "\n[[policy.peers.{bank}.allow]]\nprotocols = [\"train\"]\npurposes = [\"credit model\"]\n\
             datasets = [{datasets}]\ngrades = [{grades}]\n\
             outputs = {{ model = [\"{bank}\", \"{tax}\"], metrics = [\"{bank}\", \"{tax}\"] }}\n\
             min_group_size = {MIN_ROWS}\n"
        )
    };
    // The bank may bin the tax bureau's credit features against its labels
    // in the label-holder view (the rule's default binning modes) and train
    // a scorecard on them; both data parties get their files and metrics.
    let risk = |datasets: &str| {
        format!(
            "\n[[policy.peers.{bank}.allow]]\nprotocols = [\"binning\", \"train\"]\n\
             purposes = [\"{}\"]\ndatasets = [{datasets}]\ngrades = [\"internal\", \"sensitive\"]\n\
             outputs = {{ binning = [\"{bank}\", \"{tax}\"], iv = [\"{bank}\", \"{tax}\"], model = [\"{bank}\", \"{tax}\"], metrics = [\"{bank}\", \"{tax}\"] }}\n\
             min_group_size = {MIN_ROWS}\n",
            super::risk::PURPOSE
        )
    };
    if site.name == office {
        return training("\"incomes\"", "\"public\"") + &risk("\"incomes\"");
    }
    if site.name == tax {
        // The bank may find the shared customers by id, both learning them.
        format!(
            "[[policy.peers.{bank}.allow]]\nprotocols = [\"psi-intersection\", \"psi-join\"]\n\
             purposes = [\"customer overlap\"]\ndatasets = [\"taxpayers\"]\n\
             columns = [\"id\"]\ngrades = [\"internal\"]\n\
             outputs = {{ intersection = [\"{bank}\", \"{tax}\"], alignment = [\"{bank}\", \"{tax}\"] }}\n\
             min_intersection = {MIN_INTERSECTION}\nnot_after = 2100-01-01T00:00:00Z\n{statistics}{}{}",
            training("\"credit\"", "\"internal\", \"sensitive\""),
            risk("\"credit\"")
        )
    } else if site.name == bank {
        // The tax bureau may learn how many customers are shared, not which.
        format!(
            "[[policy.peers.{tax}.allow]]\nprotocols = [\"psi-cardinality\", \"psi-sum\"]\n\
             datasets = [\"customers\"]\ncolumns = [\"id\"]\ngrades = [\"internal\"]\n\
             outputs = {{ cardinality = [\"{tax}\", \"{bank}\"], sum = [\"{tax}\"] }}\n\
             min_intersection = {MIN_INTERSECTION}\nmax_jobs_per_hour = 10\n{statistics}{release}"
        )
    } else {
        String::new()
    }
}
