//! The demo's report type, CSV helpers, SecAgg+ (which runs in one
//! process, outside the node) and the plaintext check of the statistics
//! result.

use super::data::{self, RegionRows};
use super::error::DemoError;
use super::procs::Finished;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

/// The smallest group the statistics job releases.
pub const MIN_GROUP: usize = 5;

/// The scope of a job run as party processes of the command line.
pub const PROCESSES: &str = "processes started, connected, computed, exited";

/// What one job reports.
pub struct Outcome {
    /// The job's title.
    pub title: String,
    /// Wall time of the whole job, processes included.
    pub seconds: f64,
    /// What the secure computation produced, in words.
    pub result: String,
    /// The plaintext check, in words (starts with "ok" or "MISMATCH").
    pub check: String,
    /// Every party's summary, as it printed it.
    pub parties: Vec<Finished>,
    /// What the time covers.
    pub scope: &'static str,
}

impl Outcome {
    /// Whether the secure result matched the plaintext one.
    pub fn passed(&self) -> bool {
        self.check.starts_with("ok")
    }
}

pub fn read_csv(path: &Path) -> Result<(Vec<String>, Vec<Vec<String>>), DemoError> {
    let mut r = csv::Reader::from_path(path).map_err(DemoError::csv(path))?;
    let header = r
        .headers()
        .map_err(DemoError::csv(path))?
        .iter()
        .map(str::to_string)
        .collect();
    let rows = r
        .records()
        .map(|rec| {
            rec.map(|r| r.iter().map(str::to_string).collect())
                .map_err(DemoError::csv(path))
        })
        .collect::<Result<_, _>>()?;
    Ok((header, rows))
}

pub fn column(header: &[String], name: &str, path: &Path) -> Result<usize, DemoError> {
    header
        .iter()
        .position(|h| h == name)
        .ok_or_else(|| DemoError::NoColumn {
            path: path.to_path_buf(),
            column: name.to_string(),
        })
}

/// Checks a statistics result file (income mean and variance by region,
/// groups under `MIN_GROUP` rows suppressed) against the plaintext
/// computation over every agency's rows; the last agency is the receiver,
/// whose own rows do not count towards the minimum. Returns the result and
/// the check, in words.
pub fn check_statistics(out: &Path, inputs: &[RegionRows]) -> Result<(String, String), DemoError> {
    let expected = data::plaintext_stats(inputs);
    let (header, rows) = read_csv(out)?;
    let [g, status, mean, var] =
        ["group", "status", "mean", "variance"].map(|name| column(&header, name, out));
    let (g, status, mean, var) = (g?, status?, mean?, var?);
    let mut result = BTreeMap::new();
    let mut problems = Vec::new();
    for row in &rows {
        let region = row[g].as_str();
        let Some(&(count, pmean, pvar)) = expected.get(region) else {
            problems.push(format!("unexpected group {region}"));
            continue;
        };
        let suppressed = row[status] == "suppressed";
        // The receiver's own rows do not count towards the minimum.
        let own = inputs
            .last()
            .map_or(0, |i| i.rows.iter().filter(|(r, _)| *r == region).count());
        if suppressed != (count - own < MIN_GROUP) {
            problems.push(format!(
                "{region}: status {} with {count} rows",
                row[status]
            ));
        }
        if suppressed {
            result.insert(region.to_string(), "suppressed".to_string());
            continue;
        }
        let (m, v): (f64, f64) = match (row[mean].parse(), row[var].parse()) {
            (Ok(m), Ok(v)) => (m, v),
            _ => {
                problems.push(format!("{region}: unreadable mean/variance"));
                continue;
            }
        };
        // Fixed point (12 fractional bits) on incomes up to 1.2e5: allow a
        // relative error of 1e-6 on the moments.
        if (m - pmean).abs() > 1e-6 * pmean.abs().max(1.0)
            || (v - pvar).abs() > 1e-6 * pvar.abs().max(1.0)
        {
            problems.push(format!(
                "{region}: mean {m} vs {pmean}, variance {v} vs {pvar}"
            ));
        }
        result.insert(region.to_string(), format!("mean {m:.2}, variance {v:.4e}"));
    }
    let check = if problems.is_empty() {
        format!(
            "ok: released groups match plaintext mean/variance (rel. error < 1e-6); groups under {MIN_GROUP} rows suppressed"
        )
    } else {
        format!("MISMATCH: {}", problems.join("; "))
    };
    let result = result
        .iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect::<Vec<_>>()
        .join("\n");
    Ok((result, check))
}

/// Secure aggregation of model updates, as a researcher embeds it: the
/// server and every client run in this process, a thread each, over
/// in-memory links; some clients vanish mid-round.
pub fn secure_aggregation() -> Result<Outcome, DemoError> {
    use indomain_aggregate::secagg::Params;
    use indomain_aggregate::secagg::sim::{Dropout, simulate_round};
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};

    const CLIENTS: usize = 40;
    const LEN: usize = 10_000;
    const DROPPED: [usize; 4] = [3, 11, 22, 35];
    let params = Params::new(CLIENTS, LEN, 16, 1000.0)?;
    let mut rng = StdRng::seed_from_u64(11);
    let updates: Vec<Vec<f64>> = (0..CLIENTS)
        .map(|_| (0..LEN).map(|_| rng.random_range(-1.0..1.0)).collect())
        .collect();
    let mut plan = vec![Dropout::Never; CLIENTS];
    for &u in &DROPPED {
        plan[u] = Dropout::BeforeMaskedInput;
    }
    let start = Instant::now();
    let round = simulate_round(&params, &updates, &plan, indomain_net::Limits::default())?;
    let seconds = start.elapsed().as_secs_f64();
    let out = &round.output;
    let worst = (0..LEN)
        .map(|i| {
            let want: f64 = out.survivors.iter().map(|&u| updates[u][i]).sum();
            (out.sum[i] - want).abs()
        })
        .fold(0.0, f64::max);
    // Each of up to 40 encoded inputs is off by at most half an ulp (2^-17).
    let tolerance = CLIENTS as f64 * 2f64.powi(-17);
    let dropped_ok = out.left_out.len() == DROPPED.len();
    let check = if worst <= tolerance && dropped_ok {
        format!(
            "ok: sum of the {} survivors' updates, max error {worst:.1e} (bound {tolerance:.1e})",
            out.survivors.len()
        )
    } else {
        format!(
            "MISMATCH: max error {worst:.1e}, {} left out",
            out.left_out.len()
        )
    };
    let per_client = round.client_bytes[out.survivors[0]];
    Ok(Outcome {
        title: format!(
            "Secure aggregation (SecAgg+): {CLIENTS} clients × {LEN} values, {} vanish mid-round — library use, one process, a thread per party",
            DROPPED.len()
        ),
        seconds,
        result: format!(
            "the server learns only the sum of the survivors' updates; neighbours k = {}, threshold t = {}; a client sent {} and received {} bytes",
            params.neighbours, params.threshold, per_client.sent, per_client.received
        ),
        check,
        parties: Vec::new(),
        scope: "in this process",
    })
}
