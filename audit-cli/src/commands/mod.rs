//! One module per command; each `run` returns what `main` turns into an exit status.

pub mod operations;
pub mod query;
pub mod show;
pub mod stats;
pub mod tail;
pub mod verify;
