//! Rate-limit counters rebuilt from the log: when each peer's jobs were
//! admitted under each rule (`max_jobs_per_hour`), and when each peer's
//! proposals were refused (`max_refused_per_minute`).

use std::collections::{BTreeMap, VecDeque};

/// Time stamps (Unix seconds) of events in a sliding window, per key.
#[derive(Debug, Clone, Default)]
pub struct Window<K: Ord> {
    times: BTreeMap<K, VecDeque<u64>>,
    span: u64,
}

impl<K: Ord + Clone> Window<K> {
    /// An empty window of `span` seconds.
    pub fn new(span: u64) -> Self {
        Window {
            times: BTreeMap::new(),
            span,
        }
    }

    /// Notes an event of `key` at `at` (Unix seconds); events older than
    /// the window are forgotten as newer ones come.
    pub fn note(&mut self, key: &K, at: u64) {
        let times = self.times.entry(key.clone()).or_default();
        times.push_back(at);
        let span = self.span;
        while times.front().is_some_and(|&t| t + span <= at) {
            times.pop_front();
        }
    }

    /// The events of `key` in the window that ends at `now`.
    pub fn count(&self, key: &K, now: u64) -> usize {
        self.times.get(key).map_or(0, |times| {
            times.iter().filter(|&&t| t + self.span > now).count()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_counts_only_recent_events() {
        let mut w = Window::new(3600);
        let key = ("bank".to_string(), 0usize);
        w.note(&key, 1000);
        w.note(&key, 2000);
        assert_eq!(w.count(&key, 2000), 2);
        assert_eq!(w.count(&key, 4600), 1);
        assert_eq!(w.count(&key, 5600), 0);
        assert_eq!(w.count(&("tax".to_string(), 0), 2000), 0);
    }
}
