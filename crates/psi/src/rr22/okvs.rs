//! The band OKVS of Raghuraman–Rindal 2022 over GF(2^128): a key's row is a
//! random band of 128 bits starting at a random column of a table of m
//! columns, and Decode(P, x) is the XOR of the table entries its band
//! selects. Encoding solves the band system by Gaussian elimination with
//! rows sorted by start: a row's pivot is its first set bit, and only later
//! rows whose band reaches that column need eliminating, so the work is
//! about n·w/4 word operations rather than cubic.
//!
//! m = 1.25·n + 128 (expansion 1.25, band width 128). Encoding fails when
//! a row is eliminated to zero (two keys with dependent bands); the caller
//! then draws a new seed. Rows depend on the seed through AES keyed by it.

use indomain_ot::prf::Aes;
use rayon::prelude::*;

/// Band width in columns.
pub const WIDTH: usize = 128;

/// Table columns for `n` keys.
pub fn size_for(n: usize) -> usize {
    n + n / 4 + WIDTH
}

/// The rows of one table size and seed.
pub struct Okvs {
    size: usize,
    aes: Aes,
}

/// One key's row: its first column and its band (bit c is column start + c).
#[derive(Clone, Copy)]
struct Row {
    start: usize,
    band: u128,
}

impl Okvs {
    /// Rows for a table of `size` (at least [`WIDTH`]) columns under `seed`.
    pub fn new(size: usize, seed: u128) -> Self {
        assert!(size >= WIDTH, "an OKVS table is at least one band wide");
        Self {
            size,
            aes: Aes::new(seed),
        }
    }

    fn rows(&self, keys: &[u128]) -> Vec<Row> {
        let starts = (self.size - WIDTH + 1) as u128;
        keys.par_chunks(1 << 12)
            .flat_map_iter(|chunk| {
                let mut r: Vec<u128> = chunk.iter().flat_map(|k| [*k, !*k]).collect();
                self.aes.encrypt(&mut r);
                r.chunks_exact(2)
                    .map(|p| Row {
                        start: (((p[0] as u64) as u128 * starts) >> 64) as usize,
                        band: p[1],
                    })
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// A table P with Decode(P, `keys[i]`) = `values[i]` for every i, or `None`
    /// if these rows are dependent (draw another seed). Columns no row
    /// pins are zero.
    pub fn encode(&self, keys: &[u128], values: &[u128]) -> Option<Vec<u128>> {
        let rows = self.rows(keys);
        let mut system: Vec<(Row, u128)> = self
            .by_start(&rows)
            .into_iter()
            .map(|i| (rows[i as usize], values[i as usize]))
            .collect();
        let mut pivots = Vec::with_capacity(system.len());
        for i in 0..system.len() {
            let (row, value) = system[i];
            if row.band == 0 {
                return None;
            }
            let pivot = row.start + row.band.trailing_zeros() as usize;
            pivots.push(pivot);
            for (other, v) in system[i + 1..]
                .iter_mut()
                .take_while(|(r, _)| r.start <= pivot)
            {
                if (other.band >> (pivot - other.start)) & 1 == 1 {
                    other.band ^= row.band >> (other.start - row.start);
                    *v ^= value;
                }
            }
        }
        let mut table = vec![0u128; self.size];
        for ((row, value), pivot) in system.iter().zip(&pivots).rev() {
            let mut rest = row.band & !(1u128 << (pivot - row.start));
            let mut v = *value;
            while rest != 0 {
                v ^= table[row.start + rest.trailing_zeros() as usize];
                rest &= rest - 1;
            }
            table[*pivot] = v;
        }
        Some(table)
    }

    /// Row indices in increasing order of start (a counting sort).
    fn by_start(&self, rows: &[Row]) -> Vec<u32> {
        let mut first = vec![0u32; self.size + 1];
        for r in rows {
            first[r.start + 1] += 1;
        }
        for i in 1..first.len() {
            first[i] += first[i - 1];
        }
        let mut order = vec![0u32; rows.len()];
        for (i, r) in rows.iter().enumerate() {
            order[first[r.start] as usize] = i as u32;
            first[r.start] += 1;
        }
        order
    }

    /// Decode(table, key) for every key, in parallel. Rows are visited in
    /// order of start so that the table streams through the cache.
    pub fn decode(&self, table: &[u128], keys: &[u128]) -> Vec<u128> {
        assert_eq!(table.len(), self.size, "table of another size");
        let rows = self.rows(keys);
        let order = self.by_start(&rows);
        let sorted: Vec<u128> = order
            .par_iter()
            .map(|&i| {
                let row = rows[i as usize];
                let cols = &table[row.start..row.start + WIDTH];
                let mut v = 0u128;
                for (half, cols) in cols.chunks_exact(64).enumerate() {
                    let mut bits = (row.band >> (64 * half)) as u64;
                    while bits != 0 {
                        v ^= cols[bits.trailing_zeros() as usize];
                        bits &= bits - 1;
                    }
                }
                v
            })
            .collect();
        let mut out = vec![0u128; keys.len()];
        for (&i, v) in order.iter().zip(sorted) {
            out[i as usize] = v;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng, rngs::StdRng};

    #[test]
    fn decode_gives_back_every_encoded_value() {
        let mut rng = StdRng::seed_from_u64(11);
        for n in [0usize, 1, 2, 100, 5000, 100_000] {
            let keys: Vec<u128> = (0..n).map(|_| rng.random()).collect();
            let values: Vec<u128> = (0..n).map(|_| rng.random()).collect();
            let okvs = Okvs::new(size_for(n), rng.random());
            let table = okvs.encode(&keys, &values).expect("encoding failed");
            assert_eq!(okvs.decode(&table, &keys), values, "n = {n}");
            // Another key decodes to something unrelated (once the table
            // has enough pinned columns for a band to mix).
            let other: u128 = rng.random();
            if n >= 100 {
                assert!(!values.contains(&okvs.decode(&table, &[other])[0]));
            }
        }
    }

    #[test]
    fn a_repeated_key_makes_encoding_fail() {
        let okvs = Okvs::new(size_for(3), 5);
        assert!(okvs.encode(&[1, 2, 1], &[7, 8, 9]).is_none());
    }
}
