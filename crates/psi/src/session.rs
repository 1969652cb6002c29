//! The PSI session, whatever the construction: what a job is (mode,
//! construction, roles, who learns the result, limits), the hello in which
//! both parties check they run the same job, the modes' finishing steps (the
//! receiver telling the sender the result) and what a party ends up with.
//!
//! Both parties must be given the same [`Job`]; they check it against each
//! other before any key is sent. [`receiver`] and [`sender`] run the
//! construction the job names ([`crate::ecdh`] or [`crate::rr22`]).

use crate::{Items, Phase, PsiError, ecdh, rr22};
use indomain_net::stream::{Outbound, batch_sizes};
use indomain_net::{Channel, wire};
use rand::CryptoRng;
use serde::{Deserialize, Serialize};
use std::fmt;

/// What the protocol computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Mode {
    /// The matching keys.
    Intersection,
    /// Only the number of matching keys: neither party learns which.
    Cardinality,
    /// The sender holds a value per key; the sender learns the number of
    /// matches and the sum of its values over them, the receiver only the
    /// number of matches.
    IntersectionSum,
    /// Both parties learn which of their own rows match, in one order
    /// common to both (for vertical training).
    Join,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Intersection => "intersection",
            Mode::Cardinality => "cardinality",
            Mode::IntersectionSum => "intersection-sum",
            Mode::Join => "join",
        })
    }
}

/// Progress of a run: keys processed so far out of `total` (this party's and
/// the peer's keys together, once each).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Keys processed so far.
    pub done: usize,
    /// Keys to process in the whole run.
    pub total: usize,
}

/// How the intersection is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Construction {
    /// ECDH-PSI on ristretto255: every mode, about 41 µs of a core per key
    /// per party.
    Ecdh,
    /// VOLE and OKVS (Raghuraman–Rindal 2022): intersection and join only,
    /// symmetric-key work per key.
    Rr22,
}

impl Construction {
    /// Whether this construction can run `mode`.
    pub fn supports(self, mode: Mode) -> bool {
        match self {
            Construction::Ecdh => true,
            Construction::Rr22 => matches!(mode, Mode::Intersection | Mode::Join),
        }
    }

    /// The fastest construction that runs `mode`.
    pub fn fastest(mode: Mode) -> Self {
        if Construction::Rr22.supports(mode) {
            Construction::Rr22
        } else {
            Construction::Ecdh
        }
    }
}

impl fmt::Display for Construction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Construction::Ecdh => "ecdh",
            Construction::Rr22 => "rr22",
        })
    }
}

/// A party's role in the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Role {
    /// Blinds its keys first and computes the matches.
    Receiver,
    /// Blinds the receiver's keys a second time and sends its own keys
    /// blinded; holds the values in intersection-sum mode.
    Sender,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Receiver => "receiver",
            Role::Sender => "sender",
        })
    }
}

/// Who learns the result in the intersection and cardinality modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reveal {
    /// Only the receiver.
    Receiver,
    /// Both parties (the receiver sends the sender the result).
    Both,
}

impl fmt::Display for Reveal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Reveal::Receiver => "receiver",
            Reveal::Both => "both",
        })
    }
}

/// The most items a party accepts from its peer unless the job says fewer
/// ([`Job::max_peer_items`]): 2^26 keys, about 2 GiB of blinded points.
pub const DEFAULT_MAX_PEER_ITEMS: usize = 1 << 26;

/// The largest batch a party may announce (keys a frame).
pub const MAX_BATCH: usize = 1 << 16;
/// The largest bound on an intersection sum: the sender recovers the sum by
/// baby-step giant-step in about 2·sqrt(bound) group operations.
pub const MAX_SUM_BOUND: u64 = 1 << 44;

/// The parameters of a PSI job, identical at both parties.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    /// What to compute.
    pub mode: Mode,
    /// How (checked to be able to run `mode`).
    pub construction: Construction,
    /// Who learns the result ([`Mode::Join`] always reveals to both,
    /// [`Mode::IntersectionSum`] has its own fixed outputs).
    pub reveal: Reveal,
    /// A description of how keys were chosen and normalised (columns, trim,
    /// case folding); the parties refuse to run if theirs differ, since the
    /// intersection would be silently wrong.
    pub key_spec: String,
    /// Keys a batch.
    pub batch: usize,
    /// In intersection-sum mode, the largest total the sender may recover;
    /// the sender checks that the total of all its values is within it.
    pub sum_bound: u64,
    /// The most items this party accepts from the peer (bounds memory).
    pub max_peer_items: usize,
    /// The fewest matches for which the result is revealed (0: any). Below
    /// it the receiver sends neither positions, nor a count, nor the sum:
    /// both parties end with [`PsiError::BelowMinimum`] and the sender
    /// learns only that the threshold was not met. Both parties must give
    /// the same value (checked in the hello); a bucketed run refuses a
    /// minimum, since it would apply per bucket.
    #[serde(default)]
    pub min_intersection: usize,
}

impl Job {
    /// A job of `mode` by the fastest construction that runs it
    /// ([`Construction::fastest`]: RR22 for intersection and join, ECDH-PSI
    /// for the others — the command line's default too), revealed to the
    /// receiver only (the more private choice: [`Job::with_reveal`] asks
    /// for both), batches of 4096 keys, sum bound 2^40 − 1, at most 2^26
    /// items from the peer.
    ///
    /// ```
    /// # mod indomain { pub use indomain_psi as psi; }
    /// use indomain::psi::{Construction, Job, Mode, Reveal};
    ///
    /// let job = Job::new(Mode::Intersection).with_key_spec("email, trimmed, lower case");
    /// assert_eq!(job.construction, Construction::Rr22);
    /// assert_eq!(job.reveal, Reveal::Receiver);
    /// assert_eq!(Job::new(Mode::Cardinality).construction, Construction::Ecdh);
    /// ```
    pub fn new(mode: Mode) -> Self {
        Self {
            mode,
            construction: Construction::fastest(mode),
            reveal: Reveal::Receiver,
            key_spec: String::new(),
            batch: 4096,
            sum_bound: (1 << 40) - 1,
            max_peer_items: DEFAULT_MAX_PEER_ITEMS,
            min_intersection: 0,
        }
    }

    /// Whether the sender learns more than the receiver's set size.
    pub(crate) fn sender_learns_result(&self) -> bool {
        match self.mode {
            Mode::Join | Mode::IntersectionSum => true,
            Mode::Intersection | Mode::Cardinality => self.reveal == Reveal::Both,
        }
    }

    /// Whether the double-blinded receiver keys are shuffled before they
    /// return, hiding which of the receiver's keys matched.
    pub(crate) fn hides_receiver_matches(&self) -> bool {
        matches!(self.mode, Mode::Cardinality | Mode::IntersectionSum)
    }

    /// The same job revealed to `reveal` (intersection and cardinality).
    pub fn with_reveal(mut self, reveal: Reveal) -> Self {
        self.reveal = reveal;
        self
    }

    /// The same job with `key_spec`: how keys were chosen and normalised,
    /// checked to be equal at both parties in the hello.
    pub fn with_key_spec(mut self, key_spec: impl Into<String>) -> Self {
        self.key_spec = key_spec.into();
        self
    }

    /// The same job run by `construction`.
    pub fn with_construction(mut self, construction: Construction) -> Self {
        self.construction = construction;
        self
    }

    /// The same job revealing its result only when at least `minimum` keys
    /// match ([`Job::min_intersection`]).
    pub fn with_min_intersection(mut self, minimum: usize) -> Self {
        self.min_intersection = minimum;
        self
    }

    /// Whether `count` matches are too few to reveal.
    pub(crate) fn below_minimum(&self, count: usize) -> bool {
        count < self.min_intersection
    }

    pub(crate) fn check(&self) -> Result<(), PsiError> {
        if !self.construction.supports(self.mode) {
            return Err(PsiError::Job(format!(
                "the {} construction cannot compute {}",
                self.construction, self.mode
            )));
        }
        if self.batch == 0 || self.batch > MAX_BATCH {
            return Err(PsiError::Job(format!(
                "batch of {} keys, must be 1..={MAX_BATCH}",
                self.batch
            )));
        }
        if self.mode == Mode::IntersectionSum && self.sum_bound > MAX_SUM_BOUND {
            return Err(PsiError::Job(format!(
                "sum bound {} above the maximum {MAX_SUM_BOUND}",
                self.sum_bound
            )));
        }
        Ok(())
    }
}

/// The first message of a run: the job as this party sees it and its set size.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Hello {
    pub version: u32,
    pub construction: Construction,
    pub mode: Mode,
    pub reveal: Reveal,
    pub role: Role,
    pub key_spec: String,
    pub batch: u32,
    pub sum_bound: u64,
    pub items: u64,
    /// The fewest matches revealed ([`Job::min_intersection`]).
    pub min_intersection: u64,
    /// The sender's ElGamal public key in intersection-sum mode.
    pub public_key: Option<[u8; 32]>,
}

/// Version 2 added the construction id. Version 3: a one-column key is
/// hashed as its bytes, as `Items::from_raw` gives it (version 2 prefixed
/// it with its length), so a version-2 peer would find no match and is
/// refused instead. Version 4 added the minimum intersection and the
/// below-minimum reveal ([`BELOW_MINIMUM`]).
pub(crate) const VERSION: u32 = 4;

/// Sent in place of a count (positions, cardinality or sum) when fewer
/// than the job's minimum keys match: no figure travels.
pub(crate) const BELOW_MINIMUM: u64 = u64::MAX;

impl Hello {
    pub fn new(job: &Job, role: Role, items: usize, public_key: Option<[u8; 32]>) -> Self {
        Self {
            version: VERSION,
            construction: job.construction,
            mode: job.mode,
            reveal: job.reveal,
            role,
            key_spec: job.key_spec.clone(),
            batch: job.batch as u32,
            sum_bound: job.sum_bound,
            items: items as u64,
            min_intersection: job.min_intersection as u64,
            public_key,
        }
    }

    /// Checks the peer's hello against ours; returns the peer's item count.
    pub fn check_peer(&self, theirs: &Hello, peer: &str, limit: usize) -> Result<usize, PsiError> {
        let differ = |field: &'static str, ours: String, theirs: String| {
            if ours == theirs {
                Ok(())
            } else {
                Err(PsiError::JobMismatch {
                    peer: peer.to_string(),
                    phase: Phase::Hello,
                    field,
                    ours,
                    theirs,
                })
            }
        };
        differ(
            "version",
            self.version.to_string(),
            theirs.version.to_string(),
        )?;
        differ(
            "construction",
            self.construction.to_string(),
            theirs.construction.to_string(),
        )?;
        differ("mode", self.mode.to_string(), theirs.mode.to_string())?;
        if self.mode != Mode::Join && self.mode != Mode::IntersectionSum {
            differ("reveal", self.reveal.to_string(), theirs.reveal.to_string())?;
        }
        // One sender and one receiver: report both actual roles ("ours
        // receiver, theirs receiver"), not the role we expected of the peer.
        if self.role == theirs.role {
            return Err(PsiError::JobMismatch {
                peer: peer.to_string(),
                phase: Phase::Hello,
                field: "role (one side must be the sender, the other the receiver)",
                ours: self.role.to_string(),
                theirs: theirs.role.to_string(),
            });
        }
        differ("key spec", self.key_spec.clone(), theirs.key_spec.clone())?;
        differ("batch", self.batch.to_string(), theirs.batch.to_string())?;
        if self.mode == Mode::IntersectionSum {
            differ(
                "sum bound",
                self.sum_bound.to_string(),
                theirs.sum_bound.to_string(),
            )?;
        }
        differ(
            "min intersection",
            self.min_intersection.to_string(),
            theirs.min_intersection.to_string(),
        )?;
        if theirs.items > limit as u64 {
            return Err(PsiError::TooManyItems {
                peer: peer.to_string(),
                phase: Phase::Hello,
                announced: theirs.items,
                limit,
            });
        }
        // Fewer keys on either side than the minimum: no run can reach it,
        // so both stop before any key is sent.
        if self.items.min(theirs.items) < self.min_intersection {
            return Err(PsiError::BelowMinimum {
                peer: peer.to_string(),
                phase: Phase::Hello,
                minimum: self.min_intersection as usize,
            });
        }
        Ok(theirs.items as usize)
    }
}

/// What one party learns from a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// This party's role.
    pub role: Role,
    /// The size of this party's set.
    pub items: usize,
    /// The size of the peer's set (every mode reveals it).
    pub peer_items: usize,
    /// |X ∩ Y|, if this party learns it.
    pub intersection_size: Option<usize>,
    /// Indices into this party's items of the matching keys, in the order
    /// common to both parties (sorted by the double-blinded value), if this
    /// party learns them.
    pub matched: Option<Vec<usize>>,
    /// The sum of the sender's values over the intersection (the sender in
    /// intersection-sum mode only).
    pub sum: Option<u64>,
}

/// Runs the receiver's side of `job` by the construction it names.
pub fn receiver<C, R>(
    ch: &mut C,
    job: &Job,
    items: &Items,
    rng: &mut R,
    progress: &mut dyn FnMut(Progress),
) -> Result<Outcome, PsiError>
where
    C: Channel + ?Sized,
    R: CryptoRng + ?Sized,
{
    match job.construction {
        Construction::Ecdh => ecdh::receiver(ch, job, items, rng, progress),
        Construction::Rr22 => rr22::receiver(ch, job, items, rng, progress),
    }
}

/// Runs the sender's side of `job` by the construction it names; `values`
/// only in intersection-sum mode.
pub fn sender<C, R>(
    ch: &mut C,
    job: &Job,
    items: &Items,
    values: Option<&[u64]>,
    rng: &mut R,
    progress: &mut dyn FnMut(Progress),
) -> Result<Outcome, PsiError>
where
    C: Channel + ?Sized,
    R: CryptoRng + ?Sized,
{
    match job.construction {
        Construction::Ecdh => ecdh::sender(ch, job, items, values, rng, progress),
        Construction::Rr22 => match values {
            None => rr22::sender(ch, job, items, rng, progress),
            Some(_) => Err(PsiError::Job(format!(
                "values are not used in {} mode",
                job.mode
            ))),
        },
    }
}

impl Job {
    /// Runs this job as the receiver over `ch`, without progress reports:
    /// [`receiver`] with a progress closure that ignores them.
    pub fn receive<C, R>(&self, ch: &mut C, items: &Items, rng: &mut R) -> Result<Outcome, PsiError>
    where
        C: Channel + ?Sized,
        R: CryptoRng + ?Sized,
    {
        receiver(ch, self, items, rng, &mut |_| {})
    }

    /// Runs this job as the sender over `ch` (with one value a key in
    /// intersection-sum mode), without progress reports: [`sender`] with a
    /// progress closure that ignores them.
    pub fn send<C, R>(
        &self,
        ch: &mut C,
        items: &Items,
        values: Option<&[u64]>,
        rng: &mut R,
    ) -> Result<Outcome, PsiError>
    where
        C: Channel + ?Sized,
        R: CryptoRng + ?Sized,
    {
        sender(ch, self, items, values, rng, &mut |_| {})
    }
}

/// Sends the hello and receives the peer's.
pub(crate) fn exchange_hello<C: Channel + ?Sized>(
    ch: &mut C,
    hello: &Hello,
) -> Result<Hello, PsiError> {
    let peer = ch.peer().to_string();
    wire::send_msg(ch, hello).map_err(PsiError::net(&peer, Phase::Hello))?;
    wire::recv_msg(ch).map_err(PsiError::net(&peer, Phase::Hello))
}

/// The receiver's finishing step in intersection and join modes, when the
/// sender learns the result: the count, then the positions of the matches
/// in the sender's shuffled stream, in the common order. Call
/// [`refuse_below_minimum`] first.
pub(crate) fn send_positions<C: Channel + ?Sized>(
    ch: &mut C,
    job: &Job,
    positions: &[u32],
) -> Result<(), PsiError> {
    let peer = ch.peer().to_string();
    let phase = Phase::Reveal;
    wire::send_msg(ch, &(positions.len() as u64)).map_err(PsiError::net(&peer, phase))?;
    let mut out = Outbound::new(ch);
    for chunk in positions.chunks(job.batch) {
        let bytes: Vec<u8> = chunk.iter().flat_map(|p| p.to_le_bytes()).collect();
        out.send(&bytes).map_err(PsiError::stream(&peer, phase))?;
    }
    out.finish().map_err(PsiError::stream(&peer, phase))
}

/// The sender's side of [`send_positions`]: `order[p]` is the index of the
/// item sent at position p; returns the matched indices in the common order.
pub(crate) fn recv_positions<C: Channel + ?Sized>(
    ch: &mut C,
    job: &Job,
    order: &[u32],
    most: usize,
) -> Result<Vec<usize>, PsiError> {
    let peer = ch.peer().to_string();
    let phase = Phase::Reveal;
    let count = recv_count(ch, job, phase, most)?;
    let mut seen = vec![false; order.len()];
    let mut matched = Vec::with_capacity(count);
    for size in batch_sizes(count, job.batch) {
        let batch = indomain_net::stream::recv_batch(ch, size * 4)
            .map_err(PsiError::stream(&peer, phase))?;
        for p in batch.chunks_exact(4) {
            let p = u32::from_le_bytes([p[0], p[1], p[2], p[3]]) as usize;
            match seen.get_mut(p) {
                Some(s) if !*s => *s = true,
                _ => {
                    return Err(PsiError::protocol(
                        &peer,
                        phase,
                        format!("position {p} out of range or repeated"),
                    ));
                }
            }
            matched.push(order[p] as usize);
        }
    }
    Ok(matched)
}

/// The receiver's check before it reveals anything: with fewer than the
/// job's minimum matches it tells the sender so, when the sender would
/// learn the result ([`BELOW_MINIMUM`] in place of the count: a message of
/// its own, or in intersection-sum mode an 8-byte frame in place of the
/// count and ciphertext), and ends with [`PsiError::BelowMinimum`].
pub(crate) fn refuse_below_minimum<C: Channel + ?Sized>(
    ch: &mut C,
    job: &Job,
    count: usize,
    phase: Phase,
) -> Result<(), PsiError> {
    if !job.below_minimum(count) {
        return Ok(());
    }
    let peer = ch.peer().to_string();
    if job.sender_learns_result() {
        let sent = match job.mode {
            Mode::IntersectionSum => ch.send(&BELOW_MINIMUM.to_le_bytes()),
            _ => wire::send_msg(ch, &BELOW_MINIMUM),
        };
        sent.map_err(PsiError::net(&peer, phase))?;
    }
    Err(PsiError::BelowMinimum {
        peer,
        phase,
        minimum: job.min_intersection,
    })
}

/// Receives a count of at most `most`; the receiver's [`BELOW_MINIMUM`]
/// is [`PsiError::BelowMinimum`].
pub(crate) fn recv_count<C: Channel + ?Sized>(
    ch: &mut C,
    job: &Job,
    phase: Phase,
    most: usize,
) -> Result<usize, PsiError> {
    let peer = ch.peer().to_string();
    let count: u64 = wire::recv_msg(ch).map_err(PsiError::net(&peer, phase))?;
    check_count(count, job, &peer, phase, most)
}

/// A count frame's value: exactly 8 bytes, little-endian.
pub(crate) fn read_count(frame: &[u8], peer: &str, phase: Phase) -> Result<u64, PsiError> {
    let bytes: [u8; 8] = frame.try_into().map_err(|_| PsiError::BatchLength {
        peer: peer.to_string(),
        phase,
        expected: 8,
        got: frame.len(),
    })?;
    Ok(u64::from_le_bytes(bytes))
}

/// Checks a count the receiver sent: [`BELOW_MINIMUM`] ends the run, a
/// count above `most` or below the job's minimum is a protocol error.
pub(crate) fn check_count(
    count: u64,
    job: &Job,
    peer: &str,
    phase: Phase,
    most: usize,
) -> Result<usize, PsiError> {
    if count == BELOW_MINIMUM {
        return Err(PsiError::BelowMinimum {
            peer: peer.to_string(),
            phase,
            minimum: job.min_intersection,
        });
    }
    if count < job.min_intersection as u64 {
        return Err(PsiError::protocol(
            peer,
            phase,
            format!(
                "count {count} is below the job's minimum {} yet was revealed",
                job.min_intersection
            ),
        ));
    }
    if count > most as u64 {
        return Err(PsiError::protocol(
            peer,
            phase,
            format!("count {count} exceeds {most}"),
        ));
    }
    Ok(count as usize)
}

/// The number of items, refused above 2^32 − 1 (positions travel as u32).
pub(crate) fn checked_len(items: &Items) -> Result<usize, PsiError> {
    if items.len() > u32::MAX as usize {
        return Err(PsiError::Job(format!(
            "{} items, more than 2^32 − 1",
            items.len()
        )));
    }
    Ok(items.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_peer_with_the_length_prefixed_key_encoding_is_refused_at_hello() {
        let job = Job::new(Mode::Intersection);
        let ours = Hello::new(&job, Role::Receiver, 3, None);
        let mut theirs = Hello::new(&job, Role::Sender, 3, None);
        assert_eq!(ours.check_peer(&theirs, "bank", 10).unwrap(), 3);
        theirs.version = 2;
        let err = ours.check_peer(&theirs, "bank", 10).unwrap_err();
        assert!(
            matches!(&err, PsiError::JobMismatch { peer, field: "version", .. } if peer == "bank"),
            "{err}"
        );
        assert!(err.to_string().contains("bank"), "{err}");
    }
}
