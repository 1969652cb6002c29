//! ECDH-PSI (Meadows 1986; Huberman–Franklin–Hogg 1999) and its variants
//! over one channel: intersection, cardinality (De Cristofaro–Gasti–Tsudik
//! 2012), intersection-sum (Ion et al. 2020, with exponential ElGamal) and
//! the aligned join.
//!
//! The receiver R holds X and a secret exponent a, the sender S holds Y and
//! b. Four phases, each streamed one way in batches (see [`indomain_net::stream`]):
//!
//! 1. R sends {H(x)^a} in a shuffled order.
//! 2. S returns {H(x)^ab} (16-byte prefixes) — in R's order, or, in the
//!    cardinality and intersection-sum modes, shuffled so that R cannot tell
//!    which of its keys matched.
//! 3. S sends {H(y)^b} in a shuffled order (each with Enc(value) in
//!    intersection-sum mode); R raises each to a and looks it up among the
//!    values of phase 2.
//! 4. Depending on the job, R sends S the positions of the matches in S's
//!    stream (sorted by double-blinded value: the common order), the count,
//!    or the re-randomised sum of the matched ciphertexts. With fewer
//!    matches than the job's minimum ([`Job::min_intersection`]) R sends
//!    only a below-minimum notice instead, and both end with an error: S
//!    never receives positions, a count or a ciphertext to decrypt.
//!
//! What each party learns: both learn the other's set size. In
//! intersection mode R learns X ∩ Y (and S too if the job reveals to both);
//! in cardinality mode R learns |X ∩ Y| (S too if revealed to both) and
//! neither learns which keys; in join mode both learn X ∩ Y in the common
//! order; in intersection-sum mode R learns |X ∩ Y| and S learns |X ∩ Y| and
//! the sum of its values over the intersection. Nothing else, against a
//! semi-honest peer, under DDH in ristretto255 with H a random oracle.

use crate::blind::{Blinder, COMPARE_BYTES, POINT_BYTES};
use crate::compare::{CompareSet, Refused};
use crate::elgamal::{CIPHERTEXT_BYTES, Ciphertext, PublicKey, SecretKey};
use crate::session::{
    Hello, Job, Mode, Outcome, Role, check_count, checked_len, exchange_hello, read_count,
    recv_count, recv_positions, refuse_below_minimum, send_positions,
};
use crate::{Construction, Items, Phase, Progress, PsiError};
use indomain_net::stream::{Outbound, batch_sizes};
use indomain_net::{Channel, wire};
use rand::CryptoRng;
use rand::seq::SliceRandom;
use rayon::prelude::*;

/// Bytes of the final intersection-sum message: the count, then the ciphertext.
const SUM_MESSAGE_BYTES: usize = 8 + CIPHERTEXT_BYTES;

/// Runs the receiver's side of `job` on `items` (distinct keys).
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
    check_job(job)?;
    items.check_distinct()?;
    let n = checked_len(items)?;
    let peer = ch.peer().to_string();
    let theirs = exchange_hello(ch, &Hello::new(job, Role::Receiver, n, None))?;
    let peer_n =
        Hello::new(job, Role::Receiver, n, None).check_peer(&theirs, &peer, job.max_peer_items)?;
    let public_key = match job.mode {
        Mode::IntersectionSum => Some(
            theirs
                .public_key
                .as_ref()
                .and_then(PublicKey::from_bytes)
                .ok_or_else(|| {
                    PsiError::protocol(&peer, Phase::Hello, "missing or invalid public key")
                })?,
        ),
        _ => None,
    };
    let total = n + peer_n;
    let mut done = 0;

    let blinder = Blinder::random(rng);
    let mut order: Vec<u32> = (0..n as u32).collect();
    order.shuffle(rng);

    let phase = Phase::ReceiverBlinded;
    let mut out = Outbound::new(ch);
    for chunk in order.chunks(job.batch) {
        out.send(&blinder.hash_and_blind(chunk, |i| items.key(i)))
            .map_err(PsiError::stream(&peer, phase))?;
        done += chunk.len();
        progress(Progress { done, total });
    }
    out.finish().map_err(PsiError::stream(&peer, phase))?;

    let mut set = CompareSet::with_capacity(n);
    for size in batch_sizes(n, job.batch) {
        set.extend(&recv_batch(
            ch,
            &peer,
            Phase::DoubleBlinded,
            size * COMPARE_BYTES,
        )?);
    }
    set.seal().map_err(|_| PsiError::DuplicateValue {
        peer: peer.clone(),
        phase: Phase::DoubleBlinded,
    })?;

    let width = match public_key {
        Some(_) => POINT_BYTES + CIPHERTEXT_BYTES,
        None => POINT_BYTES,
    };
    let mut matches: Vec<([u8; COMPARE_BYTES], usize, u32)> = Vec::new();
    let mut sum = Ciphertext::default();
    let mut offset = 0usize;
    for size in batch_sizes(peer_n, job.batch) {
        let phase = Phase::SenderBlinded;
        let frame = recv_batch(ch, &peer, phase, size * width)?;
        let (points, ciphertexts) = frame.split_at(size * POINT_BYTES);
        let values = blinder
            .reblind(points, COMPARE_BYTES)
            .map_err(|i| bad_point(&peer, phase, offset + i))?;
        let found: Vec<Option<usize>> = values
            .par_chunks(COMPARE_BYTES)
            .map(|v| set.find(v))
            .collect();
        for (j, slot) in found.into_iter().enumerate() {
            let Some(slot) = slot else { continue };
            let position = set
                .take(slot)
                .map_err(|_: Refused| PsiError::DuplicateValue {
                    peer: peer.clone(),
                    phase,
                })?;
            if public_key.is_some() {
                let bytes = &ciphertexts[j * CIPHERTEXT_BYTES..(j + 1) * CIPHERTEXT_BYTES];
                let c = Ciphertext::from_bytes(bytes)
                    .ok_or_else(|| bad_point(&peer, phase, offset + j))?;
                sum = sum.add(&c);
            }
            let mut value = [0u8; COMPARE_BYTES];
            value.copy_from_slice(&values[j * COMPARE_BYTES..(j + 1) * COMPARE_BYTES]);
            matches.push((value, position, (offset + j) as u32));
        }
        offset += size;
        done += size;
        progress(Progress { done, total });
    }

    let count = matches.len();
    let finishing = match job.mode {
        Mode::IntersectionSum => Phase::Sum,
        _ => Phase::Reveal,
    };
    refuse_below_minimum(ch, job, count, finishing)?;
    let mut outcome = Outcome {
        role: Role::Receiver,
        items: n,
        peer_items: peer_n,
        intersection_size: Some(count),
        matched: None,
        sum: None,
    };
    match job.mode {
        Mode::Intersection | Mode::Join => {
            matches.sort_unstable_by_key(|m| m.0);
            outcome.matched = Some(matches.iter().map(|m| order[m.1] as usize).collect());
            if job.sender_learns_result() {
                let positions: Vec<u32> = matches.iter().map(|m| m.2).collect();
                send_positions(ch, job, &positions)?;
            }
        }
        Mode::Cardinality => {
            if job.sender_learns_result() {
                wire::send_msg(ch, &(count as u64)).map_err(PsiError::net(&peer, Phase::Reveal))?;
            }
        }
        Mode::IntersectionSum => {
            if let Some(pk) = &public_key {
                let sum = pk.rerandomize(sum, rng);
                let mut msg = Vec::with_capacity(SUM_MESSAGE_BYTES);
                msg.extend_from_slice(&(count as u64).to_le_bytes());
                msg.extend_from_slice(&sum.to_bytes());
                ch.send(&msg).map_err(PsiError::net(&peer, Phase::Sum))?;
            }
        }
    }
    Ok(outcome)
}

/// Runs the sender's side of `job` on `items` (distinct keys); `values`
/// (one per item) only in intersection-sum mode.
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
    check_job(job)?;
    items.check_distinct()?;
    let n = checked_len(items)?;
    let secret_key = match (job.mode, values) {
        (Mode::IntersectionSum, Some(values)) => {
            check_values(job, items, values)?;
            Some(SecretKey::random(rng))
        }
        (Mode::IntersectionSum, None) => {
            return Err(PsiError::Job(
                "intersection-sum needs the sender's values".into(),
            ));
        }
        (_, Some(_)) => {
            return Err(PsiError::Job(format!(
                "values are not used in {} mode",
                job.mode
            )));
        }
        (_, None) => None,
    };
    let public_key = secret_key.as_ref().map(|k| k.public().to_bytes());
    let peer = ch.peer().to_string();
    let theirs = exchange_hello(ch, &Hello::new(job, Role::Sender, n, public_key))?;
    let peer_n = Hello::new(job, Role::Sender, n, public_key).check_peer(
        &theirs,
        &peer,
        job.max_peer_items,
    )?;
    let total = n + peer_n;
    let mut done = 0;

    let blinder = Blinder::random(rng);
    let mut double: Vec<[u8; COMPARE_BYTES]> = Vec::new();
    let mut offset = 0usize;
    for size in batch_sizes(peer_n, job.batch) {
        let phase = Phase::ReceiverBlinded;
        let frame = recv_batch(ch, &peer, phase, size * POINT_BYTES)?;
        let values = blinder
            .reblind(&frame, COMPARE_BYTES)
            .map_err(|i| bad_point(&peer, phase, offset + i))?;
        double.extend(values.chunks_exact(COMPARE_BYTES).map(|v| {
            let mut a = [0u8; COMPARE_BYTES];
            a.copy_from_slice(v);
            a
        }));
        offset += size;
        done += size;
        progress(Progress { done, total });
    }
    if job.hides_receiver_matches() {
        double.shuffle(rng);
    }
    let phase = Phase::DoubleBlinded;
    let mut out = Outbound::new(ch);
    for chunk in double.chunks(job.batch) {
        out.send(&chunk.concat())
            .map_err(PsiError::stream(&peer, phase))?;
    }
    out.finish().map_err(PsiError::stream(&peer, phase))?;
    drop(double);

    let mut order: Vec<u32> = (0..n as u32).collect();
    order.shuffle(rng);
    let phase = Phase::SenderBlinded;
    let mut out = Outbound::new(ch);
    for chunk in order.chunks(job.batch) {
        let mut batch = blinder.hash_and_blind(chunk, |i| items.key(i));
        if let (Some(sk), Some(values)) = (&secret_key, values) {
            batch.extend(sk.public().encrypt(chunk, |i| values[i], rng));
        }
        out.send(&batch).map_err(PsiError::stream(&peer, phase))?;
        done += chunk.len();
        progress(Progress { done, total });
    }
    out.finish().map_err(PsiError::stream(&peer, phase))?;

    let mut outcome = Outcome {
        role: Role::Sender,
        items: n,
        peer_items: peer_n,
        intersection_size: None,
        matched: None,
        sum: None,
    };
    if !job.sender_learns_result() {
        return Ok(outcome);
    }
    let most = n.min(peer_n);
    match job.mode {
        Mode::Intersection | Mode::Join => {
            let matched = recv_positions(ch, job, &order, most)?;
            outcome.intersection_size = Some(matched.len());
            outcome.matched = Some(matched);
        }
        Mode::Cardinality => {
            outcome.intersection_size = Some(recv_count(ch, job, Phase::Reveal, most)?);
        }
        Mode::IntersectionSum => {
            let phase = Phase::Sum;
            let frame = ch.recv().map_err(PsiError::net(&peer, phase))?;
            // The count alone (8 bytes) is the receiver's below-minimum
            // notice; otherwise the count and the ciphertext.
            let (count, ciphertext) = frame.split_at(frame.len().min(8));
            let count = check_count(read_count(count, &peer, phase)?, job, &peer, phase, most)?;
            if frame.len() != SUM_MESSAGE_BYTES {
                return Err(PsiError::BatchLength {
                    peer,
                    phase,
                    expected: SUM_MESSAGE_BYTES,
                    got: frame.len(),
                });
            }
            let ciphertext =
                Ciphertext::from_bytes(ciphertext).ok_or_else(|| bad_point(&peer, phase, 0))?;
            let sum = secret_key
                .as_ref()
                .and_then(|sk| sk.decrypt_bounded(&ciphertext, job.sum_bound))
                .ok_or_else(|| {
                    PsiError::protocol(
                        &peer,
                        phase,
                        "the returned sum does not decrypt to a total within the bound",
                    )
                })?;
            outcome.intersection_size = Some(count as usize);
            outcome.sum = Some(sum);
        }
    }
    Ok(outcome)
}

fn check_job(job: &Job) -> Result<(), PsiError> {
    job.check()?;
    if job.construction != Construction::Ecdh {
        return Err(PsiError::Job(format!(
            "a {} job given to the ECDH construction",
            job.construction
        )));
    }
    Ok(())
}

/// Receives one batch of exactly `expected` bytes and acknowledges it.
fn recv_batch<C: Channel + ?Sized>(
    ch: &mut C,
    peer: &str,
    phase: Phase,
    expected: usize,
) -> Result<Vec<u8>, PsiError> {
    indomain_net::stream::recv_batch(ch, expected).map_err(PsiError::stream(peer, phase))
}

fn check_values(job: &Job, items: &Items, values: &[u64]) -> Result<(), PsiError> {
    if values.len() != items.len() {
        return Err(PsiError::Job(format!(
            "{} values for {} items",
            values.len(),
            items.len()
        )));
    }
    let total: u128 = values.iter().map(|&v| v as u128).sum();
    if total > job.sum_bound as u128 {
        return Err(PsiError::Job(format!(
            "the values total {total}, above the job's sum bound {}",
            job.sum_bound
        )));
    }
    Ok(())
}

fn bad_point(peer: &str, phase: Phase, index: usize) -> PsiError {
    PsiError::BadPoint {
        peer: peer.to_string(),
        phase,
        index,
    }
}
