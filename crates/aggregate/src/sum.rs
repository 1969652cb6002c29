//! N-party secure vector sum by seed-compressed additive sharing (SecureML;
//! ABY), the building block of every statistic; over Z_2^64 (`u64`) or
//! Z_2^128 (`u128`, statistics), see [`crate::word`].
//!
//! Each party splits its vector x_i into an explicit share it keeps,
//! x_i − Σ_j PRG(s_ij), and one 16-byte AES-CTR seed s_ij for every other
//! party j — the sharing of `indomain_core::share::share_seeded` — sends
//! the seeds, and adds the expansions of the seeds it received to its own
//! share ([`share_and_combine`]). The parties' combined shares add up to
//! Σ x_i, and each one alone is uniformly random. Any slice of the combined
//! share can then be opened to the result receivers
//! ([`open_to_receivers`]): every party sends its slice to each receiver,
//! one vector per party. The combined share is computed block by block in
//! one pass (input minus outgoing expansions plus incoming ones).
//!
//! A vector sum with a single receiver and at least three parties
//! ([`secure_sum`]) shares only the other parties' inputs, among
//! themselves: the receiver learns the sum anyway, so its own input needs
//! no sharing, and it holds no shares, so it does no PRG work; the others
//! stream each block of their combined share as soon as it is computed, so
//! their PRG work overlaps the transfer.
//!
//! What each party learns: the seeds it was handed (uniform, independent of
//! any input). A receiver also learns the opened sums — and nothing more
//! when there are at least three parties, since each combined share it
//! receives still carries a mask from a seed it never saw. With two parties
//! a receiver learns the sum, from which it derives the other input anyway.

use crate::AggregateError;
use crate::word::{Word, recv_words, send_words};
use indomain_core::prg::Seed;
use indomain_net::{Channel, NetError, PartySet};
use rand::{CryptoRng, Rng};
use rayon::prelude::*;

const SHARE_PHASE: &str = "sharing";

/// The seeds of one party's sharing step.
struct Seeds {
    /// Seeds this party drew for the others (their shares of our input).
    outgoing: Vec<Seed>,
    /// Seeds the others drew for us (our shares of their inputs).
    incoming: Vec<Seed>,
}

impl Seeds {
    /// Elements `start..start + out.len()` of our combined share.
    fn combine_block<W: Word>(&self, input: &[W], start: usize, out: &mut [W]) {
        out.copy_from_slice(input);
        for seed in &self.outgoing {
            W::sub_expansion_at(out, seed, start);
        }
        for seed in &self.incoming {
            W::add_expansion_at(out, seed, start);
        }
    }
}

/// Draws a seed for every other party of `among` (which includes us),
/// sends it, and receives theirs.
fn exchange_seeds<R: Rng + CryptoRng + ?Sized>(
    parties: &mut PartySet,
    among: &[usize],
    rng: &mut R,
) -> Result<Seeds, AggregateError> {
    let net = AggregateError::net(SHARE_PHASE);
    let me = parties.me();
    let others: Vec<usize> = among.iter().copied().filter(|&j| j != me).collect();
    let outgoing: Vec<Seed> = others.iter().map(|_| Seed::random(rng)).collect();
    for (&j, seed) in others.iter().zip(&outgoing) {
        parties
            .channel(j)
            .map_err(net)?
            .send(&seed.0)
            .map_err(net)?;
    }
    let mut incoming = Vec::with_capacity(others.len());
    for &j in &others {
        let ch = parties.channel(j).map_err(net)?;
        let frame = ch.recv().map_err(net)?;
        let seed: [u8; 16] = frame.as_slice().try_into().map_err(|_| {
            net(NetError::UnexpectedLength {
                peer: ch.peer().to_string(),
                expected: 16,
                got: frame.len(),
            })
        })?;
        incoming.push(Seed(seed));
    }
    Ok(Seeds { outgoing, incoming })
}

/// Shares `input` among all parties and returns this party's share of the
/// element-wise sum of every party's input (all inputs have the same length).
pub fn share_and_combine<W: Word, R: Rng + CryptoRng + ?Sized>(
    parties: &mut PartySet,
    input: &[W],
    rng: &mut R,
) -> Result<Vec<W>, AggregateError> {
    let everyone: Vec<usize> = (0..parties.len()).collect();
    let seeds = exchange_seeds(parties, &everyone, rng)?;
    let mut combined = vec![W::default(); input.len()];
    for (b, (out, inp)) in combined
        .chunks_mut(OPEN_CHUNK)
        .zip(input.chunks(OPEN_CHUNK))
        .enumerate()
    {
        seeds.combine_block(inp, b * OPEN_CHUNK, out);
    }
    Ok(combined)
}

/// Ring elements per frame when a vector is opened: long vectors travel in
/// frames of at most 8 MiB, well under any sensible frame limit, and the
/// receiver adds each frame while the next is on its way.
pub const OPEN_CHUNK: usize = 1 << 20;

/// Opens `share` (this party's share of some sum) to every receiver.
///
/// Receivers are visited in the order given, which every party must agree
/// on: for each receiver, all other parties send to it while it receives.
/// Blocking sends therefore never wait on each other in a cycle. Returns the
/// opened sum at a receiver and `None` elsewhere.
pub fn open_to_receivers<W: Word>(
    parties: &mut PartySet,
    share: &[W],
    receivers: &[usize],
    phase: &'static str,
) -> Result<Option<Vec<W>>, AggregateError> {
    let me = parties.me();
    let mut opened = None;
    for &r in receivers {
        if r == me {
            let mut sum = share.to_vec();
            for j in parties.others().collect::<Vec<_>>() {
                let ch = parties.channel(j).map_err(AggregateError::net(phase))?;
                recv_add_chunked(ch, &mut sum).map_err(AggregateError::net(phase))?;
            }
            opened = Some(sum);
        } else {
            let ch = parties.channel(r).map_err(AggregateError::net(phase))?;
            send_chunked(ch, share).map_err(AggregateError::net(phase))?;
        }
    }
    Ok(opened)
}

/// Sends a vector as frames of at most [`OPEN_CHUNK`] elements (one empty
/// frame for an empty vector).
pub fn send_chunked<W: Word>(
    ch: &mut (impl Channel + ?Sized),
    values: &[W],
) -> Result<(), NetError> {
    if values.is_empty() {
        return send_words(ch, values);
    }
    values
        .chunks(OPEN_CHUNK)
        .try_for_each(|c| send_words(ch, c))
}

/// Receives a vector of `acc.len()` elements sent by [`send_chunked`] and
/// adds it to `acc`; every frame's length is checked before use.
pub fn recv_add_chunked<W: Word>(
    ch: &mut (impl Channel + ?Sized),
    acc: &mut [W],
) -> Result<(), NetError> {
    if acc.is_empty() {
        return recv_words::<W>(ch, 0).map(drop);
    }
    for part in acc.chunks_mut(OPEN_CHUNK) {
        let theirs = recv_words(ch, part.len())?;
        add_assign(part, &theirs);
    }
    Ok(())
}

fn add_assign<W: Word>(acc: &mut [W], other: &[W]) {
    acc.par_iter_mut()
        .with_min_len(1 << 14)
        .zip(other.par_iter())
        .for_each(|(a, b)| *a = a.add(*b));
}

/// A secure element-wise sum of one vector per party, opened to `receivers`
/// (party indices, in an order every party agrees on).
pub fn secure_sum<W: Word, R: Rng + CryptoRng + ?Sized>(
    parties: &mut PartySet,
    input: &[W],
    receivers: &[usize],
    rng: &mut R,
) -> Result<Option<Vec<W>>, AggregateError> {
    let phase = "opening the sum";
    let &[receiver] = receivers else {
        let combined = share_and_combine(parties, input, rng)?;
        return open_to_receivers(parties, &combined, receivers, phase);
    };
    // With one receiver and two or more other parties, only the others
    // share their inputs, among themselves: the receiver learns the sum
    // anyway, so its own input needs no sharing, and it holds no shares —
    // it does no PRG work at all. Each combined share it receives still
    // carries a mask whose seed only two other parties know. With two
    // parties the other party shares with the receiver, so that its raw
    // values never travel.
    let sharers: Vec<usize> = if parties.len() >= 3 {
        (0..parties.len()).filter(|&p| p != receiver).collect()
    } else {
        (0..parties.len()).collect()
    };
    let seeds = if sharers.contains(&parties.me()) {
        exchange_seeds(parties, &sharers, rng)?
    } else {
        Seeds {
            outgoing: Vec::new(),
            incoming: Vec::new(),
        }
    };
    let net = AggregateError::net(phase);
    let mut block = vec![W::default(); OPEN_CHUNK.min(input.len())];
    if parties.me() != receiver {
        // Stream: each block leaves as soon as it is computed.
        let ch = parties.channel(receiver).map_err(net)?;
        if input.is_empty() {
            send_words::<W>(ch, &[]).map_err(net)?;
        }
        for (b, inp) in input.chunks(OPEN_CHUNK).enumerate() {
            let out = &mut block[..inp.len()];
            seeds.combine_block(inp, b * OPEN_CHUNK, out);
            send_words(ch, out).map_err(net)?;
        }
        return Ok(None);
    }
    // Receive block by block too: our own PRG work overlaps the others'
    // transfers instead of preceding them.
    let others: Vec<usize> = parties.others().collect();
    let mut sum = vec![W::default(); input.len()];
    if input.is_empty() {
        for &j in &others {
            recv_words::<W>(parties.channel(j).map_err(net)?, 0).map_err(net)?;
        }
    }
    for (b, (out, inp)) in sum
        .chunks_mut(OPEN_CHUNK)
        .zip(input.chunks(OPEN_CHUNK))
        .enumerate()
    {
        seeds.combine_block(inp, b * OPEN_CHUNK, out);
        for &j in &others {
            let theirs = recv_words(parties.channel(j).map_err(net)?, out.len()).map_err(net)?;
            add_assign(out, &theirs);
        }
    }
    Ok(Some(sum))
}

#[cfg(test)]
mod tests {
    use super::*;
    use indomain_net::memory::mesh;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn three_parties_sum_to_one_or_two_receivers() {
        let inputs: Vec<Vec<u64>> = (0..3u64)
            .map(|p| {
                (0..OPEN_CHUNK as u64 + 3)
                    .map(|i| i * 31 + p * u64::MAX / 3)
                    .collect()
            })
            .collect();
        let expected: Vec<u64> = (0..OPEN_CHUNK + 3)
            .map(|i| inputs.iter().fold(0u64, |a, v| a.wrapping_add(v[i])))
            .collect();
        for receivers in [&[2, 0][..], &[1][..]] {
            let sets = mesh(&["a", "b", "c"]);
            let results: Vec<_> = std::thread::scope(|s| {
                let handles: Vec<_> = sets
                    .into_iter()
                    .zip(&inputs)
                    .enumerate()
                    .map(|(i, (mut ps, input))| {
                        s.spawn(move || {
                            let mut rng = StdRng::seed_from_u64(i as u64);
                            secure_sum(&mut ps, input, receivers, &mut rng).unwrap()
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            });
            for (p, result) in results.iter().enumerate() {
                if receivers.contains(&p) {
                    assert_eq!(result.as_deref(), Some(&expected[..]), "party {p}");
                } else {
                    assert_eq!(*result, None, "party {p}");
                }
            }
        }
    }
}
