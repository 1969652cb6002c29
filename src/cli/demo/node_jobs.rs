//! The node part of the demo: three organisations each run `indomain node`
//! over an SQLite database of their own, with a policy saying what each
//! peer may ask of them. Jobs are submitted to one node, proposed to the
//! others, checked against their policies, run between the nodes over QUIC,
//! and their results read back through the control sockets and checked
//! against the plaintext computation. One job asks for a column the tax
//! bureau's policy does not allow and is refused with the rule named. At
//! the end every node's audit log is verified.

use super::data::{PsiData, RegionRows};
use super::jobs::{MIN_GROUP, Outcome, check_statistics, column, read_csv};
use super::nodes::{self, Site};
use super::procs::Finished;
use super::training::MIN_ROWS;
use indomain_node::control::JobSummary;
use rusqlite::{Connection, params};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long a node job may take.
const DEADLINE: Duration = Duration::from_secs(300);

/// The smallest intersection the PSI policies allow to be released.
const MIN_INTERSECTION: usize = 100;

/// What the demo says about a job's scope in the report.
pub const SCOPE: &str = "submit, policy checks, protocol between the nodes, receipts";

/// The three sites, in the order bank, tax bureau, statistics office.
pub struct Sites<'a> {
    pub bank: &'a Site,
    pub tax: &'a Site,
    pub stats: &'a Site,
}

fn sql(e: rusqlite::Error) -> String {
    format!("SQLite: {e}")
}

/// Writes each organisation's database: the bank's customers, the tax
/// bureau's taxpayers, and everyone's incomes by region.
pub fn write_databases(
    sites: &Sites,
    psi: &PsiData,
    incomes: &[RegionRows],
    training: &(PathBuf, PathBuf),
) -> Result<(), String> {
    let open = |site: &Site| {
        let path = site.dir.join(format!("{}.db", site.name));
        let _ = std::fs::remove_file(&path);
        Connection::open(&path).map_err(sql)
    };
    let keyed = |conn: &mut Connection, table: &str, value: &str, rows: &[(String, u64)]| {
        let tx = conn.transaction().map_err(sql)?;
        tx.execute(
            &format!("CREATE TABLE {table} (id TEXT NOT NULL, {value} INTEGER NOT NULL)"),
            [],
        )
        .map_err(sql)?;
        {
            let mut insert = tx
                .prepare(&format!("INSERT INTO {table} VALUES (?1, ?2)"))
                .map_err(sql)?;
            for (id, v) in rows {
                insert.execute(params![id, *v as i64]).map_err(sql)?;
            }
        }
        tx.commit().map_err(sql)
    };
    let regional = |conn: &mut Connection, rows: &RegionRows| {
        let tx = conn.transaction().map_err(sql)?;
        tx.execute(
            "CREATE TABLE incomes (region TEXT NOT NULL, income REAL NOT NULL)",
            [],
        )
        .map_err(sql)?;
        {
            let mut insert = tx
                .prepare("INSERT INTO incomes VALUES (?1, ?2)")
                .map_err(sql)?;
            for (region, income) in &rows.rows {
                insert.execute(params![region, income]).map_err(sql)?;
            }
        }
        tx.commit().map_err(sql)
    };
    let [bank_in, tax_in, stats_in] = incomes else {
        return Err("the demo has three organisations".into());
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
fn import_csv(conn: &mut Connection, table: &str, path: &Path) -> Result<(), String> {
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
    let tx = conn.transaction().map_err(sql)?;
    tx.execute(
        &format!("CREATE TABLE {table} ({})", columns.join(", ")),
        [],
    )
    .map_err(sql)?;
    {
        let marks: Vec<String> = (1..=header.len()).map(|i| format!("?{i}")).collect();
        let mut insert = tx
            .prepare(&format!(
                "INSERT INTO {table} VALUES ({})",
                marks.join(", ")
            ))
            .map_err(sql)?;
        for row in &rows {
            let values: Vec<rusqlite::types::Value> = header
                .iter()
                .zip(row)
                .map(|(c, v)| match sql_type(c) {
                    "TEXT" => Ok(rusqlite::types::Value::Text(v.clone())),
                    "INTEGER" => v
                        .parse()
                        .map(rusqlite::types::Value::Integer)
                        .map_err(|e| format!("{}: {v:?}: {e}", path.display())),
                    _ => v
                        .parse()
                        .map(rusqlite::types::Value::Real)
                        .map_err(|e| format!("{}: {v:?}: {e}", path.display())),
                })
                .collect::<Result<_, String>>()?;
            insert
                .execute(rusqlite::params_from_iter(values))
                .map_err(sql)?;
        }
    }
    tx.commit().map_err(sql)
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
    // The statistics office may compute statistics over everyone's incomes
    // by region, for itself alone, never releasing a group under the
    // minimum size.
    let statistics = format!(
        "\n[[policy.peers.{office}.allow]]\nprotocols = [\"aggregate\"]\n\
         datasets = [\"incomes\"]\ngrades = [\"public\", \"sensitive\"]\n\
         outputs = {{ statistics = [\"{office}\"] }}\nmin_group_size = {MIN_GROUP}\n"
    );
    // The bank may train a credit model with the tax bureau's features and
    // the statistics office as dealer; each data party keeps its own model
    // part, the bank the metrics.
    let training = |datasets: &str, grades: &str| {
        format!(
            "\n[[policy.peers.{bank}.allow]]\nprotocols = [\"train\"]\npurposes = [\"credit model\"]\n\
             datasets = [{datasets}]\ngrades = [{grades}]\n\
             outputs = {{ model = [\"{bank}\", \"{tax}\"], metrics = [\"{bank}\"] }}\n\
             min_group_size = {MIN_ROWS}\n"
        )
    };
    if site.name == office {
        return training("\"incomes\"", "\"public\"");
    }
    if site.name == tax {
        // The bank may find the shared customers by id, both learning them.
        format!(
            "[[policy.peers.{bank}.allow]]\nprotocols = [\"psi-intersection\", \"psi-join\"]\n\
             purposes = [\"customer overlap\"]\ndatasets = [\"taxpayers\"]\n\
             columns = [\"id\"]\ngrades = [\"internal\"]\n\
             outputs = {{ intersection = [\"{bank}\", \"{tax}\"], alignment = [\"{bank}\", \"{tax}\"] }}\n\
             min_intersection = {MIN_INTERSECTION}\nnot_after = 2100-01-01T00:00:00Z\n{statistics}{}",
            training("\"credit\"", "\"internal\", \"sensitive\"")
        )
    } else if site.name == bank {
        // The tax bureau may learn how many customers are shared, not which.
        format!(
            "[[policy.peers.{tax}.allow]]\nprotocols = [\"psi-cardinality\", \"psi-sum\"]\n\
             datasets = [\"customers\"]\ncolumns = [\"id\"]\ngrades = [\"internal\"]\n\
             outputs = {{ cardinality = [\"{tax}\", \"{bank}\"], sum = [\"{tax}\"] }}\n\
             min_intersection = {MIN_INTERSECTION}\nmax_jobs_per_hour = 10\n{statistics}"
        )
    } else {
        String::new()
    }
}

fn psi_spec(
    id: &str,
    protocol: &str,
    purpose: &str,
    parties: [(&str, &str, &str); 2],
    output: &str,
    receivers: &[&str],
) -> String {
    let mut text = format!(
        "id = \"{id}\"\nprotocol = \"{protocol}\"\npurpose = \"{purpose}\"\n\n\
         [parameters]\nmin_intersection = {MIN_INTERSECTION}\n"
    );
    for (name, dataset, columns) in parties {
        text.push_str(&format!(
            "\n[[parties]]\nname = \"{name}\"\ndataset = \"{dataset}\"\ncolumns = {columns}\n"
        ));
    }
    for r in receivers {
        text.push_str(&format!(
            "\n[[outputs]]\nname = \"{output}\"\nreceiver = \"{r}\"\n"
        ));
    }
    text
}

/// Submits `spec` at `proposer`, prints the answer, and waits for the job
/// to settle on every party. Returns each party's final summary
/// (proposer first) and the wall time from submit to the last party.
pub fn run_job(
    proposer: &Site,
    others: &[&Site],
    file: &str,
    spec: &str,
) -> Result<(Vec<JobSummary>, f64), String> {
    let start = Instant::now();
    println!(
        "  $ indomain job submit --config {} {}",
        proposer.config.display(),
        proposer.dir.join("jobs").join(file).display()
    );
    let job = proposer.submit(file, spec)?;
    nodes::progress(
        start,
        proposer.name,
        &format!("{}: {}", job.state, job.detail),
    );
    if job.state == "refused" {
        return Ok((vec![job], start.elapsed().as_secs_f64()));
    }
    let mut all = vec![proposer.settle(&job.job_id, start, job.state.clone(), DEADLINE)?];
    for site in others {
        all.push(site.settle(&job.job_id, start, String::new(), DEADLINE)?);
    }
    let seconds = start.elapsed().as_secs_f64();
    if let Some(bad) = all.iter().find(|j| j.state != "completed") {
        return Err(format!(
            "job {} is {} on a node: {}",
            bad.job_id, bad.state, bad.detail
        ));
    }
    Ok((all, seconds))
}

pub fn party_lines(sites: &[&Site], jobs: &[JobSummary]) -> Vec<Finished> {
    sites
        .iter()
        .zip(jobs)
        .map(|(s, j)| Finished {
            label: s.name.to_string(),
            stdout: format!("{}: {}", j.state, j.detail),
            stderr: String::new(),
        })
        .collect()
}

fn plaintext_intersection(psi: &PsiData) -> BTreeSet<String> {
    let tax: BTreeSet<&String> = psi.tax.iter().map(|(k, _)| k).collect();
    psi.bank
        .iter()
        .filter(|(k, _)| tax.contains(k))
        .map(|(k, _)| k.clone())
        .collect()
}

/// The `id` column of the one output file `site` received for `job_id`.
fn received_keys(site: &Site, job_id: &str) -> Result<BTreeSet<String>, String> {
    let files = site.result_files(job_id)?;
    let [file] = files.as_slice() else {
        return Err(format!(
            "{} holds {} output files for {job_id}",
            site.name,
            files.len()
        ));
    };
    let (header, rows) = read_csv(file)?;
    let id = column(&header, "id", file)?;
    Ok(rows.into_iter().map(|r| r[id].clone()).collect())
}

/// The bank proposes a PSI intersection to the tax bureau; both learn it.
pub fn intersection(sites: &Sites, psi: &PsiData) -> Result<Outcome, String> {
    let (bank, tax) = (sites.bank, sites.tax);
    let spec = psi_spec(
        "demo-overlap",
        "psi-intersection",
        "customer overlap",
        [
            (bank.name, "customers", "[\"id\"]"),
            (tax.name, "taxpayers", "[\"id\"]"),
        ],
        "intersection",
        &[bank.name, tax.name],
    );
    let (jobs, seconds) = run_job(bank, &[tax], "overlap.toml", &spec)?;
    let expected = plaintext_intersection(psi);
    let bank_keys = received_keys(bank, "demo-overlap")?;
    let tax_keys = received_keys(tax, "demo-overlap")?;
    let check = if bank_keys == expected && tax_keys == expected {
        format!(
            "ok: both nodes' outputs equal the plaintext intersection ({} keys)",
            expected.len()
        )
    } else {
        format!(
            "MISMATCH: plaintext {} keys, bank received {}, tax-bureau {}",
            expected.len(),
            bank_keys.len(),
            tax_keys.len()
        )
    };
    Ok(Outcome {
        title: format!(
            "Node job, PSI intersection: {} proposes, {} ({} taxpayers) accepts under its policy; both learn the shared customers",
            bank.name,
            tax.name,
            psi.tax.len()
        ),
        seconds,
        result: format!(
            "{} shared customers, in {}",
            bank_keys.len(),
            bank.dir
                .join("results/demo-overlap/intersection.csv")
                .display()
        ),
        check,
        parties: party_lines(&[bank, tax], &jobs),
        scope: SCOPE,
    })
}

/// The bank proposes a PSI join to the tax bureau: both end with the
/// shared customers' ids in one common order, to align their rows.
pub fn join(sites: &Sites, psi: &PsiData) -> Result<Outcome, String> {
    let (bank, tax) = (sites.bank, sites.tax);
    let spec = psi_spec(
        "demo-align",
        "psi-join",
        "customer overlap",
        [
            (bank.name, "customers", "[\"id\"]"),
            (tax.name, "taxpayers", "[\"id\"]"),
        ],
        "alignment",
        &[bank.name, tax.name],
    );
    let (jobs, seconds) = run_job(bank, &[tax], "align.toml", &spec)?;
    let expected = plaintext_intersection(psi);
    let ordered = |site: &Site| -> Result<Vec<String>, String> {
        let files = site.result_files("demo-align")?;
        let file = files
            .first()
            .ok_or_else(|| format!("{} received no alignment", site.name))?;
        let (header, rows) = read_csv(file)?;
        let id = column(&header, "id", file)?;
        Ok(rows.into_iter().map(|r| r[id].clone()).collect())
    };
    let (at_bank, at_tax) = (ordered(bank)?, ordered(tax)?);
    let same_set = at_bank.iter().cloned().collect::<BTreeSet<_>>() == expected;
    let check = if same_set && at_bank == at_tax {
        format!(
            "ok: {} ids on each side, the plaintext intersection, in one order on both",
            at_bank.len()
        )
    } else {
        format!(
            "MISMATCH: plaintext {} keys, bank {} ids, tax-bureau {} ids, same order: {}",
            expected.len(),
            at_bank.len(),
            at_tax.len(),
            at_bank == at_tax
        )
    };
    Ok(Outcome {
        title: format!(
            "Node job, PSI join: {} proposes, {} accepts; both get the shared customers in one order, to align their rows",
            bank.name, tax.name
        ),
        seconds,
        result: format!(
            "{} aligned ids; row i is the same customer at both",
            at_bank.len()
        ),
        check,
        parties: party_lines(&[bank, tax], &jobs),
        scope: SCOPE,
    })
}

/// The tax bureau proposes a PSI intersection-sum to the bank: both learn
/// how many customers are shared, the tax bureau the total tax they paid.
pub fn intersection_sum(sites: &Sites, psi: &PsiData) -> Result<Outcome, String> {
    let (bank, tax) = (sites.bank, sites.tax);
    let mut spec = psi_spec(
        "demo-tax-sum",
        "psi-sum",
        "tax paid by shared customers",
        [
            (bank.name, "customers", "[\"id\"]"),
            (tax.name, "taxpayers", "[\"id\", \"tax_paid\"]"),
        ],
        "cardinality",
        &[bank.name, tax.name],
    );
    spec = spec.replace(
        "[parameters]\n",
        "[parameters]\nvalue_column = \"tax_paid\"\n",
    );
    spec.push_str(&format!(
        "\n[[outputs]]\nname = \"sum\"\nreceiver = \"{}\"\n",
        tax.name
    ));
    let (jobs, seconds) = run_job(tax, &[bank], "tax-sum.toml", &spec)?;
    let cell = |site: &Site, file: &str, name: &str| -> Result<String, String> {
        let path = site.dir.join("results/demo-tax-sum").join(file);
        let (header, rows) = read_csv(&path)?;
        let c = column(&header, name, &path)?;
        rows.first()
            .map(|r| r[c].clone())
            .ok_or_else(|| format!("{}: no result row", path.display()))
    };
    let shared = plaintext_intersection(psi);
    let expected_sum: u64 = psi
        .tax
        .iter()
        .filter(|(k, _)| shared.contains(k))
        .map(|(_, v)| v)
        .sum();
    let got_sum = cell(tax, "sum.csv", "sum")?;
    let bank_count = cell(bank, "cardinality.csv", "intersection_size")?;
    let tax_count = cell(tax, "cardinality.csv", "intersection_size")?;
    let bank_has_sum = bank.dir.join("results/demo-tax-sum/sum.csv").exists();
    let count = shared.len().to_string();
    let check = if got_sum == expected_sum.to_string()
        && bank_count == count
        && tax_count == count
        && !bank_has_sum
    {
        format!("ok: sum {expected_sum} and count {count} equal the plaintext; the bank has no sum")
    } else {
        format!(
            "MISMATCH: plaintext sum {expected_sum} count {count}; secure sum {got_sum}, counts {bank_count} (bank) {tax_count} (tax-bureau); sum at the bank: {bank_has_sum}"
        )
    };
    Ok(Outcome {
        title: format!(
            "Node job, PSI intersection-sum: {} proposes, {} accepts; total tax paid by the shared customers",
            tax.name, bank.name
        ),
        seconds,
        result: format!(
            "{} learns count {tax_count} and sum {got_sum}; {} learns count {bank_count}; nobody learns which customers",
            tax.name, bank.name
        ),
        check,
        parties: party_lines(&[tax, bank], &jobs),
        scope: SCOPE,
    })
}

/// The tax bureau proposes a PSI cardinality job to the bank and alone
/// learns how many customers are shared.
pub fn cardinality(sites: &Sites, psi: &PsiData) -> Result<Outcome, String> {
    let (bank, tax) = (sites.bank, sites.tax);
    let spec = psi_spec(
        "demo-count",
        "psi-cardinality",
        "how many of our taxpayers bank here",
        [
            (tax.name, "taxpayers", "[\"id\"]"),
            (bank.name, "customers", "[\"id\"]"),
        ],
        "cardinality",
        &[tax.name],
    );
    let (jobs, seconds) = run_job(tax, &[bank], "count.toml", &spec)?;
    let expected = plaintext_intersection(psi).len();
    let files = tax.result_files("demo-count")?;
    let file = files.first().ok_or("the tax bureau received no output")?;
    let (header, rows) = read_csv(file)?;
    let c = column(&header, "intersection_size", file)?;
    let got = rows.first().map(|r| r[c].clone()).unwrap_or_default();
    let bank_files = bank.result_files("demo-count")?.len();
    let check = if got == expected.to_string() && bank_files == 0 {
        format!("ok: equals the plaintext count {expected}; the bank received nothing")
    } else {
        format!("MISMATCH: plaintext {expected}, secure {got}, files at the bank {bank_files}")
    };
    Ok(Outcome {
        title: format!(
            "Node job, PSI cardinality: {} proposes, {} accepts; only {} learns how many customers are shared",
            tax.name, bank.name, tax.name
        ),
        seconds,
        result: format!("|intersection| = {got}; no party learns which keys match"),
        check,
        parties: party_lines(&[tax, bank], &jobs),
        scope: SCOPE,
    })
}

/// The statistics office proposes income mean and variance by region
/// over all three organisations' incomes, with the result to itself.
pub fn statistics(sites: &Sites, inputs: &[RegionRows]) -> Result<Outcome, String> {
    let office = sites.stats;
    let categories = super::data::REGIONS.join(",");
    let mut spec = format!(
        "id = \"demo-incomes\"\nprotocol = \"aggregate\"\npurpose = \"income statistics\"\n\n\
         [parameters]\nstatistic = \"variance\"\ngroup_by = \"region\"\n\
         categories = \"{categories}\"\nmin_group_size = {MIN_GROUP}\n\
         # Incomes are below 150,000: a tight range leaves room in the ring\n\
         # for sums of squares.\nmax_abs = 150000\nfrac_bits = 12\n"
    );
    for site in [sites.bank, sites.tax, office] {
        spec.push_str(&format!(
            "\n[[parties]]\nname = \"{}\"\ndataset = \"incomes\"\ncolumns = [\"region\", \"income\"]\n",
            site.name
        ));
    }
    spec.push_str(&format!(
        "\n[[outputs]]\nname = \"statistics\"\nreceiver = \"{}\"\n",
        office.name
    ));
    let (jobs, seconds) = run_job(office, &[sites.bank, sites.tax], "incomes.toml", &spec)?;
    let files = office.result_files("demo-incomes")?;
    let file = files
        .first()
        .ok_or("the statistics office received no output")?;
    let (result, check) = check_statistics(file, inputs)?;
    let rows: usize = inputs.iter().map(|i| i.rows.len()).sum();
    Ok(Outcome {
        title: format!(
            "Node job, secure statistics: {} proposes income mean and variance by region over the three organisations' incomes ({rows} rows); {} and {} accept; only {} learns the result",
            office.name, sites.bank.name, sites.tax.name, office.name
        ),
        seconds,
        result,
        check,
        parties: party_lines(&[office, sites.bank, sites.tax], &jobs),
        scope: SCOPE,
    })
}

/// The rule the refused job must be refused under.
const REFUSING_RULE: &str = "policy.peers.bank.allow[0].columns";

/// The bank asks for the tax bureau's `tax_paid` column (graded core) in a
/// PSI job; the tax bureau's policy refuses it, naming the rule, before
/// reading any data.
pub fn refused(sites: &Sites) -> Result<Outcome, String> {
    let (bank, tax) = (sites.bank, sites.tax);
    let spec = psi_spec(
        "demo-overreach",
        "psi-intersection",
        "customer overlap",
        [
            (bank.name, "customers", "[\"id\"]"),
            (tax.name, "taxpayers", "[\"id\", \"tax_paid\"]"),
        ],
        "intersection",
        &[bank.name],
    );
    let (jobs, seconds) = run_job(bank, &[], "overreach.toml", &spec)?;
    let at_tax = tax.status("demo-overreach")?;
    let refused = jobs.first().is_some_and(|j| {
        j.state == "refused" && j.detail.starts_with(REFUSING_RULE) && j.detail.contains("tax_paid")
    });
    let check = if refused && at_tax.state == "refused" {
        format!(
            "ok: refused by {} under {REFUSING_RULE} before any row was read; both nodes record the refusal",
            tax.name
        )
    } else {
        format!(
            "MISMATCH: expected a refusal under {REFUSING_RULE}; bank: {} {}, tax-bureau: {} {}",
            jobs.first().map_or("", |j| j.state.as_str()),
            jobs.first().map_or("", |j| j.detail.as_str()),
            at_tax.state,
            at_tax.detail
        )
    };
    Ok(Outcome {
        title: format!(
            "Node job outside policy: {} asks {} for its core-graded tax_paid column",
            bank.name, tax.name
        ),
        seconds,
        result: jobs
            .first()
            .map(|j| format!("{}: {}", j.state, j.detail))
            .unwrap_or_default(),
        check,
        parties: Vec::new(),
        scope: "submit and policy check",
    })
}

/// `indomain audit verify` on every node's log, once the nodes stopped.
pub fn audit(exe: &Path, sites: &[Site]) -> Outcome {
    let start = Instant::now();
    let mut lines = Vec::new();
    let mut bad = Vec::new();
    for site in sites {
        match site.audit_verify(exe) {
            Ok(summary) if summary.contains(": OK") => lines.push(format!(
                "{}: {}",
                site.name,
                summary
                    .rsplit_once(": ")
                    .map_or(summary.as_str(), |(_, s)| s)
            )),
            Ok(summary) => bad.push(format!("{}: {summary}", site.name)),
            Err(e) => bad.push(format!("{}: {e}", site.name)),
        }
    }
    let check = if bad.is_empty() {
        "ok: every node's hash chain, signatures and peers' receipts verify".to_string()
    } else {
        format!("MISMATCH: {}", bad.join("; "))
    };
    lines.extend(bad);
    Outcome {
        title: "Audit trail: `indomain audit verify --config node.toml` on every node".into(),
        seconds: start.elapsed().as_secs_f64(),
        result: lines.join("\n"),
        check,
        parties: Vec::new(),
        scope: "three verifications",
    }
}
