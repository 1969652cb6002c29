//! Bucketed PSI: both parties split their keys by a keyed hash into the same
//! number of buckets and run the job's construction on each bucket pair in
//! turn over the same channel, so the protocol's working memory is that of
//! one bucket (about 1/B of the whole run) whatever the input size.
//!
//! The receiver draws the bucket key and sends it with the bucket count;
//! both then announce their per-bucket set sizes. Each bucket pair is an
//! ordinary run of the job (its own hello, checked against the announced
//! size). Intersection and join only: their outputs over the buckets
//! combine to exactly the unbucketed output (a key lands in the same bucket
//! at both parties), and the join order is bucket by bucket, each in its
//! run's common order. Cardinality and intersection-sum would reveal a
//! count or a sum per bucket, so they are refused.
//!
//! What each party learns beyond the unbucketed run: how many of the
//! peer's keys fall in each bucket under a fresh random key (a multinomial
//! sample that says nothing about which keys, for keys the peer does not
//! already hold).

use crate::session::{self, Job, Mode, Outcome, Progress, Role};
use crate::{Items, Phase, PsiError};
use indomain_net::{Channel, wire};
use rand::{CryptoRng, RngExt};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The most buckets a run may use.
pub const MAX_BUCKETS: usize = 1 << 16;

#[derive(Serialize, Deserialize)]
struct BucketHello {
    buckets: u32,
    /// The receiver's bucket key; zero from the sender.
    key: [u8; 16],
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
    check(job, buckets)?;
    let mut key = [0u8; 16];
    rng.fill(&mut key);
    let peer = ch.peer().to_string();
    wire::send_msg(
        ch,
        &BucketHello {
            buckets: buckets as u32,
            key,
        },
    )
    .map_err(PsiError::net(&peer, Phase::Hello))?;
    let theirs: BucketHello = wire::recv_msg(ch).map_err(PsiError::net(&peer, Phase::Hello))?;
    agree(&peer, buckets, theirs.buckets)?;
    run(ch, job, items, buckets, &key, Role::Receiver, rng, progress)
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
    check(job, buckets)?;
    let peer = ch.peer().to_string();
    wire::send_msg(
        ch,
        &BucketHello {
            buckets: buckets as u32,
            key: [0; 16],
        },
    )
    .map_err(PsiError::net(&peer, Phase::Hello))?;
    let theirs: BucketHello = wire::recv_msg(ch).map_err(PsiError::net(&peer, Phase::Hello))?;
    agree(&peer, buckets, theirs.buckets)?;
    run(
        ch,
        job,
        items,
        buckets,
        &theirs.key,
        Role::Sender,
        rng,
        progress,
    )
}

fn check(job: &Job, buckets: usize) -> Result<(), PsiError> {
    if !matches!(job.mode, Mode::Intersection | Mode::Join) {
        return Err(PsiError::Job(format!(
            "{} mode cannot run in buckets (it would reveal a result per bucket)",
            job.mode
        )));
    }
    if buckets == 0 || buckets > MAX_BUCKETS {
        return Err(PsiError::Job(format!(
            "{buckets} buckets, must be 1..={MAX_BUCKETS}"
        )));
    }
    Ok(())
}

fn agree(peer: &str, ours: usize, theirs: u32) -> Result<(), PsiError> {
    if ours as u64 == theirs as u64 {
        return Ok(());
    }
    Err(PsiError::JobMismatch {
        peer: peer.to_string(),
        phase: Phase::Hello,
        field: "buckets",
        ours: ours.to_string(),
        theirs: theirs.to_string(),
    })
}

/// The bucket of a key: the first 8 bytes of SHA-256(domain, bucket key,
/// key) scaled to 0..buckets.
fn bucket_of(key: &[u8], bucket_key: &[u8; 16], buckets: usize) -> usize {
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

#[allow(clippy::too_many_arguments)]
fn run<C, R>(
    ch: &mut C,
    job: &Job,
    items: &Items,
    buckets: usize,
    bucket_key: &[u8; 16],
    role: Role,
    rng: &mut R,
    progress: &mut dyn FnMut(Progress),
) -> Result<Outcome, PsiError>
where
    C: Channel + ?Sized,
    R: CryptoRng + ?Sized,
{
    use rayon::prelude::*;
    let peer = ch.peer().to_string();
    let of: Vec<u32> = (0..items.len())
        .into_par_iter()
        .map(|i| bucket_of(items.key(i), bucket_key, buckets) as u32)
        .collect();
    let mut members: Vec<Vec<u32>> = vec![Vec::new(); buckets];
    for (i, &b) in of.iter().enumerate() {
        members[b as usize].push(i as u32);
    }
    drop(of);

    // Both announce their bucket sizes, so progress can span the whole run
    // and each bucket's hello can be checked against them.
    let sizes: Vec<u8> = members
        .iter()
        .flat_map(|m| (m.len() as u64).to_le_bytes())
        .collect();
    ch.send(&sizes)
        .map_err(PsiError::net(&peer, Phase::Hello))?;
    let frame = ch.recv().map_err(PsiError::net(&peer, Phase::Hello))?;
    if frame.len() != 8 * buckets {
        return Err(PsiError::BatchLength {
            peer,
            phase: Phase::Hello,
            expected: 8 * buckets,
            got: frame.len(),
        });
    }
    let peer_sizes: Vec<u64> = frame
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default()))
        .collect();
    let peer_total = peer_sizes
        .iter()
        .try_fold(0u64, |a, &s| a.checked_add(s))
        .filter(|&t| t <= job.max_peer_items as u64)
        .ok_or_else(|| PsiError::TooManyItems {
            peer: peer.clone(),
            phase: Phase::Hello,
            announced: peer_sizes.iter().fold(0u64, |a, &s| a.saturating_add(s)),
            limit: job.max_peer_items,
        })? as usize;

    let total = items.len() + peer_total;
    let mut outcome = Outcome {
        role,
        items: items.len(),
        peer_items: peer_total,
        intersection_size: None,
        matched: None,
        sum: None,
    };
    let mut done = 0;
    for (b, member) in members.iter().enumerate() {
        let sub = Items::from_raw(member.iter().map(|&i| items.key(i as usize)));
        let mut inner = |p: Progress| {
            progress(Progress {
                done: done + p.done,
                total,
            })
        };
        // A repeated key lands twice in one bucket; its run refuses it, and
        // the error is given the positions in the whole input.
        let got = match role {
            Role::Receiver => session::receiver(ch, job, &sub, rng, &mut inner),
            Role::Sender => session::sender(ch, job, &sub, None, rng, &mut inner),
        }
        .map_err(|e| match e {
            PsiError::DuplicateInput { first, second } => PsiError::DuplicateInput {
                first: member[first] as usize,
                second: member[second] as usize,
            },
            e => e,
        })?;
        if got.peer_items as u64 != peer_sizes[b] {
            return Err(PsiError::protocol(
                &peer,
                Phase::Hello,
                format!(
                    "bucket {b}: {} items, {} announced",
                    got.peer_items, peer_sizes[b]
                ),
            ));
        }
        done += member.len() + got.peer_items;
        if let Some(size) = got.intersection_size {
            *outcome.intersection_size.get_or_insert(0) += size;
        }
        if let Some(matched) = got.matched {
            outcome
                .matched
                .get_or_insert_with(Vec::new)
                .extend(matched.into_iter().map(|i| member[i] as usize));
        }
    }
    Ok(outcome)
}
