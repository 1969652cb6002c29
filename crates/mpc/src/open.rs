//! Opening additively shared ring vectors among a group of parties of a
//! [`PartySet`], and exchanging blocks that each party holds in the clear.
//!
//! [`open`]: every party of the group sends its share to every other and
//! adds up what it receives, so every party learns the sum. [`open_to`]:
//! only one party receives the shares and learns the sum. [`exchange`]:
//! every party sends the others one vector of its own (a masked block) and
//! receives theirs.
//!
//! What each party learns: the opened value, and — since shares travel in
//! clear — every other party's share of it. Open only values that are meant
//! to be public or are masked (Beaver's d and e, a truncation's x − r).
//!
//! A group is a list of set indices in an order every party agrees on
//! (the mpc layer's ranks). Each pair of parties exchanges in a fixed order
//! (the lower set index sends first) rather than everyone sending at once,
//! because a backend's `send` may block until the peer reads, and two
//! parties both blocked in `send` would wait for each other forever. Vectors
//! are cut into frames of at most [`FRAME_ELEMENTS`] elements so that any
//! length fits the frame limit; the receiver knows the length and checks
//! every frame against it.

use indomain_net::wire::{recv_u64s, send_u64s};
use indomain_net::{Channel, NetError, PartySet};

/// Elements per frame (8 MiB), below the default frame limit of 64 MiB.
pub const FRAME_ELEMENTS: usize = 1 << 20;

pub(crate) fn send_all(ch: &mut (impl Channel + ?Sized), values: &[u64]) -> Result<(), NetError> {
    for chunk in values.chunks(FRAME_ELEMENTS) {
        send_u64s(ch, chunk)?;
    }
    Ok(())
}

/// Receives `len` elements frame by frame, handing each frame with its
/// offset to `sink`.
pub(crate) fn recv_each(
    ch: &mut (impl Channel + ?Sized),
    len: usize,
    mut sink: impl FnMut(usize, Vec<u64>),
) -> Result<(), NetError> {
    let mut offset = 0;
    while offset < len {
        let n = FRAME_ELEMENTS.min(len - offset);
        sink(offset, recv_u64s(ch, n)?);
        offset += n;
    }
    Ok(())
}

/// Receives a share of `acc.len()` elements and adds it into `acc`.
fn recv_add(ch: &mut (impl Channel + ?Sized), acc: &mut [u64]) -> Result<(), NetError> {
    recv_each(ch, acc.len(), |offset, got| {
        for (a, g) in acc[offset..].iter_mut().zip(got) {
            *a = a.wrapping_add(g);
        }
    })
}

fn position(parties: &PartySet, group: &[usize]) -> Result<usize, NetError> {
    group
        .iter()
        .position(|&i| i == parties.me())
        .ok_or_else(|| NetError::Config(format!("party {} is not in the group", parties.me())))
}

/// Every party index of `parties`, in order: the group of a protocol run by
/// all of them.
pub fn everyone(parties: &PartySet) -> Vec<usize> {
    (0..parties.len()).collect()
}

/// Opens a shared vector to every party of `group`: returns Σ share_i.
pub fn open(parties: &mut PartySet, group: &[usize], share: &[u64]) -> Result<Vec<u64>, NetError> {
    position(parties, group)?;
    let me = parties.me();
    let mut sum = share.to_vec();
    for &peer in group.iter().filter(|&&p| p != me) {
        let ch = parties.channel(peer)?;
        if me < peer {
            send_all(ch, share)?;
            recv_add(ch, &mut sum)?;
        } else {
            recv_add(ch, &mut sum)?;
            send_all(ch, share)?;
        }
    }
    Ok(sum)
}

/// Opens a shared vector to party `receiver` (a set index in `group`)
/// only: it gets `Some(Σ share_i)`, every other party sends its share and
/// gets `None`.
pub fn open_to(
    parties: &mut PartySet,
    group: &[usize],
    receiver: usize,
    share: &[u64],
) -> Result<Option<Vec<u64>>, NetError> {
    position(parties, group)?;
    if !group.contains(&receiver) {
        return Err(NetError::Config(format!(
            "receiver {receiver} is not in the group"
        )));
    }
    let me = parties.me();
    if me != receiver {
        send_all(parties.channel(receiver)?, share)?;
        return Ok(None);
    }
    let mut sum = share.to_vec();
    for &peer in group.iter().filter(|&&p| p != me) {
        recv_add(parties.channel(peer)?, &mut sum)?;
    }
    Ok(Some(sum))
}

/// Sends `mine` to every other party of `group` and receives from each
/// party k (at position k of `group`) a vector of `lens[k]` elements.
/// Returns the vectors in group order, `mine` at this party's position.
pub fn exchange(
    parties: &mut PartySet,
    group: &[usize],
    mine: Vec<u64>,
    lens: &[usize],
) -> Result<Vec<Vec<u64>>, NetError> {
    let pos = position(parties, group)?;
    if lens.len() != group.len() || lens[pos] != mine.len() {
        return Err(NetError::Config(
            "exchange: one length per party, this party's matching its vector".into(),
        ));
    }
    let me = parties.me();
    let mut out: Vec<Vec<u64>> = Vec::with_capacity(group.len());
    let mut mine = Some(mine);
    for (k, &peer) in group.iter().enumerate() {
        if peer == me {
            out.push(Vec::new());
            continue;
        }
        let own = mine.as_deref().unwrap_or(&[]);
        let mut theirs = vec![0u64; lens[k]];
        let ch = parties.channel(peer)?;
        let recv = |ch: &mut dyn Channel, theirs: &mut Vec<u64>| {
            recv_each(ch, lens[k], |offset, got| {
                theirs[offset..offset + got.len()].copy_from_slice(&got)
            })
        };
        if me < peer {
            send_all(ch, own)?;
            recv(ch, &mut theirs)?;
        } else {
            recv(ch, &mut theirs)?;
            send_all(ch, own)?;
        }
        out.push(theirs);
    }
    out[pos] = mine.take().unwrap_or_default();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use indomain_net::memory::mesh;

    fn run<T: Send>(n: usize, f: impl Fn(&mut PartySet) -> T + Sync) -> Vec<T> {
        let names: Vec<String> = (0..n).map(|i| format!("p{i}")).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let sets = mesh(&refs);
        std::thread::scope(|s| {
            let handles: Vec<_> = sets
                .into_iter()
                .map(|mut set| {
                    let f = &f;
                    s.spawn(move || f(&mut set))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("party thread panicked"))
                .collect()
        })
    }

    #[test]
    fn everyone_learns_the_sum_across_frames() {
        let len = FRAME_ELEMENTS + 3;
        let results = run(3, |set| {
            let me = set.me() as u64;
            let share: Vec<u64> = (0..len as u64).map(|i| i.wrapping_mul(me + 1)).collect();
            open(set, &everyone(set), &share).unwrap()
        });
        let expected: Vec<u64> = (0..len as u64).map(|i| i * 6).collect();
        assert!(results.iter().all(|r| *r == expected));
    }

    #[test]
    fn only_the_receiver_learns_the_sum() {
        let results = run(3, |set| {
            let share = vec![set.me() as u64 + 1; 4];
            open_to(set, &everyone(set), 1, &share).unwrap()
        });
        assert_eq!(results, vec![None, Some(vec![6; 4]), None]);
    }

    #[test]
    fn a_subgroup_opens_without_the_others() {
        let results = run(3, |set| {
            if set.me() == 1 {
                return None;
            }
            let share = vec![set.me() as u64 + 1; 2];
            Some(open(set, &[0, 2], &share).unwrap())
        });
        assert_eq!(results, vec![Some(vec![4; 2]), None, Some(vec![4; 2])]);
    }

    #[test]
    fn blocks_of_different_lengths_are_exchanged() {
        let results = run(3, |set| {
            let me = set.me();
            let lens = [2, FRAME_ELEMENTS + 1, 0];
            exchange(set, &everyone(set), vec![me as u64 + 7; lens[me]], &lens).unwrap()
        });
        for r in results {
            assert_eq!(r[0], vec![7; 2]);
            assert_eq!(r[1], vec![8; FRAME_ELEMENTS + 1]);
            assert!(r[2].is_empty());
        }
    }

    #[test]
    fn a_short_share_is_an_error_naming_the_peer() {
        let results = run(2, |set| {
            let len = if set.me() == 0 { 5 } else { 4 };
            open(set, &everyone(set), &vec![1u64; len])
        });
        assert!(matches!(
            &results[1],
            Err(NetError::UnexpectedLength { peer, expected: 32, got: 40 }) if peer == "p0"
        ));
    }
}
