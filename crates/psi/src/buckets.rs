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
//! Resuming: after every bucket the caller is handed a [`State`] to keep
//! (beside the output). Given back, it is checked against the job, the role,
//! the peer, a digest of this party's keys and the peer's bucket sizes (a
//! changed input on either side changes them), and the run continues after
//! the last bucket both parties completed, with the same bucket key.

use crate::session::{self, Job, Mode, Outcome, Progress, Role};
use crate::{Items, Phase, PsiError};
use indomain_net::{Channel, wire};
use rand::{CryptoRng, RngExt};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

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

#[derive(Serialize, Deserialize)]
struct BucketHello {
    buckets: u32,
    /// The receiver's bucket key; zero from the sender.
    key: [u8; 16],
    /// Buckets this party has completed.
    done: u32,
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
/// resuming if it holds a state.
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
    let buckets = plan.buckets;
    check(job, buckets)?;
    let peer = ch.peer().to_string();
    let input = digest(items);
    if let Some(state) = &plan.resume {
        check_state(state, job, role, &peer, &input, buckets)?;
    }
    let resume_done = plan.resume.as_ref().map_or(0, |s| s.done.len());
    let key = match (&plan.resume, role) {
        (Some(state), _) => state.key,
        (None, Role::Receiver) => {
            let mut key = [0u8; 16];
            rng.fill(&mut key);
            key
        }
        (None, Role::Sender) => [0; 16],
    };
    let ours = BucketHello {
        buckets: buckets as u32,
        key: if role == Role::Receiver { key } else { [0; 16] },
        done: resume_done as u32,
    };
    wire::send_msg(ch, &ours).map_err(PsiError::net(&peer, Phase::Hello))?;
    let theirs: BucketHello = wire::recv_msg(ch).map_err(PsiError::net(&peer, Phase::Hello))?;
    agree(&peer, "buckets", buckets as u64, theirs.buckets as u64)?;
    let key = match role {
        Role::Receiver => key,
        Role::Sender if plan.resume.is_some() && theirs.key != key => {
            return Err(resume_refused("the peer resumes with another bucket key"));
        }
        Role::Sender => theirs.key,
    };
    // Continue after the last bucket both completed.
    let start = resume_done.min(theirs.done as usize);

    let of: Vec<u32> = (0..items.len())
        .into_par_iter()
        .map(|i| bucket_of(items.key(i), &key, buckets) as u32)
        .collect();
    let mut members: Vec<Vec<u32>> = vec![Vec::new(); buckets];
    for (i, &b) in of.iter().enumerate() {
        members[b as usize].push(i as u32);
    }
    drop(of);
    let peer_sizes = exchange_sizes(ch, &peer, job, &members)?;
    let mut state = match plan.resume {
        Some(mut state) => {
            if state.peer_sizes != peer_sizes {
                return Err(resume_refused("the peer's input changed"));
            }
            state.done.truncate(start);
            state
        }
        None => State {
            job: job.clone(),
            role,
            peer: peer.clone(),
            input,
            key,
            peer_sizes: peer_sizes.clone(),
            done: Vec::new(),
        },
    };

    let peer_total = peer_sizes.iter().sum::<u64>() as usize;
    let total = items.len() + peer_total;
    let mut done: usize = (0..start)
        .map(|b| members[b].len() + peer_sizes[b] as usize)
        .sum();
    for (b, member) in members.iter().enumerate().skip(start) {
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
        state.done.push(Bucket {
            intersection_size: got.intersection_size.map(|s| s as u64),
            matched: got
                .matched
                .map(|m| m.into_iter().map(|i| member[i] as u64).collect()),
        });
        (plan.save)(&state)?;
    }

    let mut outcome = Outcome {
        role,
        items: items.len(),
        peer_items: peer_total,
        intersection_size: None,
        matched: None,
        sum: None,
    };
    for bucket in state.done {
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

fn check_state(
    state: &State,
    job: &Job,
    role: Role,
    peer: &str,
    input: &[u8; 32],
    buckets: usize,
) -> Result<(), PsiError> {
    let why = if state.job != *job {
        "the job differs"
    } else if state.role != role {
        "the role differs"
    } else if state.peer != peer {
        "the peer differs"
    } else if state.input != *input {
        "this party's input changed"
    } else if state.peer_sizes.len() != buckets || state.done.len() > buckets {
        "the number of buckets differs"
    } else {
        return Ok(());
    };
    Err(resume_refused(why))
}

fn resume_refused(why: &str) -> PsiError {
    PsiError::Job(format!("cannot resume the bucketed run: {why}"))
}

fn agree(peer: &str, field: &'static str, ours: u64, theirs: u64) -> Result<(), PsiError> {
    if ours == theirs {
        return Ok(());
    }
    Err(PsiError::JobMismatch {
        peer: peer.to_string(),
        phase: Phase::Hello,
        field,
        ours: ours.to_string(),
        theirs: theirs.to_string(),
    })
}

/// Sends this party's bucket sizes and receives the peer's, whose total
/// must be within the job's limit.
fn exchange_sizes<C: Channel + ?Sized>(
    ch: &mut C,
    peer: &str,
    job: &Job,
    members: &[Vec<u32>],
) -> Result<Vec<u64>, PsiError> {
    let sizes: Vec<u8> = members
        .iter()
        .flat_map(|m| (m.len() as u64).to_le_bytes())
        .collect();
    ch.send(&sizes).map_err(PsiError::net(peer, Phase::Hello))?;
    let frame = ch.recv().map_err(PsiError::net(peer, Phase::Hello))?;
    if frame.len() != sizes.len() {
        return Err(PsiError::BatchLength {
            peer: peer.to_string(),
            phase: Phase::Hello,
            expected: sizes.len(),
            got: frame.len(),
        });
    }
    let peer_sizes: Vec<u64> = frame
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default()))
        .collect();
    let announced = peer_sizes.iter().fold(0u64, |a, &s| a.saturating_add(s));
    if announced > job.max_peer_items as u64 {
        return Err(PsiError::TooManyItems {
            peer: peer.to_string(),
            phase: Phase::Hello,
            announced,
            limit: job.max_peer_items,
        });
    }
    Ok(peer_sizes)
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

/// SHA-256 of the length-prefixed keys, in order.
fn digest(items: &Items) -> [u8; 32] {
    let mut h = Sha256::new();
    for key in items.iter() {
        h.update((key.len() as u64).to_le_bytes());
        h.update(key);
    }
    h.finalize().into()
}
