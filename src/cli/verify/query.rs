//! `indomain verify query`: verify records against the operator.

use crate::cli::CliResult;
use crate::cli::net_args::PeerArgs;
use indicatif::{ProgressBar, ProgressStyle};
use indomain_net::Channel;
use indomain_verify::VerifyError;
use indomain_verify::client::{Answer, Verifier};
use indomain_verify::commit::{SignedCommitment, parse_public_key};
use indomain_verify::record::{MAX_FIELD, Query};
use indomain_verify::session;
use std::path::{Path, PathBuf};
use std::time::Instant;

const AFTER_HELP: &str = "\
QUERIES.csv has a header row: the key column (--key) and any of the
operator's verifiable attributes; an empty cell claims nothing for that
attribute. OUT.csv has the key, per attribute `match`, `no-match` or empty
(not claimed), the label columns (filled only when every verifiable
attribute was claimed and matched) and the signed version VERSION.REVISION
the answers come from. OUT.csv is private (0600). If the operator stops
answering part-way (the quota is spent, the link is lost), the answers it
gave are written (it counted them against the quota) and the records left
unanswered are named by key; the command then fails.";

/// Arguments of `indomain verify query`.
#[derive(clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    #[command(flatten)]
    net: PeerArgs,

    /// The operator's signing key (64 hex digits, or a file holding them:
    /// its STORE/signing.pub).
    #[arg(long, value_name = "HEX|FILE")]
    operator_key: String,

    /// The records to verify (CSV with a header row).
    #[arg(long, value_name = "QUERIES.csv")]
    queries: PathBuf,

    /// The key column of the queries.
    #[arg(long, value_name = "COL", default_value = "key")]
    key: String,

    /// Where to write the answers.
    #[arg(long, value_name = "OUT.csv")]
    output: PathBuf,

    /// The most records sent in one request (by default as many as the
    /// operator's batch size allows; 1 for one request a record).
    #[arg(long, value_name = "N")]
    records_per_request: Option<usize>,

    /// Keep the fetched table here and reuse it while the operator serves
    /// the same version.
    #[arg(long, value_name = "DIR")]
    cache: Option<PathBuf>,
}

pub fn run(args: Args) -> CliResult {
    if args.net.listen.is_some() {
        return Err("verify query connects to the operator: give --connect ADDR".into());
    }
    let key_text = match std::fs::read_to_string(&args.operator_key) {
        Ok(text) => text,
        Err(_) => args.operator_key.clone(),
    };
    let operator = parse_public_key(&key_text)?;
    let (columns, queries) = read_queries(&args.queries, &args.key)?;
    let started = Instant::now();
    let (_endpoint, mut ch) = args.net.open_peer()?;
    let welcome = session::hello(&mut ch)?;
    welcome.commitment.verify(&operator)?;
    let verifier = load_table(
        &mut ch,
        operator,
        &welcome.commitment,
        args.cache.as_deref(),
    )?;
    let table = verifier.table();
    if let Some(bad) = columns.iter().find(|c| table.attribute(c).is_none()) {
        return Err(VerifyError::Line {
            file: args.queries.display().to_string(),
            line: 1,
            reason: format!(
                "column {bad} is not a verifiable attribute (the operator has {})",
                table.attributes.join(", ")
            ),
        }
        .into());
    }
    let bar = progress(queries.len() as u64, "records");
    let batching = session::Batching {
        max_entries: welcome.max_batch,
        max_records: args.records_per_request.unwrap_or(usize::MAX),
    };
    let phase = (unix_ms(), Instant::now());
    let (answers, ended) =
        session::verify_answered(&mut ch, &verifier, &queries, batching, &mut |n| {
            bar.set_position(n as u64)
        });
    let phase_secs = phase.1.elapsed().as_secs_f64();
    bar.finish_and_clear();
    write_answers(&args.output, &verifier, &queries, &answers)?;
    if let Err(e) = ended {
        let left = &queries[answers.len()..];
        let named: Vec<String> = left
            .iter()
            .take(10)
            .map(|q| indomain_node::bounds::printable(&q.key, 64))
            .collect();
        let more = if left.len() > named.len() {
            format!(" and {} more", left.len() - named.len())
        } else {
            String::new()
        };
        return Err(format!(
            "{} of {} records were answered and written to {}; the operator stopped at \
             record {} ({e}): left unanswered, by key: {}{more}",
            answers.len(),
            queries.len(),
            args.output.display(),
            answers.len() + 1,
            named.join(", ")
        )
        .into());
    }
    let full = answers
        .iter()
        .filter(|a| a.matches.iter().all(|m| m.1))
        .count();
    let c = &verifier.commitment().commitment;
    eprintln!(
        "verified {} records against {} version {}.{} (signature checked): {full} match on every \
         claimed attribute; {:.2} s in all, {phase_secs:.3} s verifying (from unix ms {}), {} \
         bytes sent, {} received; {} evaluations left in quota",
        answers.len(),
        c.service,
        c.version,
        c.revision,
        started.elapsed().as_secs_f64(),
        phase.0,
        ch.counters().sent,
        ch.counters().received,
        welcome
            .quota_left
            .saturating_sub(queries.iter().map(|q| q.claims.len() as u64).sum())
    );
    Ok(())
}

fn unix_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

fn progress(len: u64, what: &str) -> ProgressBar {
    if len < 1000 {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    if let Ok(style) =
        ProgressStyle::with_template(&format!("{{bar:40}} {{pos}}/{{len}} {what} ({{eta}} left)"))
    {
        bar.set_style(style);
    }
    bar
}

/// The cached table if it is the one the operator commits to now, brought
/// up to date with the operator's deltas if it is an earlier revision of the
/// same version, otherwise a fresh fetch; cached again either way. Every
/// path checks the table against a signed commitment.
fn load_table(
    ch: &mut impl Channel,
    operator: ed25519_dalek::VerifyingKey,
    current: &SignedCommitment,
    cache: Option<&Path>,
) -> Result<Verifier, Box<dyn std::error::Error + Send + Sync>> {
    if let Some(dir) = cache {
        match cached(ch, operator, current, dir) {
            Ok(Some(v)) => return Ok(v),
            Ok(None) => {}
            Err(e) => eprintln!("cached table not used: {e}"),
        }
    }
    let bar = progress(current.commitment.table_len, "bytes of table");
    let bytes = session::fetch_table(ch, current, &mut |n, _| bar.set_position(n))?;
    bar.finish_and_clear();
    let verifier = Verifier::new(operator, current.clone(), &bytes)?;
    if let Some(dir) = cache {
        save_cache(dir, &verifier, &bytes)?;
    }
    Ok(verifier)
}

/// The cached table, updated with deltas if needed; `None` if there is no
/// cache or it holds another version.
fn cached(
    ch: &mut impl Channel,
    operator: ed25519_dalek::VerifyingKey,
    current: &SignedCommitment,
    dir: &Path,
) -> Result<Option<Verifier>, Box<dyn std::error::Error + Send + Sync>> {
    let (Ok(bytes), Ok(c)) = (
        std::fs::read(dir.join("table.bin")),
        std::fs::read(dir.join("commitment.bin")),
    ) else {
        return Ok(None);
    };
    let commitment: SignedCommitment = indomain_net::wire::decode_msg("the cache", &c)?;
    let held = Verifier::new(operator, commitment, &bytes)?;
    if held.check_current(current).is_ok() {
        return Ok(Some(held));
    }
    let (have, want) = (&held.commitment().commitment, &current.commitment);
    if have.version != want.version || have.revision > want.revision {
        return Ok(None);
    }
    let steps = want.revision - have.revision;
    let updated = session::update(ch, &held, current)?;
    eprintln!(
        "cached table {}.{} brought to {}.{} with {steps} delta(s)",
        have.version, have.revision, want.version, want.revision
    );
    save_cache(dir, &updated, &updated.table().encode())?;
    Ok(Some(updated))
}

fn save_cache(
    dir: &Path,
    v: &Verifier,
    bytes: &[u8],
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    indomain_node::private::dir(dir)?;
    indomain_node::private::write(&dir.join("table.bin"), bytes)?;
    let c = bincode::serde::encode_to_vec(v.commitment(), bincode::config::standard())?;
    indomain_node::private::write(&dir.join("commitment.bin"), &c)?;
    Ok(())
}

/// Reads the queries: the attribute columns and one query a row. Errors
/// name the line.
fn read_queries(path: &Path, key: &str) -> Result<(Vec<String>, Vec<Query>), VerifyError> {
    let file = path.display().to_string();
    let line_err = |line: u64, reason: String| VerifyError::Line {
        file: file.clone(),
        line: line as usize,
        reason,
    };
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(|e| VerifyError::Input(format!("{file}: {e}")))?;
    let headers = reader
        .headers()
        .map_err(|e| line_err(1, e.to_string()))?
        .clone();
    let key_at = headers
        .iter()
        .position(|h| h == key)
        .ok_or_else(|| line_err(1, format!("no key column named {key}")))?;
    let columns: Vec<(usize, String)> = headers
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != key_at)
        .map(|(i, h)| (i, h.to_string()))
        .collect();
    let mut queries = Vec::new();
    for row in reader.records() {
        let row = row.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            line_err(line, e.to_string())
        })?;
        let line = row.position().map_or(0, |p| p.line());
        let get = |i: usize| row.get(i).unwrap_or("");
        if row.iter().any(|c| c.len() > MAX_FIELD) {
            return Err(line_err(
                line,
                format!("a cell is longer than {MAX_FIELD} bytes"),
            ));
        }
        let k = get(key_at);
        if k.is_empty() {
            return Err(line_err(line, format!("the key column {key} is empty")));
        }
        let claims: Vec<(String, String)> = columns
            .iter()
            .filter(|(i, _)| !get(*i).is_empty())
            .map(|(i, name)| (name.clone(), get(*i).to_string()))
            .collect();
        if claims.is_empty() {
            return Err(line_err(line, "no attribute is claimed".into()));
        }
        queries.push(Query {
            key: k.to_string(),
            claims,
        });
    }
    Ok((columns.into_iter().map(|(_, n)| n).collect(), queries))
}

fn write_answers(
    path: &Path,
    v: &Verifier,
    queries: &[Query],
    answers: &[Answer],
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let t = v.table();
    let mut w = csv::Writer::from_writer(Vec::new());
    let header = std::iter::once("key".to_string())
        .chain(t.attributes.iter().cloned())
        .chain(t.label_columns.iter().cloned())
        .chain(std::iter::once("version".to_string()));
    w.write_record(header)?;
    for (q, a) in queries.iter().zip(answers) {
        let mut row = vec![q.key.clone()];
        for attr in &t.attributes {
            let cell = match a.matches.iter().find(|(n, _)| n == attr) {
                Some((_, true)) => "match",
                Some((_, false)) => "no-match",
                None => "",
            };
            row.push(cell.to_string());
        }
        for col in &t.label_columns {
            let value = a
                .labels
                .as_ref()
                .and_then(|l| l.iter().find(|(c, _)| c == col))
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            row.push(value);
        }
        row.push(format!("{}.{}", a.version, a.revision));
        w.write_record(&row)?;
    }
    let bytes = w.into_inner().map_err(|e| e.into_error())?;
    // The answers say who matches what: a private file, whole or not at all.
    indomain_node::private::write(path, &bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(())
}
