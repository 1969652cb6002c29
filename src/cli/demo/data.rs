//! The demo's generated data: what each agency holds, and the plaintext
//! answers the report checks the secure results against.
//!
//! The demo harness generates every party's file, so it alone can compute
//! the plaintext answers; the parties never see each other's files.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use std::collections::BTreeMap;

/// Regions of the aggregation job; the last is tiny and must be suppressed.
pub const REGIONS: [&str; 4] = ["north", "south", "east", "islands"];

/// One agency's rows for the statistics job (its node's `incomes` table).
#[derive(Clone)]
pub struct RegionRows {
    /// (region, income) rows.
    pub rows: Vec<(&'static str, f64)>,
}

/// The two agencies' key sets for PSI.
pub struct PsiData {
    /// Bank customers: (id, balance).
    pub bank: Vec<(String, u64)>,
    /// Tax bureau taxpayers: (id, tax paid).
    pub tax: Vec<(String, u64)>,
}

fn customer_id(i: u64) -> String {
    format!("C{i:08}")
}

/// The bank's customers and the tax bureau's taxpayers: `rows` each,
/// about `overlap` of them shared.
pub fn psi_data(rows: usize, overlap: f64, seed: u64) -> PsiData {
    let mut rng = StdRng::seed_from_u64(seed);
    let shared = (rows as f64 * overlap) as u64;
    let rows = rows as u64;
    // Ids 0..shared are common; each side then has its own disjoint range.
    let bank_ids = (0..shared).chain(rows..2 * rows - shared);
    let tax_ids = (0..shared).chain(2 * rows..3 * rows - shared);
    let bank: Vec<(String, u64)> = bank_ids
        .map(|i| (customer_id(i), rng.random_range(0..50_000)))
        .collect();
    let tax: Vec<(String, u64)> = tax_ids
        .map(|i| (customer_id(i), rng.random_range(0..20_000)))
        .collect();
    PsiData { bank, tax }
}

/// Each agency's incomes by region for the statistics job.
pub fn region_data(agencies: &[&str], rows: usize, seed: u64) -> Vec<RegionRows> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0xa66);
    (0..agencies.len())
        .map(|a| {
            let mut rows_of: Vec<(&'static str, f64)> = (0..rows)
                .map(|_| {
                    let region = REGIONS[rng.random_range(0..REGIONS.len() - 1)];
                    let income = (rng.random_range(20_000.0..120_000.0f64) * 100.0).round() / 100.0;
                    (region, income)
                })
                .collect();
            // One row in the tiny region per agency: below the minimum group size.
            if a < 2 {
                rows_of.push((REGIONS[3], 55_000.0));
            }
            RegionRows { rows: rows_of }
        })
        .collect()
}

/// Plaintext (count, mean, sample variance) of income per region.
pub fn plaintext_stats(all: &[RegionRows]) -> BTreeMap<&'static str, (usize, f64, f64)> {
    let mut by: BTreeMap<&'static str, Vec<f64>> = BTreeMap::new();
    for (r, v) in all.iter().flat_map(|a| &a.rows) {
        by.entry(r).or_default().push(*v);
    }
    by.into_iter()
        .map(|(r, vs)| {
            let n = vs.len() as f64;
            let mean = vs.iter().sum::<f64>() / n;
            let var = vs.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
            (r, (vs.len(), mean, var))
        })
        .collect()
}
