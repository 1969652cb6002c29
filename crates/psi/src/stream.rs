//! Streaming a phase's batches in one direction with a small window of
//! acknowledgements.
//!
//! In every phase only one party sends batches; the other answers each
//! batch with a one-byte acknowledgement as soon as it has it, before
//! working on it. The sending side never has more than `WINDOW` batches
//! unacknowledged, so (a) the two parties never both block on a full
//! flow-control window — the bulk flows one way, the acknowledgements are
//! tiny and always read — (b) at most `WINDOW` batches wait in any buffer,
//! on any backend, and (c) the sender computes its next batch while the
//! receiver works on the previous one, so CPU and network overlap.

use crate::{Phase, PsiError};
use indomain_net::Channel;

/// Batches in flight before the sender waits for an acknowledgement.
pub const WINDOW: usize = 2;
const ACK: u8 = 0x06;

/// The sending end of one phase.
pub struct Outbound<'c, C: Channel + ?Sized> {
    ch: &'c mut C,
    phase: Phase,
    unacked: usize,
}

impl<'c, C: Channel + ?Sized> Outbound<'c, C> {
    /// Starts sending the batches of `phase`.
    pub fn new(ch: &'c mut C, phase: Phase) -> Self {
        Self {
            ch,
            phase,
            unacked: 0,
        }
    }

    /// Sends one batch, first waiting for an acknowledgement if the window
    /// is full.
    pub fn send(&mut self, batch: &[u8]) -> Result<(), PsiError> {
        if self.unacked == WINDOW {
            self.wait_ack()?;
        }
        self.ch
            .send(batch)
            .map_err(PsiError::net(self.ch.peer(), self.phase))?;
        self.unacked += 1;
        Ok(())
    }

    /// Waits for every outstanding acknowledgement, so that the link is
    /// quiet before the direction turns.
    pub fn finish(mut self) -> Result<(), PsiError> {
        while self.unacked > 0 {
            self.wait_ack()?;
        }
        Ok(())
    }

    fn wait_ack(&mut self) -> Result<(), PsiError> {
        let frame = self
            .ch
            .recv()
            .map_err(PsiError::net(self.ch.peer(), self.phase))?;
        if frame != [ACK] {
            return Err(PsiError::protocol(
                self.ch.peer(),
                self.phase,
                format!("expected an acknowledgement, got {} bytes", frame.len()),
            ));
        }
        self.unacked -= 1;
        Ok(())
    }
}

/// Receives one batch of exactly `expected` bytes and acknowledges it.
pub fn recv_batch<C: Channel + ?Sized>(
    ch: &mut C,
    phase: Phase,
    expected: usize,
) -> Result<Vec<u8>, PsiError> {
    let frame = ch.recv().map_err(PsiError::net(ch.peer(), phase))?;
    if frame.len() != expected {
        return Err(PsiError::BatchLength {
            peer: ch.peer().to_string(),
            phase,
            expected,
            got: frame.len(),
        });
    }
    ch.send(&[ACK]).map_err(PsiError::net(ch.peer(), phase))?;
    Ok(frame)
}

/// The sizes of the batches that carry `total` items `batch` at a time.
pub fn batch_sizes(total: usize, batch: usize) -> impl Iterator<Item = usize> {
    (0..total.div_ceil(batch)).map(move |i| batch.min(total - i * batch))
}
