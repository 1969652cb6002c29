//! Bounds on text a node takes from a peer or from a job spec, and the one
//! way such text is shown.
//!
//! Whatever a peer sends ends up in this node's audit log, its job table,
//! `job list` and `audit show`. So a spec is refused whole above
//! [`MAX_SPEC_BYTES`] (at the control socket and at the peer, before it is
//! parsed), each of its strings above its own bound (names are bounded by
//! the name rule, a purpose by [`MAX_PURPOSE`], a text parameter by
//! [`MAX_TEXT_PARAM`]), a refusal never quotes the spec back, and text a
//! peer sends in an answer (a rule, a reason) is escaped and cut to
//! [`MAX_PEER_REASON`] before it is kept. Everything shown to the
//! operator goes through [`printable`]: control characters escaped,
//! overlong text cut with a note of what was left out. Typed job plans
//! bound their parameters with the same constants.

/// The largest job spec accepted, as canonical JSON.
pub const MAX_SPEC_BYTES: usize = 64 << 10;
/// The longest purpose, in bytes.
pub const MAX_PURPOSE: usize = 1024;
/// The longest text parameter value, in bytes.
pub const MAX_TEXT_PARAM: usize = 4096;
/// The longest rule or reason kept from a peer's answer, in characters.
pub const MAX_PEER_REASON: usize = 400;
/// The most characters of one free-text field shown in a listing.
pub const MAX_SHOWN: usize = 200;

/// `value` (the spec's `field`) if it is at most `max` bytes; the error
/// names the field and the bound, never the value.
pub fn check_len(field: &str, value: &str, max: usize) -> Result<(), TooLong> {
    if value.len() > max {
        return Err(TooLong {
            field: field.to_string(),
            len: value.len(),
            max,
        });
    }
    Ok(())
}

/// A free-text field longer than its bound (the value is not quoted).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} is {len} bytes, more than the {max} allowed")]
pub struct TooLong {
    /// The field.
    pub field: String,
    /// Its length in bytes.
    pub len: usize,
    /// The bound.
    pub max: usize,
}

/// `text` with control characters escaped and cut to `max` characters
/// (with a note of how many bytes were left out): safe on a terminal and
/// in a log line whatever a peer put in it.
pub fn printable(text: &str, max: usize) -> String {
    indomain_net::text::escape_and_cut(text, max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_are_refused_without_being_quoted() {
        let purpose = "x".repeat(900 << 10);
        let e = check_len("the purpose", &purpose, MAX_PURPOSE).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the purpose is 921600 bytes, more than the 1024 allowed"
        );
        assert!(check_len("the purpose", "overlap", MAX_PURPOSE).is_ok());
    }

    #[test]
    fn printable_text_is_escaped_and_cut() {
        assert_eq!(printable("a\nb\u{1b}[2J", 50), "a\\nb\\u{1b}[2J");
        let cut = printable(&"y".repeat(10_000), MAX_SHOWN);
        assert!(
            cut.len() < MAX_SHOWN + 40 && cut.ends_with("(9800 more bytes)"),
            "{cut}"
        );
    }
}
