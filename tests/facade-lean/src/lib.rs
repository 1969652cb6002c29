//! Nothing here: see tests/ and the examples this crate builds.
