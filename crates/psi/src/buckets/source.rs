//! The bucketed run over keys handed over one bucket at a time: the caller
//! implements [`BucketSource`] (for instance over bucket files spooled to
//! disk) and [`run_source`] asks it for one bucket's keys at a time, so
//! this party never holds more than one bucket's keys, whatever the input
//! size. What each party learns is that of the in-memory run
//! ([`super::run`], which is this run over a source in memory).
//!
//! Messages, in order: the bucket hello (count, the receiver's bucket key,
//! buckets completed), the per-bucket set sizes, then one ordinary run of
//! the job per bucket not yet completed by both parties.

use super::{BucketKey, MAX_BUCKETS};
use crate::session::{self, Job, Mode, Progress, Role};
use crate::{Items, Phase, PsiError};
use indomain_net::{Channel, wire};
use rand::{CryptoRng, RngExt};
use serde::{Deserialize, Serialize};

/// This party's keys, split into buckets and handed over one bucket at a
/// time, with hooks for what the run learns in each.
pub trait BucketSource {
    /// Splits the keys into `buckets` buckets, a key going to
    /// [`bucket_of`](super::bucket_of)`(key, bucket_key, buckets)`. Called once, before any
    /// bucket is asked for.
    fn split(&mut self, bucket_key: &BucketKey, buckets: usize) -> Result<Split, PsiError>;

    /// The distinct keys of bucket `b`, as many as [`BucketSource::split`]
    /// counted, always in the same order for the same input.
    fn bucket(&mut self, b: usize) -> Result<Items, PsiError>;

    /// Called once the sizes are exchanged: `header` is what to keep to
    /// resume this run, and buckets `..first` were completed by an earlier
    /// run (their results are the caller's to keep).
    fn start(&mut self, header: &Header, first: usize) -> Result<(), PsiError>;

    /// What this party learned in bucket `b`, the one
    /// [`BucketSource::bucket`] handed over last.
    fn done(&mut self, b: usize, result: BucketResult) -> Result<(), PsiError>;

    /// The position in the whole input of key `i` of bucket `b`, for
    /// errors (a repeated key) found by the bucket's run.
    fn position(&self, b: usize, i: usize) -> usize {
        let _ = b;
        i
    }
}

/// What [`BucketSource::split`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    /// The number of distinct keys in every bucket.
    pub sizes: Vec<u64>,
    /// A digest of this party's input, to refuse resuming on another input.
    pub input: [u8; 32],
}

/// What one bucket gave this party.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketResult {
    /// Matches in the bucket, if this party learns them.
    pub intersection_size: Option<u64>,
    /// Positions in the bucket's keys of the matches, in the order common
    /// to both parties, if this party learns them.
    pub matched: Option<Vec<usize>>,
}

/// What a party keeps to resume a bucketed run, besides the results of
/// the buckets it completed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// The job that ran.
    pub job: Job,
    /// This party's role.
    pub role: Role,
    /// The peer's name.
    pub peer: String,
    /// The digest of this party's input ([`Split::input`]).
    pub input: [u8; 32],
    /// The bucket key.
    pub key: BucketKey,
    /// The peer's set size in every bucket.
    pub peer_sizes: Vec<u64>,
}

/// An interrupted run to resume: its header and how many buckets this
/// party completed.
#[derive(Debug, Clone)]
pub struct Resume {
    /// What the interrupted run kept.
    pub header: Header,
    /// Buckets this party completed (the first `done`).
    pub done: usize,
}

/// The sizes of a completed bucketed run (the results went to the source).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    /// This party's distinct keys.
    pub items: usize,
    /// The peer's keys.
    pub peer_items: usize,
}

#[derive(Serialize, Deserialize)]
struct BucketHello {
    buckets: u32,
    /// The receiver's bucket key; zero from the sender.
    key: BucketKey,
    /// Buckets this party has completed.
    done: u32,
}

/// Runs this party's side (`role`) of `job` in `buckets` buckets over the
/// keys `source` hands over, resuming `resume` if given. Only one bucket's
/// keys are asked for at a time; each bucket's result goes to
/// [`BucketSource::done`].
#[allow(clippy::too_many_arguments)]
pub fn run_source<C, R, S>(
    ch: &mut C,
    job: &Job,
    role: Role,
    buckets: usize,
    source: &mut S,
    resume: Option<Resume>,
    rng: &mut R,
    progress: &mut dyn FnMut(Progress),
) -> Result<Totals, PsiError>
where
    C: Channel + ?Sized,
    R: CryptoRng + ?Sized,
    S: BucketSource + ?Sized,
{
    check(job, buckets)?;
    let peer = ch.peer().to_string();
    if let Some(r) = &resume {
        check_header(r, job, role, &peer, buckets)?;
    }
    let resume_done = resume.as_ref().map_or(0, |r| r.done);
    let key = match (&resume, role) {
        (Some(r), _) => r.header.key,
        (None, Role::Receiver) => {
            let mut key = [0u8; 16];
            rng.fill(&mut key);
            key
        }
        (None, Role::Sender) => [0; 16],
    };
    // A sender that learns no result keeps no resume state: it has nothing
    // of its own to resume, so it announces every bucket done and continues
    // wherever the receiver does (running fewer buckets tells the receiver
    // less, never more).
    let stateless = role == Role::Sender && !job.sender_learns_result() && resume.is_none();
    let ours = BucketHello {
        buckets: buckets as u32,
        key: if role == Role::Receiver { key } else { [0; 16] },
        done: if stateless {
            buckets as u32
        } else {
            resume_done as u32
        },
    };
    wire::send_msg(ch, &ours).map_err(PsiError::net(&peer, Phase::Hello))?;
    let theirs: BucketHello = wire::recv_msg(ch).map_err(PsiError::net(&peer, Phase::Hello))?;
    agree(&peer, "buckets", buckets as u64, theirs.buckets as u64)?;
    let key = match role {
        Role::Receiver => key,
        Role::Sender if resume.is_some() && theirs.key != key => {
            return Err(resume_refused("the peer resumes with another bucket key"));
        }
        Role::Sender => theirs.key,
    };
    // Continue after the last bucket both completed.
    let start = if stateless {
        (theirs.done as usize).min(buckets)
    } else {
        resume_done.min(theirs.done as usize)
    };

    let split = source.split(&key, buckets)?;
    if split.sizes.len() != buckets {
        return Err(PsiError::Job(format!(
            "the bucket source split into {} buckets, not {buckets}",
            split.sizes.len()
        )));
    }
    if resume
        .as_ref()
        .is_some_and(|r| r.header.input != split.input)
    {
        return Err(resume_refused("this party's input changed"));
    }
    let peer_sizes = exchange_sizes(ch, &peer, job, &split.sizes)?;
    if resume
        .as_ref()
        .is_some_and(|r| r.header.peer_sizes != peer_sizes)
    {
        return Err(resume_refused("the peer's input changed"));
    }
    let header = Header {
        job: job.clone(),
        role,
        peer: peer.clone(),
        input: split.input,
        key,
        peer_sizes,
    };
    source.start(&header, start)?;

    let items = split.sizes.iter().sum::<u64>() as usize;
    let peer_items = header.peer_sizes.iter().sum::<u64>() as usize;
    let total = items + peer_items;
    let mut done: usize = (0..start)
        .map(|b| (split.sizes[b] + header.peer_sizes[b]) as usize)
        .sum();
    for b in start..buckets {
        let sub = source.bucket(b)?;
        if sub.len() as u64 != split.sizes[b] {
            return Err(PsiError::Job(format!(
                "the bucket source gave {} keys in bucket {b}, {} counted",
                sub.len(),
                split.sizes[b]
            )));
        }
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
                first: source.position(b, first),
                second: source.position(b, second),
            },
            e => e,
        })?;
        if got.peer_items as u64 != header.peer_sizes[b] {
            return Err(PsiError::protocol(
                &peer,
                Phase::Hello,
                format!(
                    "bucket {b}: {} items, {} announced",
                    got.peer_items, header.peer_sizes[b]
                ),
            ));
        }
        done += sub.len() + got.peer_items;
        drop(sub);
        source.done(
            b,
            BucketResult {
                intersection_size: got.intersection_size.map(|s| s as u64),
                matched: got.matched,
            },
        )?;
    }
    Ok(Totals { items, peer_items })
}

fn check(job: &Job, buckets: usize) -> Result<(), PsiError> {
    if !matches!(job.mode, Mode::Intersection | Mode::Join) {
        return Err(PsiError::Job(format!(
            "{} mode cannot run in buckets (it would reveal a result per bucket)",
            job.mode
        )));
    }
    if job.min_intersection > 0 {
        return Err(PsiError::Job(
            "a minimum intersection cannot apply to a bucketed run (it would apply bucket by bucket): run it in one piece".into(),
        ));
    }
    if buckets == 0 || buckets > MAX_BUCKETS {
        return Err(PsiError::Job(format!(
            "{buckets} buckets, must be 1..={MAX_BUCKETS}"
        )));
    }
    Ok(())
}

fn check_header(
    resume: &Resume,
    job: &Job,
    role: Role,
    peer: &str,
    buckets: usize,
) -> Result<(), PsiError> {
    let h = &resume.header;
    let why = if h.job != *job {
        "the job differs"
    } else if h.role != role {
        "the role differs"
    } else if h.peer != peer {
        "the peer differs"
    } else if h.peer_sizes.len() != buckets || resume.done > buckets {
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
    sizes: &[u64],
) -> Result<Vec<u64>, PsiError> {
    let bytes: Vec<u8> = sizes.iter().flat_map(|s| s.to_le_bytes()).collect();
    ch.send(&bytes).map_err(PsiError::net(peer, Phase::Hello))?;
    let frame = ch.recv().map_err(PsiError::net(peer, Phase::Hello))?;
    if frame.len() != bytes.len() {
        return Err(PsiError::BatchLength {
            peer: peer.to_string(),
            phase: Phase::Hello,
            expected: bytes.len(),
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
