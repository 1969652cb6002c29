//! The node part of the demo: three organisations each run `indomain node`
//! over an SQLite database of their own, with a policy saying what each
//! peer may ask of them. Jobs are submitted to one node, proposed to the
//! others, checked against their policies, run between the nodes over QUIC,
//! and their results read back through the control sockets and checked
//! against the plaintext computation. One job asks for a column the tax
//! bureau's policy does not allow and is refused with the rule named. At
//! the end every node's audit log is verified.

use super::data::{PsiData, RegionRows};
use super::error::DemoError;
use super::jobs::{MIN_GROUP, Outcome, check_statistics, column, read_csv};
use super::nodes::{self, Site};
use super::procs::Finished;
use indomain_node::control::JobSummary;
use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

/// How long a node job may take.
const DEADLINE: Duration = Duration::from_secs(300);

/// The smallest intersection the PSI policies allow to be released.
pub const MIN_INTERSECTION: usize = 100;

/// What the demo says about a job's scope in the report.
pub const SCOPE: &str = "submit, policy checks, protocol between the nodes, receipts";

/// The three sites, in the order bank, tax bureau, statistics office.
pub struct Sites<'a> {
    pub bank: &'a Site,
    pub tax: &'a Site,
    pub stats: &'a Site,
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
) -> Result<(Vec<JobSummary>, f64), DemoError> {
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
    let mut all = vec![proposer.settle(&job.job_id, start, Some(job.state), DEADLINE)?];
    for site in others {
        all.push(site.settle(&job.job_id, start, None, DEADLINE)?);
    }
    let seconds = start.elapsed().as_secs_f64();
    if let Some(bad) = all.iter().find(|j| j.state != "completed") {
        return Err(DemoError::JobFailed {
            job: bad.job_id.clone(),
            state: bad.state.to_string(),
            detail: bad.detail.clone(),
        });
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
fn received_keys(site: &Site, job_id: &str) -> Result<BTreeSet<String>, DemoError> {
    let files = site.result_files(job_id)?;
    let [file] = files.as_slice() else {
        return Err(DemoError::Outputs {
            node: site.name.to_string(),
            job: job_id.to_string(),
            count: files.len(),
        });
    };
    let (header, rows) = read_csv(file)?;
    let id = column(&header, "id", file)?;
    Ok(rows.into_iter().map(|r| r[id].clone()).collect())
}

/// The bank proposes a PSI intersection to the tax bureau; both learn it.
pub fn intersection(sites: &Sites, psi: &PsiData) -> Result<Outcome, DemoError> {
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
                .join("results")
                .join(bank.name)
                .join("demo-overlap/intersection.csv")
                .display()
        ),
        check,
        parties: party_lines(&[bank, tax], &jobs),
        scope: SCOPE,
    })
}

/// The bank proposes a PSI join to the tax bureau: both end with the
/// shared customers' ids in one common order, to align their rows.
pub fn join(sites: &Sites, psi: &PsiData) -> Result<Outcome, DemoError> {
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
    let ordered = |site: &Site| -> Result<Vec<String>, DemoError> {
        let files = site.result_files("demo-align")?;
        let file = files.first().ok_or_else(|| DemoError::Outputs {
            node: site.name.to_string(),
            job: "demo-align".to_string(),
            count: 0,
        })?;
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
pub fn intersection_sum(sites: &Sites, psi: &PsiData) -> Result<Outcome, DemoError> {
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
    let cell = |site: &Site, file: &str, name: &str| -> Result<String, DemoError> {
        let path = site
            .dir
            .join("results")
            .join(tax.name)
            .join("demo-tax-sum")
            .join(file);
        let (header, rows) = read_csv(&path)?;
        let c = column(&header, name, &path)?;
        rows.first()
            .map(|r| r[c].clone())
            .ok_or(DemoError::NoResultRow { path })
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
    let bank_has_sum = bank
        .dir
        .join("results")
        .join(tax.name)
        .join("demo-tax-sum/sum.csv")
        .exists();
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
pub fn cardinality(sites: &Sites, psi: &PsiData) -> Result<Outcome, DemoError> {
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
    let file = files
        .first()
        .ok_or(DemoError::Missing("the tax bureau received no output"))?;
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
/// over its own and the bank's incomes, with the result to itself; the
/// tax bureau deals the randomness of the secure comparison that decides
/// suppression (it reads no data and learns nothing), so no party learns
/// the small region's count.
pub fn statistics(sites: &Sites, inputs: &[RegionRows]) -> Result<Outcome, DemoError> {
    let (office, bank, dealer) = (sites.stats, sites.bank, sites.tax);
    let [bank_in, _, office_in] = inputs else {
        return Err(DemoError::Missing("the demo has three organisations"));
    };
    let categories = super::data::REGIONS.join(",");
    let mut spec = format!(
        "id = \"demo-incomes\"\nprotocol = \"aggregate\"\npurpose = \"income statistics\"\n\n\
         [parameters]\nstatistic = \"variance\"\ngroup_by = \"region\"\n\
         categories = \"{categories}\"\nmin_group_size = {MIN_GROUP}\n\
         dealer = \"{}\"\n\
         # Incomes are below 150,000: a tight range leaves room in the ring\n\
         # for sums of squares.\nmax_abs = 150000\nfrac_bits = 12\n",
        dealer.name
    );
    for site in [bank, office] {
        spec.push_str(&format!(
            "\n[[parties]]\nname = \"{}\"\ndataset = \"incomes\"\ncolumns = [\"region\", \"income\"]\n",
            site.name
        ));
    }
    spec.push_str(&format!(
        "\n[[parties]]\nname = \"{}\"\n\n[[outputs]]\nname = \"statistics\"\nreceiver = \"{}\"\n",
        dealer.name, office.name
    ));
    let (jobs, seconds) = run_job(office, &[bank, dealer], "incomes.toml", &spec)?;
    let files = office.result_files("demo-incomes")?;
    let file = files.first().ok_or(DemoError::Missing(
        "the statistics office received no output",
    ))?;
    // The receiver (the office) last, as the check expects.
    let contributed = [bank_in.clone(), office_in.clone()];
    let (result, check) = check_statistics(file, &contributed)?;
    let rows: usize = contributed.iter().map(|i| i.rows.len()).sum();
    Ok(Outcome {
        title: format!(
            "Node job, secure statistics: {} proposes income mean and variance by region over its own and {}'s incomes ({rows} rows); {} accepts and {} deals (no data, no result); only {} learns the result, and no party a suppressed region's count",
            office.name, bank.name, bank.name, dealer.name, office.name
        ),
        seconds,
        result,
        check,
        parties: party_lines(&[office, bank, dealer], &jobs),
        scope: SCOPE,
    })
}

/// The rule the refused job must be refused under.
const REFUSING_RULE: &str = "policy.peers.bank.allow[0].columns";

/// The bank asks for the tax bureau's `tax_paid` column (graded core) in a
/// PSI job; the tax bureau's policy refuses it, naming the rule, before
/// reading any data.
pub fn refused(sites: &Sites) -> Result<Outcome, DemoError> {
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
    // The refusal names the rule, and nothing of the tax bureau's schema:
    // not the column's grade, not even whether the column exists.
    let refused = jobs.first().is_some_and(|j| {
        j.state == "refused"
            && j.detail.starts_with(REFUSING_RULE)
            && !j.detail.contains("tax_paid")
            && !j.detail.contains("core")
    });
    let check = if refused && at_tax.state == "refused" {
        format!(
            "ok: refused by {} under {REFUSING_RULE} before any row was read, without naming the column or its grade; both nodes record the refusal",
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
