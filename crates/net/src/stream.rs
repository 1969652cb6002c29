//! Streaming one phase's batches in one direction with a small window of
//! acknowledgements.
//!
//! In every phase only one party sends batches; the other answers each
//! batch with a one-byte acknowledgement as soon as it has it, before
//! working on it. The sending side never has more than [`WINDOW`] batches
//! unacknowledged, so (a) the two parties never both block on a full
//! flow-control window — the bulk flows one way, the acknowledgements are
//! tiny and always read — (b) at most [`WINDOW`] batches wait in any
//! buffer, on any backend, and (c) the sender computes its next batch while
//! the receiver works on the previous one, so CPU and network overlap.
//!
//! Errors are [`NetError`]s naming the peer; a protocol wraps them with its
//! phase.

use crate::{Channel, NetError};

/// Batches in flight before the sender waits for an acknowledgement.
pub const WINDOW: usize = 2;
const ACK: u8 = 0x06;

/// The sending end of one phase.
pub struct Outbound<'c, C: Channel + ?Sized> {
    ch: &'c mut C,
    unacked: usize,
}

impl<'c, C: Channel + ?Sized> Outbound<'c, C> {
    /// Starts sending the batches of one phase.
    pub fn new(ch: &'c mut C) -> Self {
        Self { ch, unacked: 0 }
    }

    /// Sends one batch, first waiting for an acknowledgement if the window
    /// is full.
    pub fn send(&mut self, batch: &[u8]) -> Result<(), NetError> {
        if self.unacked == WINDOW {
            self.wait_ack()?;
        }
        self.ch.send(batch)?;
        self.unacked += 1;
        Ok(())
    }

    /// Waits for every outstanding acknowledgement, so that the link is
    /// quiet before the direction turns.
    pub fn finish(mut self) -> Result<(), NetError> {
        while self.unacked > 0 {
            self.wait_ack()?;
        }
        Ok(())
    }

    fn wait_ack(&mut self) -> Result<(), NetError> {
        let frame = self.ch.recv()?;
        if frame != [ACK] {
            return Err(NetError::Decode {
                peer: self.ch.peer().to_string(),
                reason: format!("expected an acknowledgement, got {} bytes", frame.len()),
            });
        }
        self.unacked -= 1;
        Ok(())
    }
}

/// Receives one batch of exactly `expected` bytes and acknowledges it.
pub fn recv_batch<C: Channel + ?Sized>(ch: &mut C, expected: usize) -> Result<Vec<u8>, NetError> {
    let frame = ch.recv()?;
    if frame.len() != expected {
        return Err(NetError::UnexpectedLength {
            peer: ch.peer().to_string(),
            expected,
            got: frame.len(),
        });
    }
    ch.send(&[ACK])?;
    Ok(frame)
}

/// The sizes of the batches that carry `total` items `batch` at a time.
pub fn batch_sizes(total: usize, batch: usize) -> impl Iterator<Item = usize> {
    (0..total.div_ceil(batch)).map(move |i| batch.min(total - i * batch))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory;

    #[test]
    fn batches_arrive_in_order_and_lengths_are_checked() {
        let (mut a, mut b) = memory::pair("a", "b");
        let sizes: Vec<usize> = batch_sizes(10, 4).collect();
        assert_eq!(sizes, [4, 4, 2]);
        std::thread::scope(|s| {
            s.spawn(move || {
                let mut out = Outbound::new(&mut a);
                for (i, n) in [4usize, 4, 2].into_iter().enumerate() {
                    out.send(&vec![i as u8; n]).unwrap();
                }
                out.finish().unwrap();
            });
            assert_eq!(recv_batch(&mut b, 4).unwrap(), [0; 4]);
            assert_eq!(recv_batch(&mut b, 4).unwrap(), [1; 4]);
            let e = recv_batch(&mut b, 3).unwrap_err();
            assert!(matches!(
                e,
                NetError::UnexpectedLength {
                    expected: 3,
                    got: 2,
                    ..
                }
            ));
            b.send(&[ACK]).unwrap();
        });
    }
}
