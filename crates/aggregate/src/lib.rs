//! indomain-aggregate.
#![warn(missing_docs)]
