//! Text that came from a peer, made safe for local errors and logs.
//!
//! A peer may send up to a control message's limit (1 MiB) of text — a key
//! specification, an abort or close reason — and that text ends up in this
//! node's error messages and logs. Unescaped, it could forge log lines or
//! drive a terminal (control characters, ANSI escapes); whole, it could bury
//! the message around it. [`untrusted`] escapes every control character and
//! keeps at most [`MAX_PEER_TEXT`] characters.

/// The most characters of peer text kept in a message.
pub const MAX_PEER_TEXT: usize = 200;

/// `text` with control characters escaped as Rust does (`\n`, `\u{1b}`),
/// cut to [`MAX_PEER_TEXT`] characters with a note of how many bytes were
/// left out.
pub fn untrusted(text: &str) -> String {
    escape_and_cut(text, MAX_PEER_TEXT)
}

/// `text` with control characters escaped, cut to `max_chars` characters.
pub fn escape_and_cut(text: &str, max_chars: usize) -> String {
    let mut out = String::new();
    for (kept, (at, c)) in text.char_indices().enumerate() {
        if kept == max_chars {
            out.push_str(&format!("… ({} more bytes)", text.len() - at));
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// [`untrusted`] on bytes that may not even be UTF-8.
pub fn untrusted_bytes(bytes: &[u8]) -> String {
    untrusted(&String::from_utf8_lossy(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_long_text_cut() {
        assert_eq!(untrusted("ok: a-b"), "ok: a-b");
        assert_eq!(
            untrusted("x\n2026 ERROR forged\u{1b}[31m"),
            "x\\n2026 ERROR forged\\u{1b}[31m"
        );
        let long = "é".repeat(1 << 19);
        let cut = untrusted(&long);
        assert!(cut.starts_with(&"é".repeat(MAX_PEER_TEXT)));
        assert!(cut.ends_with(&format!("({} more bytes)", long.len() - 2 * MAX_PEER_TEXT)));
        assert!(cut.len() < 4 * MAX_PEER_TEXT);
        assert_eq!(untrusted_bytes(b"a\xffb"), "a\u{fffd}b");
    }
}
