//! Bin indices of one feature, one per row: a byte each when the feature
//! has at most 256 bins, two bytes otherwise.

use serde::{Deserialize, Serialize};

/// The bin of every row of one feature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum BinIndex {
    /// At most 256 bins.
    U8(Vec<u8>),
    /// More than 256 bins (at most 65,536).
    U16(Vec<u16>),
}

impl BinIndex {
    /// Packs bin numbers for a feature of `bins` bins (every value below
    /// `bins`, at most 65,536).
    pub fn pack(values: &[u16], bins: usize) -> BinIndex {
        if bins <= 256 {
            BinIndex::U8(values.iter().map(|&v| v as u8).collect())
        } else {
            BinIndex::U16(values.to_vec())
        }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        match self {
            BinIndex::U8(v) => v.len(),
            BinIndex::U16(v) => v.len(),
        }
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bin of row `row`.
    pub fn get(&self, row: usize) -> usize {
        match self {
            BinIndex::U8(v) => v[row] as usize,
            BinIndex::U16(v) => v[row] as usize,
        }
    }

    /// Every row's bin, widened.
    pub fn to_vec(&self) -> Vec<u16> {
        match self {
            BinIndex::U8(v) => v.iter().map(|&b| b as u16).collect(),
            BinIndex::U16(v) => v.clone(),
        }
    }

    /// Rows per bin, for a feature of `bins` bins.
    pub fn counts(&self, bins: usize) -> Vec<u64> {
        let mut counts = vec![0u64; bins];
        match self {
            BinIndex::U8(v) => v.iter().for_each(|&b| counts[b as usize] += 1),
            BinIndex::U16(v) => v.iter().for_each(|&b| counts[b as usize] += 1),
        }
        counts
    }

    /// The rows at `rows`, in that order.
    pub fn select(&self, rows: &[usize]) -> BinIndex {
        match self {
            BinIndex::U8(v) => BinIndex::U8(rows.iter().map(|&r| v[r]).collect()),
            BinIndex::U16(v) => BinIndex::U16(rows.iter().map(|&r| v[r]).collect()),
        }
    }

    /// Renumbers every row's bin through `map` (old bin → new bin) for a
    /// feature that ends with `bins` bins.
    pub fn remap(&self, map: &[u16], bins: usize) -> BinIndex {
        let values: Vec<u16> = match self {
            BinIndex::U8(v) => v.iter().map(|&b| map[b as usize]).collect(),
            BinIndex::U16(v) => v.iter().map(|&b| map[b as usize]).collect(),
        };
        BinIndex::pack(&values, bins)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_narrow_or_wide_and_counts() {
        let narrow = BinIndex::pack(&[0, 2, 2, 1], 3);
        assert!(matches!(narrow, BinIndex::U8(_)));
        assert_eq!(narrow.counts(3), vec![1, 1, 2]);
        assert_eq!(narrow.get(1), 2);
        let wide = BinIndex::pack(&[300, 0], 301);
        assert!(matches!(wide, BinIndex::U16(_)));
        assert_eq!(wide.to_vec(), vec![300, 0]);
        let merged = narrow.remap(&[0, 0, 1], 2);
        assert_eq!(merged.to_vec(), vec![0, 1, 1, 0]);
        assert_eq!(merged.select(&[3, 1]).to_vec(), vec![0, 1]);
    }
}
