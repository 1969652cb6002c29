//! Bins of a categorical column: one bin per category, in the categories'
//! sorted order, with the rare ones (fewer rows than the minimum share)
//! merged into one "other" bin, which also takes categories first seen
//! after binning. An "other" bin still under the minimum joins the
//! smallest category bin.

use super::column::MISSING_CODE;

/// The groups of categories of the value bins, and which bin takes the
/// rare and unseen categories.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Groups {
    /// The categories of each value bin.
    pub groups: Vec<Vec<String>>,
    /// The bin of rare and unseen categories, if any category was rare.
    pub other: Option<usize>,
    /// The value bin of each level of the column (by code).
    pub bin_of_level: Vec<u16>,
}

/// Groups the `levels` of a column with `codes` so that every bin holds at
/// least `min_count` rows where possible.
pub(super) fn group(levels: &[String], codes: &[u32], min_count: u64) -> Groups {
    let mut counts = vec![0u64; levels.len()];
    for &c in codes {
        if c != MISSING_CODE {
            counts[c as usize] += 1;
        }
    }
    let mut order: Vec<usize> = (0..levels.len()).filter(|&l| counts[l] > 0).collect();
    order.sort_by(|&a, &b| levels[a].cmp(&levels[b]));
    let (common, rare): (Vec<usize>, Vec<usize>) =
        order.into_iter().partition(|&l| counts[l] >= min_count);
    let mut groups: Vec<Vec<usize>> = common.iter().map(|&l| vec![l]).collect();
    let mut other = None;
    if !rare.is_empty() {
        let rare_count: u64 = rare.iter().map(|&l| counts[l]).sum();
        if rare_count >= min_count || groups.is_empty() {
            groups.push(rare);
            other = Some(groups.len() - 1);
        } else {
            let group_count = |g: &Vec<usize>| g.iter().map(|&l| counts[l]).sum::<u64>();
            let smallest = (0..groups.len())
                .min_by_key(|&g| (group_count(&groups[g]), g))
                .unwrap_or(0);
            groups[smallest].extend(rare);
            groups[smallest].sort_by(|&a, &b| levels[a].cmp(&levels[b]));
            other = Some(smallest);
        }
    }
    let mut bin_of_level = vec![other.unwrap_or(0) as u16; levels.len()];
    for (b, g) in groups.iter().enumerate() {
        for &l in g {
            bin_of_level[l] = b as u16;
        }
    }
    Groups {
        groups: groups
            .into_iter()
            .map(|g| g.into_iter().map(|l| levels[l].clone()).collect())
            .collect(),
        other,
        bin_of_level,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn levels(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn rare_categories_share_a_bin() {
        // b: 5 rows, a: 4, c: 1, d: 1 (min 2) → bins a, b, {c, d}.
        let l = levels(&["b", "a", "c", "d"]);
        let codes = [0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 3, MISSING_CODE];
        let g = group(&l, &codes, 2);
        assert_eq!(g.groups, vec![vec!["a"], vec!["b"], vec!["c", "d"]]);
        assert_eq!(g.other, Some(2));
        assert_eq!(g.bin_of_level, vec![1, 0, 2, 2]);
        // One rare category under the minimum joins the smallest bin.
        let g = group(&l, &codes[..10], 2);
        assert_eq!(g.groups, vec![vec!["a", "c"], vec!["b"]]);
        assert_eq!(g.other, Some(0));
        // Nothing rare: no other bin.
        let g = group(&l[..2], &codes[..9], 2);
        assert_eq!(g.other, None);
        assert_eq!(g.groups.len(), 2);
    }
}
