//! A party set: one channel to each other party of an n-party protocol.

use crate::NetError;
use crate::channel::{Channel, Counters};

/// Party `me` of `names.len()` parties, with a channel to every other party.
///
/// Parties are numbered by their position in the agreed party list, which
/// every party of a job must order the same way.
pub struct PartySet {
    me: usize,
    names: Vec<String>,
    links: Vec<Option<Box<dyn Channel>>>,
}

impl PartySet {
    /// Builds a party set; `links[i]` is the channel to party i and
    /// `links[me]` is `None`.
    pub fn new(me: usize, names: Vec<String>, links: Vec<Option<Box<dyn Channel>>>) -> Self {
        debug_assert_eq!(names.len(), links.len());
        Self { me, names, links }
    }

    /// This party's index.
    pub fn me(&self) -> usize {
        self.me
    }

    /// The number of parties, this one included.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether the set is empty (it never is once built by a backend).
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The name of party `i`.
    pub fn name(&self, i: usize) -> &str {
        &self.names[i]
    }

    /// All party names, in party order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The indices of every other party, in order.
    pub fn others(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.len()).filter(move |&i| i != self.me)
    }

    /// The channel to party `i`.
    pub fn channel(&mut self, i: usize) -> Result<&mut (dyn Channel + 'static), NetError> {
        let me = self.me;
        match self.links.get_mut(i) {
            Some(Some(ch)) => Ok(ch.as_mut()),
            _ => Err(NetError::NoChannel { me, party: i }),
        }
    }

    /// The channels to `parties` at once, in the order given (a star's
    /// centre drives its spokes together); each must be another party,
    /// listed once.
    pub fn channels(
        &mut self,
        parties: &[usize],
    ) -> Result<Vec<&mut (dyn Channel + 'static)>, NetError> {
        let me = self.me;
        let mut found: Vec<Option<&mut (dyn Channel + 'static)>> =
            parties.iter().map(|_| None).collect();
        for (i, link) in self.links.iter_mut().enumerate() {
            if let (Some(at), Some(ch)) = (parties.iter().position(|&p| p == i), link.as_mut()) {
                found[at] = Some(ch.as_mut());
            }
        }
        parties
            .iter()
            .zip(found)
            .map(|(&party, ch)| ch.ok_or(NetError::NoChannel { me, party }))
            .collect()
    }

    /// Sends the same frame to every other party.
    pub fn broadcast(&mut self, frame: &[u8]) -> Result<(), NetError> {
        for ch in self.links.iter_mut().flatten() {
            ch.send(frame)?;
        }
        Ok(())
    }

    /// Receives one frame from every other party, in party order
    /// (`None` at this party's own position).
    pub fn gather(&mut self) -> Result<Vec<Option<Vec<u8>>>, NetError> {
        self.links
            .iter_mut()
            .map(|l| l.as_mut().map(|ch| ch.recv()).transpose())
            .collect()
    }

    /// Bytes moved on all links together.
    pub fn counters(&self) -> Counters {
        self.links
            .iter()
            .flatten()
            .map(|ch| ch.counters())
            .fold(Counters::default(), |a, b| a + b)
    }
}
