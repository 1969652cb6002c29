//! indomain-psi.
#![warn(missing_docs)]
