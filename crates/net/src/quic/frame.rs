//! The frame format of a byte stream, and reading it without I/O.
//!
//! A frame is an 8-byte little-endian length followed by that many bytes.
//! [`FrameReader`] is a state machine: the caller asks where the next bytes
//! go ([`FrameReader::unread`]), reads into that slice from wherever they
//! come from, and reports how many arrived ([`FrameReader::advance`]). The
//! length is checked against the frame limit before anything is allocated,
//! and a payload buffer grows only as bytes actually arrive (first 1 MiB,
//! then the rest of the announced length), so a peer that announces a large
//! frame and stops costs at most 1 MiB.

use crate::NetError;
use crate::channel::FRAME_HEADER;

/// Bytes allocated for a payload before the peer has sent any of them.
pub(crate) const INITIAL_RESERVE: usize = 1 << 20;

/// The header sent before a frame of `len` bytes.
pub(crate) fn frame_header(len: usize) -> [u8; FRAME_HEADER] {
    (len as u64).to_le_bytes()
}

/// Where reading the current frame stands.
#[derive(Default)]
pub(crate) struct FrameReader {
    header: [u8; FRAME_HEADER],
    header_read: usize,
    /// The announced payload length, once the header is complete.
    payload_len: Option<usize>,
    payload: Vec<u8>,
    payload_read: usize,
}

impl FrameReader {
    /// The buffer the next bytes of the stream go into; never empty. A
    /// header refused once is refused again: the stream cannot be
    /// resynchronised.
    pub(crate) fn unread(&mut self, max: usize, peer: &str) -> Result<&mut [u8], NetError> {
        let Some(len) = self.payload_len else {
            if self.header_read == FRAME_HEADER {
                self.start_payload(max, peer)?;
                return self.unread(max, peer);
            }
            return self
                .header
                .get_mut(self.header_read..)
                .ok_or_else(|| truncated(peer));
        };
        if self.payload_read == self.payload.len() {
            // The peer has sent everything allocated so far: now it has
            // shown it means the length, allocate the rest at once.
            self.payload.resize(len, 0);
        }
        self.payload
            .get_mut(self.payload_read..)
            .filter(|rest| !rest.is_empty())
            .ok_or_else(|| truncated(peer))
    }

    /// Records that `n` bytes were written at the start of the last
    /// [`FrameReader::unread`] slice; returns the frame they complete, if
    /// any.
    pub(crate) fn advance(
        &mut self,
        n: usize,
        max: usize,
        peer: &str,
    ) -> Result<Option<Vec<u8>>, NetError> {
        match self.payload_len {
            None => {
                self.header_read = (self.header_read + n).min(FRAME_HEADER);
                if self.header_read == FRAME_HEADER {
                    self.start_payload(max, peer)?;
                }
            }
            Some(len) => self.payload_read = (self.payload_read + n).min(len),
        }
        match self.payload_len {
            Some(len) if self.payload_read == len => {
                let mut frame = std::mem::take(&mut self.payload);
                frame.truncate(len);
                *self = Self::default();
                Ok(Some(frame))
            }
            _ => Ok(None),
        }
    }

    /// Whether part of a frame has arrived.
    pub(crate) fn mid_frame(&self) -> bool {
        self.header_read > 0
    }

    /// The error for a stream that ended here: closed between frames,
    /// truncated inside one.
    pub(crate) fn end_of_stream(&self, peer: &str) -> NetError {
        if self.mid_frame() {
            truncated(peer)
        } else {
            closed(peer)
        }
    }

    /// Bytes held for the frame being read (for the allocation bound).
    #[cfg(test)]
    pub(crate) fn held(&self) -> usize {
        self.payload.capacity()
    }

    fn start_payload(&mut self, max: usize, peer: &str) -> Result<(), NetError> {
        let announced = u64::from_le_bytes(self.header);
        let len = usize::try_from(announced)
            .ok()
            .filter(|&len| len <= max)
            .ok_or_else(|| NetError::FrameTooLarge {
                peer: peer.to_string(),
                len: announced,
                max,
            })?;
        self.payload = vec![0; len.min(INITIAL_RESERVE)];
        self.payload_read = 0;
        self.payload_len = Some(len);
        Ok(())
    }
}

pub(crate) fn closed(peer: &str) -> NetError {
    NetError::Closed {
        peer: peer.to_string(),
    }
}

pub(crate) fn truncated(peer: &str) -> NetError {
    NetError::Truncated {
        peer: peer.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Feeds `stream` to a reader in pieces of the given sizes, then ends
    /// it; returns the frames and the error that ended reading, checking on
    /// the way that the payload buffer never outgrows what arrived.
    fn read_all(stream: &[u8], pieces: &[usize], max: usize) -> (Vec<Vec<u8>>, NetError) {
        let mut reader = FrameReader::default();
        let mut frames = Vec::new();
        let (mut at, mut piece) = (0, 0);
        loop {
            let unread = match reader.unread(max, "p") {
                Ok(unread) => unread,
                Err(e) => return (frames, e),
            };
            assert!(!unread.is_empty());
            let want = pieces.get(piece).copied().unwrap_or(usize::MAX).max(1);
            piece += 1;
            let n = unread.len().min(want).min(stream.len() - at);
            if n == 0 {
                return (frames, reader.end_of_stream("p"));
            }
            unread[..n].copy_from_slice(&stream[at..at + n]);
            at += n;
            match reader.advance(n, max, "p") {
                Ok(Some(frame)) => frames.push(frame),
                Ok(None) => {
                    // Never more than the limit, and past 1 MiB only once
                    // 1 MiB of the payload has arrived.
                    let held = reader.held();
                    assert!(held <= max, "{held} bytes held, limit {max}");
                    assert!(
                        held <= INITIAL_RESERVE || reader.payload_read >= INITIAL_RESERVE,
                        "{held} bytes held after {} arrived",
                        reader.payload_read
                    );
                }
                Err(e) => return (frames, e),
            }
        }
    }

    /// The frames of `stream` as the format defines them, and how it ends.
    fn reference(stream: &[u8], max: usize) -> (Vec<Vec<u8>>, &'static str) {
        let mut frames = Vec::new();
        let mut rest = stream;
        loop {
            if rest.is_empty() {
                return (frames, "closed");
            }
            if rest.len() < 8 {
                return (frames, "truncated");
            }
            let len = u64::from_le_bytes(rest[..8].try_into().unwrap());
            if len > max as u64 {
                return (frames, "too large");
            }
            let len = len as usize;
            if rest.len() - 8 < len {
                return (frames, "truncated");
            }
            frames.push(rest[8..8 + len].to_vec());
            rest = &rest[8 + len..];
        }
    }

    fn kind(e: &NetError) -> &'static str {
        match e {
            NetError::Closed { .. } => "closed",
            NetError::Truncated { .. } => "truncated",
            NetError::FrameTooLarge { .. } => "too large",
            _ => "other",
        }
    }

    /// A stream of well-formed frames, possibly cut anywhere.
    fn framed() -> impl Strategy<Value = Vec<u8>> {
        (
            prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 0..8),
            any::<prop::sample::Index>(),
            any::<bool>(),
        )
            .prop_map(|(frames, cut, cut_it)| {
                let mut stream = Vec::new();
                for f in frames {
                    stream.extend_from_slice(&frame_header(f.len()));
                    stream.extend_from_slice(&f);
                }
                if cut_it && !stream.is_empty() {
                    stream.truncate(cut.index(stream.len()));
                }
                stream
            })
    }

    proptest! {
        #[test]
        fn random_bytes_give_the_reference_frames_or_an_error(
            stream in prop::collection::vec(any::<u8>(), 0..2000),
            pieces in prop::collection::vec(1usize..64, 0..50),
            max in 0usize..4096,
        ) {
            let (frames, end) = read_all(&stream, &pieces, max);
            let (expected, expected_end) = reference(&stream, max);
            prop_assert_eq!(frames, expected);
            prop_assert_eq!(kind(&end), expected_end);
        }

        #[test]
        fn framed_streams_cut_anywhere_read_back(
            stream in framed(),
            pieces in prop::collection::vec(1usize..40, 0..80),
        ) {
            let (frames, end) = read_all(&stream, &pieces, 1 << 16);
            let (expected, expected_end) = reference(&stream, 1 << 16);
            prop_assert_eq!(frames, expected);
            prop_assert_eq!(kind(&end), expected_end);
        }

        #[test]
        fn a_large_announced_length_is_not_allocated_before_it_arrives(
            len in (INITIAL_RESERVE as u64 + 1)..(1u64 << 40),
            sent in 0usize..4096,
        ) {
            let mut stream = len.to_le_bytes().to_vec();
            stream.extend(std::iter::repeat_n(7u8, sent));
            let (frames, end) = read_all(&stream, &[], usize::MAX);
            prop_assert!(frames.is_empty());
            prop_assert_eq!(kind(&end), "truncated");
        }
    }

    #[test]
    fn the_frame_header_is_an_8_byte_little_endian_length() {
        assert_eq!(frame_header(0), [0; 8]);
        assert_eq!(frame_header(0x0102_0304), [4, 3, 2, 1, 0, 0, 0, 0]);
        let (frames, end) = read_all(b"\x03\0\0\0\0\0\0\0abc\0\0\0\0\0\0\0\0", &[], 16);
        assert_eq!(frames, [b"abc".to_vec(), Vec::new()]);
        assert!(matches!(end, NetError::Closed { .. }));
    }
}
