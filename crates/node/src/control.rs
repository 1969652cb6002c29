//! Local control socket (TODO(#8)).
