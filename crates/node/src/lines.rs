//! Physical line numbers for messages about a CSV file.
//!
//! The csv crate counts lines by `\n` and, on CRLF files, reports a record
//! as starting on the line before it (it places the record at the `\n` of
//! the previous terminator). Errors must name the line an operator's editor
//! shows, so positions are kept as byte offsets and turned into lines only
//! when a message needs one, by counting terminators (`\n`, `\r\n` or a lone
//! `\r`) in the file up to that offset.

use std::io::{BufReader, Read};
use std::path::Path;

/// The 1-based physical line of the record that csv places at byte offset
/// `byte` of the file at `path`, or `None` if the file cannot be read.
pub(crate) fn line_at(path: &Path, byte: u64) -> Option<u64> {
    let file = std::fs::File::open(path).ok()?;
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let mut buf = [0u8; 1 << 16];
    let mut line = 1u64;
    let mut offset = 0u64;
    let mut after_cr = false;
    loop {
        let n = reader.read(&mut buf).ok()?;
        if n == 0 {
            return Some(line);
        }
        for &b in &buf[..n] {
            if offset >= byte {
                // A CRLF counts at its `\r`, so a record placed on its `\n`
                // is already on the next line.
                return Some(line);
            }
            match b {
                b'\n' if after_cr => {}
                b'\n' | b'\r' => line += 1,
                _ => {}
            }
            after_cr = b == b'\r';
            offset += 1;
        }
    }
}

/// The physical line of a csv position.
pub(crate) fn line_of_position(path: &Path, position: Option<&csv::Position>) -> Option<u64> {
    position.and_then(|p| line_at(path, p.byte()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn offsets_map_to_lines_for_every_terminator() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(b"ab\r\ncd\nef\rgh").unwrap();
        let line = |b| line_at(f.path(), b).unwrap();
        assert_eq!([line(0), line(2), line(3), line(4)], [1, 1, 2, 2]);
        assert_eq!([line(7), line(10), line(11), line(99)], [3, 4, 4, 4]);
    }
}
