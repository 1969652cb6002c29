//! indomain
