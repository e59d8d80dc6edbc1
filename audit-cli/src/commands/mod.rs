//! One module per command; each `run` returns what `main` turns into an exit status.

pub mod query;
pub mod stats;
pub mod tail;
pub mod verify;
