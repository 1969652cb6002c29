//! Suppression decided without opening a count: the shared group counts
//! (and histogram cells) are compared with the minimum group size by the
//! mpc layer's secure comparison ([`indomain_mpc::compare`], Catrina–de
//! Hoogh with dealt masks and bits), and only the verdicts are opened.
//!
//! For every receiver r and every unit u (a group's count, or a histogram
//! cell's count), the data parties hold additive shares of t_u (the total)
//! in Z_2^64 — the low 64 bits of their Z_2^128 shares — and receiver r
//! subtracts its own rows o_{r,u} from its share, so the parties hold
//! shares of t_u − o_{r,u}: the rows of the parties other than r. The
//! comparison gives shares of [t_u − o_{r,u} ≥ k]; the verdicts of all
//! receivers are multiplied together (Beaver products, a tree over the
//! receivers), and only the product, "passes for every receiver", is
//! opened to every data party. When the job's parameters could let a total
//! overflow the ring, one more element compares the shared total of all
//! rows with the public bound that stays clear of it.
//!
//! Counts are bounded publicly so that the comparison is exact: each party
//! holds fewer than [`MAX_ROWS_PER_PARTY`] = 2^35 rows (checked locally),
//! so with at most 16 parties every count and k stay below 2^39 and
//! |t − o − k| < 2^40 = 2^[`COUNT_BITS`].
//!
//! Histogram cells (below, each bin, above) are compared in the same batch
//! as the groups. Because a column's cells add up to the released group
//! count, a column with exactly one suppressed cell would give that cell
//! away; a second cell (the next one, or the previous one for the last) is
//! then suppressed too (secondary suppression), so the receivers learn
//! only the sum of two suppressed cells.
//!
//! What each party learns: the opened masked values and Beaver openings
//! of the comparison (uniformly random), the verdicts (which groups and
//! cells are released, which every party learned before too), and whether
//! the rows fit the range. The dealer learns the number and size of its
//! requests: shapes, never a value.

use super::job::{MAX_PARTIES, Statistic, StatsJob};
use super::{CountDecision, LocalData};
use crate::AggregateError;
use indomain_core::FixedPoint;
use indomain_mpc::compare::CHUNK;
use indomain_mpc::dealer::{DealerLimits, serve};
use indomain_mpc::{Correlations, DealerClient, Roster, Session, Shared, TwoParty};
use indomain_net::PartySet;
use rand::{CryptoRng, Rng};

/// Bits of the count comparison: |count − own − k| < 2^40.
pub const COUNT_BITS: u32 = 40;

/// The most rows one party may hold in a job decided by comparison, so
/// that with [`MAX_PARTIES`] parties every count stays below 2^39.
pub const MAX_ROWS_PER_PARTY: usize = (1 << (COUNT_BITS - 1)) / MAX_PARTIES;

const PHASE: &str = "group decision";

/// What the comparison decided, the same at every data party.
pub(crate) struct Verdicts {
    /// Per group: released.
    pub pass: Vec<bool>,
    /// Per histogram cell of every group (group-major, as in the local
    /// aggregates): released; empty for other statistics.
    pub cells: Vec<bool>,
}

/// Runs the dealer of a statistics job decided by comparison: this party
/// holds no data and deals masks, their bits and Beaver triples to every
/// other party of the set (the data parties, in set order) until their
/// leader says it is done. It receives requests (shapes) only.
pub fn serve_dealer<R: Rng + CryptoRng + ?Sized>(
    parties: &mut PartySet,
    rng: &mut R,
) -> Result<(), AggregateError> {
    serve(parties, DealerLimits::default(), rng)
        .map(drop)
        .map_err(AggregateError::mpc("dealing correlated randomness"))
}

/// The smallest row total at which a total of the job could exceed the
/// ring, if the job's rows can reach it; `None` when no total can.
pub(crate) fn overflow_bound(job: &StatsJob, parties: usize) -> Option<(u64, &'static str)> {
    let scale = 2f64.powi(job.frac_bits as i32);
    // |encoded x| ≤ max_abs·2^f + ½; each party rounds its Σx² once.
    let max_encoded = job.max_abs * scale + 0.5;
    let ring_limit = 2f64.powi(127) * (1.0 - 1e-9);
    let most_rows = (1u64 << (COUNT_BITS - 1)) as f64;
    let (per_row, room, what) = match job.statistic {
        Statistic::Sum | Statistic::Mean => (max_encoded, ring_limit, "sum"),
        Statistic::Variance => (
            max_encoded * max_encoded / scale,
            ring_limit - parties as f64,
            "sum of squares",
        ),
        Statistic::Count | Statistic::Histogram { .. } => return None,
    };
    let bound = (room / per_row).ceil();
    (bound < most_rows).then_some((bound.max(1.0) as u64, what))
}

/// Decides every group and histogram cell by secure comparison with the
/// dealer at set index `dealer`, or with none: two data parties generate
/// the correlations themselves ([`TwoParty`]). `local` is this party's local aggregates,
/// `combined` its share of the totals (both counts first, then the
/// groups' segments).
pub(crate) fn decide(
    parties: &mut PartySet,
    job: &StatsJob,
    dealer: Option<usize>,
    local: &[u128],
    combined: &[u128],
) -> Result<Verdicts, AggregateError> {
    let mpc = AggregateError::mpc(PHASE);
    let groups = job.groups();
    let histogram = matches!(job.statistic, Statistic::Histogram { .. });
    // Units: the group counts, then (histogram) every cell.
    let units = if histogram { local.len() } else { groups };
    let me = parties.me();
    let data_parties = parties.len() - dealer.is_some() as usize;
    let overflow = overflow_bound(job, data_parties);
    let roster = Roster::new(parties, dealer).map_err(mpc)?;
    let source: Box<dyn Correlations> = match dealer {
        Some(_) => Box::new(DealerClient::new(&roster).map_err(mpc)?),
        None => Box::new(TwoParty::new(&roster).map_err(mpc)?),
    };
    let mut session = Session::new(parties, roster, FixedPoint::default(), source);
    let leader = session.is_leader();
    let k = if leader { job.min_group_size } else { 0 };

    let mut x = Vec::with_capacity(job.receivers.len() * units + 1);
    for &r in &job.receivers {
        x.extend((0..units).map(|u| {
            let own = if r == me { local[u] as u64 } else { 0 };
            (combined[u] as u64).wrapping_sub(own).wrapping_sub(k)
        }));
    }
    if let Some((bound, _)) = overflow {
        let total = combined[..groups]
            .iter()
            .fold(0u64, |acc, &c| acc.wrapping_add(c as u64));
        x.push(total.wrapping_sub(if leader { bound } else { 0 }));
    }
    let below = session
        .less_than_zero(&Shared(x), COUNT_BITS)
        .map_err(mpc)?
        .0;
    // [other rows ≥ k] = 1 − below, per receiver; then their product.
    let mut verdicts: Vec<Shared> = below
        .chunks(units)
        .take(job.receivers.len())
        .map(|b| Shared(b.iter().map(|&v| (leader as u64).wrapping_sub(v)).collect()))
        .collect();
    while verdicts.len() > 1 {
        verdicts = and_pairs(&mut session, verdicts)?;
    }
    let mut opened = verdicts.pop().unwrap_or_default();
    // [total < bound]: the rows fit.
    if overflow.is_some() {
        opened.0.push(below.last().copied().unwrap_or_default());
    }
    let flags = session.open(&opened).map_err(mpc)?;
    session.finish().map_err(mpc)?;
    let flags = flags
        .iter()
        .map(|&f| match f {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(AggregateError::Protocol {
                peer: "a data party".into(),
                phase: PHASE,
                reason: format!("gave a verdict that opened to {other}, not 0 or 1"),
            }),
        })
        .collect::<Result<Vec<bool>, _>>()?;
    if let Some((bound, what)) = overflow
        && !flags[units]
    {
        return Err(AggregateError::RowsOverflow { what, bound });
    }
    let pass = flags[..groups].to_vec();
    let mut cells = if histogram {
        flags[groups..units].to_vec()
    } else {
        Vec::new()
    };
    if let Statistic::Histogram { edges } = &job.statistic {
        secondary_suppression(&mut cells, edges.len() + 1);
    }
    Ok(Verdicts { pass, cells })
}

/// Multiplies verdict vectors two by two in one batch of Beaver products
/// (in chunks, within the dealer's item limit); an odd last one passes
/// through.
fn and_pairs(
    session: &mut Session<'_, Box<dyn Correlations>>,
    verdicts: Vec<Shared>,
) -> Result<Vec<Shared>, AggregateError> {
    let mpc = AggregateError::mpc(PHASE);
    let len = verdicts.first().map_or(0, Shared::len);
    let pairs = verdicts.len() / 2;
    let mut left = Vec::with_capacity(pairs * len);
    let mut right = Vec::with_capacity(pairs * len);
    for k in 0..pairs {
        left.extend_from_slice(verdicts[2 * k].as_slice());
        right.extend_from_slice(verdicts[2 * k + 1].as_slice());
    }
    let mut product = Vec::with_capacity(left.len());
    for (l, r) in left.chunks(CHUNK).zip(right.chunks(CHUNK)) {
        let p = session
            .mul(&Shared(l.to_vec()), &Shared(r.to_vec()))
            .map_err(mpc)?;
        product.extend(p.0);
    }
    let mut out: Vec<Shared> = product
        .chunks(len.max(1))
        .take(pairs)
        .map(|c| Shared(c.to_vec()))
        .collect();
    if verdicts.len() % 2 == 1
        && let Some(last) = verdicts.into_iter().last()
    {
        out.push(last);
    }
    Ok(out)
}

/// In every column's run of `per_column` cells, a single suppressed cell
/// takes a neighbour with it: the released group count minus the other
/// cells would give it away otherwise.
fn secondary_suppression(cells: &mut [bool], per_column: usize) {
    for column in cells.chunks_mut(per_column) {
        let mut hidden = column.iter().enumerate().filter(|(_, c)| !**c);
        if let (Some((i, _)), None) = (hidden.next(), hidden.next()) {
            let neighbour = if i + 1 < column.len() { i + 1 } else { i - 1 };
            column[neighbour] = false;
        }
    }
}

/// The row and group-size bounds of a job decided by comparison.
pub(crate) fn check_sizes(job: &StatsJob, data: &LocalData) -> Result<(), AggregateError> {
    let bad = |m: String| Err(AggregateError::BadParameters(m));
    let most = MAX_ROWS_PER_PARTY;
    if data.rows() >= most {
        return bad(format!(
            "{} rows: a party of a job decided by comparison holds fewer than {most}",
            data.rows()
        ));
    }
    if job.min_group_size >= most as u64 * MAX_PARTIES as u64 {
        return bad(format!(
            "a minimum group size of {} exceeds any group the job can have",
            job.min_group_size
        ));
    }
    Ok(())
}

impl CountDecision {
    /// `Some(dealer)` when counts are compared securely (the dealer's set
    /// index, or `None` for two parties alone); `None` when opened.
    pub fn compared(self) -> Option<Option<usize>> {
        match self {
            CountDecision::Compared { dealer } => Some(Some(dealer)),
            CountDecision::ComparedTwoParty => Some(None),
            CountDecision::OpenedToDecider | CountDecision::NoisyCounts => None,
        }
    }

    /// How the comparison's correlated randomness is produced, for the
    /// trust record of a result: "dealer NAME", "two-party", or `None` when
    /// counts were opened to the decider.
    pub fn trust(self, names: &[impl AsRef<str>]) -> Option<String> {
        match self.compared()? {
            Some(d) => Some(format!(
                "dealer {}",
                names.get(d).map_or("?", |n| n.as_ref())
            )),
            None => Some("two-party".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lone_suppressed_cell_takes_a_neighbour() {
        let mut cells = vec![
            true, false, true, true, // column 1: cell 1 and 2 hidden
            true, true, true, false, // column 2: the last and the one before
            false, false, true, true, // column 3: two already, unchanged
            true, true, true, true, // column 4: none
        ];
        secondary_suppression(&mut cells, 4);
        assert_eq!(
            cells,
            vec![
                true, false, false, true, true, true, false, false, false, false, true, true, true,
                true, true, true
            ]
        );
    }

    #[test]
    fn the_overflow_bound_is_public_and_only_where_needed() {
        let job = StatsJob {
            statistic: Statistic::Variance,
            columns: vec!["x".into()],
            categories: None,
            receivers: vec![0],
            min_group_size: 3,
            frac_bits: super::super::job::DEFAULT_FRAC_BITS,
            max_abs: super::super::job::DEFAULT_MAX_ABS,
        };
        // Defaults: sums of squares overflow from about 2^35.2 rows.
        let (bound, what) = overflow_bound(&job, 3).unwrap();
        assert_eq!(what, "sum of squares");
        assert!(bound > 10_000_000_000 && bound < 1 << 36, "{bound}");
        // Sums with the defaults cannot overflow below 2^39 rows.
        let sum = StatsJob {
            statistic: Statistic::Sum,
            ..job.clone()
        };
        assert_eq!(overflow_bound(&sum, 3), None);
        assert_eq!(
            overflow_bound(
                &StatsJob {
                    statistic: Statistic::Count,
                    ..job
                },
                3
            ),
            None
        );
    }
}
