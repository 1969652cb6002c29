//! Bucketed PSI: both parties split their keys by a keyed hash into the same
//! number of buckets and run the job's construction on each bucket pair in
//! turn over the same channel, so the protocol's working memory is that of
//! one bucket (about 1/B of the whole run) whatever the input size. A run
//! can be resumed after the last bucket both parties completed.
//!
//! The receiver draws the bucket key and sends it with the bucket count and
//! its resume point; both then announce their per-bucket set sizes. Each
//! bucket pair is an ordinary run of the job (its own hello, checked
//! against the announced size). Intersection and join only: their outputs
//! over the buckets combine to exactly the unbucketed output (a key lands
//! in the same bucket at both parties), and the join order is bucket by
//! bucket, each in its run's common order. Cardinality and
//! intersection-sum would reveal a count or a sum per bucket, so they are
//! refused.
//!
//! What each party learns beyond the unbucketed run: how many of the
//! peer's keys fall in each bucket under a fresh random key (a multinomial
//! sample that says nothing about which keys, for keys the party does not
//! already hold).
//!
//! Two entry points: [`run`] over keys held in memory (the split into
//! buckets is a list of positions), and [`run_source`] over a
//! [`BucketSource`] that hands over one bucket's keys at a time (for
//! instance from bucket files spooled to disk), so that a party never holds
//! more than one bucket's keys whatever its input size.
//!
//! Resuming: after every bucket the caller of [`run`] is handed a [`State`] to keep
//! (beside the output). Given back, it is checked against the job, the role,
//! the peer, a digest of this party's keys and the peer's bucket sizes (a
//! changed input on either side changes them), and the run continues after
//! the last bucket both parties completed, with the same bucket key.

use crate::session::{Job, Outcome, Progress, Role};
use crate::{Items, PsiError};
use indomain_net::Channel;
use rand::CryptoRng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

mod source;

pub use source::{BucketResult, BucketSource, Header, Resume, Split, Totals, run_source};

/// The key of the hash that assigns keys to buckets, drawn by the receiver.
pub type BucketKey = [u8; 16];

/// The most buckets a run may use.
pub const MAX_BUCKETS: usize = 1 << 16;

/// What a party keeps of a bucketed run to resume it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// The job that ran.
    pub job: Job,
    /// This party's role.
    pub role: Role,
    /// The peer's name.
    pub peer: String,
    /// SHA-256 of this party's keys, in order.
    pub input: [u8; 32],
    /// The bucket key.
    pub key: [u8; 16],
    /// The peer's set size in every bucket.
    pub peer_sizes: Vec<u64>,
    /// What this party learned in each completed bucket, in bucket order.
    pub done: Vec<Bucket>,
}

/// What one party learned from one bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bucket {
    /// Matches in the bucket, if this party learns them.
    pub intersection_size: Option<u64>,
    /// Indices into this party's whole input, in the common order.
    pub matched: Option<Vec<u64>>,
}

/// How to run in buckets: their number, the state of an interrupted run to
/// resume (if any) and where each new state goes.
pub struct Plan<'a> {
    /// Number of buckets (both parties must agree).
    pub buckets: usize,
    /// The state an earlier, interrupted run of this job left.
    pub resume: Option<State>,
    /// Called after every completed bucket with the state to keep.
    pub save: &'a mut dyn FnMut(&State) -> Result<(), PsiError>,
}

/// Runs the receiver's side of `job` on `items` in `buckets` buckets.
pub fn receiver<C, R>(
    ch: &mut C,
    job: &Job,
    items: &Items,
    buckets: usize,
    rng: &mut R,
    progress: &mut dyn FnMut(Progress),
) -> Result<Outcome, PsiError>
where
    C: Channel + ?Sized,
    R: CryptoRng + ?Sized,
{
    let plan = Plan {
        buckets,
        resume: None,
        save: &mut |_| Ok(()),
    };
    run(ch, job, items, Role::Receiver, plan, rng, progress)
}

/// Runs the sender's side of `job` on `items` in `buckets` buckets.
pub fn sender<C, R>(
    ch: &mut C,
    job: &Job,
    items: &Items,
    buckets: usize,
    rng: &mut R,
    progress: &mut dyn FnMut(Progress),
) -> Result<Outcome, PsiError>
where
    C: Channel + ?Sized,
    R: CryptoRng + ?Sized,
{
    let plan = Plan {
        buckets,
        resume: None,
        save: &mut |_| Ok(()),
    };
    run(ch, job, items, Role::Sender, plan, rng, progress)
}

/// Runs this party's side (`role`) of `job` in buckets as `plan` says,
/// resuming if it holds a state: [`run_source`] over the keys in memory.
pub fn run<C, R>(
    ch: &mut C,
    job: &Job,
    items: &Items,
    role: Role,
    plan: Plan<'_>,
    rng: &mut R,
    progress: &mut dyn FnMut(Progress),
) -> Result<Outcome, PsiError>
where
    C: Channel + ?Sized,
    R: CryptoRng + ?Sized,
{
    let resume = plan.resume.as_ref().map(|s| Resume {
        header: Header {
            job: s.job.clone(),
            role: s.role,
            peer: s.peer.clone(),
            input: s.input,
            key: s.key,
            peer_sizes: s.peer_sizes.clone(),
        },
        done: s.done.len(),
    });
    let mut source = InMemory {
        items,
        members: Vec::new(),
        state: plan.resume,
        save: plan.save,
    };
    let totals = run_source(
        ch,
        job,
        role,
        plan.buckets,
        &mut source,
        resume,
        rng,
        progress,
    )?;
    let mut outcome = Outcome {
        role,
        items: totals.items,
        peer_items: totals.peer_items,
        intersection_size: None,
        matched: None,
        sum: None,
    };
    for bucket in source.state.map(|s| s.done).unwrap_or_default() {
        if let Some(size) = bucket.intersection_size {
            *outcome.intersection_size.get_or_insert(0) += size as usize;
        }
        if let Some(matched) = bucket.matched {
            outcome
                .matched
                .get_or_insert_with(Vec::new)
                .extend(matched.into_iter().map(|i| i as usize));
        }
    }
    Ok(outcome)
}

/// Keys in memory as a [`BucketSource`]: the buckets are lists of
/// positions, and the results gather in a [`State`] saved after each.
struct InMemory<'a, 'p> {
    items: &'a Items,
    members: Vec<Vec<u32>>,
    state: Option<State>,
    save: &'p mut dyn FnMut(&State) -> Result<(), PsiError>,
}

impl BucketSource for InMemory<'_, '_> {
    fn split(&mut self, bucket_key: &BucketKey, buckets: usize) -> Result<Split, PsiError> {
        let items = self.items;
        let of: Vec<u32> = (0..items.len())
            .into_par_iter()
            .map(|i| bucket_of(items.key(i), bucket_key, buckets) as u32)
            .collect();
        let mut members: Vec<Vec<u32>> = vec![Vec::new(); buckets];
        for (i, &b) in of.iter().enumerate() {
            members[b as usize].push(i as u32);
        }
        let sizes = members.iter().map(|m| m.len() as u64).collect();
        self.members = members;
        Ok(Split {
            sizes,
            input: digest(items),
        })
    }

    fn bucket(&mut self, b: usize) -> Result<Items, PsiError> {
        let member = self.members.get(b).map_or(&[][..], Vec::as_slice);
        Ok(Items::from_raw(
            member.iter().map(|&i| self.items.key(i as usize)),
        ))
    }

    fn start(&mut self, header: &Header, first: usize) -> Result<(), PsiError> {
        match &mut self.state {
            Some(state) => state.done.truncate(first),
            None => {
                self.state = Some(State {
                    job: header.job.clone(),
                    role: header.role,
                    peer: header.peer.clone(),
                    input: header.input,
                    key: header.key,
                    peer_sizes: header.peer_sizes.clone(),
                    done: Vec::new(),
                })
            }
        }
        Ok(())
    }

    fn done(&mut self, b: usize, result: BucketResult) -> Result<(), PsiError> {
        let member = &self.members[b];
        let state = self
            .state
            .as_mut()
            .ok_or_else(|| PsiError::Job("a bucket completed before the run started".into()))?;
        state.done.push(Bucket {
            intersection_size: result.intersection_size,
            matched: result
                .matched
                .map(|m| m.into_iter().map(|i| member[i] as u64).collect()),
        });
        (self.save)(state)
    }

    fn position(&self, b: usize, i: usize) -> usize {
        self.members[b][i] as usize
    }
}

/// The bucket of a key: the first 8 bytes of SHA-256(domain, bucket key,
/// key) scaled to 0..buckets. A [`BucketSource`] splits its keys by it.
pub fn bucket_of(key: &[u8], bucket_key: &BucketKey, buckets: usize) -> usize {
    let mut h = Sha256::new();
    h.update(b"indomain/psi/v1/bucket");
    h.update(bucket_key);
    h.update((key.len() as u64).to_le_bytes());
    h.update(key);
    let d = h.finalize();
    let mut word = [0u8; 8];
    word.copy_from_slice(&d[..8]);
    ((u64::from_le_bytes(word) as u128 * buckets as u128) >> 64) as usize
}

/// SHA-256 of the length-prefixed keys, in order.
fn digest(items: &Items) -> [u8; 32] {
    let mut d = InputDigest::new();
    for key in items.iter() {
        d.update(key);
    }
    d.finish()
}

/// A digest of a party's keys fed one at a time (SHA-256 of the
/// length-prefixed keys, in order): a [`BucketSource`] that streams its
/// input computes [`Split::input`] with it.
#[derive(Clone, Default)]
pub struct InputDigest(Sha256);

impl InputDigest {
    /// No keys yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the next key.
    pub fn update(&mut self, key: &[u8]) {
        self.0.update((key.len() as u64).to_le_bytes());
        self.0.update(key);
    }

    /// The digest of the keys added.
    pub fn finish(self) -> [u8; 32] {
        self.0.finalize().into()
    }
}
