//! The error type of indomain-core.

use thiserror::Error;

/// Everything that can go wrong in core arithmetic.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum CoreError {
    /// A real value does not fit the fixed-point range.
    #[error("value {value} is outside the fixed-point range (|x| must be below {limit})")]
    OutOfRange {
        /// The value that was refused.
        value: f64,
        /// The exclusive bound on |x|.
        limit: f64,
    },
    /// A value is NaN or infinite.
    #[error("value {value} is not a finite number")]
    NotFinite {
        /// The value that was refused.
        value: f64,
    },
    /// The number of fractional bits is not usable.
    #[error("{frac_bits} fractional bits is not supported (use 0 to 62)")]
    BadFractionalBits {
        /// The requested number of fractional bits.
        frac_bits: u32,
    },
    /// Two operands do not have the same shape.
    #[error("shape mismatch: {what}: expected {expected}, got {got}")]
    ShapeMismatch {
        /// Which operand or operation.
        what: &'static str,
        /// The expected length or dimension.
        expected: usize,
        /// The length or dimension that was given.
        got: usize,
    },
    /// A requested shape cannot be dealt: a dimension of 0 where the item
    /// needs one, or a size that overflows.
    #[error("bad shape: {what}: {reason}")]
    BadShape {
        /// Which item or dimension.
        what: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A sharing needs at least this many parties.
    #[error("secret sharing needs at least {min} parties, got {got}")]
    TooFewParties {
        /// The minimum number of parties.
        min: usize,
        /// The number of parties given.
        got: usize,
    },
}
