//! The argmax of shared fractions N/D (D > 0), for many lists at once, by
//! a tournament of large groups.
//!
//! Each round splits every list into groups and compares every pair of a
//! group at once (N_j·D_i against N_i·D_j, one comparison of a 2f-bit
//! difference, [`Session::less_than_zero_bits`]). A group's winner is the
//! candidate that beats all others — i beats a later j unless j is
//! strictly better, and beats an earlier j only if strictly better, so
//! ties go to the earlier candidate and exactly one candidate wins: an
//! AND of its g − 1 packed literal bits (⌈log2(g − 1)⌉ rounds of AND
//! gates). The winner's N, D and index are selected by Beaver products
//! with the ring form of the winner bits.
//!
//! Rounds against comparisons: a list of up to [`WHOLE`] candidates is one
//! group (one round of comparisons, g(g − 1)/2 of them); longer lists use
//! groups of [`GROUP`]. A binary tournament would need ⌈log2 w⌉ rounds of
//! about 10 network rounds each; comparisons on packed bits cost about 40
//! bytes, so trading them for rounds pays on any link.
//!
//! What each party learns: masked openings only.

use crate::LearnError;
use indomain_core::bits::words;
use indomain_mpc::bits::SharedBits;
use indomain_mpc::compare::FULL_RANGE;
use indomain_mpc::{Correlations, Session, Shared};

/// Lists up to this long are decided in one round of comparisons.
pub const WHOLE: usize = 32;

/// The group size for longer lists.
pub const GROUP: usize = 32;

/// Shares of each list's winning N, D and index.
pub(super) type Best = (Vec<u64>, Vec<u64>, Vec<u64>);

/// XOR share bit e of packed words.
fn bit(words: &[u64], e: usize) -> u64 {
    (words[e / 64] >> (e % 64)) & 1
}

fn pack(bits: &[u64]) -> Vec<u64> {
    let mut out = vec![0u64; words(bits.len())];
    for (e, &b) in bits.iter().enumerate() {
        out[e / 64] |= (b & 1) << (e % 64);
    }
    out
}

/// The AND of each row of literal bits (XOR shares), rows of equal length.
fn and_rows<C: Correlations>(
    s: &mut Session<'_, C>,
    mut rows: Vec<Vec<u64>>,
) -> Result<Vec<u64>, LearnError> {
    while rows.first().is_some_and(|r| r.len() > 1) {
        let width = rows[0].len();
        let pairs = width / 2;
        let mut x = Vec::with_capacity(rows.len() * pairs);
        let mut y = Vec::with_capacity(rows.len() * pairs);
        for r in &rows {
            for p in 0..pairs {
                x.push(r[2 * p]);
                y.push(r[2 * p + 1]);
            }
        }
        let anded = s.and_bits(&pack(&x), &pack(&y))?;
        rows = rows
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let mut next: Vec<u64> = (0..pairs).map(|p| bit(&anded, i * pairs + p)).collect();
                if width % 2 == 1 {
                    next.push(r[width - 1]);
                }
                next
            })
            .collect();
    }
    Ok(rows
        .into_iter()
        .map(|r| r.first().copied().unwrap_or(0))
        .collect())
}

/// The best candidate of each of `lists` lists of `width` candidates
/// (list-major): this party's shares of its N, D and index.
pub(super) fn argmax<C: Correlations>(
    s: &mut Session<'_, C>,
    lists: usize,
    mut width: usize,
    mut nv: Vec<u64>,
    mut dv: Vec<u64>,
    mut iv: Vec<u64>,
) -> Result<Best, LearnError> {
    let truth = s.is_leader() as u64;
    while width > 1 {
        let group = if width <= WHOLE { width } else { GROUP };
        let groups = width.div_ceil(group);
        let size = |q: usize| group.min(width - q * group);
        // Every pair (i < j) of every group of every list.
        let mut pairs = Vec::new();
        for l in 0..lists {
            for q in 0..groups {
                let base = l * width + q * group;
                for i in 0..size(q) {
                    for j in i + 1..size(q) {
                        pairs.push((base + i, base + j));
                    }
                }
            }
        }
        let mut left: Vec<u64> = pairs.iter().map(|&(_, j)| nv[j]).collect();
        left.extend(pairs.iter().map(|&(i, _)| nv[i]));
        let mut right: Vec<u64> = pairs.iter().map(|&(i, _)| dv[i]).collect();
        right.extend(pairs.iter().map(|&(_, j)| dv[j]));
        let cross = s.mul(&Shared(left), &Shared(right))?;
        let (x, y) = cross.0.split_at(pairs.len());
        // [N_j·D_i > N_i·D_j]: j strictly better than i.
        let diff: Vec<u64> = y.iter().zip(x).map(|(y, x)| y.wrapping_sub(*x)).collect();
        let better = s.less_than_zero_bits(&Shared(diff), FULL_RANGE)?;
        // Literals: slot (l, q, i) beats each other member of its group;
        // rows padded with "true" to the group's size − 1.
        let mut rows: Vec<Vec<u64>> = Vec::new();
        let mut slots = Vec::new();
        let mut at = 0;
        for l in 0..lists {
            for q in 0..groups {
                let g = size(q);
                let mut lit = vec![vec![truth; group.saturating_sub(1).max(1)]; g];
                let mut filled = vec![0usize; g];
                for i in 0..g {
                    for j in i + 1..g {
                        let b = bit(&better.words, at);
                        at += 1;
                        lit[i][filled[i]] = b ^ truth;
                        filled[i] += 1;
                        lit[j][filled[j]] = b;
                        filled[j] += 1;
                    }
                }
                for (i, row) in lit.into_iter().enumerate() {
                    slots.push(l * width + q * group + i);
                    rows.push(row);
                }
            }
        }
        let m = rows.len();
        let wins = and_rows(s, rows)?;
        let wins = s.bits_to_ring(&SharedBits::new(pack(&wins), m)?)?;
        // Select: Σ_i w_i·(N_i, D_i, I_i) per group.
        let mut sel = Vec::with_capacity(3 * m);
        let mut val = Vec::with_capacity(3 * m);
        for v in [&nv, &dv, &iv] {
            sel.extend_from_slice(wins.as_slice());
            val.extend(slots.iter().map(|&e| v[e]));
        }
        let chosen = s.mul(&Shared(sel), &Shared(val))?;
        let mut next = [
            vec![0u64; lists * groups],
            vec![0u64; lists * groups],
            vec![0u64; lists * groups],
        ];
        for (t, out) in next.iter_mut().enumerate() {
            for (k, &e) in slots.iter().enumerate() {
                let g = (e / width) * groups + (e % width) / group;
                out[g] = out[g].wrapping_add(chosen.0[t * m + k]);
            }
        }
        let [n2, d2, i2] = next;
        (nv, dv, iv, width) = (n2, d2, i2, groups);
    }
    Ok((nv, dv, iv))
}
