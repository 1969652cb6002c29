//! One party's keys, stored flat (one buffer and an end offset per key) so
//! that 2^24 keys cost their bytes plus eight, not a heap allocation each.
//!
//! A key is its bytes: [`Items::from_raw`], [`Items::push_raw`] and a
//! one-column [`Items::push_columns`] encode `"ann"` alike, so parties that
//! built their sets either way find the same intersection. A key made of
//! several columns is encoded with each column length-prefixed, so that
//! ("ab", "c") and ("a", "bc") are different keys. Nothing here is sent
//! anywhere: keys leave a party only hashed to the group and blinded.

use crate::PsiError;
use rayon::prelude::*;

/// The keys of one party, in input order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Items {
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

impl Items {
    /// No keys.
    pub fn new() -> Self {
        Self::default()
    }

    /// Keys given as raw bytes, one each.
    pub fn from_raw<I, B>(keys: I) -> Self
    where
        I: IntoIterator<Item = B>,
        B: AsRef<[u8]>,
    {
        let mut items = Self::new();
        for k in keys {
            items.push_raw(k.as_ref());
        }
        items
    }

    /// Appends a key given as raw bytes.
    pub fn push_raw(&mut self, key: &[u8]) {
        self.bytes.extend_from_slice(key);
        self.ends.push(self.bytes.len());
    }

    /// Appends a key made of columns: one column is its bytes (as
    /// [`Items::push_raw`]), several are each length-prefixed (u64 LE).
    pub fn push_columns<S: AsRef<str>>(&mut self, columns: &[S]) {
        if let [one] = columns {
            self.push_raw(one.as_ref().as_bytes());
            return;
        }
        for c in columns {
            let c = c.as_ref().as_bytes();
            self.bytes
                .extend_from_slice(&(c.len() as u64).to_le_bytes());
            self.bytes.extend_from_slice(c);
        }
        self.ends.push(self.bytes.len());
    }

    /// The number of keys.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The encoded key at `index`, or `None` past the end.
    pub fn get(&self, index: usize) -> Option<&[u8]> {
        let end = *self.ends.get(index)?;
        let start = match index {
            0 => 0,
            i => self.ends[i - 1],
        };
        self.bytes.get(start..end)
    }

    /// The key at `index`, which the caller knows to be in range.
    pub(crate) fn key(&self, index: usize) -> &[u8] {
        let start = if index == 0 { 0 } else { self.ends[index - 1] };
        &self.bytes[start..self.ends[index]]
    }

    /// The keys in order.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        (0..self.len()).filter_map(|i| self.get(i))
    }

    /// Checks that no key occurs twice; the first repeat is the error.
    pub fn check_distinct(&self) -> Result<(), PsiError> {
        let mut order: Vec<usize> = (0..self.len()).collect();
        order.par_sort_unstable_by(|&a, &b| self.key(a).cmp(self.key(b)).then(a.cmp(&b)));
        match order.windows(2).find(|w| self.key(w[0]) == self.key(w[1])) {
            Some(w) => Err(PsiError::DuplicateInput {
                first: w[0],
                second: w[1],
            }),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_length_prefixed() {
        let mut items = Items::new();
        items.push_columns(&["ab", "c"]);
        items.push_columns(&["a", "bc"]);
        assert_ne!(items.get(0), items.get(1));
        assert_eq!(items.len(), 2);
        assert_eq!(items.get(2), None);
        assert!(items.check_distinct().is_ok());
    }

    #[test]
    fn one_column_is_encoded_as_its_raw_bytes() {
        let mut columns = Items::new();
        ["ann", "", "bob"]
            .iter()
            .for_each(|k| columns.push_columns(&[k]));
        assert_eq!(columns, Items::from_raw(["ann", "", "bob"]));
        let mut two = Items::new();
        two.push_columns(&["ann", "x"]);
        assert_eq!(
            two.get(0),
            Some(&b"\x03\0\0\0\0\0\0\0ann\x01\0\0\0\0\0\0\0x"[..])
        );
    }

    #[test]
    fn duplicates_are_found_with_both_positions() {
        let items = Items::from_raw(["x", "y", "", "y"]);
        assert_eq!(items.get(2), Some(&b""[..]));
        assert!(matches!(
            items.check_distinct(),
            Err(PsiError::DuplicateInput {
                first: 1,
                second: 3
            })
        ));
    }
}
