//! The receiver's comparison set: the double-blinded values of its own keys
//! (16 bytes each, as they arrived), sorted for lookup, each marked once it
//! has matched so that a peer repeating a value cannot count it twice.

use crate::blind::COMPARE_BYTES;
use rayon::prelude::*;

/// One double-blinded value and its position in the stream it came in.
#[derive(Clone, Copy)]
struct Entry {
    value: [u8; COMPARE_BYTES],
    position: u32,
}

/// The sorted set of double-blinded values.
pub struct CompareSet {
    entries: Vec<Entry>,
    matched: Vec<bool>,
}

/// Why a lookup was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// Two values of the set are equal.
    DuplicateInSet,
    /// A value matched an entry that had already matched.
    MatchedTwice,
}

impl CompareSet {
    /// Collects values as they arrive; positions count from 0.
    pub fn with_capacity(n: usize) -> Self {
        Self {
            entries: Vec::with_capacity(n),
            matched: Vec::new(),
        }
    }

    /// Appends a batch of concatenated 16-byte values.
    pub fn extend(&mut self, batch: &[u8]) {
        for v in batch.chunks_exact(COMPARE_BYTES) {
            let mut value = [0u8; COMPARE_BYTES];
            value.copy_from_slice(v);
            let position = self.entries.len() as u32;
            self.entries.push(Entry { value, position });
        }
    }

    /// Sorts the set; equal values are refused.
    pub fn seal(&mut self) -> Result<(), Refused> {
        self.entries.par_sort_unstable_by_key(|e| e.value);
        if self.entries.windows(2).any(|w| w[0].value == w[1].value) {
            return Err(Refused::DuplicateInSet);
        }
        self.matched = vec![false; self.entries.len()];
        Ok(())
    }

    /// Where `value` sits in the set, if it is there (read-only, so a batch
    /// can be looked up in parallel before [`CompareSet::take`]).
    pub fn find(&self, value: &[u8]) -> Option<usize> {
        self.entries
            .binary_search_by(|e| e.value[..].cmp(value))
            .ok()
    }

    /// Marks the entry found at `slot` as matched and returns its arrival
    /// position; an entry matches once only.
    pub fn take(&mut self, slot: usize) -> Result<usize, Refused> {
        match self.matched.get_mut(slot) {
            Some(m) if !*m => {
                *m = true;
                Ok(self.entries[slot].position as usize)
            }
            _ => Err(Refused::MatchedTwice),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(b: u8) -> [u8; 16] {
        [b; 16]
    }

    #[test]
    fn lookups_return_arrival_positions_once() {
        let mut set = CompareSet::with_capacity(3);
        set.extend(&[v(9), v(1)].concat());
        set.extend(&v(5));
        set.seal().unwrap();
        let take = |set: &mut CompareSet, b| set.find(&v(b)).map(|slot| set.take(slot));
        assert_eq!(take(&mut set, 5), Some(Ok(2)));
        assert_eq!(take(&mut set, 9), Some(Ok(0)));
        assert_eq!(take(&mut set, 7), None);
        assert_eq!(take(&mut set, 9), Some(Err(Refused::MatchedTwice)));
    }

    #[test]
    fn duplicates_in_the_set_are_refused() {
        let mut set = CompareSet::with_capacity(2);
        set.extend(&[v(3), v(3)].concat());
        assert_eq!(set.seal(), Err(Refused::DuplicateInSet));
    }
}
