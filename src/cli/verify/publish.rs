//! `indomain verify publish`: register a dataset version for verification,
//! from a CSV file or an SQLite table or query.

use super::sqlite::{self, Source};
use super::store::{DatasetSpec, Store, read_dataset};
use crate::cli::CliResult;
use indomain_verify::commit::public_key_hex;
use indomain_verify::oprf::OprfKey;
use indomain_verify::publish::{Dataset, Publisher};
use indomain_verify::record::Record;
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Arguments of `indomain verify publish`.
#[derive(clap::Args)]
pub struct Args {
    /// The dataset: a CSV file with a header row.
    #[arg(long, value_name = "FILE.csv", required_unless_present = "sqlite")]
    data: Option<PathBuf>,

    /// The dataset: an SQLite database, with --table or --query.
    #[arg(long, value_name = "FILE", conflicts_with = "data")]
    sqlite: Option<PathBuf>,

    /// The SQLite table holding the dataset (every row); one name, taken
    /// literally (use --query for a schema-qualified table or a filter).
    #[arg(
        long,
        value_name = "TABLE",
        requires = "sqlite",
        conflicts_with = "query"
    )]
    table: Option<String>,

    /// The SQLite query returning the dataset's rows (e.g. "SELECT id,
    /// name, phone FROM people WHERE active"); columns by their names.
    #[arg(long, value_name = "SELECT ...", requires = "sqlite")]
    query: Option<String>,

    /// The key column (e.g. the ID number); in SQLite, a column name of
    /// the table or query, as for the columns below.
    #[arg(long, value_name = "COL")]
    key: String,

    /// The attributes clients may verify.
    #[arg(long, value_name = "COL[,COL]", value_delimiter = ',', required = true)]
    attributes: Vec<String>,

    /// The label columns returned to a client whose query matches every
    /// verifiable attribute of a record (none by default).
    #[arg(long, value_name = "COL[,COL]", value_delimiter = ',')]
    labels: Vec<String>,

    /// The operator's store directory (created if missing).
    #[arg(long, value_name = "DIR")]
    store: PathBuf,

    /// The service name put in signed commitments.
    #[arg(long, default_value = "indomain-verify")]
    service: String,

    /// Publish a new revision of the current version (same OPRF key):
    /// only records added, removed or changed since it are evaluated, and
    /// a delta is written. Without it, a new version with a fresh key.
    #[arg(long)]
    update: bool,
}

pub fn run(args: Args) -> CliResult {
    let store = Store::open(&args.store)?;
    let signer = store.signing_key()?;
    let spec = DatasetSpec {
        key: args.key.clone(),
        attributes: args.attributes.clone(),
        labels: args.labels.clone(),
    };
    let dataset = match (&args.data, &args.sqlite, &args.table, &args.query) {
        (Some(csv), None, None, None) => read_dataset(csv, &spec)?,
        (None, Some(db), Some(table), None) => {
            sqlite::read_dataset(db, &Source::Table(table), &spec)?
        }
        (None, Some(db), None, Some(query)) => {
            sqlite::read_dataset(db, &Source::Query(query), &spec)?
        }
        _ => {
            return Err(
                "give --data FILE.csv, or --sqlite FILE with exactly one of \
                        --table or --query"
                    .into(),
            );
        }
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let started = Instant::now();
    let current = store.current()?;
    let (published, delta) = match (args.update, current) {
        (true, Some((version, revision))) => {
            let previous = store.load(version, revision)?;
            let old = store.snapshot(version)?;
            if old.attributes != dataset.attributes || old.label_columns != dataset.label_columns {
                return Err(
                    "--update keeps the version's attributes and label columns; \
                            publish a new version to change them"
                        .into(),
                );
            }
            let (removed, added) = diff(&old, &dataset);
            let key = store.oprf_key(version)?;
            let publisher = Publisher {
                service: &args.service,
                key: &key,
                signer: &signer,
                now,
            };
            eprintln!(
                "revision {} of version {version}: {} records removed, {} added",
                revision + 1,
                removed.len(),
                added.len()
            );
            let (delta, p) = publisher.update(&previous, &removed, &added)?;
            (p, Some(delta.encode()))
        }
        (true, None) => return Err("--update: nothing published yet in this store".into()),
        (false, current) => {
            let version = current.map_or(1, |(v, _)| v + 1);
            let key = OprfKey::random(&mut rand::rng());
            store.save_key(version, &key)?;
            let publisher = Publisher {
                service: &args.service,
                key: &key,
                signer: &signer,
                now,
            };
            (publisher.publish(&dataset, version)?, None)
        }
    };
    store.save(&published, delta.as_deref(), &dataset)?;
    let t = &published.table;
    eprintln!(
        "published version {}.{}: {} records, {} attributes, {} label columns, table {} bytes \
         ({:.1} bytes a record), in {:.2} s",
        t.version,
        t.revision,
        t.rows,
        t.attributes.len(),
        t.label_columns.len(),
        published.bytes.len(),
        published.bytes.len() as f64 / (t.rows.max(1) as f64),
        started.elapsed().as_secs_f64()
    );
    eprintln!("clients check tables with --operator-key and this value:");
    println!("{}", public_key_hex(&signer.verifying_key()));
    Ok(())
}

/// Records to remove and add to go from `old` to `new` (a changed record is
/// removed and added again).
fn diff(old: &Dataset, new: &Dataset) -> (Vec<Record>, Vec<Record>) {
    let before: HashMap<&str, &Record> = old.records.iter().map(|r| (r.key.as_str(), r)).collect();
    let after: HashMap<&str, &Record> = new.records.iter().map(|r| (r.key.as_str(), r)).collect();
    let removed = old
        .records
        .iter()
        .filter(|r| after.get(r.key.as_str()) != Some(r))
        .cloned()
        .collect();
    let added = new
        .records
        .iter()
        .filter(|r| before.get(r.key.as_str()) != Some(r))
        .cloned()
        .collect();
    (removed, added)
}
