//! Differential privacy under a data holder's budget, as node jobs: the
//! bank's policy lets the statistics office compute statistics over the
//! bank's incomes for an "income release" only with differential privacy,
//! within ε = 1, δ = 10^-6 a calendar month for that receiver. The
//! statistics office asks for the mean income by region over its own and
//! the bank's rows with ε = 0.8: each party clips its incomes and adds its
//! share of discrete Gaussian noise before anything is opened, so the
//! office receives only noisy counts and sums; the bank's node charges the
//! release's ρ to its ledger (`indomain job budget` shows what remains).
//! The same job again asks more than the month has left: the bank's node
//! refuses it before reading any data, naming what remains.
//!
//! The report puts each noisy figure next to the exact one, which only
//! this harness, holding every party's rows, can compute.

use super::data::{REGIONS, RegionRows};
use super::error::DemoError;
use super::jobs::{MIN_GROUP, Outcome, column, read_csv};
use super::node_jobs::{SCOPE, Sites, party_lines, run_job};
use super::nodes::Site;
use indomain_aggregate::dp::{Clip, DpSpec};
use indomain_aggregate::stats::{DpCalibration, NoiseScale, Statistic, StatsJob};
use indomain_aggregate::sum::RealEncoding;
use indomain_node::control::BudgetLine;
use std::collections::BTreeMap;

/// The purpose under which the bank's policy requires DP.
pub const PURPOSE: &str = "income release";
/// The bank's monthly budget per receiver: ε (δ is [`BUDGET_DELTA`]).
pub const BUDGET_EPSILON: f64 = 1.0;
/// The bank's monthly δ per receiver.
pub const BUDGET_DELTA: f64 = 1e-6;
/// The ε each release asks for: one fits in the month, two do not.
const JOB_EPSILON: f64 = 0.8;
/// The bounds every income is clipped to (the generated incomes lie
/// within them).
const CLIP: (f64, f64) = (20_000.0, 120_000.0);
/// The job's declared range and encoding, as the exact statistics job's.
const MAX_ABS: f64 = 150_000.0;
const FRAC_BITS: u32 = 12;

/// The spec of the DP mean-income job with id `id`.
fn spec(sites: &Sites, id: &str) -> String {
    let (office, bank) = (sites.stats.name, sites.bank.name);
    let mut text = format!(
        "id = \"{id}\"\nprotocol = \"aggregate\"\npurpose = \"{PURPOSE}\"\n\n\
         [parameters]\nstatistic = \"mean\"\ngroup_by = \"region\"\n\
         categories = \"{}\"\nmin_group_size = {MIN_GROUP}\n\
         max_abs = {MAX_ABS}\nfrac_bits = {FRAC_BITS}\n\
         # Released with differential privacy; the noisy counts decide\n\
         # which regions are suppressed.\n\
         dp_epsilon = {JOB_EPSILON}\nclip = \"{},{}\"\n",
        REGIONS.join(","),
        CLIP.0,
        CLIP.1
    );
    for site in [bank, office] {
        text.push_str(&format!(
            "\n[[parties]]\nname = \"{site}\"\ndataset = \"incomes\"\ncolumns = [\"region\", \"income\"]\n"
        ));
    }
    text.push_str(&format!(
        "\n[[outputs]]\nname = \"statistics\"\nreceiver = \"{office}\"\n"
    ));
    text
}

/// The noise every release of [`spec`] carries, as both data parties
/// calibrate it.
fn calibration() -> Result<DpCalibration, DemoError> {
    let job = StatsJob::new(Statistic::Mean, ["income"], vec![1], MIN_GROUP as u64)
        .with_categories(REGIONS)
        .with_encoding(RealEncoding {
            frac_bits: FRAC_BITS,
            max_abs: MAX_ABS,
        });
    let clip = Clip::new(CLIP.0, CLIP.1)?;
    let dp = DpSpec {
        delta: BUDGET_DELTA,
        ..DpSpec::new(JOB_EPSILON).with_clip(clip)
    };
    Ok(DpCalibration::new(&job, &dp, 2)?)
}

/// The bank's budget for the statistics office's releases of its incomes,
/// through the bank node's control socket (as `indomain job budget`).
fn office_budget(sites: &Sites) -> Result<BudgetLine, DemoError> {
    sites
        .bank
        .budgets()?
        .into_iter()
        .find(|b| b.dataset == "incomes" && b.receiver == sites.stats.name)
        .ok_or(DemoError::Missing(
            "the bank's node shows no DP budget for the statistics office",
        ))
}

/// A budget line as `indomain job budget` prints it.
fn budget_text(b: &BudgetLine) -> String {
    format!(
        "{}  dataset {} for {}  {}: ε = {}, δ = {} (ρ = {:.6}); remaining ρ = {:.6} (ε = {:.4} at δ = {})",
        b.rule,
        b.dataset,
        b.receiver,
        b.month,
        b.epsilon,
        b.delta,
        b.rho,
        b.remaining_rho,
        b.remaining_epsilon,
        b.delta
    )
}

fn print_budget(bank: &Site, b: &BudgetLine) {
    println!("  $ indomain job budget --config {}", bank.config.display());
    println!("    {}", budget_text(b));
}

/// The statistics office's DP mean of incomes by region, spending from
/// the bank's budget.
pub fn spend(sites: &Sites, inputs: &[RegionRows]) -> Result<Outcome, DemoError> {
    let (office, bank) = (sites.stats, sites.bank);
    let [bank_in, _, office_in] = inputs else {
        return Err(DemoError::Missing("the demo has three organisations"));
    };
    let before = office_budget(sites)?;
    print_budget(bank, &before);
    let (jobs, seconds) = run_job(
        office,
        &[bank],
        "dp-incomes.toml",
        &spec(sites, "demo-dp-incomes"),
    )?;
    let after = office_budget(sites)?;
    print_budget(bank, &after);
    let files = office.result_files("demo-dp-incomes")?;
    let file = files.first().ok_or(DemoError::Missing(
        "the statistics office received no output",
    ))?;
    let calibration = calibration()?;
    let noise = calibration.noise_scale(&Statistic::Mean);
    let (mut lines, mut problems) = compare(file, &[bank_in, office_in], &noise)?;
    // The ledger charged exactly the release's ρ.
    let charged = before.remaining_rho - after.remaining_rho;
    if (charged - calibration.rho()).abs() > 1e-9 {
        problems.push(format!(
            "the bank's budget went down by ρ = {charged:.6}, the release spends ρ = {:.6}",
            calibration.rho()
        ));
    }
    lines.push(format!(
        "the bank's budget for {} this month ({}): ε = {:.4} remains of ε = {} (the release spent ρ = {charged:.6} of ρ = {:.6})",
        office.name, after.month, after.remaining_epsilon, after.epsilon, after.rho
    ));
    let check = if problems.is_empty() {
        format!(
            "ok: every released count and sum within 5.5 noise standard deviations of the exact one (σ {:.1} rows on a count, {:.0} on a sum); the bank's ledger charged the release's ρ",
            noise.count,
            noise.sum.unwrap_or_default()
        )
    } else {
        format!("MISMATCH: {}", problems.join("; "))
    };
    Ok(Outcome {
        title: format!(
            "Node job with differential privacy: {} asks for the mean income by region over its own and {}'s incomes with ε = {JOB_EPSILON}; {}'s policy requires DP for this purpose, within ε = {BUDGET_EPSILON}, δ = {BUDGET_DELTA:e} a month per receiver",
            office.name, bank.name, bank.name
        ),
        seconds,
        result: format!(
            "ε = {:.4} achieved (δ = {BUDGET_DELTA:e}, zCDP accounting); each party's noise share alone carries the noise\n{}",
            calibration.epsilon(),
            lines.join("\n")
        ),
        check,
        parties: party_lines(&[office, bank], &jobs),
        scope: SCOPE,
    })
}

/// The same release again: the bank's node refuses it for the exhausted
/// budget, before any data is read, naming what remains.
pub fn refused(sites: &Sites) -> Result<Outcome, DemoError> {
    let (office, bank) = (sites.stats, sites.bank);
    let before = office_budget(sites)?;
    let id = "demo-dp-incomes-again";
    let (jobs, seconds) = run_job(office, &[], "dp-incomes-again.toml", &spec(sites, id))?;
    let after = office_budget(sites)?;
    print_budget(bank, &after);
    let job = jobs
        .first()
        .ok_or(DemoError::Missing("no answer to the submission"))?;
    let remains = format!(
        "remains (ε = {:.4} at δ = {})",
        before.remaining_epsilon, before.delta
    );
    let exhausted = format!(
        "the DP budget of dataset incomes for {} for {} is exhausted for this job",
        office.name, before.month
    );
    let read_nothing = !bank.dir.join("results").join(office.name).join(id).exists();
    let refused = job.state == "refused"
        && job.detail.starts_with(&before.rule)
        && job.detail.contains(&exhausted)
        && job.detail.contains(&remains)
        && job.detail.contains(&format!("refused by {}", bank.name));
    let check = if refused && read_nothing && after.remaining_rho == before.remaining_rho {
        format!(
            "ok: refused by {} under {} before any row was read, naming the ε that remains; the budget is unchanged",
            bank.name, before.rule
        )
    } else {
        format!(
            "MISMATCH: expected a refusal under {} naming ε = {:.4}; got {}: {}; remaining ρ {:.6} before, {:.6} after",
            before.rule,
            before.remaining_epsilon,
            job.state,
            job.detail,
            before.remaining_rho,
            after.remaining_rho
        )
    };
    Ok(Outcome {
        title: format!(
            "Node job refused for an exhausted DP budget: {} asks for the same release (ε = {JOB_EPSILON}) again this month",
            office.name
        ),
        seconds,
        result: format!("{}: {}", job.state, job.detail),
        check,
        parties: Vec::new(),
        scope: "submit, policy and budget check",
    })
}

/// Each region's noisy count and mean next to the exact ones, and the
/// problems: a released count or sum further than 5.5 standard deviations
/// from the exact one (a false alarm has probability below 10^-6 over the
/// table), or a region suppressed although its noisy count could hardly
/// have been below the minimum.
fn compare(
    out: &std::path::Path,
    inputs: &[&RegionRows],
    noise: &NoiseScale,
) -> Result<(Vec<String>, Vec<String>), DemoError> {
    let mut exact: BTreeMap<&str, (i64, f64)> = BTreeMap::new();
    for (region, income) in inputs.iter().flat_map(|r| &r.rows) {
        let e = exact.entry(region).or_default();
        e.0 += 1;
        e.1 += income.clamp(CLIP.0, CLIP.1);
    }
    let (header, rows) = read_csv(out)?;
    let [g, status, count, sum, mean] =
        ["group", "status", "count", "sum", "mean"].map(|name| column(&header, name, out));
    let (g, status, count, sum, mean) = (g?, status?, count?, sum?, mean?);
    let sum_sd = noise
        .sum
        .ok_or(DemoError::Missing("a mean's noise has no sum component"))?;
    let mut lines = Vec::new();
    let mut problems = Vec::new();
    for row in &rows {
        let region = row[g].as_str();
        let (n, total) = exact.get(region).copied().unwrap_or_default();
        if row[status] == "suppressed" {
            if n as f64 > MIN_GROUP as f64 + 5.5 * noise.count {
                problems.push(format!("{region} suppressed with {n} rows"));
            }
            lines.push(format!("{region}: suppressed (exact count {n})"));
            continue;
        }
        let parsed = (
            row[count].parse::<f64>(),
            row[sum].parse::<f64>(),
            row[mean].parse::<f64>(),
        );
        let (Ok(noisy_n), Ok(noisy_sum), Ok(noisy_mean)) = parsed else {
            problems.push(format!("{region}: unreadable count, sum or mean"));
            continue;
        };
        if (noisy_n - n as f64).abs() > 5.5 * noise.count {
            problems.push(format!("{region}: count {noisy_n} vs exact {n}"));
        }
        if (noisy_sum - total).abs() > 5.5 * sum_sd {
            problems.push(format!("{region}: sum {noisy_sum} vs exact {total}"));
        }
        let exact_mean = total / n.max(1) as f64;
        lines.push(format!(
            "{region}: mean {noisy_mean:.2} (exact {exact_mean:.2}, error {:+.2}), count {noisy_n} (exact {n})",
            noisy_mean - exact_mean
        ));
    }
    if lines.is_empty() {
        problems.push("no region in the result".into());
    }
    Ok((lines, problems))
}
