//! Little-endian binary writing and bounds-checked reading for the published
//! table and its deltas. Every count is checked against the bytes left
//! before anything is allocated, so random or truncated input is an error
//! and never a large allocation.

use crate::VerifyError;
use crate::record::{TAG_BYTES, Tag};

/// Appends fields to a byte vector.
#[derive(Default)]
pub struct Writer(pub Vec<u8>);

impl Writer {
    /// Appends a u32.
    pub fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }

    /// Appends a u64.
    pub fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }

    /// Appends raw bytes.
    pub fn bytes(&mut self, b: &[u8]) {
        self.0.extend_from_slice(b);
    }

    /// Appends a length-prefixed string.
    pub fn str(&mut self, s: &str) {
        self.u32(s.len() as u32);
        self.bytes(s.as_bytes());
    }

    /// Appends a counted list of strings.
    pub fn strs(&mut self, list: &[String]) {
        self.u32(list.len() as u32);
        for s in list {
            self.str(s);
        }
    }

    /// Appends a counted list of tags.
    pub fn tags(&mut self, tags: &[Tag]) {
        self.u64(tags.len() as u64);
        for t in tags {
            self.bytes(t);
        }
    }
}

/// Reads fields from a byte slice; every read is bounds-checked.
pub struct Reader<'a> {
    rest: &'a [u8],
    what: &'static str,
}

impl<'a> Reader<'a> {
    /// A reader over `bytes`, naming `what` in errors.
    pub fn new(bytes: &'a [u8], what: &'static str) -> Self {
        Self { rest: bytes, what }
    }

    fn err(&self, reason: impl std::fmt::Display) -> VerifyError {
        VerifyError::Table(format!("{}: {reason}", self.what))
    }

    /// Reads `n` raw bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], VerifyError> {
        let (head, tail) = self.rest.split_at_checked(n).ok_or_else(|| {
            self.err(format!(
                "truncated ({} bytes left, {n} needed)",
                self.rest.len()
            ))
        })?;
        self.rest = tail;
        Ok(head)
    }

    /// Reads a u32.
    pub fn u32(&mut self) -> Result<u32, VerifyError> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }

    /// Reads a u64.
    pub fn u64(&mut self) -> Result<u64, VerifyError> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }

    /// Reads a count of items of `item` bytes each, checked against the
    /// bytes left.
    pub fn count(&mut self, item: usize) -> Result<usize, VerifyError> {
        let n = self.u64()?;
        usize::try_from(n)
            .ok()
            .filter(|&n| n.checked_mul(item).is_some_and(|b| b <= self.rest.len()))
            .ok_or_else(|| self.err(format!("a count of {n} items exceeds the bytes left")))
    }

    /// Reads a length-prefixed UTF-8 string.
    pub fn str(&mut self) -> Result<String, VerifyError> {
        let n = self.u32()? as usize;
        let b = self.take(n)?;
        String::from_utf8(b.to_vec()).map_err(|_| self.err("a name is not UTF-8"))
    }

    /// Reads a counted list of strings (at most 1024).
    pub fn strs(&mut self) -> Result<Vec<String>, VerifyError> {
        let n = self.u32()? as usize;
        if n > 1024 {
            return Err(self.err(format!("{n} names")));
        }
        (0..n).map(|_| self.str()).collect()
    }

    /// Reads a counted list of tags, which must be strictly ascending.
    pub fn sorted_tags(&mut self) -> Result<Vec<Tag>, VerifyError> {
        let n = self.count(TAG_BYTES)?;
        let raw = self.take(n * TAG_BYTES)?;
        let tags: Vec<Tag> = raw
            .chunks_exact(TAG_BYTES)
            .map(|c| c.try_into().expect("TAG_BYTES chunks"))
            .collect();
        if tags.windows(2).any(|w| w[0] >= w[1]) {
            return Err(self.err("tags are not strictly ascending"));
        }
        Ok(tags)
    }

    /// Fails unless every byte has been read.
    pub fn finish(self) -> Result<(), VerifyError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(self.err(format!("{} trailing bytes", self.rest.len())))
        }
    }
}
