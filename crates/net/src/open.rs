//! Opening additively shared ring vectors over a [`PartySet`].
//!
//! [`open`]: every party sends its share to every other party and adds up
//! what it receives, so every party learns the sum. [`open_to`]: only one
//! party receives the shares and learns the sum.
//!
//! What each party learns: the opened value, and — since shares travel in
//! clear — every other party's share of it. Open only values that are meant
//! to be public or are masked (Beaver's d and e, a truncation's x − r).
//!
//! Each pair of parties exchanges in a fixed order (the lower index sends
//! first) rather than everyone sending at once, because a backend's `send`
//! may block until the peer reads, and two parties both blocked in `send`
//! would wait for each other forever. Shares are cut into frames of at most
//! [`FRAME_ELEMENTS`] elements so that any length fits the frame limit; the
//! receiver knows the length and checks every frame against it.

use crate::wire::{recv_u64s, send_u64s};
use crate::{Channel, NetError, PartySet};

/// Elements per frame (8 MiB), below the default frame limit of 64 MiB.
pub const FRAME_ELEMENTS: usize = 1 << 20;

fn send_all(ch: &mut (impl Channel + ?Sized), share: &[u64]) -> Result<(), NetError> {
    for chunk in share.chunks(FRAME_ELEMENTS) {
        send_u64s(ch, chunk)?;
    }
    Ok(())
}

/// Receives a share of `acc.len()` elements and adds it into `acc`.
fn recv_add(ch: &mut (impl Channel + ?Sized), acc: &mut [u64]) -> Result<(), NetError> {
    for chunk in acc.chunks_mut(FRAME_ELEMENTS) {
        let got = recv_u64s(ch, chunk.len())?;
        for (a, g) in chunk.iter_mut().zip(got) {
            *a = a.wrapping_add(g);
        }
    }
    Ok(())
}

/// Opens a shared vector to every party: returns Σ_i share_i.
pub fn open(parties: &mut PartySet, share: &[u64]) -> Result<Vec<u64>, NetError> {
    let me = parties.me();
    let mut sum = share.to_vec();
    let others: Vec<usize> = parties.others().collect();
    for peer in others {
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

/// Opens a shared vector to party `receiver` only: it gets `Some(Σ_i
/// share_i)`, every other party sends its share and gets `None`.
pub fn open_to(
    parties: &mut PartySet,
    receiver: usize,
    share: &[u64],
) -> Result<Option<Vec<u64>>, NetError> {
    if parties.me() != receiver {
        send_all(parties.channel(receiver)?, share)?;
        return Ok(None);
    }
    let mut sum = share.to_vec();
    let others: Vec<usize> = parties.others().collect();
    for peer in others {
        recv_add(parties.channel(peer)?, &mut sum)?;
    }
    Ok(Some(sum))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::mesh;

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
            open(set, &share).unwrap()
        });
        let expected: Vec<u64> = (0..len as u64).map(|i| i * 6).collect();
        assert!(results.iter().all(|r| *r == expected));
    }

    #[test]
    fn only_the_receiver_learns_the_sum() {
        let results = run(3, |set| {
            let share = vec![set.me() as u64 + 1; 4];
            open_to(set, 1, &share).unwrap()
        });
        assert_eq!(results, vec![None, Some(vec![6; 4]), None]);
    }

    #[test]
    fn a_short_share_is_an_error_naming_the_peer() {
        let results = run(2, |set| {
            let len = if set.me() == 0 { 5 } else { 4 };
            open(set, &vec![1u64; len])
        });
        assert!(matches!(
            &results[1],
            Err(NetError::UnexpectedLength { peer, expected: 32, got: 40 }) if peer == "p0"
        ));
    }
}
