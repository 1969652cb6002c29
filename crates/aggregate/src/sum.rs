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
use indomain_core::FixedPoint;
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
    share_and_combine_among(parties, &everyone, input, rng)
}

/// [`share_and_combine`] among the parties `among` (set indices, us
/// included) only: a statistics job's data parties, without its dealer.
pub(crate) fn share_and_combine_among<W: Word, R: Rng + CryptoRng + ?Sized>(
    parties: &mut PartySet,
    among: &[usize],
    input: &[W],
    rng: &mut R,
) -> Result<Vec<W>, AggregateError> {
    let seeds = exchange_seeds(parties, among, rng)?;
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
    let everyone: Vec<usize> = (0..parties.len()).collect();
    open_among(parties, &everyone, share, receivers, phase)
}

/// [`open_to_receivers`] among the parties `among` (set indices, us and
/// every receiver included) only.
pub(crate) fn open_among<W: Word>(
    parties: &mut PartySet,
    among: &[usize],
    share: &[W],
    receivers: &[usize],
    phase: &'static str,
) -> Result<Option<Vec<W>>, AggregateError> {
    let me = parties.me();
    let mut opened = None;
    for &r in receivers {
        if r == me {
            let mut sum = share.to_vec();
            for &j in among.iter().filter(|&&j| j != me) {
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

/// The fixed-point encoding of a real-number sum, the same at every party:
/// named fields, so the two numbers cannot be swapped.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RealEncoding {
    /// Fractional bits: the sum is exact to 2^-frac_bits per input value.
    pub frac_bits: u32,
    /// The bound on |x| of every input value; a larger value is refused.
    pub max_abs: f64,
}

/// A secure element-wise sum of one real vector per party, opened to
/// `receivers` as reals: [`secure_sum`] with the encoding and the overflow
/// check built in. Every value is encoded with `encoding.frac_bits`
/// fractional bits after checking |x| ≤ `encoding.max_abs`; before anything
/// is sent, the job is refused if the sum of one value per party at that
/// bound could leave the ring's signed range (so a released sum never
/// wrapped). What each party learns is what [`secure_sum`] says.
///
/// ```
/// # mod indomain { pub use {::rand, indomain_aggregate as aggregate, indomain_net as net}; }
/// use indomain::aggregate::sum::{RealEncoding, secure_sum_real};
///
/// let enc = RealEncoding { frac_bits: 20, max_abs: 1e6 };
/// let sets = indomain::net::memory::mesh(&["a", "b", "c"]);
/// let sums: Vec<_> = std::thread::scope(|s| {
///     let handles: Vec<_> = sets
///         .into_iter()
///         .enumerate()
///         .map(|(i, mut links)| {
///             s.spawn(move || {
///                 let mine = [i as f64 + 0.25, -1.5];
///                 secure_sum_real(&mut links, &mine, enc, &[0], &mut indomain::rand::rng())
///             })
///         })
///         .collect();
///     handles.into_iter().map(|h| h.join().unwrap()).collect()
/// });
/// let at_a = sums[0].as_ref().unwrap().as_ref().unwrap();
/// assert!((at_a[0] - 3.75).abs() < 1e-5 && (at_a[1] + 4.5).abs() < 1e-5);
/// assert!(sums[1].as_ref().unwrap().is_none());
/// ```
pub fn secure_sum_real<R: Rng + CryptoRng + ?Sized>(
    parties: &mut PartySet,
    input: &[f64],
    encoding: RealEncoding,
    receivers: &[usize],
    rng: &mut R,
) -> Result<Option<Vec<f64>>, AggregateError> {
    let fp = FixedPoint::new(encoding.frac_bits)
        .map_err(|e| AggregateError::BadParameters(e.to_string()))?;
    let RealEncoding { max_abs, .. } = encoding;
    if !max_abs.is_finite() || max_abs <= 0.0 {
        return Err(AggregateError::BadParameters(format!(
            "max_abs must be a positive number, got {max_abs}"
        )));
    }
    // Every party checks the same public numbers, so all refuse together.
    if parties.len() as f64 * max_abs >= fp.limit() {
        return Err(AggregateError::Overflow {
            group: "all".into(),
            what: "sum",
            count: parties.len() as u64,
            max_abs,
        });
    }
    let encoded = input
        .iter()
        .enumerate()
        .map(|(row, &value)| {
            // NaN is refused too: it is not finite.
            if !value.is_finite() || value.abs() > max_abs {
                return Err(AggregateError::OutOfRange {
                    row,
                    column: 0,
                    value,
                    max_abs,
                });
            }
            fp.encode(value)
                .map_err(|e| AggregateError::BadInput(e.to_string()))
        })
        .collect::<Result<Vec<u64>, _>>()?;
    let sum = secure_sum(parties, &encoded, receivers, rng)?;
    Ok(sum.map(|v| fp.decode_slice(&v)))
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

    #[test]
    fn real_sum_matches_the_plaintext_and_refuses_what_could_overflow() {
        let inputs = [
            vec![1.5, -2.25, 1e3],
            vec![0.125, 7.0, -1e3],
            vec![-3.0, 0.5, 42.0],
        ];
        let enc = RealEncoding {
            frac_bits: 16,
            max_abs: 1e4,
        };
        let sets = mesh(&["a", "b", "c"]);
        let results: Vec<_> = std::thread::scope(|s| {
            let handles: Vec<_> = sets
                .into_iter()
                .zip(&inputs)
                .map(|(mut ps, input)| {
                    s.spawn(move || secure_sum_real(&mut ps, input, enc, &[1], &mut rand::rng()))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap().unwrap())
                .collect()
        });
        let got = results[1].as_ref().unwrap();
        for (i, g) in got.iter().enumerate() {
            let want: f64 = inputs.iter().map(|v| v[i]).sum();
            assert!((g - want).abs() < 1e-4, "element {i}: {g} vs {want}");
        }
        assert!(results[0].is_none() && results[2].is_none());

        let mut one = mesh(&["a", "b"]).remove(0);
        let too_wide = RealEncoding {
            frac_bits: 40,
            max_abs: 1e7,
        };
        let err = secure_sum_real(&mut one, &[1.0], too_wide, &[0], &mut rand::rng());
        assert!(
            matches!(err, Err(AggregateError::Overflow { .. })),
            "{err:?}"
        );
        let err = secure_sum_real(&mut one, &[f64::NAN], enc, &[0], &mut rand::rng());
        assert!(
            matches!(err, Err(AggregateError::OutOfRange { .. })),
            "{err:?}"
        );
    }
}
